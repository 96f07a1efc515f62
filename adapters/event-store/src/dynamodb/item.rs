//! The DynamoDB item of an event: payload and metadata as JSON text, the envelope's fields as
//! attributes, and the chain hash. Shared by every table module, and by the size check.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use events::{Metadata, RawEnvelope};
use uuid::Uuid;

use crate::error::StoreError;
use crate::stored::StoredEvent;

pub(crate) mod attr {
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
    pub const TYPE_SHARD: &str = "typeShard";
    pub const TYPE_ORDER: &str = "typeOrder";
}

/// The audit index's partition key of an event: its type and its aggregate's shard
/// ([`crate::log::AUDIT_SHARDS`] of them: the aggregate id modulo 16, i.e. its last hex digit),
/// `BidPlaced#7`. One aggregate's events of a type are in one partition, each type's entries are
/// spread over sixteen.
pub(crate) fn type_shard(event_type: &str, aggregate_id: Uuid) -> String {
    let shard = aggregate_id.as_u128() % u128::from(crate::log::AUDIT_SHARDS);
    audit_partition(event_type, shard)
}

/// The audit index's partition key of `event_type`'s shard `shard` (below
/// [`crate::log::AUDIT_SHARDS`]).
pub(crate) fn audit_partition(event_type: &str, shard: impl std::fmt::LowerHex) -> String {
    format!("{event_type}#{shard:x}")
}

/// The audit index's sort key of an event: its time at millisecond precision, then its
/// aggregate id and version, fixed-width (`2026-01-01T00:00:00.000Z#<uuid>#00000000000000000003`),
/// so that text order is one total order of the log's events of a type, the same in every
/// shard: a scatter-gather across shards merges into it, and a listing resumes strictly after
/// any event, however many share its millisecond.
pub(crate) fn type_order(occurred_at: &DateTime<Utc>, aggregate_id: Uuid, version: u64) -> String {
    format!("{}#{aggregate_id}#{version:020}", timestamp(occurred_at))
}

pub(crate) fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// Fixed millisecond precision, so that the audit index's sort key orders as time does.
pub(crate) fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn get_string<'a>(
    item: &'a HashMap<String, AttributeValue>,
    name: &str,
) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

pub(crate) fn get_number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
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
        (
            attr::TYPE_SHARD.to_owned(),
            AttributeValue::S(type_shard(&envelope.event_type, envelope.aggregate_id)),
        ),
        (
            attr::TYPE_ORDER.to_owned(),
            AttributeValue::S(type_order(
                &envelope.occurred_at,
                envelope.aggregate_id,
                envelope.version,
            )),
        ),
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
        .ok_or_else(|| StoreError::Corrupt {
            aggregate_id: Uuid::nil(),
            version: get_number(item, attr::VERSION).unwrap_or(0),
            reason: "aggregateId is missing or not a UUID".to_owned(),
        })?;
    event_from_item(aggregate_id, item)
}

/// Reads an event item back. Anything missing or malformed is corruption of the log.
pub(crate) fn event_from_item(
    aggregate_id: Uuid,
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

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use events::{Actor, Metadata, UserId};
    use serde_json::json;

    use super::*;
    use crate::chain::{GENESIS, seal};

    /// Sealed events of one aggregate at `versions`, with event id = version and a key.
    pub(crate) fn events(versions: std::ops::RangeInclusive<u64>) -> Vec<StoredEvent> {
        let aggregate_id = Uuid::from_u128(7);
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
}
