use thiserror::Error;

/// Why a stored or received event could not be read.
///
/// None of these get better by retrying: a consumer that meets one treats the record as poison
/// (report it as a batch item failure so it reaches the on-failure destination or DLQ), and the
/// event store surfaces it as corruption of the log.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes are not JSON, or an envelope field is missing or has the wrong type.
    #[error("malformed event envelope: {0}")]
    MalformedEnvelope(String),
    /// The envelope names an aggregate type this contract does not define.
    #[error("unknown aggregate type {0:?}")]
    UnknownAggregateType(String),
    /// The envelope names an event type this contract does not define.
    #[error("unknown event type {0:?}")]
    UnknownEventType(String),
    /// Written by newer code than this: deploy the reader before the writer.
    #[error("{event_type} schema version {found} is newer than this code reads (up to {known})")]
    SchemaVersionTooNew {
        event_type: &'static str,
        found: u32,
        known: u32,
    },
    /// A schema version that never existed (0, or a gap in the history).
    #[error("{event_type} has no schema version {found}")]
    UnknownSchemaVersion {
        event_type: &'static str,
        found: u32,
    },
    /// The payload does not match the schema its version claims.
    #[error("invalid {event_type} v{schema_version} payload: {reason}")]
    InvalidPayload {
        event_type: &'static str,
        schema_version: u32,
        reason: String,
    },
}
