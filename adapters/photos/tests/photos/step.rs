//! The thumbnailing step over the in-memory twin: what is kept of an accepted photo and of a
//! refused one, and that running it again answers the same.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeDelta;
use photos::limits::MAX_ORIGINAL_BYTES;
use photos::{
    Grants, Head, InMemoryPhotos, Originals, Photo, PhotoError, Refusal, Thumbnailed, Upload,
    make_thumbnail,
};

use crate::support::{at, jpeg, photo, png, png_bomb, read_back};

/// Uploads `bytes` as `content_type` through a grant, as the browser does; the original's key.
async fn uploaded(
    photos: &InMemoryPhotos,
    photo: Photo,
    content_type: &str,
    bytes: Vec<u8>,
) -> String {
    let upload = Upload {
        photo,
        content_type: content_type.to_owned(),
        size: bytes.len() as u64,
    };
    let grant = photos.grant(&upload, 0, at()).await.unwrap();
    assert!(photos.upload(&grant, content_type, bytes, at() + TimeDelta::seconds(30)));
    grant.key
}

#[tokio::test]
async fn an_accepted_photo_gets_its_thumbnail_and_keeps_its_original() {
    // Given a JPEG uploaded through a grant
    let photos = InMemoryPhotos::new();
    let photo = photo(1, 2);
    let key = uploaded(&photos, photo, "image/jpeg", jpeg(1600, 1200)).await;

    // When the step runs on its key
    let made = make_thumbnail(&photos, &photos, &photos, &key).await;

    // Then the thumbnail is written beside the original, a 480 x 360 JPEG
    let thumbnail_key = photo.thumbnail_key();
    assert_eq!(
        made,
        Ok(Thumbnailed {
            photo,
            thumbnail_key: thumbnail_key.clone()
        })
    );
    assert_eq!(photos.keys(), [key.clone(), thumbnail_key.clone()]);
    let thumbnail = photos.object(&thumbnail_key).unwrap();
    assert_eq!(thumbnail.content_type, "image/jpeg");
    assert_eq!(
        read_back(&thumbnail.bytes),
        (image::ImageFormat::Jpeg, 480, 360)
    );

    // And running it again answers the same and leaves the same objects
    assert_eq!(make_thumbnail(&photos, &photos, &photos, &key).await, made);
    assert_eq!(photos.object(&thumbnail_key).unwrap(), thumbnail);
    assert_eq!(photos.keys(), [key, thumbnail_key]);
}

#[tokio::test]
async fn a_refused_original_is_deleted_and_its_refusal_kept() {
    // Given a text file uploaded as image/png (the grant binds the declared type, not the
    // bytes)
    let photos = InMemoryPhotos::new();
    let photo = photo(1, 3);
    let key = uploaded(&photos, photo, "image/png", b"not a picture".to_vec()).await;

    // When the step runs on its key
    let refused = make_thumbnail(&photos, &photos, &photos, &key).await;

    // Then it is refused, the original is gone, no thumbnail made: only the refusal is kept
    assert_eq!(refused, Err(PhotoError::Refused(Refusal::NotAnImage)));
    assert_eq!(photos.keys(), [photo.refusal_key()]);

    // And running it again gives the same refusal
    assert_eq!(
        make_thumbnail(&photos, &photos, &photos, &key).await,
        refused
    );
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_and_deleted() {
    // Given a 12,000 x 12,000 PNG bomb uploaded through a grant
    let photos = InMemoryPhotos::new();
    let photo = photo(1, 4);
    let key = uploaded(&photos, photo, "image/png", png_bomb(12_000, 12_000)).await;

    // When the step runs
    let refused = make_thumbnail(&photos, &photos, &photos, &key).await;

    // Then it is refused for its pixels and nothing of it is kept
    assert!(
        matches!(
            refused,
            Err(PhotoError::Refused(Refusal::TooManyPixels { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(photos.object(&key), None);
    assert_eq!(photos.object(&photo.thumbnail_key()), None);
}

#[tokio::test]
async fn a_png_declared_as_a_jpeg_is_refused_and_deleted() {
    // Given a PNG uploaded as image/jpeg
    let photos = InMemoryPhotos::new();
    let photo = photo(1, 5);
    let key = uploaded(&photos, photo, "image/jpeg", png(40, 40)).await;

    // When the step runs
    let refused = make_thumbnail(&photos, &photos, &photos, &key).await;

    // Then the mismatch is the refusal, and the original is gone
    assert_eq!(
        refused,
        Err(PhotoError::Refused(Refusal::TypeMismatch {
            declared: "image/jpeg".to_owned(),
            actual: "image/png".to_owned(),
        }))
    );
    assert_eq!(photos.keys(), [photo.refusal_key()]);
}

/// The twin's originals, counting downloads.
struct CountingGets<'a> {
    photos: &'a InMemoryPhotos,
    gets: AtomicUsize,
}

impl Originals for CountingGets<'_> {
    async fn head(&self, photo: &Photo) -> Result<Option<Head>, PhotoError> {
        self.photos.head(photo).await
    }
    async fn get(&self, photo: &Photo) -> Result<Option<Vec<u8>>, PhotoError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.photos.get(photo).await
    }
    async fn delete(&self, photo: &Photo) -> Result<(), PhotoError> {
        self.photos.delete(photo).await
    }
}

#[tokio::test]
async fn an_original_over_the_size_limit_is_refused_without_downloading_it() {
    // Given an original over 10 MiB in the bucket (as if a policy had let it through)
    let photos = InMemoryPhotos::new();
    let photo = photo(1, 6);
    let mut bytes = png(8, 8);
    bytes.resize(MAX_ORIGINAL_BYTES as usize + 1, 0);
    photos.store(&photo.original_key(), "image/png", bytes);
    let originals = CountingGets {
        photos: &photos,
        gets: AtomicUsize::new(0),
    };

    // When the step runs
    let refused = make_thumbnail(&originals, &photos, &photos, &photo.original_key()).await;

    // Then it is refused from its size alone, never downloaded, and deleted
    assert_eq!(
        refused,
        Err(PhotoError::Refused(Refusal::TooLarge {
            size: MAX_ORIGINAL_BYTES + 1,
            limit: MAX_ORIGINAL_BYTES,
        }))
    );
    assert_eq!(originals.gets.load(Ordering::SeqCst), 0);
    assert_eq!(photos.keys(), [photo.refusal_key()]);
}

#[tokio::test]
async fn a_ninth_photo_is_refused_even_with_a_grant() {
    // Given an auction with eight thumbnailed photos, and a ninth granted before they landed
    let photos = InMemoryPhotos::new();
    for id in 10..18 {
        let key = uploaded(&photos, photo(7, id), "image/png", png(16, 16)).await;
        make_thumbnail(&photos, &photos, &photos, &key)
            .await
            .unwrap();
    }
    let ninth = photo(7, 99);
    let key = uploaded(&photos, ninth, "image/png", png(16, 16)).await;

    // When the step runs on the ninth
    let refused = make_thumbnail(&photos, &photos, &photos, &key).await;

    // Then it is refused and deleted; the eight stay
    assert_eq!(
        refused,
        Err(PhotoError::Refused(Refusal::TooManyPhotos { limit: 8 }))
    );
    assert_eq!(photos.object(&key), None);
    // And an eighth photo run again still is accepted: it does not count against itself
    let eighth = photo(7, 17).original_key();
    assert!(
        make_thumbnail(&photos, &photos, &photos, &eighth)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn s3_refuses_an_upload_unlike_the_grant_and_nothing_is_stored() {
    // Given a grant for a 1000-byte JPEG
    let photos = InMemoryPhotos::new();
    let upload = Upload {
        photo: photo(2, 1),
        content_type: "image/jpeg".to_owned(),
        size: 1000,
    };
    let grant = photos.grant(&upload, 0, at()).await.unwrap();

    // When a bigger file, a file of another type, or the same file too late is posted
    let bigger = photos.upload(&grant, "image/jpeg", vec![0; 1001], at());
    let other_type = photos.upload(&grant, "image/png", vec![0; 1000], at());
    let late = photos.upload(
        &grant,
        "image/jpeg",
        vec![0; 1000],
        at() + TimeDelta::minutes(6),
    );

    // Then each is refused and nothing is stored
    assert_eq!((bigger, other_type, late), (false, false, false));
    assert!(photos.keys().is_empty());
}

#[tokio::test]
async fn keys_that_are_not_originals_and_originals_gone_are_told_apart() {
    // Given an empty bucket
    let photos = InMemoryPhotos::new();

    // When the step runs on a thumbnail's key and on an original that is not there
    let thumbnail = photo(3, 1).thumbnail_key();
    let not_an_original = make_thumbnail(&photos, &photos, &photos, &thumbnail).await;
    let gone = make_thumbnail(&photos, &photos, &photos, &photo(3, 1).original_key()).await;

    // Then the first is not an original, the second gone
    assert_eq!(not_an_original, Err(PhotoError::NotAnOriginal(thumbnail)));
    assert_eq!(gone, Err(PhotoError::Gone(photo(3, 1).original_key())));
}
