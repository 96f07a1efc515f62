//! What a rebuild is asked to do, and what it reports having done.

use std::time::Duration;

use chrono::{DateTime, Utc};
use read_models::ViewTables;

/// How a rebuild runs.
#[derive(Debug, Clone)]
pub struct RebuildOptions {
    /// The fresh tables to create and fill.
    pub target: ViewTables,
    /// Parallel Scan segments.
    pub segments: i32,
    /// BatchWriteItem requests in flight at once.
    pub writers: usize,
    /// Point the views' alias at the fresh tables when they have caught up.
    pub switch: bool,
    /// How long the catch-up keeps running after the switch: longer than
    /// [`read_models::ALIAS_TTL`] plus a projector batch.
    pub grace: Duration,
    /// How long after the stream tail starts the Scan begins: longer than an eventually
    /// consistent read lags behind a write, so every event is in the Scan or in the tail.
    pub lead: Duration,
}

impl RebuildOptions {
    pub fn new(target: ViewTables) -> Self {
        Self {
            target,
            segments: 8,
            writers: 8,
            switch: true,
            grace: read_models::ALIAS_TTL * 3,
            lead: Duration::from_secs(2),
        }
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub target: ViewTables,
    /// The auctions' events read by the Scan (the Items' ledger's, in the same table, are passed
    /// over: no view shows them).
    pub events: u64,
    pub auctions: u64,
    /// Items written by the bulk load (projections and rows).
    pub items: u64,
    /// Auctions read again from the log because the Scan did not deliver them as one run.
    pub reread: u64,
    /// Stream records applied by the catch-up (before and after the switch).
    pub caught_up: u64,
    /// The bulk load alone (Scan, fold and writes).
    pub bulk: Duration,
    pub total: Duration,
    /// The alias generation switched to, if the rebuild switched.
    pub generation: Option<u64>,
}

impl Rebuilt {
    /// Events per second of the bulk load.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.bulk.as_secs_f64().max(f64::EPSILON)
    }
}

/// The default fresh tables: the environment's names with the rebuild's start,
/// `AuctionListView-r20261127T181500`, so that each rebuild gets its own without probing.
pub fn fresh_tables(base: &ViewTables, at: DateTime<Utc>) -> ViewTables {
    let suffix = at.format("-r%Y%m%dT%H%M%S");
    ViewTables {
        auction_views: format!("{}{suffix}", base.auction_views),
        user_bids: format!("{}{suffix}", base.user_bids),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn fresh_tables_carry_the_start_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 18, 15, 0).unwrap();

        let live = ViewTables {
            auction_views: "Views".to_owned(),
            user_bids: "Rows".to_owned(),
        };

        let fresh = fresh_tables(&live, at);

        assert_eq!(fresh.auction_views, "Views-r20261127T181500");
        assert_eq!(fresh.user_bids, "Rows-r20261127T181500");
    }
}
