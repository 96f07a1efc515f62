//! The fault suite: the platform as `scripts/run` runs it (the bidder API and the trigger runner
//! as separate processes, the runner running the deployed Lambda binaries, the scheduler and the
//! reconciler among them, under cargo-lambda's emulator) on a stack of its own whose emulators keep their
//! data in a directory, under a bid load. DynamoDB Local, moto, the trigger runner and the API
//! are each killed with SIGKILL in turn and started again, and afterwards nothing accepted may
//! be missing or doubled:
//!
//! - every bid that got a 201 is in the log exactly once (bidders retry with the same
//!   Idempotency-Key, as a client must after a lost answer);
//! - the views converge to the fold of the log (equal, item for item, to a rebuild from it);
//! - the queues drain, every sale's payment saga finishes, and the DLQs and the stream's
//!   on-failure queue stay empty: nothing in this run is meant to fail;
//! - while DynamoDB is down the API answers 503 within its SDK budget (no hang), and serves
//!   again once DynamoDB is back, without a restart.
//!
//! Loopback only, bounded in time: the load stops after the last fault, each wait has a budget.
//! Needs the platform's binaries next to the test binary and the Lambda artifacts
//! (`cargo build --workspace --bins` and `local-stack build-lambdas`; `scripts/test`
//! builds both).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::LocalJwt;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{TimeDelta, Utc};
use e2e::TestEnv;
use event_store::{EventLog, Meter, StoredEvent};
use events::{AuctionEvent, AuctionId, AuctionResult};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use local_stack::{Clients, LocalStack, ResourceNames, Service, StartOptions, Tools, provision};
use parking::ParkedItems;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::rebuild::{aliased, assert_same_items, converged, fresh, live, options, run_rebuild};
use crate::support;
use stripe_api::{SecretKey, StripeClient, StripeConfig};

const SECRET: &str = "fault-suite-local-jwt-secret";
const AUCTIONS: usize = 6;
const BIDDERS: usize = 6;
/// Each bidder bids at most this often (6 bidders: at most 12 bids/s). A fixed offered load,
/// not a closed loop: bidders that bid again as soon as answered bid faster as the platform gets
/// faster, and the local fan-out (moto's SQS, about 10-15 sends/s on 2 cores) then falls behind
/// by tens of seconds, which delays what each fault is meant to meet (a saga's charge during the
/// provider's outage) past the fault's end.
const BID_INTERVAL: Duration = Duration::from_millis(500);
/// Normal load between two faults, so that each fault hits a running platform.
const BETWEEN_FAULTS: Duration = Duration::from_secs(3);
/// How long a killed platform process stays down.
const DOWNTIME: Duration = Duration::from_secs(2);
/// A client gives one request this long; the API's own DynamoDB budget is 5 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a bidder keeps retrying one bid through outages.
const RETRY_BUDGET: Duration = Duration::from_secs(90);
/// Half the auctions end this long after they are created: before moto and the trigger runner
/// are killed, so that their sales are in the queues and sagas when those die.
const SHORT_AUCTION: Duration = Duration::from_secs(12);
/// The other half end after the load, so that their last bids do not race the end, and soon
/// enough that their sagas run within the test.
const LONG_AUCTION: Duration = Duration::from_secs(75);
/// For the end, the publisher, the sagas and the redelivery of messages a killed consumer had
/// received (payments' visibility timeout is 60 s).
const SETTLE_BUDGET: Duration = Duration::from_secs(240);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One platform process, started from the binaries `scripts/test` builds.
struct Process {
    name: &'static str,
    program: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// Arguments it is started with.
    args: Vec<String>,
    /// Started as the leader of a process group of its own, which whatever it starts stays in
    /// (the trigger runner's Lambda binaries and emulator): a kill then kills the group.
    group: bool,
}

/// A test that fails before `Platform::stop` drops its processes: `kill_on_drop` reaches only a
/// group's leader, so the rest of the group (the trigger runner's emulator and Lambda binaries)
/// is killed here, or it would outlive the test, holding ports and cores.
impl Drop for Process {
    fn drop(&mut self) {
        if let (true, Some(pgid)) = (self.group, self.child.as_ref().and_then(Child::id)) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
        }
    }
}

impl Process {
    fn new(name: &'static str, dir: &Path) -> Self {
        let bin = std::env::current_exe()
            .unwrap()
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .join(name);
        assert!(
            bin.exists(),
            "{} is missing: build it first (`cargo build --workspace --bins` and \
             `cargo run -p local-stack -- build-lambdas`; scripts/test does)",
            bin.display()
        );
        Self {
            name,
            program: bin,
            log: dir.join(format!("{name}.log")),
            child: None,
            args: Vec::new(),
            group: false,
        }
    }

    /// The trigger runner: in a group of its own, with `args`.
    fn group_leader(mut self, args: &[&str]) -> Self {
        self.group = true;
        self.args = args.iter().map(|arg| (*arg).to_owned()).collect();
        self
    }

    fn start(&mut self, env: &[(String, String)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut command = Command::new(&self.program);
        if self.group {
            command.process_group(0);
        }
        let child = command
            .args(&self.args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL, as a crash: no shutdown handler runs. A group leader's whole group gets it, and
    /// then nothing of the group may remain: a killed trigger runner must not leave its Lambda
    /// binaries or its emulator behind (they would hold ports and keep handling events).
    async fn kill(&mut self) {
        let mut child = self.child.take().expect("the process runs");
        if !self.group {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
            return;
        }
        let pgid = child.id().expect("running");
        let members = group_members(pgid);
        assert!(
            members.len() > 1,
            "{} started nothing in its group: {members:?}",
            self.name
        );
        let killed = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -KILL -{pgid}: {killed}");
        child.wait().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left: Vec<u32> = members
                .iter()
                .copied()
                .filter(|pid| is_alive(*pid))
                .collect();
            if left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} was killed with its group, but {left:?} of {members:?} still run",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the process's log holds `line`: a process that says when it is ready (the
    /// trigger runner starts eight binaries first) is faulted only once it is.
    async fn logged(&mut self, line: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !std::fs::read_to_string(&self.log).is_ok_and(|log| log.contains(line)) {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} did not log {line:?} within {within:?}; its log:\n{}",
                self.name,
                tail(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn assert_running(&mut self) {
        let status = self.child.as_mut().expect("started").try_wait().unwrap();
        assert!(
            status.is_none(),
            "{} exited by itself ({status:?}); its log:\n{}",
            self.name,
            tail(&self.log)
        );
    }
}

/// The processes of group `pgid`, from /proc (Linux).
fn group_members(pgid: u32) -> Vec<u32> {
    let mut members: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat_of(*pid).is_some_and(|(_, group)| group == pgid))
        .collect();
    members.sort_unstable();
    members
}

/// A process's state letter and process group, from /proc/<pid>/stat; `None` once it is gone.
fn stat_of(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the fields follow the last `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let group = fields.get(2)?.parse().ok()?;
    Some((state, group))
}

/// Still running: present and not a zombie waiting for its (new) parent to reap it.
fn is_alive(pid: u32) -> bool {
    stat_of(pid).is_some_and(|(state, _)| state != 'Z')
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn token(user: &str) -> String {
    LocalJwt::new(SECRET.as_bytes())
        .mint(
            &events::UserId::try_from(user).unwrap(),
            &[],
            Utc::now(),
            TimeDelta::hours(1),
        )
        .unwrap()
}

/// One HTTP exchange: the status and JSON body, or why there was none (refused, reset, timed
/// out) as `Err`.
pub(crate) async fn call(
    client: &HttpClient,
    method: Method,
    url: &str,
    user: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), String> {
    let mut request = Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {}", token(user)));
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Full::new(Bytes::from(body.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let exchange = async {
        let response = client
            .request(request.body(body).unwrap())
            .await
            .map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{e:?}"))?
            .to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {REQUEST_TIMEOUT:?}"))?
}

/// The platform on its own stack.
pub(crate) struct Platform {
    stack: LocalStack,
    pub(crate) env: TestEnv,
    process_env: Vec<(String, String)>,
    pub(crate) api_url: String,
    api: Process,
    /// The trigger runner: the mappings, the scheduled rules (scheduler, reconciler) and the
    /// Lambda binaries they invoke.
    triggers: Process,
    pub(crate) client: HttpClient,
    dir: PathBuf,
    /// The trigger runner's fault files (`LOCAL_TRIGGERS_FAULTS_DIR`).
    faults: PathBuf,
}

impl Platform {
    pub(crate) async fn start() -> Self {
        Self::start_with(&[], &[]).await
    }

    /// The platform with `settings` added to every process's environment, and `triggers_args`
    /// given to the trigger runner.
    pub(crate) async fn start_with(settings: &[(&str, &str)], triggers_args: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("fault-suite-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut options = StartOptions::new(Tools::from_env());
        options.data_dir = Some(dir.join("data"));
        let stack = LocalStack::start(&options).await.unwrap();
        let endpoints = stack.endpoints().clone();
        let clients = Clients::connect(&endpoints).await;
        let prefix = format!("f{}", Uuid::new_v4().simple());
        let resources = provision(&clients, &ResourceNames::with_prefix(&prefix))
            .await
            .unwrap();
        let port = free_port();
        let faults = dir.join("faults");
        std::fs::create_dir_all(&faults).unwrap();
        // The stack's Stripe too: api-local checks payment identities with it.
        let mut process_env: Vec<(String, String)> = endpoints
            .env()
            .into_iter()
            .chain(resources.env())
            .chain(stack.localstripe().env())
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        for (key, value) in [
            ("LOCAL_JWT_SECRET", SECRET.to_owned()),
            ("API_PORT", port.to_string()),
            ("LIVE_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
            ("RUST_LOG", "info".to_owned()),
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            // The trigger runner's Lambda emulator (cargo-lambda) reads the workspace with cargo.
            ("HOME", std::env::var("HOME").unwrap_or_default()),
            ("LOCAL_TRIGGERS_FAULTS_DIR", faults.display().to_string()),
            // The reconciler's periods shrunk to the suite's time scale (defaults: 5 min, 10 min,
            // 15 min): the runner invokes it every 5 s, it leaves the consumers 20 s, and calls a
            // saga stalled after 30 s without a write.
            ("RECONCILE_INTERVAL_SECONDS", "5".to_owned()),
            ("RECONCILE_GRACE_SECONDS", "20".to_owned()),
            ("RECONCILE_SAGA_DEADLINE_SECONDS", "30".to_owned()),
            ("RECONCILE_PARKED_GRACE_SECONDS", "10".to_owned()),
        ] {
            process_env.push((key.to_owned(), value));
        }
        for name in [
            "CARGO_HOME",
            "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN",
            "LOCAL_STACK_HOME",
        ] {
            if let Ok(value) = std::env::var(name) {
                process_env.push((name.to_owned(), value));
            }
        }
        for (key, value) in settings {
            process_env.push(((*key).to_owned(), (*value).to_owned()));
        }
        let env = TestEnv {
            endpoints,
            clients,
            resources,
        };
        let mut platform = Self {
            stack,
            env,
            process_env,
            api_url: format!("http://127.0.0.1:{port}"),
            api: Process::new("api-local", &dir),
            triggers: Process::new("local-triggers", &dir).group_leader(triggers_args),
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(5))
                .build_http(),
            dir,
            faults,
        };
        platform.triggers.start(&platform.process_env);
        platform.start_api().await;
        platform.register_identities().await;
        platform
            .triggers
            .logged("triggers running", Duration::from_secs(60))
            .await;
        platform
    }

    /// The seller and every bidder of the load register a card and a payout account, made in
    /// this stack's Stripe, through `PUT /me/payment-method` and `PUT /me/payout-account`.
    async fn register_identities(&self) {
        let stripe = self.stack.localstripe();
        let stripe = StripeClient::new(StripeConfig {
            api_base: stripe.api_base.clone(),
            secret_key: SecretKey::new(stripe.secret_key.clone()),
            timeout: REQUEST_TIMEOUT,
        })
        .unwrap();
        let users = std::iter::once("seller-sam".to_owned())
            .chain((1..=BIDDERS).map(|n| format!("bidder-{n}")));
        for user in users {
            let (card, account) = support::stripe_identity(&stripe, &user).await;
            for (path, body) in [("me/payment-method", card), ("me/payout-account", account)] {
                let url = format!("{}/{path}", self.api_url);
                let answer = call(&self.client, Method::PUT, &url, &user, None, Some(&body)).await;
                assert!(
                    matches!(answer, Ok((StatusCode::OK, _))),
                    "registering {user}'s {path}: {answer:?}"
                );
            }
        }
    }

    async fn start_api(&mut self) {
        self.api.start(&self.process_env);
        let deadline = Instant::now() + Duration::from_secs(60);
        let health = format!("{}/health", self.api_url);
        loop {
            if let Ok((StatusCode::OK, _)) =
                call(&self.client, Method::GET, &health, "probe", None, None).await
            {
                return;
            }
            self.api.assert_running();
            assert!(Instant::now() < deadline, "the API did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn assert_running(&mut self) {
        self.api.assert_running();
        self.triggers.assert_running();
    }

    /// Switches a fault of the trigger runner on (docs/faults.md).
    fn inject(&self, fault: &str) {
        std::fs::write(self.faults.join(fault), "").unwrap();
    }

    fn heal(&self, fault: &str) {
        std::fs::remove_file(self.faults.join(fault)).unwrap();
    }

    async fn create_auction(&self, ends_in: Duration) -> AuctionId {
        self.create_auction_by("seller-sam", ends_in).await
    }

    /// An auction of `seller`'s (one of the registered users) that ends in `ends_in`.
    pub(crate) async fn create_auction_by(&self, seller: &str, ends_in: Duration) -> AuctionId {
        let ends_at = Utc::now() + TimeDelta::from_std(ends_in).unwrap();
        let body = json!({
            "title": "Crash-tested lamp",
            "currency": "EUR",
            "startingPrice": 1000,
            "increment": {"kind": "fixed", "amountMinor": 10},
            "endsAt": ends_at.to_rfc3339(),
            // No extensions: the end must come at a known time for the sagas to run in budget.
            "softClose": {"windowSeconds": 0, "extensionSeconds": 0},
        });
        let url = format!("{}/auctions", self.api_url);
        let key = Uuid::new_v4().to_string();
        let (status, body) = call(
            &self.client,
            Method::POST,
            &url,
            seller,
            Some(&key),
            Some(&body),
        )
        .await
        .unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        AuctionId(body["auctionId"].as_str().unwrap().parse().unwrap())
    }

    pub(crate) async fn stop(mut self) {
        for process in [&mut self.api, &mut self.triggers] {
            if process.child.is_some() {
                process.kill().await;
            }
        }
        self.stack.stop().await.unwrap();
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

/// What the bidders saw.
#[derive(Default)]
struct Outcomes {
    /// Bid id -> auction, for every 201.
    accepted: BTreeMap<String, AuctionId>,
    /// Every 4xx code with its count (rejections by the rules are expected under competition).
    refused: BTreeMap<String, usize>,
    /// Attempts that got no answer or a 5xx, and were retried with the same key.
    retried: usize,
}

/// A bidder: bids on the auctions in turn, each bid above the last accepted price it knows of,
/// retrying one bid with the same key until it gets an answer that is not a 5xx.
async fn bidder(
    client: HttpClient,
    api_url: String,
    user: String,
    auctions: Arc<Vec<(AuctionId, AtomicI64)>>,
    stop: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Outcomes>>,
) {
    let mut turn = 0;
    while !stop.load(Ordering::Relaxed) {
        let (auction_id, price) = &auctions[turn % auctions.len()];
        turn += 1;
        let amount = price.load(Ordering::Relaxed) + 10;
        let body = json!({"amount": amount, "currency": "EUR"});
        let url = format!("{api_url}/auctions/{auction_id}/bids");
        let key = Uuid::new_v4().to_string();
        let started = Instant::now();
        loop {
            let answer = call(&client, Method::POST, &url, &user, Some(&key), Some(&body)).await;
            match answer {
                Ok((StatusCode::CREATED, body)) => {
                    let bid_id = body["bidId"].as_str().unwrap().to_owned();
                    if let Some(minor) = body["currentPrice"]["amountMinor"].as_i64() {
                        price.fetch_max(minor, Ordering::Relaxed);
                    }
                    outcomes
                        .lock()
                        .unwrap()
                        .accepted
                        .insert(bid_id, *auction_id);
                    break;
                }
                Ok((status, body)) if status.is_client_error() => {
                    let code = body["code"].as_str().unwrap_or("?").to_owned();
                    if code == "BID_TOO_LOW" {
                        price.fetch_add(10, Ordering::Relaxed);
                    }
                    *outcomes.lock().unwrap().refused.entry(code).or_default() += 1;
                    break;
                }
                _ => {
                    outcomes.lock().unwrap().retried += 1;
                    assert!(
                        started.elapsed() < RETRY_BUDGET,
                        "a bid got no usable answer for {RETRY_BUDGET:?}: {answer:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        tokio::time::sleep_until((started + BID_INTERVAL).into()).await;
    }
}

/// Reads one auction through the API while DynamoDB is down: every answer must be a 503
/// problem, never a hang or another error. Returns the latencies.
async fn probe_outage(platform: &Platform, auction_id: AuctionId, span: Duration) -> Vec<Duration> {
    let url = format!("{}/auctions/{auction_id}", platform.api_url);
    let mut latencies = Vec::new();
    let until = Instant::now() + span;
    while Instant::now() < until {
        let started = Instant::now();
        let answer = call(&platform.client, Method::GET, &url, "probe", None, None).await;
        let latency = started.elapsed();
        match answer {
            Ok((StatusCode::SERVICE_UNAVAILABLE, body)) => {
                assert_eq!(body["status"], 503, "{body}");
                latencies.push(latency);
            }
            other => panic!("while DynamoDB is down the API answered {other:?} after {latency:?}"),
        }
    }
    latencies
}

/// Waits until the API reads the auction again; returns how long that took.
async fn recovered(platform: &Platform, auction_id: AuctionId) -> Duration {
    let url = format!("{}/auctions/{auction_id}", platform.api_url);
    let started = Instant::now();
    loop {
        if let Ok((StatusCode::OK, _)) =
            call(&platform.client, Method::GET, &url, "probe", None, None).await
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the API did not recover after DynamoDB came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn log_of(env: &TestEnv, auction_id: AuctionId) -> Vec<StoredEvent> {
    env.event_store()
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap()
}

async fn queue_depth(env: &TestEnv, url: &str) -> i64 {
    let attributes = env
        .sqs()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ]
    .iter()
    .map(|name| {
        attributes
            .get(name)
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(0)
    })
    .sum()
}

/// Every saga by `{auctionId}#{buyerId}`, with its status.
pub(crate) async fn sagas(env: &TestEnv) -> BTreeMap<String, String> {
    let page = env
        .dynamodb()
        .scan()
        .table_name(&env.names().payment_sagas_table)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    page.items()
        .iter()
        .map(|item| {
            let text = |name: &str| item[name].as_s().unwrap().clone();
            (
                format!("{}#{}", text("auctionId"), text("buyerId")),
                text("status"),
            )
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

/// Bidders bidding on the platform's auctions until stopped.
struct Load {
    auction_ids: Vec<AuctionId>,
    stop: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Outcomes>>,
    bidders: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Auctions ending after each of `lengths`, and `BIDDERS` bidders on them.
    async fn start(platform: &Platform, lengths: &[Duration]) -> Self {
        let mut auctions = Vec::new();
        for length in lengths {
            auctions.push((platform.create_auction(*length).await, AtomicI64::new(1000)));
        }
        let auction_ids: Vec<AuctionId> = auctions.iter().map(|(id, _)| *id).collect();
        let auctions = Arc::new(auctions);
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes = Arc::new(Mutex::new(Outcomes::default()));
        let bidders = (1..=BIDDERS)
            .map(|n| {
                tokio::spawn(bidder(
                    platform.client.clone(),
                    platform.api_url.clone(),
                    format!("bidder-{n}"),
                    Arc::clone(&auctions),
                    Arc::clone(&stop),
                    Arc::clone(&outcomes),
                ))
            })
            .collect();
        Self {
            auction_ids,
            stop,
            outcomes,
            bidders,
        }
    }

    async fn stop(self) -> (Vec<AuctionId>, Outcomes) {
        self.stop.store(true, Ordering::Relaxed);
        for bidder in self.bidders {
            bidder.await.unwrap();
        }
        let outcomes = std::mem::take(&mut *self.outcomes.lock().unwrap());
        (self.auction_ids, outcomes)
    }
}

/// What the checks after a fault found.
struct Settled {
    sales: usize,
    notifications: usize,
}

/// After a fault: every 201 bid is in the log once; every auction ended, every sale's saga
/// finished, the queues drained; every notice the log calls for is in its inbox; the views are
/// the fold of the log; and the DLQs, the on-failure queue and Parked are empty.
async fn assert_nothing_lost(
    platform: &Platform,
    auction_ids: &[AuctionId],
    outcomes: &Outcomes,
) -> Settled {
    assert!(
        outcomes.accepted.len() >= 20,
        "too few bids were accepted to mean anything: {} (refused: {:?})",
        outcomes.accepted.len(),
        outcomes.refused
    );
    let mut in_log: HashMap<String, usize> = HashMap::new();
    for auction_id in auction_ids {
        for stored in log_of(&platform.env, *auction_id).await {
            let bid_id = match stored.decode::<events::AuctionEvent>().unwrap().event {
                AuctionEvent::BidPlaced(bid) => bid.bid_id.0.to_string(),
                AuctionEvent::MaxBidRaised(raise) => raise.bid_id.0.to_string(),
                _ => continue,
            };
            *in_log.entry(bid_id).or_default() += 1;
        }
    }
    for (bid_id, auction_id) in &outcomes.accepted {
        assert_eq!(
            in_log.get(bid_id),
            Some(&1),
            "bid {bid_id} on {auction_id} got a 201 but is in the log {:?} times",
            in_log.get(bid_id)
        );
    }
    assert!(
        in_log.values().all(|&n| n == 1),
        "a bid id is in the log twice"
    );

    let sales = settle(platform, auction_ids).await;
    // A message can still reach a DLQ after its saga finished (received again while a slow
    // invocation ran past the compressed visibility timeout): it is parked, and the reconciler
    // replays it, harmlessly, within a few of its periods. Then whatever the replays redelivered
    // settles too.
    drained(platform).await;
    let sales = sales.max(settle(platform, auction_ids).await);
    let depths = dead_letters(&platform.env).await;
    assert!(
        depths.iter().all(|(_, depth)| *depth == 0),
        "dead letters left: {depths:?}"
    );
    let parked = platform.env.parked().list(None).await.unwrap();
    assert!(parked.is_empty(), "parked items left: {parked:?}");

    let (expected, stored) = inboxes(&platform.env, auction_ids).await;
    assert_eq!(
        stored, expected,
        "the inboxes differ from what the log calls for"
    );

    let views = aliased(&platform.env);
    converged(&platform.env, &views, auction_ids).await;
    let target = fresh(&platform.env, &format!("f{}", Uuid::new_v4().simple()));
    run_rebuild(&platform.env, &options(target.clone(), false))
        .await
        .unwrap();
    assert_same_items(&platform.env, &target, &live(&platform.env)).await;
    Settled {
        sales,
        notifications: stored.len(),
    }
}

/// Waits until nothing is parked, the DLQs and the on-failure queue are empty, as the
/// reconciler leaves them (every 5 s, replaying what was parked more than 10 s ago); gives up
/// after a minute, and the checks after it say what is left.
async fn drained(platform: &Platform) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let parked = platform.env.parked().list(None).await.unwrap();
        let depths = dead_letters(&platform.env).await;
        if parked.is_empty() && depths.iter().all(|(_, depth)| *depth == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until at least `count` items are parked; returns them.
async fn parked(platform: &Platform, count: usize) -> Vec<parking::Parked> {
    let started = Instant::now();
    loop {
        let items = platform.env.parked().list(None).await.unwrap();
        if items.len() >= count {
            return items;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "nothing was parked within two minutes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `auction-admin parked replay --all` against the platform's tables, as an operator runs it.
async fn replay_parked(platform: &Platform) -> usize {
    let cli = <::auction_admin::cli::Cli as clap::Parser>::try_parse_from([
        "auction-admin",
        "parked",
        "replay",
        "--all",
    ])
    .unwrap();
    let mut out = Vec::new();
    ::auction_admin::cli::run(
        &crate::audit::sources(&platform.env).await,
        cli.command,
        &mut out,
    )
    .await
    .unwrap_or_else(|exit| panic!("replay failed: {exit}: {}", String::from_utf8_lossy(&out)));
    String::from_utf8(out).unwrap().lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_platform_loses_nothing_when_each_process_is_killed_under_bid_load() {
    // Given the platform on a stack with a data directory, auctions, and bidders bidding
    let mut platform = Platform::start().await;
    let lengths: Vec<Duration> = (0..AUCTIONS)
        .map(|n| {
            if n % 2 == 0 {
                SHORT_AUCTION
            } else {
                LONG_AUCTION
            }
        })
        .collect();
    let load = Load::start(&platform, &lengths).await;
    let first = load.auction_ids[0];
    tokio::time::sleep(BETWEEN_FAULTS).await;

    // When DynamoDB Local is killed: the API answers 503 while it is down
    platform.stack.kill(Service::Dynamodb).await.unwrap();
    let outage = probe_outage(&platform, first, Duration::from_secs(3)).await;
    platform.stack.restart(Service::Dynamodb).await.unwrap();
    let recovery = recovered(&platform, first).await;
    tokio::time::sleep(BETWEEN_FAULTS).await;

    // ... then moto
    platform.stack.kill(Service::Sqs).await.unwrap();
    tokio::time::sleep(DOWNTIME).await;
    platform.stack.restart(Service::Sqs).await.unwrap();
    tokio::time::sleep(BETWEEN_FAULTS).await;

    // ... then the trigger runner
    platform.triggers.kill().await;
    tokio::time::sleep(DOWNTIME).await;
    platform.triggers.start(&platform.process_env);
    tokio::time::sleep(BETWEEN_FAULTS).await;

    // ... then the API
    platform.api.kill().await;
    tokio::time::sleep(DOWNTIME).await;
    platform.start_api().await;
    tokio::time::sleep(BETWEEN_FAULTS).await;
    let (auction_ids, outcomes) = load.stop().await;
    platform.assert_running();

    // Then nothing accepted is lost or doubled, and nothing was parked: nothing in this run
    // was meant to fail
    let settled = assert_nothing_lost(&platform, &auction_ids, &outcomes).await;
    platform.assert_running();

    let mut outage = outage;
    outage.sort();
    println!(
        "fault suite: {} bids accepted, {} retried attempts, refused {:?}; {} sales settled; \
         {} notifications; \
         while DynamoDB was down: {} answers, all 503, p50 {:?}, max {:?}; served again {:?} \
         after its restart",
        outcomes.accepted.len(),
        outcomes.retried,
        outcomes.refused,
        settled.sales,
        settled.notifications,
        outage.len(),
        percentile(&outage, 0.5),
        outage.last().unwrap(),
        recovery
    );
    platform.stop().await;
}

/// How long SQS stays unreachable.
const SQS_OUTAGE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_unreachable_for_a_minute_under_bid_load_loses_nothing() {
    // Given the platform under bid load, with auctions that end while SQS is down
    let mut platform = Platform::start().await;
    // Every one ends during the outage (from 3 s to 63 s after the load starts), so that the
    // check afterwards waits for nothing else.
    let lengths = [
        Duration::from_secs(15),
        Duration::from_secs(25),
        Duration::from_secs(40),
        Duration::from_secs(55),
    ];
    let load = Load::start(&platform, &lengths).await;
    tokio::time::sleep(BETWEEN_FAULTS).await;

    // When SQS is unreachable for a minute
    let started = Instant::now();
    platform.stack.kill(Service::Sqs).await.unwrap();
    tokio::time::sleep(SQS_OUTAGE).await;
    platform.stack.restart(Service::Sqs).await.unwrap();
    let downtime = started.elapsed();
    tokio::time::sleep(BETWEEN_FAULTS).await;
    let (auction_ids, outcomes) = load.stop().await;
    platform.assert_running();

    // Then whatever a consumer gave up on meanwhile is replayed by an operator, and nothing
    // accepted is lost or doubled
    tokio::time::sleep(Duration::from_secs(5)).await;
    let replayed = replay_parked(&platform).await;
    let settled = assert_nothing_lost(&platform, &auction_ids, &outcomes).await;
    platform.assert_running();
    println!(
        "fault suite, SQS unreachable for {downtime:?}: {} bids accepted, {} retried attempts; \
         {} sales settled; {} notifications; {replayed} parked items replayed",
        outcomes.accepted.len(),
        outcomes.retried,
        settled.sales,
        settled.notifications,
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projector_writes_failing_until_its_mapping_gives_up_lose_nothing() {
    // Given the platform under bid load, with auctions that end while the projector fails
    let mut platform = Platform::start().await;
    let lengths = [
        Duration::from_secs(12),
        Duration::from_secs(18),
        Duration::from_secs(26),
    ];
    let load = Load::start(&platform, &lengths).await;
    tokio::time::sleep(BETWEEN_FAULTS).await;

    // When every write of the projector fails, until its mapping has given up on batches and
    // the auctions have ended
    let started = Instant::now();
    platform.inject("projector-writes");
    let first_parked = parked(&platform, 1).await;
    let ended_during = ended(&platform.env, &load.auction_ids[..2]).await;
    platform.heal("projector-writes");
    let downtime = started.elapsed();
    tokio::time::sleep(BETWEEN_FAULTS).await;
    let (auction_ids, outcomes) = load.stop().await;
    platform.assert_running();

    // Then what the projector gave up on was parked for it, with the event types, and an
    // operator's replay (or the reconciler) brings every view to the fold of the log
    assert!(
        first_parked
            .iter()
            .all(|item| item.consumer == "projector" && !item.event_types.is_empty()),
        "{first_parked:?}"
    );
    let replayed = replay_parked(&platform).await;
    let settled = assert_nothing_lost(&platform, &auction_ids, &outcomes).await;
    println!(
        "fault suite, projector writes failing for {downtime:?} ({ended_during} auctions ended \
         meanwhile): {} bids accepted; first parked {} items; {replayed} replayed by the tool; \
         {} sales settled; {} notifications",
        outcomes.accepted.len(),
        first_parked.len(),
        settled.sales,
        settled.notifications,
    );
    platform.stop().await;
}

/// The provider's outage, compressed tenfold from five minutes like every setting it meets: the
/// payments queue's visibility timeout (60 s -> 6 s) and the saga's invocation (10 s with 3 s
/// kept for the state write -> 1 s with 0.3 s).
const PROVIDER_OUTAGE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_provider_outage_of_five_minutes_loses_nothing_and_charges_once() {
    // Given the platform under bid load, its times compressed tenfold, with auctions that end
    // while the payment provider fails every call
    let mut platform = Platform::start_with(
        &[("PAYMENT_SAGA_RETRY_MARGIN_MS", "300")],
        // The saga's deadline is its function's timeout, as in AWS.
        &["--function-timeout", "payment-saga-lambda=1000"],
    )
    .await;
    platform
        .env
        .sqs()
        .set_queue_attributes()
        .queue_url(&platform.env.payments_queue().url)
        .attributes(QueueAttributeName::VisibilityTimeout, "6")
        .send()
        .await
        .unwrap();
    let lengths = [
        Duration::from_secs(8),
        Duration::from_secs(14),
        Duration::from_secs(20),
        Duration::from_secs(28),
    ];
    let load = Load::start(&platform, &lengths).await;
    tokio::time::sleep(BETWEEN_FAULTS).await;

    // When every call to the payment provider fails for "five minutes"
    let outage_started = Instant::now();
    platform.inject("payment-provider");
    let ended_during = ended(&platform.env, &load.auction_ids[..3]).await;
    tokio::time::sleep(PROVIDER_OUTAGE.saturating_sub(outage_started.elapsed())).await;
    let parked_during = platform.env.parked().list(None).await.unwrap();
    platform.heal("payment-provider");
    let outage = outage_started.elapsed();
    tokio::time::sleep(BETWEEN_FAULTS).await;
    let (auction_ids, outcomes) = load.stop().await;
    platform.assert_running();

    // Then the sagas that gave up during the outage were parked, the reconciler replayed them
    // with no person involved, and nothing accepted is lost
    assert!(
        parked_during
            .iter()
            .any(|item| item.consumer == "payment-saga"),
        "the outage parked no payment: {parked_during:?}"
    );
    let healed = Instant::now();
    let settled = assert_nothing_lost(&platform, &auction_ids, &outcomes).await;
    let healing = healed.elapsed();

    // and every sale was paid exactly once, never charged without a payout or a refund
    let sagas = sagas(&platform.env).await;
    for auction_id in &auction_ids {
        let log = log_of(&platform.env, *auction_id).await;
        let sold = log
            .iter()
            .any(|stored| matches!(stored.decode::<events::AuctionEvent>().unwrap().event, AuctionEvent::AuctionEnded(ended) if matches!(ended.result, AuctionResult::Sold { .. })));
        let paid = log
            .iter()
            .filter(|stored| stored.envelope.event_type == "PaymentSucceeded")
            .count();
        if sold {
            assert_eq!(paid, 1, "auction {auction_id} was paid {paid} times");
        }
    }
    assert!(
        sagas.values().all(|status| status == "completed"),
        "{sagas:?}"
    );
    // and on the provider itself (localstripe): every sale charged once and paid out once, no
    // payout without its charge
    let (charges, transfers) = money_on_stripe(&platform).await;
    for auction_id in &auction_ids {
        let key = auction_id.to_string();
        let sold = sagas.keys().any(|saga| saga.starts_with(&key));
        let charged = charges.get(&key).map_or(0, Vec::len);
        let paid_out = transfers.get(&key).map_or(0, Vec::len);
        assert_eq!(
            (charged, paid_out),
            if sold { (1, 1) } else { (0, 0) },
            "auction {auction_id} on localstripe: {charged} charges, {paid_out} transfers"
        );
    }
    assert!(
        transfers
            .keys()
            .all(|auction| charges.contains_key(auction)),
        "a transfer without a charge: {transfers:?} against {charges:?}"
    );
    platform.assert_running();
    println!(
        "fault suite, payment provider down for {:?} (five minutes at a tenth of the time scale; \
         {ended_during} auctions ended meanwhile): {} bids accepted; {} items parked during the \
         outage; settled {:?} after it, the reconciler replaying them; {} sales paid once each; \
         {} notifications",
        outage,
        outcomes.accepted.len(),
        parked_during.len(),
        healing,
        settled.sales,
        settled.notifications,
    );
    platform.stop().await;
}

/// Waits until every one of `auction_ids` has an AuctionEnded in the log; returns how many.
pub(crate) async fn ended(env: &TestEnv, auction_ids: &[AuctionId]) -> usize {
    let started = Instant::now();
    loop {
        let mut ended = 0;
        for auction_id in auction_ids {
            if log_of(env, *auction_id)
                .await
                .iter()
                .any(|stored| stored.envelope.event_type == "AuctionEnded")
            {
                ended += 1;
            }
        }
        if ended == auction_ids.len() {
            return ended;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the auctions did not end"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What moved on the platform's localstripe, by the auction in each object's metadata: each
/// bidder's paid charges (what is kept of each after refunds) and each transfer to the seller
/// (what is kept after reversals). Read through Stripe's API, not through our tables' records
/// of it.
async fn money_on_stripe(
    platform: &Platform,
) -> (BTreeMap<String, Vec<i64>>, BTreeMap<String, Vec<i64>>) {
    use payment_identities::PaymentIdentityLookup;

    let local = platform.stack.localstripe();
    let stripe = StripeClient::new(StripeConfig {
        api_base: local.api_base.clone(),
        secret_key: SecretKey::new(local.secret_key.clone()),
        timeout: REQUEST_TIMEOUT,
    })
    .unwrap();
    let identities = payment_identities::DynamoDbPaymentIdentities::new(
        platform.env.dynamodb().clone(),
        platform.env.names().payment_identities_table.clone(),
    );
    let mut charges: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for n in 1..=BIDDERS {
        // Registered through the API: under the bidder's pseudonym.
        let bidder = platform.env.pseudonym(&format!("bidder-{n}")).await;
        let Some(card) = identities.get(&bidder).await.unwrap().and_then(|i| i.card) else {
            continue;
        };
        for intent in stripe
            .payment_intents_of_customer(card.customer_id.as_str())
            .await
            .unwrap()
        {
            if intent.status != stripe_api::PaymentIntentStatus::Succeeded {
                continue;
            }
            let refunded: i64 = stripe
                .refunds_of_payment_intent(&intent.id)
                .await
                .unwrap()
                .iter()
                .map(|refund| refund.amount)
                .sum();
            let auction = intent
                .metadata
                .get("auction_id")
                .cloned()
                .unwrap_or_default();
            charges
                .entry(auction)
                .or_default()
                .push(intent.amount - refunded);
        }
    }
    // Registered through the API: under the seller's pseudonym.
    let seller = platform.env.pseudonym("seller-sam").await;
    let account = identities
        .get(&seller)
        .await
        .unwrap()
        .and_then(|i| i.payout_account_id)
        .expect("seller-sam registered a payout account");
    let mut transfers: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for transfer in stripe.transfers_to(account.as_str()).await.unwrap() {
        let auction = transfer
            .metadata
            .get("auction_id")
            .cloned()
            .unwrap_or_default();
        transfers
            .entry(auction)
            .or_default()
            .push(transfer.amount - transfer.amount_reversed);
    }
    (charges, transfers)
}

/// Waits until every auction has ended, both queues are empty and every sale's saga is
/// completed or failed. Returns the number of sales.
async fn settle(platform: &Platform, auction_ids: &[AuctionId]) -> usize {
    let env = &platform.env;
    let started = Instant::now();
    loop {
        let mut sales = Vec::new();
        let mut open = 0;
        for auction_id in auction_ids {
            let log = log_of(env, *auction_id).await;
            let ended = log.iter().find_map(|stored| {
                match stored.decode::<events::AuctionEvent>().unwrap().event {
                    AuctionEvent::AuctionEnded(ended) => Some(ended.result),
                    _ => None,
                }
            });
            match ended {
                Some(AuctionResult::Sold { winner_id, .. }) => {
                    sales.push(format!("{auction_id}#{winner_id}"));
                }
                Some(AuctionResult::Unsold { .. }) => {}
                None => open += 1,
            }
        }
        let sagas = sagas(env).await;
        let unfinished: Vec<_> = sales
            .iter()
            .filter(|sale| {
                !matches!(
                    sagas.get(*sale).map(String::as_str),
                    Some("completed" | "failed")
                )
            })
            .collect();
        let depth = queue_depth(env, &env.notifications_queue().url).await
            + queue_depth(env, &env.payments_queue().url).await;
        if open == 0 && unfinished.is_empty() && depth == 0 {
            return sales.len();
        }
        assert!(
            started.elapsed() < SETTLE_BUDGET,
            "not settled after {SETTLE_BUDGET:?}: {open} auctions open, sagas unfinished \
             {unfinished:?} (all: {sagas:?}), {depth} messages queued"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The depth of each DLQ and of the stream's on-failure queue.
async fn dead_letters(env: &TestEnv) -> Vec<(String, i64)> {
    let mut depths = Vec::new();
    for url in [
        &env.notifications_queue().dlq_url,
        &env.payments_queue().dlq_url,
        &env.live_queue().dlq_url,
        &env.resources.stream_failures.url,
    ] {
        depths.push((url.clone(), queue_depth(env, url).await));
    }
    depths
}

/// The notifications the log calls for (each event with the auction as of that event, as the
/// notifier computes them), and the ones in the Notifications table: (recipient, id) pairs.
async fn inboxes(
    env: &TestEnv,
    auction_ids: &[AuctionId],
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let mut expected = Vec::new();
    for auction_id in auction_ids {
        let mut state = domain::State::default();
        for stored in log_of(env, *auction_id).await {
            let envelope = stored.decode().unwrap();
            state = domain::evolve(state, &envelope.event);
            let context = read_models::notifications::AuctionContext::of(&state).unwrap();
            for notification in read_models::notifications::notifications(&envelope, &context) {
                expected.push((
                    notification.recipient.to_string(),
                    notification.notification_id,
                ));
            }
        }
    }
    expected.sort();
    let mut stored = Vec::new();
    let mut start = None;
    loop {
        let page = env
            .dynamodb()
            .scan()
            .table_name(&env.names().notifications_table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let text = |name: &str| item[name].as_s().unwrap().clone();
            stored.push((text("userId"), text("notificationId")));
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    stored.sort();
    (expected, stored)
}
