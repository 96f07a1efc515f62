//! The payloads of the Auction events, at their current schema versions.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{AuctionId, BidId, ItemId, UserId};
use crate::money::{Currency, Money};

/// How much a bid must exceed the current price by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum IncrementPolicy {
    /// The same increment at every price.
    #[serde(rename_all = "camelCase")]
    Fixed { amount_minor: i64 },
    /// The increment of the band whose `fromMinor` is the highest one at or below the price.
    Tiered { bands: Vec<IncrementBand> },
}

/// One price band of a tiered increment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncrementBand {
    /// The lowest price (minor units, inclusive) this band applies to.
    pub from_minor: i64,
    pub increment_minor: i64,
}

/// Anti-sniping: a bid placed less than `windowSeconds` before the end moves the end
/// `extensionSeconds` later. A zero window disables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoftClose {
    pub window_seconds: u32,
    pub extension_seconds: u32,
}

/// Schema v3: v2 with the item of a relisted auction (`itemId`, `relistedFrom`). v2 had no
/// relisting: its item is always the one derived from its own id. v1 had a fixed
/// `bidIncrement` and no soft close (see [`crate::legacy`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionCreated {
    pub auction_id: AuctionId,
    pub seller_id: UserId,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub currency: Currency,
    pub starting_price: Money,
    /// Hidden from bidders; only whether it has been met is ever shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buy_now_price: Option<Money>,
    pub increment: IncrementPolicy,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub soft_close: SoftClose,
    /// The item it sells, when that is an item an earlier auction did not sell (a relisting);
    /// absent, the item is [`ItemId::for_auction`] of this auction: read it with
    /// [`AuctionCreated::item`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<ItemId>,
    /// The earlier auction whose unsold item this one puts up again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relisted_from: Option<AuctionId>,
}

impl AuctionCreated {
    /// The item the auction sells: the relisted one, or the one its id names.
    pub fn item(&self) -> ItemId {
        self.item_id
            .unwrap_or_else(|| ItemId::for_auction(self.auction_id))
    }
}

/// Bidding is open. The payload is empty: the envelope's `occurredAt` is the start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionStarted {}

/// Schema v2: a bid and its fully resolved outcome after proxy bidding, so that a reader needs no
/// other event to know who leads at what price. v1 had no maximum (see [`crate::legacy`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidPlaced {
    pub bid_id: BidId,
    pub bidder_id: UserId,
    /// What the bidder offered now.
    pub amount: Money,
    /// How far the bidder lets the platform bid for them (equals `amount` without a maximum).
    /// Private to the bidder: read models never show another bidder's maximum.
    pub max_amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_price: Option<Money>,
    /// The visible price after this bid and any proxy bidding it set off.
    pub new_price: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_leader_id: Option<UserId>,
    /// Who leads after this bid: the bidder, or the previous leader whose maximum held.
    pub leader_id: UserId,
}

/// The leading bidder raised their own maximum. The price moves only when the new maximum is the
/// first to meet the reserve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaxBidRaised {
    pub bid_id: BidId,
    pub bidder_id: UserId,
    pub previous_max_amount: Money,
    pub new_max_amount: Money,
    pub previous_price: Money,
    pub new_price: Money,
}

/// A late bid moved the end (soft close).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionExtended {
    pub triggered_by_bid_id: BidId,
    pub previous_ends_at: DateTime<Utc>,
    pub new_ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UnsoldReason {
    NoBids,
    ReserveNotMet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum AuctionResult {
    #[serde(rename_all = "camelCase")]
    Sold {
        winner_id: UserId,
        final_price: Money,
    },
    Unsold {
        reason: UnsoldReason,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum EndTrigger {
    /// The (possibly extended) end time passed.
    EndTimeReached,
    /// Someone bought the item at the buy-now price.
    #[serde(rename_all = "camelCase")]
    BoughtNow { purchase_id: BidId },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionEnded {
    pub result: AuctionResult,
    pub trigger: EndTrigger,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionCancelled {
    pub cancelled_by: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The seller put the item, unsold here, up again as a new auction, `relistedAs`: this auction
/// is over for good, and the item's story goes on there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionRelisted {
    pub relisted_as: AuctionId,
}

/// The buyer paid; recorded by the payment saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSucceeded {
    pub buyer_id: UserId,
    pub amount: Money,
    /// The payment provider's reference for the charge.
    pub payment_reference: String,
}

/// The buyer's payment failed for good (after the saga's compensations); recorded by the saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFailed {
    pub buyer_id: UserId,
    pub amount: Money,
    pub reason: String,
}

/// After the winner's payment failed, the item is offered to the runner-up at their maximum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemOfferedToRunnerUp {
    pub buyer_id: UserId,
    pub price: Money,
}

/// Every event of the Auction aggregate. Serializes as its payload alone: the envelope carries
/// the `eventType` and `schemaVersion` that say how to read it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AuctionEvent {
    AuctionCreated(AuctionCreated),
    AuctionStarted(AuctionStarted),
    BidPlaced(BidPlaced),
    MaxBidRaised(MaxBidRaised),
    AuctionExtended(AuctionExtended),
    AuctionEnded(AuctionEnded),
    AuctionCancelled(AuctionCancelled),
    PaymentSucceeded(PaymentSucceeded),
    PaymentFailed(PaymentFailed),
    ItemOfferedToRunnerUp(ItemOfferedToRunnerUp),
    AuctionRelisted(AuctionRelisted),
}

/// What every payload type declares about itself on the wire.
pub trait Payload {
    const EVENT_TYPE: &'static str;
    /// The schema version this code writes.
    const SCHEMA_VERSION: u32;
}

/// For each payload type of one aggregate's event enum: its [`Payload`] impl (event type and
/// current schema version) and its conversion into the enum; for the enum, the list of its
/// types and each event's type and version. Used for the Auction here and for the Item
/// (`crate::item`).
macro_rules! payloads {
    ($event:ident { $($name:ident => $version:literal),+ $(,)? }) => {
        $(
            impl $crate::payloads::Payload for $name {
                const EVENT_TYPE: &'static str = stringify!($name);
                const SCHEMA_VERSION: u32 = $version;
            }

            impl From<$name> for $event {
                fn from(payload: $name) -> Self {
                    Self::$name(payload)
                }
            }
        )+

        impl $event {
            /// Every event type with its current schema version: the one list that the decoder,
            /// the schema files and the samples are checked against.
            pub const TYPES: &'static [(&'static str, u32)] = &[$((
                <$name as $crate::payloads::Payload>::EVENT_TYPE,
                <$name as $crate::payloads::Payload>::SCHEMA_VERSION,
            )),+];

            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$name(_) => <$name as $crate::payloads::Payload>::EVENT_TYPE),+
                }
            }

            /// The schema version this code writes for this event's type.
            pub fn schema_version(&self) -> u32 {
                match self {
                    $(Self::$name(_) => <$name as $crate::payloads::Payload>::SCHEMA_VERSION),+
                }
            }
        }
    };
}

pub(crate) use payloads;

payloads! {
    AuctionEvent {
        AuctionCreated => 3,
        AuctionStarted => 1,
        BidPlaced => 2,
        MaxBidRaised => 1,
        AuctionExtended => 1,
        AuctionEnded => 1,
        AuctionCancelled => 1,
        PaymentSucceeded => 1,
        PaymentFailed => 1,
        ItemOfferedToRunnerUp => 1,
        AuctionRelisted => 1,
    }
}
