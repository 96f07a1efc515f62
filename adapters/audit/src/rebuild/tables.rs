//! Phase 1: the fresh tables, created like the live ones (read with DescribeTable, so the
//! rebuild never has its own copy of their keys and indexes).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    BillingMode, GlobalSecondaryIndex, LocalSecondaryIndex, Projection, ProvisionedThroughput,
    TableDescription, TableStatus,
};

use crate::dynamodb::store_failure;
use crate::error::AuditError;

pub(super) async fn describe(client: &Client, table: &str) -> Result<TableDescription, AuditError> {
    client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| store_failure(&e))?
        .table
        .ok_or_else(|| AuditError::Rebuild(format!("DescribeTable {table} returned no table")))
}

/// Creates `fresh` with `live`'s keys, indexes and billing, and waits until it is active.
pub(super) async fn create_like(
    client: &Client,
    live: &str,
    fresh: &str,
) -> Result<(), AuditError> {
    let exists = client.describe_table().table_name(fresh).send().await;
    match exists {
        Ok(_) => {
            return Err(AuditError::TargetExists(format!(
                "table {fresh} already exists; a rebuild only fills fresh tables"
            )));
        }
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) => {}
        Err(error) => return Err(store_failure(&error)),
    }
    let source = describe(client, live).await?;
    let provisioned = source
        .billing_mode_summary()
        .and_then(|summary| summary.billing_mode())
        .is_some_and(|mode| *mode == BillingMode::Provisioned)
        // DynamoDB Local reports provisioned throughput without a billing summary.
        || source
            .provisioned_throughput()
            .and_then(|t| t.read_capacity_units())
            .is_some_and(|units| units > 0);
    let throughput = |read: Option<i64>, write: Option<i64>| {
        ProvisionedThroughput::builder()
            .read_capacity_units(read.unwrap_or(5).max(1))
            .write_capacity_units(write.unwrap_or(5).max(1))
            .build()
    };
    let mut request = client
        .create_table()
        .table_name(fresh)
        .set_key_schema(Some(source.key_schema().to_vec()))
        .set_attribute_definitions(Some(source.attribute_definitions().to_vec()));
    if provisioned {
        let t = source.provisioned_throughput();
        request = request.provisioned_throughput(
            throughput(
                t.and_then(|t| t.read_capacity_units()),
                t.and_then(|t| t.write_capacity_units()),
            )
            .map_err(|e| AuditError::Rebuild(e.to_string()))?,
        );
    } else {
        request = request.billing_mode(BillingMode::PayPerRequest);
    }
    for index in source.global_secondary_indexes() {
        let mut built = GlobalSecondaryIndex::builder()
            .set_index_name(index.index_name().map(str::to_owned))
            .set_key_schema(Some(index.key_schema().to_vec()))
            .set_projection(index.projection().cloned().or_else(|| {
                Some(
                    Projection::builder()
                        .projection_type(aws_sdk_dynamodb::types::ProjectionType::All)
                        .build(),
                )
            }));
        if provisioned {
            let t = index.provisioned_throughput();
            built = built.provisioned_throughput(
                throughput(
                    t.and_then(|t| t.read_capacity_units()),
                    t.and_then(|t| t.write_capacity_units()),
                )
                .map_err(|e| AuditError::Rebuild(e.to_string()))?,
            );
        }
        request = request.global_secondary_indexes(
            built
                .build()
                .map_err(|e| AuditError::Rebuild(e.to_string()))?,
        );
    }
    for index in source.local_secondary_indexes() {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .set_index_name(index.index_name().map(str::to_owned))
                .set_key_schema(Some(index.key_schema().to_vec()))
                .set_projection(index.projection().cloned())
                .build()
                .map_err(|e| AuditError::Rebuild(e.to_string()))?,
        );
    }
    request.send().await.map_err(|e| store_failure(&e))?;
    for _ in 0..600 {
        let status = describe(client, fresh).await?.table_status().cloned();
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(AuditError::Rebuild(format!(
        "table {fresh} did not become active within 2 minutes"
    )))
}
