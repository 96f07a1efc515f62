//! Nothing a consumer gives up on is lost: a stream batch the projector's mapping gives up on,
//! and a message the payment saga's queue dead-letters, each become a Parked item (through the
//! parker, run by the local runner as Lambda runs it in AWS), and `auction-admin parked replay`
//! re-drives them from the log through the real consumer code, leaving Parked empty.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::{Running, stop_within};
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_sqs::types::QueueAttributeName;
use clap::Parser;
use e2e::{TestEnv, fixtures};
use event_store::{EventLog, Meter};
use events::AuctionId;
use local_triggers::{CancellationToken, HandlerError, QueueMapping, run_queue, run_stream};
use parking::{Parked, ParkedItems};
use read_models::ReadModels;
use tokio::time::Instant;

/// Every wait in this file gives up after this long: a broken parker fails, never hangs.
const BUDGET: Duration = Duration::from_secs(60);

async fn stop(running: Running) {
    stop_within(BUDGET, running).await;
}

/// The parker on `queue_url`, as local-triggers runs it.
fn parker(
    env: &TestEnv,
    name: &str,
    queue_url: &str,
    streams: aws_sdk_dynamodbstreams::Client,
) -> Running {
    let mut mapping = QueueMapping::new(name, queue_url);
    mapping.report_batch_item_failures = true;
    let parked = Arc::new(env.parked());
    let range = Arc::new(parking::DynamoDbStreamRange::new(streams));
    let origins = Arc::new(parking::Origins::new([]));
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_queue(
        mapping,
        env.sqs().clone(),
        Arc::new(move |event: SqsEvent| {
            let (parked, range, origins) = (
                Arc::clone(&parked),
                Arc::clone(&range),
                Arc::clone(&origins),
            );
            async move {
                Ok::<SqsBatchResponse, HandlerError>(
                    parking::park(&*parked, &*range, &origins, event, chrono::Utc::now()).await,
                )
            }
        }),
        stop.clone(),
    ));
    (stop, task)
}

async fn parked_items(env: &TestEnv, consumer: &str, count: usize) -> Vec<Parked> {
    let started = Instant::now();
    loop {
        let items = env.parked().list(Some(consumer)).await.unwrap();
        if items.len() >= count {
            return items;
        }
        assert!(
            started.elapsed() < BUDGET,
            "timed out waiting for {count} parked items of {consumer}; have {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `auction-admin <args>` against this test's tables; its output lines and exit code.
async fn admin(env: &TestEnv, args: &[&str]) -> (Vec<serde_json::Value>, u8) {
    let cli = ::auction_admin::cli::Cli::try_parse_from(
        std::iter::once("auction-admin").chain(args.iter().copied()),
    )
    .unwrap();
    let mut out = Vec::new();
    let code =
        match ::auction_admin::cli::run(&crate::audit::sources(env).await, cli.command, &mut out)
            .await
        {
            Ok(()) => 0,
            Err(exit) => exit.code(),
        };
    let lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (lines, code)
}

async fn head(env: &TestEnv, auction: AuctionId) -> u64 {
    let events = env
        .event_store()
        .read_after(auction, 0, &Meter::default())
        .await
        .unwrap();
    events.last().unwrap().version()
}

#[tokio::test]
async fn a_batch_the_projector_gives_up_on_is_parked_and_replayed_from_the_log() {
    // Given the projector behind its stream mapping (item failures, bisect, one retry), whose
    // view writes fail while `broken` is set, and the parker on the on-failure queue
    let env = TestEnv::new().await;
    let (mut mapping, clients) = env.stream_mapping("projector").await;
    mapping.report_batch_item_failures = true;
    mapping.bisect_batch_on_function_error = true;
    mapping.maximum_retry_attempts = 1;
    mapping.retry_delay = Duration::from_millis(20);
    let broken = Arc::new(AtomicBool::new(true));
    let (views, log) = (Arc::new(projector_views(&env)), Arc::new(env.event_store()));
    let heads = Arc::new(env.heads());
    let is_broken = Arc::clone(&broken);
    let stop_stream = CancellationToken::new();
    let stream = tokio::spawn(run_stream(
        mapping,
        clients,
        Arc::new(move |event: Event| {
            let (views, log, heads, broken) = (
                Arc::clone(&views),
                Arc::clone(&log),
                Arc::clone(&heads),
                is_broken.load(Ordering::SeqCst),
            );
            async move {
                if broken {
                    return Err::<DynamoDbEventResponse, HandlerError>(
                        "the view table refuses writes".into(),
                    );
                }
                read_models::handle(&*views, &*log, &*heads, event)
                    .await
                    .map_err(HandlerError::from)
            }
        }),
        stop_stream.clone(),
    ));
    let parker = parker(
        &env,
        "parker-stream-failures",
        &env.resources.stream_failures.url,
        env.streams().await,
    );

    // When an auction's history is appended while the views refuse writes
    let (auction, events) = fixtures::history(3).await.unwrap();
    fixtures::import(&env.event_store(), &events).await.unwrap();

    // Then its events are parked for the projector, every version once, with their types
    // (bisection parks the halves apart, so wait until they cover the log or the budget ends)
    let head = head(&env, auction).await;
    let started = Instant::now();
    let (items, versions) = loop {
        let items = env.parked().list(Some("projector")).await.unwrap();
        let mut versions: Vec<u64> = items
            .iter()
            .filter(|item| item.aggregate_id == auction)
            .flat_map(|item| item.from_version..=item.to_version)
            .collect();
        versions.sort_unstable();
        versions.dedup();
        if versions.len() as u64 >= head || started.elapsed() >= BUDGET {
            break (items, versions);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(versions, (1..=head).collect::<Vec<_>>());
    assert!(
        items
            .iter()
            .all(|item| item.attempts == 2 && item.last_error.contains("RetryAttemptsExhausted"))
    );
    assert!(
        items
            .iter()
            .any(|item| item.event_types.contains(&"BidPlaced".to_owned()))
    );
    assert_eq!(projector_views(&env).auction(auction).await.unwrap(), None);

    // When the views are repaired and an operator replays everything parked
    broken.store(false, Ordering::SeqCst);
    let (lines, code) = admin(&env, &["parked", "replay", "--all"]).await;

    // Then every item was replayed, Parked is empty, and the view is at the log's head
    assert_eq!(code, 0, "{lines:?}");
    assert!(
        lines.iter().all(|line| line["replayed"] == true),
        "{lines:?}"
    );
    assert!(env.parked().list(None).await.unwrap().is_empty());
    let view = projector_views(&env)
        .auction(auction)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.version, head);

    stop_stream.cancel();
    stream.await.unwrap().unwrap();
    stop(parker).await;
}

#[tokio::test]
async fn a_dead_lettered_payment_message_is_parked_and_replayed_to_the_payments_queue() {
    // Given the payments queue redelivering after 1 s, a saga that always fails, and the
    // parker on the payments DLQ
    let env = TestEnv::new().await;
    let queue = env.payments_queue().clone();
    env.sqs()
        .set_queue_attributes()
        .queue_url(&queue.url)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .unwrap();
    let mut mapping = QueueMapping::new("payment-saga", &queue.url);
    mapping.report_batch_item_failures = true;
    let failing = Arc::new(AtomicBool::new(true));
    let saga_fails = Arc::clone(&failing);
    let delivered = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&delivered);
    let stop_saga = CancellationToken::new();
    let saga = tokio::spawn(run_queue(
        mapping,
        env.sqs().clone(),
        Arc::new(move |event: SqsEvent| {
            let mut response = SqsBatchResponse::default();
            for message in &event.records {
                if saga_fails.load(Ordering::SeqCst) {
                    response.add_failure(message.message_id.clone().unwrap());
                } else {
                    seen.lock().unwrap().push(message.body.clone().unwrap());
                }
            }
            std::future::ready(Ok::<_, HandlerError>(response))
        }),
        stop_saga.clone(),
    ));
    let parker = parker(
        &env,
        "parker-payments-dlq",
        &queue.dlq_url,
        env.streams().await,
    );

    // When the publisher's message for an auction's last event reaches the queue
    let (auction, events) = fixtures::history(1).await.unwrap();
    fixtures::import(&env.event_store(), &events).await.unwrap();
    let last = events.last().unwrap();
    let message = fan_out::QueueMessage::for_event(last).unwrap();
    env.sqs()
        .send_message()
        .queue_url(&queue.url)
        .message_body(&message.body)
        .message_group_id(&message.group_id)
        .message_deduplication_id(&message.deduplication_id)
        .send()
        .await
        .unwrap();

    // Then after three receives it is dead-lettered and parked for the payment saga
    let items = parked_items(&env, "payment-saga", 1).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            items[0].aggregate_id,
            items[0].from_version,
            items[0].to_version
        ),
        (auction, last.version(), last.version())
    );
    assert_eq!(
        items[0].event_types,
        std::slice::from_ref(&last.envelope.event_type)
    );
    assert!(items[0].attempts >= 3, "{:?}", items[0]);

    // When the saga recovers and the operator replays that one item
    failing.store(false, Ordering::SeqCst);
    let (lines, code) = admin(
        &env,
        &["parked", "replay", "payment-saga", &items[0].parked_id()],
    )
    .await;

    // Then the saga receives the event again from the log, and nothing stays parked
    assert_eq!(code, 0, "{lines:?}");
    let started = Instant::now();
    while delivered.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < BUDGET,
            "the replayed message never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body: serde_json::Value = serde_json::from_str(&delivered.lock().unwrap()[0]).unwrap();
    assert_eq!(body["eventId"], last.envelope.event_id.to_string());
    assert!(env.parked().list(None).await.unwrap().is_empty());

    // and a second replay of the same id is refused as bad input, changing nothing
    let (_, code) = admin(
        &env,
        &["parked", "replay", "payment-saga", &items[0].parked_id()],
    )
    .await;
    assert_eq!(code, 2);

    stop_saga.cancel();
    saga.await.unwrap().unwrap();
    stop(parker).await;
}

#[tokio::test]
async fn redrive_moves_a_dlqs_messages_back_to_their_queue_once() {
    // Given two messages in the notifications DLQ
    let env = TestEnv::new().await;
    let queue = env.notifications_queue().clone();
    for n in 0..2 {
        env.sqs()
            .send_message()
            .queue_url(&queue.dlq_url)
            .message_body(format!("{{\"n\":{n}}}"))
            .message_group_id("g")
            .message_deduplication_id(format!("d{n}"))
            .send()
            .await
            .unwrap();
    }

    // When the operator redrives the notifications queue
    let (lines, code) = admin(
        &env,
        &[
            "redrive",
            "notifications",
            "--queue-url",
            &queue.url,
            "--dlq-url",
            &queue.dlq_url,
        ],
    )
    .await;

    // Then both are on the queue, in order, and the DLQ is empty
    assert_eq!(code, 0, "{lines:?}");
    let received = env
        .sqs()
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let bodies: Vec<_> = received.iter().filter_map(|m| m.body.clone()).collect();
    assert_eq!(bodies, ["{\"n\":0}", "{\"n\":1}"]);
    let left = env
        .sqs()
        .receive_message()
        .queue_url(&queue.dlq_url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert!(left.is_empty());

    // and an unknown queue is bad input
    let (_, code) = admin(&env, &["redrive", "bids"]).await;
    assert_eq!(code, 2);
}

fn projector_views(env: &TestEnv) -> read_models::DynamoDbViews {
    let names = env.names();
    read_models::DynamoDbViews::aliased(
        env.dynamodb().clone(),
        read_models::ViewAliases::new(
            env.dynamodb().clone(),
            names.read_model_aliases_table.clone(),
        ),
        read_models::ViewTables {
            auction_views: names.auction_views_table.clone(),
            user_bids: names.user_bids_table.clone(),
        },
    )
}
