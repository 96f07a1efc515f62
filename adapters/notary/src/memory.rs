//! The heads table's in-memory twin, for the tests of the code that writes or reads it (the
//! projector's handler, redelivery). Never wired into a deployed function.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

use crate::error::NotaryError;
use crate::leaf::StreamHead;
use crate::ports::{AdvanceHeads, Archive, Heads, Signer, Written};

#[derive(Debug, Default)]
pub struct InMemoryHeads {
    heads: Mutex<HashMap<Uuid, StreamHead>>,
    last_digest: Mutex<Option<u64>>,
}

impl InMemoryHeads {
    pub fn new() -> Self {
        Self::default()
    }

    /// The head of one stream, for assertions.
    pub fn head(&self, aggregate_id: impl Into<Uuid>) -> Option<StreamHead> {
        self.lock().get(&aggregate_id.into()).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, StreamHead>> {
        self.heads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl AdvanceHeads for InMemoryHeads {
    async fn advance(&self, heads: &[StreamHead]) -> Result<(), NotaryError> {
        let mut stored = self.lock();
        for head in heads {
            match stored.get(&head.aggregate_id) {
                Some(known) if known.version >= head.version => {}
                _ => {
                    stored.insert(head.aggregate_id, head.clone());
                }
            }
        }
        Ok(())
    }
}

impl Heads for InMemoryHeads {
    async fn all(&self) -> Result<Vec<StreamHead>, NotaryError> {
        Ok(self.lock().values().cloned().collect())
    }

    async fn last_digest(&self) -> Result<Option<u64>, NotaryError> {
        Ok(*self
            .last_digest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    async fn digest_written(&self, sequence: u64) -> Result<(), NotaryError> {
        let mut last = self
            .last_digest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *last = Some(last.map_or(sequence, |known| known.max(sequence)));
        Ok(())
    }
}

/// A reference to heads is heads: a test keeps the twin and hands the code a reference.
impl<T: AdvanceHeads> AdvanceHeads for &T {
    async fn advance(&self, heads: &[StreamHead]) -> Result<(), NotaryError> {
        (**self).advance(heads).await
    }
}

/// The archive's in-memory twin: write-once keys, as the bucket's `If-None-Match: *` makes them.
#[derive(Debug, Default)]
pub struct InMemoryArchive {
    objects: Mutex<HashMap<String, Vec<u8>>>,
}

impl InMemoryArchive {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Archive for InMemoryArchive {
    async fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
        _content_type: &'static str,
    ) -> Result<Written, NotaryError> {
        let mut objects = self.lock();
        if objects.contains_key(key) {
            return Ok(Written::Existing);
        }
        objects.insert(key.to_owned(), body);
        Ok(Written::New)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, NotaryError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn exists(&self, key: &str) -> Result<bool, NotaryError> {
        Ok(self.lock().contains_key(key))
    }
}

/// A reference to heads, an archive or a signer is one: a test keeps the twin and hands the
/// code a reference.
impl<T: Heads> Heads for &T {
    async fn all(&self) -> Result<Vec<StreamHead>, NotaryError> {
        (**self).all().await
    }
    async fn last_digest(&self) -> Result<Option<u64>, NotaryError> {
        (**self).last_digest().await
    }
    async fn digest_written(&self, sequence: u64) -> Result<(), NotaryError> {
        (**self).digest_written(sequence).await
    }
}

impl<T: Archive> Archive for &T {
    async fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<Written, NotaryError> {
        (**self).put_new(key, body, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, NotaryError> {
        (**self).get(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, NotaryError> {
        (**self).exists(key).await
    }
}

impl<T: Signer> Signer for &T {
    async fn key_id(&self) -> Result<String, NotaryError> {
        (**self).key_id().await
    }
    async fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, NotaryError> {
        (**self).sign(message).await
    }
}

/// Shared heads and archives: the API's test harness keeps one handle, the prover another.
impl<T: Heads> Heads for std::sync::Arc<T> {
    async fn all(&self) -> Result<Vec<StreamHead>, NotaryError> {
        (**self).all().await
    }
    async fn last_digest(&self) -> Result<Option<u64>, NotaryError> {
        (**self).last_digest().await
    }
    async fn digest_written(&self, sequence: u64) -> Result<(), NotaryError> {
        (**self).digest_written(sequence).await
    }
}

impl<T: Archive> Archive for std::sync::Arc<T> {
    async fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<Written, NotaryError> {
        (**self).put_new(key, body, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, NotaryError> {
        (**self).get(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, NotaryError> {
        (**self).exists(key).await
    }
}
