//! What the edges of the platform need of the key store, as one object-safe port: the caller's
//! pseudonym before a command, and pseudonyms turned back into user ids for an answer.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use events::UserId;

use crate::error::PersonalDataError;
use crate::ports::SubjectKeys;
use crate::token::{KeyId, erased, pseudonym, pseudonym_key};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, PersonalDataError>> + Send + 'a>>;

/// Pseudonyms for the edges (the API, the live updates, the admin tools).
pub trait Pseudonyms: Send + Sync {
    /// The subject's pseudonym, their key made on first use. A pseudonym or an erased marker
    /// is its own pseudonym.
    fn pseudonym_of<'a>(&'a self, subject: &'a UserId) -> Boxed<'a, UserId>;

    /// What each of `ids` names: a pseudonym its subject's user id, or the erased marker if
    /// they were forgotten; any other id (one written before pseudonyms) itself.
    fn reveal<'a>(&'a self, ids: &'a [UserId]) -> Boxed<'a, HashMap<UserId, UserId>>;
}

impl<T: SubjectKeys> Pseudonyms for T {
    fn pseudonym_of<'a>(&'a self, subject: &'a UserId) -> Boxed<'a, UserId> {
        Box::pin(async move {
            let text = subject.as_str();
            if pseudonym_key(text).is_some() || crate::token::is_erased(text) {
                return Ok(subject.clone());
            }
            let keys = self.key_ids(&[text.to_owned()]).await?;
            let key_id = keys
                .get(text)
                .copied()
                .ok_or_else(|| PersonalDataError::NoKey(text.to_owned()))?;
            UserId::try_from(pseudonym(key_id)).map_err(|_| PersonalDataError::NotAUserId)
        })
    }

    fn reveal<'a>(&'a self, ids: &'a [UserId]) -> Boxed<'a, HashMap<UserId, UserId>> {
        Box::pin(async move {
            let keyed: Vec<(UserId, KeyId)> = ids
                .iter()
                .filter_map(|id| pseudonym_key(id.as_str()).map(|key| (id.clone(), key)))
                .collect();
            let mut key_ids: Vec<KeyId> = keyed.iter().map(|(_, key)| *key).collect();
            key_ids.sort_unstable();
            key_ids.dedup();
            let subjects = self.subjects(&key_ids).await?;
            let mut revealed = HashMap::with_capacity(ids.len());
            for id in ids {
                revealed.insert(id.clone(), id.clone());
            }
            for (id, key_id) in keyed {
                let text = subjects
                    .get(&key_id)
                    .cloned()
                    .unwrap_or_else(|| erased(key_id));
                let shown = UserId::try_from(text).map_err(|_| PersonalDataError::NotAUserId)?;
                revealed.insert(id, shown);
            }
            Ok(revealed)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::InMemorySubjectKeys;

    fn user(id: &str) -> UserId {
        UserId::try_from(id).unwrap()
    }

    #[tokio::test]
    async fn given_a_subjects_pseudonym_then_it_reveals_them_until_they_are_forgotten() {
        // Given carol's pseudonym
        let keys = InMemorySubjectKeys::default();
        let carol = keys.pseudonym_of(&user("carol")).await.unwrap();
        assert!(carol.as_str().starts_with("subject:"));
        // Asked again, the same; a pseudonym is its own
        assert_eq!(keys.pseudonym_of(&user("carol")).await.unwrap(), carol);
        assert_eq!(keys.pseudonym_of(&carol).await.unwrap(), carol);

        // Then it reveals carol, and an id from before pseudonyms reveals itself
        let ids = [carol.clone(), user("legacy-bob")];
        let revealed = keys.reveal(&ids).await.unwrap();
        assert_eq!(revealed[&carol], user("carol"));
        assert_eq!(revealed[&user("legacy-bob")], user("legacy-bob"));

        // When carol is forgotten, her pseudonym reveals the erased marker
        keys.forget("carol").await.unwrap();
        let revealed = keys.reveal(&ids).await.unwrap();
        let key = pseudonym_key(carol.as_str()).unwrap();
        assert_eq!(revealed[&carol].as_str(), erased(key));
    }
}
