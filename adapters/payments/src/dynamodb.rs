//! Saga state in DynamoDB: table `PaymentSagas` (env `PAYMENT_SAGAS_TABLE`), partition key
//! `sagaId` (S), one item per saga.
//!
//! The item holds the whole state as JSON under `state`, next to the attributes an operator
//! searches by (`auctionId`, `buyerId`, `status`, `updatedAt`) and `revision`, the number every
//! write is conditional on: the first write needs `attribute_not_exists(sagaId)`, every later
//! one `revision = <the revision it read>`. Of two consumers advancing the same step, one write
//! succeeds and the other fails its condition, re-reads and continues from the winner's state.
//! Reads are strongly consistent, so a consumer never continues from a stale state.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use conventions::Failure;

use crate::error::SagaError;
use crate::memory::is_stalled;
use crate::ports::{SagaStates, StalledSagas};
use crate::saga::{Saga, SagaId, Status};

mod attr {
    pub const SAGA_ID: &str = "sagaId";
    pub const REVISION: &str = "revision";
    pub const STATE: &str = "state";
    pub const STATUS: &str = "status";
    pub const AUCTION_ID: &str = "auctionId";
    pub const BUYER_ID: &str = "buyerId";
    pub const UPDATED_AT: &str = "updatedAt";
}

#[derive(Debug, Clone)]
pub struct DynamoDbSagaStates {
    client: Client,
    table: String,
}

impl DynamoDbSagaStates {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// On the table named by `PAYMENT_SAGAS_TABLE`, or its default.
    pub fn from_env(client: Client) -> Self {
        Self::new(client, conventions::names::PAYMENT_SAGAS_TABLE.from_env())
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

impl SagaStates for DynamoDbSagaStates {
    async fn get(&self, id: &SagaId) -> Result<Option<Saga>, SagaError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::SAGA_ID, AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        output.item().map(saga_from_item).transpose()
    }

    async fn save(&self, saga: &Saga) -> Result<(), SagaError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_from_saga(saga)?));
        request = match saga.revision {
            0 | 1 => request
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", attr::SAGA_ID),
            revision => request
                .condition_expression("#rev = :previous")
                .expression_attribute_names("#rev", attr::REVISION)
                .expression_attribute_values(":previous", number(revision - 1)),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Err(SagaError::Conflict {
                saga_id: saga.id.clone(),
            }),
            Err(error) => Err(Failure::of(&error).into()),
        }
    }
}

/// A Scan of the whole table, filtered on `status` by DynamoDB and on `updatedAt` here (from
/// the state itself, not the attribute's text). The table holds one item per sale for ever, so
/// a scan costs read capacity in proportion to every sale ever made: run it every few minutes,
/// not every second. A sparse index on the unfinished sagas would make it a Query.
impl StalledSagas for DynamoDbSagaStates {
    async fn stalled(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<Saga>, SagaError> {
        let mut stalled = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#status IN (:running, :compensating)")
                .expression_attribute_names("#status", attr::STATUS)
                .expression_attribute_values(":running", status_value(Status::Running))
                .expression_attribute_values(":compensating", status_value(Status::Compensating))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| Failure::of(&e))?;
            for item in page.items() {
                let saga = saga_from_item(item)?;
                if is_stalled(&saga, before) {
                    stalled.push(saga);
                }
            }
            start_key = page.last_evaluated_key().cloned();
            if start_key.is_none() {
                break;
            }
        }
        stalled.sort_by(|a, b| (a.updated_at, a.id.as_str()).cmp(&(b.updated_at, b.id.as_str())));
        stalled.truncate(limit);
        Ok(stalled)
    }
}

/// A status as the `status` attribute holds it: its name in the state's JSON.
fn status_value(status: Status) -> AttributeValue {
    AttributeValue::S(
        serde_json::to_value(status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    )
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn item_from_saga(saga: &Saga) -> Result<HashMap<String, AttributeValue>, SagaError> {
    let state = serde_json::to_string(saga)
        .map_err(|e| SagaError::StateRefused(format!("saga state does not serialize: {e}")))?;
    Ok(HashMap::from([
        (
            attr::SAGA_ID.to_owned(),
            AttributeValue::S(saga.id.to_string()),
        ),
        (attr::REVISION.to_owned(), number(saga.revision)),
        (attr::STATE.to_owned(), AttributeValue::S(state)),
        (attr::STATUS.to_owned(), status_value(saga.status)),
        (
            attr::AUCTION_ID.to_owned(),
            AttributeValue::S(saga.auction_id.to_string()),
        ),
        (
            attr::BUYER_ID.to_owned(),
            AttributeValue::S(saga.buyer_id.to_string()),
        ),
        (
            attr::UPDATED_AT.to_owned(),
            AttributeValue::S(saga.updated_at.to_rfc3339()),
        ),
    ]))
}

fn saga_from_item(item: &HashMap<String, AttributeValue>) -> Result<Saga, SagaError> {
    let state = item
        .get(attr::STATE)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| SagaError::StateRefused("a saga item has no state".to_owned()))?;
    let saga: Saga = serde_json::from_str(state)
        .map_err(|e| SagaError::StateRefused(format!("a saga state is unreadable: {e}")))?;
    // The condition is on the attribute; the state's copy must agree or the next write would
    // expect the wrong revision.
    let revision = item
        .get(attr::REVISION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok());
    if revision != Some(saga.revision) {
        return Err(SagaError::StateRefused(format!(
            "saga {} has revision {revision:?} but its state says {}",
            saga.id, saga.revision
        )));
    }
    Ok(saga)
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(error, SdkError::ServiceError(context)
        if context.err().code() == Some("ConditionalCheckFailedException"))
}
