//! Time travel: an auction's states after each event, or at one point of its history.

use auction_domain::{State, evolve, fold};
use auction_events::{AuctionId, EventEnvelope};
use chrono::{DateTime, Utc};
use event_store::{EventLog, Meter, StoredEvent};

use crate::error::AuditError;

/// One event of a history and the state right after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The event in the current model, upcast from the schema version it was stored in.
    pub event: EventEnvelope,
    pub state: State,
}

/// Where in an auction's history to stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// After the event with this version (1 = after creation).
    Version(u64),
    /// After every event that occurred at or before this instant.
    Instant(DateTime<Utc>),
}

/// An auction's state at a point of its history, and the version it stands at (0 when the
/// instant is before the first event).
#[derive(Debug, Clone, PartialEq)]
pub struct StateAt {
    pub version: u64,
    pub state: State,
}

/// Every event of `aggregate_id` with the state after it, in version order.
pub async fn history<L: EventLog>(
    log: &L,
    aggregate_id: AuctionId,
) -> Result<Vec<Step>, AuditError> {
    let events = history_events(log, aggregate_id).await?;
    let mut state = State::default();
    let mut steps = Vec::with_capacity(events.len());
    for stored in &events {
        let event = stored.decode()?;
        state = evolve(state, &event.event);
        steps.push(Step {
            event,
            state: state.clone(),
        });
    }
    Ok(steps)
}

/// The fold of the prefix of `aggregate_id`'s history that `as_of` names.
pub async fn state_at<L: EventLog>(
    log: &L,
    aggregate_id: AuctionId,
    as_of: AsOf,
) -> Result<StateAt, AuditError> {
    let events = history_events(log, aggregate_id).await?;
    let head = events.last().map_or(0, StoredEvent::version);
    let prefix: &[StoredEvent] = match as_of {
        AsOf::Version(requested) => {
            if requested == 0 || requested > head {
                return Err(AuditError::VersionOutOfRange {
                    aggregate_id,
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
        .map(StoredEvent::decode)
        .collect::<Result<Vec<_>, _>>()?;
    let state = fold(decoded.iter().map(|e| &e.event));
    Ok(StateAt {
        version: prefix.last().map_or(0, StoredEvent::version),
        state,
    })
}

/// Every stored event of an auction as stored (not upcast), in version order; none at all is
/// [`AuditError::AuctionNotFound`].
pub async fn history_events<L: EventLog>(
    log: &L,
    aggregate_id: AuctionId,
) -> Result<Vec<StoredEvent>, AuditError> {
    let events = log.read_after(aggregate_id, 0, &Meter::default()).await?;
    if events.is_empty() {
        return Err(AuditError::AuctionNotFound(aggregate_id));
    }
    Ok(events)
}
