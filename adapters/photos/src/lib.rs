//! Sellers' item photos, at most [`MAX_PHOTOS_PER_AUCTION`] per auction, uploaded by the
//! browser straight to S3 and thumbnailed when they land:
//!
//! - [`limits`]: every limit in one place (count, bytes, content types, pixels, thumbnail box);
//! - [`grant()`]: an upload grant, a presigned POST whose policy binds the key
//!   (`originals/<auctionId>/<photoId>`), the declared content type and the declared size, so
//!   that S3 refuses any other upload; it expires in five minutes;
//! - [`thumbnail()`]: the pure function from an original's bytes to its thumbnail (a JPEG that
//!   fits in 480 x 480) or a [`Refusal`]: not an image, a type other than declared, too large,
//!   too many pixels (a decompression bomb, refused from the header before decoding), corrupt;
//! - [`make_thumbnail`]: the step a Lambda on the bucket's object-created event runs, over the
//!   ports ([`Grants`], [`Originals`], [`Thumbnails`], [`Refusals`]); a refused original is
//!   deleted, so that nothing of it is kept, and its refusal recorded;
//! - [`S3Photos`], the adapter over one bucket, and its in-memory twin [`InMemoryPhotos`];
//! - [`thumbnail_uploads`]: the thumbnailer Lambda's handler over a batch of the photo uploads
//!   queue (S3's notifications).
//!
//! The thumbnails (the image decoders and the Lambda's handler) are the cargo feature
//! `thumbnails`, on by default: the API, which only grants uploads and reads what became of
//! them, builds without the decoders.
//!
//! Depends on the event contract (auction ids), the conventions (AWS failures) and the AWS SDK.
//! Must not depend on any function crate: the API grants uploads and a Lambda makes thumbnails,
//! both through this crate.

mod error;
mod grant;
mod keys;
pub mod limits;
mod memory;
mod ports;
mod s3;
#[cfg(feature = "thumbnails")]
mod step;
/// What tests of photos start from (cargo feature `testing`).
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "thumbnails")]
mod thumbnail;
#[cfg(feature = "thumbnails")]
mod uploads;

pub use error::{PhotoError, Refusal};
pub use grant::{Grant, Signing, Upload, grant};
pub use keys::{Photo, PhotoId, thumbnails_prefix};
pub use limits::MAX_PHOTOS_PER_AUCTION;
pub use limits::is_accepted;
pub use memory::{InMemoryPhotos, StoredObject};
pub use ports::{Grants, Head, Originals, Refusals, Thumbnails};
pub use s3::S3Photos;
#[cfg(feature = "thumbnails")]
pub use step::{Thumbnailed, make_thumbnail};
#[cfg(feature = "thumbnails")]
pub use thumbnail::thumbnail;
#[cfg(feature = "thumbnails")]
pub use uploads::{object_keys, thumbnail_uploads};
