//! Reading every schema version this contract ever wrote. Old versions are upcast, one typed
//! step at a time, into the current payload, preserving what the event meant when it was written
//! (an auction created before soft close existed did not get one by replaying it today).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::codec::EventCodec;
use crate::envelope::AGGREGATE_TYPE;
use crate::error::DecodeError;
use crate::ids::AuctionId;
use crate::payloads::*;

/// The Auction's codec: its events are [`AuctionEvent`]s, its stream is `Auction`, and old
/// schema versions are read through the upcasters below.
impl EventCodec for AuctionEvent {
    type Event = AuctionEvent;
    type Id = AuctionId;

    const AGGREGATE_TYPE: &'static str = AGGREGATE_TYPE;

    fn event_type(event: &AuctionEvent) -> &'static str {
        event.event_type()
    }

    fn schema_version(event: &AuctionEvent) -> u32 {
        event.schema_version()
    }

    fn decode(
        event_type: &str,
        schema_version: u32,
        payload: Value,
    ) -> Result<AuctionEvent, DecodeError> {
        decode_payload(event_type, schema_version, payload)
    }

    fn personal_fields(event_type: &str) -> &'static [&'static str] {
        match event_type {
            "AuctionCreated" => &["/sellerId"],
            "BidPlaced" => &["/bidderId", "/previousLeaderId", "/leaderId"],
            "MaxBidRaised" => &["/bidderId"],
            "AuctionEnded" => &["/result/winnerId"],
            "AuctionCancelled" => &["/cancelledBy"],
            "PaymentSucceeded" | "PaymentFailed" | "ItemOfferedToRunnerUp" => &["/buyerId"],
            _ => &[],
        }
    }
}

/// Payloads of schema versions that are no longer written, kept so that old events stay readable.
pub mod legacy {
    use chrono::{DateTime, Utc};
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use crate::ids::{AuctionId, BidId, UserId};
    use crate::money::{Currency, Money};
    use crate::payloads::{AuctionCreated, BidPlaced, IncrementPolicy, SoftClose};

    /// AuctionCreated v1: one fixed bid increment, and no soft close.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct AuctionCreatedV1 {
        pub auction_id: AuctionId,
        pub seller_id: UserId,
        pub title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        pub currency: Currency,
        pub starting_price: Money,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reserve_price: Option<Money>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub buy_now_price: Option<Money>,
        pub bid_increment: Money,
        pub starts_at: DateTime<Utc>,
        pub ends_at: DateTime<Utc>,
    }

    impl From<AuctionCreatedV1> for AuctionCreated {
        fn from(v1: AuctionCreatedV1) -> Self {
            Self {
                auction_id: v1.auction_id,
                seller_id: v1.seller_id,
                title: v1.title,
                description: v1.description,
                currency: v1.currency,
                starting_price: v1.starting_price,
                reserve_price: v1.reserve_price,
                buy_now_price: v1.buy_now_price,
                increment: IncrementPolicy::Fixed {
                    amount_minor: v1.bid_increment.amount_minor,
                },
                starts_at: v1.starts_at,
                ends_at: v1.ends_at,
                // These auctions ran without anti-sniping; replay must not invent it.
                soft_close: SoftClose {
                    window_seconds: 0,
                    extension_seconds: 0,
                },
                item_id: None,
                relisted_from: None,
            }
        }
    }

    /// AuctionCreated v2: before relisting, every auction sold the item its own id names. Its
    /// schema keeps the title and description it was published with.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    #[schemars(
        title = "AuctionCreated",
        description = "Schema v2. v1 had a fixed `bidIncrement` and no soft close (see [`crate::legacy`])."
    )]
    pub struct AuctionCreatedV2 {
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
    }

    impl From<AuctionCreatedV2> for AuctionCreated {
        fn from(v2: AuctionCreatedV2) -> Self {
            Self {
                auction_id: v2.auction_id,
                seller_id: v2.seller_id,
                title: v2.title,
                description: v2.description,
                currency: v2.currency,
                starting_price: v2.starting_price,
                reserve_price: v2.reserve_price,
                buy_now_price: v2.buy_now_price,
                increment: v2.increment,
                starts_at: v2.starts_at,
                ends_at: v2.ends_at,
                soft_close: v2.soft_close,
                // Not a relisting: the item its own id names.
                item_id: None,
                relisted_from: None,
            }
        }
    }

    /// BidPlaced v1: before proxy bidding a bid was its own maximum, and a valid bid always led
    /// at its own amount.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct BidPlacedV1 {
        pub bid_id: BidId,
        pub bidder_id: UserId,
        pub amount: Money,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub previous_price: Option<Money>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub previous_leader_id: Option<UserId>,
    }

    impl From<BidPlacedV1> for BidPlaced {
        fn from(v1: BidPlacedV1) -> Self {
            Self {
                bid_id: v1.bid_id,
                leader_id: v1.bidder_id.clone(),
                bidder_id: v1.bidder_id,
                max_amount: v1.amount.clone(),
                new_price: v1.amount.clone(),
                amount: v1.amount,
                previous_price: v1.previous_price,
                previous_leader_id: v1.previous_leader_id,
            }
        }
    }
}

/// Reads a payload of any known (event type, schema version) as the current event.
pub(crate) fn decode_payload(
    event_type: &str,
    schema_version: u32,
    payload: Value,
) -> Result<AuctionEvent, DecodeError> {
    match event_type {
        AuctionCreated::EVENT_TYPE => match schema_version {
            1 => read::<legacy::AuctionCreatedV1>(AuctionCreated::EVENT_TYPE, 1, payload)
                .map(|v1| AuctionCreated::from(v1).into()),
            2 => read::<legacy::AuctionCreatedV2>(AuctionCreated::EVENT_TYPE, 2, payload)
                .map(|v2| AuctionCreated::from(v2).into()),
            _ => current::<AuctionCreated>(schema_version, payload),
        },
        AuctionStarted::EVENT_TYPE => current::<AuctionStarted>(schema_version, payload),
        BidPlaced::EVENT_TYPE => match schema_version {
            1 => read::<legacy::BidPlacedV1>(BidPlaced::EVENT_TYPE, 1, payload)
                .map(|v1| BidPlaced::from(v1).into()),
            _ => current::<BidPlaced>(schema_version, payload),
        },
        MaxBidRaised::EVENT_TYPE => current::<MaxBidRaised>(schema_version, payload),
        AuctionExtended::EVENT_TYPE => current::<AuctionExtended>(schema_version, payload),
        AuctionEnded::EVENT_TYPE => current::<AuctionEnded>(schema_version, payload),
        AuctionCancelled::EVENT_TYPE => current::<AuctionCancelled>(schema_version, payload),
        PaymentSucceeded::EVENT_TYPE => current::<PaymentSucceeded>(schema_version, payload),
        PaymentFailed::EVENT_TYPE => current::<PaymentFailed>(schema_version, payload),
        ItemOfferedToRunnerUp::EVENT_TYPE => {
            current::<ItemOfferedToRunnerUp>(schema_version, payload)
        }
        AuctionRelisted::EVENT_TYPE => current::<AuctionRelisted>(schema_version, payload),
        other => Err(DecodeError::UnknownEventType(other.to_owned())),
    }
}

/// Reads a payload that must be at `P`'s current schema version.
fn current<P>(schema_version: u32, payload: Value) -> Result<AuctionEvent, DecodeError>
where
    P: Payload + DeserializeOwned + Into<AuctionEvent>,
{
    current_as::<P, AuctionEvent>(schema_version, payload)
}

/// Reads a payload that must be at `P`'s current schema version, as the event `E` of its
/// aggregate: the check every codec makes of a type without upcasters.
pub(crate) fn current_as<P, E>(schema_version: u32, payload: Value) -> Result<E, DecodeError>
where
    P: Payload + DeserializeOwned + Into<E>,
{
    if schema_version > P::SCHEMA_VERSION {
        return Err(DecodeError::SchemaVersionTooNew {
            event_type: P::EVENT_TYPE,
            found: schema_version,
            known: P::SCHEMA_VERSION,
        });
    }
    if schema_version != P::SCHEMA_VERSION {
        return Err(DecodeError::UnknownSchemaVersion {
            event_type: P::EVENT_TYPE,
            found: schema_version,
        });
    }
    read::<P>(P::EVENT_TYPE, schema_version, payload).map(Into::into)
}

fn read<T: DeserializeOwned>(
    event_type: &'static str,
    schema_version: u32,
    payload: Value,
) -> Result<T, DecodeError> {
    serde_json::from_value(payload).map_err(|e| DecodeError::InvalidPayload {
        event_type,
        schema_version,
        reason: e.to_string(),
    })
}
