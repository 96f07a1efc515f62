use event_store::StoreError;
use events::{AuctionId, DecodeError};
use thiserror::Error;

/// Everything that can go wrong in the notifier and its inbox. Each variant says how the caller
/// handles it: the SQS handler reports the message as a batch item failure (retried, then moved
/// to the DLQ after the queue's 3 receives); the API maps the read-side variants to a status.
#[derive(Debug, Error)]
pub enum NotifierError {
    /// The message body is not a readable event. Poison: reported failed, it reaches the DLQ
    /// after 3 receives; other message groups go on.
    #[error("message {message_id} is not a readable event: {reason}")]
    Undecodable { message_id: String, reason: String },
    /// A message of the batch has no message id, so it cannot be reported on its own. The
    /// handler returns this error and Lambda retries the whole batch.
    #[error("a message of the batch has no message id")]
    MissingMessageId,
    /// The event store could not give the auction's history. Reported failed and retried
    /// ([`StoreError::is_transient`] says whether a retry may help).
    #[error("reading the history of the auction failed: {0}")]
    History(#[from] StoreError),
    /// The log does not hold every event up to the one being notified (or no AuctionCreated):
    /// the message ran ahead of the log or the log is damaged. Reported failed; after 3
    /// receives a human looks at the DLQ.
    #[error("auction {aggregate_id} has no complete history up to version {version}")]
    IncompleteHistory {
        aggregate_id: AuctionId,
        version: u64,
    },
    /// Some of an event's notifications could not be stored (`first` says why); the others
    /// were. The handler reports the message failed; its redelivery writes every notification
    /// again, and only the missing ones are stored (the writes are conditional on their ids).
    #[error("{failed} of {recipients} notifications were not stored; the first: {first}")]
    Undelivered {
        failed: usize,
        recipients: usize,
        first: Box<NotifierError>,
    },
    /// A notification was stored but its email could not be sent (the preferences, the link's
    /// key or the mail service failed). The handler reports the message failed; its
    /// redelivery finds the notification stored and sends the email that is missing.
    #[error("the notification's email was not sent: {0}")]
    Unmailed(String),
    /// The Notifications table was throttled or unreachable. (handler: reported failed and
    /// retried; API: 503)
    #[error("the notifications table is unavailable: {0}")]
    Unavailable(String),
    /// DynamoDB refused the request as invalid: a missing table or a code bug. (handler:
    /// reported failed; API: 500)
    #[error("the notifications table refused the request: {0}")]
    Refused(String),
    /// A stored notification is not readable: the table was written by something else. (API: 500)
    #[error("a stored notification is unreadable: {0}")]
    CorruptItem(String),
    /// The page cursor was not issued by this inbox for this user: malformed or tampered with.
    /// (API: 400)
    #[error("the cursor is not valid for this listing")]
    InvalidCursor,
    /// A page size outside 1..=100. (API: 400)
    #[error("a page holds 1 to {max} notifications, not {limit}")]
    InvalidLimit { limit: u32, max: u32 },
}

/// An AWS call's failure: worth retrying, or refused for good.
impl From<conventions::Failure> for NotifierError {
    fn from(failure: conventions::Failure) -> Self {
        failure.sort(Self::Unavailable, Self::Refused)
    }
}

impl NotifierError {
    pub fn undecodable(message_id: &str, error: &DecodeError) -> Self {
        Self::Undecodable {
            message_id: message_id.to_owned(),
            reason: error.to_string(),
        }
    }

    /// Whether the API should answer 400 (the request is wrong) rather than 5xx.
    pub fn is_bad_request(&self) -> bool {
        matches!(self, Self::InvalidCursor | Self::InvalidLimit { .. })
    }
}
