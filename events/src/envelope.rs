use std::fmt;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::codec::EventCodec;
use crate::error::DecodeError;
use crate::ids::UserId;
use crate::payloads::AuctionEvent;

/// The Auction's stream name (its codec's [`EventCodec::AGGREGATE_TYPE`]).
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

/// One event of the log of an aggregate whose events `C` reads, as stored and as sent to
/// consumers.
///
/// On the wire the payload sits under `payload`, next to the `eventType` and `schemaVersion`
/// that say how to read it; decoding upcasts old versions, so an `Envelope` always holds the
/// current model.
pub struct Envelope<C: EventCodec> {
    pub event_id: Uuid,
    pub aggregate_id: C::Id,
    /// Position in the aggregate's stream: 1, 2, 3, ... without gaps.
    pub version: u64,
    pub occurred_at: DateTime<Utc>,
    pub event: C::Event,
    pub metadata: Metadata,
}

/// An Auction event in its envelope: what most consumers read.
pub type EventEnvelope = Envelope<AuctionEvent>;

impl<C: EventCodec> Clone for Envelope<C> {
    fn clone(&self) -> Self {
        Self {
            event_id: self.event_id,
            aggregate_id: self.aggregate_id,
            version: self.version,
            occurred_at: self.occurred_at,
            event: self.event.clone(),
            metadata: self.metadata.clone(),
        }
    }
}

impl<C: EventCodec> fmt::Debug for Envelope<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("event_id", &self.event_id)
            .field("aggregate_id", &self.aggregate_id)
            .field("version", &self.version)
            .field("occurred_at", &self.occurred_at)
            .field("event", &self.event)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl<C: EventCodec> PartialEq for Envelope<C> {
    fn eq(&self, other: &Self) -> bool {
        self.event_id == other.event_id
            && self.aggregate_id == other.aggregate_id
            && self.version == other.version
            && self.occurred_at == other.occurred_at
            && self.event == other.event
            && self.metadata == other.metadata
    }
}

impl<C: EventCodec> Eq for Envelope<C> where C::Event: Eq {}

/// The envelope with its payload not yet read: what is on the wire, field for field. Any
/// aggregate's: the id is the plain wire id, and `aggregateType` names the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RawEnvelope {
    pub event_id: Uuid,
    /// The aggregate's id (for an Auction, its auction id).
    pub aggregate_id: Uuid,
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
    /// Reads an Auction event, upcasting an old schema version to the current model.
    pub fn decode(self) -> Result<EventEnvelope, DecodeError> {
        self.decode_as::<AuctionEvent>()
    }

    /// Reads an event of the aggregate `C` reads, upcasting an old schema version; an envelope
    /// of another aggregate type is [`DecodeError::UnknownAggregateType`].
    pub fn decode_as<C: EventCodec>(self) -> Result<Envelope<C>, DecodeError> {
        if self.aggregate_type != C::AGGREGATE_TYPE {
            return Err(DecodeError::UnknownAggregateType(self.aggregate_type));
        }
        if self.version == 0 {
            return Err(DecodeError::MalformedEnvelope(
                "version starts at 1".to_owned(),
            ));
        }
        let event = C::decode(&self.event_type, self.schema_version, self.payload)?;
        Ok(Envelope {
            event_id: self.event_id,
            aggregate_id: C::Id::from(self.aggregate_id),
            version: self.version,
            occurred_at: self.occurred_at,
            event,
            metadata: self.metadata,
        })
    }
}

impl<C: EventCodec> Envelope<C> {
    pub fn event_type(&self) -> &'static str {
        C::event_type(&self.event)
    }

    /// The wire form, at the current schema version of the event's type.
    pub fn to_raw(&self) -> Result<RawEnvelope, serde_json::Error> {
        Ok(RawEnvelope {
            event_id: self.event_id,
            aggregate_id: self.aggregate_id.into(),
            aggregate_type: C::AGGREGATE_TYPE.to_owned(),
            event_type: C::event_type(&self.event).to_owned(),
            version: self.version,
            schema_version: C::schema_version(&self.event),
            occurred_at: self.occurred_at,
            payload: C::encode(&self.event)?,
            metadata: self.metadata.clone(),
        })
    }

    /// Decodes an envelope from JSON text, upcasting old schema versions.
    pub fn from_json(json: &str) -> Result<Self, DecodeError> {
        serde_json::from_str::<RawEnvelope>(json)
            .map_err(|e| DecodeError::MalformedEnvelope(e.to_string()))?
            .decode_as()
    }

    /// Decodes an envelope from a JSON value, upcasting old schema versions.
    pub fn from_value(value: Value) -> Result<Self, DecodeError> {
        serde_json::from_value::<RawEnvelope>(value)
            .map_err(|e| DecodeError::MalformedEnvelope(e.to_string()))?
            .decode_as()
    }
}

/// Borrowed view of the wire shape, so encoding needs no intermediate `Value`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRef<'a, E> {
    event_id: &'a Uuid,
    aggregate_id: Uuid,
    aggregate_type: &'static str,
    event_type: &'static str,
    version: u64,
    schema_version: u32,
    occurred_at: &'a DateTime<Utc>,
    payload: &'a E,
    metadata: &'a Metadata,
}

impl<C: EventCodec> Serialize for Envelope<C> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireRef {
            event_id: &self.event_id,
            aggregate_id: self.aggregate_id.into(),
            aggregate_type: C::AGGREGATE_TYPE,
            event_type: C::event_type(&self.event),
            version: self.version,
            schema_version: C::schema_version(&self.event),
            occurred_at: &self.occurred_at,
            payload: &self.event,
            metadata: &self.metadata,
        }
        .serialize(serializer)
    }
}

impl<'de, C: EventCodec> Deserialize<'de> for Envelope<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawEnvelope::deserialize(deserializer)?
            .decode_as()
            .map_err(serde::de::Error::custom)
    }
}
