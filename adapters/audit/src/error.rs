use event_store::{HistoryError, StoreError};
use events::{AuctionId, ItemId};
use thiserror::Error;

/// Why an audit could not answer. A tampered log is not an error: it is a [`crate::Report`].
#[derive(Debug, Error)]
pub enum AuditError {
    /// The log holds no event of this auction. (tell the caller: 404, exit code 2)
    #[error("auction {0} has no events")]
    AuctionNotFound(AuctionId),
    /// A version before 1 or after the auction's last event was asked for. (bad input: 400,
    /// exit code 2; the detail names the valid range)
    #[error("version {requested} is out of range: auction {aggregate_id} has versions 1 to {head}")]
    VersionOutOfRange {
        aggregate_id: AuctionId,
        requested: u64,
        head: u64,
    },
    /// The log holds no event of this item: it was never registered (an auction created
    /// before the Items' ledger has none until its first sale). (exit code 2)
    #[error("item {0} has no events")]
    ItemNotFound(ItemId),
    /// A version before 1 or after the item's last event was asked for. (bad input, exit code
    /// 2; the detail names the valid range)
    #[error("version {requested} is out of range: item {item_id} has versions 1 to {head}")]
    ItemVersionOutOfRange {
        item_id: ItemId,
        requested: u64,
        head: u64,
    },
    /// A time range whose start is after its end. (bad input: fix the range)
    #[error("the time range is empty: {from} is after {to}")]
    EmptyRange { from: String, to: String },
    /// A line of an export is not a stored event envelope. (bad input: the line number says
    /// which; nothing is imported)
    #[error("line {line} is not an exported event: {reason}")]
    MalformedLine { line: usize, reason: String },
    /// The log could not be read, or a stored event could not be decoded; see [`StoreError`]
    /// (transient failures may be retried; `Corrupt` means run `verify`).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A rebuild's target table exists already, or is a live one. (bad input: name fresh
    /// tables; nothing was written)
    #[error("the rebuild's target is not fresh: {0}")]
    TargetExists(String),
    /// The views could not be read, written or switched; see [`read_models::ProjectorError`]
    /// (`AliasMoved`: another rebuild switched first; transient ones may be retried).
    #[error(transparent)]
    Views(#[from] read_models::ProjectorError),
    /// The subjects' key store (its table or KMS) failed revealing an export's pseudonyms.
    /// (exit 3; retry)
    #[error("the subjects' key store failed: {0}")]
    Keys(String),
    /// A rebuild could not go on: a table never became active, the Events table has no
    /// stream, writes kept being left unprocessed. (exit 3; the fresh tables are left for
    /// inspection and the live ones are untouched)
    #[error("the rebuild stopped: {0}")]
    Rebuild(String),
}

impl AuditError {
    /// Whether the caller asked for something that does not exist or makes no sense, rather
    /// than the log or the store failing.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::AuctionNotFound(_)
                | Self::VersionOutOfRange { .. }
                | Self::ItemNotFound(_)
                | Self::ItemVersionOutOfRange { .. }
                | Self::EmptyRange { .. }
                | Self::MalformedLine { .. }
                | Self::TargetExists(_)
        )
    }
}

/// The event store's generic time travel, verification and export answer [`HistoryError`]s; an
/// audit names the auction.
impl From<HistoryError> for AuditError {
    fn from(error: HistoryError) -> Self {
        match error {
            HistoryError::NotFound(id) => Self::AuctionNotFound(AuctionId::from(id)),
            HistoryError::VersionOutOfRange {
                aggregate_id,
                requested,
                head,
            } => Self::VersionOutOfRange {
                aggregate_id: AuctionId::from(aggregate_id),
                requested,
                head,
            },
            HistoryError::EmptyRange { from, to } => Self::EmptyRange { from, to },
            HistoryError::MalformedLine { line, reason } => Self::MalformedLine { line, reason },
            HistoryError::Store(error) => Self::Store(error),
        }
    }
}
