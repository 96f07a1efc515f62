//! The notary's one error type.

/// What went wrong anchoring the log or proving an event.
#[derive(Debug, thiserror::Error)]
pub enum NotaryError {
    /// DynamoDB, S3 or KMS failed or refused. The digester's run fails and the next run (or
    /// Lambda's retry of the scheduled event) starts over; a proof request answers 503.
    #[error("{service} failed: {detail}")]
    Unavailable {
        service: &'static str,
        detail: String,
    },
    /// Another digester wrote this sequence first. Nothing to repair: the next run continues
    /// after it.
    #[error("digest {sequence} was written by another run")]
    Raced { sequence: u64 },
    /// A stored digest or tree does not read as the format says, or its leaves do not hash to
    /// its root: the archive holds something this code did not write. Alarm; never repaired
    /// silently, since the archive cannot be rewritten.
    #[error("the archive's {key} is unreadable: {detail}")]
    Corrupt { key: String, detail: String },
    /// No digest has been written yet, or not the one asked for. A proof request answers 404.
    #[error("no digest {0}")]
    NoDigest(String),
    /// The stream is not in the digest (it began after it). A proof request answers 404.
    #[error("{aggregate_type} {aggregate_id} is not in digest {sequence}")]
    NotInDigest {
        aggregate_type: String,
        aggregate_id: uuid::Uuid,
        sequence: u64,
    },
    /// The event came after the digest: the stream's head in it is `head`. A proof request
    /// answers 409 with that head; a later digest will hold it.
    #[error(
        "version {version} came after digest {sequence}, which holds the stream up to version {head}"
    )]
    NotYetDigested {
        version: u64,
        head: u64,
        sequence: u64,
    },
    /// The event store failed reading the stream. A proof request answers 503.
    #[error(transparent)]
    Store(#[from] event_store::StoreError),
}

impl NotaryError {
    pub(crate) fn unavailable(service: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            service,
            detail: error.to_string(),
        }
    }
}
