//! `local-triggers`: the platform's Lambda event source mappings, emulated against the local
//! stack until SIGINT or SIGTERM (then each mapping finishes its batch and checkpoints it).
//!
//! Endpoints come from the standard AWS variables (`AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, `AWS_ENDPOINT_URL_SQS`, or `AWS_ENDPOINT_URL`), names
//! from the resource variables `local-stack` prints. Logs go to stderr, filtered by
//! `LOCAL_TRIGGERS_LOG` (default `info`).

use std::sync::Arc;

use anyhow::Context;
use aws_config::BehaviorVersion;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::SqsEvent;
use clap::Parser;
use conventions::names;
use event_store::{DynamoDbStore, TableNames};
use local_stack::ResourceNames;
use local_triggers::{
    CancellationToken, DynamoDbCheckpoints, QueueHandler, QueueMapping, StreamClients,
    StreamHandler, StreamMapping, TriggerError, run_queue, run_stream, stream_arn,
};
use tokio::task::JoinSet;

/// The variable holding the runner's log filter.
const LOG_FILTER_ENV: &str = "LOCAL_TRIGGERS_LOG";

#[derive(Debug, Parser)]
#[command(
    about = "Runs the platform's Lambda triggers (DynamoDB stream and SQS event source mappings) locally"
)]
struct Args {
    /// Log as JSON lines (as the Lambdas do) instead of for people.
    #[arg(long)]
    json_logs: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    conventions::init_tool_logging(LOG_FILTER_ENV, args.json_logs);
    if let Err(error) = run().await {
        tracing::error!(error = format!("{error:#}"), "local-triggers failed");
        return Err(error);
    }
    Ok(())
}

async fn run() -> anyhow::Result<()> {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let region = sdk
        .region()
        .map_or_else(|| local_stack::REGION.to_owned(), ToString::to_string);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let resources = ResourceNames::from_env();
    let events_stream = stream_arn(&dynamodb, &resources.events_table)
        .await
        .context("finding the Events table's stream")?;
    let failures_url = queue_url(
        &sqs,
        names::STREAM_FAILURES_QUEUE_URL_ENV,
        &resources.stream_failures_queue,
    )
    .await
    .context("finding the stream mappings' on-failure queue")?;
    let clients = StreamClients {
        streams: aws_sdk_dynamodbstreams::Client::new(&sdk),
        sqs: sqs.clone(),
        checkpoints: DynamoDbCheckpoints::new(
            dynamodb.clone(),
            resources.trigger_checkpoints_table.clone(),
        ),
    };
    // The stream consumers (projector, publisher: two readers per shard, the most DynamoDB
    // Streams serves without throttling) report item failures and are version-gated, so
    // bisecting and retrying is safe; a batch still failing goes to the on-failure queue.
    let stream_mapping = |name: &str| {
        let mut mapping = StreamMapping::new(name, events_stream.clone());
        mapping.report_batch_item_failures = true;
        mapping.bisect_batch_on_function_error = true;
        mapping.on_failure_queue_url = Some(failures_url.clone());
        mapping.region.clone_from(&region);
        mapping
    };

    let stop = CancellationToken::new();
    let mut mappings = JoinSet::new();

    let faults = local_triggers::faults::Faults::from_env();
    let views = Arc::new(local_triggers::faults::FaultyProjections {
        inner: read_models::DynamoDbViews::aliased(
            dynamodb.clone(),
            read_models::ViewAliases::new(
                dynamodb.clone(),
                resources.read_model_aliases_table.clone(),
            ),
            read_models::ViewTables {
                auction_views: resources.auction_views_table.clone(),
                user_bids: resources.user_bids_table.clone(),
            },
        ),
        faults: faults.clone(),
    });
    let log = Arc::new(DynamoDbStore::new(
        dynamodb.clone(),
        TableNames {
            events: resources.events_table.clone(),
            snapshots: resources.snapshots_table.clone(),
            idempotency: resources.idempotency_table.clone(),
        },
    ));
    let live_log = Arc::clone(&log);
    spawn_stream(
        &mut mappings,
        stream_mapping("projector"),
        &clients,
        &stop,
        move |event: Event| {
            let (views, log) = (Arc::clone(&views), Arc::clone(&log));
            async move { read_models::handle(&*views, &*log, event).await }
        },
    );

    let queues = fan_out::SqsQueues::new(sqs.clone());
    let urls = Arc::new(
        fan_out::QueueUrls::from_env(&queues)
            .await
            .context("finding the publisher's queues")?,
    );
    let queues = Arc::new(queues);
    spawn_stream(
        &mut mappings,
        stream_mapping("publisher"),
        &clients,
        &stop,
        move |event: Event| {
            let (queues, urls) = (Arc::clone(&queues), Arc::clone(&urls));
            async move { fan_out::handle(&*queues, &urls, event).await }
        },
    );

    // The queue consumers report item failures; failed messages go to each queue's DLQ after
    // its maxReceiveCount (the queues' redrive policy, as in AWS).
    let queue_mapping = |name: &str, url: String| {
        let mut mapping = QueueMapping::new(name, url);
        mapping.report_batch_item_failures = true;
        mapping.region.clone_from(&region);
        mapping
    };

    // Live updates: the broadcaster reads the live queue the publisher fills, not the Events
    // stream, which keeps two readers (docs/fan-out.md, "Two readers per shard"). It pushes
    // through the management endpoint the API server serves locally (API Gateway's in AWS), so
    // it is the very code the Lambda runs.
    let live_endpoint = live::config::endpoint().context(
        "LIVE_ENDPOINT_URL is not set: the local API server's base URL, where the broadcaster \
         pushes live updates (scripts/platform sets it)",
    )?;
    let subscriptions = Arc::new(live::DynamoDbSubscriptions::new(
        dynamodb.clone(),
        live::config::connections_table(),
    ));
    let push = Arc::new(live::ManagementApi::new(&sdk, &live_endpoint));
    let live_url = queue_url(&sqs, names::LIVE_QUEUE_URL_ENV, &resources.live_queue)
        .await
        .context("finding the live queue")?;
    spawn_queue(
        &mut mappings,
        queue_mapping("broadcaster", live_url),
        &sqs,
        &stop,
        move |event: SqsEvent| {
            let (subscriptions, push, log) = (
                Arc::clone(&subscriptions),
                Arc::clone(&push),
                Arc::clone(&live_log),
            );
            async move { live::handle(&*subscriptions, &*push, &*log, event).await }
        },
    );

    let notifications_url = queue_url(
        &sqs,
        names::NOTIFICATIONS_QUEUE_URL_ENV,
        &resources.notifications_queue,
    )
    .await
    .context("finding the notifications queue")?;
    let (contexts, inbox) = notifier::config::from_env().await;
    let (contexts, inbox) = (Arc::new(contexts), Arc::new(inbox));
    spawn_queue(
        &mut mappings,
        queue_mapping("notifier", notifications_url),
        &sqs,
        &stop,
        move |event: SqsEvent| {
            let (contexts, inbox) = (Arc::clone(&contexts), Arc::clone(&inbox));
            async move { notifier::handle(&*contexts, &*inbox, event).await }
        },
    );

    let payments_url = queue_url(
        &sqs,
        names::PAYMENTS_QUEUE_URL_ENV,
        &resources.payments_queue,
    )
    .await
    .context("finding the payments queue")?;
    let lambda_ports = payments::config::ports_from_env()
        .await
        .context("configuring the payment saga")?;
    let ports = Arc::new(payments::Ports {
        payments: local_triggers::faults::FaultyProvider {
            inner: lambda_ports.payments,
            faults: faults.clone(),
        },
        store: lambda_ports.store,
        ownership: lambda_ports.ownership,
        sagas: lambda_ports.sagas,
        clock: lambda_ports.clock,
        sleep: lambda_ports.sleep,
        retry: lambda_ports.retry,
        commission: lambda_ports.commission,
    });
    spawn_queue(
        &mut mappings,
        queue_mapping("payment-saga", payments_url),
        &sqs,
        &stop,
        move |event: SqsEvent| {
            let ports = Arc::clone(&ports);
            async move { ports.handle(event).await }
        },
    );

    // The parker, as in AWS: on the stream mappings' on-failure queue and on each DLQ, so that
    // whatever a consumer gives up on becomes a Parked item within a poll.
    let parked = Arc::new(parking::DynamoDbParked::new(
        dynamodb.clone(),
        resources.parked_table.clone(),
    ));
    let stream_range = Arc::new(parking::DynamoDbStreamRange::new(clients.streams.clone()));
    let origins = Arc::new(parking::Origins::from_env());
    let notifications_dlq = queue_url(
        &sqs,
        names::NOTIFICATIONS_DLQ_URL_ENV,
        &names::dlq_name(&resources.notifications_queue),
    )
    .await
    .context("finding the notifications DLQ")?;
    let payments_dlq = queue_url(
        &sqs,
        names::PAYMENTS_DLQ_URL_ENV,
        &names::dlq_name(&resources.payments_queue),
    )
    .await
    .context("finding the payments DLQ")?;
    let live_dlq = queue_url(
        &sqs,
        names::LIVE_DLQ_URL_ENV,
        &names::dlq_name(&resources.live_queue),
    )
    .await
    .context("finding the live DLQ")?;
    for (name, url) in [
        ("parker-stream-failures", failures_url.clone()),
        ("parker-notifications-dlq", notifications_dlq),
        ("parker-payments-dlq", payments_dlq),
        ("parker-live-dlq", live_dlq),
    ] {
        let (parked, stream_range, origins) = (
            Arc::clone(&parked),
            Arc::clone(&stream_range),
            Arc::clone(&origins),
        );
        spawn_queue(
            &mut mappings,
            queue_mapping(name, url),
            &sqs,
            &stop,
            move |event: SqsEvent| {
                let (parked, stream_range, origins) = (
                    Arc::clone(&parked),
                    Arc::clone(&stream_range),
                    Arc::clone(&origins),
                );
                async move {
                    Ok::<_, std::convert::Infallible>(
                        parking::park(
                            &*parked,
                            &*stream_range,
                            &origins,
                            event,
                            chrono::Utc::now(),
                        )
                        .await,
                    )
                }
            },
        );
    }

    tracing::info!(stream = %events_stream, mappings = mappings.len(), "triggers running");
    let signals = tokio::spawn(stop_on_signal(stop.clone()));
    let mut failed = None;
    while let Some(joined) = mappings.join_next().await {
        let result = joined
            .context("a mapping task panicked")
            .and_then(|r| r.map_err(anyhow::Error::from));
        if let Err(error) = result {
            // One mapping that cannot start stops the runner: a partial set of triggers would
            // make a local run look healthy while a read model or a queue stays silent.
            stop.cancel();
            failed.get_or_insert(error);
        }
    }
    signals.abort();
    match failed {
        Some(error) => Err(error),
        None => {
            tracing::info!("triggers stopped");
            Ok(())
        }
    }
}

fn spawn_stream<H>(
    mappings: &mut JoinSet<Result<(), TriggerError>>,
    mapping: StreamMapping,
    clients: &StreamClients,
    stop: &CancellationToken,
    handler: H,
) where
    H: StreamHandler,
{
    tracing::info!(mapping = %mapping.name, "starting stream mapping");
    mappings.spawn(run_stream(
        mapping,
        clients.clone(),
        Arc::new(handler),
        stop.clone(),
    ));
}

fn spawn_queue<H>(
    mappings: &mut JoinSet<Result<(), TriggerError>>,
    mapping: QueueMapping,
    sqs: &aws_sdk_sqs::Client,
    stop: &CancellationToken,
    handler: H,
) where
    H: QueueHandler,
{
    tracing::info!(mapping = %mapping.name, queue = %mapping.queue_url, "starting queue mapping");
    mappings.spawn(run_queue(
        mapping,
        sqs.clone(),
        Arc::new(handler),
        stop.clone(),
    ));
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, url_env: &str, name: &str) -> anyhow::Result<String> {
    if let Some(url) = std::env::var(url_env).ok().filter(|v| !v.trim().is_empty()) {
        return Ok(url);
    }
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .with_context(|| format!("GetQueueUrl {name} (or set {url_env})"))?
        .queue_url
        .with_context(|| format!("GetQueueUrl {name} returned no URL"))
}

/// Cancels `stop` on the first SIGINT or SIGTERM.
async fn stop_on_signal(stop: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for SIGTERM; Ctrl-C still stops");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("stopping: finishing the batches in hand");
    stop.cancel();
}
