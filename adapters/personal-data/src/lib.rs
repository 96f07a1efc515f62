//! Personal data in the log, kept so that a person can be forgotten without rewriting an event
//! (crypto-shredding).
//!
//! - [`token`]: what the log stores instead of personal values: a user id becomes its
//!   subject's pseudonym (`subject:<key id>`); other personal text a token sealed under the
//!   subject's data key; a forgotten subject's values read as `erased:<key id>`.
//! - [`envelope`]: the places in an envelope that hold personal data (the codec's pointers and a
//!   user actor): their pseudonyms found and revealed for a reader (an export, time travel), and
//!   an envelope of plain ids turned into pseudonyms (one written before pseudonyms).
//! - [`SubjectKeys`]: the key store's port: a subject's key id (made on first use), the
//!   subjects of key ids, and forgetting. [`KmsSubjectKeys`] keeps it in DynamoDB with data keys
//!   wrapped by AWS KMS; [`InMemorySubjectKeys`] is its twin for tests. [`Pseudonyms`] is what
//!   the edges use of it (object-safe): the caller's pseudonym, and pseudonyms revealed.
//!
//! Depends on the event contract (`events`), DynamoDB and KMS. Must not depend on the domain,
//! the event store, HTTP, Lambda or SQS.

pub mod envelope;
mod error;
mod key;
mod kms;
mod memory;
mod ports;
mod pseudonyms;
pub mod token;

pub use error::PersonalDataError;
pub use kms::{CACHE_SECONDS_ENV, CACHE_TTL, KmsSubjectKeys};
pub use memory::InMemorySubjectKeys;
pub use ports::SubjectKeys;
pub use pseudonyms::{Pseudonyms, REVEALED_FIELD, reveal_json, reveal_lines};
pub use token::{DataKey, KeyId};
