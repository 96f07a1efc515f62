//! A subject's data key and the id that names it: what a token is sealed under, and what a
//! failure to seal or open one names.

use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{KeyInit, OsRng};
use uuid::Uuid;

/// Names one subject's data key; stored in every token sealed with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub Uuid);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A subject's 256-bit data key, in the clear: only ever in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// The key from its 32 bytes (KMS's plaintext data key); `None` for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// A fresh random key, for the in-memory key store.
    pub fn random() -> Self {
        Self(Aes256Gcm::generate_key(OsRng).into())
    }

    /// The key's bytes, for the cipher that seals and opens tokens.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

// Never printed: logs must not hold what erasure destroys.
impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}
