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

impl AuctionId {
    /// The UUID v5 namespace of the ids of relistings. Fixed for ever, like
    /// [`ItemId::NAMESPACE`].
    pub const RELISTING_NAMESPACE: Uuid =
        Uuid::from_u128(0xea9a_3f13_1db1_456a_a32a_ebdc_32af_3af1);

    /// The auction that relists `previous`: fixed by it, so that a relisting asked for again
    /// (a retry, a second tab) names the same auction and makes no second one.
    pub fn relisting(previous: AuctionId) -> Self {
        Self(Uuid::new_v5(
            &Self::RELISTING_NAMESPACE,
            previous.0.as_bytes(),
        ))
    }
}

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

/// Identifies one item, the lot an auction sells; it is also the Item stream's aggregate id.
/// One lot per auction: an auction's item id is the UUID v5 of the auction id, unless the
/// auction relists an item an earlier one did not sell (`AuctionCreated::item_id`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct ItemId(pub Uuid);

impl ItemId {
    /// The UUID v5 namespace of the item ids derived from auction ids. Fixed for ever: changing
    /// it would orphan every item stream.
    pub const NAMESPACE: Uuid = Uuid::from_u128(0x8276_dafb_8f8c_4194_bc42_bb8a_3b8b_d9a9);

    /// The item the auction `auction_id` sells: the UUID v5 of the auction id's 16 bytes in
    /// [`ItemId::NAMESPACE`]. Everything that knows the auction (the API creating it, the
    /// payment saga transferring it, a reader of its detail) names the same item without
    /// looking it up, unless it is a relisting: then `AuctionCreated::item` names the item
    /// the first auction registered.
    pub fn for_auction(auction_id: AuctionId) -> Self {
        Self(Uuid::new_v5(&Self::NAMESPACE, auction_id.0.as_bytes()))
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An item's stream id, as the envelope and the store carry it.
impl From<Uuid> for ItemId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl From<ItemId> for Uuid {
    fn from(id: ItemId) -> Self {
        id.0
    }
}

/// Identifies one subject of personal data: the key id of their per-subject data key (the UUID in
/// their pseudonym, `subject:<key id>`); it is also the Subject stream's aggregate id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct SubjectId(pub Uuid);

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A subject's stream id, as the envelope and the store carry it.
impl From<Uuid> for SubjectId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl From<SubjectId> for Uuid {
    fn from(id: SubjectId) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auctions_item_id_is_fixed_by_the_auction_id_alone() {
        let auction = AuctionId(Uuid::from_u128(0x0b7e_7a4c_3f1e_4c55_9d7a_2f0c_8e5b_6a10));
        let item = ItemId::for_auction(auction);

        // The same auction always names the same item, a version 5 UUID
        assert_eq!(item, ItemId::for_auction(auction));
        assert_eq!(item.0.get_version_num(), 5);
        // Pinned: a change of namespace or of the name's bytes would orphan every item stream
        assert_eq!(
            item.to_string(),
            Uuid::new_v5(&ItemId::NAMESPACE, auction.0.as_bytes()).to_string()
        );
        assert_eq!(item.to_string(), "e4ce1cbc-6ee9-5dad-9d4a-c032b6b63160");
        // Another auction names another item, and no item shares its auction's id
        assert_ne!(item, ItemId::for_auction(AuctionId(Uuid::from_u128(1))));
        assert_ne!(item.0, auction.0);
    }
}
