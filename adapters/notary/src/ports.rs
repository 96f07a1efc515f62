//! The notary's ports, each one capability.

use std::future::Future;

use crate::error::NotaryError;
use crate::leaf::StreamHead;

/// Every stream's head, as the projector keeps them, and the last digest written (a hint: the
/// archive is the truth).
pub trait Heads: Send + Sync {
    fn all(&self) -> impl Future<Output = Result<Vec<StreamHead>, NotaryError>> + Send;

    /// The sequence of the last digest written, as far as this table knows.
    fn last_digest(&self) -> impl Future<Output = Result<Option<u64>, NotaryError>> + Send;

    /// Records that digest `sequence` was written; never moves the hint back.
    fn digest_written(&self, sequence: u64)
    -> impl Future<Output = Result<(), NotaryError>> + Send;
}

/// Moves streams' heads forward (the projector, from the Events stream).
pub trait AdvanceHeads: Send + Sync {
    /// Each head replaces the stored one only if its version is higher, so that a duplicate, an
    /// older record or an edit of an old event (a MODIFY record) never moves a head back or
    /// sideways.
    fn advance(&self, heads: &[StreamHead])
    -> impl Future<Output = Result<(), NotaryError>> + Send;
}

/// Signs digests with a key whose private half never leaves it.
pub trait Signer: Send + Sync {
    /// The key's id as a verifier looks it up (in AWS its ARN).
    fn key_id(&self) -> impl Future<Output = Result<String, NotaryError>> + Send;

    fn sign(&self, message: Vec<u8>) -> impl Future<Output = Result<Vec<u8>, NotaryError>> + Send;
}

/// A write-once store of digests and their leaves.
pub trait Archive: Send + Sync {
    /// Writes `key` unless something is there already.
    fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> impl Future<Output = Result<Written, NotaryError>> + Send;

    /// The object at `key`, `None` if there is none.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, NotaryError>> + Send;

    /// Whether something is at `key`, without reading it.
    fn exists(&self, key: &str) -> impl Future<Output = Result<bool, NotaryError>> + Send;
}

/// What [`Archive::put_new`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    New,
    /// The key was taken: nothing was written.
    Existing,
}
