use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use events::{
    AuctionCreated, AuctionId, AuctionResult, BidId, Currency, EndTrigger, IncrementPolicy, ItemId,
    Money, SoftClose, UserId,
};
use serde::{Deserialize, Serialize};

use super::Event;
use super::rules::RECENT_COMMAND_IDS;

/// What the aggregate knows after folding its events: everything a decision needs, nothing more.
///
/// Serializable so that the event store can keep snapshots of it; see [`SNAPSHOT_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct State {
    /// The number of events folded so far: the version the next event will follow.
    pub version: u64,
    /// `None` until the auction is created.
    pub auction: Option<Auction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auction {
    pub id: AuctionId,
    pub seller_id: UserId,
    pub title: String,
    /// Kept for a relisting, which puts the same item up with the same words.
    pub description: Option<String>,
    /// The item it sells (a relisting's is the first auction's).
    pub item_id: ItemId,
    pub currency: Currency,
    /// Every amount below is in minor units of `currency`.
    pub starting_price: i64,
    pub reserve_price: Option<i64>,
    pub buy_now_price: Option<i64>,
    pub increment: IncrementPolicy,
    pub starts_at: DateTime<Utc>,
    /// The current end, after any soft-close extensions.
    pub ends_at: DateTime<Utc>,
    pub soft_close: SoftClose,
    pub status: Status,
    /// The visible price; `None` until the first bid.
    pub price: Option<i64>,
    pub leader: Option<UserId>,
    /// Each bidder's highest maximum, for proxy bidding and the runner-up offer.
    pub bidders: BTreeMap<UserId, Standing>,
    pub bid_count: u32,
    /// Ids of the most recent bids and purchases that took effect, oldest first, so a retried
    /// command is recognised by its id. Bounded, because the state must fit in a snapshot item:
    /// an older bid cannot take effect twice anyway, as the price has since passed its amount
    /// (prices never fall and the next bid must beat the price), so it is rejected as too low.
    pub recent_commands: VecDeque<BidId>,
    pub settlement: Option<Settlement>,
    pub runner_up_offered: bool,
    pub failed_buyers: BTreeSet<UserId>,
    /// The earlier auction whose unsold item this one puts up again.
    pub relisted_from: Option<AuctionId>,
    /// The auction that put this one's unsold item up again.
    pub relisted_as: Option<AuctionId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub max: i64,
    /// The version at which the bidder reached `max`: equal maximums go to the earlier one.
    pub since: u64,
    /// The id of the bidder's latest bid or raise, so that its retry is recognised after any
    /// number of other bids (the recent ids are a window).
    pub last_bid: Option<BidId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Scheduled,
    Active,
    Ended(AuctionResult),
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settlement {
    AwaitingPayment {
        buyer: UserId,
        amount: i64,
    },
    Paid {
        buyer: UserId,
        amount: i64,
        payment_reference: String,
    },
    /// Every buyer who could have paid failed: the item did not sell.
    NoBuyer,
}

impl Auction {
    fn created(created: &AuctionCreated) -> Self {
        Self {
            id: created.auction_id,
            seller_id: created.seller_id.clone(),
            title: created.title.clone(),
            description: created.description.clone(),
            item_id: created.item(),
            currency: created.currency.clone(),
            starting_price: created.starting_price.amount_minor,
            reserve_price: created.reserve_price.as_ref().map(|m| m.amount_minor),
            buy_now_price: created.buy_now_price.as_ref().map(|m| m.amount_minor),
            increment: created.increment.clone(),
            starts_at: created.starts_at,
            ends_at: created.ends_at,
            soft_close: created.soft_close,
            status: Status::Scheduled,
            price: None,
            leader: None,
            bidders: BTreeMap::new(),
            bid_count: 0,
            recent_commands: VecDeque::new(),
            settlement: None,
            runner_up_offered: false,
            failed_buyers: BTreeSet::new(),
            relisted_from: created.relisted_from,
            relisted_as: None,
        }
    }

    /// Whether it is over without a sale: ended unsold, sold to no one who paid (every
    /// buyer's payment failed), or cancelled. Only such an item can be relisted.
    pub fn unsold(&self) -> bool {
        match &self.status {
            Status::Cancelled | Status::Ended(AuctionResult::Unsold { .. }) => true,
            Status::Ended(AuctionResult::Sold { .. }) => {
                matches!(self.settlement, Some(Settlement::NoBuyer))
            }
            Status::Scheduled | Status::Active => false,
        }
    }

    /// Whether a bid or purchase with this id took effect: among the recent ones, or as its
    /// bidder's latest bid however many came since (a client retries its last request).
    pub fn took_effect(&self, command_id: &BidId) -> bool {
        self.recent_commands.contains(command_id)
            || self
                .bidders
                .values()
                .any(|standing| standing.last_bid == Some(*command_id))
    }

    fn remember(&mut self, command_id: BidId) {
        if self.recent_commands.len() >= RECENT_COMMAND_IDS {
            self.recent_commands.pop_front();
        }
        self.recent_commands.push_back(command_id);
    }

    pub fn money(&self, amount_minor: i64) -> Money {
        Money::new(amount_minor, self.currency.clone())
    }

    pub fn leader_max(&self) -> Option<i64> {
        self.leader
            .as_ref()
            .and_then(|leader| self.bidders.get(leader))
            .map(|standing| standing.max)
    }

    /// Whether the bidding so far meets the (hidden) reserve.
    pub fn reserve_met(&self) -> bool {
        match (self.reserve_price, self.price) {
            (None, price) => price.is_some(),
            (Some(reserve), Some(price)) => price >= reserve,
            (Some(_), None) => false,
        }
    }

    /// The best bidder other than `excluded`: highest maximum, earlier on a tie.
    pub fn runner_up(&self, excluded: &UserId) -> Option<(&UserId, Standing)> {
        self.bidders
            .iter()
            .filter(|(bidder, _)| *bidder != excluded)
            .max_by(|a, b| a.1.max.cmp(&b.1.max).then(b.1.since.cmp(&a.1.since)))
            .map(|(bidder, standing)| (bidder, *standing))
    }
}

/// Names the serialized shape of [`State`]. Bump it whenever that shape or the meaning of a
/// field changes: stored snapshots of another format are ignored and the state is rebuilt from
/// the events.
pub const SNAPSHOT_FORMAT: u32 = 3;

/// Applies one event. Total: an event that does not fit the state (which decisions never emit)
/// only advances the version, so folding a damaged log cannot panic.
pub fn evolve(mut state: State, event: &Event) -> State {
    state.version += 1;
    let version = state.version;
    if let Event::AuctionCreated(created) = event {
        state
            .auction
            .get_or_insert_with(|| Auction::created(created));
        return state;
    }
    let Some(auction) = state.auction.as_mut() else {
        return state;
    };
    match event {
        Event::AuctionCreated(_) => {}
        Event::AuctionStarted(_) => {
            if auction.status == Status::Scheduled {
                auction.status = Status::Active;
            }
        }
        Event::BidPlaced(bid) => {
            auction.remember(bid.bid_id);
            auction.bid_count += 1;
            raise_standing(
                auction,
                &bid.bidder_id,
                bid.max_amount.amount_minor,
                version,
                bid.bid_id,
            );
            auction.price = Some(bid.new_price.amount_minor);
            auction.leader = Some(bid.leader_id.clone());
        }
        Event::MaxBidRaised(raise) => {
            auction.remember(raise.bid_id);
            raise_standing(
                auction,
                &raise.bidder_id,
                raise.new_max_amount.amount_minor,
                version,
                raise.bid_id,
            );
            auction.price = Some(raise.new_price.amount_minor);
        }
        Event::AuctionExtended(extended) => auction.ends_at = extended.new_ends_at,
        Event::AuctionEnded(ended) => {
            if let EndTrigger::BoughtNow { purchase_id } = &ended.trigger {
                auction.remember(*purchase_id);
            }
            if let AuctionResult::Sold {
                winner_id,
                final_price,
            } = &ended.result
            {
                auction.price = Some(final_price.amount_minor);
                auction.settlement = Some(Settlement::AwaitingPayment {
                    buyer: winner_id.clone(),
                    amount: final_price.amount_minor,
                });
            }
            auction.status = Status::Ended(ended.result.clone());
        }
        Event::AuctionCancelled(_) => auction.status = Status::Cancelled,
        Event::PaymentSucceeded(paid) => {
            auction.settlement = Some(Settlement::Paid {
                buyer: paid.buyer_id.clone(),
                amount: paid.amount.amount_minor,
                payment_reference: paid.payment_reference.clone(),
            });
        }
        Event::PaymentFailed(failed) => {
            auction.failed_buyers.insert(failed.buyer_id.clone());
            auction.settlement = Some(Settlement::NoBuyer);
        }
        Event::ItemOfferedToRunnerUp(offer) => {
            auction.runner_up_offered = true;
            auction.settlement = Some(Settlement::AwaitingPayment {
                buyer: offer.buyer_id.clone(),
                amount: offer.price.amount_minor,
            });
        }
        Event::AuctionRelisted(relisted) => auction.relisted_as = Some(relisted.relisted_as),
    }
    state
}

fn raise_standing(auction: &mut Auction, bidder: &UserId, max: i64, version: u64, bid: BidId) {
    let standing = auction.bidders.entry(bidder.clone()).or_insert(Standing {
        max,
        since: version,
        last_bid: None,
    });
    if max > standing.max {
        standing.max = max;
        standing.since = version;
    }
    standing.last_bid = Some(bid);
}

/// Folds events from the empty state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> State {
    events.into_iter().fold(State::default(), evolve)
}
