//! Personal values as the log stores them. A user id is a pseudonym, `subject:<key id>`,
//! which only the subject's entry in the key store turns back into the id (the id is sealed
//! there under the subject's data key). Other personal text is a token, `pii:v1:<key id>:<sealed>`, where
//! `<sealed>` is the value encrypted (AES-256-GCM, a fresh 96-bit nonce each time) under its
//! subject's data key, bound to the key id, in unpadded base64url. The same value sealed twice
//! gives two tokens: events cannot be linked by comparing them, only by their key id, which
//! names the subject's key and nothing else (a pseudonym).
//!
//! Once the key is deleted the value cannot be recovered by anyone, including us; reading the
//! token then gives the subject's erased marker, `erased:<key id>`, which is still one subject
//! apart from all others (an auction's rules keep telling its bidders apart).

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::PersonalDataError;
pub use crate::key::{DataKey, KeyId};

/// What every token starts with.
pub const TOKEN_PREFIX: &str = "pii:v1:";

/// What a pseudonym is, followed by its subject's key id.
pub const PSEUDONYM_PREFIX: &str = "subject:";

/// What an erased value reads as, followed by its subject's key id.
pub const ERASED_PREFIX: &str = "erased:";

const NONCE_BYTES: usize = 12;

/// A token as read: whose key sealed it, and the sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub key_id: KeyId,
    sealed: Vec<u8>,
}

impl Token {
    /// Reads `text` as a token; `None` when it is not one (a value written before tokens, or
    /// an erased marker).
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(TOKEN_PREFIX)?;
        let (key_id, sealed) = rest.split_once(':')?;
        let key_id = KeyId(Uuid::parse_str(key_id).ok()?);
        let sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        (sealed.len() > NONCE_BYTES).then_some(Self { key_id, sealed })
    }

    /// The value, with the subject's key.
    pub fn open(&self, key: &DataKey) -> Result<String, PersonalDataError> {
        let (nonce, ciphertext) = self.sealed.split_at(NONCE_BYTES);
        let aad = associated(self.key_id);
        let plaintext = cipher(key)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| PersonalDataError::Tampered(self.key_id))?;
        String::from_utf8(plaintext).map_err(|_| PersonalDataError::Tampered(self.key_id))
    }
}

/// Seals `value` under the subject's key: a token.
pub fn seal(key_id: KeyId, key: &DataKey, value: &str) -> Result<String, PersonalDataError> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = associated(key_id);
    let ciphertext = cipher(key)
        .encrypt(
            &nonce,
            Payload {
                msg: value.as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| PersonalDataError::Sealing(key_id))?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    Ok(format!(
        "{TOKEN_PREFIX}{key_id}:{}",
        URL_SAFE_NO_PAD.encode(sealed)
    ))
}

/// What a value of a forgotten subject reads as.
pub fn erased(key_id: KeyId) -> String {
    format!("{ERASED_PREFIX}{key_id}")
}

/// What an answer puts before a pseudonym it wants shown masked (`masked:subject:<key id>`):
/// revealed as [`mask`] of the user id (`crate::reveal_json`).
pub const MASKED_PREFIX: &str = "masked:";

/// A pseudonym to be shown masked.
pub fn masked(pseudonym: &str) -> String {
    format!("{MASKED_PREFIX}{pseudonym}")
}

/// A user id as other bidders see it in a bid history, the way large auction sites show it:
/// its first and last characters around three stars (`bidder-bob` -> `b***b`); an id of one or
/// two characters shows as `***` (its characters would be all of it).
pub fn mask(user_id: &str) -> String {
    let mut chars = user_id.chars();
    match (chars.next(), chars.next_back()) {
        (Some(first), Some(last)) if user_id.chars().count() > 2 => format!("{first}***{last}"),
        _ => "***".to_owned(),
    }
}

/// The subject's pseudonym: what the log holds where the user id was.
pub fn pseudonym(key_id: KeyId) -> String {
    format!("{PSEUDONYM_PREFIX}{key_id}")
}

/// The key id a pseudonym names; `None` for any other text (a user id written before
/// pseudonyms, an erased marker).
pub fn pseudonym_key(text: &str) -> Option<KeyId> {
    text.strip_prefix(PSEUDONYM_PREFIX)
        .and_then(|id| Uuid::parse_str(id).ok())
        .map(KeyId)
}

/// Whether `text` is an erased marker: a value nobody can read any more, which is sealed again
/// as it is (it names no one).
pub fn is_erased(text: &str) -> bool {
    text.strip_prefix(ERASED_PREFIX)
        .is_some_and(|id| Uuid::parse_str(id).is_ok())
}

/// Binds the ciphertext to its key id: a token's sealed part moved under another key id does
/// not open.
fn associated(key_id: KeyId) -> String {
    format!("{TOKEN_PREFIX}{key_id}")
}

fn cipher(key: &DataKey) -> Aes256Gcm {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_user_id_is_masked_to_its_first_and_last_characters_and_a_short_one_whole() {
        assert_eq!(mask("bidder-bob"), "b***b");
        assert_eq!(mask("Zoë"), "Z***ë");
        assert_eq!(mask("ab"), "***");
        assert_eq!(mask("a"), "***");
    }

    fn key_id(n: u128) -> KeyId {
        KeyId(Uuid::from_u128(n))
    }

    #[test]
    fn given_a_value_sealed_under_a_key_then_only_that_key_opens_it() {
        let key = DataKey::random();
        let token = seal(key_id(1), &key, "carol@example.com").unwrap();

        // Then the token names the key and holds no plaintext
        assert!(token.starts_with("pii:v1:00000000-0000-0000-0000-000000000001:"));
        assert!(!token.contains("carol"));
        // And the key opens it, another key does not
        let parsed = Token::parse(&token).unwrap();
        assert_eq!(parsed.key_id, key_id(1));
        assert_eq!(parsed.open(&key).unwrap(), "carol@example.com");
        assert!(matches!(
            parsed.open(&DataKey::random()),
            Err(PersonalDataError::Tampered(_))
        ));
    }

    #[test]
    fn given_the_same_value_sealed_twice_then_the_tokens_differ() {
        let key = DataKey::random();
        let first = seal(key_id(1), &key, "carol").unwrap();
        let second = seal(key_id(1), &key, "carol").unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn given_a_tokens_ciphertext_moved_under_another_key_id_then_it_does_not_open() {
        let key = DataKey::random();
        let token = seal(key_id(1), &key, "carol").unwrap();
        let moved = token.replace(
            "00000000-0000-0000-0000-000000000001",
            "00000000-0000-0000-0000-000000000002",
        );
        let parsed = Token::parse(&moved).unwrap();
        assert!(parsed.open(&key).is_err());
    }

    #[test]
    fn given_text_that_is_not_a_token_then_it_does_not_parse() {
        for text in [
            "carol",
            "pii:v1:",
            "pii:v1:not-a-uuid:AAAA",
            "pii:v1:00000000-0000-0000-0000-000000000001:",
            "pii:v1:00000000-0000-0000-0000-000000000001:!!",
            "pii:v2:00000000-0000-0000-0000-000000000001:AAAAAAAAAAAAAAAAAAAAAAAA",
            "erased:00000000-0000-0000-0000-000000000001",
        ] {
            assert!(Token::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn pseudonyms_name_the_key_and_nothing_else() {
        let text = pseudonym(key_id(7));
        assert_eq!(text, "subject:00000000-0000-0000-0000-000000000007");
        assert_eq!(pseudonym_key(&text), Some(key_id(7)));
        assert_eq!(pseudonym_key("subject:carol"), None);
        assert_eq!(pseudonym_key("carol"), None);
        assert_eq!(pseudonym_key(&erased(key_id(7))), None);
    }

    #[test]
    fn erased_markers_name_the_key_and_are_recognised() {
        let marker = erased(key_id(7));
        assert_eq!(marker, "erased:00000000-0000-0000-0000-000000000007");
        assert!(is_erased(&marker));
        assert!(!is_erased("erased:carol"));
        assert!(!is_erased("carol"));
        assert_eq!(format!("{:?}", DataKey::random()), "DataKey(..)");
    }
}
