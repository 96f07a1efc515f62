//! A parked item and the port of the table that keeps them.

use std::future::Future;

use chrono::{DateTime, Utc};
use events::AuctionId;
use serde::Serialize;

use crate::error::ParkingError;

/// A stretch of one aggregate's events that a consumer gave up on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Parked {
    /// The consumer's name ([`crate::Consumer::name`]); kept as text, so that a give-up by a
    /// consumer this build does not know is parked too rather than dropped.
    pub consumer: String,
    pub aggregate_id: AuctionId,
    pub from_version: u64,
    pub to_version: u64,
    /// The event types in the range, in version order, each once.
    pub event_types: Vec<String>,
    /// What the source said about the last failure.
    pub last_error: String,
    /// Invocations (stream) or receives (queue) before the consumer gave up.
    pub attempts: u32,
    /// Replays that failed since: the reconciler stops replaying an item on its own after a
    /// few, leaving it to a person.
    pub failed_replays: u32,
    pub parked_at: DateTime<Utc>,
    /// Where the give-up came from: the shard and sequence numbers, or the DLQ and message id.
    pub origin: String,
}

impl Parked {
    /// `{aggregateId}#{from}-{to}`, versions zero-padded so that an aggregate's items sort in
    /// version order. The same range parked twice (a redelivered failure record) is one item.
    pub fn parked_id(&self) -> String {
        format!(
            "{}#{:020}-{:020}",
            self.aggregate_id, self.from_version, self.to_version
        )
    }
}

/// The table of parked items.
pub trait ParkedItems: Send + Sync {
    /// Keeps `item`, replacing one with the same consumer and id.
    fn put(&self, item: &Parked) -> impl Future<Output = Result<(), ParkingError>> + Send;

    /// Every parked item, or those of one consumer, ordered by consumer and id.
    fn list(
        &self,
        consumer: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Parked>, ParkingError>> + Send;

    fn get(
        &self,
        consumer: &str,
        parked_id: &str,
    ) -> impl Future<Output = Result<Option<Parked>, ParkingError>> + Send;

    /// Removes the item; `false` when there was none.
    fn remove(
        &self,
        consumer: &str,
        parked_id: &str,
    ) -> impl Future<Output = Result<bool, ParkingError>> + Send;
}
