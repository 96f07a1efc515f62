//! Proofs on request: a digest's tree read from the archive once and kept, the stream's events
//! read from the log each time.

use std::sync::{Arc, Mutex};

use event_store::{EventLog, Meter};
use uuid::Uuid;

use crate::digest::SignedDigest;
use crate::error::NotaryError;
use crate::ports::{Archive, Heads};
use crate::proof::{Proof, Tree};
use crate::publish::{latest, read_digest};

/// Cuts proofs against the latest digest or a given one.
pub struct Prover<H, A, L> {
    heads: H,
    archive: A,
    log: L,
    /// The last tree read: a tree of 100,000 streams is a 13 MB object, and proofs against
    /// the latest digest are the common case.
    cached: Mutex<Option<Arc<Tree>>>,
}

impl<H, A, L> Prover<H, A, L>
where
    H: Heads,
    A: Archive,
    L: EventLog,
{
    pub fn new(heads: H, archive: A, log: L) -> Self {
        Self {
            heads,
            archive,
            log,
            cached: Mutex::new(None),
        }
    }

    /// The proof that event `version` of the stream is in digest `sequence` (the latest when
    /// `None`).
    pub async fn prove(
        &self,
        aggregate_type: &str,
        aggregate_id: Uuid,
        version: u64,
        sequence: Option<u64>,
    ) -> Result<Proof, NotaryError> {
        let tree = self.tree(sequence).await?;
        let (from, to) = tree.versions_needed(aggregate_type, aggregate_id, version)?;
        let events = self
            .log
            .read_range(aggregate_id, from, to, &Meter::default())
            .await?;
        tree.prove(aggregate_type, aggregate_id, version, &events)
    }

    /// The signed digest `sequence` (the latest when `None`), as stored.
    pub async fn digest(&self, sequence: Option<u64>) -> Result<SignedDigest, NotaryError> {
        let found = match sequence {
            Some(sequence) => read_digest(&self.archive, sequence).await?,
            None => latest(&self.heads, &self.archive).await?,
        };
        found.ok_or_else(|| {
            NotaryError::NoDigest(sequence.map_or_else(|| "yet".to_owned(), |s| s.to_string()))
        })
    }

    async fn tree(&self, sequence: Option<u64>) -> Result<Arc<Tree>, NotaryError> {
        let digest = self.digest(sequence).await?;
        if let Some(tree) = self.cached().filter(|tree| tree.digest == digest) {
            return Ok(tree);
        }
        let key = digest.digest.leaves.clone();
        let leaves = self
            .archive
            .get(&key)
            .await?
            .ok_or_else(|| NotaryError::Corrupt {
                key,
                detail: "the digest names leaves that are not there".to_owned(),
            })?;
        let tree = Arc::new(Tree::read(digest, &leaves)?);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(Arc::clone(&tree));
        }
        Ok(tree)
    }

    fn cached(&self) -> Option<Arc<Tree>> {
        self.cached.lock().ok().and_then(|cached| cached.clone())
    }
}
