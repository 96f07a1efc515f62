//! The read models as pure functions of the event history: no I/O, no AWS types.
//!
//! [`AuctionProjection`] is everything the projector keeps per auction: the public
//! [`AuctionView`] plus two things bidders must never see (the reserve amount and each bidder's
//! maximum), which it needs to compute `reserveMet` and every bidder's [`UserBid`] row. The rows
//! are derived from the projection, never updated on their own, so they cannot drift from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use events::{
    AuctionEvent, AuctionId, AuctionResult, Currency, EndTrigger, EventEnvelope, ItemId, Money,
    UserId,
};
use serde::{Deserialize, Serialize};

// One definition for the views, their `byStatus` index and the API (whose schema derives from
// it with the `openapi` feature); its doc is the API's description.
/// Where an auction is in its life: scheduled (bidding not open yet), active (bidding open),
/// ended, or cancelled by its seller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum AuctionStatus {
    /// Created, bidding not open yet.
    Scheduled,
    /// Bidding is open.
    Active,
    /// Over: see the view's `result`.
    Ended,
    /// Withdrawn by the seller before any bid.
    Cancelled,
}

impl From<&domain::Status> for AuctionStatus {
    fn from(status: &domain::Status) -> Self {
        use domain::Status;
        match status {
            Status::Scheduled => Self::Scheduled,
            Status::Active => Self::Active,
            Status::Ended(_) => Self::Ended,
            Status::Cancelled => Self::Cancelled,
        }
    }
}

impl AuctionStatus {
    pub const ALL: [Self; 4] = [Self::Scheduled, Self::Active, Self::Ended, Self::Cancelled];

    /// The stored (and index partition key) text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Active => "active",
            Self::Ended => "ended",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads the text [`AuctionStatus::as_str`] writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// How the auction came to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EndedBy {
    /// The (possibly extended) end time passed.
    EndTime,
    /// Someone bought the item at the buy-now price.
    BuyNow,
}

/// Where the payment of a sold item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PaymentStatus {
    AwaitingPayment,
    Paid,
    /// This buyer's payment failed for good.
    Failed,
}

/// Who owes what for a sold item, and whether they paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settlement {
    pub buyer_id: UserId,
    pub amount: Money,
    pub status: PaymentStatus,
    /// The winner's payment failed and the item went to the runner-up (who is `buyerId` now).
    pub offered_to_runner_up: bool,
}

/// One auction as bidders and sellers see it. Holds nothing private: no reserve amount, no
/// bidder's maximum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionView {
    pub auction_id: AuctionId,
    pub seller_id: UserId,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: AuctionStatus,
    pub currency: Currency,
    pub starting_price: Money,
    /// The visible price; `None` until the first bid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_price: Option<Money>,
    /// Whether the seller set a reserve (its amount stays hidden).
    pub has_reserve: bool,
    /// Whether the bidding so far meets the reserve: the item will sell. Without a reserve,
    /// whether anyone has bid.
    pub reserve_met: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buy_now_price: Option<Money>,
    /// Buy-now is on offer: there is a buy-now price, the auction is not over, and no bid has
    /// met the reserve (without a reserve: nobody has bid).
    pub buy_now_available: bool,
    pub bid_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_id: Option<UserId>,
    #[serde(with = "fixed_time")]
    pub starts_at: DateTime<Utc>,
    /// The current end, after any soft-close extensions.
    #[serde(with = "fixed_time")]
    pub ends_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<AuctionResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<EndedBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<Settlement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The item it sells; absent in views written before relisting, whose item is
    /// [`ItemId::for_auction`] (read it with [`AuctionView::item`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<ItemId>,
    /// The earlier auction whose unsold item this one puts up again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relisted_from: Option<AuctionId>,
    /// The auction that put this one's unsold item up again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relisted_as: Option<AuctionId>,
    /// The aggregate version last applied.
    pub version: u64,
    /// When the event at `version` occurred.
    #[serde(with = "fixed_time")]
    pub updated_at: DateTime<Utc>,
}

impl AuctionView {
    /// The item it sells.
    pub fn item(&self) -> ItemId {
        self.item_id
            .unwrap_or_else(|| ItemId::for_auction(self.auction_id))
    }

    /// Whether it is over without a sale (ended unsold, no buyer paid, or cancelled) and not
    /// relisted yet: its seller may relist it.
    pub fn relistable(&self) -> bool {
        let unsold = match self.status {
            AuctionStatus::Cancelled => true,
            AuctionStatus::Ended => match &self.result {
                Some(AuctionResult::Unsold { .. }) => true,
                Some(AuctionResult::Sold { .. }) => self
                    .settlement
                    .as_ref()
                    .is_some_and(|settlement| settlement.status == PaymentStatus::Failed),
                None => false,
            },
            AuctionStatus::Scheduled | AuctionStatus::Active => false,
        };
        unsold && self.relisted_as.is_none()
    }
}

/// Where a user stands in one auction they bid in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BidStatus {
    /// Bidding is open and the user leads.
    Leading,
    /// Bidding is open and someone else leads.
    Outbid,
    /// The item is the user's to pay for (or paid): the winner, a buy-now buyer, or the
    /// runner-up it was offered to.
    Won,
    /// Over and not the user's: someone else won, the reserve was not met, or the user's
    /// payment failed.
    Lost,
    /// The seller withdrew the auction.
    Cancelled,
}

/// One user's row for one auction ("my bids"). Only ever shown to that user, so it may hold
/// their own maximum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserBid {
    pub user_id: UserId,
    pub auction_id: AuctionId,
    pub title: String,
    pub status: BidStatus,
    pub auction_status: AuctionStatus,
    /// The highest amount bid by the user or, through proxy bidding, on their behalf.
    pub my_highest_bid: Money,
    /// How far the platform may bid for the user. Private to them.
    pub my_max_bid: Money,
    /// The auction's price, as of the auction's view when read through [`crate::ReadModels`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_price: Option<Money>,
    /// The auction's end, as of the auction's view when read through [`crate::ReadModels`].
    #[serde(with = "fixed_time")]
    pub ends_at: DateTime<Utc>,
    #[serde(with = "fixed_time")]
    pub last_bid_at: DateTime<Utc>,
    /// What the user owes, while the item is theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_due: Option<Money>,
    /// The payment status, for the buyer (also a buyer whose payment failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentStatus>,
    /// The aggregate version this row reflects: the last event that changed it.
    pub version: u64,
}

impl UserBid {
    /// The row with the auction's current price and end time, which stored rows may hold
    /// stale (see [`AuctionProjection::changed_user_bids`]).
    pub fn with_live(mut self, current_price: Option<&Money>, ends_at: DateTime<Utc>) -> Self {
        self.current_price = current_price.cloned();
        self.ends_at = ends_at;
        self
    }
}

/// What the projector knows about one bidder. Private: it holds their maximum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bidder {
    pub highest_bid_minor: i64,
    pub max_minor: i64,
    #[serde(with = "fixed_time")]
    pub last_bid_at: DateTime<Utc>,
}

/// The part of the projection that is never shown to bidders, stored beside the view.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hidden {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_minor: Option<i64>,
    #[serde(default)]
    pub bidders: BTreeMap<UserId, Bidder>,
}

/// The projector's state of one auction: the public view and what it must keep hidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuctionProjection {
    pub view: AuctionView,
    pub hidden: Hidden,
}

impl AuctionProjection {
    pub fn version(&self) -> u64 {
        self.view.version
    }

    /// Every bidder's row, as of this projection.
    pub fn user_bids(&self) -> Vec<UserBid> {
        self.hidden
            .bidders
            .iter()
            .map(|(user, bidder)| self.user_bid(user, bidder))
            .collect()
    }

    /// The rows that differ from `before`'s, at this version: what a writer must store to move
    /// the rows from `before` to here.
    ///
    /// Differences in the auction's price and end time alone do not count: they change for
    /// every bidder on every bid and extension, and rewriting each bidder's row for them would
    /// make a bid cost one write per bidder. Readers take both from the auction's view instead
    /// ([`UserBid::with_live`]), so only the rows whose own standing changed are written: the
    /// bidder's and the previous leader's on a bid, everyone's at the end.
    pub fn changed_user_bids(&self, before: Option<&AuctionProjection>) -> Vec<UserBid> {
        let old: BTreeMap<UserId, UserBid> = before
            .map(|b| {
                b.user_bids()
                    .into_iter()
                    .map(|row| (row.user_id.clone(), row))
                    .collect()
            })
            .unwrap_or_default();
        self.user_bids()
            .into_iter()
            .filter(|row| match old.get(&row.user_id) {
                Some(previous) => {
                    let mut previous = previous.clone();
                    previous.version = row.version;
                    previous.current_price.clone_from(&row.current_price);
                    previous.ends_at = row.ends_at;
                    previous != *row
                }
                None => true,
            })
            .collect()
    }

    fn user_bid(&self, user: &UserId, bidder: &Bidder) -> UserBid {
        let view = &self.view;
        let money = |minor| Money::new(minor, view.currency.clone());
        let buyer = view
            .settlement
            .as_ref()
            .filter(|settlement| &settlement.buyer_id == user);
        let status = match view.status {
            AuctionStatus::Cancelled => BidStatus::Cancelled,
            AuctionStatus::Ended => match buyer {
                Some(settlement) if settlement.status != PaymentStatus::Failed => BidStatus::Won,
                _ => BidStatus::Lost,
            },
            AuctionStatus::Scheduled | AuctionStatus::Active => {
                if view.leader_id.as_ref() == Some(user) {
                    BidStatus::Leading
                } else {
                    BidStatus::Outbid
                }
            }
        };
        UserBid {
            user_id: user.clone(),
            auction_id: view.auction_id,
            title: view.title.clone(),
            status,
            auction_status: view.status,
            my_highest_bid: money(bidder.highest_bid_minor),
            my_max_bid: money(bidder.max_minor),
            current_price: view.current_price.clone(),
            ends_at: view.ends_at,
            last_bid_at: bidder.last_bid_at,
            amount_due: buyer
                .filter(|_| status == BidStatus::Won)
                .map(|settlement| settlement.amount.clone()),
            payment: buyer.map(|settlement| settlement.status),
            version: view.version,
        }
    }
}

/// Events folded one at a time into an auction's projection, keeping each bidder's row as of
/// the last event that changed it.
///
/// Both the stream handler (for an event and the gap before it) and a rebuild from the log
/// fold through this, so the rows they write are the same whatever the batching: a row holds
/// the version, price and end of the event that last changed its owner's standing.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    projection: Option<AuctionProjection>,
    rows: BTreeMap<UserId, UserBid>,
}

impl Replay {
    /// Starting from the projection as stored (`None` for an auction not seen yet).
    pub fn new(current: Option<AuctionProjection>) -> Self {
        Self {
            projection: current,
            rows: BTreeMap::new(),
        }
    }

    pub fn version(&self) -> u64 {
        self.projection
            .as_ref()
            .map_or(0, AuctionProjection::version)
    }

    /// Applies `event`; false when it did not move the projection to its version (not the
    /// next version, or a history not starting with `AuctionCreated`), leaving it unchanged.
    pub fn apply(&mut self, event: &EventEnvelope) -> bool {
        match project(self.projection.clone(), event) {
            Some(next) if next.version() == event.version => {
                for row in next.changed_user_bids(self.projection.as_ref()) {
                    self.rows.insert(row.user_id.clone(), row);
                }
                self.projection = Some(next);
                true
            }
            _ => false,
        }
    }

    pub fn projection(&self) -> Option<&AuctionProjection> {
        self.projection.as_ref()
    }

    /// The projection and the rows changed since [`Replay::new`].
    pub fn finish(self) -> (Option<AuctionProjection>, Vec<UserBid>) {
        (self.projection, self.rows.into_values().collect())
    }
}

/// Applies one event to an auction's projection.
///
/// Only the next version applies (1 and `AuctionCreated` for an auction not seen yet); any
/// other event returns the projection unchanged: a duplicate or an older event is a no-op, and
/// a caller that meets a gap must first apply the missing events (the handler reads them from
/// the log). Total: an event that does not fit the state only advances the version.
pub fn project(
    current: Option<AuctionProjection>,
    event: &EventEnvelope,
) -> Option<AuctionProjection> {
    let Some(mut projection) = current else {
        return match &event.event {
            AuctionEvent::AuctionCreated(created) if event.version == 1 => {
                Some(AuctionProjection {
                    view: AuctionView {
                        auction_id: created.auction_id,
                        seller_id: created.seller_id.clone(),
                        title: created.title.clone(),
                        description: created.description.clone(),
                        status: AuctionStatus::Scheduled,
                        currency: created.currency.clone(),
                        starting_price: created.starting_price.clone(),
                        current_price: None,
                        has_reserve: created.reserve_price.is_some(),
                        reserve_met: false,
                        buy_now_price: created.buy_now_price.clone(),
                        buy_now_available: created.buy_now_price.is_some(),
                        bid_count: 0,
                        leader_id: None,
                        starts_at: created.starts_at,
                        ends_at: created.ends_at,
                        result: None,
                        ended_by: None,
                        settlement: None,
                        cancel_reason: None,
                        item_id: Some(created.item()),
                        relisted_from: created.relisted_from,
                        relisted_as: None,
                        version: event.version,
                        updated_at: event.occurred_at,
                    },
                    hidden: Hidden {
                        reserve_minor: created.reserve_price.as_ref().map(|m| m.amount_minor),
                        bidders: BTreeMap::new(),
                    },
                })
            }
            _ => None,
        };
    };
    if event.version != projection.version() + 1 {
        return Some(projection);
    }
    let view = &mut projection.view;
    let hidden = &mut projection.hidden;
    view.version = event.version;
    view.updated_at = event.occurred_at;
    match &event.event {
        AuctionEvent::AuctionCreated(_) => {}
        AuctionEvent::AuctionStarted(_) => {
            if view.status == AuctionStatus::Scheduled {
                view.status = AuctionStatus::Active;
            }
        }
        AuctionEvent::BidPlaced(bid) => {
            view.bid_count = view.bid_count.saturating_add(1);
            view.current_price = Some(bid.new_price.clone());
            view.leader_id = Some(bid.leader_id.clone());
            raise(
                hidden,
                &bid.bidder_id,
                bid.amount.amount_minor,
                bid.max_amount.amount_minor,
                event.occurred_at,
            );
            // Proxy bidding bid the new price on the leader's behalf (the bidder, or the
            // previous leader whose maximum held).
            if let Some(leader) = hidden.bidders.get_mut(&bid.leader_id) {
                leader.highest_bid_minor = leader.highest_bid_minor.max(bid.new_price.amount_minor);
            }
        }
        AuctionEvent::MaxBidRaised(raised) => {
            view.current_price = Some(raised.new_price.clone());
            raise(
                hidden,
                &raised.bidder_id,
                raised.new_price.amount_minor,
                raised.new_max_amount.amount_minor,
                event.occurred_at,
            );
        }
        AuctionEvent::AuctionExtended(extended) => view.ends_at = extended.new_ends_at,
        AuctionEvent::AuctionEnded(ended) => {
            view.status = AuctionStatus::Ended;
            view.ended_by = Some(match ended.trigger {
                EndTrigger::EndTimeReached => EndedBy::EndTime,
                EndTrigger::BoughtNow { .. } => EndedBy::BuyNow,
            });
            if let AuctionResult::Sold {
                winner_id,
                final_price,
            } = &ended.result
            {
                view.current_price = Some(final_price.clone());
                view.settlement = Some(Settlement {
                    buyer_id: winner_id.clone(),
                    amount: final_price.clone(),
                    status: PaymentStatus::AwaitingPayment,
                    offered_to_runner_up: false,
                });
                if matches!(ended.trigger, EndTrigger::BoughtNow { .. }) {
                    // A buy-now buyer may never have bid; the purchase is theirs all the same.
                    raise(
                        hidden,
                        winner_id,
                        final_price.amount_minor,
                        final_price.amount_minor,
                        event.occurred_at,
                    );
                }
            }
            view.result = Some(ended.result.clone());
        }
        AuctionEvent::AuctionCancelled(cancelled) => {
            view.status = AuctionStatus::Cancelled;
            view.cancel_reason = cancelled.reason.clone();
        }
        AuctionEvent::PaymentSucceeded(paid) => {
            view.settlement = Some(Settlement {
                buyer_id: paid.buyer_id.clone(),
                amount: paid.amount.clone(),
                status: PaymentStatus::Paid,
                offered_to_runner_up: view
                    .settlement
                    .as_ref()
                    .is_some_and(|s| s.offered_to_runner_up),
            });
        }
        AuctionEvent::PaymentFailed(failed) => {
            view.settlement = Some(Settlement {
                buyer_id: failed.buyer_id.clone(),
                amount: failed.amount.clone(),
                status: PaymentStatus::Failed,
                offered_to_runner_up: view
                    .settlement
                    .as_ref()
                    .is_some_and(|s| s.offered_to_runner_up),
            });
        }
        AuctionEvent::ItemOfferedToRunnerUp(offer) => {
            view.settlement = Some(Settlement {
                buyer_id: offer.buyer_id.clone(),
                amount: offer.price.clone(),
                status: PaymentStatus::AwaitingPayment,
                offered_to_runner_up: true,
            });
        }
        AuctionEvent::AuctionRelisted(relisted) => view.relisted_as = Some(relisted.relisted_as),
    }
    view.reserve_met = match (hidden.reserve_minor, &view.current_price) {
        (None, price) => price.is_some(),
        (Some(reserve), Some(price)) => price.amount_minor >= reserve,
        (Some(_), None) => false,
    };
    let open = matches!(
        view.status,
        AuctionStatus::Scheduled | AuctionStatus::Active
    );
    view.buy_now_available = view.buy_now_price.is_some() && open && !view.reserve_met;
    Some(projection)
}

fn raise(hidden: &mut Hidden, user: &UserId, bid_minor: i64, max_minor: i64, at: DateTime<Utc>) {
    let bidder = hidden.bidders.entry(user.clone()).or_insert(Bidder {
        highest_bid_minor: bid_minor,
        max_minor,
        last_bid_at: at,
    });
    bidder.highest_bid_minor = bidder.highest_bid_minor.max(bid_minor);
    bidder.max_minor = bidder.max_minor.max(max_minor);
    bidder.last_bid_at = at;
}

/// Timestamps as fixed-width UTC text with milliseconds (`2026-01-01T00:00:00.000Z`), so that
/// text order is time order: the `byStatus` index sorts on it.
pub mod fixed_time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

    pub fn format(time: &DateTime<Utc>) -> String {
        time.format(FORMAT).to_string()
    }

    pub fn parse(text: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&Utc))
            .filter(|time| format(time) == text)
    }

    pub fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).ok_or_else(|| D::Error::custom(format!("{text:?} is not a {FORMAT} time")))
    }
}
