//! The in-memory twin of [`crate::S3Photos`]: one bucket of objects under the same keys, and
//! uploads through a grant refused as S3 refuses them (which the local emulator does not do).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use events::AuctionId;

use crate::error::{PhotoError, Refusal};
use crate::grant::{Grant, Signing, Upload, grant};
use crate::keys::{Photo, photo_of_thumbnail, thumbnails_prefix};
use crate::limits::THUMBNAIL_CONTENT_TYPE;
use crate::ports::{Grants, Head, Originals, Refusals, Thumbnails};

const BUCKET: &str = "photos";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

#[derive(Debug, Default)]
pub struct InMemoryPhotos {
    objects: Mutex<BTreeMap<String, StoredObject>>,
    /// Every grant signed, by key: what a browser's post is checked against, as S3 checks the
    /// policy the form carries.
    granted: Mutex<BTreeMap<String, Grant>>,
}

impl InMemoryPhotos {
    pub fn new() -> Self {
        Self::default()
    }

    fn objects(&self) -> MutexGuard<'_, BTreeMap<String, StoredObject>> {
        // A poisoned lock only means another test thread panicked; the data is still whole.
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The browser's POST through `grant` at `at`: stored at the grant's key if S3 would store
    /// it; whether it was.
    pub fn upload(
        &self,
        grant: &Grant,
        content_type: &str,
        bytes: Vec<u8>,
        at: DateTime<Utc>,
    ) -> bool {
        if !grant.admits(BUCKET, content_type, bytes.len() as u64, at) {
            return false;
        }
        self.store(&grant.key, content_type, bytes);
        true
    }

    /// A browser's post of the form granted for `key` at `at`: stored if S3 would store it;
    /// whether it was (never, for a key nothing was granted for).
    pub fn post(&self, key: &str, content_type: &str, bytes: Vec<u8>, at: DateTime<Utc>) -> bool {
        let grant = self
            .granted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        grant.is_some_and(|grant| self.upload(&grant, content_type, bytes, at))
    }

    /// Puts an object as is, bypassing any grant: what a test needs to see the step's own
    /// checks, as if the policy had let something through.
    pub fn store(&self, key: &str, content_type: &str, bytes: Vec<u8>) {
        self.objects().insert(
            key.to_owned(),
            StoredObject {
                bytes,
                content_type: content_type.to_owned(),
            },
        );
    }

    /// The object at `key`.
    pub fn object(&self, key: &str) -> Option<StoredObject> {
        self.objects().get(key).cloned()
    }

    /// Every key in the bucket, in order.
    pub fn keys(&self) -> Vec<String> {
        self.objects().keys().cloned().collect()
    }
}

impl Grants for InMemoryPhotos {
    async fn grant(
        &self,
        upload: &Upload,
        photos: usize,
        now: DateTime<Utc>,
    ) -> Result<Grant, PhotoError> {
        let signing = Signing {
            access_key_id: "in-memory".to_owned(),
            secret_access_key: "in-memory".to_owned(),
            session_token: None,
            region: "us-east-1".to_owned(),
            bucket: BUCKET.to_owned(),
            url: format!("memory://{BUCKET}/"),
        };
        let grant = grant(upload, photos, &signing, now)?;
        self.granted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(grant.key.clone(), grant.clone());
        Ok(grant)
    }
}

impl Originals for InMemoryPhotos {
    async fn head(&self, photo: &Photo) -> Result<Option<Head>, PhotoError> {
        Ok(self.object(&photo.original_key()).map(|object| Head {
            size: object.bytes.len() as u64,
            content_type: object.content_type,
        }))
    }

    async fn get(&self, photo: &Photo) -> Result<Option<Vec<u8>>, PhotoError> {
        Ok(self
            .object(&photo.original_key())
            .map(|object| object.bytes))
    }

    async fn delete(&self, photo: &Photo) -> Result<(), PhotoError> {
        self.objects().remove(&photo.original_key());
        Ok(())
    }
}

impl Thumbnails for InMemoryPhotos {
    async fn put(&self, photo: &Photo, jpeg: Vec<u8>) -> Result<(), PhotoError> {
        self.store(&photo.thumbnail_key(), THUMBNAIL_CONTENT_TYPE, jpeg);
        Ok(())
    }

    async fn get(&self, photo: &Photo) -> Result<Option<Vec<u8>>, PhotoError> {
        Ok(self
            .object(&photo.thumbnail_key())
            .map(|object| object.bytes))
    }

    async fn photos(&self, auction: AuctionId) -> Result<Vec<Photo>, PhotoError> {
        let prefix = thumbnails_prefix(auction);
        Ok(self
            .objects()
            .keys()
            .filter(|key| key.starts_with(&prefix))
            .filter_map(|key| photo_of_thumbnail(key))
            .collect())
    }
}

impl Refusals for InMemoryPhotos {
    async fn record(&self, photo: &Photo, refusal: &Refusal) -> Result<(), PhotoError> {
        self.store(
            &photo.refusal_key(),
            "application/json",
            refusal.to_stored()?,
        );
        Ok(())
    }

    async fn find(&self, photo: &Photo) -> Result<Option<Refusal>, PhotoError> {
        self.object(&photo.refusal_key())
            .map(|object| Refusal::from_stored(&object.bytes))
            .transpose()
    }
}
