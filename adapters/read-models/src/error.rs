use event_store::StoreError;
use events::AuctionId;
use thiserror::Error;

/// Everything that can go wrong projecting events or reading the views. Each variant says how
/// the caller handles it; for the API that is the status in brackets.
#[derive(Debug, Error)]
pub enum ProjectorError {
    /// The cursor is not one this service handed out for this query (garbled, edited, or from
    /// another listing). (400: start again without a cursor)
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// A page size outside 1..=100. (400)
    #[error("limit must be between 1 and {max}, not {given}")]
    InvalidLimit { given: u32, max: u32 },
    /// DynamoDB throttled the request or could not be reached. (503; the handler reports the
    /// record as failed, and Lambda retries it)
    #[error("the read models are unavailable: {0}")]
    Unavailable(String),
    /// DynamoDB refused the request as invalid: a missing table, a bad expression, an item over
    /// the size limit. (500: a deployment or code bug; the record fails until it is fixed)
    #[error("the read model store refused the request: {0}")]
    Refused(String),
    /// A stored view item is not readable by this code. (500: a bug or a hand-edited item; the
    /// record fails until it is fixed)
    #[error("stored view is unreadable: {0}")]
    Corrupt(String),
    /// Reading the missing events of a gap from the log failed. (the record fails; transient
    /// causes are retried by Lambda, a corrupt log stops this auction's projection until a human
    /// repairs it)
    #[error("reading the log to fill a gap failed: {0}")]
    Log(#[from] StoreError),
    /// The log does not hold the events a gap needs: the record arrived before the log could
    /// answer it (it cannot: appends are strongly consistent), or the log lost events. (the
    /// record fails; alert a human if it reaches the on-failure destination)
    #[error("auction {aggregate_id}: the log has {found} of versions {from}..={to}")]
    GapNotFillable {
        aggregate_id: AuctionId,
        from: u64,
        to: u64,
        found: usize,
    },
    /// The views' alias was switched by someone else since it was read. (a rebuild stops
    /// without switching: run it again, or look at who switched)
    #[error("the views' alias is no longer at generation {expected}: another switch happened")]
    AliasMoved { expected: u64 },
}

/// An AWS call's failure: worth retrying, or refused for good.
impl From<conventions::Failure> for ProjectorError {
    fn from(failure: conventions::Failure) -> Self {
        failure.sort(Self::Unavailable, Self::Refused)
    }
}

impl ProjectorError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Log(error) => error.is_transient(),
            _ => false,
        }
    }
}
