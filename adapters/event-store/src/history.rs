//! Time travel over any aggregate's log: its state at a version (from a snapshot and a short
//! tail, for consumers), its states after each event, or at a version or an instant (for audits).
//! Everything here only reads, through the ports, so it runs over the in-memory twin as well.

use chrono::{DateTime, Utc};
use events::{Aggregate, Envelope};
use thiserror::Error;
use uuid::Uuid;

use crate::command::restore;
use crate::error::StoreError;
use crate::log::{EventLog, Snapshots};
use crate::meter::Meter;
use crate::stored::StoredEvent;

/// Why a look at a history could not answer. A tampered log is not an error: it is a
/// [`crate::verify::Report`].
#[derive(Debug, Error)]
pub enum HistoryError {
    /// The log holds no event of this aggregate.
    #[error("aggregate {0} has no events")]
    NotFound(Uuid),
    /// A version before 1 or after the aggregate's last event was asked for.
    #[error(
        "version {requested} is out of range: aggregate {aggregate_id} has versions 1 to {head}"
    )]
    VersionOutOfRange {
        aggregate_id: Uuid,
        requested: u64,
        head: u64,
    },
    /// A time range whose start is after its end.
    #[error("the time range is empty: {from} is after {to}")]
    EmptyRange { from: String, to: String },
    /// A line of an export is not a stored event envelope (the line number says which).
    #[error("line {line} is not an exported event: {reason}")]
    MalformedLine { line: usize, reason: String },
    /// The log could not be read, or a stored event could not be decoded.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The aggregate after exactly the events `1..=version`: the latest snapshot when it is not
/// past `version` (one past it would include later events), then the events up to `version`,
/// folded by the aggregate's own `evolve`. For consumers that describe an event with the state
/// it produced (who was told, how many bids), whenever they handle it. The result stands at a
/// version below `version` when the log ends earlier or has a gap; callers decide what that
/// means. Which aggregate comes from the result's type (`state_at::<State, _>(..)` where nothing
/// else says).
pub async fn state_at<S: Aggregate, B: EventLog + Snapshots>(
    backend: &B,
    aggregate_id: S::Id,
    version: u64,
    meter: &Meter,
) -> Result<S, StoreError> {
    let (mut state, mut at) = backend
        .get_snapshot(aggregate_id, meter)
        .await?
        .filter(|snapshot| snapshot.version <= version)
        .and_then(|snapshot| restore::<S>(&snapshot).map(|state| (state, snapshot.version)))
        .unwrap_or_default();
    if at < version {
        let tail = backend
            .read_range(aggregate_id, at + 1, version, meter)
            .await?;
        for stored in &tail {
            if stored.version() != at + 1 {
                break;
            }
            state = state.evolve(&stored.decode::<S::Codec>()?.event);
            at += 1;
        }
    }
    Ok(state)
}

/// One event of a history and the state right after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step<S: Aggregate> {
    /// The event in the current model, upcast from the schema version it was stored in.
    pub event: Envelope<S::Codec>,
    pub state: S,
}

/// Where in an aggregate's history to stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// After the event with this version (1 = after the first).
    Version(u64),
    /// After every event that occurred at or before this instant.
    Instant(DateTime<Utc>),
}

/// An aggregate's state at a point of its history, and the version it stands at (0 when the
/// instant is before the first event).
#[derive(Debug, Clone, PartialEq)]
pub struct StateAt<S> {
    pub version: u64,
    pub state: S,
}

/// Every event of `aggregate_id` with the state after it, in version order.
pub async fn history<S: Aggregate, L: EventLog>(
    log: &L,
    aggregate_id: S::Id,
) -> Result<Vec<Step<S>>, HistoryError> {
    let events = history_events(log, aggregate_id).await?;
    let mut state = S::default();
    let mut steps = Vec::with_capacity(events.len());
    for stored in &events {
        let event = stored.decode::<S::Codec>()?;
        state = state.evolve(&event.event);
        steps.push(Step {
            event,
            state: state.clone(),
        });
    }
    Ok(steps)
}

/// The fold of the prefix of `aggregate_id`'s history that `as_of` names.
pub async fn state_as_of<S: Aggregate, L: EventLog>(
    log: &L,
    aggregate_id: S::Id,
    as_of: AsOf,
) -> Result<StateAt<S>, HistoryError> {
    let events = history_events(log, aggregate_id).await?;
    let head = events.last().map_or(0, StoredEvent::version);
    let prefix: &[StoredEvent] = match as_of {
        AsOf::Version(requested) => {
            if requested == 0 || requested > head {
                return Err(HistoryError::VersionOutOfRange {
                    aggregate_id: aggregate_id.into(),
                    requested,
                    head,
                });
            }
            let end = events
                .iter()
                .position(|e| e.version() > requested)
                .unwrap_or(events.len());
            &events[..end]
        }
        // A state is defined only on a prefix of the log, so stop at the first later event even
        // if a (clock-skewed) event after it claims an earlier time.
        AsOf::Instant(at) => {
            let end = events
                .iter()
                .position(|e| e.envelope.occurred_at > at)
                .unwrap_or(events.len());
            &events[..end]
        }
    };
    let decoded = prefix
        .iter()
        .map(StoredEvent::decode::<S::Codec>)
        .collect::<Result<Vec<_>, _>>()?;
    let state = S::fold(decoded.iter().map(|e| &e.event));
    Ok(StateAt {
        version: prefix.last().map_or(0, StoredEvent::version),
        state,
    })
}

/// Every stored event of an aggregate as stored (not upcast), in version order; none at all is
/// [`HistoryError::NotFound`].
pub async fn history_events<L: EventLog>(
    log: &L,
    aggregate_id: impl Into<Uuid>,
) -> Result<Vec<StoredEvent>, HistoryError> {
    let aggregate_id = aggregate_id.into();
    let events = log.read_after(aggregate_id, 0, &Meter::default()).await?;
    if events.is_empty() {
        return Err(HistoryError::NotFound(aggregate_id));
    }
    Ok(events)
}
