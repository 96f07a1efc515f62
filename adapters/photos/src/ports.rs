//! The ports, each one capability, and what they answer.

use std::future::Future;

use chrono::{DateTime, Utc};
use events::AuctionId;

use crate::error::{PhotoError, Refusal};
use crate::grant::{Grant, Upload};
use crate::keys::Photo;

/// Signs upload grants with the bucket's credentials.
pub trait Grants: Send + Sync {
    /// A grant for `upload`, the auction having `photos` photos already; refused with
    /// [`PhotoError::Refused`] before anything is signed.
    fn grant(
        &self,
        upload: &Upload,
        photos: usize,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Grant, PhotoError>> + Send;
}

/// An original as stored, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    /// The Content-Type the upload was stored with (the grant bound it to the declared one).
    pub content_type: String,
}

/// What sellers uploaded.
pub trait Originals: Send + Sync {
    /// The original's size and type, `None` if it is not there.
    fn head(&self, photo: &Photo) -> impl Future<Output = Result<Option<Head>, PhotoError>> + Send;

    /// The original's bytes, `None` if it is not there.
    fn get(
        &self,
        photo: &Photo,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, PhotoError>> + Send;

    /// Deletes the original; deleting one that is not there succeeds.
    fn delete(&self, photo: &Photo) -> impl Future<Output = Result<(), PhotoError>> + Send;
}

/// The thumbnails of accepted photos.
pub trait Thumbnails: Send + Sync {
    /// Writes (or rewrites) the photo's thumbnail.
    fn put(
        &self,
        photo: &Photo,
        jpeg: Vec<u8>,
    ) -> impl Future<Output = Result<(), PhotoError>> + Send;

    /// The photo's thumbnail (a JPEG), `None` if it has none.
    fn get(
        &self,
        photo: &Photo,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, PhotoError>> + Send;

    /// The photos of `auction` that have a thumbnail.
    fn photos(
        &self,
        auction: AuctionId,
    ) -> impl Future<Output = Result<Vec<Photo>, PhotoError>> + Send;
}

/// Why refused photos were refused, kept after their originals are deleted.
pub trait Refusals: Send + Sync {
    fn record(
        &self,
        photo: &Photo,
        refusal: &Refusal,
    ) -> impl Future<Output = Result<(), PhotoError>> + Send;

    /// The photo's refusal, `None` if it was never refused.
    fn find(
        &self,
        photo: &Photo,
    ) -> impl Future<Output = Result<Option<Refusal>, PhotoError>> + Send;
}
