//! The ports the handler sends through, each named for one capability.

use std::future::Future;

use crate::error::PublishError;
use crate::message::QueueMessage;

/// Why SQS did not take one message of a request it otherwise accepted (a `Failed` entry of
/// SendMessageBatch's response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    pub code: String,
    pub message: Option<String>,
    /// SQS's verdict: `true` means this message will never be accepted as it is.
    pub sender_fault: bool,
}

impl std::fmt::Display for EntryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = if self.sender_fault { "sender" } else { "SQS" };
        write!(f, "{} ({side}'s fault)", self.code)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

/// Sends batches of messages to FIFO queues.
pub trait QueueSender: Send + Sync {
    /// Sends `messages` in order, as one request, to the queue at `queue_url`. A batch holds at
    /// most [`crate::MAX_BATCH_ENTRIES`] messages of at most [`crate::MAX_BATCH_BYTES`] together
    /// (SQS refuses a larger request as a whole).
    ///
    /// `Ok` holds one result per message, in the order given: some may have failed while the
    /// others were sent. `Err` ([`PublishError::SendFailed`]) means the request failed as a
    /// whole and none was sent.
    fn send_batch(
        &self,
        queue_url: &str,
        messages: &[QueueMessage],
    ) -> impl Future<Output = Result<Vec<Result<(), EntryFailure>>, PublishError>> + Send;
}

/// Finds a queue's URL by its name (SQS's GetQueueUrl), for configurations that name queues
/// instead of giving their URLs.
pub trait QueueDirectory: Send + Sync {
    /// The URL of the queue named `name`; the error is the reason, for the start-up message.
    fn queue_url(&self, name: &str) -> impl Future<Output = Result<String, String>> + Send;
}
