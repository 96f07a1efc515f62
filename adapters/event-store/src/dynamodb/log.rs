//! The Events table: reads of one aggregate's events, and the conditional append.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::errors::{classify_put_error, classify_transaction_error, unavailable_or_refused};
use super::item::{attr, event_from_item, item_from_event, number};
use super::size::{MAX_ITEM_BYTES, item_size};
use super::{DynamoDbStore, MAX_TRANSACT_ITEMS, read_usage, write_usage};
use crate::error::StoreError;
use crate::log::{EventLog, NewestEvents, NewestPage};
use crate::meter::{Meter, Purpose, Usage};
use crate::stored::StoredEvent;

impl EventLog for DynamoDbStore {
    async fn read_after(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        after: u64,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let aggregate_id: Uuid = aggregate_id.into();
        self.query(
            aggregate_id,
            "#id = :id AND #v > :after",
            &[(":after", number(after))],
            Purpose::Load,
            meter,
        )
        .await
    }

    async fn read_range(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        from: u64,
        to: u64,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let aggregate_id: Uuid = aggregate_id.into();
        self.query(
            aggregate_id,
            "#id = :id AND #v BETWEEN :from AND :to",
            &[(":from", number(from)), (":to", number(to))],
            Purpose::Idempotency,
            meter,
        )
        .await
    }

    async fn append(&self, events: &[StoredEvent], meter: &Meter) -> Result<(), StoreError> {
        if events.len() > MAX_TRANSACT_ITEMS {
            return Err(StoreError::TooManyEvents {
                count: events.len(),
                max: MAX_TRANSACT_ITEMS,
            });
        }
        let items = events
            .iter()
            .map(|event| {
                let item = item_from_event(event)?;
                let size = item_size(&item);
                if size > MAX_ITEM_BYTES {
                    return Err(StoreError::ItemTooLarge {
                        version: event.version(),
                        size,
                        limit: MAX_ITEM_BYTES,
                    });
                }
                Ok(item)
            })
            .collect::<Result<Vec<_>, _>>()?;
        match (events, items.as_slice()) {
            ([], _) => Ok(()),
            ([event], [item]) => self.put_one(event, item.clone(), meter).await,
            _ => self.put_all(events, items, meter).await,
        }
    }

    async fn find_by_command_key(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        command_key: &str,
        not_before: DateTime<Utc>,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let aggregate_id: Uuid = aggregate_id.into();
        // Newest first: a retried command is usually recent, and its events are contiguous,
        // so the walk stops at the first older event after them, or at `not_before`.
        let mut found: Vec<StoredEvent> = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.events)
                .key_condition_expression("#id = :id")
                .expression_attribute_names("#id", attr::AGGREGATE_ID)
                .expression_attribute_values(":id", AttributeValue::S(aggregate_id.to_string()))
                .scan_index_forward(false)
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| unavailable_or_refused(&e))?;
            meter.record(Purpose::Idempotency, read_usage(page.consumed_capacity()));
            for item in page.items() {
                let event = event_from_item(aggregate_id, item)?;
                if event.command_key().as_deref() == Some(command_key) {
                    found.push(event);
                } else if !found.is_empty() || event.envelope.occurred_at < not_before {
                    found.reverse();
                    return Ok(found);
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start_key = Some(key.clone()),
                _ => {
                    found.reverse();
                    return Ok(found);
                }
            }
        }
    }
}

impl NewestEvents for DynamoDbStore {
    async fn newest_events(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        older_than: Option<u64>,
        limit: u32,
        meter: &Meter,
    ) -> Result<NewestPage, StoreError> {
        let aggregate_id: Uuid = aggregate_id.into();
        let query = self
            .client
            .query()
            .table_name(&self.tables.events)
            .expression_attribute_names("#id", attr::AGGREGATE_ID)
            .expression_attribute_values(":id", AttributeValue::S(aggregate_id.to_string()))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let query = match older_than {
            Some(version) => query
                .key_condition_expression("#id = :id AND #v < :older")
                .expression_attribute_names("#v", attr::VERSION)
                .expression_attribute_values(":older", number(version)),
            None => query.key_condition_expression("#id = :id"),
        };
        let page = query.send().await.map_err(|e| unavailable_or_refused(&e))?;
        meter.record(Purpose::Load, read_usage(page.consumed_capacity()));
        let events = page
            .items()
            .iter()
            .map(|item| event_from_item(aggregate_id, item))
            .collect::<Result<Vec<_>, _>>()?;
        // DynamoDB says "maybe more" whenever the limit was reached; version 1 has nothing older.
        let more = page.last_evaluated_key().is_some_and(|key| !key.is_empty());
        Ok(NewestPage {
            older_than: events
                .last()
                .map(StoredEvent::version)
                .filter(|version| more && *version > 1),
            events,
        })
    }
}

impl DynamoDbStore {
    async fn put_one(
        &self,
        event: &StoredEvent,
        item: HashMap<String, AttributeValue>,
        meter: &Meter,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.events)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#v)")
            .expression_attribute_names("#v", attr::VERSION)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        match result {
            Ok(output) => {
                meter.record(Purpose::Append, write_usage(output.consumed_capacity()));
                Ok(())
            }
            Err(error) => {
                meter.record(Purpose::Append, write_usage(None));
                Err(classify_put_error(
                    event.envelope.aggregate_id,
                    event.version(),
                    &error,
                ))
            }
        }
    }

    async fn put_all(
        &self,
        events: &[StoredEvent],
        items: Vec<HashMap<String, AttributeValue>>,
        meter: &Meter,
    ) -> Result<(), StoreError> {
        let writes = items
            .into_iter()
            .map(|item| {
                Put::builder()
                    .table_name(&self.tables.events)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#v)")
                    .expression_attribute_names("#v", attr::VERSION)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|e| StoreError::Refused(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The first event's id makes a retried transaction idempotent for DynamoDB's 10 minutes.
        let token = events
            .first()
            .map(|event| event.envelope.event_id.to_string());
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .set_client_request_token(token)
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        match result {
            Ok(output) => {
                let mut usage = Usage::default();
                for consumed in output.consumed_capacity() {
                    let one = write_usage(Some(consumed));
                    usage.write_units += one.write_units;
                    usage.index_write_units += one.index_write_units;
                }
                usage.write_requests = 1;
                meter.record(Purpose::Append, usage);
                Ok(())
            }
            Err(error) => {
                meter.record(Purpose::Append, write_usage(None));
                Err(classify_transaction_error(events, &error))
            }
        }
    }
}
