//! Forgetting a subject (crypto-shredding, docs/privacy.md): the tombstone appended to their
//! Subject stream, then what their own tables hold in the clear deleted (their email address
//! and preferences), then their key deleted. The one place both the admin route and
//! `auction-admin forget` run it, so that the order below holds for both.
//!
//! Depends on the domain (the Subject's decision), the event store, the subjects' key store
//! (`personal-data`) and the email preferences (`email`). Must not depend on HTTP, Lambda or
//! the read models.
//!
//! Order: the tombstone first, the user's own rows second, the key last. A forget stopped
//! between any two is finished by asking again (the key is still found, the tombstone is not
//! appended twice: the decision recognises a forgotten subject; deleting rows again deletes
//! nothing); deleting the key earlier would lose the key id, and with it the stream the
//! tombstone belongs in and the pseudonym the rows are keyed by.

use chrono::{DateTime, Utc};
use domain::subject::{ForgetSubject, SubjectState, decide_forget};
use event_store::{
    CommandContext, CommandError, EventLog, IdempotencyRecords, Snapshots, Store, StoreError,
};
use events::{SubjectId, UserId};
use personal_data::Pseudonyms;
use personal_data::token::{erased, pseudonym_key};

/// Why a subject could not be forgotten.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    /// The user has no key: never seen since pseudonyms, or forgotten already. (404 / exit
    /// code 2: nothing of theirs can be read; nothing to do)
    #[error("the user has no key: never seen, or forgotten already")]
    SubjectNotFound,
    /// The subjects' key store (its table or KMS) failed, or a key held something that is not
    /// a pseudonym. (503 / exit 3; asking again finishes the forget, the tombstone is never
    /// appended twice)
    #[error("the subjects' key store failed: {0}")]
    Keys(String),
    /// The user's email address and preferences could not be deleted. (503 / exit 3: ask again;
    /// the key is kept until they are gone)
    #[error("the user's email preferences could not be deleted: {0}")]
    OwnData(String),
    /// The tombstone could not be appended; see [`StoreError`] (transient ones: ask again).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A subject forgotten: who they were in the log, and what they read as now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgotten {
    /// Their key id: the Subject stream the tombstone is in.
    pub subject_id: SubjectId,
    /// Their pseudonym, as every event of theirs holds it.
    pub pseudonym: UserId,
    /// What their pseudonym reads as from now on (`erased:<key id>`).
    pub erased_as: String,
    /// The tombstone's version in their stream, and when it was recorded (the first forget's
    /// time, for a forget finished by asking again).
    pub version: u64,
    pub forgotten_at: DateTime<Utc>,
}

/// Forgets `user`; [`ErasureError::SubjectNotFound`] when they have no key (never seen since
/// pseudonyms, or forgotten already: nothing of theirs can be read any more).
pub async fn forget<B>(
    store: &Store<B>,
    pseudonyms: &dyn Pseudonyms,
    emails: &dyn email::PreferenceStore,
    user: &UserId,
    context: &CommandContext,
) -> Result<Forgotten, ErasureError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
{
    let keys = |error: personal_data::PersonalDataError| ErasureError::Keys(error.to_string());
    let Some(pseudonym) = pseudonyms.existing_pseudonym(user).await.map_err(keys)? else {
        return Err(ErasureError::SubjectNotFound);
    };
    let key_id = pseudonym_key(pseudonym.as_str())
        .ok_or_else(|| ErasureError::Keys(format!("{pseudonym} is not a pseudonym")))?;
    let subject_id = SubjectId(key_id.0);
    let command = ForgetSubject {
        subject_id,
        subject: pseudonym.clone(),
    };
    let outcome = store
        .execute(subject_id, context, |state: &SubjectState, now| {
            decide_forget(state, &command, now)
        })
        .await
        .map_err(|error| match error {
            CommandError::Store(error) => ErasureError::Store(error),
            CommandError::Rejected(rejection) => ErasureError::Keys(rejection.to_string()),
        })?;
    let forgotten_at = outcome
        .state
        .forgotten_at
        .ok_or_else(|| ErasureError::Keys("the tombstone is not in the log".to_owned()))?;
    emails
        .forget(&pseudonym)
        .await
        .map_err(|error| ErasureError::OwnData(error.to_string()))?;
    pseudonyms.forget(user).await.map_err(keys)?;
    Ok(Forgotten {
        subject_id,
        erased_as: erased(key_id),
        pseudonym,
        version: outcome.version,
        forgotten_at,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use event_store::{InMemoryStore, SnapshotPolicy};
    use events::Actor;
    use personal_data::InMemorySubjectKeys;

    use super::*;

    fn admin(now: DateTime<Utc>) -> CommandContext {
        CommandContext {
            command_id: uuid::Uuid::new_v4().to_string(),
            correlation_id: "forget-1".to_owned(),
            actor: Actor::System {
                name: "auction-admin".to_owned(),
            },
            idempotency_key: None,
            now,
        }
    }

    #[tokio::test]
    async fn given_a_known_subject_when_forgotten_then_the_tombstone_is_logged_once_and_their_key_is_gone()
     {
        // Given bob, who has a pseudonym
        let store = Store::new(InMemoryStore::new(), SnapshotPolicy::default());
        let keys = InMemorySubjectKeys::default();
        let bob = UserId::try_from("bidder-bob").unwrap();
        let pseudonym = keys.pseudonym_of(&bob).await.unwrap();
        let now = DateTime::UNIX_EPOCH;

        // When he is forgotten
        let forgotten = forget(
            &store,
            &keys,
            &email::InMemoryEmailNotices::default(),
            &bob,
            &admin(now),
        )
        .await
        .unwrap();

        // Then his stream holds the tombstone naming his pseudonym, and it reads as erased
        assert_eq!(forgotten.pseudonym, pseudonym);
        assert_eq!(forgotten.version, 1);
        let stored = store.backend().events(forgotten.subject_id);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].envelope.event_type, "SubjectForgotten");
        assert_eq!(stored[0].envelope.payload["subject"], pseudonym.as_str());
        let revealed = keys.reveal(std::slice::from_ref(&pseudonym)).await.unwrap();
        assert_eq!(revealed[&pseudonym].as_str(), forgotten.erased_as);
        // And asked again, there is nothing left to forget
        let again = forget(
            &store,
            &keys,
            &email::InMemoryEmailNotices::default(),
            &bob,
            &admin(now),
        )
        .await
        .unwrap_err();
        assert!(matches!(again, ErasureError::SubjectNotFound), "{again}");
        assert_eq!(store.backend().events(forgotten.subject_id).len(), 1);
    }

    #[tokio::test]
    async fn given_a_subject_with_an_email_address_when_forgotten_then_their_address_and_preferences_are_gone()
     {
        // Given bob, who asked for emails at his address
        use email::PreferenceStore;
        let store = Store::new(InMemoryStore::new(), SnapshotPolicy::default());
        let keys = InMemorySubjectKeys::default();
        let emails = email::InMemoryEmailNotices::default();
        let bob = UserId::try_from("bidder-bob").unwrap();
        let pseudonym = keys.pseudonym_of(&bob).await.unwrap();
        let preferences = email::Preferences {
            email: Some("bob@example.com".to_owned()),
            topics: [email::Topic::Outbid].into_iter().collect(),
            updated_at: DateTime::UNIX_EPOCH,
        };
        emails.save(&pseudonym, &preferences).await.unwrap();
        emails
            .mark_sent(&pseudonym, "n1", DateTime::UNIX_EPOCH)
            .await
            .unwrap();

        // When he is forgotten
        forget(&store, &keys, &emails, &bob, &admin(DateTime::UNIX_EPOCH))
            .await
            .unwrap();

        // Then nothing of his is left in the email notices
        assert_eq!(emails.preferences(&pseudonym).await.unwrap(), None);
        assert!(!emails.was_sent(&pseudonym, "n1").await.unwrap());
    }
}
