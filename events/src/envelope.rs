use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::error::DecodeError;
use crate::ids::{AuctionId, UserId};
use crate::payloads::AuctionEvent;
use crate::upcast::decode_payload;

/// The only aggregate type this contract defines so far.
pub const AGGREGATE_TYPE: &str = "Auction";

/// Who issued the command that produced an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Actor {
    /// A person, as named by the authorizer's `sub` claim.
    User { id: UserId },
    /// A part of the platform acting on its own (the end-of-auction scheduler, the payment saga).
    System { name: String },
}

/// Tracing and de-duplication data carried by every event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Shared by everything one user action set off, across services.
    pub correlation_id: String,
    /// The id of the command (or event) that directly caused this event.
    pub causation_id: String,
    pub actor: Actor,
    /// The client's key for the command; a retry with the same key appends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Identifies the request the idempotency key was used for (a hash of it), so that the key
    /// reused on another request is refused even when no other record of the first one is
    /// left. Absent without a key, and on events written before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_fingerprint: Option<String>,
}

/// One event of the log, as stored and as sent to consumers.
///
/// On the wire the payload sits under `payload`, next to the `eventType` and `schemaVersion`
/// that say how to read it; decoding upcasts old versions, so an `EventEnvelope` always holds the
/// current model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEnvelope {
    pub event_id: Uuid,
    pub aggregate_id: AuctionId,
    /// Position in the aggregate's stream: 1, 2, 3, ... without gaps.
    pub version: u64,
    pub occurred_at: DateTime<Utc>,
    pub event: AuctionEvent,
    pub metadata: Metadata,
}

/// The envelope with its payload not yet read: what is on the wire, field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RawEnvelope {
    pub event_id: Uuid,
    pub aggregate_id: AuctionId,
    pub aggregate_type: String,
    pub event_type: String,
    #[schemars(range(min = 1))]
    pub version: u64,
    #[schemars(range(min = 1))]
    pub schema_version: u32,
    pub occurred_at: DateTime<Utc>,
    pub payload: Value,
    pub metadata: Metadata,
}

impl RawEnvelope {
    /// Reads the payload, upcasting an old schema version to the current model.
    pub fn decode(self) -> Result<EventEnvelope, DecodeError> {
        if self.aggregate_type != AGGREGATE_TYPE {
            return Err(DecodeError::UnknownAggregateType(self.aggregate_type));
        }
        if self.version == 0 {
            return Err(DecodeError::MalformedEnvelope(
                "version starts at 1".to_owned(),
            ));
        }
        let event = decode_payload(&self.event_type, self.schema_version, self.payload)?;
        Ok(EventEnvelope {
            event_id: self.event_id,
            aggregate_id: self.aggregate_id,
            version: self.version,
            occurred_at: self.occurred_at,
            event,
            metadata: self.metadata,
        })
    }
}

impl EventEnvelope {
    pub fn event_type(&self) -> &'static str {
        self.event.event_type()
    }

    /// The wire form, at the current schema version of the event's type.
    pub fn to_raw(&self) -> Result<RawEnvelope, serde_json::Error> {
        Ok(RawEnvelope {
            event_id: self.event_id,
            aggregate_id: self.aggregate_id,
            aggregate_type: AGGREGATE_TYPE.to_owned(),
            event_type: self.event.event_type().to_owned(),
            version: self.version,
            schema_version: self.event.schema_version(),
            occurred_at: self.occurred_at,
            payload: serde_json::to_value(&self.event)?,
            metadata: self.metadata.clone(),
        })
    }

    /// Decodes an envelope from JSON text, upcasting old schema versions.
    pub fn from_json(json: &str) -> Result<Self, DecodeError> {
        serde_json::from_str::<RawEnvelope>(json)
            .map_err(|e| DecodeError::MalformedEnvelope(e.to_string()))?
            .decode()
    }

    /// Decodes an envelope from a JSON value, upcasting old schema versions.
    pub fn from_value(value: Value) -> Result<Self, DecodeError> {
        serde_json::from_value::<RawEnvelope>(value)
            .map_err(|e| DecodeError::MalformedEnvelope(e.to_string()))?
            .decode()
    }
}

/// Borrowed view of the wire shape, so encoding needs no intermediate `Value`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRef<'a> {
    event_id: &'a Uuid,
    aggregate_id: &'a AuctionId,
    aggregate_type: &'static str,
    event_type: &'static str,
    version: u64,
    schema_version: u32,
    occurred_at: &'a DateTime<Utc>,
    payload: &'a AuctionEvent,
    metadata: &'a Metadata,
}

impl Serialize for EventEnvelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireRef {
            event_id: &self.event_id,
            aggregate_id: &self.aggregate_id,
            aggregate_type: AGGREGATE_TYPE,
            event_type: self.event.event_type(),
            version: self.version,
            schema_version: self.event.schema_version(),
            occurred_at: &self.occurred_at,
            payload: &self.event,
            metadata: &self.metadata,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EventEnvelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawEnvelope::deserialize(deserializer)?
            .decode()
            .map_err(serde::de::Error::custom)
    }
}
