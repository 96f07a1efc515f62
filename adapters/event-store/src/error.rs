use thiserror::Error;
use uuid::Uuid;

use crate::stored::StoredEvent;

/// Why a command did not take effect: the aggregate's decision refused it (`R` is the
/// aggregate's own rejection, e.g. the Auction's `Rejection`), or the store failed.
///
/// Split from [`StoreError`] so that the store needs no aggregate's types: every port answers
/// a plain `StoreError`, and only [`crate::execute`] adds the decision's refusal. `?` turns a
/// `StoreError` into a `CommandError`; callers that answer both map each variant.
#[derive(Debug, Error)]
pub enum CommandError<R> {
    /// The decision refused the command; nothing was written. (4xx, by the rejection)
    #[error("rejected: {0}")]
    Rejected(R),
    /// The store could not run it; see [`StoreError`].
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<R> CommandError<R> {
    /// Whether retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(error) if error.is_transient())
    }

    /// The rejection, if the decision refused the command.
    pub fn rejection(&self) -> Option<&R> {
        match self {
            Self::Rejected(rejection) => Some(rejection),
            Self::Store(_) => None,
        }
    }
}

/// Everything that can go wrong between the log and a command, whatever the aggregate. Each
/// variant says how the caller handles it; over HTTP that is the status in brackets.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Another writer appended this version first. [`crate::execute`] handles it by reloading the
    /// tail and deciding again; callers of [`crate::EventLog::append`] must do the same.
    #[error("version {version} of aggregate {aggregate_id} was appended by another writer")]
    VersionTaken {
        aggregate_id: Uuid,
        version: u64,
        /// The event that holds the version, when the store could return it.
        existing: Option<Box<StoredEvent>>,
    },
    /// Lost the race for the same aggregate on every allowed attempt. (409: retry the request)
    #[error("aggregate {aggregate_id} is too busy: gave up after {attempts} conflicting attempts")]
    TooManyConflicts { aggregate_id: Uuid, attempts: u32 },
    /// DynamoDB throttled the request, or a concurrent transaction touched the same items.
    /// Retried with backoff inside the store; surfaces only when retries ran out. (503, retry)
    #[error("throttled or contended: {0}")]
    Contention(String),
    /// DynamoDB could not be reached or failed internally. (503, retry later)
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    /// An item would exceed DynamoDB's item size limit; nothing was written. (422)
    #[error("event version {version} would be {size} bytes, above the {limit}-byte item limit")]
    ItemTooLarge {
        version: u64,
        size: usize,
        limit: usize,
    },
    /// More events than one atomic commit can hold; nothing was written. (500: a decision bug)
    #[error("a commit holds at most {max} events, not {count}")]
    TooManyEvents { count: usize, max: usize },
    /// The idempotency key was already used for a different command. (422: use a new key)
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// A stored item is not a readable event: the log is damaged or was tampered with.
    /// (500; run the verifier, alert a human)
    #[error("aggregate {aggregate_id} version {version} is unreadable: {reason}")]
    Corrupt {
        aggregate_id: Uuid,
        version: u64,
        reason: String,
    },
    /// The id names a stream of another aggregate type (an item's id where an auction's was
    /// expected). For a reader this aggregate does not exist (404); nothing is written to it.
    #[error("{aggregate_id} is not a stream of this aggregate type but of {aggregate_type}")]
    OtherAggregate {
        aggregate_id: Uuid,
        aggregate_type: String,
    },
    /// DynamoDB refused the request as invalid (a missing table, a bad expression). (500: a
    /// deployment or code bug; do not retry)
    #[error("the event store refused the request: {0}")]
    Refused(String),
}

impl StoreError {
    /// Whether retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Contention(_) | Self::Unavailable(_) | Self::TooManyConflicts { .. }
        )
    }
}
