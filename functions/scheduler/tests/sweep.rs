//! Sweeps over the in-memory event store twin, with the index as a plain list: what the
//! scheduler decides, whatever the index says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use domain::{CreateAuction, PlaceBid, State, decide_create, decide_place_bid};
use event_store::{CommandContext, InMemoryStore, Meter, SnapshotPolicy, Store};
use events::{
    Actor, AuctionEvent, AuctionId, AuctionResult, BidId, Currency, IncrementPolicy, Money, UserId,
};
use scheduler::{Action, Due, DueAuctions, SchedulerError, sweep};
use uuid::Uuid;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap() + TimeDelta::seconds(secs)
}

fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::try_from("EUR").unwrap())
}

fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

fn store() -> Store<InMemoryStore> {
    Store::new(InMemoryStore::new(), SnapshotPolicy::inline(0))
}

fn context(actor: &str, now: DateTime<Utc>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: "test".to_owned(),
        actor: Actor::User { id: user(actor) },
        idempotency_key: None,
        now,
    }
}

/// An auction created at t(0), starting at `starts_at` (None: at once), ending at t(3600).
async fn auction(
    store: &Store<InMemoryStore>,
    starts_at: Option<DateTime<Utc>>,
    reserve: Option<i64>,
) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let command = CreateAuction {
        auction_id,
        seller_id: user("seller"),
        title: "Brass telescope".to_owned(),
        description: None,
        currency: Currency::try_from("EUR").unwrap(),
        starting_price: eur(100),
        reserve_price: reserve.map(eur),
        buy_now_price: None,
        increment: Some(IncrementPolicy::Fixed { amount_minor: 10 }),
        starts_at,
        ends_at: t(3600),
        soft_close: None,
    };
    store
        .execute(auction_id, &context("seller", t(0)), |state, now| {
            decide_create(state, &command, now)
        })
        .await
        .unwrap();
    auction_id
}

async fn bid(store: &Store<InMemoryStore>, auction_id: AuctionId, bidder: &str, amount: i64) {
    let command = PlaceBid {
        bid_id: BidId(Uuid::new_v4()),
        bidder_id: user(bidder),
        amount: eur(amount),
        max_amount: None,
    };
    store
        .execute(auction_id, &context(bidder, t(60)), |state, now| {
            decide_place_bid(state, &command, now)
        })
        .await
        .unwrap();
}

async fn state(store: &Store<InMemoryStore>, auction_id: AuctionId) -> State {
    store
        .load(auction_id, &Meter::default())
        .await
        .unwrap()
        .state
}

fn ended_events(store: &Store<InMemoryStore>, auction_id: AuctionId) -> Vec<AuctionResult> {
    store
        .backend()
        .events(auction_id)
        .iter()
        .filter_map(|e| match e.decode::<AuctionEvent>().unwrap().event {
            AuctionEvent::AuctionEnded(ended) => Some(ended.result),
            _ => None,
        })
        .collect()
}

/// The index as a fixed list of what it claims is due.
struct Listed(Mutex<Vec<Due>>);

impl Listed {
    fn of(due: Vec<Due>) -> Self {
        Self(Mutex::new(due))
    }
}

impl DueAuctions for Listed {
    async fn due(&self, _now: DateTime<Utc>) -> Result<Vec<Due>, SchedulerError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

fn ending(auction_id: AuctionId, at: DateTime<Utc>) -> Due {
    Due {
        auction_id,
        action: Action::End,
        at,
    }
}

#[tokio::test]
async fn an_auction_past_its_end_time_is_ended_sold_to_the_leader() {
    // Given an auction with a bid, past its end
    let store = store();
    let auction_id = auction(&store, None, None).await;
    bid(&store, auction_id, "bob", 150).await;
    let index = Listed::of(vec![ending(auction_id, t(3600))]);

    // When the scheduler sweeps
    let report = sweep(&store, &index, t(3600)).await.unwrap();

    // Then it ended the auction, sold to bob at his bid
    assert_eq!(report.ended, vec![auction_id]);
    let results = ended_events(&store, auction_id);
    assert_eq!(results.len(), 1);
    assert!(
        matches!(&results[0], AuctionResult::Sold { winner_id, final_price } if *winner_id == user("bob") && final_price.amount_minor == 150),
        "{results:?}"
    );
}

#[tokio::test]
async fn an_auction_whose_reserve_was_not_met_ends_unsold() {
    let store = store();
    let auction_id = auction(&store, None, Some(1_000)).await;
    bid(&store, auction_id, "bob", 150).await;
    let index = Listed::of(vec![ending(auction_id, t(3600))]);

    sweep(&store, &index, t(3601)).await.unwrap();

    let results = ended_events(&store, auction_id);
    assert!(
        matches!(results.as_slice(), [AuctionResult::Unsold { .. }]),
        "{results:?}"
    );
}

#[tokio::test]
async fn sweeping_again_ends_nothing_twice() {
    let store = store();
    let auction_id = auction(&store, None, None).await;
    let index = Listed::of(vec![ending(auction_id, t(3600))]);
    sweep(&store, &index, t(3600)).await.unwrap();

    // When a second sweep finds the same (not yet re-projected) index entry
    let report = sweep(&store, &index, t(3601)).await.unwrap();

    // Then nothing more is appended
    assert!(report.ended.is_empty());
    assert_eq!(report.already_done, 1);
    assert_eq!(ended_events(&store, auction_id).len(), 1);
}

#[tokio::test]
async fn two_schedulers_at_once_end_an_auction_exactly_once() {
    let store = store();
    let auction_id = auction(&store, None, None).await;
    bid(&store, auction_id, "bob", 150).await;
    let index = Listed::of(vec![ending(auction_id, t(3600))]);
    // Both schedulers load the same version; the twin makes the first appends collide.
    store.backend().contend_next_appends(1);

    let (a, b) = tokio::join!(
        sweep(&store, &index, t(3600)),
        sweep(&store, &index, t(3600))
    );

    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.ended.len() + b.ended.len(), 1, "{a:?} {b:?}");
    assert_eq!(ended_events(&store, auction_id).len(), 1);
}

#[tokio::test]
async fn a_stale_index_entry_before_the_real_end_changes_nothing() {
    // Given an index that still holds an end time the aggregate has moved past (an extension
    // not yet projected), or simply a time before the end
    let store = store();
    let auction_id = auction(&store, None, None).await;
    let index = Listed::of(vec![ending(auction_id, t(1800))]);

    // When the scheduler sweeps before the aggregate's end
    let report = sweep(&store, &index, t(1800)).await.unwrap();

    // Then the aggregate decides: not over yet, nothing appended
    assert_eq!(report.not_yet, 1);
    assert!(ended_events(&store, auction_id).is_empty());
    assert!(matches!(
        state(&store, auction_id).await.auction.unwrap().status,
        domain::Status::Active
    ));
}

#[tokio::test]
async fn a_scheduled_auction_starts_when_its_start_time_comes() {
    let store = store();
    let auction_id = auction(&store, Some(t(600)), None).await;
    let index = Listed::of(vec![Due {
        auction_id,
        action: Action::Start,
        at: t(600),
    }]);

    let early = sweep(&store, &index, t(599)).await.unwrap();
    let on_time = sweep(&store, &index, t(600)).await.unwrap();

    assert_eq!(early.not_yet, 1);
    assert_eq!(on_time.started, vec![auction_id]);
    assert!(matches!(
        state(&store, auction_id).await.auction.unwrap().status,
        domain::Status::Active
    ));
}

#[tokio::test]
async fn one_unknown_auction_does_not_stop_the_others_from_ending() {
    let store = store();
    let auction_id = auction(&store, None, None).await;
    let unknown = AuctionId(Uuid::new_v4());
    let index = Listed::of(vec![ending(unknown, t(3600)), ending(auction_id, t(3600))]);

    let report = sweep(&store, &index, t(3600)).await.unwrap();

    assert_eq!(report.ended, vec![auction_id]);
    assert_eq!(report.failed, 1);
}
