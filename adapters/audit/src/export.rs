//! JSON Lines export and import of stored events: the event store's generic
//! [`event_store::export`], answering [`AuditError`]s. One line per event, the wire envelope
//! exactly as stored (payload at its stored schema version, not upcast) with the chain `hash`
//! beside its fields, so that an export can be verified again and imported as it was.

use chrono::{DateTime, Utc};
use event_store::export as generic;
use event_store::{EventLog, EventsOfType, StoredEvent};

pub use event_store::export::EXPORT_PAGE;

use crate::error::AuditError;

/// One event as one line of JSON, without the newline; keys sorted.
pub fn encode_line(event: &StoredEvent) -> Result<String, AuditError> {
    Ok(generic::encode_line(event)?)
}

/// Events as JSON Lines: each line ends with a newline.
pub fn encode_lines(events: &[StoredEvent]) -> Result<String, AuditError> {
    Ok(generic::encode_lines(events)?)
}

/// Every event of `event_type` that occurred in `from..=to`, in time order, a page at a time;
/// `from` after `to` is [`AuditError::EmptyRange`].
pub async fn events_of_type<S: EventsOfType>(
    store: &S,
    event_type: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut page: impl FnMut(Vec<StoredEvent>) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let mut failed = None;
    let result = generic::events_of_type(store, event_type, from, to, |events| {
        page(events).map_err(|error| {
            let reason = error.to_string();
            failed = Some(error);
            event_store::HistoryError::MalformedLine { line: 0, reason }
        })
    })
    .await;
    match (result, failed) {
        (_, Some(error)) => Err(error),
        (result, None) => Ok(result?),
    }
}

/// Reads one exported line (1-based `line` for the error).
pub fn parse_line(line: usize, text: &str) -> Result<StoredEvent, AuditError> {
    Ok(generic::parse_line(line, text)?)
}

/// Reads JSON Lines; blank lines are skipped. The first bad line stops the import.
pub fn parse_lines(text: &str) -> Result<Vec<StoredEvent>, AuditError> {
    Ok(generic::parse_lines(text)?)
}

/// Appends imported events through the log's conditional append; never overwrites.
pub async fn import<L: EventLog>(log: &L, events: &[StoredEvent]) -> Result<(), AuditError> {
    Ok(generic::import(log, events).await?)
}
