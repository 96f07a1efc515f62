//! A leaf of the tree: one stream's head at the moment of a digest.

use event_store::chain::canonical_json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::merkle::{self, Hash};

/// One stream at one moment: its last event's version and chain hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamHead {
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub version: u64,
    /// The chain hash of event `version`: lowercase hex SHA-256.
    pub head: String,
}

impl StreamHead {
    /// The leaf's bytes: its canonical JSON.
    pub fn canonical(&self) -> String {
        // A struct of strings and an integer always serializes.
        serde_json::to_value(self)
            .map(|value| canonical_json(&value))
            .unwrap_or_default()
    }

    pub fn hash(&self) -> Hash {
        merkle::leaf_hash(self.canonical().as_bytes())
    }

    /// Tree order: by aggregate type, then id, as the strings' bytes sort (the order a
    /// verifier in any language reproduces).
    pub fn sort_key(&self) -> (String, String) {
        (self.aggregate_type.clone(), self.aggregate_id.to_string())
    }
}

/// Puts `heads` in tree order, one leaf per stream.
pub fn in_tree_order(mut heads: Vec<StreamHead>) -> Vec<StreamHead> {
    // Highest version first among duplicates, which only an edited heads table can hold, so
    // that the one kept is the furthest head.
    heads.sort_by_cached_key(|head| (head.sort_key(), std::cmp::Reverse(head.version)));
    heads.dedup_by(|a, b| a.aggregate_type == b.aggregate_type && a.aggregate_id == b.aggregate_id);
    heads
}
