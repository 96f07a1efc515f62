//! A digest: the root of the tree of every stream's head at one moment, chained to the digest
//! before it, signed. The format is the contract with outside verifiers (docs/audit.md,
//! "Digests and proofs: the formats").

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use event_store::chain::{GENESIS, canonical_json};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::merkle;

/// The digest format this code writes and reads.
pub const FORMAT: &str = "auction-log-digest/1";
/// The only signing algorithm: RSASSA-PKCS1-v1_5 with SHA-256, as KMS names it.
pub const ALGORITHM: &str = "RSASSA_PKCS1_V1_5_SHA_256";

/// What is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Digest {
    pub algorithm: String,
    pub format: String,
    pub key_id: String,
    /// The object holding the leaves, one canonical JSON a line, in tree order.
    pub leaves: String,
    /// Hex SHA-256 of the previous digest's signed bytes; 64 zeros for the first.
    pub previous: String,
    pub root: String,
    pub sequence: u64,
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub tree_size: u64,
}

/// A digest with its signature: the object stored at [`digest_key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedDigest {
    pub digest: Digest,
    /// Standard base64 of the signature over [`Digest::signed_bytes`].
    pub signature: String,
}

impl Digest {
    /// The digest that follows `previous` (none for the first), over a tree with `root` and
    /// `tree_size` leaves kept at `leaves`.
    pub fn next(
        previous: Option<&Digest>,
        (root, tree_size, leaves): (&merkle::Hash, u64, String),
        key_id: &str,
        time: DateTime<Utc>,
    ) -> Self {
        Self {
            algorithm: ALGORITHM.to_owned(),
            format: FORMAT.to_owned(),
            key_id: key_id.to_owned(),
            leaves,
            previous: previous.map_or_else(|| GENESIS.to_owned(), Digest::hash),
            root: merkle::hex(root),
            sequence: previous.map_or(1, |digest| digest.sequence + 1),
            time: time.to_rfc3339_opts(SecondsFormat::Millis, true),
            tree_size,
        }
    }

    /// The bytes the signature covers: the canonical JSON of the digest.
    pub fn signed_bytes(&self) -> Vec<u8> {
        serde_json::to_value(self)
            .map(|value| canonical_json(&value))
            .unwrap_or_default()
            .into_bytes()
    }

    /// Hex SHA-256 of the signed bytes: what the next digest's `previous` holds.
    pub fn hash(&self) -> String {
        merkle::hex(&Sha256::digest(self.signed_bytes()).into())
    }
}

impl SignedDigest {
    pub fn new(digest: Digest, signature: &[u8]) -> Self {
        Self {
            digest,
            signature: STANDARD.encode(signature),
        }
    }

    /// The object's bytes (pretty JSON: people read these; the signature covers the canonical
    /// form of `digest`, not these bytes).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// Where digest `sequence` is kept.
pub fn digest_key(sequence: u64) -> String {
    format!("digests/{sequence:012}.json")
}

/// Where a tree's leaves are kept: named by the root they hash to and their count, so that
/// writing them again (a digester that stopped between the leaves and the digest) finds the
/// same object rather than a conflict.
pub fn leaves_key(root: &merkle::Hash, tree_size: u64) -> String {
    format!("trees/{}-{tree_size}.jsonl", merkle::hex(root))
}
