//! The WebSocket protocol: JSON text frames. The client subscribes to auctions; the server
//! answers each request and pushes updates of the auctions subscribed to. API Gateway routes a
//! client message by its `action` (route selection expression `$request.body.action`).

use chrono::{DateTime, Utc};
use events::{AuctionId, Money, UserId};
use serde::{Deserialize, Serialize};

use crate::error::LiveError;

/// The most a client message may hold; API Gateway's own frame limit is 32 KB.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 4096;

/// What a client may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase", deny_unknown_fields)]
pub enum ClientMessage {
    /// Push me every update of this auction from now on.
    #[serde(rename_all = "camelCase")]
    Subscribe { auction_id: AuctionId },
    #[serde(rename_all = "camelCase")]
    Unsubscribe { auction_id: AuctionId },
    /// Keeps an idle connection open (API Gateway closes one after 10 idle minutes). A struct
    /// variant, so that unknown fields are refused here too.
    Ping {},
}

impl ClientMessage {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Self, LiveError> {
        if text.len() > MAX_CLIENT_MESSAGE_BYTES {
            return Err(LiveError::InvalidMessage(format!(
                "a message is at most {MAX_CLIENT_MESSAGE_BYTES} bytes"
            )));
        }
        serde_json::from_str(text).map_err(|error| LiveError::InvalidMessage(error.to_string()))
    }
}

/// A price as the HTTP API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    pub amount_minor: i64,
    pub currency: String,
}

impl From<&Money> for Price {
    fn from(money: &Money) -> Self {
        Self {
            amount_minor: money.amount_minor,
            currency: money.currency.to_string(),
        }
    }
}

/// How an auction ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum EndResult {
    #[serde(rename_all = "camelCase")]
    Sold {
        winner_id: UserId,
        final_price: Price,
    },
    #[serde(rename_all = "camelCase")]
    Unsold { reason: String },
}

/// What the server sends: answers to the client's requests, and updates. Every update carries
/// the auction's aggregate version: a client applies an update only when its version is above
/// the last one it applied for that auction, which drops duplicates (a retried push) and stale
/// pushes (after a reconnect and a fresh read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    #[serde(rename_all = "camelCase")]
    Subscribed {
        auction_id: AuctionId,
    },
    #[serde(rename_all = "camelCase")]
    Unsubscribed {
        auction_id: AuctionId,
    },
    Pong,
    /// The request could not be served; the connection stays open.
    #[serde(rename_all = "camelCase")]
    Error {
        code: String,
        message: String,
    },
    /// A bid took effect: the visible price, who leads, how many bids, and the end (which a
    /// soft-close extension in the same command may have moved).
    #[serde(rename_all = "camelCase")]
    BidPlaced {
        auction_id: AuctionId,
        version: u64,
        current_price: Price,
        leader_id: UserId,
        bid_count: u32,
        ends_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    Extended {
        auction_id: AuctionId,
        version: u64,
        ends_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    Ended {
        auction_id: AuctionId,
        version: u64,
        result: EndResult,
    },
    #[serde(rename_all = "camelCase")]
    Cancelled {
        auction_id: AuctionId,
        version: u64,
    },
}

impl ServerMessage {
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self::Error {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// The answer to a failed request, by what went wrong.
    pub fn from_error(error: &LiveError) -> Self {
        let code = match error {
            LiveError::InvalidMessage(_) => "INVALID_MESSAGE",
            LiveError::TooManySubscriptions(_) => "TOO_MANY_SUBSCRIPTIONS",
            _ => "UNAVAILABLE",
        };
        Self::error(code, error.to_string())
    }

    /// The auction and version of an update; `None` for the answers.
    pub fn version(&self) -> Option<(AuctionId, u64)> {
        match self {
            Self::BidPlaced {
                auction_id,
                version,
                ..
            }
            | Self::Extended {
                auction_id,
                version,
                ..
            }
            | Self::Ended {
                auction_id,
                version,
                ..
            }
            | Self::Cancelled {
                auction_id,
                version,
            } => Some((*auction_id, *version)),
            _ => None,
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_subscribe_message_names_its_auction() {
        let message = ClientMessage::parse(
            r#"{"action":"subscribe","auctionId":"0194b7a0-0000-7000-8000-000000000001"}"#,
        )
        .unwrap();

        assert_eq!(
            message,
            ClientMessage::Subscribe {
                auction_id: AuctionId("0194b7a0-0000-7000-8000-000000000001".parse().unwrap())
            }
        );
    }

    #[test]
    fn unknown_actions_fields_and_ids_are_invalid_messages() {
        for text in [
            "",
            "null",
            "[]",
            r#"{"action":"shout"}"#,
            r#"{"action":"subscribe"}"#,
            r#"{"action":"subscribe","auctionId":"not-a-uuid"}"#,
            r#"{"action":"ping","extra":1}"#,
            r#"{"auctionId":"0194b7a0-0000-7000-8000-000000000001"}"#,
        ] {
            let error = ClientMessage::parse(text).unwrap_err();
            assert!(
                matches!(error, LiveError::InvalidMessage(_)),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn an_oversized_message_is_refused_before_it_is_parsed() {
        let text = format!(r#"{{"action":"ping","pad":"{}"}}"#, "x".repeat(5000));

        let error = ClientMessage::parse(&text).unwrap_err();

        assert!(error.to_string().contains("at most 4096 bytes"), "{error}");
    }

    #[test]
    fn updates_serialize_with_their_type_version_and_camel_case_fields() {
        let message = ServerMessage::Extended {
            auction_id: AuctionId("0194b7a0-0000-7000-8000-000000000001".parse().unwrap()),
            version: 7,
            ends_at: "2026-11-27T10:00:00Z".parse().unwrap(),
        };

        let json: serde_json::Value = serde_json::from_str(&message.to_json()).unwrap();

        assert_eq!(
            json,
            serde_json::json!({
                "type": "extended",
                "auctionId": "0194b7a0-0000-7000-8000-000000000001",
                "version": 7,
                "endsAt": "2026-11-27T10:00:00Z"
            })
        );
        assert_eq!(message.version().unwrap().1, 7);
    }
}
