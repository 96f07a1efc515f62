//! Where an envelope holds personal data: its pseudonyms found and revealed (or shown erased)
//! for a reader, and plain ids turned into pseudonyms. The platform makes pseudonyms at its edge
//! (docs/privacy.md), so new events already hold them; sealing here is for an envelope written
//! before pseudonyms.
//!
//! The places are the codec's: JSON pointers (RFC 6901) into the payload, per event type and
//! schema version (`EventCodec::personal_fields`), plus the actor when it is a user. Only those
//! places are read or written: a title that looks like a pseudonym stays a title.

use std::collections::{BTreeSet, HashMap};

use events::{Actor, RawEnvelope, UserId};
use serde_json::Value;

use crate::error::PersonalDataError;
use crate::token::{KeyId, erased, is_erased, pseudonym, pseudonym_key};

/// The user ids `raw` holds in plain text at `pointers` and as its actor: the subjects whose
/// keys sealing it needs. Erased markers and pseudonyms are not subjects.
pub fn subjects(raw: &RawEnvelope, pointers: &[&str]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut note = |text: &str| {
        if pseudonym_key(text).is_none() && !is_erased(text) {
            found.insert(text.to_owned());
        }
    };
    for pointer in pointers {
        if let Some(Value::String(text)) = raw.payload.pointer(pointer) {
            note(text);
        }
    }
    if let Actor::User { id } = &raw.metadata.actor {
        note(id.as_str());
    }
    found
}

/// Replaces each user id of `raw` (at `pointers`, and the actor) by its subject's pseudonym
/// from `keys`. Fails, changing nothing, if a subject has no key there.
pub fn seal(
    raw: &mut RawEnvelope,
    pointers: &[&str],
    keys: &HashMap<String, KeyId>,
) -> Result<(), PersonalDataError> {
    let missing = subjects(raw, pointers)
        .into_iter()
        .find(|subject| !keys.contains_key(subject));
    if let Some(subject) = missing {
        return Err(PersonalDataError::NoKey(subject));
    }
    rewrite(raw, pointers, |text| {
        keys.get(text).map(|key_id| pseudonym(*key_id))
    })
}

/// The key ids of the pseudonyms `raw` holds (at `pointers`, and the actor).
pub fn key_ids(raw: &RawEnvelope, pointers: &[&str]) -> BTreeSet<KeyId> {
    let mut found = BTreeSet::new();
    for pointer in pointers {
        if let Some(Value::String(text)) = raw.payload.pointer(pointer) {
            found.extend(pseudonym_key(text));
        }
    }
    if let Actor::User { id } = &raw.metadata.actor {
        found.extend(pseudonym_key(id.as_str()));
    }
    found
}

/// Replaces each pseudonym of `raw` by the user id `subjects` holds for its key, or by the
/// erased marker where it holds none (the subject was forgotten).
pub fn open(
    raw: &mut RawEnvelope,
    pointers: &[&str],
    subjects: &HashMap<KeyId, String>,
) -> Result<(), PersonalDataError> {
    rewrite(raw, pointers, |text| {
        pseudonym_key(text).map(|key_id| {
            subjects
                .get(&key_id)
                .cloned()
                .unwrap_or_else(|| erased(key_id))
        })
    })
}

/// Rewrites the texts at `pointers` and the user actor's id that `change` maps to something.
fn rewrite(
    raw: &mut RawEnvelope,
    pointers: &[&str],
    change: impl Fn(&str) -> Option<String>,
) -> Result<(), PersonalDataError> {
    let actor = match &raw.metadata.actor {
        Actor::User { id } => match change(id.as_str()) {
            Some(text) => Some(UserId::try_from(text).map_err(|_| PersonalDataError::NotAUserId)?),
            None => None,
        },
        Actor::System { .. } => None,
    };
    for pointer in pointers {
        if let Some(Value::String(text)) = raw.payload.pointer_mut(pointer)
            && let Some(changed) = change(text)
        {
            *text = changed;
        }
    }
    if let Some(id) = actor {
        raw.metadata.actor = Actor::User { id };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;
    use events::Metadata;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    const POINTERS: &[&str] = &["/bidderId", "/previousLeaderId", "/result/winnerId"];

    fn envelope(actor: &str, payload: Value) -> RawEnvelope {
        RawEnvelope {
            event_id: Uuid::from_u128(1),
            aggregate_id: Uuid::from_u128(2),
            aggregate_type: "Auction".to_owned(),
            event_type: "BidPlaced".to_owned(),
            version: 3,
            schema_version: 1,
            occurred_at: Utc::now(),
            payload,
            metadata: Metadata {
                correlation_id: "c".to_owned(),
                causation_id: "c".to_owned(),
                actor: Actor::User {
                    id: UserId::try_from(actor).unwrap(),
                },
                idempotency_key: None,
                request_fingerprint: None,
            },
        }
    }

    fn key(n: u128) -> KeyId {
        KeyId(Uuid::from_u128(n))
    }

    #[test]
    fn given_user_ids_at_the_pointers_and_as_actor_when_sealed_then_only_pseudonyms_remain() {
        // Given a bid by carol over dave, with a title that looks like a pseudonym
        let mut raw = envelope(
            "carol",
            json!({"bidderId": "carol", "previousLeaderId": "dave",
                   "title": "subject:00000000-0000-0000-0000-000000000009",
                   "result": {"winnerId": "carol"}}),
        );
        assert_eq!(
            subjects(&raw, POINTERS),
            BTreeSet::from(["carol".to_owned(), "dave".to_owned()])
        );
        let keys = HashMap::from([("carol".to_owned(), key(1)), ("dave".to_owned(), key(2))]);

        // When sealed
        seal(&mut raw, POINTERS, &keys).unwrap();

        // Then no id is left in the clear, and the title is untouched
        let text = serde_json::to_string(&raw).unwrap();
        assert!(!text.contains("carol") && !text.contains("dave"), "{text}");
        assert_eq!(raw.payload["bidderId"], pseudonym(key(1)));
        assert_eq!(raw.payload["result"]["winnerId"], pseudonym(key(1)));
        assert_eq!(
            raw.payload["title"],
            "subject:00000000-0000-0000-0000-000000000009"
        );
        assert_eq!(key_ids(&raw, POINTERS), BTreeSet::from([key(1), key(2)]));

        // And opening with both subjects known gives the event back
        let mut opened = raw.clone();
        let known = HashMap::from([(key(1), "carol".to_owned()), (key(2), "dave".to_owned())]);
        open(&mut opened, POINTERS, &known).unwrap();
        assert_eq!(opened.payload["previousLeaderId"], "dave");
        assert_eq!(
            opened.metadata.actor,
            envelope("carol", json!({})).metadata.actor
        );

        // And with carol forgotten, her places read as erased and dave's as dave
        let mut forgotten = raw.clone();
        open(
            &mut forgotten,
            POINTERS,
            &HashMap::from([(key(2), "dave".to_owned())]),
        )
        .unwrap();
        assert_eq!(forgotten.payload["bidderId"], erased(key(1)));
        assert_eq!(forgotten.payload["previousLeaderId"], "dave");
        let Actor::User { id } = &forgotten.metadata.actor else {
            panic!("a user");
        };
        assert_eq!(id.as_str(), erased(key(1)));
    }

    #[test]
    fn given_a_subject_without_a_key_when_sealed_then_it_is_refused_and_nothing_changes() {
        let mut raw = envelope("carol", json!({"bidderId": "carol"}));
        let before = raw.clone();
        let result = seal(
            &mut raw,
            POINTERS,
            &HashMap::from([("dave".to_owned(), key(2))]),
        );
        assert!(matches!(result, Err(PersonalDataError::NoKey(s)) if s == "carol"));
        assert_eq!(raw, before);
    }

    #[test]
    fn given_erased_markers_when_sealed_again_then_they_stay_and_need_no_key() {
        let marker = erased(key(1));
        let mut raw = envelope(&marker, json!({"previousLeaderId": marker}));
        assert!(subjects(&raw, POINTERS).is_empty());
        seal(&mut raw, POINTERS, &HashMap::new()).unwrap();
        assert_eq!(raw.payload["previousLeaderId"], marker);
    }
}
