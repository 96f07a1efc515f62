//! The Snapshots table: the latest state of each aggregate, only ever replaced by a newer one.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use uuid::Uuid;

use super::errors::unavailable_or_refused;
use super::item::{attr, get_number, get_string, number};
use super::{DynamoDbStore, read_usage, write_usage};
use crate::error::StoreError;
use crate::log::{Snapshot, Snapshots};
use crate::meter::{Meter, Purpose};

impl Snapshots for DynamoDbStore {
    async fn get_snapshot(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        meter: &Meter,
    ) -> Result<Option<Snapshot>, StoreError> {
        let aggregate_id: Uuid = aggregate_id.into();
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.snapshots)
            .key(
                attr::AGGREGATE_ID,
                AttributeValue::S(aggregate_id.to_string()),
            )
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| unavailable_or_refused(&e))?;
        meter.record(Purpose::Load, read_usage(output.consumed_capacity()));
        let Some(item) = output.item() else {
            return Ok(None);
        };
        // A snapshot is only an optimisation: one that cannot be read is as good as none.
        Ok((|| {
            Some(Snapshot {
                aggregate_id,
                version: get_number(item, attr::VERSION)?,
                format: u32::try_from(get_number(item, attr::FORMAT)?).ok()?,
                head_hash: get_string(item, attr::HEAD_HASH)?.to_owned(),
                state: get_string(item, attr::STATE)?.to_owned(),
            })
        })())
    }

    async fn put_snapshot(&self, snapshot: &Snapshot, meter: &Meter) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.snapshots)
            .item(
                attr::AGGREGATE_ID,
                AttributeValue::S(snapshot.aggregate_id.to_string()),
            )
            .item(attr::VERSION, number(snapshot.version))
            .item(attr::FORMAT, number(u64::from(snapshot.format)))
            .item(
                attr::HEAD_HASH,
                AttributeValue::S(snapshot.head_hash.clone()),
            )
            .item(attr::STATE, AttributeValue::S(snapshot.state.clone()))
            .condition_expression("attribute_not_exists(#v) OR #v < :v")
            .expression_attribute_names("#v", attr::VERSION)
            .expression_attribute_values(":v", number(snapshot.version))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(output) => {
                meter.record(Purpose::Snapshot, write_usage(output.consumed_capacity()));
                Ok(())
            }
            // A newer snapshot is already there: keep it.
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                meter.record(Purpose::Snapshot, write_usage(None));
                Ok(())
            }
            Err(e) => Err(unavailable_or_refused(&e)),
        }
    }
}
