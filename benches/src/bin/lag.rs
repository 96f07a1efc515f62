//! Read-side lag benchmark: how long after a bid commits its effects are visible, under a paced
//! bid load on the local stack.
//!
//! - **projection lag**: commit -> the projector has written the auction's view (a strongly
//!   consistent read sees it from then on);
//! - **publish lag**: commit -> the event's message is received from the notifications queue;
//! - **baseline, stream delivery**: commit -> the record reaches a handler that does nothing, on
//!   the same stream with the same runner settings: what DynamoDB Local's stream and the polling
//!   cost before any of our work.
//!
//! The three stream mappings run in this process through `local-triggers`' mapping code, with
//! the settings the `local-triggers` binary gives them, but calling the handlers in-process
//! (the binary invokes the deployed Lambda binaries instead): the figure is the pipeline's
//! lag, without the Invoke API's hop. Commits come from clients bidding through the event store
//! on a schedule (BENCH_LAG_RATE bids/s, default 40), so that the figures show lag, not a
//! saturated emulator's queue.
//!
//! Run it with `scripts/bench lag`. Environment: BENCH_LAG_BIDS (default 600), BENCH_LAG_RATE
//! (default 40), BENCH_LAG_CLIENTS (default 8, one auction each), BENCH_LAG_WARM_UP (default
//! 80: bids placed and waited for before the measured ones, on the same schedule).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use benchmarks::{Better, Measurement, Pace, Percentiles, millis, ms, print_table, record};
use domain::decide_create;
use e2e::fixtures;
use event_store::{DynamoDbStore, SnapshotPolicy, Store};
use events::{AuctionId, BidId};
use local_stack::{Clients, Endpoints, ResourceNames, provision};
use local_triggers::{
    CancellationToken, DynamoDbCheckpoints, HandlerError, StartingPosition, StreamClients,
    StreamMapping, run_stream, stream_arn,
};
use uuid::Uuid;

/// When each (aggregate, version) reached a point.
type Seen = Arc<Mutex<HashMap<(AuctionId, u64), Instant>>>;

fn mark(seen: &Seen, key: (AuctionId, u64)) {
    let now = Instant::now();
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_insert(now);
}

/// The (aggregate, version) of every record of a batch that did not fail.
fn delivered(event: &Event, response: &DynamoDbEventResponse) -> Vec<(AuctionId, u64)> {
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.as_deref())
        .collect();
    event
        .records
        .iter()
        .filter(|record| {
            record
                .change
                .sequence_number
                .as_deref()
                .is_none_or(|n| !failed.contains(&n))
        })
        .filter_map(|record| stream_records::stored_event(record).ok())
        .map(|stored| (stored.envelope.aggregate_id.into(), stored.envelope.version))
        .collect()
}

#[tokio::main]
async fn main() -> Result<()> {
    let bids = benchmarks::setting("BENCH_LAG_BIDS", 600).max(1);
    let rate = benchmarks::setting("BENCH_LAG_RATE", 40).max(1);
    let clients_n = benchmarks::setting("BENCH_LAG_CLIENTS", 8).max(1);
    let warm_up_bids = benchmarks::setting("BENCH_LAG_WARM_UP", 80);
    let endpoints = Endpoints::from_env()
        .context("no local stack: run `scripts/bench lag`, which starts one")?;
    let clients = Clients::connect(&endpoints).await;
    let names =
        ResourceNames::with_prefix(&format!("lag{}", &Uuid::new_v4().simple().to_string()[..8]));
    let provisioned = provision(&clients, &names).await.context("provisioning")?;
    let tables = fixtures::table_names(&names);
    let log = Arc::new(DynamoDbStore::new(clients.dynamodb.clone(), tables.clone()));
    let store = Store::new(
        DynamoDbStore::new(clients.dynamodb.clone(), tables.clone()),
        SnapshotPolicy::default(),
    );

    println!("# Read-side lag benchmark");
    println!();
    println!(
        "DynamoDB Local at {}, moto at {}; {bids} bids at {rate}/s from {clients_n} clients \
         (one auction each), after {warm_up_bids} unmeasured; stream mappings in-process ({}).",
        endpoints.dynamodb,
        endpoints.sqs,
        benchmarks::build_profile()
    );
    println!();

    let arn = stream_arn(&clients.dynamodb, &names.events_table).await?;
    let sdk = local_stack::sdk_config().await;
    let stream_clients = StreamClients {
        // DynamoDB Local serves its streams on the DynamoDB endpoint.
        streams: aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
                .endpoint_url(&endpoints.dynamodb)
                .build(),
        ),
        sqs: clients.sqs.clone(),
        checkpoints: DynamoDbCheckpoints::new(
            clients.dynamodb.clone(),
            names.trigger_checkpoints_table.clone(),
        ),
    };
    let mapping = |name: &str| {
        let mut mapping = StreamMapping::new(name, arn.clone());
        mapping.report_batch_item_failures = true;
        mapping.bisect_batch_on_function_error = true;
        mapping.starting_position = StartingPosition::TrimHorizon;
        mapping
    };
    let stop = CancellationToken::new();
    let (streamed, projected, received): (Seen, Seen, Seen) = Default::default();
    let mut tasks = Vec::new();

    // The baseline: a handler that only notes what reached it.
    let noted = Arc::clone(&streamed);
    let baseline = move |event: Event| {
        let noted = Arc::clone(&noted);
        async move {
            let response = DynamoDbEventResponse::default();
            for key in delivered(&event, &response) {
                mark(&noted, key);
            }
            Ok::<_, HandlerError>(response)
        }
    };
    tasks.push(tokio::spawn(run_stream(
        mapping("baseline"),
        stream_clients.clone(),
        Arc::new(baseline),
        stop.clone(),
    )));

    let views = Arc::new(read_models::DynamoDbViews::new(
        clients.dynamodb.clone(),
        read_models::ViewTables {
            auction_views: names.auction_views_table.clone(),
            user_bids: names.user_bids_table.clone(),
        },
    ));
    // The streams' heads, which the projector moves with the views (the log's digests).
    let heads = Arc::new(notary::HeadsTable::new(
        clients.dynamodb.clone(),
        names.stream_heads_table.clone(),
    ));
    let noted = Arc::clone(&projected);
    let projecting = move |event: Event| {
        let (views, log, heads, noted) = (
            Arc::clone(&views),
            Arc::clone(&log),
            Arc::clone(&heads),
            Arc::clone(&noted),
        );
        async move {
            let response = read_models::handle(&*views, &*log, &*heads, event.clone()).await?;
            for key in delivered(&event, &response) {
                mark(&noted, key);
            }
            Ok::<_, HandlerError>(response)
        }
    };
    tasks.push(tokio::spawn(run_stream(
        mapping("projector"),
        stream_clients.clone(),
        Arc::new(projecting),
        stop.clone(),
    )));

    let queues = Arc::new(fan_out::SqsQueues::new(clients.sqs.clone()));
    let (notifications_url, payments_url, live_url) = (
        provisioned.notifications.url.clone(),
        provisioned.payments.url.clone(),
        provisioned.live.url.clone(),
    );
    let urls = Arc::new(fan_out::QueueUrls::from_fn(move |queue| match queue {
        fan_out::Queue::Notifications => notifications_url.clone(),
        fan_out::Queue::Payments => payments_url.clone(),
        fan_out::Queue::Live => live_url.clone(),
    }));
    let publishing = move |event: Event| {
        let (queues, urls) = (Arc::clone(&queues), Arc::clone(&urls));
        async move { fan_out::handle(&*queues, &urls, event).await }
    };
    tasks.push(tokio::spawn(run_stream(
        mapping("publisher"),
        stream_clients.clone(),
        Arc::new(publishing),
        stop.clone(),
    )));
    let receiver = tokio::spawn(receive(
        clients.sqs.clone(),
        provisioned.notifications.url.clone(),
        Arc::clone(&received),
        stop.clone(),
    ));
    // The platform's other consumers drain the payments and live queues (the saga, the
    // broadcaster); so does the bench. A queue left to fill up is not what the publisher meets
    // in production, and moto's FIFO sends slow down as a queue grows (its de-duplication and
    // group checks walk every message), which would be measured as publish lag.
    let drains: Vec<_> = [&provisioned.payments.url, &provisioned.live.url]
        .into_iter()
        .map(|url| {
            tokio::spawn(receive(
                clients.sqs.clone(),
                url.clone(),
                Seen::default(),
                stop.clone(),
            ))
        })
        .collect();

    // The load: one auction per client, bids on a schedule.
    let mut auctions = Vec::with_capacity(clients_n);
    for _ in 0..clients_n {
        let auction_id = AuctionId(Uuid::new_v4());
        let command = fixtures::create_command(auction_id);
        store
            .execute(
                auction_id,
                &fixtures::context(&fixtures::user("seller"), None),
                |state, now| decide_create(state, &command, now),
            )
            .await?;
        auctions.push(auction_id);
    }
    // A warm-up on the same schedule, measured by nobody: the emulators' one-time costs
    // (DynamoDB Local's JIT, and moto's first full garbage collection after provisioning made
    // its objects, a 100-180 ms pause) land here instead of on the first measured commits.
    let load = Load {
        store: &store,
        auctions: &auctions,
        rate,
    };
    let warmed = load.run(warm_up_bids).await?;
    seen_everywhere(&warmed, [&streamed, &projected, &received]).await;

    let committed = load.run(bids).await?;
    seen_everywhere(&committed, [&streamed, &projected, &received]).await;
    stop.cancel();
    for task in tasks {
        task.await??;
    }
    receiver.await??;
    for drain in drains {
        drain.await??;
    }

    let lags = |seen: &Seen| -> (usize, Option<Percentiles>) {
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut samples: Vec<Duration> = committed
            .iter()
            .filter_map(|(key, at)| Some(seen.get(key)?.saturating_duration_since(*at)))
            .collect();
        (samples.len(), Percentiles::of(&mut samples))
    };
    if let (_, Some(delivery)) = lags(&streamed) {
        for (what, seen) in [
            ("projection lag (commit -> view written)", &projected),
            ("publish lag (commit -> message received)", &received),
        ] {
            let (_, Some(lag)) = lags(seen) else { continue };
            for (p, figure, baseline) in [
                ("p50", lag.p50, delivery.p50),
                ("p95", lag.p95, delivery.p95),
                ("p99", lag.p99, delivery.p99),
                ("max", lag.max, delivery.max),
            ] {
                record(
                    &Measurement::new(format!("{what} {p}"), ms(figure), "ms").beside(
                        Better::Lower,
                        format!("stream delivery to a no-op handler {p}"),
                        ms(baseline),
                    ),
                )?;
            }
        }
    }
    let mut rows = Vec::new();
    let mut missing = 0;
    for (what, seen) in [
        ("baseline: stream delivery (no-op handler)", &streamed),
        ("projection lag (commit -> view written)", &projected),
        ("publish lag (commit -> message received)", &received),
    ] {
        let (count, percentiles) = lags(seen);
        missing += committed.len() - count;
        let cell = |f: fn(&Percentiles) -> Duration| {
            percentiles
                .as_ref()
                .map_or("-".to_owned(), |p| millis(f(p)))
        };
        rows.push(vec![
            what.to_owned(),
            format!("{count}/{}", committed.len()),
            cell(|p| p.p50),
            cell(|p| p.p95),
            cell(|p| p.p99),
            cell(|p| p.max),
        ]);
    }
    println!("## Lag from commit ({} events committed)", committed.len());
    println!();
    print_table(&["what", "seen", "p50", "p95", "p99", "max"], &rows);
    println!();
    if missing > 0 {
        bail!("{missing} commits were not seen within 60 s of the end of the load");
    }
    Ok(())
}

/// Bids on the auctions, one client each, at `rate` bids/s in all.
struct Load<'a> {
    store: &'a Store<DynamoDbStore>,
    auctions: &'a [AuctionId],
    rate: usize,
}

impl Load<'_> {
    /// Places `bids` bids; answers when each of their events committed.
    async fn run(&self, bids: usize) -> Result<HashMap<(AuctionId, u64), Instant>> {
        let committed: Seen = Default::default();
        let clients_n = self.auctions.len();
        let mut load = Vec::new();
        for (client, auction_id) in self.auctions.iter().copied().enumerate() {
            let store = self.store.clone();
            let committed = Arc::clone(&committed);
            let share = bids / clients_n + usize::from(client < bids % clients_n);
            let mut schedule = Pace::Rate(self.rate as f64).schedule(client, clients_n);
            load.push(tokio::spawn(async move {
                let bidders = [
                    fixtures::user(&format!("lag-{client}-a")),
                    fixtures::user(&format!("lag-{client}-b")),
                ];
                for i in 0..share {
                    schedule.next().await;
                    let bidder = &bidders[i % 2];
                    let bid_id = BidId(Uuid::new_v4());
                    let outcome = store
                        .execute(
                            auction_id,
                            &fixtures::context(bidder, None),
                            |state, now| fixtures::outbid(bidder, bid_id, state, now),
                        )
                        .await?;
                    for event in &outcome.events {
                        mark(&committed, (auction_id, event.version));
                    }
                }
                anyhow::Ok(())
            }));
        }
        for task in load {
            task.await??;
        }
        let committed = committed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(committed)
    }
}

/// Waits until every commit of `committed` was seen at every point, at most 60 s.
async fn seen_everywhere(committed: &HashMap<(AuctionId, u64), Instant>, points: [&Seen; 3]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let all_there = |seen: &Seen| {
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        committed.keys().all(|key| seen.contains_key(key))
    };
    while !points.iter().all(|seen| all_there(seen)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Receives (and deletes) every message of the queue until `stop`, noting when each
/// (aggregate, version) first arrived.
async fn receive(
    sqs: aws_sdk_sqs::Client,
    url: String,
    seen: Seen,
    stop: CancellationToken,
) -> Result<()> {
    while !stop.is_cancelled() {
        let output = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await?;
        let mut deletes = Vec::new();
        for (i, message) in output.messages().iter().enumerate() {
            let attribute = |name: &str| {
                message
                    .message_attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value())
                    .map(str::to_owned)
            };
            if let (Some(aggregate), Some(version)) =
                (attribute("aggregateId"), attribute("version"))
                && let (Ok(aggregate), Ok(version)) = (aggregate.parse(), version.parse())
            {
                mark(&seen, (AuctionId(aggregate), version));
            }
            if let Some(handle) = message.receipt_handle() {
                deletes.push(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()?,
                );
            }
        }
        if !deletes.is_empty() {
            sqs.delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(deletes))
                .send()
                .await?;
        }
    }
    Ok(())
}
