//! Everything that can go wrong with email notices, in one enum.

use thiserror::Error;

/// Why a notice was not sent or a preference not read or changed. Each variant says how the
/// caller handles it; for the API that is the status in brackets, for the notifier whether the
/// message is retried. A failed change changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    /// DynamoDB, KMS or SES throttled the request or could not be reached. (503; the notifier
    /// fails the message, and its redelivery sends what is missing)
    #[error("email notices are unavailable: {0}")]
    Unavailable(String),
    /// A service refused the request as invalid (a missing table or key, an unverified sender).
    /// (500: a deployment or code bug; the notifier fails the message until it is fixed, then
    /// the message is parked and replayed)
    #[error("a service refused the email notice's request: {0}")]
    Refused(String),
    /// A stored item is not readable by this code. (500: a bug or a hand-edited item)
    #[error("an email notices item is unreadable: {0}")]
    Corrupt(String),
    /// The address is not one an email can go to. (400: ask for another; nothing is stored)
    #[error("not an email address: {0}")]
    InvalidAddress(String),
}

/// An AWS call's failure: worth retrying, or refused for good.
impl From<conventions::Failure> for EmailError {
    fn from(failure: conventions::Failure) -> Self {
        failure.sort(Self::Unavailable, Self::Refused)
    }
}
