//! The broadcaster and the sessions on the in-memory twins: histories decided by the real
//! domain, delivered as the stream records DynamoDB would write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use auction_domain::{PlaceBid, decide_create, decide_place_bid};
use auction_events::{AuctionId, BidId};
use aws_lambda_events::event::dynamodb::Event;
use chrono::TimeDelta;
use event_store::testing::{self, epoch, eur, lamp_auction, user};
use event_store::{CommandContext, InMemoryStore, SnapshotPolicy, Store, StoredEvent};
use live::{
    ConnectionId, InMemoryPush, InMemorySubscriptions, LiveError, MAX_SUBSCRIPTIONS, ServerMessage,
    Subscriptions, handle, session,
};
use serde_json::Value;
use stream_records::insert_record;
use uuid::Uuid;

fn context(actor: &str) -> CommandContext {
    testing::context(actor, epoch() + TimeDelta::minutes(1))
}

/// An auction with `bids` bids from ann and bob in turn; its stored events.
async fn auction_with_bids(store: &Store<InMemoryStore>, bids: usize) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let command = lamp_auction(auction_id, epoch() + TimeDelta::days(1));
    store
        .execute(auction_id, &context("seller"), |state, now| {
            decide_create(state, &command, now)
        })
        .await
        .unwrap();
    for n in 0..bids {
        let bidder = if n % 2 == 0 { "ann" } else { "bob" };
        let command = PlaceBid {
            bid_id: BidId(Uuid::new_v4()),
            bidder_id: user(bidder),
            amount: eur(100 + 10 * i64::try_from(n).unwrap()),
            max_amount: None,
        };
        store
            .execute(auction_id, &context(bidder), |state, now| {
                decide_place_bid(state, &command, now)
            })
            .await
            .unwrap();
    }
    auction_id
}

fn batch(events: &[StoredEvent]) -> Event {
    let mut event = Event::default();
    event.records = events
        .iter()
        .zip(1..)
        .map(|(stored, sequence)| insert_record(stored, sequence).unwrap())
        .collect();
    event
}

fn versions(messages: &[String]) -> Vec<u64> {
    messages
        .iter()
        .map(|text| {
            serde_json::from_str::<Value>(text).unwrap()["version"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

fn new_store() -> Store<InMemoryStore> {
    Store::new(InMemoryStore::new(), SnapshotPolicy::default())
}

async fn watching(
    subscriptions: &InMemorySubscriptions,
    name: &str,
    auction_id: AuctionId,
) -> ConnectionId {
    let connection = ConnectionId(name.to_owned());
    session::connect(subscriptions, &connection, &user(name), epoch())
        .await
        .unwrap();
    let text = format!(r#"{{"action":"subscribe","auctionId":"{auction_id}"}}"#);
    let answer = session::receive(subscriptions, &connection, &text, epoch()).await;
    assert_eq!(answer, ServerMessage::Subscribed { auction_id });
    connection
}

#[tokio::test]
async fn each_watcher_gets_every_bid_of_its_auction_in_version_order_and_nothing_else() {
    // Given ann watching one auction, and bids on it and on another
    let store = new_store();
    let watched = auction_with_bids(&store, 3).await;
    let other = auction_with_bids(&store, 2).await;
    let subscriptions = InMemorySubscriptions::new();
    let push = InMemoryPush::new();
    let ann = watching(&subscriptions, "ann", watched).await;

    // When both histories arrive in one batch
    let mut events = store.backend().events(watched);
    events.extend(store.backend().events(other));
    let response = handle(&subscriptions, &push, store.backend(), batch(&events))
        .await
        .unwrap();

    // Then ann got the three bids (versions 3, 4, 5), each with the state after it
    assert!(response.batch_item_failures.is_empty());
    let sent = push.sent_to(&ann);
    assert_eq!(versions(&sent), [3, 4, 5]);
    let last: Value = serde_json::from_str(&sent[2]).unwrap();
    assert_eq!(last["type"], "bidPlaced");
    assert_eq!(last["auctionId"], watched.to_string());
    assert_eq!(last["bidCount"], 3);
    assert_eq!(last["leaderId"], "ann");
    assert_eq!(last["currentPrice"]["amountMinor"], 120);
}

#[tokio::test]
async fn a_gone_connection_is_forgotten_and_does_not_fail_the_record() {
    let store = new_store();
    let auction_id = auction_with_bids(&store, 1).await;
    let subscriptions = InMemorySubscriptions::new();
    let push = InMemoryPush::new();
    let ann = watching(&subscriptions, "ann", auction_id).await;
    let bob = watching(&subscriptions, "bob", auction_id).await;
    push.close(&bob);

    let response = handle(
        &subscriptions,
        &push,
        store.backend(),
        batch(&store.backend().events(auction_id)),
    )
    .await
    .unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(versions(&push.sent_to(&ann)), [3]);
    assert!(!subscriptions.is_connected(&bob));
    assert_eq!(subscriptions.watchers(auction_id).await.unwrap(), [ann]);
}

#[tokio::test]
async fn when_pushes_fail_every_record_fails_and_the_batch_is_retried() {
    let store = new_store();
    let auction_id = auction_with_bids(&store, 2).await;
    let subscriptions = InMemorySubscriptions::new();
    let push = InMemoryPush::new();
    watching(&subscriptions, "ann", auction_id).await;
    push.set_unavailable(true);

    let bids = store.backend().events(auction_id)[2..].to_vec();
    let error = handle(&subscriptions, &push, store.backend(), batch(&bids))
        .await
        .unwrap_err();

    assert!(matches!(error, LiveError::BatchFailed(_)), "{error}");
}

#[tokio::test]
async fn after_a_failed_record_its_auctions_later_records_fail_too_so_order_holds() {
    // Given the first record of a batch cannot be read
    let store = new_store();
    let auction_id = auction_with_bids(&store, 2).await;
    let subscriptions = InMemorySubscriptions::new();
    let push = InMemoryPush::new();
    let ann = watching(&subscriptions, "ann", auction_id).await;
    let events = store.backend().events(auction_id);
    let mut event = batch(&events);
    event.records[2].event_name = "MODIFY".to_owned();

    // When the batch is handled
    let response = handle(&subscriptions, &push, store.backend(), event)
        .await
        .unwrap();

    // Then the bad record and the later bid of the same auction are reported, and nothing was
    // pushed out of order
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failed, [format!("{:021}", 3), format!("{:021}", 4)]);
    assert!(push.sent_to(&ann).is_empty());
}

#[tokio::test]
async fn a_connection_watches_at_most_fifty_auctions() {
    let subscriptions = InMemorySubscriptions::new();
    let connection = ConnectionId("c".to_owned());
    for _ in 0..MAX_SUBSCRIPTIONS {
        subscriptions
            .subscribe(&connection, AuctionId(Uuid::new_v4()), epoch())
            .await
            .unwrap();
    }

    let text = format!(
        r#"{{"action":"subscribe","auctionId":"{}"}}"#,
        Uuid::new_v4()
    );
    let answer = session::receive(&subscriptions, &connection, &text, epoch()).await;

    let ServerMessage::Error { code, .. } = answer else {
        panic!("{answer:?}");
    };
    assert_eq!(code, "TOO_MANY_SUBSCRIPTIONS");
}
