//! `local-triggers`: the platform's Lambda event source mappings and scheduled rules, emulated
//! against the local stack until SIGINT or SIGTERM (then each mapping finishes its batch and
//! checkpoints it). Every target is the deployed binary (`projector-lambda`, ...), started under
//! cargo-lambda's emulator and invoked through the Invoke API with the JSON Lambda sends; the
//! runner links no function's code.
//!
//! Endpoints come from the standard AWS variables (`AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, `AWS_ENDPOINT_URL_SQS`, or `AWS_ENDPOINT_URL`), names
//! from the resource variables `local-stack` prints; the binaries get the variables
//! `infra/environment.json` lists for them, taken from the runner's environment. Logs go to
//! stderr, filtered by `LOCAL_TRIGGERS_LOG` (default `info`); each binary's to a file in the
//! local stack's logs directory (named in the log when it starts).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::BehaviorVersion;
use clap::Parser;
use conventions::names;
use local_stack::lambda::{FunctionSpec, ProcessGroup, RuntimeEmulator, artifact, target_dir_of};
use local_stack::{ResourceNames, Tools};
use local_triggers::faults::{Faults, PAYMENT_PROVIDER, PROJECTOR_WRITES};
use local_triggers::{
    CancellationToken, DynamoDbCheckpoints, FaultProxy, Function, INVOCATION_SLACK, QueueHandler,
    QueueMapping, Refusal, Schedule, StreamClients, StreamHandler, StreamMapping, TriggerError,
    run_queue, run_schedule, run_stream, stream_arn,
};
use tokio::task::JoinSet;

/// The variable holding the runner's log filter.
const LOG_FILTER_ENV: &str = "LOCAL_TRIGGERS_LOG";
/// How often the reconciler runs when `--reconciler-every` is not given: this variable, else
/// the CDK app's default rate.
const RECONCILE_INTERVAL_ENV: &str = "RECONCILE_INTERVAL_SECONDS";
/// How often the digester runs when `--digester-every` is not given: this variable, else the
/// CDK app's default rate.
const DIGEST_INTERVAL_ENV: &str = "DIGEST_INTERVAL_SECONDS";
/// The CDK app's rules: `SchedulerEveryMinute` (rate 1 minute) and `ReconcilerSchedule` (rate
/// 5 minutes by default).
const SCHEDULER_EVERY: Duration = Duration::from_secs(60);
const RECONCILER_EVERY: Duration = Duration::from_secs(5 * 60);
/// `DigestSchedule` (rate 5 minutes by default).
const DIGESTER_EVERY: Duration = Duration::from_secs(5 * 60);

/// The binaries the runner invokes: each mapping's and each rule's target (infra/cdk).
const TARGETS: [&str; 10] = [
    "projector-lambda",
    "publisher-lambda",
    "notifier-lambda",
    "payment-saga-lambda",
    "live-broadcaster-lambda",
    "parker-lambda",
    "scheduler-lambda",
    "reconciler-lambda",
    "digester-lambda",
    "thumbnailer-lambda",
];

#[derive(Debug, Parser)]
#[command(
    about = "Runs the platform's Lambda triggers (DynamoDB stream and SQS event source mappings, \
             scheduled rules) locally, invoking the deployed Lambda binaries"
)]
struct Args {
    /// Log as JSON lines (as the Lambdas do) instead of for people.
    #[arg(long)]
    json_logs: bool,
    /// Seconds between two invocations of scheduler-lambda (the deployed rule: 60).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    scheduler_every: Option<Duration>,
    /// Seconds between two invocations of reconciler-lambda (default: RECONCILE_INTERVAL_SECONDS,
    /// else the deployed rule's 300).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    reconciler_every: Option<Duration>,
    /// Seconds between two invocations of digester-lambda (default: DIGEST_INTERVAL_SECONDS,
    /// else the deployed rule's 300).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    digester_every: Option<Duration>,
    /// A function's timeout in milliseconds instead of its deployed one, e.g.
    /// `payment-saga-lambda=1000` (the invocation's deadline and how long it may run). Repeatable.
    #[arg(long, value_name = "BINARY=MILLIS", value_parser = timeout_setting)]
    function_timeout: Vec<(String, Duration)>,
}

fn seconds(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(0) | Err(_) => Err(format!("{text:?} is not a whole number of seconds above 0")),
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
    }
}

fn timeout_setting(text: &str) -> Result<(String, Duration), String> {
    let (binary, millis) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not BINARY=MILLIS"))?;
    let millis: u64 = millis
        .trim()
        .parse()
        .ok()
        .filter(|millis| *millis > 0)
        .ok_or_else(|| format!("{millis:?} is not a number of milliseconds above 0"))?;
    Ok((binary.trim().to_owned(), Duration::from_millis(millis)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    conventions::init_tool_logging(LOG_FILTER_ENV, args.json_logs);
    if let Err(error) = run(args).await {
        tracing::error!(error = format!("{error:#}"), "local-triggers failed");
        return Err(error);
    }
    Ok(())
}

/// The running binaries and the emulator they run under.
struct Functions {
    emulator: Arc<RuntimeEmulator>,
    started: Vec<Arc<Function>>,
}

impl Functions {
    fn get(&self, binary: &str) -> anyhow::Result<Arc<Function>> {
        self.started
            .iter()
            .find(|function| function.binary() == binary)
            .cloned()
            .with_context(|| format!("{binary} was not started"))
    }

    /// SIGTERM to every binary, then to the emulator (a binary whose Runtime API is gone would
    /// exit with an error first).
    async fn stop(self) {
        for function in &self.started {
            function.stop().await;
        }
        drop(self.started);
        match Arc::try_unwrap(self.emulator) {
            Ok(emulator) => {
                if let Err(error) = emulator.stop().await {
                    tracing::warn!(%error, "stopping the Lambda emulator failed");
                }
            }
            // Still held by an invocation being dropped: dropping it kills it.
            Err(_shared) => {}
        }
    }
}

/// The cargo target directory holding every target's artifact (the one the runner itself was
/// built in), or which are missing and how to build them.
fn built_artifacts() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe().context("finding the runner's own executable")?;
    let target = target_dir_of(&exe)
        .with_context(|| format!("no cargo target directory above {}", exe.display()))?;
    let missing: Vec<String> = TARGETS
        .iter()
        .map(|binary| artifact(&target, binary))
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the Lambda binaries are not built: {} missing; run `cargo run -p local-stack -- \
             build-lambdas` (scripts/run does)",
            missing.join(", ")
        );
    }
    Ok(target)
}

/// Starts the emulator and every target binary, in this process's group (docs/local-triggers.md,
/// "Processes"), each with the environment Lambda would give it.
async fn start_functions(
    args: &Args,
    faults: &Faults,
    proxies: &Proxies,
) -> anyhow::Result<Functions> {
    let target = built_artifacts()?;
    let tools = Tools::from_env();
    let emulator = Arc::new(
        RuntimeEmulator::start_in(&tools, ProcessGroup::Callers)
            .await
            .context("starting the Lambda emulator (cargo-lambda; `local-stack install`)")?,
    );
    tracing::info!(
        pid = emulator.pid(),
        logs = %tools.logs_dir().display(),
        "Lambda emulator running; each binary logs to <binary>.<runner pid>.<n>.log there"
    );
    let stack: Vec<(String, String)> = std::env::vars().collect();
    let mut functions = Functions {
        emulator,
        started: Vec::new(),
    };
    for binary in TARGETS {
        let mut spec = FunctionSpec::deployed(binary, artifact(&target, binary), stack.clone())
            .with_context(|| format!("the deployment of {binary}"))?;
        spec.process_group = ProcessGroup::Callers;
        if let Some((_, timeout)) = args
            .function_timeout
            .iter()
            .rev()
            .find(|(b, _)| b == binary)
        {
            spec.timeout = *timeout;
        }
        if let Some(endpoint) = proxies.endpoint_for(binary) {
            spec = spec.with_env(endpoint.0, endpoint.1);
        }
        match Function::start(&tools, &functions.emulator, spec).await {
            Ok(function) => functions.started.push(function),
            Err(error) => {
                functions.stop().await;
                return Err(error.into());
            }
        }
    }
    if faults.enabled() {
        tracing::info!("fault files are watched (LOCAL_TRIGGERS_FAULTS_DIR)");
    }
    Ok(functions)
}

/// The fault proxies, started only when fault files are watched.
#[derive(Default)]
struct Proxies {
    dynamodb: Option<FaultProxy>,
    stripe: Option<FaultProxy>,
}

impl Proxies {
    async fn start(faults: &Faults, resources: &ResourceNames) -> anyhow::Result<Self> {
        if !faults.enabled() {
            return Ok(Self::default());
        }
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let dynamodb = var("AWS_ENDPOINT_URL_DYNAMODB")
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .context("the fault proxy for projector-writes needs AWS_ENDPOINT_URL_DYNAMODB")?;
        let stripe = var("STRIPE_API_BASE")
            .context("the fault proxy for payment-provider needs STRIPE_API_BASE")?;
        Ok(Self {
            dynamodb: Some(
                FaultProxy::start(
                    &dynamodb,
                    PROJECTOR_WRITES,
                    faults.clone(),
                    Refusal::DynamoDbWrites {
                        tables: vec![
                            resources.auction_views_table.clone(),
                            resources.user_bids_table.clone(),
                        ],
                    },
                )
                .await?,
            ),
            stripe: Some(
                FaultProxy::start(
                    &stripe,
                    PAYMENT_PROVIDER,
                    faults.clone(),
                    Refusal::Everything,
                )
                .await?,
            ),
        })
    }

    /// The variable that points `binary` at its proxy, if it has one.
    fn endpoint_for(&self, binary: &str) -> Option<(&'static str, String)> {
        match binary {
            "projector-lambda" => self
                .dynamodb
                .as_ref()
                .map(|proxy| ("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint())),
            "payment-saga-lambda" => self
                .stripe
                .as_ref()
                .map(|proxy| ("STRIPE_API_BASE", proxy.endpoint())),
            _ => None,
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Before anything else: without its binaries the runner has nothing to run.
    built_artifacts()?;
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
    let photo_uploads_url = queue_url(
        &sqs,
        names::PHOTO_UPLOADS_QUEUE_URL_ENV,
        &resources.photo_uploads_queue,
    )
    .await
    .context("finding the photo uploads queue")?;
    let live_url = queue_url(&sqs, names::LIVE_QUEUE_URL_ENV, &resources.live_queue)
        .await
        .context("finding the live queue")?;
    let notifications_url = queue_url(
        &sqs,
        names::NOTIFICATIONS_QUEUE_URL_ENV,
        &resources.notifications_queue,
    )
    .await
    .context("finding the notifications queue")?;
    let payments_url = queue_url(
        &sqs,
        names::PAYMENTS_QUEUE_URL_ENV,
        &resources.payments_queue,
    )
    .await
    .context("finding the payments queue")?;
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
    // The broadcaster pushes through the management endpoint the API server serves locally
    // (API Gateway's in AWS); without it its init fails, so say what to set first.
    if std::env::var("LIVE_ENDPOINT_URL").map_or(true, |v| v.trim().is_empty()) {
        anyhow::bail!(
            "LIVE_ENDPOINT_URL is not set: the local API server's base URL, where the \
             broadcaster pushes live updates (scripts/platform sets it)"
        );
    }
    let reconciler_every = match args.reconciler_every {
        Some(every) => every,
        None => match std::env::var(RECONCILE_INTERVAL_ENV) {
            Ok(text) => {
                seconds(&text).map_err(|e| anyhow::anyhow!("{RECONCILE_INTERVAL_ENV}: {e}"))?
            }
            Err(_) => RECONCILER_EVERY,
        },
    };
    let digester_every = match args.digester_every {
        Some(every) => every,
        None => match std::env::var(DIGEST_INTERVAL_ENV) {
            Ok(text) => {
                seconds(&text).map_err(|e| anyhow::anyhow!("{DIGEST_INTERVAL_ENV}: {e}"))?
            }
            Err(_) => DIGESTER_EVERY,
        },
    };
    let scheduler_every = args.scheduler_every.unwrap_or(SCHEDULER_EVERY);

    let faults = Faults::from_env();
    let proxies = Proxies::start(&faults, &resources).await?;
    let functions = start_functions(&args, &faults, &proxies).await?;
    let result = run_triggers(Triggers {
        functions: &functions,
        region: &region,
        sdk: &sdk,
        dynamodb,
        sqs,
        resources: &resources,
        events_stream,
        failures_url,
        queues: [
            ("broadcaster", "live-broadcaster-lambda", live_url),
            ("notifier", "notifier-lambda", notifications_url),
            ("payment-saga", "payment-saga-lambda", payments_url),
            (
                "parker-notifications-dlq",
                "parker-lambda",
                notifications_dlq,
            ),
            ("parker-payments-dlq", "parker-lambda", payments_dlq),
            ("parker-live-dlq", "parker-lambda", live_dlq),
            // The photos bucket's notifications; what the thumbnailer gives up on stays in the
            // queue's DLQ (an upload is not an event of the log: nothing to park and replay).
            ("thumbnailer", "thumbnailer-lambda", photo_uploads_url),
        ],
        schedules: [
            ("SchedulerEveryMinute", "scheduler-lambda", scheduler_every),
            ("ReconcilerSchedule", "reconciler-lambda", reconciler_every),
            ("DigestSchedule", "digester-lambda", digester_every),
        ],
    })
    .await;
    functions.stop().await;
    drop(proxies);
    result
}

/// What the mappings and the rules need.
struct Triggers<'a> {
    functions: &'a Functions,
    region: &'a str,
    sdk: &'a aws_config::SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    resources: &'a ResourceNames,
    events_stream: String,
    failures_url: String,
    /// (mapping name, target binary, queue URL), besides the on-failure queue's parker.
    queues: [(&'static str, &'static str, String); 7],
    /// (rule name, target binary, rate).
    schedules: [(&'static str, &'static str, Duration); 3],
}

async fn run_triggers(triggers: Triggers<'_>) -> anyhow::Result<()> {
    let Triggers {
        functions,
        region,
        sdk,
        dynamodb,
        sqs,
        resources,
        events_stream,
        failures_url,
        queues,
        schedules,
    } = triggers;
    let clients = StreamClients {
        streams: aws_sdk_dynamodbstreams::Client::new(sdk),
        sqs: sqs.clone(),
        checkpoints: DynamoDbCheckpoints::new(
            dynamodb.clone(),
            resources.trigger_checkpoints_table.clone(),
        ),
    };
    // The stream consumers (projector, publisher: two readers per shard, the most DynamoDB
    // Streams serves without throttling) report item failures and are version-gated, so
    // bisecting and retrying is safe; a batch still failing goes to the on-failure queue.
    let stream_mapping = |name: &str, function: &Function| {
        let mut mapping = StreamMapping::new(name, events_stream.clone());
        mapping.report_batch_item_failures = true;
        mapping.bisect_batch_on_function_error = true;
        mapping.on_failure_queue_url = Some(failures_url.clone());
        mapping.region = region.to_owned();
        mapping.function_timeout = function.timeout() + INVOCATION_SLACK;
        mapping
    };
    // The queue consumers report item failures; failed messages go to each queue's DLQ after
    // its maxReceiveCount (the queues' redrive policy, as in AWS).
    let queue_mapping = |name: &str, url: String, function: &Function| {
        let mut mapping = QueueMapping::new(name, url);
        mapping.report_batch_item_failures = true;
        mapping.region = region.to_owned();
        mapping.function_timeout = function.timeout() + INVOCATION_SLACK;
        mapping
    };

    let stop = CancellationToken::new();
    let mut mappings = JoinSet::new();
    for (name, binary) in [
        ("projector", "projector-lambda"),
        ("publisher", "publisher-lambda"),
    ] {
        let function = functions.get(binary)?;
        spawn_stream(
            &mut mappings,
            stream_mapping(name, &function),
            &clients,
            &stop,
            Function::stream_handler(function),
        );
    }
    // The parker, as in AWS: on the stream mappings' on-failure queue and on each DLQ, so that
    // whatever a consumer gives up on becomes a Parked item within a poll. Live updates: the
    // broadcaster reads the live queue the publisher fills, not the Events stream, which keeps
    // two readers (docs/fan-out.md, "Two readers per shard").
    let on_failure = (
        "parker-stream-failures",
        "parker-lambda",
        failures_url.clone(),
    );
    for (name, binary, url) in queues.into_iter().chain([on_failure]) {
        let function = functions.get(binary)?;
        spawn_queue(
            &mut mappings,
            queue_mapping(name, url, &function),
            &sqs,
            &stop,
            Function::queue_handler(function),
        );
    }
    let mut rules = JoinSet::new();
    for (rule, binary, every) in schedules {
        let schedule = Schedule {
            rule: rule.to_owned(),
            every,
            region: region.to_owned(),
        };
        rules.spawn(run_schedule(schedule, functions.get(binary)?, stop.clone()));
    }

    tracing::info!(stream = %events_stream, mappings = mappings.len(), rules = rules.len(), "triggers running");
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
    stop.cancel();
    while rules.join_next().await.is_some() {}
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn given_a_function_timeout_setting_when_parsed_then_it_names_the_binary_and_the_millis() {
        assert_eq!(
            timeout_setting("payment-saga-lambda=1000").unwrap(),
            (
                "payment-saga-lambda".to_owned(),
                Duration::from_millis(1000)
            )
        );
        assert!(timeout_setting("payment-saga-lambda").is_err());
        assert!(timeout_setting("payment-saga-lambda=0").is_err());
        assert!(timeout_setting("payment-saga-lambda=1s").is_err());
    }

    #[test]
    fn given_a_rate_when_parsed_then_only_whole_seconds_above_zero_are_rates() {
        assert_eq!(seconds(" 5 ").unwrap(), Duration::from_secs(5));
        assert!(seconds("0").is_err());
        assert!(seconds("five").is_err());
    }

    #[test]
    fn given_the_cli_when_checked_then_it_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        let args = Args::try_parse_from([
            "local-triggers",
            "--reconciler-every",
            "5",
            "--function-timeout",
            "payment-saga-lambda=1000",
        ])
        .unwrap();
        assert_eq!(args.reconciler_every, Some(Duration::from_secs(5)));
        assert_eq!(args.function_timeout.len(), 1);
    }
}
