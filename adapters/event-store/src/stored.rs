//! One event as the store keeps it, whichever aggregate it belongs to.

use events::{Actor, RawEnvelope};

/// One event as stored: its wire envelope (payload not yet upcast) and its chain hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub envelope: RawEnvelope,
    /// Hex SHA-256 over the previous event's hash and this event's canonical content.
    pub hash: String,
}

impl StoredEvent {
    pub fn version(&self) -> u64 {
        self.envelope.version
    }

    /// The idempotency key of the command that appended this event, scoped to its actor.
    pub fn command_key(&self) -> Option<String> {
        let metadata = &self.envelope.metadata;
        metadata
            .idempotency_key
            .as_deref()
            .map(|key| scoped_key(&metadata.actor, key))
    }
}

/// Idempotency keys are chosen by clients, so they are only unique per actor.
///
/// The encoding is injective, so that no crafted user id can borrow another user's key: an
/// actor name without `#` keeps the original `user:<id>#<key>` form (the name ends at the first
/// `#`); a name with `#` is length-prefixed, `user#<bytes>:<id>#<key>`, which the original form
/// can never produce (it has `:` right after the kind). Keeping the original form where it was
/// already unambiguous keeps every existing record, stored `commandKey` and in-flight retry
/// valid across a deploy; only the ambiguous names, the ones that could collide, change.
pub(crate) fn scoped_key(actor: &Actor, key: &str) -> String {
    let (kind, name) = match actor {
        Actor::User { id } => ("user", id.as_str()),
        Actor::System { name } => ("system", name.as_str()),
    };
    if name.contains('#') {
        format!("{kind}#{}:{name}#{key}", name.len())
    } else {
        format!("{kind}:{name}#{key}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn user(id: &str) -> Actor {
        Actor::User {
            id: events::UserId::try_from(id).unwrap(),
        }
    }

    #[test]
    fn given_crafted_user_ids_that_join_to_the_same_text_when_scoped_then_their_keys_differ() {
        // Given user "a#b" with key "c" and user "a" with key "b#c" (both join to "a#b#c")
        let crafted = scoped_key(&user("a#b"), "c");
        let plain = scoped_key(&user("a"), "b#c");
        // Then their scoped keys differ, and neither takes the other's form
        assert_ne!(crafted, plain);
        assert_eq!(plain, "user:a#b#c");
        assert_eq!(crafted, "user#3:a#b#c");
        // And a user named like the length-prefixed form does not reach it either
        assert_ne!(scoped_key(&user("#3:a"), "b#c"), crafted);
        assert_ne!(
            scoped_key(&Actor::System { name: "a".into() }, "b"),
            scoped_key(&user("a"), "b")
        );
    }

    #[test]
    fn given_an_actor_without_a_hash_sign_when_scoped_then_the_key_is_in_the_form_stored_before() {
        // Records and `commandKey`s written before the encoding changed stay valid.
        assert_eq!(scoped_key(&user("bob"), "key-1"), "user:bob#key-1");
        assert_eq!(scoped_key(&user("bob"), "a#b/c"), "user:bob#a#b/c");
        assert_eq!(
            scoped_key(
                &Actor::System {
                    name: "payment-saga".into()
                },
                "k"
            ),
            "system:payment-saga#k"
        );
    }
}
