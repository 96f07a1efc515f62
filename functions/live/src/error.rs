//! What can go wrong in live updates, by what the caller does about it.

use event_store::StoreError;
use events::AuctionId;

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
    /// `error` message, `UNAVAILABLE`); the broadcaster reports the message failed so that it is
    /// received again.
    #[error("the connections table failed: {0}")]
    Subscriptions(String),

    /// No watcher of a message's auction could be reached: the management API is out (a single
    /// failing connection never surfaces here). The broadcaster reports the message failed, and
    /// its redelivery pushes the update to every watcher again.
    #[error("no watcher could be reached: {0}")]
    Unreachable(String),

    /// The subjects' key store could not reveal an update's pseudonyms: the broadcaster
    /// reports the message failed (received again) rather than push an update that shows a
    /// bidder as erased who is not.
    #[error("the subjects' key store failed: {0}")]
    Keys(String),

    /// The event log could not be read: the broadcaster reports the message failed (received
    /// again).
    #[error("reading the log failed")]
    Store(#[from] StoreError),

    /// The log ends before the message's version (a replica lagging behind): reported failed and
    /// received again.
    #[error("auction {aggregate_id}: the log does not reach version {version} yet")]
    IncompleteHistory {
        aggregate_id: AuctionId,
        version: u64,
    },

    /// A live queue message is not a readable event (no body, not an envelope, an event type
    /// this build does not know). Poison for this build: reported failed, never dropped; after
    /// the queue's receives it reaches the DLQ, where the parker parks it for a replay.
    #[error("message {message_id} is not a readable event: {reason}")]
    Undecodable { message_id: String, reason: String },

    /// A message of the batch has no message id, so it cannot be reported on its own: the
    /// handler returns this error and Lambda (or the local runner) retries the whole batch.
    #[error("a message of the batch has no message id")]
    MissingMessageId,

    /// Every message of a batch failed (an outage): the invocation fails as a whole, so that
    /// it counts as a function error, and Lambda (or the local runner) receives the batch again.
    #[error("every message failed; the first: {0}")]
    BatchFailed(String),
}
