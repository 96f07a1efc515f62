//! What can go wrong while parking, replaying or redriving.

use thiserror::Error;

/// Why parking, a replay or a redrive did not happen. Each variant says how the caller handles
/// it.
#[derive(Debug, Error)]
pub enum ParkingError {
    /// No consumer has this name. (bad input: list the consumers, `auction-admin parked list`)
    #[error(
        "no consumer is called {0:?}; consumers: projector, publisher, broadcaster, notifier, payment-saga"
    )]
    UnknownConsumer(String),
    /// No parked item has this consumer and id. (bad input; or it was replayed or discarded
    /// meanwhile: list again)
    #[error("nothing is parked for {consumer} under {parked_id:?}")]
    NotParked { consumer: String, parked_id: String },
    /// A request is not well formed (an empty reason, a bad id). (bad input: fix and retry)
    #[error("{0}")]
    BadInput(String),
    /// The message or failure record is not one the parker understands. (the parker reports it
    /// failed, so it stays in its queue, whose age alarm calls a human; never dropped)
    #[error("cannot park message {message_id}: {reason}")]
    Unparkable { message_id: String, reason: String },
    /// The log no longer holds every event a parked item names. (a tampered log: run
    /// `auction-admin verify`; the item stays parked)
    #[error("the log lacks events {from}..={to} of {aggregate_id}: it returned {found}")]
    MissingEvents {
        aggregate_id: String,
        from: u64,
        to: u64,
        found: usize,
    },
    /// The consumer failed again on the redelivered events. (the item stays parked with this
    /// error as its last; fix the cause and replay again)
    #[error("{consumer} failed on the redelivered events: {reason}")]
    ConsumerFailed { consumer: String, reason: String },
    /// This process cannot deliver to this consumer (e.g. no live endpoint configured for the
    /// broadcaster). (configure it, or discard the item with a reason)
    #[error("cannot deliver to {consumer} here: {reason}")]
    Unreachable { consumer: String, reason: String },
    /// DynamoDB, DynamoDB Streams or SQS failed or refused a request. (transient ones: retry
    /// the command; the parker's message is redelivered by its queue)
    #[error("{operation} failed: {reason}")]
    Aws { operation: String, reason: String },
    /// The event store failed reading the log. (retry; see the store error)
    #[error(transparent)]
    Store(#[from] event_store::StoreError),
}

impl ParkingError {
    /// Whether the caller should change its request rather than retry it.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::UnknownConsumer(_) | Self::NotParked { .. } | Self::BadInput(_)
        )
    }

    pub(crate) fn aws<E: std::error::Error>(operation: &str, target: &str, error: E) -> Self {
        Self::Aws {
            operation: format!("{operation} {target}"),
            reason: aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string(),
        }
    }
}
