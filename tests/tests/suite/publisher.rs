//! The SQS fan-out against moto: events appended to DynamoDB Local, handed to the publisher as
//! the stream records Lambda would deliver, read back from the queues.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_sqs::types::Message;
use chrono::TimeDelta;
use domain::{
    EndAuction, RecordPaymentFailed, decide_create, decide_end, decide_record_payment_failed,
};
use e2e::{TestEnv, fixtures};
use event_store::{EventLog, Meter, StoredEvent};
use events::{AuctionEvent, AuctionId, AuctionResult, RawEnvelope};
use fan_out::{PublishError, Queue, QueueUrls, SqsQueues, handle};
use tokio::time::Instant;
use uuid::Uuid;

/// Upper bound for a receive loop: a broken emulator fails the test instead of hanging it.
const LOOP_BUDGET: Duration = Duration::from_secs(20);

/// An auction's whole life through the real decisions, appended to the test's Events table:
/// created and started, two bids, ended sold, the winner's payment failed, the item offered to
/// the runner-up (versions 1 to 7).
async fn auction_to_runner_up(env: &TestEnv) -> AuctionId {
    let store = env.store();
    let auction_id = AuctionId(Uuid::new_v4());
    let create = fixtures::create_command(auction_id);
    let seller = fixtures::user("seller");
    store
        .execute(
            auction_id,
            &fixtures::context(&seller, None),
            |state, now| decide_create(state, &create, now),
        )
        .await
        .unwrap();
    for bidder in ["bob", "cat"] {
        crate::support::outbid(&store, auction_id, bidder).await;
    }
    let mut after_the_end = fixtures::context(&seller, None);
    after_the_end.now = fixtures::epoch() + TimeDelta::days(31);
    let ended = store
        .execute(auction_id, &after_the_end, |state, now| {
            decide_end(state, &EndAuction, now)
        })
        .await
        .unwrap();
    let winner = match &ended.events[0].event {
        AuctionEvent::AuctionEnded(ended) => match &ended.result {
            AuctionResult::Sold { winner_id, .. } => winner_id.clone(),
            AuctionResult::Unsold { reason } => {
                panic!("the fixture auction went unsold: {reason:?}")
            }
        },
        other => panic!("ending produced {other:?}"),
    };
    let failed = RecordPaymentFailed {
        buyer_id: winner,
        reason: "card declined".to_owned(),
    };
    store
        .execute(auction_id, &after_the_end, |state, now| {
            decide_record_payment_failed(state, &failed, now)
        })
        .await
        .unwrap();
    auction_id
}

/// An auction created and bid on once (versions 1 to 3).
async fn auction_with_a_bid(env: &TestEnv) -> AuctionId {
    let (auction_id, events) = fixtures::history(1).await.unwrap();
    fixtures::import(&env.event_store(), &events).await.unwrap();
    auction_id
}

async fn stored(env: &TestEnv, auction_id: AuctionId) -> Vec<StoredEvent> {
    env.event_store()
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap()
}

/// The JSON Lambda delivers for a batch of Events items, in the given order.
fn stream_batch(env: &TestEnv, events: &[StoredEvent]) -> Event {
    let records: Vec<serde_json::Value> = events
        .iter()
        .enumerate()
        .map(|(i, stored)| {
            let image = serde_json::to_value(serde_dynamo::Item::from(
                event_store::event_item(stored).unwrap(),
            ))
            .unwrap();
            serde_json::json!({
                "eventID": Uuid::new_v4().to_string(),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_767_225_600,
                    "Keys": {"aggregateId": image["aggregateId"], "version": image["version"]},
                    "NewImage": image,
                    "SequenceNumber": format!("{:021}", i + 1),
                    "SizeBytes": 512,
                    "StreamViewType": "NEW_IMAGE"
                },
                "eventSourceARN": format!(
                    "arn:aws:dynamodb:us-east-1:000000000000:table/{}/stream/2026-01-01T00:00:00.000",
                    env.events_table()
                )
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn urls(env: &TestEnv) -> QueueUrls {
    QueueUrls::from_fn(|queue| match queue {
        Queue::Notifications => env.notifications_queue().url.clone(),
        Queue::Payments => env.payments_queue().url.clone(),
        Queue::Live => env.live_queue().url.clone(),
    })
}

async fn receive_once(env: &TestEnv, queue_url: &str) -> Vec<Message> {
    let messages = crate::support::receive(env, queue_url).await;
    for message in &messages {
        env.sqs()
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(message.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }
    messages
}

/// Receives (and deletes) until `expected` messages arrived, then once more to catch a
/// duplicate arriving late.
async fn receive_all(env: &TestEnv, queue_url: &str, expected: usize) -> Vec<Message> {
    let started = Instant::now();
    let mut received = Vec::new();
    while received.len() < expected && started.elapsed() < LOOP_BUDGET {
        received.extend(receive_once(env, queue_url).await);
    }
    received.extend(receive_once(env, queue_url).await);
    received
}

fn string_attribute<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .message_attributes()?
        .get(name)
        .filter(|value| value.data_type() == "String")?
        .string_value()
}

/// (aggregateId, version) of each message, as its body says.
fn keys(messages: &[Message]) -> Vec<(AuctionId, u64)> {
    messages
        .iter()
        .map(|m| {
            let envelope: RawEnvelope = serde_json::from_str(m.body().unwrap()).unwrap();
            (envelope.aggregate_id.into(), envelope.version)
        })
        .collect()
}

fn sorted(mut keys: Vec<(AuctionId, u64)>) -> Vec<(AuctionId, u64)> {
    keys.sort();
    keys
}

/// Per auction, the versions in the order they arrived.
fn versions_per_auction(keys: &[(AuctionId, u64)]) -> BTreeMap<AuctionId, Vec<u64>> {
    let mut per_auction: BTreeMap<AuctionId, Vec<u64>> = BTreeMap::new();
    for (auction_id, version) in keys {
        per_auction.entry(*auction_id).or_default().push(*version);
    }
    per_auction
}

#[tokio::test]
async fn each_event_reaches_each_subscribed_queue_once_even_when_its_batch_is_handled_twice() {
    // Given two auctions in the log, one taken to the runner-up offer, one with a bid, and their
    // stream records interleaved in one batch
    let env = TestEnv::new().await;
    let long = auction_to_runner_up(&env).await;
    let short = auction_with_a_bid(&env).await;
    let (long_events, short_events) = (stored(&env, long).await, stored(&env, short).await);
    assert_eq!((long_events.len(), short_events.len()), (7, 3));
    let mut events = Vec::new();
    for i in 0..long_events.len() {
        events.extend(long_events.get(i).cloned());
        events.extend(short_events.get(i).cloned());
    }
    let sqs = SqsQueues::new(env.sqs().clone());

    // When the publisher handles the batch, and then the very same batch again (a retry)
    for _ in 0..2 {
        let response = handle(&sqs, &urls(&env), stream_batch(&env, &events))
            .await
            .unwrap();
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            response.batch_item_failures
        );
    }

    // Then the notifier got every bid, the ending, the failed payment and the runner-up offer,
    // and the saga the last three: each exactly once, each auction's in version order
    let notifications = receive_all(&env, &env.notifications_queue().url, 6).await;
    let payments = receive_all(&env, &env.payments_queue().url, 3).await;
    let notified = keys(&notifications);
    assert_eq!(
        sorted(notified.clone()),
        sorted(vec![
            (long, 3),
            (long, 4),
            (long, 5),
            (long, 6),
            (long, 7),
            (short, 3)
        ])
    );
    assert_eq!(
        versions_per_auction(&notified),
        BTreeMap::from([(long, vec![3, 4, 5, 6, 7]), (short, vec![3])])
    );
    assert_eq!(keys(&payments), [(long, 5), (long, 6), (long, 7)]);
}

#[tokio::test]
async fn a_message_is_the_stored_envelope_grouped_by_auction_with_its_attributes() {
    // Given an auction with a bid
    let env = TestEnv::new().await;
    let auction_id = auction_with_a_bid(&env).await;
    let events = stored(&env, auction_id).await;
    let bid = events.last().unwrap().clone();
    assert_eq!(bid.envelope.event_type, "BidPlaced");

    // When its records are published
    let sqs = SqsQueues::new(env.sqs().clone());
    handle(&sqs, &urls(&env), stream_batch(&env, &events))
        .await
        .unwrap();

    // Then the notifier's message is the envelope as stored, in the auction's group, with the
    // attributes a consumer filters on
    let messages = receive_all(&env, &env.notifications_queue().url, 1).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    let body: RawEnvelope = serde_json::from_str(message.body().unwrap()).unwrap();
    assert_eq!(body, bid.envelope);
    let system: HashMap<String, String> = message
        .attributes()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
        .collect();
    assert_eq!(system.get("MessageGroupId"), Some(&auction_id.to_string()));
    assert_eq!(
        system.get("MessageDeduplicationId"),
        Some(&format!("{auction_id}#3"))
    );
    let metadata = &bid.envelope.metadata;
    assert_eq!(string_attribute(message, "eventType"), Some("BidPlaced"));
    assert_eq!(
        string_attribute(message, "eventId"),
        Some(bid.envelope.event_id.to_string().as_str())
    );
    assert_eq!(
        string_attribute(message, "aggregateId"),
        Some(auction_id.to_string().as_str())
    );
    assert_eq!(
        string_attribute(message, "correlationId"),
        Some(metadata.correlation_id.as_str())
    );
    assert_eq!(
        string_attribute(message, "causationId"),
        Some(metadata.causation_id.as_str())
    );
    let version = message
        .message_attributes()
        .unwrap()
        .get("version")
        .unwrap();
    assert_eq!(version.data_type(), "Number");
    assert_eq!(version.string_value(), Some("3"));
}

#[tokio::test]
async fn more_than_ten_messages_for_a_queue_all_arrive_in_order() {
    // Given an auction with twelve bids (fourteen events, twelve of them for the notifier)
    let env = TestEnv::new().await;
    let (auction_id, events) = fixtures::history(12).await.unwrap();
    fixtures::import(&env.event_store(), &events).await.unwrap();
    let events = stored(&env, auction_id).await;

    // When they are published in one batch
    let sqs = SqsQueues::new(env.sqs().clone());
    let response = handle(&sqs, &urls(&env), stream_batch(&env, &events))
        .await
        .unwrap();

    // Then all twelve bids arrive, once each, in version order
    assert!(response.batch_item_failures.is_empty());
    let messages = receive_all(&env, &env.notifications_queue().url, 12).await;
    let versions: Vec<u64> = keys(&messages).into_iter().map(|(_, v)| v).collect();
    assert_eq!(versions, (3..=14).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_queue_that_does_not_exist_fails_its_records_and_the_others_flow() {
    // Given a payments URL that names no queue, and an ending (for both queues) followed by a
    // bid on another auction (for the notifier only)
    let env = TestEnv::new().await;
    let ended = auction_to_runner_up(&env).await;
    let bid_on = auction_with_a_bid(&env).await;
    let ending = stored(&env, ended).await[4].clone();
    let bid = stored(&env, bid_on).await[2].clone();
    let missing = format!(
        "{}-missing.fifo",
        env.payments_queue().url.trim_end_matches(".fifo")
    );
    let urls = QueueUrls::from_fn(|queue| match queue {
        Queue::Notifications => env.notifications_queue().url.clone(),
        Queue::Payments => missing.clone(),
        Queue::Live => env.live_queue().url.clone(),
    });

    // When the batch is published
    let sqs = SqsQueues::new(env.sqs().clone());
    let response = handle(&sqs, &urls, stream_batch(&env, &[ending, bid]))
        .await
        .unwrap();

    // Then the ending is reported for retry and the bid is not; the notifier has both
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failed, [format!("{:021}", 1)]);
    let messages = receive_all(&env, &env.notifications_queue().url, 2).await;
    assert_eq!(
        sorted(keys(&messages)),
        sorted(vec![(ended, 5), (bid_on, 3)])
    );
}

#[tokio::test]
async fn queue_urls_are_looked_up_by_name_when_no_url_is_given() {
    // Given the test's queue names, and no URL variables
    let env = TestEnv::new().await;
    let names = env.names().clone();
    let lookup = |var: &str| match var {
        "NOTIFICATIONS_QUEUE" => Some(names.notifications_queue.clone()),
        "PAYMENTS_QUEUE" => Some(names.payments_queue.clone()),
        _ => None,
    };
    let sqs = SqsQueues::new(env.sqs().clone());

    // When the publisher resolves its queues
    let urls = QueueUrls::resolve(lookup, &sqs).await.unwrap();

    // Then it finds the provisioned ones
    assert_eq!(
        urls.url(Queue::Notifications),
        env.notifications_queue().url
    );
    assert_eq!(urls.url(Queue::Payments), env.payments_queue().url);
}

#[tokio::test]
async fn a_queue_name_that_does_not_exist_is_a_clear_start_up_error() {
    let env = TestEnv::new().await;
    let lookup = |var: &str| match var {
        "NOTIFICATIONS_QUEUE_URL" => Some(env.notifications_queue().url.clone()),
        "PAYMENTS_QUEUE" => Some(format!("{}-nope.fifo", Uuid::new_v4().simple())),
        _ => None,
    };
    let sqs = SqsQueues::new(env.sqs().clone());

    let error = QueueUrls::resolve(lookup, &sqs).await.unwrap_err();

    assert!(
        matches!(
            error,
            PublishError::QueueUnresolved {
                queue: Queue::Payments,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("PAYMENTS_QUEUE_URL"), "{error}");
}
