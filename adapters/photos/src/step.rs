//! The thumbnailing step, run on each object-created notification under `originals/`: a plain
//! function over the ports, so that the Lambda's handler and the tests run the same code.

use crate::error::{PhotoError, Refusal};
use crate::keys::Photo;
use crate::limits::is_accepted;
use crate::limits::{MAX_ORIGINAL_BYTES, MAX_PHOTOS_PER_AUCTION};
use crate::ports::{Originals, Refusals, Thumbnails};
use crate::thumbnail::thumbnail;

/// An accepted photo: its thumbnail is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnailed {
    pub photo: Photo,
    pub thumbnail_key: String,
}

/// Makes the thumbnail of the original at `key`, or refuses it: then the original is deleted
/// (nothing of it is kept), the refusal recorded, and returned as [`PhotoError::Refused`] for
/// the caller to tell the seller.
///
/// Running it again on the same key answers the same: a thumbnail is rewritten with the same
/// bytes, and once an original is refused and gone its recorded refusal is the answer. S3
/// delivers notifications at least once, so this is what makes a duplicate harmless.
pub async fn make_thumbnail(
    originals: &impl Originals,
    thumbnails: &impl Thumbnails,
    refusals: &impl Refusals,
    key: &str,
) -> Result<Thumbnailed, PhotoError> {
    let photo =
        Photo::from_original_key(key).ok_or_else(|| PhotoError::NotAnOriginal(key.to_owned()))?;
    let Some(head) = originals.head(&photo).await? else {
        return settled(thumbnails, refusals, photo).await;
    };
    // The grant bound type and size, but the original is checked as if it had not: a grant is
    // only as good as the policy S3 was given.
    if !is_accepted(&head.content_type) {
        let declared = head.content_type;
        return refuse(
            originals,
            refusals,
            photo,
            Refusal::UnsupportedType { declared },
        )
        .await;
    }
    if head.size > MAX_ORIGINAL_BYTES {
        let refusal = Refusal::TooLarge {
            size: head.size,
            limit: MAX_ORIGINAL_BYTES,
        };
        return refuse(originals, refusals, photo, refusal).await;
    }
    // Grants are counted when asked for, but eight grants can be asked for before any upload
    // lands: the count that holds is the one of thumbnails made.
    let others = thumbnails
        .photos(photo.auction)
        .await?
        .into_iter()
        .filter(|other| *other != photo)
        .count();
    if others >= MAX_PHOTOS_PER_AUCTION {
        let refusal = Refusal::TooManyPhotos {
            limit: MAX_PHOTOS_PER_AUCTION,
        };
        return refuse(originals, refusals, photo, refusal).await;
    }
    let Some(bytes) = originals.get(&photo).await? else {
        return settled(thumbnails, refusals, photo).await;
    };
    match thumbnail(&bytes, &head.content_type) {
        Ok(jpeg) => {
            thumbnails.put(&photo, jpeg).await?;
            Ok(Thumbnailed {
                photo,
                thumbnail_key: photo.thumbnail_key(),
            })
        }
        Err(refusal) => refuse(originals, refusals, photo, refusal).await,
    }
}

/// Refuses the photo: the refusal is recorded before the original is deleted, so that a run
/// that stops in between leaves the original to be refused again, never a photo gone unexplained.
async fn refuse(
    originals: &impl Originals,
    refusals: &impl Refusals,
    photo: Photo,
    refusal: Refusal,
) -> Result<Thumbnailed, PhotoError> {
    refusals.record(&photo, &refusal).await?;
    originals.delete(&photo).await?;
    Err(PhotoError::Refused(refusal))
}

/// What became of a photo whose original is no longer there.
async fn settled(
    thumbnails: &impl Thumbnails,
    refusals: &impl Refusals,
    photo: Photo,
) -> Result<Thumbnailed, PhotoError> {
    if thumbnails.photos(photo.auction).await?.contains(&photo) {
        return Ok(Thumbnailed {
            photo,
            thumbnail_key: photo.thumbnail_key(),
        });
    }
    match refusals.find(&photo).await? {
        Some(refusal) => Err(PhotoError::Refused(refusal)),
        None => Err(PhotoError::Gone(photo.original_key())),
    }
}
