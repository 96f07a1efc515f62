//! Inclusion proofs: an event, the chain from it to its stream's head at a digest, and the
//! audit path from that head's leaf to the digest's root.
//!
//! The prover reports what the log holds and judges nothing: an edited, missing or reordered
//! event goes into the proof as stored, and the verifier (which trusts only the signing key)
//! finds that it does not lead to the signed root.

use event_store::StoredEvent;
use event_store::chain::{self, GENESIS};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::digest::{SignedDigest, digest_key};
use crate::error::NotaryError;
use crate::leaf::StreamHead;
use crate::merkle::{self, Hash};

/// The proof format this code writes.
pub const FORMAT: &str = "auction-log-proof/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Proof {
    pub format: String,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub version: u64,
    pub digest: DigestRef,
    /// The chain hash before event `version` (64 zeros for version 1).
    pub previous: String,
    /// The canonical JSON of each event from `version` to the head at the digest, as the chain
    /// hashed it.
    pub envelopes: Vec<String>,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Hex sibling hashes, from the leaf up.
    pub audit_path: Vec<String>,
}

/// Which digest a proof leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestRef {
    pub sequence: u64,
    pub key: String,
}

/// A digest's tree, read back from its leaves: what proofs against it are cut from.
#[derive(Debug, Clone)]
pub struct Tree {
    pub digest: SignedDigest,
    leaves: Vec<StreamHead>,
    hashes: Vec<Hash>,
}

impl Tree {
    /// The tree of `digest` from its leaves object. Refuses leaves that are out of tree order
    /// or do not hash to the digest's root and size: the archive then holds something no
    /// digester wrote.
    pub fn read(digest: SignedDigest, leaves: &[u8]) -> Result<Self, NotaryError> {
        let key = digest.digest.leaves.clone();
        let corrupt = |detail: String| NotaryError::Corrupt {
            key: key.clone(),
            detail,
        };
        let text = std::str::from_utf8(leaves).map_err(|e| corrupt(e.to_string()))?;
        let leaves = text
            .lines()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str::<StreamHead>(line)
                    .map_err(|e| corrupt(format!("line {}: {e}", i + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if leaves
            .windows(2)
            .any(|pair| pair[0].sort_key() >= pair[1].sort_key())
        {
            return Err(corrupt("the leaves are not in tree order".to_owned()));
        }
        let tree = Self::new(digest, leaves);
        let root = merkle::hex(&merkle::root(&tree.hashes));
        if root != tree.digest.digest.root
            || tree.leaves.len() as u64 != tree.digest.digest.tree_size
        {
            return Err(corrupt(format!(
                "{} leaves hashing to {root}, where the digest says {} and {}",
                tree.leaves.len(),
                tree.digest.digest.tree_size,
                tree.digest.digest.root
            )));
        }
        Ok(tree)
    }

    /// The tree of already ordered `leaves` under `digest`.
    pub fn new(digest: SignedDigest, leaves: Vec<StreamHead>) -> Self {
        let hashes = leaves.iter().map(StreamHead::hash).collect();
        Self {
            digest,
            leaves,
            hashes,
        }
    }

    pub fn sequence(&self) -> u64 {
        self.digest.digest.sequence
    }

    /// The stream's leaf and its index, if the stream was in the digest.
    pub fn find(&self, aggregate_type: &str, aggregate_id: Uuid) -> Option<(usize, &StreamHead)> {
        let wanted = (aggregate_type.to_owned(), aggregate_id.to_string());
        self.leaves
            .binary_search_by(|leaf| leaf.sort_key().cmp(&wanted))
            .ok()
            .map(|index| (index, &self.leaves[index]))
    }

    /// Which versions of the stream a proof of `version` needs from the log: the one before it
    /// (for its chain hash) up to the head in the digest. Refused when the stream or the
    /// version is not in the digest.
    pub fn versions_needed(
        &self,
        aggregate_type: &str,
        aggregate_id: Uuid,
        version: u64,
    ) -> Result<(u64, u64), NotaryError> {
        let (_, head) = self.locate(aggregate_type, aggregate_id, version)?;
        Ok((version.saturating_sub(1).max(1), head))
    }

    /// The stream's leaf index and head version, when the digest holds `version` of it.
    fn locate(
        &self,
        aggregate_type: &str,
        aggregate_id: Uuid,
        version: u64,
    ) -> Result<(usize, u64), NotaryError> {
        let (index, leaf) =
            self.find(aggregate_type, aggregate_id)
                .ok_or_else(|| NotaryError::NotInDigest {
                    aggregate_type: aggregate_type.to_owned(),
                    aggregate_id,
                    sequence: self.sequence(),
                })?;
        if version == 0 || version > leaf.version {
            return Err(NotaryError::NotYetDigested {
                version,
                head: leaf.version,
                sequence: self.sequence(),
            });
        }
        Ok((index, leaf.version))
    }

    /// The proof of event `version` of the stream, from the stream's events as the log holds
    /// them now (`events`: what [`Tree::versions_needed`] asked for, in version order).
    pub fn prove(
        &self,
        aggregate_type: &str,
        aggregate_id: Uuid,
        version: u64,
        events: &[StoredEvent],
    ) -> Result<Proof, NotaryError> {
        let (index, _) = self.locate(aggregate_type, aggregate_id, version)?;
        // The log's word for the hash before the event; a deleted predecessor leaves the
        // genesis hash, which then cannot chain to the anchored head.
        let previous = if version == 1 {
            GENESIS.to_owned()
        } else {
            events
                .iter()
                .find(|event| event.version() == version - 1)
                .map_or_else(|| GENESIS.to_owned(), |event| event.hash.clone())
        };
        let envelopes = events
            .iter()
            .filter(|event| event.version() >= version)
            .map(|event| chain::content(&event.envelope))
            .collect();
        let path = merkle::audit_path(index, &self.hashes).unwrap_or_default();
        Ok(Proof {
            format: FORMAT.to_owned(),
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id,
            version,
            digest: DigestRef {
                sequence: self.sequence(),
                key: digest_key(self.sequence()),
            },
            previous,
            envelopes,
            leaf_index: index as u64,
            tree_size: self.hashes.len() as u64,
            audit_path: path.iter().map(merkle::hex).collect(),
        })
    }

    /// The leaves object's bytes: one canonical leaf a line.
    pub fn leaves_bytes(&self) -> Vec<u8> {
        leaves_bytes(&self.leaves)
    }
}

/// One canonical leaf a line, each ending in a newline.
pub fn leaves_bytes(leaves: &[StreamHead]) -> Vec<u8> {
    let mut out = String::new();
    for leaf in leaves {
        out.push_str(&leaf.canonical());
        out.push('\n');
    }
    out.into_bytes()
}
