//! Page cursors: the last key of a page (the DynamoDB LastEvaluatedKey), as base64url JSON.
//!
//! A cursor is only accepted for the user it was issued to and only when it holds a
//! well-formed notification id, so that an edited cursor is a 400 and never a DynamoDB
//! validation error or a look into another partition.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use events::{AuctionId, UserId};
use serde::{Deserialize, Serialize};

use super::error::NotifierError;
use super::notification::{Kind, notification_id};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Key {
    user_id: String,
    notification_id: String,
}

/// The cursor that continues after `notification_id` in `user`'s inbox.
pub(crate) fn encode(user: &UserId, notification_id: &str) -> String {
    let key = Key {
        user_id: user.to_string(),
        notification_id: notification_id.to_owned(),
    };
    // Serializing two strings cannot fail; an empty cursor would only restart the listing.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key).unwrap_or_default())
}

/// The notification id a cursor continues after, if `user` may use it.
pub(crate) fn decode(user: &UserId, cursor: &str) -> Result<String, NotifierError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| NotifierError::InvalidCursor)?;
    let key: Key = serde_json::from_slice(&bytes).map_err(|_| NotifierError::InvalidCursor)?;
    if key.user_id != user.as_str() || !well_formed(&key.notification_id) {
        return Err(NotifierError::InvalidCursor);
    }
    Ok(key.notification_id)
}

/// Whether `id` is exactly what [`notification_id`] writes.
fn well_formed(id: &str) -> bool {
    let mut parts = id.split('#');
    let (Some(at), Some(aggregate), Some(version), Some(kind), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let parsed = (
        DateTime::parse_from_rfc3339(at).map(|at| at.with_timezone(&Utc)),
        aggregate.parse().map(AuctionId),
        version.parse::<u64>(),
        Kind::parse(kind),
    );
    match parsed {
        (Ok(at), Ok(aggregate), Ok(version), Some(kind)) => {
            notification_id(at, aggregate, version, kind) == id
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    fn user(name: &str) -> UserId {
        UserId::try_from(name).unwrap()
    }

    fn an_id() -> String {
        notification_id(
            Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap(),
            AuctionId(Uuid::from_u128(7)),
            12,
            Kind::Lost,
        )
    }

    #[test]
    fn a_cursor_reads_back_for_the_user_it_was_issued_to() {
        let cursor = encode(&user("bob"), &an_id());

        assert_eq!(decode(&user("bob"), &cursor).unwrap(), an_id());
    }

    #[test]
    fn a_cursor_of_another_user_is_refused() {
        // Given bob's cursor
        let cursor = encode(&user("bob"), &an_id());

        // When cat presents it, then it is invalid
        assert!(matches!(
            decode(&user("cat"), &cursor),
            Err(NotifierError::InvalidCursor)
        ));
    }

    #[test]
    fn a_malformed_or_edited_cursor_is_refused() {
        let edited_key = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"userId": "bob", "notificationId": "zzz#1#2#won"}).to_string(),
        );
        let extra_field = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"userId": "bob", "notificationId": an_id(), "x": 1}).to_string(),
        );
        let padded_version = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"userId": "bob", "notificationId": an_id().replace("#0000", "#000")})
                .to_string(),
        );

        for cursor in [
            "",
            "not base64!",
            "bm90IGpzb24",
            &edited_key,
            &extra_field,
            &padded_version,
        ] {
            assert!(
                matches!(
                    decode(&user("bob"), cursor),
                    Err(NotifierError::InvalidCursor)
                ),
                "{cursor:?} was accepted"
            );
        }
    }
}
