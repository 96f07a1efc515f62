use chrono::{DateTime, TimeDelta, Utc};
use domain::*;
use event_store::{CommandContext, IdempotencyKey, InMemoryStore, Outcome, SnapshotPolicy, Store};
use events::{Actor, AuctionId, BidId, Currency, IncrementPolicy, Money, UserId};
use uuid::Uuid;

pub fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap() + TimeDelta::seconds(secs)
}

pub fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::try_from("EUR").unwrap())
}

pub fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

pub fn store() -> Store<InMemoryStore> {
    Store::new(InMemoryStore::new(), SnapshotPolicy::inline(0))
}

pub fn context(actor: &str, key: Option<&str>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: "test-correlation".to_owned(),
        actor: Actor::User { id: user(actor) },
        idempotency_key: key.map(|key| IdempotencyKey {
            key: key.to_owned(),
            fingerprint: format!("fingerprint-of-{key}"),
        }),
        now: t(1),
    }
}

pub fn create(auction_id: AuctionId) -> CreateAuction {
    CreateAuction {
        auction_id,
        seller_id: user("seller"),
        title: "Leica M6".to_owned(),
        description: None,
        currency: Currency::try_from("EUR").unwrap(),
        starting_price: eur(100),
        reserve_price: None,
        buy_now_price: None,
        increment: Some(IncrementPolicy::Fixed { amount_minor: 1 }),
        starts_at: None,
        ends_at: t(86_400),
        soft_close: None,
    }
}

pub async fn created(store: &Store<InMemoryStore>) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let command = create(auction_id);
    store
        .execute(auction_id, &context("seller", None), |state, now| {
            decide_create(state, &command, now)
        })
        .await
        .unwrap();
    auction_id
}

/// A bid of one increment above whatever the price is when it is decided.
pub fn outbid(
    bidder: &str,
) -> impl Fn(&State, DateTime<Utc>) -> Result<Vec<Event>, Rejection> + use<> {
    let bidder = user(bidder);
    let bid_id = BidId(Uuid::new_v4());
    move |state, now| {
        // The leader raises their own maximum instead (the price stays).
        let price = state.auction.as_ref().map_or(99, |a| {
            let own_max = a
                .leader
                .as_ref()
                .filter(|l| **l == bidder)
                .and_then(|_| a.leader_max());
            own_max.or(a.price).unwrap_or(99)
        });
        decide_place_bid(
            state,
            &PlaceBid {
                bid_id,
                bidder_id: bidder.clone(),
                amount: eur(price + 1),
                max_amount: None,
            },
            now,
        )
    }
}

/// `bidder` outbids whoever leads (see [`outbid`]), under `key` if one is given; the command
/// must succeed.
pub async fn outbids(
    store: &Store<InMemoryStore>,
    auction_id: AuctionId,
    bidder: &str,
    key: Option<&str>,
) -> Outcome<State> {
    store
        .execute(auction_id, &context(bidder, key), outbid(bidder))
        .await
        .unwrap()
}

pub fn bid(
    bid_id: BidId,
    bidder: &str,
    amount: i64,
) -> impl Fn(&State, DateTime<Utc>) -> Result<Vec<Event>, Rejection> + use<> {
    let command = PlaceBid {
        bid_id,
        bidder_id: user(bidder),
        amount: eur(amount),
        max_amount: None,
    };
    move |state, now| decide_place_bid(state, &command, now)
}
