//! The key store's port: one capability, a subject's key from its id and back, until the
//! subject is forgotten.

use std::collections::HashMap;
use std::future::Future;

use crate::error::PersonalDataError;
use crate::key::KeyId;

/// The subjects' keys.
pub trait SubjectKeys: Send + Sync {
    /// The key ids of `subjects` (user ids), each made on first use: a data key, and the
    /// subject's id sealed under it.
    fn key_ids(
        &self,
        subjects: &[String],
    ) -> impl Future<Output = Result<HashMap<String, KeyId>, PersonalDataError>> + Send;

    /// The subject's key id if they have one; never makes one (a forget looks it up).
    fn key_id_of(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<KeyId>, PersonalDataError>> + Send;

    /// The subjects `key_ids` name. A forgotten subject's key id is absent from the answer.
    fn subjects(
        &self,
        key_ids: &[KeyId],
    ) -> impl Future<Output = Result<HashMap<KeyId, String>, PersonalDataError>> + Send;

    /// Deletes the subject's key and its entry: every pseudonym of theirs reads as erased from
    /// now on, here at once and in other processes once their caches expire. The key id the
    /// subject had; `None` if they had none (nothing of theirs was ever sealed).
    fn forget(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Option<KeyId>, PersonalDataError>> + Send;
}
