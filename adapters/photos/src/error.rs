//! Everything that can go wrong with a photo, in one enum, and the refusals it carries.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a photo was not granted, thumbnailed or stored. Each variant says how the caller
/// handles it; for the API that is the status in brackets.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhotoError {
    /// The upload (declared or as it arrived) is not one the platform keeps. From the grant:
    /// nothing was signed (422 with the refusal's message). From the thumbnailing step: the
    /// original is deleted and the refusal recorded; the caller shows it to the seller and
    /// does not retry.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The key of an object-created notification is not an original's. The thumbnailing step
    /// ignores it (a misconfigured notification filter: log it, do not retry).
    #[error("{0} is not an original photo's key")]
    NotAnOriginal(String),
    /// Neither the original nor anything it became is there: deleted by other means before the
    /// step ran. Nothing to do; do not retry.
    #[error("photo {0} is gone")]
    Gone(String),
    /// S3 (or the credentials it is signed with) throttled the request or could not be reached.
    /// (503: retry shortly; the thumbnailing step fails the invocation so that Lambda retries)
    #[error("photo storage is unavailable: {0}")]
    Unavailable(String),
    /// S3 refused the request as invalid (a missing bucket, a denied action), or a credential
    /// cannot sign. (500: a deployment or code bug)
    #[error("photo storage refused the request: {0}")]
    Storage(String),
    /// A stored refusal record is not readable by this code. (500: a bug or a hand-edited
    /// object)
    #[error("a stored refusal is unreadable: {0}")]
    Corrupt(String),
}

/// An AWS call's failure: worth retrying, or refused for good.
impl From<conventions::Failure> for PhotoError {
    fn from(failure: conventions::Failure) -> Self {
        failure.sort(Self::Unavailable, Self::Storage)
    }
}

/// Why an upload is refused, in words a seller can act on. Kept (as JSON) after the original is
/// deleted, so the tag and field names are a stored format: add variants, never rename.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(
    tag = "refusal",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Refusal {
    /// The auction has its photos already.
    #[error("an auction can have at most {limit} photos; remove one to add another")]
    TooManyPhotos { limit: usize },
    /// The declared content type is not an accepted one.
    #[error("{declared} is not accepted: upload a JPEG, PNG or WebP image")]
    UnsupportedType { declared: String },
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The file is bigger than an original may be.
    #[error("the file is {size} bytes; a photo can be at most {limit} bytes (10 MiB)")]
    TooLarge { size: u64, limit: u64 },
    /// The file's first bytes are those of no accepted image format (a text file named .png,
    /// a GIF, a PDF).
    #[error("the file is not a JPEG, PNG or WebP image")]
    NotAnImage,
    /// The file is an accepted format, but not the one declared: whatever made the upload lied
    /// or guessed from a file name.
    #[error("the file was declared as {declared} but is {actual}")]
    TypeMismatch { declared: String, actual: String },
    /// The header promises more pixels, or a longer side, than a photo may have: a
    /// decompression bomb, or a panorama too large to show. Refused before decoding.
    #[error(
        "the image is {width} x {height} pixels; a photo can have at most {max_pixels} pixels \
         and {max_side} pixels on a side"
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_side: u32,
    },
    /// The file starts like an image but does not decode (truncated, damaged, or crafted).
    #[error("the image is damaged and cannot be read: {detail}")]
    Corrupt { detail: String },
}

impl Refusal {
    /// The refusal as it is kept in the bucket.
    pub(crate) fn to_stored(&self) -> Result<Vec<u8>, PhotoError> {
        serde_json::to_vec(self).map_err(|e| PhotoError::Corrupt(e.to_string()))
    }

    pub(crate) fn from_stored(bytes: &[u8]) -> Result<Self, PhotoError> {
        serde_json::from_slice(bytes).map_err(|e| PhotoError::Corrupt(e.to_string()))
    }
}
