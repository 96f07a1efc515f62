//! Where a photo's objects live in the bucket, and which photo a key names. Ids only, so a key
//! needs no escaping (S3's event notifications URL-encode keys; these have nothing to encode).

use std::fmt;

use events::AuctionId;
use uuid::Uuid;

/// Identifies one photo of an auction: chosen by the platform when it grants the upload, so
/// that a seller cannot name (and overwrite) another photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhotoId(pub Uuid);

impl PhotoId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for PhotoId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for PhotoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One photo of one auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Photo {
    pub auction: AuctionId,
    pub id: PhotoId,
}

const ORIGINALS: &str = "originals/";
const THUMBNAILS: &str = "thumbnails/";
const REFUSALS: &str = "refusals/";

impl Photo {
    /// What the seller uploaded; the bucket's object-created notification is filtered on this
    /// prefix, so that writing a thumbnail never triggers the step again.
    pub fn original_key(&self) -> String {
        format!("{ORIGINALS}{}/{}", self.auction, self.id)
    }

    pub fn thumbnail_key(&self) -> String {
        format!("{THUMBNAILS}{}/{}.jpg", self.auction, self.id)
    }

    /// Why the original was refused, kept after the original is deleted so that the step run
    /// again on the same key answers the same.
    pub fn refusal_key(&self) -> String {
        format!("{REFUSALS}{}/{}.json", self.auction, self.id)
    }

    /// The photo an original's key names; `None` for any other key.
    pub fn from_original_key(key: &str) -> Option<Self> {
        let (auction, id) = key.strip_prefix(ORIGINALS)?.split_once('/')?;
        // Parsing, then comparing with the canonical spelling, refuses uppercase, braces and
        // any other form of the same uuid: one photo, one key.
        let photo = Self {
            auction: AuctionId(Uuid::parse_str(auction).ok()?),
            id: PhotoId(Uuid::parse_str(id).ok()?),
        };
        (photo.original_key() == key).then_some(photo)
    }
}

/// The prefix under which an auction's thumbnails live: one per accepted photo.
pub fn thumbnails_prefix(auction: AuctionId) -> String {
    format!("{THUMBNAILS}{auction}/")
}

/// The photo a thumbnail's key names, within an auction's listing.
pub(crate) fn photo_of_thumbnail(key: &str) -> Option<Photo> {
    let (auction, file) = key.strip_prefix(THUMBNAILS)?.split_once('/')?;
    let id = file.strip_suffix(".jpg")?;
    let photo = Photo {
        auction: AuctionId(Uuid::parse_str(auction).ok()?),
        id: PhotoId(Uuid::parse_str(id).ok()?),
    };
    (photo.thumbnail_key() == key).then_some(photo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo() -> Photo {
        Photo {
            auction: AuctionId(Uuid::from_u128(0xabcd)),
            id: PhotoId(Uuid::from_u128(0xef01)),
        }
    }

    #[test]
    fn an_original_key_names_its_photo_and_no_other_key_does() {
        // Given a photo
        let photo = photo();

        // When its keys are read back
        let original = Photo::from_original_key(&photo.original_key());
        let thumbnail = photo_of_thumbnail(&photo.thumbnail_key());

        // Then they name it, and keys of another shape name nothing
        assert_eq!(original, Some(photo));
        assert_eq!(thumbnail, Some(photo));
        for other in [
            photo.thumbnail_key(),
            photo.refusal_key(),
            format!("{}/extra", photo.original_key()),
            photo
                .original_key()
                .to_uppercase()
                .replace("ORIGINALS", "originals"),
            "originals/not-a-uuid/also-not".to_owned(),
        ] {
            assert_eq!(Photo::from_original_key(&other), None, "{other}");
        }
    }
}
