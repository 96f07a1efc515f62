//! The event store on DynamoDB.
//!
//! Events table: one item per event, partition key `aggregateId` (S), sort key `version` (N).
//! A command's events go in with one conditional PutItem when there is one event (1 write
//! request, 1 WCU under 1 KB) or one TransactWriteItems when there are several (all or none;
//! transactions cost 2 WCU per item). Every Put is conditional on `attribute_not_exists(version)`,
//! a condition on the item's own key, so two writers of a version cannot both succeed; versions
//! are assigned by the store as the loaded version + 1, 2, ..., and loads are strongly
//! consistent, so no writer can skip one. On a failed condition DynamoDB returns the item that
//! holds the version (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), which is how a writer
//! recognises its own earlier attempt.

use std::collections::HashMap;

use auction_events::{AuctionId, Metadata, RawEnvelope};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConsumedCapacity, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, SecondsFormat, Utc};
use conventions::{Failure, error_chain};
use uuid::Uuid;

use crate::error::StoreError;
use crate::log::{
    BY_EVENT_TYPE, EventLog, EventsOfType, IDEMPOTENCY_RETENTION, IdempotencyRecord,
    IdempotencyRecords, Snapshot, Snapshots, StoredEvent, TypePage, TypePosition, TypeQuery,
};
use crate::meter::{Meter, Purpose, Usage};
use crate::size::{MAX_ITEM_BYTES, item_size};

/// DynamoDB's limit on the items of one TransactWriteItems.
pub const MAX_TRANSACT_ITEMS: usize = 100;

mod attr {
    pub const AGGREGATE_ID: &str = "aggregateId";
    pub const VERSION: &str = "version";
    pub const EVENT_ID: &str = "eventId";
    pub const AGGREGATE_TYPE: &str = "aggregateType";
    pub const EVENT_TYPE: &str = "eventType";
    pub const SCHEMA_VERSION: &str = "schemaVersion";
    pub const OCCURRED_AT: &str = "occurredAt";
    pub const PAYLOAD: &str = "payload";
    pub const METADATA: &str = "metadata";
    pub const HASH: &str = "hash";
    pub const COMMAND_KEY: &str = "commandKey";
    pub const FORMAT: &str = "format";
    pub const HEAD_HASH: &str = "headHash";
    pub const STATE: &str = "state";
    pub const FINGERPRINT: &str = "fingerprint";
    pub const FIRST_VERSION: &str = "firstVersion";
    pub const LAST_VERSION: &str = "lastVersion";
    pub const RECORDED_AT: &str = "recordedAt";
    pub const EXPIRES_AT: &str = "expiresAt";
}

/// The tables the store uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub events: String,
    pub snapshots: String,
    pub idempotency: String,
}

impl TableNames {
    /// Names from `EVENTS_TABLE`, `SNAPSHOTS_TABLE` and `IDEMPOTENCY_TABLE`, each defaulting to
    /// the name the local stack and the CDK app use when unset or blank.
    pub fn from_env() -> Self {
        Self {
            events: conventions::name_from_env("EVENTS_TABLE", "Events"),
            snapshots: conventions::name_from_env("SNAPSHOTS_TABLE", "Snapshots"),
            idempotency: conventions::name_from_env("IDEMPOTENCY_TABLE", "Idempotency"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    tables: TableNames,
}

impl DynamoDbStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        Self { client, tables }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Every event of an aggregate, for audits and the verifier.
    pub async fn read_all(
        &self,
        aggregate_id: AuctionId,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.read_after(aggregate_id, 0, meter).await
    }

    async fn query(
        &self,
        aggregate_id: AuctionId,
        condition: &str,
        values: &[(&str, AttributeValue)],
        purpose: Purpose,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut events = Vec::new();
        let mut start_key = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.tables.events)
                .key_condition_expression(condition)
                .expression_attribute_names("#id", attr::AGGREGATE_ID)
                .expression_attribute_values(":id", AttributeValue::S(aggregate_id.to_string()))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start_key.take());
            if condition.contains("#v") {
                request = request.expression_attribute_names("#v", attr::VERSION);
            }
            for (name, value) in values {
                request = request.expression_attribute_values(*name, value.clone());
            }
            let page = request
                .send()
                .await
                .map_err(|e| unavailable_or_refused(&e))?;
            meter.record(purpose, read_usage(page.consumed_capacity()));
            for item in page.items() {
                events.push(event_from_item(aggregate_id, item)?);
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start_key = Some(key.clone()),
                _ => return Ok(events),
            }
        }
    }
}

impl EventLog for DynamoDbStore {
    async fn read_after(
        &self,
        aggregate_id: AuctionId,
        after: u64,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
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
        aggregate_id: AuctionId,
        from: u64,
        to: u64,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
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
        aggregate_id: AuctionId,
        command_key: &str,
        not_before: DateTime<Utc>,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
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

impl EventsOfType for DynamoDbStore {
    async fn events_of_type(&self, query: &TypeQuery) -> Result<TypePage, StoreError> {
        let Some((from, to)) = query.checked_bounds()? else {
            return Ok(TypePage::default());
        };
        let page = self
            .client
            .query()
            .table_name(&self.tables.events)
            .index_name(BY_EVENT_TYPE)
            .key_condition_expression("#type = :type AND #at BETWEEN :from AND :to")
            .expression_attribute_names("#type", attr::EVENT_TYPE)
            .expression_attribute_names("#at", attr::OCCURRED_AT)
            .expression_attribute_values(":type", AttributeValue::S(query.event_type.clone()))
            .expression_attribute_values(":from", AttributeValue::S(timestamp(&from)))
            .expression_attribute_values(":to", AttributeValue::S(timestamp(&to)))
            .limit(i32::try_from(query.page_size()).unwrap_or(i32::MAX))
            .set_exclusive_start_key(query.after.as_ref().map(index_key))
            .send()
            .await
            .map_err(|e| unavailable_or_refused(&e))?;
        let events = page
            .items()
            .iter()
            .map(event_from_image)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => Some(position_from_key(key)?),
            _ => None,
        };
        Ok(TypePage { events, next })
    }
}

/// The `byEventType` index key of a position: the index's own key and the table's.
fn index_key(position: &TypePosition) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            attr::EVENT_TYPE.to_owned(),
            AttributeValue::S(position.event_type.clone()),
        ),
        (
            attr::OCCURRED_AT.to_owned(),
            AttributeValue::S(timestamp(&position.occurred_at)),
        ),
        (
            attr::AGGREGATE_ID.to_owned(),
            AttributeValue::S(position.aggregate_id.to_string()),
        ),
        (attr::VERSION.to_owned(), number(position.version)),
    ])
}

/// Reads a LastEvaluatedKey of the index back into a position. Its `occurredAt` must be the
/// store's own text, or continuing from it would start somewhere else than where it ended.
fn position_from_key(key: &HashMap<String, AttributeValue>) -> Result<TypePosition, StoreError> {
    let version = get_number(key, attr::VERSION);
    let aggregate_id = get_string(key, attr::AGGREGATE_ID)
        .and_then(|id| Uuid::parse_str(id).ok())
        .map(AuctionId);
    let corrupt = |reason: String| StoreError::Corrupt {
        aggregate_id: aggregate_id.unwrap_or(AuctionId(Uuid::nil())),
        version: version.unwrap_or(0),
        reason,
    };
    let text = get_string(key, attr::OCCURRED_AT).unwrap_or_default();
    let occurred_at = DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
        .filter(|at| timestamp(at) == text)
        .ok_or_else(|| corrupt(format!("occurredAt {text:?} is not as the store writes it")))?;
    Ok(TypePosition {
        event_type: get_string(key, attr::EVENT_TYPE)
            .ok_or_else(|| corrupt("eventType is missing from the page key".to_owned()))?
            .to_owned(),
        occurred_at,
        aggregate_id: aggregate_id
            .ok_or_else(|| corrupt("aggregateId is missing or not a UUID".to_owned()))?,
        version: version.ok_or_else(|| corrupt("version is missing".to_owned()))?,
    })
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

impl Snapshots for DynamoDbStore {
    async fn get_snapshot(
        &self,
        aggregate_id: AuctionId,
        meter: &Meter,
    ) -> Result<Option<Snapshot>, StoreError> {
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
                .map(AuctionId)
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

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// Fixed millisecond precision, so that the audit index's sort key orders as time does.
fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn get_string<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

fn get_number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// The DynamoDB item of one event. Payload and metadata are stored as JSON text: exactly what the
/// contract defines, readable by any language, and cheaper than a map (no per-field type tags).
pub fn item_from_event(event: &StoredEvent) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let envelope = &event.envelope;
    let mut item = HashMap::from([
        (
            attr::AGGREGATE_ID.to_owned(),
            AttributeValue::S(envelope.aggregate_id.to_string()),
        ),
        (attr::VERSION.to_owned(), number(envelope.version)),
        (
            attr::EVENT_ID.to_owned(),
            AttributeValue::S(envelope.event_id.to_string()),
        ),
        (
            attr::AGGREGATE_TYPE.to_owned(),
            AttributeValue::S(envelope.aggregate_type.clone()),
        ),
        (
            attr::EVENT_TYPE.to_owned(),
            AttributeValue::S(envelope.event_type.clone()),
        ),
        (
            attr::SCHEMA_VERSION.to_owned(),
            number(u64::from(envelope.schema_version)),
        ),
        (
            attr::OCCURRED_AT.to_owned(),
            AttributeValue::S(timestamp(&envelope.occurred_at)),
        ),
        (
            attr::PAYLOAD.to_owned(),
            AttributeValue::S(to_json(&envelope.payload)?),
        ),
        (
            attr::METADATA.to_owned(),
            AttributeValue::S(to_json(&envelope.metadata)?),
        ),
        (attr::HASH.to_owned(), AttributeValue::S(event.hash.clone())),
    ]);
    if let Some(key) = event.command_key() {
        item.insert(attr::COMMAND_KEY.to_owned(), AttributeValue::S(key));
    }
    Ok(item)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Refused(format!("cannot encode event: {e}")))
}

/// Reads an event item that arrived on its own, as a stream record's new image: the aggregate
/// comes from the item itself. Anything missing or malformed is [`StoreError::Corrupt`].
pub fn event_from_image(item: &HashMap<String, AttributeValue>) -> Result<StoredEvent, StoreError> {
    let aggregate_id = get_string(item, attr::AGGREGATE_ID)
        .and_then(|id| Uuid::parse_str(id).ok())
        .map(AuctionId)
        .ok_or_else(|| StoreError::Corrupt {
            aggregate_id: AuctionId(Uuid::nil()),
            version: get_number(item, attr::VERSION).unwrap_or(0),
            reason: "aggregateId is missing or not a UUID".to_owned(),
        })?;
    event_from_item(aggregate_id, item)
}

/// Reads an event item back. Anything missing or malformed is corruption of the log.
pub(crate) fn event_from_item(
    aggregate_id: AuctionId,
    item: &HashMap<String, AttributeValue>,
) -> Result<StoredEvent, StoreError> {
    let version = get_number(item, attr::VERSION).unwrap_or(0);
    let corrupt = |reason: String| StoreError::Corrupt {
        aggregate_id,
        version,
        reason,
    };
    let string = |name: &str| {
        get_string(item, name).ok_or_else(|| corrupt(format!("{name} is missing or not a string")))
    };
    let stored_aggregate = string(attr::AGGREGATE_ID)?;
    let envelope = RawEnvelope {
        event_id: Uuid::parse_str(string(attr::EVENT_ID)?)
            .map_err(|e| corrupt(format!("eventId: {e}")))?,
        aggregate_id: Uuid::parse_str(stored_aggregate)
            .map(AuctionId)
            .map_err(|e| corrupt(format!("aggregateId: {e}")))?,
        aggregate_type: string(attr::AGGREGATE_TYPE)?.to_owned(),
        event_type: string(attr::EVENT_TYPE)?.to_owned(),
        version,
        schema_version: get_number(item, attr::SCHEMA_VERSION)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| corrupt("schemaVersion is missing or not a number".to_owned()))?,
        occurred_at: DateTime::parse_from_rfc3339(string(attr::OCCURRED_AT)?)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| corrupt(format!("occurredAt: {e}")))?,
        payload: serde_json::from_str(string(attr::PAYLOAD)?)
            .map_err(|e| corrupt(format!("payload: {e}")))?,
        metadata: serde_json::from_str::<Metadata>(string(attr::METADATA)?)
            .map_err(|e| corrupt(format!("metadata: {e}")))?,
    };
    Ok(StoredEvent {
        envelope,
        hash: string(attr::HASH)?.to_owned(),
    })
}

fn read_usage(consumed: Option<&ConsumedCapacity>) -> Usage {
    Usage {
        read_requests: 1,
        read_units: consumed.and_then(|c| c.capacity_units()).unwrap_or(0.0),
        ..Usage::default()
    }
}

fn write_usage(consumed: Option<&ConsumedCapacity>) -> Usage {
    let table = consumed
        .and_then(|c| {
            c.table()
                .and_then(|t| t.capacity_units())
                .or(c.capacity_units())
        })
        .unwrap_or(0.0);
    let indexes = consumed
        .and_then(|c| c.global_secondary_indexes())
        .map(|indexes| indexes.values().filter_map(|i| i.capacity_units()).sum())
        .unwrap_or(0.0);
    Usage {
        write_requests: 1,
        write_units: table,
        index_write_units: indexes,
        ..Usage::default()
    }
}

/// Maps errors that are not about the condition: throttling and contention are retried,
/// transport failures and server errors make the store unavailable, everything else is a
/// request DynamoDB will never accept.
fn unavailable_or_refused<E, R>(error: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match Failure::of(error) {
        Failure::Throttled(reason) => StoreError::Contention(reason),
        Failure::Unavailable(reason) => StoreError::Unavailable(reason),
        Failure::Refused(reason) => StoreError::Refused(reason),
    }
}

/// Classifies a failed single-event PutItem.
pub(crate) fn classify_put_error<R: std::fmt::Debug>(
    aggregate_id: AuctionId,
    version: u64,
    error: &SdkError<PutItemError, R>,
) -> StoreError {
    let SdkError::ServiceError(context) = error else {
        return unavailable_or_refused(error);
    };
    match context.err() {
        PutItemError::ConditionalCheckFailedException(failed) => StoreError::VersionTaken {
            aggregate_id,
            version,
            existing: failed
                .item()
                .and_then(|item| event_from_item(aggregate_id, item).ok())
                .map(Box::new),
        },
        PutItemError::ProvisionedThroughputExceededException(_)
        | PutItemError::RequestLimitExceeded(_)
        | PutItemError::TransactionConflictException(_) => {
            StoreError::Contention(error_chain(error))
        }
        PutItemError::InternalServerError(_) => StoreError::Unavailable(error_chain(error)),
        _ => unavailable_or_refused(error),
    }
}

/// Classifies a failed TransactWriteItems by its cancellation reasons, one per event in order.
/// A failed condition is the definitive answer (the version is taken); throttling or a
/// conflicting transaction is retried; any other reason is a request that will never succeed.
pub(crate) fn classify_transaction_error<R: std::fmt::Debug>(
    events: &[StoredEvent],
    error: &SdkError<TransactWriteItemsError, R>,
) -> StoreError {
    let SdkError::ServiceError(context) = error else {
        return unavailable_or_refused(error);
    };
    let TransactWriteItemsError::TransactionCanceledException(canceled) = context.err() else {
        return unavailable_or_refused(error);
    };
    classify_cancellation(events, canceled.cancellation_reasons())
}

pub(crate) fn classify_cancellation(
    events: &[StoredEvent],
    reasons: &[CancellationReason],
) -> StoreError {
    let aggregate_id = events
        .first()
        .map(|e| e.envelope.aggregate_id)
        .unwrap_or(AuctionId(Uuid::nil()));
    let coded = || {
        events
            .iter()
            .zip(reasons)
            .filter_map(|(event, reason)| reason.code().map(|code| (event, code, reason)))
    };
    if let Some((event, _, reason)) = coded().find(|(_, code, _)| *code == "ConditionalCheckFailed")
    {
        return StoreError::VersionTaken {
            aggregate_id,
            version: event.version(),
            existing: reason
                .item()
                .and_then(|item| event_from_item(aggregate_id, item).ok())
                .map(Box::new),
        };
    }
    if let Some((_, code, reason)) = coded().find(|(_, code, _)| conventions::is_throttling(code)) {
        return StoreError::Contention(format!("{code}: {}", reason.message().unwrap_or_default()));
    }
    let other: Vec<String> = coded()
        .filter(|(_, code, _)| *code != "None")
        .map(|(event, code, reason)| {
            format!(
                "version {}: {code} {}",
                event.version(),
                reason.message().unwrap_or_default()
            )
        })
        .collect();
    StoreError::Refused(format!("transaction cancelled: {}", other.join("; ")))
}

#[cfg(test)]
mod tests {
    use auction_events::{Actor, Metadata, UserId};
    use aws_sdk_dynamodb::types::error::{
        ConditionalCheckFailedException, InternalServerError,
        ProvisionedThroughputExceededException,
    };
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use serde_json::json;

    use super::*;
    use crate::chain::{GENESIS, seal};

    fn events(versions: std::ops::RangeInclusive<u64>) -> Vec<StoredEvent> {
        let aggregate_id = AuctionId(Uuid::from_u128(7));
        seal(
            GENESIS,
            versions
                .map(|version| RawEnvelope {
                    event_id: Uuid::from_u128(u128::from(version)),
                    aggregate_id,
                    aggregate_type: "Auction".to_owned(),
                    event_type: "AuctionStarted".to_owned(),
                    version,
                    schema_version: 1,
                    occurred_at: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
                    payload: json!({}),
                    metadata: Metadata {
                        correlation_id: "c".to_owned(),
                        causation_id: "k".to_owned(),
                        actor: Actor::User {
                            id: UserId::try_from("bob").unwrap(),
                        },
                        idempotency_key: Some("key-1".to_owned()),
                        request_fingerprint: None,
                    },
                })
                .collect(),
        )
    }

    fn response() -> Response {
        Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty())
    }

    fn reason(code: &str, item: Option<&StoredEvent>) -> CancellationReason {
        CancellationReason::builder()
            .code(code)
            .set_item(item.map(|e| item_from_event(e).unwrap()))
            .build()
    }

    #[test]
    fn an_event_item_reads_back_as_the_same_event() {
        for event in events(1..=3) {
            let item = item_from_event(&event).unwrap();
            assert_eq!(
                event_from_item(event.envelope.aggregate_id, &item).unwrap(),
                event
            );
            assert_eq!(get_string(&item, attr::COMMAND_KEY), Some("user:bob#key-1"));
        }
    }

    #[test]
    fn a_position_reads_back_from_the_index_key_it_starts_after() {
        let position = TypePosition::of(&events(3..=3)[0]);
        let key = index_key(&position);
        assert_eq!(
            get_string(&key, attr::OCCURRED_AT),
            Some("2026-01-01T00:00:00.000Z")
        );
        assert_eq!(position_from_key(&key).unwrap(), position);
    }

    #[test]
    fn a_page_key_whose_time_is_not_the_stores_text_is_corruption() {
        let mut key = index_key(&TypePosition::of(&events(3..=3)[0]));
        key.insert(
            attr::OCCURRED_AT.to_owned(),
            AttributeValue::S("2026-01-01T00:00:00Z".to_owned()),
        );
        assert!(matches!(
            position_from_key(&key),
            Err(StoreError::Corrupt { version: 3, .. })
        ));
    }

    #[test]
    fn a_taken_version_in_a_transaction_is_reported_with_the_item_that_holds_it() {
        let ours = events(4..=5);
        let theirs = events(5..=5);
        let error = classify_cancellation(
            &ours,
            &[
                reason("None", None),
                reason("ConditionalCheckFailed", Some(&theirs[0])),
            ],
        );
        let StoreError::VersionTaken {
            version, existing, ..
        } = error
        else {
            panic!("expected VersionTaken, got {error:?}");
        };
        assert_eq!(version, 5);
        assert_eq!(
            existing.map(|e| e.envelope.event_id),
            Some(Uuid::from_u128(5))
        );
    }

    #[test]
    fn a_failed_condition_wins_over_contention_in_the_same_transaction() {
        let error = classify_cancellation(
            &events(4..=5),
            &[
                reason("TransactionConflict", None),
                reason("ConditionalCheckFailed", None),
            ],
        );
        assert!(matches!(
            error,
            StoreError::VersionTaken {
                version: 5,
                existing: None,
                ..
            }
        ));
    }

    #[test]
    fn transaction_conflicts_and_throttling_are_contention() {
        for code in [
            "TransactionConflict",
            "ThrottlingError",
            "ProvisionedThroughputExceeded",
        ] {
            let error =
                classify_cancellation(&events(4..=5), &[reason(code, None), reason("None", None)]);
            assert!(
                matches!(error, StoreError::Contention(_)),
                "{code}: {error:?}"
            );
        }
    }

    #[test]
    fn other_cancellation_reasons_are_refusals() {
        let error = classify_cancellation(
            &events(4..=5),
            &[reason("ValidationError", None), reason("None", None)],
        );
        assert!(
            matches!(&error, StoreError::Refused(m) if m.contains("version 4: ValidationError")),
            "{error:?}"
        );
    }

    #[test]
    fn a_failed_put_condition_is_a_taken_version_with_the_existing_event() {
        let existing = &events(3..=3)[0];
        let error = SdkError::service_error(
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .set_item(Some(item_from_event(existing).unwrap()))
                    .build(),
            ),
            response(),
        );
        let classified = classify_put_error(existing.envelope.aggregate_id, 3, &error);
        let StoreError::VersionTaken {
            version: 3,
            existing: Some(found),
            ..
        } = classified
        else {
            panic!("expected VersionTaken, got {classified:?}");
        };
        assert_eq!(*found, *existing);
    }

    #[test]
    fn a_throttled_put_is_contention_and_a_server_error_unavailability() {
        let id = AuctionId(Uuid::nil());
        let throttled = SdkError::service_error(
            PutItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder().build(),
            ),
            response(),
        );
        assert!(matches!(
            classify_put_error(id, 1, &throttled),
            StoreError::Contention(_)
        ));
        let failed = SdkError::service_error(
            PutItemError::InternalServerError(InternalServerError::builder().build()),
            response(),
        );
        assert!(matches!(
            classify_put_error(id, 1, &failed),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn an_unreachable_dynamodb_is_unavailability() {
        let error: SdkError<PutItemError, Response> =
            SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        let classified = classify_put_error(AuctionId(Uuid::nil()), 1, &error);
        assert!(
            matches!(classified, StoreError::Unavailable(_)),
            "{classified:?}"
        );
        assert!(classified.is_transient());
    }
}
