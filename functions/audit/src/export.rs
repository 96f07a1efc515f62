//! JSON Lines export of stored events: one line per event, the wire envelope exactly as stored
//! (payload at its stored schema version, not upcast) with the chain `hash` beside its fields,
//! so that an export can be verified again and imported as it was.

use auction_events::RawEnvelope;
use event_store::StoredEvent;
use serde_json::Value;

use crate::error::AuditError;

const HASH: &str = "hash";

/// One event as one line of JSON, without the newline. Keys are sorted, so the same event
/// always gives the same bytes.
pub fn encode_line(event: &StoredEvent) -> Result<String, AuditError> {
    let mut value = serde_json::to_value(&event.envelope).map_err(encode_failed)?;
    let Value::Object(fields) = &mut value else {
        return Err(encode_failed("an envelope is not a JSON object"));
    };
    fields.insert(HASH.to_owned(), Value::String(event.hash.clone()));
    serde_json::to_string(&value).map_err(encode_failed)
}

fn encode_failed(reason: impl std::fmt::Display) -> AuditError {
    AuditError::Store(event_store::StoreError::Refused(format!(
        "cannot encode event: {reason}"
    )))
}

/// Events as JSON Lines: each line ends with a newline.
pub fn encode_lines(events: &[StoredEvent]) -> Result<String, AuditError> {
    let mut out = String::new();
    for event in events {
        out.push_str(&encode_line(event)?);
        out.push('\n');
    }
    Ok(out)
}

/// Reads one exported line (1-based `line` for the error).
pub fn parse_line(line: usize, text: &str) -> Result<StoredEvent, AuditError> {
    let malformed = |reason: String| AuditError::MalformedLine { line, reason };
    let value: Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let Value::Object(mut fields) = value else {
        return Err(malformed("not a JSON object".to_owned()));
    };
    let hash = match fields.remove(HASH) {
        Some(Value::String(hash)) => hash,
        _ => return Err(malformed("the hash is missing or not a string".to_owned())),
    };
    let envelope: RawEnvelope =
        serde_json::from_value(Value::Object(fields)).map_err(|e| malformed(e.to_string()))?;
    Ok(StoredEvent { envelope, hash })
}

/// Reads JSON Lines; blank lines are skipped. The first bad line stops the import.
pub fn parse_lines(text: &str) -> Result<Vec<StoredEvent>, AuditError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| parse_line(index + 1, line))
        .collect()
}

/// Appends imported events through the log's conditional append, each auction's run of events
/// in commits of at most 100 (DynamoDB's transaction limit). A version already taken fails the
/// import with [`event_store::StoreError::VersionTaken`]: an import never overwrites.
pub async fn import<L: event_store::EventLog>(
    log: &L,
    events: &[StoredEvent],
) -> Result<(), AuditError> {
    let meter = event_store::Meter::default();
    for run in events.chunk_by(|a, b| a.envelope.aggregate_id == b.envelope.aggregate_id) {
        for commit in run.chunks(100) {
            log.append(commit, &meter).await?;
        }
    }
    Ok(())
}
