//! Which tables the views are in, as the environment names them. Both the alias (which may
//! name others) and the DynamoDB adapter read this; it reads neither.

use conventions::names;

/// The tables the views live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewTables {
    pub auction_views: String,
    pub user_bids: String,
}

impl ViewTables {
    /// From `AUCTION_VIEWS_TABLE` and `USER_BIDS_TABLE`, or their defaults.
    pub fn from_env() -> Self {
        Self {
            auction_views: names::AUCTION_VIEWS_TABLE.from_env(),
            user_bids: names::USER_BIDS_TABLE.from_env(),
        }
    }
}

/// The event store's tables (the log that gaps are filled from), from `EVENTS_TABLE`,
/// `SNAPSHOTS_TABLE` and `IDEMPOTENCY_TABLE`, with the same defaults as every other binary.
pub fn event_tables_from_env() -> event_store::TableNames {
    event_store::TableNames::from_env()
}
