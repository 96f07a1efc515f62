//! The local trigger runner emulates Lambda's event source mappings faithfully enough that a
//! green run proves something: stream records reach the handler in order and once, checkpoints
//! survive a restart, failures are retried, bisected and sent to the on-failure destination,
//! and SQS partial failures are redelivered, dead-lettered, and keep FIFO group order.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{Running, stop_within};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_sqs::types::QueueAttributeName;
use e2e::{TestEnv, fixtures};
use events::AuctionId;
use local_triggers::{
    CancellationToken, HandlerError, QueueMapping, StreamClients, StreamMapping, run_queue,
    run_stream,
};
use tokio::time::Instant;

/// Every wait in this file gives up after this long: a broken runner fails, never hangs.
const BUDGET: Duration = Duration::from_secs(30);

/// One delivery of a stream record to a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    aggregate: AuctionId,
    version: u64,
    sequence_number: String,
}

fn seen(record: &EventRecord) -> Seen {
    let event = stream_records::stored_event(record).unwrap();
    Seen {
        aggregate: event.envelope.aggregate_id.into(),
        version: event.envelope.version,
        sequence_number: record.change.sequence_number.clone().unwrap(),
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn mapping(env: &TestEnv, name: &str) -> (StreamMapping, StreamClients) {
    let (mut mapping, clients) = env.stream_mapping(name).await;
    mapping.retry_delay = Duration::from_millis(20);
    (mapping, clients)
}

/// A handler that records every record it is given, and reports as failed (by batch item
/// failure) those `poison` says.
fn recording(
    log: Log,
    poison: impl Fn(&Seen) -> bool + Send + Sync + 'static,
) -> impl Fn(Event) -> std::future::Ready<Result<DynamoDbEventResponse, HandlerError>>
+ Send
+ Sync
+ 'static {
    move |event: Event| {
        let mut response = DynamoDbEventResponse::default();
        for record in &event.records {
            let seen = seen(record);
            if poison(&seen) {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(seen.sequence_number.clone());
                response.batch_item_failures.push(failure);
            }
            log.lock().unwrap().push(seen);
        }
        std::future::ready(Ok(response))
    }
}

fn start<H: local_triggers::StreamHandler>(
    mapping: StreamMapping,
    clients: StreamClients,
    handler: H,
) -> Running {
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_stream(
        mapping,
        clients,
        Arc::new(handler),
        stop.clone(),
    ));
    (stop, task)
}

/// Stops a runner as SIGTERM does, and waits for it to finish its batch.
async fn stop(running: Running) {
    stop_within(BUDGET, running).await;
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < BUDGET, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn append(env: &TestEnv, bids: usize) -> AuctionId {
    let (auction_id, events) = fixtures::history(bids).await.unwrap();
    fixtures::import(&env.event_store(), &events).await.unwrap();
    auction_id
}

fn versions(log: &Log, aggregate: AuctionId) -> Vec<u64> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|s| s.aggregate == aggregate)
        .map(|s| s.version)
        .collect()
}

#[tokio::test]
async fn stream_records_reach_the_handler_in_version_order_each_exactly_once() {
    // Given a stream mapping with small batches
    let env = TestEnv::new().await;
    let (mut mapping, clients) = mapping(&env, "projector").await;
    mapping.batch_size = 4;
    let log = Log::default();
    let arns = Arc::new(Mutex::new(Vec::new()));
    let record_arns = Arc::clone(&arns);
    let record = recording(Arc::clone(&log), |_| false);
    let running = start(mapping.clone(), clients, move |event: Event| {
        for r in &event.records {
            assert!(event.records.len() <= 4);
            record_arns.lock().unwrap().push((
                r.event_source.clone(),
                r.event_source_arn.clone(),
                r.event_name.clone(),
            ));
        }
        record(event)
    });

    // When two auctions' histories are appended through the event store
    let first = append(&env, 8).await;
    let second = append(&env, 5).await;

    // Then the handler gets every event once, in version order per auction
    wait_until("17 records are handled", || log.lock().unwrap().len() >= 17).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(running).await;
    assert_eq!(versions(&log, first), (1..=10).collect::<Vec<_>>());
    assert_eq!(versions(&log, second), (1..=7).collect::<Vec<_>>());
    // and each record is what Lambda delivers
    for (source, arn, name) in arns.lock().unwrap().iter() {
        assert_eq!(source.as_deref(), Some("aws:dynamodb"));
        assert_eq!(arn.as_deref(), Some(mapping.stream_arn.as_str()));
        assert_eq!(name, "INSERT");
    }
}

#[tokio::test]
async fn a_restarted_runner_resumes_after_its_checkpoint_losing_nothing() {
    // Given a mapping that has handled part of a long history when its runner is killed
    let env = TestEnv::new().await;
    let (mut mapping, clients) = mapping(&env, "projector").await;
    mapping.batch_size = 5;
    let auction = append(&env, 38).await;
    let log = Log::default();
    let slow_log = Arc::clone(&log);
    let record = recording(Arc::clone(&log), |_| false);
    let (_stop, killed) = start(mapping.clone(), clients.clone(), move |event: Event| {
        let response = record(event);
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            response.await
        }
    });
    wait_until("some batches are handled", || {
        slow_log.lock().unwrap().len() >= 12
    })
    .await;
    killed.abort();
    let _ = killed.await;
    let before_restart = log.lock().unwrap().len();
    assert!(
        before_restart < 40,
        "the kill came too late to prove anything"
    );

    // When a new runner starts, and later one stops gracefully and another starts
    let running = start(
        mapping.clone(),
        clients.clone(),
        recording(Arc::clone(&log), |_| false),
    );
    wait_until("the history is handled", || {
        let mut versions = versions(&log, auction);
        versions.dedup();
        versions
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            == 40
    })
    .await;
    stop(running).await;
    let handled = log.lock().unwrap().len();
    let running = start(mapping, clients, recording(Arc::clone(&log), |_| false));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop(running).await;

    // Then no event was lost, only the killed runner's uncheckpointed batch came twice, and the
    // gracefully stopped runner's successor handled nothing again
    let all = versions(&log, auction);
    let mut distinct = all.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct, (1..=40).collect::<Vec<_>>());
    let repeated = all.len() - distinct.len();
    assert!(
        repeated <= 5,
        "{repeated} records were delivered twice: {all:?}"
    );
    assert_eq!(log.lock().unwrap().len(), handled);
}

#[tokio::test]
async fn the_real_projector_behind_the_runner_builds_the_auction_view() {
    // Given the projector's own handler, wired as the runner binary wires it
    let env = TestEnv::new().await;
    let (mut mapping, clients) = mapping(&env, "projector").await;
    mapping.report_batch_item_failures = true;
    mapping.bisect_batch_on_function_error = true;
    let views = Arc::new(env.views());
    let log = Arc::new(env.event_store());
    let heads = Arc::new(env.heads());
    let handler_views = Arc::clone(&views);
    let running = start(mapping, clients, move |event: Event| {
        let (views, log, heads) = (
            Arc::clone(&handler_views),
            Arc::clone(&log),
            Arc::clone(&heads),
        );
        async move { read_models::handle(&*views, &*log, &*heads, event).await }
    });

    // When an auction with three bids is appended
    let auction = append(&env, 3).await;

    // Then its view reaches the last version, with every bid counted
    let started = Instant::now();
    let view = loop {
        assert!(started.elapsed() < BUDGET, "the view never caught up");
        let view = read_models::ReadModels::auction(&*views, auction)
            .await
            .unwrap();
        if let Some(view) = view.filter(|v| v.version == 5) {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    stop(running).await;
    assert_eq!(view.bid_count, 3);
}

/// The failure records in the on-failure destination, once `count` have arrived.
async fn failure_records(env: &TestEnv, count: usize) -> Vec<serde_json::Value> {
    let url = &env.resources.stream_failures.url;
    let started = Instant::now();
    let mut records = Vec::new();
    while records.len() < count {
        assert!(
            started.elapsed() < BUDGET,
            "timed out waiting for failure records"
        );
        let output = env
            .sqs()
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in output.messages.unwrap_or_default() {
            records.push(serde_json::from_str(message.body().unwrap()).unwrap());
        }
    }
    records
}

#[tokio::test]
async fn a_poison_record_goes_to_the_on_failure_destination_after_its_retries() {
    // Given a mapping with partial batch responses and two retries, and a handler that always
    // reports one record as failed
    let env = TestEnv::new().await;
    let (mut mapping, clients) = mapping(&env, "publisher").await;
    mapping.report_batch_item_failures = true;
    mapping.maximum_retry_attempts = 2;
    let log = Log::default();
    let poisoned = Arc::new(Mutex::new(None::<AuctionId>));
    let is_poison = Arc::clone(&poisoned);
    let running = start(
        mapping,
        clients,
        recording(Arc::clone(&log), move |seen| {
            *is_poison.lock().unwrap() == Some(seen.aggregate) && seen.version == 3
        }),
    );

    // When an auction's history is appended
    let (auction, events) = fixtures::history(3).await.unwrap();
    *poisoned.lock().unwrap() = Some(auction);
    fixtures::import(&env.event_store(), &events).await.unwrap();

    // Then the destination describes the batch starting at the poison record, after 3 attempts
    let records = failure_records(&env, 1).await;
    let poison = log
        .lock()
        .unwrap()
        .iter()
        .find(|s| s.aggregate == auction && s.version == 3)
        .cloned()
        .unwrap();
    let info = &records[0]["DDBStreamBatchInfo"];
    assert_eq!(info["startSequenceNumber"], poison.sequence_number.as_str());
    assert_eq!(
        records[0]["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(records[0]["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(
        log.lock().unwrap().iter().filter(|s| **s == poison).count(),
        3
    );

    // and records appended later keep flowing
    let later = append(&env, 2).await;
    wait_until("the later auction is handled", || {
        versions(&log, later).len() == 4
    })
    .await;
    stop(running).await;
    assert_eq!(versions(&log, later), [1, 2, 3, 4]);
}

#[tokio::test]
async fn bisecting_isolates_the_record_that_fails_its_batch() {
    // Given a mapping that bisects failed batches, and a handler that fails any batch holding
    // version 4 of the auction (as a whole: an error, not an item failure)
    let env = TestEnv::new().await;
    let (mut mapping, clients) = mapping(&env, "projector").await;
    mapping.bisect_batch_on_function_error = true;
    mapping.maximum_retry_attempts = 1;
    mapping.maximum_batching_window = Duration::from_millis(500);
    mapping.batch_size = 8;
    let handled = Log::default();
    let handled_by_handler = Arc::clone(&handled);
    let batches = Arc::new(Mutex::new(Vec::<usize>::new()));
    let batch_sizes = Arc::clone(&batches);
    let running = start(mapping, clients, move |event: Event| {
        let records: Vec<Seen> = event.records.iter().map(seen).collect();
        batch_sizes.lock().unwrap().push(records.len());
        let result = if records.iter().any(|s| s.version == 4) {
            Err::<DynamoDbEventResponse, HandlerError>("version 4 breaks the handler".into())
        } else {
            handled_by_handler.lock().unwrap().extend(records);
            Ok(DynamoDbEventResponse::default())
        };
        std::future::ready(result)
    });

    // When 8 events are appended at once
    let auction = append(&env, 6).await;

    // Then the destination gets exactly the failing record, and every other one is handled
    let records = failure_records(&env, 1).await;
    let info = &records[0]["DDBStreamBatchInfo"];
    assert_eq!(info["batchSize"], 1);
    assert_eq!(info["startSequenceNumber"], info["endSequenceNumber"]);
    assert_eq!(records[0]["responseContext"]["functionError"], "Unhandled");
    wait_until("every other record is handled", || {
        versions(&handled, auction).len() == 7
    })
    .await;
    stop(running).await;
    assert_eq!(versions(&handled, auction), [1, 2, 3, 5, 6, 7, 8]);
    assert_eq!(
        batches.lock().unwrap()[0],
        8,
        "{:?}",
        batches.lock().unwrap()
    );
}

/// One delivery of an SQS message to a handler: (body, ApproximateReceiveCount).
type Deliveries = Arc<Mutex<Vec<(String, u32)>>>;

/// A queue handler that records each message and reports as failed those `fail` says.
fn sqs_recording(
    deliveries: Deliveries,
    fail: impl Fn(&str, u32) -> bool + Send + Sync + 'static,
) -> impl Fn(SqsEvent) -> std::future::Ready<Result<SqsBatchResponse, HandlerError>>
+ Send
+ Sync
+ 'static {
    move |event: SqsEvent| {
        let mut response = SqsBatchResponse::default();
        for message in &event.records {
            assert_eq!(message.event_source.as_deref(), Some("aws:sqs"));
            assert!(message.md5_of_body.is_some());
            let body = message.body.clone().unwrap_or_default();
            let count: u32 = message.attributes["ApproximateReceiveCount"]
                .parse()
                .unwrap();
            assert!(message.attributes.contains_key("MessageGroupId"));
            if fail(&body, count) {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap();
                response.batch_item_failures.push(failure);
            }
            deliveries.lock().unwrap().push((body, count));
        }
        std::future::ready(Ok(response))
    }
}

async fn fast_redelivery(env: &TestEnv, queue_url: &str) {
    env.sqs()
        .set_queue_attributes()
        .queue_url(queue_url)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .unwrap();
}

async fn send(env: &TestEnv, queue_url: &str, group: &str, body: &str) {
    env.sqs()
        .send_message()
        .queue_url(queue_url)
        .message_body(body)
        .message_group_id(group)
        .message_deduplication_id(uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
}

fn start_queue<F, Fut>(mapping: QueueMapping, env: &TestEnv, handler: F) -> Running
where
    F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<SqsBatchResponse, HandlerError>> + Send,
{
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_queue(
        mapping,
        env.sqs().clone(),
        Arc::new(handler),
        stop.clone(),
    ));
    (stop, task)
}

#[tokio::test]
async fn an_sqs_partial_failure_is_redelivered_and_ends_in_the_dlq_after_max_receives() {
    // Given a FIFO queue redriving after 3 receives, redelivering after 1 s, and a handler that
    // always fails one message
    let env = TestEnv::new().await;
    let queue = env.notifications_queue().clone();
    fast_redelivery(&env, &queue.url).await;
    let mut mapping = QueueMapping::new("notifier", &queue.url);
    mapping.report_batch_item_failures = true;
    let deliveries = Deliveries::default();
    let running = start_queue(
        mapping,
        &env,
        sqs_recording(Arc::clone(&deliveries), |body, _| body == "poison"),
    );

    // When the poison message and a good one are sent
    send(&env, &queue.url, "g1", "poison").await;
    send(&env, &queue.url, "g2", "good").await;

    // Then the poison message lands in the DLQ after three deliveries, the good one once
    let started = Instant::now();
    let dead = loop {
        assert!(
            started.elapsed() < BUDGET,
            "the poison message never reached the DLQ"
        );
        let output = env
            .sqs()
            .receive_message()
            .queue_url(&queue.dlq_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(message) = output.messages.unwrap_or_default().into_iter().next() {
            break message;
        }
    };
    stop(running).await;
    assert_eq!(dead.body(), Some("poison"));
    let deliveries = deliveries.lock().unwrap().clone();
    let poison: Vec<u32> = deliveries
        .iter()
        .filter(|(b, _)| b == "poison")
        .map(|(_, c)| *c)
        .collect();
    assert_eq!(poison, [1, 2, 3]);
    assert_eq!(deliveries.iter().filter(|(b, _)| b == "good").count(), 1);
}

#[tokio::test]
async fn fifo_group_order_holds_across_a_failure() {
    // Given a FIFO queue redelivering after 1 s, and a handler that fails the first message of a
    // group on its first delivery only
    let env = TestEnv::new().await;
    let queue = env.payments_queue().clone();
    fast_redelivery(&env, &queue.url).await;
    let mut mapping = QueueMapping::new("payment-saga", &queue.url);
    mapping.report_batch_item_failures = true;
    mapping.batch_size = 2;
    let deliveries = Deliveries::default();
    let running = start_queue(
        mapping,
        &env,
        sqs_recording(Arc::clone(&deliveries), |body, count| {
            body == "a1" && count == 1
        }),
    );

    // When a group's three messages are sent
    for body in ["a1", "a2", "a3"] {
        send(&env, &queue.url, "auction-a", body).await;
    }

    // Then every message is handled successfully, in order, and none overtakes a1
    wait_until("a3 is handled", || {
        deliveries.lock().unwrap().iter().any(|(b, _)| b == "a3")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(running).await;
    let deliveries = deliveries.lock().unwrap().clone();
    let a1_retried = deliveries
        .iter()
        .position(|(b, c)| b == "a1" && *c == 2)
        .unwrap();
    // before a1 came back, only its own failed batch reached the handler: a1, maybe a2 behind it
    let before: Vec<&str> = deliveries[..a1_retried]
        .iter()
        .map(|(b, _)| b.as_str())
        .collect();
    assert!(before == ["a1"] || before == ["a1", "a2"], "{deliveries:?}");
    // and from a1's redelivery on, the group came in order
    let mut after: Vec<&str> = deliveries[a1_retried..]
        .iter()
        .map(|(b, _)| b.as_str())
        .collect();
    after.dedup();
    assert_eq!(after, ["a1", "a2", "a3"], "{deliveries:?}");
}
