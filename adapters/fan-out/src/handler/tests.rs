use aws_lambda_events::event::dynamodb::Event;
use chrono::{TimeZone, Utc};
use event_store::{StoredEvent, event_item};
use events::{Actor, Metadata, RawEnvelope};
use uuid::Uuid;

use super::*;
use crate::memory::InMemoryQueues;
use crate::message::{MAX_BATCH_BYTES, deduplication_id};

const NOTIFICATIONS: &str = "http://sqs/notifications.fifo";
const PAYMENTS: &str = "http://sqs/payments.fifo";
const LIVE: &str = "http://sqs/live.fifo";

fn urls() -> QueueUrls {
    QueueUrls::from_fn(|queue| match queue {
        Queue::Notifications => NOTIFICATIONS.to_owned(),
        Queue::Payments => PAYMENTS.to_owned(),
        Queue::Live => LIVE.to_owned(),
    })
}

/// The size of each request made to `queue_url`, in order.
fn requests_to(queues: &InMemoryQueues, queue_url: &str) -> Vec<usize> {
    queues
        .requests()
        .into_iter()
        .filter(|(url, _)| url == queue_url)
        .map(|(_, n)| n)
        .collect()
}

fn auction(n: u128) -> AuctionId {
    AuctionId(Uuid::from_u128(n))
}

fn event(aggregate: u128, version: u64, event_type: &str) -> StoredEvent {
    with_payload(
        aggregate,
        version,
        event_type,
        serde_json::json!({"n": version}),
    )
}

fn with_payload(
    aggregate: u128,
    version: u64,
    event_type: &str,
    payload: serde_json::Value,
) -> StoredEvent {
    StoredEvent {
        envelope: RawEnvelope {
            event_id: Uuid::new_v4(),
            aggregate_id: auction(aggregate).into(),
            aggregate_type: "Auction".to_owned(),
            event_type: event_type.to_owned(),
            version,
            schema_version: 1,
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap(),
            payload,
            metadata: Metadata {
                correlation_id: format!("corr-{aggregate}-{version}"),
                causation_id: format!("cmd-{aggregate}-{version}"),
                actor: Actor::System {
                    name: "test".to_owned(),
                },
                idempotency_key: None,
                request_fingerprint: None,
            },
        },
        hash: "00".to_owned(),
    }
}

/// The stream record Lambda delivers for an event's item, as JSON.
fn record_json(stored: &StoredEvent, sequence_number: usize) -> serde_json::Value {
    let item = serde_dynamo::Item::from(event_item(stored).unwrap());
    let image = serde_json::to_value(&item).unwrap();
    serde_json::json!({
        "eventID": format!("id-{sequence_number}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"aggregateId": image["aggregateId"], "version": image["version"]},
            "NewImage": image,
            "SequenceNumber": format!("{sequence_number:021}"),
            "SizeBytes": 100,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/Events/stream/x"
    })
}

fn batch_of(records: Vec<serde_json::Value>) -> Event {
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn batch(events: &[StoredEvent]) -> Event {
    batch_of(
        events
            .iter()
            .enumerate()
            .map(|(i, e)| record_json(e, i + 1))
            .collect(),
    )
}

fn failed(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

fn sequence(n: usize) -> String {
    format!("{n:021}")
}

/// (aggregate, version) of each message on a queue, in order.
fn keys(queues: &InMemoryQueues, url: &str) -> Vec<String> {
    queues
        .messages(url)
        .into_iter()
        .map(|m| m.deduplication_id)
        .collect()
}

fn key(aggregate: u128, version: u64) -> String {
    deduplication_id(auction(aggregate), version)
}

#[tokio::test]
async fn each_event_reaches_the_queues_its_type_is_routed_to() {
    // Given an auction's life from creation to payment
    let events = [
        event(1, 1, "AuctionCreated"),
        event(1, 2, "BidPlaced"),
        event(1, 3, "AuctionExtended"),
        event(1, 4, "AuctionEnded"),
        event(1, 5, "PaymentSucceeded"),
    ];
    let queues = InMemoryQueues::new();

    // When the batch is published
    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    // Then nothing failed, the notifier got the bid, the ending and the payment, and the saga
    // the ending and the payment
    assert!(failed(&response).is_empty());
    assert_eq!(
        keys(&queues, NOTIFICATIONS),
        [key(1, 2), key(1, 4), key(1, 5)]
    );
    assert_eq!(keys(&queues, PAYMENTS), [key(1, 4), key(1, 5)]);
}

#[tokio::test]
async fn a_message_carries_the_stored_envelope_its_group_and_its_attributes() {
    let bid = event(1, 2, "BidPlaced");
    let queues = InMemoryQueues::new();

    handle(&queues, &urls(), batch(std::slice::from_ref(&bid)))
        .await
        .unwrap();

    let message = queues.messages(NOTIFICATIONS).remove(0);
    let body: RawEnvelope = serde_json::from_str(&message.body).unwrap();
    assert_eq!(body, bid.envelope);
    assert_eq!(message.group_id, auction(1).to_string());
    assert_eq!(message.deduplication_id, format!("{}#2", auction(1)));
    let correlation = message
        .attributes
        .iter()
        .find(|(name, _)| *name == "correlationId");
    assert_eq!(correlation.map(|(_, v)| v.as_str()), Some("corr-1-2"));
}

#[tokio::test]
async fn messages_go_out_in_requests_of_at_most_ten_in_order() {
    // Given 25 bids on one auction
    let events: Vec<_> = (1..=25).map(|v| event(1, v, "BidPlaced")).collect();
    let queues = InMemoryQueues::new();

    // When they are published
    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    // Then three requests carried them, in order
    assert!(failed(&response).is_empty());
    let sizes: Vec<usize> = requests_to(&queues, NOTIFICATIONS);
    assert_eq!(sizes, [10, 10, 5]);
    let expected: Vec<String> = (1..=25).map(|v| key(1, v)).collect();
    assert_eq!(keys(&queues, NOTIFICATIONS), expected);
}

#[tokio::test]
async fn large_messages_go_out_in_requests_under_the_byte_limit() {
    // Given five bids whose payloads are each about a third of a request's limit
    let filler = "x".repeat(MAX_BATCH_BYTES / 3 - 2_000);
    let events: Vec<_> = (1..=5)
        .map(|v| with_payload(1, v, "BidPlaced", serde_json::json!({ "filler": filler })))
        .collect();
    let queues = InMemoryQueues::new();

    // When they are published
    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    // Then no request exceeded the limit (the twin refuses one that does, as SQS would)
    assert!(failed(&response).is_empty());
    let sizes: Vec<usize> = requests_to(&queues, NOTIFICATIONS);
    assert_eq!(sizes, [3, 2]);
    assert_eq!(keys(&queues, NOTIFICATIONS).len(), 5);
}

#[tokio::test]
async fn a_refused_send_fails_its_record_and_the_later_ones_of_that_auction_only() {
    // Given bids on two auctions, interleaved, and SQS refusing auction 1's second event
    let events = [
        event(1, 1, "BidPlaced"),
        event(2, 1, "BidPlaced"),
        event(1, 2, "BidPlaced"),
        event(2, 2, "BidPlaced"),
        event(1, 3, "BidPlaced"),
        event(2, 3, "BidPlaced"),
    ];
    let queues = InMemoryQueues::new();
    queues.refuse(NOTIFICATIONS, &key(1, 2));

    // When the batch is published
    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    // Then records 3 and 5 (auction 1 from version 2 on) are reported, and auction 2 went out
    // whole
    assert_eq!(failed(&response), [sequence(3), sequence(5)]);
    let sent = keys(&queues, NOTIFICATIONS);
    assert!(!sent.contains(&key(1, 2)), "{sent:?}");
    for expected in [key(1, 1), key(2, 1), key(2, 2), key(2, 3)] {
        assert!(sent.contains(&expected), "{expected} missing from {sent:?}");
    }
}

#[test]
fn given_a_refused_send_when_the_batch_is_published_then_the_reported_records_count_as_failed() {
    let (response, recorded) = conventions::metrics::testing::recorded_async(async {
        // Given bids on two auctions, interleaved, and SQS refusing auction 1's second event
        let events = [
            event(1, 1, "BidPlaced"),
            event(2, 1, "BidPlaced"),
            event(1, 2, "BidPlaced"),
            event(2, 2, "BidPlaced"),
            event(1, 3, "BidPlaced"),
            event(2, 3, "BidPlaced"),
        ];
        let queues = InMemoryQueues::new();
        queues.refuse(NOTIFICATIONS, &key(1, 2));

        // When the batch is published
        handle(&queues, &urls(), batch(&events)).await.unwrap()
    });

    // Then the two reported records count as failed, the four others as processed, each of
    // the six with its lag
    let publisher = [("Consumer", "publisher")];
    assert_eq!(failed(&response).len(), 2);
    assert_eq!(recorded.counter("RecordsFailed", &publisher), 2);
    assert_eq!(recorded.counter("RecordsProcessed", &publisher), 4);
    assert_eq!(recorded.histogram("ConsumerLag", &publisher).len(), 6);
}

#[tokio::test]
async fn after_a_refused_send_the_auctions_later_requests_hold_its_events_back() {
    // Given twelve bids on one auction (two requests) and SQS refusing the second
    let events: Vec<_> = (1..=12).map(|v| event(1, v, "BidPlaced")).collect();
    let queues = InMemoryQueues::new();
    queues.refuse(NOTIFICATIONS, &key(1, 2));

    // When the batch is published
    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    // Then every record from the second on is reported, and the second request was never made:
    // versions 11 and 12 cannot overtake version 2 (on any queue: the live queue got version 1
    // alone)
    let expected: Vec<String> = (2..=12).map(sequence).collect();
    assert_eq!(failed(&response), expected);
    assert_eq!(requests_to(&queues, NOTIFICATIONS).len(), 1);
    assert_eq!(keys(&queues, LIVE), [key(1, 1)]);
    let sent = keys(&queues, NOTIFICATIONS);
    assert!(!sent.contains(&key(1, 11)) && !sent.contains(&key(1, 12)));
}

#[tokio::test]
async fn a_failure_on_one_queue_fails_the_record_even_though_the_other_queue_took_it() {
    // Given an ending and a payment, and the payments queue failing the first request
    let events = [event(1, 1, "AuctionEnded"), event(1, 2, "PaymentSucceeded")];
    let queues = InMemoryQueues::new();
    queues.fail_next_requests(PAYMENTS, 1);

    // When the batch is published
    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    // Then both records are retried; the notifier already has both (its resends will be
    // de-duplicated), the saga has neither
    assert_eq!(failed(&response), [sequence(1), sequence(2)]);
    assert_eq!(keys(&queues, NOTIFICATIONS), [key(1, 1), key(1, 2)]);
    assert!(keys(&queues, PAYMENTS).is_empty());
}

#[tokio::test]
async fn the_retry_of_a_partly_failed_batch_delivers_everything_exactly_once_in_order() {
    // Given a batch that partly failed: eleven events, the last one (alone in its request)
    // refused by the payments queue
    let events: Vec<_> = (1..=11).map(|v| event(1, v, "PaymentFailed")).collect();
    let queues = InMemoryQueues::new();
    queues.refuse(PAYMENTS, &key(1, 11));
    let first = handle(&queues, &urls(), batch(&events)).await.unwrap();
    assert_eq!(failed(&first), [sequence(11)]);

    // When Lambda retries from the failed record after the fault cleared, and then, for good
    // measure, the whole batch once more
    queues.accept(PAYMENTS, &key(1, 11));
    let retry = handle(&queues, &urls(), batch(&events[10..]))
        .await
        .unwrap();
    let again = handle(&queues, &urls(), batch(&events)).await.unwrap();

    // Then each queue holds every event once, in version order
    assert!(failed(&retry).is_empty() && failed(&again).is_empty());
    let all: Vec<String> = (1..=11).map(|v| key(1, v)).collect();
    assert_eq!(keys(&queues, NOTIFICATIONS), all);
    assert_eq!(keys(&queues, PAYMENTS), all);
}

#[tokio::test]
async fn a_batch_handled_twice_leaves_each_event_once_on_each_queue() {
    let events = [
        event(1, 1, "AuctionEnded"),
        event(2, 1, "BidPlaced"),
        event(1, 2, "ItemOfferedToRunnerUp"),
    ];
    let queues = InMemoryQueues::new();

    handle(&queues, &urls(), batch(&events)).await.unwrap();
    handle(&queues, &urls(), batch(&events)).await.unwrap();

    assert_eq!(
        keys(&queues, NOTIFICATIONS),
        [key(1, 1), key(2, 1), key(1, 2)]
    );
    assert_eq!(keys(&queues, PAYMENTS), [key(1, 1), key(1, 2)]);
}

#[tokio::test]
async fn an_undecodable_record_is_reported_and_the_others_are_sent() {
    // Given auction 1's first record with a payload that is not JSON, then more of both auctions
    let mut broken = record_json(&event(1, 1, "BidPlaced"), 1);
    broken["dynamodb"]["NewImage"]["payload"] = serde_json::json!({"S": "{not json"});
    let event_batch = batch_of(vec![
        broken,
        record_json(&event(2, 1, "BidPlaced"), 2),
        record_json(&event(1, 2, "BidPlaced"), 3),
    ]);
    let queues = InMemoryQueues::new();

    // When the batch is published
    let response = handle(&queues, &urls(), event_batch).await.unwrap();

    // Then the broken record and auction 1's later one are reported; auction 2's went out
    assert_eq!(failed(&response), [sequence(1), sequence(3)]);
    assert_eq!(keys(&queues, NOTIFICATIONS), [key(2, 1)]);
}

#[tokio::test]
async fn a_record_without_keys_or_image_fails_alone() {
    // Given a record carrying nothing, between two bids of one auction
    let mut empty = record_json(&event(1, 1, "BidPlaced"), 2);
    empty["dynamodb"]["Keys"] = serde_json::json!({});
    empty["dynamodb"]["NewImage"] = serde_json::json!({});
    let event_batch = batch_of(vec![
        record_json(&event(1, 1, "BidPlaced"), 1),
        empty,
        record_json(&event(1, 2, "BidPlaced"), 3),
    ]);
    let queues = InMemoryQueues::new();

    let response = handle(&queues, &urls(), event_batch).await.unwrap();

    // Then only it is reported: it belongs to no auction whose order it could break
    assert_eq!(failed(&response), [sequence(2)]);
    assert_eq!(keys(&queues, NOTIFICATIONS), [key(1, 1), key(1, 2)]);
}

#[tokio::test]
async fn a_modified_event_is_reported_and_never_sent() {
    let mut modified = record_json(&event(1, 1, "BidPlaced"), 1);
    modified["eventName"] = serde_json::json!("MODIFY");
    let queues = InMemoryQueues::new();

    let response = handle(&queues, &urls(), batch_of(vec![modified]))
        .await
        .unwrap();

    assert_eq!(failed(&response), [sequence(1)]);
    assert!(queues.requests().is_empty());
}

#[tokio::test]
async fn an_event_type_this_build_does_not_know_is_reported_not_dropped() {
    let events = [
        event(1, 1, "AuctionTeleported"),
        event(1, 2, "BidPlaced"),
        event(2, 1, "BidPlaced"),
    ];
    let queues = InMemoryQueues::new();

    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    assert_eq!(failed(&response), [sequence(1), sequence(2)]);
    assert_eq!(keys(&queues, NOTIFICATIONS), [key(2, 1)]);
}

#[tokio::test]
async fn a_message_larger_than_sqs_accepts_fails_its_record_and_the_auctions_later_ones() {
    let huge = "x".repeat(MAX_BATCH_BYTES);
    let events = [
        with_payload(1, 1, "BidPlaced", serde_json::json!({ "filler": huge })),
        event(2, 1, "BidPlaced"),
        event(1, 2, "BidPlaced"),
    ];
    let queues = InMemoryQueues::new();

    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    assert_eq!(failed(&response), [sequence(1), sequence(3)]);
    assert_eq!(keys(&queues, NOTIFICATIONS), [key(2, 1)]);
}

#[tokio::test]
async fn a_queue_that_cannot_be_reached_fails_only_the_records_routed_to_it() {
    // Given the payments queue unreachable, and a bid on another auction
    let events = [event(1, 1, "AuctionEnded"), event(2, 1, "BidPlaced")];
    let queues = InMemoryQueues::new();
    queues.fail_next_requests(PAYMENTS, 1);

    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    // Then the ending is retried and the bid is not
    assert_eq!(failed(&response), [sequence(1)]);
    assert_eq!(keys(&queues, NOTIFICATIONS), [key(1, 1), key(2, 1)]);
}

#[tokio::test]
async fn when_nothing_at_all_can_be_sent_the_invocation_fails() {
    let events = [event(1, 1, "AuctionEnded"), event(2, 1, "BidPlaced")];
    let queues = InMemoryQueues::new();
    queues.fail_next_requests(NOTIFICATIONS, 5);
    queues.fail_next_requests(PAYMENTS, 5);

    let error = handle(&queues, &urls(), batch(&events)).await.unwrap_err();

    assert!(matches!(error, PublishError::SendFailed { .. }), "{error}");
}

#[tokio::test]
async fn events_routed_nowhere_send_nothing_and_succeed() {
    let events = [event(1, 1, "AuctionCreated"), event(1, 2, "AuctionStarted")];
    let queues = InMemoryQueues::new();

    let response = handle(&queues, &urls(), batch(&events)).await.unwrap();

    assert!(failed(&response).is_empty());
    assert!(queues.requests().is_empty());
}

#[tokio::test]
async fn an_empty_batch_is_an_empty_response() {
    let queues = InMemoryQueues::new();

    let response = handle(&queues, &urls(), batch(&[])).await.unwrap();

    assert!(failed(&response).is_empty());
    assert!(queues.requests().is_empty());
}
