//! Audits of the Items' ownership ledger: the event store's generic time travel and tamper
//! check for the Item aggregate (its streams share the Events table with the auctions'),
//! answering [`AuditError`]s that name items.

use domain::item::ItemState;
use event_store::history::{self, AsOf};
use event_store::verify as generic;
use event_store::{EventLog, HistoryError, StoredEvent};
use events::{ItemEvent, ItemId};

use crate::error::AuditError;

/// The verdict on one item's stream.
pub type ItemReport = generic::Report<ItemId>;

/// One event of an item's history and the item's state right after it.
pub type ItemStep = history::Step<ItemState>;

/// An item's state at a point of its history, and the version it stands at.
pub type ItemStateAt = history::StateAt<ItemState>;

/// The generic history's errors, naming the item.
fn item_error(error: HistoryError) -> AuditError {
    match error {
        HistoryError::NotFound(id) => AuditError::ItemNotFound(ItemId(id)),
        HistoryError::VersionOutOfRange {
            aggregate_id,
            requested,
            head,
        } => AuditError::ItemVersionOutOfRange {
            item_id: ItemId(aggregate_id),
            requested,
            head,
        },
        other => AuditError::from(other),
    }
}

/// Every event of the item with its state after it, in version order.
pub async fn item_history<L: EventLog>(
    log: &L,
    item_id: ItemId,
) -> Result<Vec<ItemStep>, AuditError> {
    history::history::<ItemState, L>(log, item_id)
        .await
        .map_err(item_error)
}

/// The fold of the prefix of the item's history that `as_of` names.
pub async fn item_state_at<L: EventLog>(
    log: &L,
    item_id: ItemId,
    as_of: AsOf,
) -> Result<ItemStateAt, AuditError> {
    history::state_as_of::<ItemState, L>(log, item_id, as_of)
        .await
        .map_err(item_error)
}

/// Every stored event of the item as stored (not upcast), in version order; none at all is
/// [`AuditError::ItemNotFound`].
pub async fn item_history_events<L: EventLog>(
    log: &L,
    item_id: ItemId,
) -> Result<Vec<StoredEvent>, AuditError> {
    history::history_events(log, item_id)
        .await
        .map_err(item_error)
}

/// Checks one item's whole stream.
pub async fn verify_item<L: EventLog>(log: &L, item_id: ItemId) -> Result<ItemReport, AuditError> {
    generic::verify::<ItemEvent, L>(log, item_id)
        .await
        .map_err(item_error)
}

/// Checks every item in `item_ids`, at most `concurrency` at a time (at least one), one report
/// per item in the order given; an item with no events left is reported as missing version 1.
pub async fn verify_items<L: EventLog>(
    log: &L,
    item_ids: &[ItemId],
    concurrency: usize,
) -> Result<Vec<ItemReport>, AuditError> {
    generic::verify_all::<ItemEvent, L>(log, item_ids, concurrency)
        .await
        .map_err(item_error)
}
