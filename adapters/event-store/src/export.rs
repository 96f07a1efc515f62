//! JSON Lines export of stored events: one line per event, the wire envelope exactly as stored
//! (payload at its stored schema version, not upcast) with the chain `hash` beside its fields,
//! so that an export can be verified again and imported as it was.

use chrono::{DateTime, Utc};
use events::RawEnvelope;
use serde_json::Value;

use crate::error::StoreError;
use crate::history::HistoryError;
use crate::log::{EventLog, EventsOfType, TypeQuery};
use crate::meter::Meter;
use crate::stored::StoredEvent;

const HASH: &str = "hash";
/// What an exporter with the subjects' key store adds beside a line's envelope: the pseudonyms
/// it holds and what they revealed (docs/privacy.md). Not part of the stored event: an import
/// ignores it.
const REVEALED: &str = "revealed";

/// One event as one line of JSON, without the newline. Keys are sorted, so the same event
/// always gives the same bytes.
pub fn encode_line(event: &StoredEvent) -> Result<String, HistoryError> {
    let mut value = serde_json::to_value(&event.envelope).map_err(encode_failed)?;
    let Value::Object(fields) = &mut value else {
        return Err(encode_failed("an envelope is not a JSON object"));
    };
    fields.insert(HASH.to_owned(), Value::String(event.hash.clone()));
    serde_json::to_string(&value).map_err(encode_failed)
}

fn encode_failed(reason: impl std::fmt::Display) -> HistoryError {
    HistoryError::Store(StoreError::Refused(format!(
        "cannot encode event: {reason}"
    )))
}

/// Events as JSON Lines: each line ends with a newline.
pub fn encode_lines(events: &[StoredEvent]) -> Result<String, HistoryError> {
    let mut out = String::new();
    for event in events {
        out.push_str(&encode_line(event)?);
        out.push('\n');
    }
    Ok(out)
}

/// How many events an export by type asks the store for at a time.
pub const EXPORT_PAGE: u32 = 1_000;

/// Every event of `event_type` that occurred in `from..=to` (inclusive, at millisecond
/// precision), in time order, handing each page to `page` as it arrives so that a large export
/// never sits in memory whole. `from` after `to` is [`HistoryError::EmptyRange`].
pub async fn events_of_type<S: EventsOfType>(
    store: &S,
    event_type: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut page: impl FnMut(Vec<StoredEvent>) -> Result<(), HistoryError>,
) -> Result<(), HistoryError> {
    if from > to {
        return Err(HistoryError::EmptyRange {
            from: from.to_rfc3339(),
            to: to.to_rfc3339(),
        });
    }
    let mut query = TypeQuery::new(event_type, from, to, EXPORT_PAGE);
    loop {
        let found = store.events_of_type(&query).await?;
        page(found.events)?;
        match found.next {
            Some(next) => query.after = Some(next),
            None => return Ok(()),
        }
    }
}

/// Reads one exported line (1-based `line` for the error).
pub fn parse_line(line: usize, text: &str) -> Result<StoredEvent, HistoryError> {
    let malformed = |reason: String| HistoryError::MalformedLine { line, reason };
    let value: Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let Value::Object(mut fields) = value else {
        return Err(malformed("not a JSON object".to_owned()));
    };
    let hash = match fields.remove(HASH) {
        Some(Value::String(hash)) => hash,
        _ => return Err(malformed("the hash is missing or not a string".to_owned())),
    };
    fields.remove(REVEALED);
    let envelope: RawEnvelope =
        serde_json::from_value(Value::Object(fields)).map_err(|e| malformed(e.to_string()))?;
    Ok(StoredEvent { envelope, hash })
}

/// Reads JSON Lines; blank lines are skipped. The first bad line stops the import.
pub fn parse_lines(text: &str) -> Result<Vec<StoredEvent>, HistoryError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| parse_line(index + 1, line))
        .collect()
}

/// Appends imported events through the log's conditional append, each auction's run of events
/// in commits of at most 100 (DynamoDB's transaction limit). A version already taken fails the
/// import with [`StoreError::VersionTaken`]: an import never overwrites.
pub async fn import<L: EventLog>(log: &L, events: &[StoredEvent]) -> Result<(), HistoryError> {
    let meter = Meter::default();
    for run in events.chunk_by(|a, b| a.envelope.aggregate_id == b.envelope.aggregate_id) {
        for commit in run.chunks(100) {
            log.append(commit, &meter).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeDelta;
    use uuid::Uuid;

    use super::*;
    use crate::memory::InMemoryStore;
    use crate::testing::typed_history;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap() + TimeDelta::seconds(second)
    }

    /// `count` bids on one auction, one a second from second 1.
    async fn bids(count: u64) -> (InMemoryStore, Vec<StoredEvent>) {
        let types = vec!["BidPlaced"; usize::try_from(count).unwrap()];
        let events = typed_history(Uuid::new_v4(), &types, |v| at(v as i64));
        let store = InMemoryStore::new();
        store.append(&events, &Meter::default()).await.unwrap();
        (store, events)
    }

    #[tokio::test]
    async fn an_export_by_type_follows_every_page_and_prints_the_export_format() {
        // Given more bids than one page holds
        let count = u64::from(EXPORT_PAGE) + 3;
        let (store, events) = bids(count).await;
        // When all of them are exported
        let mut pages = 0;
        let mut lines = String::new();
        let exported = events_of_type(&store, "BidPlaced", at(0), at(count as i64), |page| {
            pages += 1;
            lines.push_str(&encode_lines(&page)?);
            Ok(())
        })
        .await;
        // Then every page arrived and the lines are the events' own
        exported.unwrap();
        assert_eq!(pages, 2);
        assert_eq!(lines, encode_lines(&events).unwrap());
    }

    #[tokio::test]
    async fn an_export_by_type_over_an_inverted_range_is_refused_as_empty() {
        let (store, _) = bids(1).await;
        let refused = events_of_type(&store, "BidPlaced", at(2), at(1), |_| Ok(())).await;
        assert!(
            matches!(refused, Err(HistoryError::EmptyRange { .. })),
            "{refused:?}"
        );
    }
}
