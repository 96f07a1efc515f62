//! Given/when/then vocabulary shared by the domain tests: commands, the histories they are
//! decided on (given-builders), and expected events.
//!
//! A scenario reads as a sentence on the harness of `domain::testing`:
//!
//! ```text
//! an_open_auction()
//!     .with_bid(t(10), bid(1, "bob", 1_000))
//!     .at(t(20))
//!     .when(decide_place_bid, &bid(2, "cat", 1_099))
//!     .then_expect_rejection(Rejection::BidTooLow { minimum: eur(1_100) });
//! ```

use chrono::{DateTime, TimeDelta, Utc};
use domain::testing::{AuctionAggregate, Given};
use domain::*;
use events::{AuctionId, BidId, BidPlaced, Currency, IncrementPolicy, Money, SoftClose, UserId};
use uuid::Uuid;

pub const AUCTION: AuctionId = AuctionId(Uuid::from_u128(0xA));

/// The history of one auction, as its tests are given it.
pub type History = Given<AuctionAggregate>;

/// `secs` seconds after the test epoch (2026-01-01T00:00:00Z).
pub fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap() + TimeDelta::seconds(secs)
}

pub fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::try_from("EUR").unwrap())
}

pub fn usd(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::try_from("USD").unwrap())
}

pub fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

pub fn seller() -> UserId {
    user("seller")
}

pub fn bid_id(n: u128) -> BidId {
    BidId(Uuid::from_u128(n))
}

// Commands.

/// EUR 10.00 start, fixed increment of 1.00, one hour long from t(0), no reserve, no buy-now,
/// soft close 120 s / 120 s.
pub fn create() -> CreateAuction {
    CreateAuction {
        auction_id: AUCTION,
        seller_id: seller(),
        title: "Leica M6".to_owned(),
        description: None,
        currency: Currency::try_from("EUR").unwrap(),
        starting_price: eur(1_000),
        reserve_price: None,
        buy_now_price: None,
        increment: Some(IncrementPolicy::Fixed { amount_minor: 100 }),
        starts_at: None,
        ends_at: t(3_600),
        soft_close: Some(SoftClose {
            window_seconds: 120,
            extension_seconds: 120,
        }),
    }
}

pub fn bid(n: u128, bidder: &str, amount: i64) -> PlaceBid {
    PlaceBid {
        bid_id: bid_id(n),
        bidder_id: user(bidder),
        amount: eur(amount),
        max_amount: None,
    }
}

pub fn proxy_bid(n: u128, bidder: &str, amount: i64, max: i64) -> PlaceBid {
    PlaceBid {
        max_amount: Some(eur(max)),
        ..bid(n, bidder, amount)
    }
}

pub fn buy(n: u128, buyer: &str) -> BuyNow {
    BuyNow {
        purchase_id: bid_id(n),
        buyer_id: user(buyer),
    }
}

pub fn cancel(by: &str) -> CancelAuction {
    CancelAuction {
        requested_by: user(by),
        reason: Some("changed my mind".to_owned()),
    }
}

pub fn paid(buyer: &str, amount: i64) -> RecordPaymentSucceeded {
    RecordPaymentSucceeded {
        buyer_id: user(buyer),
        amount: eur(amount),
        payment_reference: format!("pay-{buyer}"),
    }
}

pub fn failed(buyer: &str) -> RecordPaymentFailed {
    RecordPaymentFailed {
        buyer_id: user(buyer),
        reason: "card declined".to_owned(),
    }
}

// Given-builders.

/// No auction under the id yet.
pub fn no_auction() -> History {
    Given::no_events()
}

/// The auction that `command` created at t(0).
pub fn an_auction(command: CreateAuction) -> History {
    no_auction().and_accepted(t(0), decide_create, &command)
}

/// [`create`]: open from t(0), bidding from 10.00 in steps of 1.00, ending at t(3600).
pub fn an_open_auction() -> History {
    an_auction(create())
}

/// Like [`an_open_auction`], but bidding opens at t(600).
pub fn a_scheduled_auction() -> History {
    an_auction(CreateAuction {
        starts_at: Some(t(600)),
        ..create()
    })
}

/// Like [`an_open_auction`], with a reserve price.
pub fn an_auction_with_reserve(reserve: i64) -> History {
    an_auction(CreateAuction {
        reserve_price: Some(eur(reserve)),
        ..create()
    })
}

/// An open auction its seller cancelled at t(10).
pub fn a_cancelled_auction() -> History {
    an_open_auction().cancelled_at(t(10), cancel("seller"))
}

/// The commands an auction's history is told in, each accepted at the time given.
pub trait AuctionHistory: Sized {
    fn with_bid(self, at: DateTime<Utc>, command: PlaceBid) -> Self;
    fn with_purchase(self, at: DateTime<Utc>, command: BuyNow) -> Self;
    fn ended_at(self, at: DateTime<Utc>) -> Self;
    fn cancelled_at(self, at: DateTime<Utc>, command: CancelAuction) -> Self;
    fn with_payment(self, at: DateTime<Utc>, command: RecordPaymentSucceeded) -> Self;
    fn with_payment_failure(self, at: DateTime<Utc>, command: RecordPaymentFailed) -> Self;
}

impl AuctionHistory for History {
    fn with_bid(self, at: DateTime<Utc>, command: PlaceBid) -> Self {
        self.and_accepted(at, decide_place_bid, &command)
    }

    fn with_purchase(self, at: DateTime<Utc>, command: BuyNow) -> Self {
        self.and_accepted(at, decide_buy_now, &command)
    }

    fn ended_at(self, at: DateTime<Utc>) -> Self {
        self.and_accepted(at, decide_end, &EndAuction)
    }

    fn cancelled_at(self, at: DateTime<Utc>, command: CancelAuction) -> Self {
        self.and_accepted(at, decide_cancel, &command)
    }

    fn with_payment(self, at: DateTime<Utc>, command: RecordPaymentSucceeded) -> Self {
        self.and_accepted(at, decide_record_payment_succeeded, &command)
    }

    fn with_payment_failure(self, at: DateTime<Utc>, command: RecordPaymentFailed) -> Self {
        self.and_accepted(at, decide_record_payment_failed, &command)
    }
}

// Expected events and state.

/// The `BidPlaced` of `command` as the first bid: the bidder leads at the amount they bid.
/// Later bids override the fields that differ (`..placed(&command)`).
pub fn placed(command: &PlaceBid) -> BidPlaced {
    BidPlaced {
        bid_id: command.bid_id,
        bidder_id: command.bidder_id.clone(),
        amount: command.amount.clone(),
        max_amount: command
            .max_amount
            .clone()
            .unwrap_or_else(|| command.amount.clone()),
        previous_price: None,
        new_price: command.amount.clone(),
        previous_leader_id: None,
        leader_id: command.bidder_id.clone(),
    }
}

pub fn auction(state: &State) -> &Auction {
    state.auction.as_ref().unwrap()
}
