//! Tamper checks of auctions: the event store's generic [`event_store::verify`] for the
//! Auction, answering [`AuditError`]s.

use event_store::verify as generic;
use event_store::{EventLog, StoredEvent};
use events::{AuctionEvent, AuctionId};

pub use event_store::verify::Finding;

use crate::error::AuditError;

/// The verdict on one auction's log.
pub type Report = generic::Report<AuctionId>;

/// Checks one auction's whole log.
pub async fn verify<L: EventLog>(log: &L, aggregate_id: AuctionId) -> Result<Report, AuditError> {
    Ok(generic::verify::<AuctionEvent, L>(log, aggregate_id).await?)
}

/// Checks a history already read, in key order.
pub fn verify_events(aggregate_id: AuctionId, events: &[StoredEvent]) -> Report {
    generic::verify_events::<AuctionEvent>(aggregate_id, events)
}

/// Checks every auction in `aggregate_ids`, at most `concurrency` at a time (at least one), and
/// answers one report per auction in the order given. An auction with no events left is
/// reported as missing version 1.
pub async fn verify_all<L: EventLog>(
    log: &L,
    aggregate_ids: &[AuctionId],
    concurrency: usize,
) -> Result<Vec<Report>, AuditError> {
    Ok(generic::verify_all::<AuctionEvent, L>(log, aggregate_ids, concurrency).await?)
}
