//! The broadcaster and the sessions on the in-memory twins: histories decided by the real
//! domain, delivered as the live queue's messages the publisher would send (body: the stored
//! envelope; group: the auction).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::TimeDelta;
use domain::fixtures::lamp_auction;
use domain::{PlaceBid, decide_create, decide_place_bid};
use event_store::testing::{self, epoch, eur, user};
use event_store::{CommandContext, InMemoryStore, SnapshotPolicy, Store, StoredEvent};
use events::{AuctionId, BidId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use live::{
    ConnectionId, Fanout, InMemoryPush, InMemorySubscriptions, LiveError, MAX_SUBSCRIPTIONS, Push,
    PushError, ServerMessage, Subscriptions, handle, handle_with, session,
};
use personal_data::{InMemorySubjectKeys, Pseudonyms};
use serde_json::Value;
use uuid::Uuid;

fn context(actor: &str) -> CommandContext {
    testing::context(actor, epoch() + TimeDelta::minutes(1))
}

/// The id the tests give the message of an event: its auction and version.
fn message_id(stored: &StoredEvent) -> String {
    format!("{}#{}", stored.envelope.aggregate_id, stored.version())
}

/// The publisher's message for `stored` as Lambda delivers it: the stored envelope as the
/// body, the auction as the message group.
fn message(stored: &StoredEvent) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(message_id(stored));
    message.body = Some(serde_json::to_string(&stored.envelope).unwrap());
    message.attributes.insert(
        "MessageGroupId".to_owned(),
        stored.envelope.aggregate_id.to_string(),
    );
    message
}

fn batch(events: &[StoredEvent]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = events.iter().map(message).collect();
    event
}

fn failed(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
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

/// Everything the broadcaster talks to: a store of auctions (histories decided by the domain),
/// the subscriptions, the push port (the in-memory twin unless a test brings its own), and the
/// subjects' keys the bidders' pseudonyms are made and revealed with.
struct Live<P = InMemoryPush> {
    store: Store<InMemoryStore>,
    subscriptions: InMemorySubscriptions,
    push: P,
    keys: InMemorySubjectKeys,
}

impl Live {
    fn new() -> Self {
        Self::with_push(InMemoryPush::new())
    }
}

impl<P: Push> Live<P> {
    fn with_push(push: P) -> Self {
        Live {
            store: Store::new(InMemoryStore::new(), SnapshotPolicy::default()),
            subscriptions: InMemorySubscriptions::new(),
            push,
            keys: InMemorySubjectKeys::default(),
        }
    }

    /// An auction with `bids` bids from ann and bob in turn, by their pseudonyms as the API
    /// decides them.
    async fn auction_with_bids(&self, bids: usize) -> AuctionId {
        let auction_id = AuctionId(Uuid::new_v4());
        let command = lamp_auction(auction_id, epoch() + TimeDelta::days(1));
        self.store
            .execute(auction_id, &context("seller"), |state, now| {
                decide_create(state, &command, now)
            })
            .await
            .unwrap();
        for n in 0..bids {
            let bidder = if n % 2 == 0 { "ann" } else { "bob" };
            let command = PlaceBid {
                bid_id: BidId(Uuid::new_v4()),
                bidder_id: self.keys.pseudonym_of(&user(bidder)).await.unwrap(),
                amount: eur(100 + 10 * i64::try_from(n).unwrap()),
                max_amount: None,
            };
            self.store
                .execute(auction_id, &context(bidder), |state, now| {
                    decide_place_bid(state, &command, now)
                })
                .await
                .unwrap();
        }
        auction_id
    }

    /// The auction's stored events.
    fn events(&self, auction_id: AuctionId) -> Vec<StoredEvent> {
        self.store.backend().events(auction_id)
    }

    /// `name` connected and subscribed to the auction.
    async fn watching(&self, name: &str, auction_id: AuctionId) -> ConnectionId {
        let subscriptions = &self.subscriptions;
        let connection = ConnectionId(name.to_owned());
        session::connect(subscriptions, &connection, &user(name), epoch())
            .await
            .unwrap();
        let text = format!(r#"{{"action":"subscribe","auctionId":"{auction_id}"}}"#);
        let answer = session::receive(subscriptions, &connection, &text, epoch()).await;
        assert_eq!(answer, ServerMessage::Subscribed { auction_id });
        connection
    }

    /// The batch handled with the default fan-out.
    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, LiveError> {
        let (subscriptions, push, log) = (&self.subscriptions, &self.push, self.store.backend());
        handle(subscriptions, push, log, &self.keys, event).await
    }

    /// The batch handled with [`fanout`]'s bounds.
    async fn handle_with_fanout(&self, event: SqsEvent) -> Result<SqsBatchResponse, LiveError> {
        handle_with(
            &fanout(),
            &self.subscriptions,
            &self.push,
            self.store.backend(),
            &self.keys,
            event,
        )
        .await
    }

    /// Every event of the auction broadcast as one batch, with [`fanout`]'s bounds.
    async fn broadcast_history(&self, auction_id: AuctionId) -> SqsBatchResponse {
        self.handle_with_fanout(batch(&self.events(auction_id)))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn each_watcher_gets_every_bid_of_its_auction_in_version_order_and_nothing_else() {
    // Given ann watching one auction, and bids on it and on another
    let live = Live::new();
    let watched = live.auction_with_bids(3).await;
    let other = live.auction_with_bids(2).await;
    let ann = live.watching("ann", watched).await;

    // When both histories arrive in one batch
    let mut events = live.events(watched);
    events.extend(live.events(other));
    let response = live.handle(batch(&events)).await.unwrap();

    // Then ann got the three bids (versions 3, 4, 5), each with the state after it
    assert!(response.batch_item_failures.is_empty());
    let sent = live.push.sent_to(&ann);
    assert_eq!(versions(&sent), [3, 4, 5]);
    let last: Value = serde_json::from_str(&sent[2]).unwrap();
    assert_eq!(last["type"], "bidPlaced");
    assert_eq!(last["auctionId"], watched.to_string());
    assert_eq!(last["bidCount"], 3);
    // revealed: the log holds ann's pseudonym
    assert_eq!(last["leaderId"], "ann");
    assert!(live.events(watched).iter().all(|stored| {
        !serde_json::to_string(&stored.envelope.payload)
            .unwrap()
            .contains("\"ann\"")
    }));
    assert_eq!(last["currentPrice"]["amountMinor"], 120);
}

#[tokio::test]
async fn a_gone_connection_is_forgotten_and_does_not_fail_the_message() {
    let live = Live::new();
    let auction_id = live.auction_with_bids(1).await;
    let ann = live.watching("ann", auction_id).await;
    let bob = live.watching("bob", auction_id).await;
    live.push.close(&bob);

    let response = live.handle(batch(&live.events(auction_id))).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(versions(&live.push.sent_to(&ann)), [3]);
    assert!(!live.subscriptions.is_connected(&bob));
    assert_eq!(
        live.subscriptions.watchers(auction_id).await.unwrap(),
        [ann]
    );
}

#[tokio::test]
async fn when_pushes_fail_every_message_fails_and_the_batch_is_retried() {
    let live = Live::new();
    let auction_id = live.auction_with_bids(2).await;
    live.watching("ann", auction_id).await;
    live.push.set_unavailable(true);

    let bids = live.events(auction_id)[2..].to_vec();
    let error = live.handle(batch(&bids)).await.unwrap_err();

    assert!(matches!(error, LiveError::BatchFailed(_)), "{error}");
}

#[test]
fn given_pushes_failing_when_every_message_fails_then_the_whole_batch_counts_as_failed() {
    let ((), recorded) = conventions::metrics::testing::recorded_async(async {
        // Given an auction with two bids, a watcher, and the management API out
        let live = Live::new();
        let auction_id = live.auction_with_bids(2).await;
        live.watching("ann", auction_id).await;
        live.push.set_unavailable(true);

        // When both bids' messages are broadcast
        let bids = live.events(auction_id)[2..].to_vec();
        assert!(live.handle(batch(&bids)).await.is_err());
    });

    // Then both count as failed, none as processed; the first one read has its lag (the second
    // is held back behind it unread)
    let broadcaster = [("Consumer", "broadcaster")];
    assert_eq!(recorded.counter("RecordsFailed", &broadcaster), 2);
    assert_eq!(recorded.counter("RecordsProcessed", &broadcaster), 0);
    assert!(!recorded.histogram("ConsumerLag", &broadcaster).is_empty());
}

#[test]
fn given_a_watched_auction_when_its_history_is_broadcast_then_every_message_counts_as_processed() {
    let (events, recorded) = conventions::metrics::testing::recorded_async(async {
        // Given an auction with three bids and a watcher
        let live = Live::new();
        let auction_id = live.auction_with_bids(3).await;
        live.watching("ann", auction_id).await;

        // When its whole history is broadcast
        let response = live.broadcast_history(auction_id).await;
        assert!(failed(&response).is_empty());
        live.events(auction_id).len()
    });

    // Then each message counts as processed, with its lag
    let broadcaster = [("Consumer", "broadcaster")];
    assert_eq!(
        recorded.counter("RecordsProcessed", &broadcaster),
        u64::try_from(events).unwrap()
    );
    assert_eq!(recorded.counter("RecordsFailed", &broadcaster), 0);
    assert_eq!(
        recorded.histogram("ConsumerLag", &broadcaster).len(),
        events
    );
}

/// Two pushes at a time, three rounds, no pause between them (the pause is not what is tested).
fn fanout() -> Fanout {
    Fanout {
        concurrency: 2,
        rounds: 3,
        backoff: Duration::ZERO,
    }
}

/// A push port that yields while a push is in flight and remembers how many were in flight at
/// once.
#[derive(Default)]
struct Crowded {
    inner: InMemoryPush,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Push for Crowded {
    async fn push(&self, connection: &ConnectionId, message: &str) -> Result<(), PushError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        // Let every other push that may start, start.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        let result = self.inner.push(connection, message).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

#[tokio::test]
async fn an_update_for_many_watchers_is_pushed_with_no_more_than_the_bound_in_flight() {
    // Given nine watchers of an auction with one bid
    let live = Live::with_push(Crowded::default());
    let auction_id = live.auction_with_bids(1).await;
    let mut watchers = Vec::new();
    for n in 0..9 {
        watchers.push(live.watching(&format!("w{n}"), auction_id).await);
    }

    // When the bid is broadcast with a bound of two
    let response = live.broadcast_history(auction_id).await;

    // Then every watcher got it, and never more than two pushes were in flight
    assert!(response.batch_item_failures.is_empty());
    for watcher in &watchers {
        assert_eq!(versions(&live.push.inner.sent_to(watcher)), [3]);
    }
    assert_eq!(live.push.peak.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_whose_push_fails_once_is_retried_alone_and_nobody_gets_the_update_twice() {
    // Given ann and bob watching, and ann's next push failing
    let live = Live::new();
    let auction_id = live.auction_with_bids(1).await;
    let ann = live.watching("ann", auction_id).await;
    let bob = live.watching("bob", auction_id).await;
    live.push.fail(&ann, 1);

    // When the bid is broadcast
    let response = live.broadcast_history(auction_id).await;

    // Then the message succeeds, ann got it on her second push and bob on his only one
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(versions(&live.push.sent_to(&ann)), [3]);
    assert_eq!(versions(&live.push.sent_to(&bob)), [3]);
    assert_eq!((live.push.attempts(&ann), live.push.attempts(&bob)), (2, 1));
}

#[tokio::test]
async fn a_connection_that_keeps_failing_misses_its_updates_without_failing_them_for_the_others() {
    // Given ann's pushes all failing, and bob watching too
    let live = Live::new();
    let auction_id = live.auction_with_bids(2).await;
    let ann = live.watching("ann", auction_id).await;
    let bob = live.watching("bob", auction_id).await;
    live.push.fail(&ann, u32::MAX);

    // When two bids are broadcast in one batch
    let response = live.broadcast_history(auction_id).await;

    // Then no message fails, bob got both bids in order, and ann was tried three rounds a bid
    // and is still a watcher
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(versions(&live.push.sent_to(&bob)), [3, 4]);
    assert!(live.push.sent_to(&ann).is_empty());
    assert_eq!(live.push.attempts(&ann), 2 * 3);
    assert!(live.subscriptions.is_connected(&ann));
}

#[tokio::test]
async fn when_no_watcher_can_be_reached_the_message_fails_at_once_without_further_rounds() {
    // Given the management API down for ann's and bob's pushes alike
    let live = Live::new();
    let auction_id = live.auction_with_bids(1).await;
    let ann = live.watching("ann", auction_id).await;
    let bob = live.watching("bob", auction_id).await;
    live.push.set_unavailable(true);

    // When the bid is broadcast
    let bid = live.events(auction_id)[2..].to_vec();
    let error = live.handle_with_fanout(batch(&bid)).await.unwrap_err();

    // Then the message (the whole batch) fails after one push each, to be retried whole
    assert!(matches!(error, LiveError::BatchFailed(_)), "{error}");
    assert_eq!((live.push.attempts(&ann), live.push.attempts(&bob)), (1, 1));
}

#[tokio::test]
async fn an_unreadable_message_fails_with_its_auctions_later_messages_while_others_flow() {
    // Given a batch of two auctions' bids, interleaved, whose first bid of the watched auction
    // is not a readable event
    let live = Live::new();
    let watched = live.auction_with_bids(2).await;
    let other = live.auction_with_bids(1).await;
    let ann = live.watching("ann", watched).await;
    let bob = live.watching("bob", other).await;
    let (watched_bids, other_bid) = (
        live.events(watched)[2..].to_vec(),
        live.events(other)[2].clone(),
    );
    let mut event = batch(&[
        watched_bids[0].clone(),
        other_bid.clone(),
        watched_bids[1].clone(),
    ]);
    event.records[0].body = Some(r#"{"not":"an event"}"#.to_owned());

    // When the batch is handled
    let response = live.handle(event).await.unwrap();

    // Then the unreadable message and the later bid of its auction are reported failed, ann got
    // nothing out of order, and bob got the other auction's bid
    assert_eq!(
        failed(&response),
        [message_id(&watched_bids[0]), message_id(&watched_bids[1])]
    );
    assert!(live.push.sent_to(&ann).is_empty());
    assert_eq!(versions(&live.push.sent_to(&bob)), [3]);
}

#[tokio::test]
async fn a_message_without_a_body_is_reported_failed_not_dropped() {
    // Given a bid's message that lost its body, and a bid of another auction
    let live = Live::new();
    let watched = live.auction_with_bids(1).await;
    let other = live.auction_with_bids(1).await;
    live.watching("ann", watched).await;
    let bid = live.events(watched)[2].clone();
    let mut event = batch(&[bid.clone(), live.events(other)[2].clone()]);
    event.records[0].body = None;

    // When the batch is handled
    let response = live.handle(event).await.unwrap();

    // Then that message alone is reported failed
    assert_eq!(failed(&response), [message_id(&bid)]);
}

#[tokio::test]
async fn when_nobody_watching_an_auction_can_be_reached_its_messages_fail_and_others_flow() {
    // Given ann, the only watcher of one auction, unreachable for good, and bob watching another
    let live = Live::new();
    let unreachable = live.auction_with_bids(2).await;
    let other = live.auction_with_bids(1).await;
    let ann = live.watching("ann", unreachable).await;
    let bob = live.watching("bob", other).await;
    live.push.fail(&ann, u32::MAX);
    let bids = live.events(unreachable)[2..].to_vec();
    let event = batch(&[
        bids[0].clone(),
        live.events(other)[2].clone(),
        bids[1].clone(),
    ]);

    // When the batch is handled
    let response = live.handle_with_fanout(event).await.unwrap();

    // Then both bids of ann's auction are reported failed, after a single push to her (the
    // second is not handled), and bob got his
    assert_eq!(
        failed(&response),
        [message_id(&bids[0]), message_id(&bids[1])]
    );
    assert_eq!(live.push.attempts(&ann), 1);
    assert_eq!(versions(&live.push.sent_to(&bob)), [3]);
}

#[tokio::test]
async fn a_message_without_an_id_fails_the_whole_batch() {
    let live = Live::new();
    let auction_id = live.auction_with_bids(1).await;
    let mut event = batch(&live.events(auction_id));
    event.records[1].message_id = None;

    let error = live.handle(event).await.unwrap_err();

    assert!(matches!(error, LiveError::MissingMessageId), "{error}");
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
