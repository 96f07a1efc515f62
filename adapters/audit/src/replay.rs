//! Time travel of one auction: the event store's generic [`event_store::history`] for the
//! Auction, answering [`AuditError`]s.

use domain::State;
use event_store::history::{self, AsOf};
use event_store::{EventLog, StoredEvent};
use events::AuctionId;

use crate::error::AuditError;

/// One event of an auction's history and the state right after it.
pub type Step = history::Step<State>;

/// An auction's state at a point of its history, and the version it stands at.
pub type StateAt = history::StateAt<State>;

/// Every event of `aggregate_id` with the state after it, in version order.
pub async fn history<L: EventLog>(
    log: &L,
    aggregate_id: AuctionId,
) -> Result<Vec<Step>, AuditError> {
    Ok(history::history::<State, L>(log, aggregate_id).await?)
}

/// The fold of the prefix of `aggregate_id`'s history that `as_of` names.
pub async fn state_at<L: EventLog>(
    log: &L,
    aggregate_id: AuctionId,
    as_of: AsOf,
) -> Result<StateAt, AuditError> {
    Ok(history::state_as_of::<State, L>(log, aggregate_id, as_of).await?)
}

/// Every stored event of an auction as stored (not upcast), in version order; none at all is
/// [`AuditError::AuctionNotFound`].
pub async fn history_events<L: EventLog>(
    log: &L,
    aggregate_id: AuctionId,
) -> Result<Vec<StoredEvent>, AuditError> {
    Ok(history::history_events(log, aggregate_id).await?)
}
