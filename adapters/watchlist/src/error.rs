//! Everything that can go wrong with a watchlist, in one enum.

use thiserror::Error;

/// Why a watchlist was not read or changed. Each variant says how the caller handles it; for
/// the API that is the status in brackets. A failed change changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WatchlistError {
    /// The cursor is not one a listing handed out. (400: start again without one)
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// DynamoDB throttled the request or could not be reached. (503: retry shortly)
    #[error("the watchlist is unavailable: {0}")]
    Unavailable(String),
    /// DynamoDB refused the request as invalid (a missing table, a bad expression). (500: a
    /// deployment or code bug)
    #[error("the watchlist store refused the request: {0}")]
    Refused(String),
    /// A stored item is not readable by this code. (500: a bug or a hand-edited item)
    #[error("a watchlist item is unreadable: {0}")]
    Corrupt(String),
}

/// An AWS call's failure: worth retrying, or refused for good.
impl From<conventions::Failure> for WatchlistError {
    fn from(failure: conventions::Failure) -> Self {
        failure.sort(Self::Unavailable, Self::Refused)
    }
}
