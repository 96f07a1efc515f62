//! What can go wrong in live updates, by what the caller does about it.

use auction_events::AuctionId;
use event_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The client sent something that is not a message of the protocol: answer it with an
    /// `error` message (`INVALID_MESSAGE`) and keep the connection.
    #[error("not a message of the protocol: {0}")]
    InvalidMessage(String),

    /// The connection already watches [`crate::MAX_SUBSCRIPTIONS`] auctions: answer with an
    /// `error` message (`TOO_MANY_SUBSCRIPTIONS`).
    #[error("a connection watches at most {0} auctions")]
    TooManySubscriptions(usize),

    /// The connections table could not be read or written: a session answers 503 (or an
    /// `error` message, `UNAVAILABLE`); the broadcaster fails the record so that it is retried.
    #[error("the connections table failed: {0}")]
    Subscriptions(String),

    /// The event log could not be read: the broadcaster fails the record (retried).
    #[error("reading the log failed")]
    Store(#[from] StoreError),

    /// The log ends before the record's version (a replica lagging behind the stream): retried.
    #[error("auction {aggregate_id}: the log does not reach version {version} yet")]
    IncompleteHistory {
        aggregate_id: AuctionId,
        version: u64,
    },

    /// Every record of a batch failed on an outage: the invocation fails as a whole, and Lambda
    /// (or the local runner) retries it.
    #[error("every record failed; the first: {0}")]
    BatchFailed(String),
}
