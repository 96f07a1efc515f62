//! The Idempotency table: what each keyed command appended, kept 48 hours (TTL).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::errors::unavailable_or_refused;
use super::item::{attr, get_number, get_string, number, timestamp};
use super::{DynamoDbStore, read_usage, write_usage};
use crate::error::StoreError;
use crate::log::{IDEMPOTENCY_RETENTION, IdempotencyRecord, IdempotencyRecords};
use crate::meter::{Meter, Purpose};

impl IdempotencyRecords for DynamoDbStore {
    async fn get_record(
        &self,
        command_key: &str,
        meter: &Meter,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.idempotency)
            .key(attr::COMMAND_KEY, AttributeValue::S(command_key.to_owned()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| unavailable_or_refused(&e))?;
        meter.record(Purpose::Idempotency, read_usage(output.consumed_capacity()));
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let corrupt =
            |what: &str| StoreError::Refused(format!("idempotency record {command_key}: {what}"));
        Ok(Some(IdempotencyRecord {
            command_key: command_key.to_owned(),
            aggregate_id: get_string(item, attr::AGGREGATE_ID)
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| corrupt("aggregateId"))?,
            fingerprint: get_string(item, attr::FINGERPRINT)
                .ok_or_else(|| corrupt("fingerprint"))?
                .to_owned(),
            first_version: get_number(item, attr::FIRST_VERSION)
                .ok_or_else(|| corrupt("firstVersion"))?,
            last_version: get_number(item, attr::LAST_VERSION)
                .ok_or_else(|| corrupt("lastVersion"))?,
            recorded_at: get_string(item, attr::RECORDED_AT)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| corrupt("recordedAt"))?,
        }))
    }

    async fn put_record(
        &self,
        record: &IdempotencyRecord,
        meter: &Meter,
    ) -> Result<(), StoreError> {
        // DynamoDB's TTL deletes the record some time after this.
        let expires_at = record.recorded_at + IDEMPOTENCY_RETENTION;
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.idempotency)
            .item(
                attr::COMMAND_KEY,
                AttributeValue::S(record.command_key.clone()),
            )
            .item(
                attr::AGGREGATE_ID,
                AttributeValue::S(record.aggregate_id.to_string()),
            )
            .item(
                attr::FINGERPRINT,
                AttributeValue::S(record.fingerprint.clone()),
            )
            .item(attr::FIRST_VERSION, number(record.first_version))
            .item(attr::LAST_VERSION, number(record.last_version))
            .item(
                attr::RECORDED_AT,
                AttributeValue::S(timestamp(&record.recorded_at)),
            )
            .item(
                attr::EXPIRES_AT,
                AttributeValue::N(expires_at.timestamp().to_string()),
            )
            .condition_expression("attribute_not_exists(#ck)")
            .expression_attribute_names("#ck", attr::COMMAND_KEY)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(output) => {
                meter.record(
                    Purpose::Idempotency,
                    write_usage(output.consumed_capacity()),
                );
                Ok(())
            }
            // The first record for a key wins; this one describes the same commit.
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                meter.record(Purpose::Idempotency, write_usage(None));
                Ok(())
            }
            Err(e) => Err(unavailable_or_refused(&e)),
        }
    }
}
