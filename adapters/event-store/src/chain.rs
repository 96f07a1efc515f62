//! Tamper evidence: each event's hash covers the previous event's hash and its own canonical
//! content, so editing, removing or reordering any stored event breaks the chain at that event.
//!
//! The hash is hex SHA-256 over `previous hash (hex) || "\n" || canonical JSON of the envelope`.
//! Canonical JSON here is the envelope as JSON with object keys sorted and no insignificant
//! whitespace; the contract has no floating-point numbers, so numbers are canonical as written.
//! The first event chains from [`GENESIS`]. Removing the newest events leaves a valid shorter
//! chain: anchor the head elsewhere (snapshots keep it) to detect that.

use std::fmt::Write as _;

use events::RawEnvelope;
use serde_json::Value;
use sha2::{Digest, Sha256};

use uuid::Uuid;

use crate::stored::StoredEvent;

/// What the first event of every aggregate chains from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Writes `value` as canonical JSON: keys sorted, no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The bytes of `envelope` that its chain hash covers: its canonical JSON. An inclusion proof
/// carries these, so that a verifier hashes exactly what the chain did.
pub fn content(envelope: &RawEnvelope) -> String {
    // A RawEnvelope always serializes (string keys, no floats); should that ever change, the
    // hash of its Debug form still binds the content.
    serde_json::to_value(envelope)
        .map(|value| canonical_json(&value))
        .unwrap_or_else(|_| format!("{envelope:?}"))
}

/// The chain hash of `envelope` following `previous`.
pub fn hash(previous: &str, envelope: &RawEnvelope) -> String {
    let content = content(envelope);
    let mut digest = Sha256::new();
    digest.update(previous.as_bytes());
    digest.update(b"\n");
    digest.update(content.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.finalize() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Chains `envelopes` after `previous`, in order.
pub fn seal(previous: &str, envelopes: Vec<RawEnvelope>) -> Vec<StoredEvent> {
    let mut head = previous.to_owned();
    envelopes
        .into_iter()
        .map(|envelope| {
            head = hash(&head, &envelope);
            StoredEvent {
                envelope,
                hash: head.clone(),
            }
        })
        .collect()
}

/// The first thing wrong with a stored history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Tampered {
    /// The event at `version` is missing: the history jumps from `version - 1` to `found`
    /// (or ends).
    #[error("version {version} is missing")]
    Missing { version: u64 },
    /// The event at `version` does not hash to what the chain says: its content was edited, or
    /// it was moved here from another position.
    #[error("version {version} was modified or moved")]
    Modified { version: u64 },
    /// The event at `version` belongs to another aggregate.
    #[error("version {version} belongs to another aggregate")]
    Foreign { version: u64 },
}

/// A history that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub events: u64,
    /// The last event's hash: anchor it elsewhere to detect truncation later.
    pub head: String,
}

/// Checks a whole history, as read in key order: versions 1, 2, 3, ... without gaps, each hash
/// matching the chain. Reports the first bad event.
pub fn verify(aggregate_id: impl Into<Uuid>, events: &[StoredEvent]) -> Result<Verified, Tampered> {
    let aggregate_id = aggregate_id.into();
    let mut head = GENESIS.to_owned();
    for (expected, event) in (1u64..).zip(events) {
        if event.version() != expected {
            return Err(Tampered::Missing { version: expected });
        }
        if event.envelope.aggregate_id != aggregate_id {
            return Err(Tampered::Foreign { version: expected });
        }
        let recomputed = hash(&head, &event.envelope);
        if recomputed != event.hash {
            return Err(Tampered::Modified { version: expected });
        }
        head = recomputed;
    }
    Ok(Verified {
        events: events.len() as u64,
        head,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_and_drops_whitespace() {
        let value = json!({"b": 1, "a": {"d": [3, {"f": "x", "e": null}], "c": true}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":true,"d":[3,{"e":null,"f":"x"}]},"b":1}"#
        );
    }

    #[test]
    fn canonical_json_escapes_strings_as_json() {
        assert_eq!(canonical_json(&json!({"k\"": "a\nb"})), r#"{"k\"":"a\nb"}"#);
    }
}
