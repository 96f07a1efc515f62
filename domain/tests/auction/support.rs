//! Given/when/then vocabulary shared by the domain tests.

use auction_domain::*;
use auction_events::{AuctionId, BidId, Currency, IncrementPolicy, Money, SoftClose, UserId};
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

pub const AUCTION: AuctionId = AuctionId(Uuid::from_u128(0xA));

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

/// The state after `command` was accepted at t(0).
pub fn given_created(command: CreateAuction) -> State {
    let events = decide_create(&State::default(), &command, t(0)).unwrap();
    fold(&events)
}

pub fn given_active() -> State {
    given_created(create())
}

/// Applies a decision that must succeed, returning the new state.
pub fn and(state: State, decision: Result<Vec<Event>, Rejection>) -> State {
    let events = decision.unwrap_or_else(|r| panic!("given step was rejected: {r:?}"));
    events.iter().fold(state, evolve)
}

pub fn auction(state: &State) -> &Auction {
    state.auction.as_ref().unwrap()
}

pub fn only<T>(mut events: Vec<T>) -> T {
    assert_eq!(events.len(), 1, "expected exactly one event");
    events.remove(0)
}
