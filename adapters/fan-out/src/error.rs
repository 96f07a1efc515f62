use thiserror::Error;

/// What can go wrong in the publisher. Each variant says how the caller handles it.
#[derive(Debug, Error)]
pub enum PublishError {
    /// A queue has no URL: its URL variable is unset and its name could not be looked up. Only at
    /// start-up; the Lambda main exits with this message (set the variable, or create the queue).
    #[error(
        "no URL for the {queue} queue: {url_env} is unset and looking up the queue named \
         {name:?} ({name_env}, or its default) failed: {reason}"
    )]
    QueueUnresolved {
        queue: crate::Queue,
        url_env: &'static str,
        name_env: &'static str,
        name: String,
        reason: String,
    },
    /// A SendMessageBatch request failed as a whole (unreachable, throttled past the SDK's
    /// retries, access denied, a missing queue): none of its messages was sent. The handler
    /// fails the records of that request; when nothing at all could be sent it returns this
    /// error, so that Lambda retries the whole batch and counts a function error.
    #[error("sending to {queue_url} failed: {reason}")]
    SendFailed { queue_url: String, reason: String },
}
