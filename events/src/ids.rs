use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

/// Identifies one auction; it is also the event stream's aggregate id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct AuctionId(pub Uuid);

impl fmt::Display for AuctionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An auction's stream id, as the envelope and the store carry it.
impl From<Uuid> for AuctionId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl From<AuctionId> for Uuid {
    fn from(id: AuctionId) -> Self {
        id.0
    }
}

/// Identifies one bid (or buy-now purchase) command; a retried command keeps its id, which is
/// how the aggregate recognises a command that already took effect.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct BidId(pub Uuid);

impl fmt::Display for BidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A user as the identity provider names them (the JWT `sub` claim): opaque, 1 to 128 visible
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

/// The text given as a user id is empty, too long or contains control characters.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("a user id is 1 to 128 characters without control characters")]
pub struct InvalidUserId;

impl UserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidUserId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let len = value.chars().count();
        if (1..=128).contains(&len) && !value.chars().any(char::is_control) {
            Ok(Self(value))
        } else {
            Err(InvalidUserId)
        }
    }
}

impl TryFrom<&str> for UserId {
    type Error = InvalidUserId;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::try_from(value.to_owned())
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Written by hand because the derive would describe the unvalidated `String` that serde reads first.
impl JsonSchema for UserId {
    fn schema_name() -> Cow<'static, str> {
        "UserId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A user as the identity provider names them (the JWT `sub` claim).",
            "type": "string",
            "minLength": 1, "maxLength": 128, "pattern": "^[^\\p{Cc}]*$"
        })
    }
}
