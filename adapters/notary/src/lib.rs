//! The log anchored outside its database (issue 22): every stream's head is a leaf of an
//! RFC 6962 Merkle tree; every few minutes the tree's root, chained to the previous digest, is
//! signed with a KMS key and written with its leaves into an S3 bucket under Object Lock; an
//! inclusion proof takes one event through its stream's chain to its head and through the tree
//! to a signed root, and `tools/verifier/verify_proof.py` checks it with nothing of ours.
//!
//! Formats: docs/audit.md, "Digests and proofs: the formats". Depends on the event store's
//! chain and ports, never on a function, the domain or a read model.

pub mod archive;
pub mod config;
pub mod digest;
pub mod error;
pub mod heads_table;
pub mod kms;
pub mod leaf;
pub mod memory;
pub mod merkle;
pub mod ports;
pub mod proof;
pub mod prover;
pub mod publish;

pub use archive::S3Archive;
pub use config::Digester;
pub use digest::{Digest, SignedDigest};
pub use error::NotaryError;
pub use heads_table::HeadsTable;
pub use kms::KmsSigner;
pub use leaf::StreamHead;
pub use memory::{InMemoryArchive, InMemoryHeads};
pub use ports::{AdvanceHeads, Archive, Heads, Signer, Written};
pub use proof::{Proof, Tree};
pub use prover::Prover;
pub use publish::{Published, latest, publish};
