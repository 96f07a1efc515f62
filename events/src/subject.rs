//! The Subject aggregate's contract: what the log records about a subject of personal data
//! itself, not about an auction (docs/privacy.md). One event today: the tombstone a forget
//! appends once the subject's key is to be deleted, so that the log says when they were
//! forgotten and the projections drop what they derived for them. Its stream is keyed by the
//! subject's key id ([`SubjectId`]) and names them only by their pseudonym: a tombstone holds
//! nothing that identifies anyone once the key is gone.
//!
//! Additive changes only, as the other aggregates' events; schemas in `events/schemas/`, golden
//! samples in `events/samples/`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codec::EventCodec;
use crate::error::DecodeError;
use crate::ids::{SubjectId, UserId};
use crate::payloads::{Payload, payloads};
use crate::upcast::current_as;

/// The stream name of the Subject aggregate (its codec's [`EventCodec::AGGREGATE_TYPE`]).
pub const SUBJECT_AGGREGATE_TYPE: &str = "Subject";

/// The subject was forgotten: their key is deleted, so every value the log holds for them reads
/// as erased from now on (their pseudonym stays: it names no one without the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectForgotten {
    pub subject_id: SubjectId,
    /// The subject's pseudonym (`subject:<key id>`), as every event of theirs holds it.
    pub subject: UserId,
    pub forgotten_at: DateTime<Utc>,
}

/// Every event of the Subject aggregate; serializes as its payload alone. Also its codec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SubjectEvent {
    SubjectForgotten(SubjectForgotten),
}

payloads! {
    SubjectEvent {
        SubjectForgotten => 1,
    }
}

/// The Subject's codec: its events are [`SubjectEvent`]s and its stream is `Subject`.
impl EventCodec for SubjectEvent {
    type Event = SubjectEvent;
    type Id = SubjectId;

    const AGGREGATE_TYPE: &'static str = SUBJECT_AGGREGATE_TYPE;

    fn event_type(event: &SubjectEvent) -> &'static str {
        event.event_type()
    }

    fn schema_version(event: &SubjectEvent) -> u32 {
        event.schema_version()
    }

    fn decode(
        event_type: &str,
        schema_version: u32,
        payload: Value,
    ) -> Result<SubjectEvent, DecodeError> {
        match event_type {
            SubjectForgotten::EVENT_TYPE => {
                current_as::<SubjectForgotten, _>(schema_version, payload)
            }
            other => Err(DecodeError::UnknownEventType(other.to_owned())),
        }
    }

    fn personal_fields(event_type: &str) -> &'static [&'static str] {
        match event_type {
            SubjectForgotten::EVENT_TYPE => &["/subject"],
            _ => &[],
        }
    }
}
