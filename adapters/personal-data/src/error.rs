//! The personal-data crate's one error type.

use crate::key::KeyId;

/// What went wrong sealing, opening or forgetting personal data.
#[derive(Debug, thiserror::Error)]
pub enum PersonalDataError {
    /// DynamoDB or KMS failed or refused. A command fails before anything is appended (503,
    /// retry); a read fails rather than show a subject as erased who is not.
    #[error("{service} failed: {detail}")]
    Unavailable {
        service: &'static str,
        detail: String,
    },
    /// A value sealed under this key does not open with it: the key store or the value was
    /// altered. Alarm; never shown as erased, which would hide the tampering.
    #[error("a value sealed under key {0} does not open with it")]
    Tampered(KeyId),
    /// Encryption itself failed (it does not, for a valid key). A command fails (500).
    #[error("could not seal a value under key {0}")]
    Sealing(KeyId),
    /// An envelope to seal names a subject the caller found no key for: a bug in the caller,
    /// which fails the command before anything is written (500).
    #[error("no key for a subject of the event")]
    NoKey(String),
    /// A pseudonym would not fit where a user id goes. A bug (500): pseudonyms are 44
    /// characters, user ids up to 128.
    #[error("a pseudonym does not fit a user id")]
    NotAUserId,
}

impl PersonalDataError {
    pub(crate) fn unavailable(service: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            service,
            detail: error.to_string(),
        }
    }
}
