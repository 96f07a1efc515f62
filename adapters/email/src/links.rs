//! Unsubscribe links that work without signing in: a token naming the user (their pseudonym),
//! the topic (or every topic) and an expiry, with a MAC over all three.
//!
//! `v1.<base64url of {"u","t","e"}>.<base64url of the MAC>`. The MAC is HMAC-SHA-256 under a
//! key the functions never hold in AWS ([`crate::KmsLinkKey`]: KMS computes and checks it), so
//! a leaked function environment forges no links. The user id in a link is a pseudonym: a
//! link in a forwarded email says nothing about who the user is.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use events::UserId;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::EmailError;
use crate::ports::Boxed;
use crate::topic::Topic;

/// How long a link works: long enough for an email read late, short enough that an old
/// forwarded email stops working.
pub const LINK_TTL: TimeDelta = TimeDelta::days(30);

const VERSION: &str = "v1";

/// Computes and checks the links' MACs.
pub trait LinkKey: Send + Sync {
    /// The MAC of `message`.
    fn mac<'a>(&'a self, message: &'a [u8]) -> Boxed<'a, Vec<u8>>;
    /// Whether `mac` is the MAC of `message`.
    fn verify<'a>(&'a self, message: &'a [u8], mac: &'a [u8]) -> Boxed<'a, bool>;
}

/// What a link asks: turn off `topic` (every topic when `None`) for `user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub user: UserId,
    pub topic: Option<Topic>,
    pub expires_at: DateTime<Utc>,
}

/// Why a link does nothing. Each variant says how the caller handles it (API status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    /// Not a token this platform makes. (400 UNSUBSCRIBE_LINK_INVALID)
    #[error("the unsubscribe link is not one of ours: it is incomplete or garbled")]
    Malformed,
    /// Well formed, but its MAC does not match: changed after it was made. (400
    /// UNSUBSCRIBE_LINK_INVALID)
    #[error("the unsubscribe link was changed after it was sent")]
    Tampered,
    /// Genuine but too old. (410 UNSUBSCRIBE_LINK_EXPIRED: the user signs in to change their
    /// preferences instead)
    #[error("the unsubscribe link expired at {0}; sign in to change your email preferences")]
    Expired(DateTime<Utc>),
    /// The key could not be used. (503, or 500 for a refused request)
    #[error(transparent)]
    Key(#[from] EmailError),
}

#[derive(Serialize, Deserialize)]
struct Claims {
    u: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
    e: i64,
}

/// The token of `link`.
pub async fn sign(key: &dyn LinkKey, link: &Unsubscribe) -> Result<String, EmailError> {
    let claims = Claims {
        u: link.user.as_str().to_owned(),
        t: link.topic.map(|topic| topic.as_str().to_owned()),
        e: link.expires_at.timestamp(),
    };
    let body = serde_json::to_vec(&claims).map_err(|e| EmailError::Corrupt(e.to_string()))?;
    let signed = format!("{VERSION}.{}", URL_SAFE_NO_PAD.encode(body));
    let mac = key.mac(signed.as_bytes()).await?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac)))
}

/// What `token` asks, if its MAC holds and it has not expired at `now`. The MAC is checked
/// before anything the token says is believed, the expiry included.
pub async fn verify(
    key: &dyn LinkKey,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Unsubscribe, LinkRefused> {
    let token = token.trim();
    let (signed, mac) = token.rsplit_once('.').ok_or(LinkRefused::Malformed)?;
    let (version, body) = signed.split_once('.').ok_or(LinkRefused::Malformed)?;
    if version != VERSION || token.len() > 1024 {
        return Err(LinkRefused::Malformed);
    }
    let mac = URL_SAFE_NO_PAD
        .decode(mac)
        .map_err(|_| LinkRefused::Malformed)?;
    let body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| LinkRefused::Malformed)?;
    if !key.verify(signed.as_bytes(), &mac).await? {
        return Err(LinkRefused::Tampered);
    }
    // Past the MAC the claims are ours; unreadable ones mean a key shared with other tokens.
    let claims: Claims = serde_json::from_slice(&body).map_err(|_| LinkRefused::Malformed)?;
    let user = UserId::try_from(claims.u).map_err(|_| LinkRefused::Malformed)?;
    let topic = match claims.t {
        None => None,
        Some(name) => Some(Topic::parse(&name).ok_or(LinkRefused::Malformed)?),
    };
    let expires_at = DateTime::from_timestamp(claims.e, 0).ok_or(LinkRefused::Malformed)?;
    if now >= expires_at {
        return Err(LinkRefused::Expired(expires_at));
    }
    Ok(Unsubscribe {
        user,
        topic,
        expires_at,
    })
}

/// An HMAC-SHA-256 key held in memory: the tests' and the in-memory platform's stand-in for
/// the KMS key.
pub struct LocalLinkKey(Vec<u8>);

impl LocalLinkKey {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    fn hmac(&self) -> Result<Hmac<Sha256>, EmailError> {
        Hmac::<Sha256>::new_from_slice(&self.0).map_err(|e| EmailError::Refused(e.to_string()))
    }
}

impl std::fmt::Debug for LocalLinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.write_str("LocalLinkKey(..)")
    }
}

impl LinkKey for LocalLinkKey {
    fn mac<'a>(&'a self, message: &'a [u8]) -> Boxed<'a, Vec<u8>> {
        Box::pin(async move {
            let mut mac = self.hmac()?;
            mac.update(message);
            Ok(mac.finalize().into_bytes().to_vec())
        })
    }

    fn verify<'a>(&'a self, message: &'a [u8], mac: &'a [u8]) -> Boxed<'a, bool> {
        Box::pin(async move {
            let mut expected = self.hmac()?;
            expected.update(message);
            // Constant time: a guesser learns nothing from how long a refusal takes.
            Ok(expected.verify_slice(mac).is_ok())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(expires_at: DateTime<Utc>) -> Unsubscribe {
        Unsubscribe {
            user: UserId::try_from("subject:7f2c").unwrap(),
            topic: Some(Topic::Outbid),
            expires_at,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn a_link_reads_back_until_it_expires() {
        // Given a link made to expire at noon
        let key = LocalLinkKey::new(b"link key".to_vec());
        let made = link(at("2026-12-06T12:00:00Z"));
        let token = sign(&key, &made).await.unwrap();

        // When it is followed before noon, then it says what it was made to say
        assert_eq!(
            verify(&key, &token, at("2026-12-06T11:59:59Z")).await,
            Ok(made)
        );
        // and at noon it has expired
        assert_eq!(
            verify(&key, &token, at("2026-12-06T12:00:00Z")).await,
            Err(LinkRefused::Expired(at("2026-12-06T12:00:00Z")))
        );
    }

    #[tokio::test]
    async fn a_link_changed_in_any_part_is_refused_as_tampered() {
        // Given a genuine link
        let key = LocalLinkKey::new(b"link key".to_vec());
        let token = sign(&key, &link(at("2030-01-01T00:00:00Z"))).await.unwrap();
        let now = at("2026-12-06T00:00:00Z");
        let (signed, mac) = token.rsplit_once('.').unwrap();

        // When its claims name another user (or topic, or expiry), MAC kept
        let other = Claims {
            u: "subject:9999".to_owned(),
            t: None,
            e: at("2031-01-01T00:00:00Z").timestamp(),
        };
        let forged = format!(
            "v1.{}.{mac}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap())
        );
        // Then it is refused as tampered
        assert_eq!(verify(&key, &forged, now).await, Err(LinkRefused::Tampered));

        // and so is the genuine body with a changed MAC, or one made under another key
        let mut bytes = URL_SAFE_NO_PAD.decode(mac).unwrap();
        bytes[0] ^= 1;
        let flipped = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(
            verify(&key, &flipped, now).await,
            Err(LinkRefused::Tampered)
        );
        let elsewhere = LocalLinkKey::new(b"another key".to_vec());
        assert_eq!(
            verify(&elsewhere, &token, now).await,
            Err(LinkRefused::Tampered)
        );
    }

    #[tokio::test]
    async fn a_garbled_link_is_refused_as_not_ours() {
        let key = LocalLinkKey::new(b"link key".to_vec());
        let now = at("2026-12-06T00:00:00Z");
        for garbled in ["", "v1", "v1.abc", "v2.abc.def", "v1.@@@.abc", "v1.abc.@@@"] {
            assert_eq!(
                verify(&key, garbled, now).await,
                Err(LinkRefused::Malformed),
                "{garbled:?}"
            );
        }
    }
}
