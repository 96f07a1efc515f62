//! The Item aggregate's contract: the lot an auction sells, and who has owned it. Its events are
//! the ownership ledger: the seller registers the item when the auction is created, the payment
//! saga transfers it to the buyer it charged, and reverses the transfer when the sale cannot
//! complete; a seller who relists it unsold moves it to the new auction. Stored in the same Events table as the Auction, under their own `aggregateType`
//! (`Item`) and their own streams (keyed by [`ItemId`]), with the same hash chain, snapshots and
//! time travel.
//!
//! Like the Auction's events, the payloads only ever change additively: a new meaning gets a
//! new schema version and an upcaster in [`ItemEvent`]'s decoder. Schemas are in
//! `events/schemas/`, golden samples in `events/samples/`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codec::EventCodec;
use crate::error::DecodeError;
use crate::ids::{AuctionId, ItemId, UserId};
use crate::money::Money;
use crate::payloads::{Payload, payloads};
use crate::upcast::current_as;

/// The stream name of the Item aggregate (its codec's [`EventCodec::AGGREGATE_TYPE`]).
pub const ITEM_AGGREGATE_TYPE: &str = "Item";

/// The item entered the ownership ledger, owned by the seller who put it up for auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemRegistered {
    pub item_id: ItemId,
    /// The auction the item was registered for (the one that sells it).
    pub auction_id: AuctionId,
    /// Its first owner: the seller.
    pub owner: UserId,
    /// The auction's title when the item was registered.
    pub title: String,
    pub registered_at: DateTime<Utc>,
}

/// The item changed hands by a sale: the payment saga moved it from the seller to the buyer it
/// had charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnershipTransferred {
    pub item_id: ItemId,
    /// The auction that sold it.
    pub auction_id: AuctionId,
    /// The seller.
    pub from: UserId,
    /// The buyer.
    pub to: UserId,
    /// What the buyer paid.
    pub price: Money,
    /// The sale: the payment saga's id (`{auctionId}#{buyerId}`), which names this transfer
    /// for its reversal and makes a repeated transfer recognisable.
    pub sale: String,
    pub transferred_at: DateTime<Utc>,
}

/// A transfer was undone: its sale could not complete (the seller could not be paid, or the
/// payment could not be recorded), so the item went back from the buyer to the seller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransferReversed {
    pub item_id: ItemId,
    pub auction_id: AuctionId,
    /// The buyer, who held the item by the sale.
    pub from: UserId,
    /// The seller, who has it back.
    pub to: UserId,
    /// The sale whose transfer this reverses.
    pub sale: String,
    /// Why the sale could not complete.
    pub reason: String,
    pub reversed_at: DateTime<Utc>,
}

/// The seller put the item up again, unsold, as a new auction: from now on `auctionId` sells
/// it (the one `previousAuctionId` ended, or was cancelled, without a sale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemRelisted {
    pub item_id: ItemId,
    /// The new auction.
    pub auction_id: AuctionId,
    pub previous_auction_id: AuctionId,
    /// The seller, its owner still.
    pub owner: UserId,
    pub relisted_at: DateTime<Utc>,
}

/// Every event of the Item aggregate. Serializes as its payload alone: the envelope carries the
/// `eventType` and `schemaVersion` that say how to read it back. Also the Item's codec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ItemEvent {
    ItemRegistered(ItemRegistered),
    OwnershipTransferred(OwnershipTransferred),
    TransferReversed(TransferReversed),
    ItemRelisted(ItemRelisted),
}

payloads! {
    ItemEvent {
        ItemRegistered => 1,
        OwnershipTransferred => 1,
        TransferReversed => 1,
        ItemRelisted => 1,
    }
}

/// The Item's codec: its events are [`ItemEvent`]s and its stream is `Item`. Every type is at
/// its first schema version, so there is no upcaster yet; the first change of meaning adds one
/// here, as the Auction's decoder has.
impl EventCodec for ItemEvent {
    type Event = ItemEvent;
    type Id = ItemId;

    const AGGREGATE_TYPE: &'static str = ITEM_AGGREGATE_TYPE;

    fn event_type(event: &ItemEvent) -> &'static str {
        event.event_type()
    }

    fn schema_version(event: &ItemEvent) -> u32 {
        event.schema_version()
    }

    fn decode(
        event_type: &str,
        schema_version: u32,
        payload: Value,
    ) -> Result<ItemEvent, DecodeError> {
        match event_type {
            ItemRegistered::EVENT_TYPE => current_as::<ItemRegistered, _>(schema_version, payload),
            OwnershipTransferred::EVENT_TYPE => {
                current_as::<OwnershipTransferred, _>(schema_version, payload)
            }
            TransferReversed::EVENT_TYPE => {
                current_as::<TransferReversed, _>(schema_version, payload)
            }
            ItemRelisted::EVENT_TYPE => current_as::<ItemRelisted, _>(schema_version, payload),
            other => Err(DecodeError::UnknownEventType(other.to_owned())),
        }
    }

    fn personal_fields(event_type: &str) -> &'static [&'static str] {
        match event_type {
            ItemRegistered::EVENT_TYPE | ItemRelisted::EVENT_TYPE => &["/owner"],
            OwnershipTransferred::EVENT_TYPE | TransferReversed::EVENT_TYPE => &["/from", "/to"],
            _ => &[],
        }
    }
}
