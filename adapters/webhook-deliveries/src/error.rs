//! What can go wrong recording a delivery.

use thiserror::Error;

/// Why a delivery could not be recorded or read. Each variant says how the caller handles it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeliveryError {
    /// The table could not be reached, timed out or was throttled. Transient: the webhook
    /// answers 503 and Stripe delivers the event again later.
    #[error("the webhook deliveries are unavailable: {0}")]
    Unavailable(String),
    /// The table refused the request (a missing table, a bad request) or holds an item this
    /// code cannot read. Retrying cannot help: a human looks at the log.
    #[error("the webhook deliveries failed: {0}")]
    Failed(String),
}

impl DeliveryError {
    /// Whether the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// A failed DynamoDB call, sorted by what the caller can do about it.
    pub(crate) fn from_dynamodb<E, R>(
        operation: &str,
        table: &str,
        error: &aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> Self
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        conventions::Failure::of(error).sort(
            |text| Self::Unavailable(format!("{operation} {table}: {text}")),
            |text| Self::Failed(format!("{operation} {table}: {text}")),
        )
    }
}
