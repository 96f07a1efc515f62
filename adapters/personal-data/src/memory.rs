//! The key store's in-memory twin, for handler tests: the same answers, no KMS.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

use crate::error::PersonalDataError;
use crate::key::KeyId;
use crate::ports::SubjectKeys;

#[derive(Debug, Default)]
pub struct InMemorySubjectKeys {
    subjects: Mutex<HashMap<String, KeyId>>,
}

impl InMemorySubjectKeys {
    fn subjects(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeyId>> {
        self.subjects.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SubjectKeys for InMemorySubjectKeys {
    async fn key_ids(
        &self,
        subjects: &[String],
    ) -> Result<HashMap<String, KeyId>, PersonalDataError> {
        let mut known = self.subjects();
        Ok(subjects
            .iter()
            .map(|subject| {
                let key_id = *known
                    .entry(subject.clone())
                    .or_insert_with(|| KeyId(Uuid::new_v4()));
                (subject.clone(), key_id)
            })
            .collect())
    }

    async fn key_id_of(&self, subject: &str) -> Result<Option<KeyId>, PersonalDataError> {
        Ok(self.subjects().get(subject).copied())
    }

    async fn subjects(
        &self,
        key_ids: &[KeyId],
    ) -> Result<HashMap<KeyId, String>, PersonalDataError> {
        let known = self.subjects();
        Ok(known
            .iter()
            .filter(|(_, key_id)| key_ids.contains(key_id))
            .map(|(subject, key_id)| (*key_id, subject.clone()))
            .collect())
    }

    async fn forget(&self, subject: &str) -> Result<Option<KeyId>, PersonalDataError> {
        Ok(self.subjects().remove(subject))
    }
}
