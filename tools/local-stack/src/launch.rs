//! Starting the emulators on free ports and waiting until they answer.

use std::ffi::OsString;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::emulator::{Emulator, Launch};
use crate::install::dynamodb_local_args;
use crate::{Clients, Endpoints, Error, Result, Tools, sdk_config};

/// A cold JVM starts DynamoDB Local in about 1.5 s on this project's 2-core machines; the margin
/// covers a machine busy compiling the test suite.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Each attempt picks a fresh port, so only a port taken between picking and binding (another
/// process racing for ephemeral ports) costs an attempt.
const START_ATTEMPTS: u32 = 3;
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// One probe call's budget: the emulators answer in milliseconds once up, and a connection to a
/// port nobody listens on yet is refused at once.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const WATCH_INTERVAL: Duration = Duration::from_millis(500);
/// Logs of earlier runs older than this are removed at start, so `.local/logs` stays small.
const LOG_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// The secret key the stack's localstripe is used with. localstripe takes any `sk_...` key.
pub const LOCALSTRIPE_SECRET_KEY: &str = "sk_test_local_stack";

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub tools: Tools,
    /// Keep the emulators' data in this directory between runs and across crashes: DynamoDB
    /// Local's database, moto's queues and messages (through `moto_durable.py`, since moto
    /// itself keeps them only in memory), and localstripe's objects. `None` keeps all in memory.
    pub data_dir: Option<PathBuf>,
    /// How long each emulator gets to answer its first API call.
    pub ready_timeout: Duration,
}

impl StartOptions {
    pub fn new(tools: Tools) -> Self {
        Self {
            tools,
            data_dir: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }
}

/// The running emulators. Stop it with [`LocalStack::stop`]; dropping it kills them instead.
#[derive(Debug)]
pub struct LocalStack {
    dynamodb: Emulator,
    sqs: Emulator,
    stripe: Emulator,
    endpoints: Endpoints,
    localstripe: LocalStripe,
    /// As started, with the data directory made absolute: what a restart needs.
    options: StartOptions,
}

/// One of the stack's emulators, for [`LocalStack::kill`] and [`LocalStack::restart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// DynamoDB Local (DynamoDB and DynamoDB Streams).
    Dynamodb,
    /// moto's SQS server.
    Sqs,
    /// localstripe (Stripe's API, with the launcher's Connect endpoints).
    Stripe,
}

/// Where the stack's localstripe answers and the secrets it is used with: what the platform's
/// Stripe client (`stripe-api`) reads from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStripe {
    /// `http://127.0.0.1:<port>`
    pub api_base: String,
    /// [`LOCALSTRIPE_SECRET_KEY`].
    pub secret_key: String,
    /// `whsec_` and 32 random hex digits, new for each stack: the signing secret to register a
    /// webhook endpoint with (localstripe: `POST /_config/webhooks/{id}` with `url` and
    /// `secret`) and to verify its events with.
    pub webhook_secret: String,
}

impl LocalStripe {
    /// `STRIPE_API_BASE`, `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STRIPE_API_BASE", self.api_base.clone()),
            ("STRIPE_SECRET_KEY", self.secret_key.clone()),
            ("STRIPE_WEBHOOK_SECRET", self.webhook_secret.clone()),
        ]
    }
}

impl LocalStack {
    /// Starts DynamoDB Local, moto's server and localstripe on free ports of 127.0.0.1 and
    /// returns once each answers a real API call (ListTables, ListQueues, GET /v1/accounts).
    /// Requires [`Tools::install`] first.
    pub async fn start(options: &StartOptions) -> Result<Self> {
        let tools = &options.tools;
        if !tools.is_installed() {
            return Err(Error::NotInstalled {
                home: tools.home().to_path_buf(),
            });
        }
        let logs = tools.logs_dir();
        std::fs::create_dir_all(&logs)
            .map_err(|e| Error::io(format!("creating {}", logs.display()), e))?;
        prune_logs(&logs);
        let data_dir = match &options.data_dir {
            Some(dir) => {
                let dir = std::path::absolute(dir)
                    .map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                Some(dir)
            }
            None => None,
        };
        let sdk = sdk_config().await;
        let deadline = Instant::now() + options.ready_timeout;
        let dynamodb = Kind::Dynamodb {
            data_dir: data_dir.as_deref(),
        };
        let sqs = Kind::Sqs {
            data_dir: data_dir.as_deref(),
        };
        let stripe = Kind::Stripe {
            data_dir: data_dir.as_deref(),
        };
        // Started concurrently: the JVM's start-up dominates, and the Python start-ups hide
        // behind it. If one fails, dropping the others' futures kills their emulators.
        let (dynamodb, sqs, stripe) = tokio::try_join!(
            start_emulator(dynamodb, tools, &sdk, deadline, options.ready_timeout),
            start_emulator(sqs, tools, &sdk, deadline, options.ready_timeout),
            start_emulator(stripe, tools, &sdk, deadline, options.ready_timeout),
        )?;
        let endpoints = Endpoints {
            dynamodb: endpoint_url(dynamodb.port()),
            sqs: endpoint_url(sqs.port()),
        };
        let localstripe = LocalStripe {
            api_base: endpoint_url(stripe.port()),
            secret_key: LOCALSTRIPE_SECRET_KEY.to_owned(),
            webhook_secret: webhook_secret()?,
        };
        Ok(Self {
            dynamodb,
            sqs,
            stripe,
            endpoints,
            localstripe,
            options: StartOptions {
                data_dir,
                ..options.clone()
            },
        })
    }

    /// Kills one emulator with SIGKILL, as a crash would (no shutdown hook runs), and reaps it.
    /// For fault tests: with a data directory, [`LocalStack::restart`] brings it back with its
    /// data; without one, its data is gone.
    pub async fn kill(&mut self, service: Service) -> Result<()> {
        self.emulator(service).kill().await
    }

    /// Starts a killed or stopped emulator again on the same port (clients keep their endpoint)
    /// and returns once it answers a real API call.
    pub async fn restart(&mut self, service: Service) -> Result<()> {
        let data_dir = self.options.data_dir.clone();
        let kind = match service {
            Service::Dynamodb => Kind::Dynamodb {
                data_dir: data_dir.as_deref(),
            },
            Service::Sqs => Kind::Sqs {
                data_dir: data_dir.as_deref(),
            },
            Service::Stripe => Kind::Stripe {
                data_dir: data_dir.as_deref(),
            },
        };
        let timeout = self.options.ready_timeout;
        let sdk = sdk_config().await;
        let port = self.emulator(service).port();
        let launch = kind.launch(&self.options.tools, port)?;
        let mut emulator = Emulator::spawn(&launch, port)?;
        if let Err(error) =
            wait_ready(&mut emulator, kind, &sdk, Instant::now() + timeout, timeout).await
        {
            emulator.stop().await?;
            return Err(error);
        }
        tracing::info!(
            service = kind.service(),
            pid = emulator.pid(),
            port,
            "restarted"
        );
        *self.emulator(service) = emulator;
        Ok(())
    }

    fn emulator(&mut self, service: Service) -> &mut Emulator {
        match service {
            Service::Dynamodb => &mut self.dynamodb,
            Service::Sqs => &mut self.sqs,
            Service::Stripe => &mut self.stripe,
        }
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// localstripe's address and the secrets that go with it.
    pub fn localstripe(&self) -> &LocalStripe {
        &self.localstripe
    }

    /// The process ids of the emulators (each also leads its own process group).
    pub fn pids(&self) -> Vec<u32> {
        vec![self.dynamodb.pid(), self.sqs.pid(), self.stripe.pid()]
    }

    /// The emulators' log files.
    pub fn logs(&self) -> Vec<&Path> {
        vec![self.dynamodb.log(), self.sqs.log(), self.stripe.log()]
    }

    /// Resolves when an emulator exits by itself, with [`Error::EmulatorDied`] saying which.
    /// Pending for as long as all run; cancel-safe.
    pub async fn died(&mut self) -> Error {
        loop {
            for emulator in [&mut self.dynamodb, &mut self.sqs, &mut self.stripe] {
                match emulator.exit_status() {
                    Ok(None) => {}
                    Ok(Some(status)) => {
                        return Error::EmulatorDied {
                            service: emulator.service(),
                            pid: emulator.pid(),
                            status,
                            log: emulator.log().to_path_buf(),
                            log_tail: emulator.log_tail(),
                        };
                    }
                    Err(error) => return error,
                }
            }
            tokio::time::sleep(WATCH_INTERVAL).await;
        }
    }

    /// Stops every emulator and everything they spawned, and reaps them.
    pub async fn stop(mut self) -> Result<()> {
        let (dynamodb, sqs, stripe) =
            tokio::join!(self.dynamodb.stop(), self.sqs.stop(), self.stripe.stop());
        dynamodb.and(sqs).and(stripe)
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind<'a> {
    Dynamodb { data_dir: Option<&'a Path> },
    Sqs { data_dir: Option<&'a Path> },
    Stripe { data_dir: Option<&'a Path> },
}

impl Kind<'_> {
    fn service(self) -> &'static str {
        match self {
            Kind::Dynamodb { .. } => "DynamoDB Local",
            Kind::Sqs { .. } => "moto (SQS)",
            Kind::Stripe { .. } => "localstripe",
        }
    }

    fn probe_name(self) -> &'static str {
        match self {
            Kind::Dynamodb { .. } => "DynamoDB ListTables",
            Kind::Sqs { .. } => "SQS ListQueues",
            Kind::Stripe { .. } => "GET /v1/accounts",
        }
    }

    fn launch(self, tools: &Tools, port: u16) -> Result<Launch> {
        let launcher = std::process::id();
        let host: OsString = Ipv4Addr::LOCALHOST.to_string().into();
        let launch = match self {
            Kind::Dynamodb { data_dir } => Launch {
                service: self.service(),
                program: "java".into(),
                prerequisite: Some(("java", "to run DynamoDB Local (Java 17)")),
                args: dynamodb_local_args(&tools.dynamodb_emulator_dir(), port, data_dir),
                envs: vec![],
                clear_env: false,
                cwd: tools.home().to_path_buf(),
                log: tools
                    .logs_dir()
                    .join(format!("dynamodb-local.{launcher}.log")),
                capture: false,
                own_group: true,
            },
            Kind::Sqs { data_dir } => {
                let mut args: Vec<OsString> =
                    vec!["-H".into(), host, "-p".into(), port.to_string().into()];
                let program = match data_dir {
                    None => tools.moto_server().into_os_string(),
                    Some(dir) => {
                        args.insert(0, tools.moto_durable_script()?.into_os_string());
                        args.push("--state".into());
                        args.push(dir.join("sqs-state.pickle").into_os_string());
                        tools.moto_python().into_os_string()
                    }
                };
                Launch {
                    service: self.service(),
                    program,
                    prerequisite: None,
                    args,
                    // Unbuffered, so that the log tail in an error shows what moto printed last.
                    envs: vec![("PYTHONUNBUFFERED".into(), "1".into())],
                    clear_env: false,
                    cwd: tools.home().to_path_buf(),
                    log: tools.logs_dir().join(format!("moto.{launcher}.log")),
                    capture: false,
                    own_group: true,
                }
            }
            Kind::Stripe { data_dir } => {
                let (script, openapi) = tools.localstripe_launcher()?;
                let mut args: Vec<OsString> = vec![
                    script.into_os_string(),
                    "--host".into(),
                    host,
                    "--port".into(),
                    port.to_string().into(),
                    "--openapi".into(),
                    openapi.into_os_string(),
                ];
                if let Some(dir) = data_dir {
                    args.push("--state".into());
                    args.push(dir.join("localstripe-state.pickle").into_os_string());
                }
                Launch {
                    service: self.service(),
                    program: tools.localstripe_python().into_os_string(),
                    prerequisite: None,
                    args,
                    envs: vec![("PYTHONUNBUFFERED".into(), "1".into())],
                    clear_env: false,
                    cwd: tools.home().to_path_buf(),
                    log: tools.logs_dir().join(format!("localstripe.{launcher}.log")),
                    capture: false,
                    own_group: true,
                }
            }
        };
        Ok(launch)
    }

    async fn probe(self, clients: &Clients, port: u16) -> std::result::Result<(), String> {
        match self {
            Kind::Stripe { .. } => probe_localstripe(port).await,
            Kind::Dynamodb { .. } => clients
                .dynamodb
                .list_tables()
                .limit(1)
                .send()
                .await
                .map(drop)
                .map_err(|e| DisplayErrorContext(e).to_string()),
            Kind::Sqs { .. } => clients
                .sqs
                .list_queues()
                .send()
                .await
                .map(drop)
                .map_err(|e| DisplayErrorContext(e).to_string()),
        }
    }
}

async fn start_emulator(
    kind: Kind<'_>,
    tools: &Tools,
    sdk: &SdkConfig,
    deadline: Instant,
    ready_timeout: Duration,
) -> Result<Emulator> {
    let mut attempt = 1;
    loop {
        let port = free_port()?;
        let mut emulator = Emulator::spawn(&kind.launch(tools, port)?, port)?;
        let result = wait_ready(&mut emulator, kind, sdk, deadline, ready_timeout).await;
        match result {
            Ok(()) => {
                tracing::info!(
                    service = kind.service(),
                    pid = emulator.pid(),
                    port,
                    log = %emulator.log().display(),
                    "ready"
                );
                return Ok(emulator);
            }
            Err(Error::EmulatorExited { status, .. }) if attempt < START_ATTEMPTS => {
                tracing::warn!(
                    service = kind.service(),
                    port,
                    %status,
                    attempt,
                    "exited while starting; retrying on another port"
                );
                emulator.stop().await?;
                attempt += 1;
            }
            Err(error) => {
                emulator.stop().await?;
                return Err(error);
            }
        }
    }
}

async fn wait_ready(
    emulator: &mut Emulator,
    kind: Kind<'_>,
    sdk: &SdkConfig,
    deadline: Instant,
    ready_timeout: Duration,
) -> Result<()> {
    let url = endpoint_url(emulator.port());
    let endpoints = Endpoints {
        dynamodb: url.clone(),
        sqs: url,
    };
    let clients = Clients::probing(sdk, &endpoints, PROBE_TIMEOUT);
    let exited = |emulator: &Emulator, status: String| Error::EmulatorExited {
        service: emulator.service(),
        status,
        log: emulator.log().to_path_buf(),
        log_tail: emulator.log_tail(),
    };
    loop {
        if let Some(status) = emulator.exit_status()? {
            return Err(exited(emulator, status));
        }
        let last_error = match kind.probe(&clients, emulator.port()).await {
            // An answer only counts while our child still runs: otherwise another process took
            // the port between our picking it and the child binding it.
            Ok(()) => match emulator.exit_status()? {
                None => return Ok(()),
                Some(status) => return Err(exited(emulator, status)),
            },
            Err(error) => error,
        };
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                service: emulator.service(),
                probe: kind.probe_name(),
                waited: ready_timeout,
                last_error,
                log: emulator.log().to_path_buf(),
                log_tail: emulator.log_tail(),
            });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// A port that was free on 127.0.0.1 a moment ago. The listener is dropped before the emulator
/// binds, so another process can take the port in between; [`start_emulator`] retries then.
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("binding 127.0.0.1:0 to find a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::io("reading the free port's address", e))?
        .port();
    Ok(port)
}

pub(crate) fn endpoint_url(port: u16) -> String {
    format!("http://{}:{port}", Ipv4Addr::LOCALHOST)
}

/// A real Stripe call, `GET /v1/accounts?limit=1` with the key: it answers 200 only once the
/// launcher has added its Connect routes. Plain HTTP/1.1 over a socket, with the timeout of the
/// other probes.
async fn probe_localstripe(port: u16) -> std::result::Result<(), String> {
    let call = async {
        let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| e.to_string())?;
        let request = format!(
            "GET /v1/accounts?limit=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Authorization: Bearer {LOCALSTRIPE_SECRET_KEY}\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        let answer = String::from_utf8_lossy(&answer);
        let status_line = answer.lines().next().unwrap_or_default();
        if status_line.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(format!("answered {status_line:?}"))
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, call)
        .await
        .map_err(|_| format!("no answer within {PROBE_TIMEOUT:?}"))?
}

/// A fresh webhook signing secret: `whsec_` and 128 random bits in hex, from the kernel.
fn webhook_secret() -> Result<String> {
    Ok(format!("whsec_{}", random_hex(16)?))
}

/// `bytes` random bytes from the kernel, in hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String> {
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut buffer))
        .map_err(|e| Error::io("reading /dev/urandom", e))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

/// Best effort: a log that cannot be removed only costs disk space.
fn prune_logs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > LOG_RETENTION);
        if old
            && path.extension().is_some_and(|ext| ext == "log")
            && let Err(error) = std::fs::remove_file(&path)
        {
            tracing::debug!(path = %path.display(), %error, "could not remove an old log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_on_loopback_and_bindable() {
        let port = free_port().unwrap();

        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }

    #[test]
    fn endpoints_point_at_loopback() {
        assert_eq!(endpoint_url(8000), "http://127.0.0.1:8000");
    }

    #[test]
    fn each_stack_gets_its_own_webhook_secret() {
        let (first, second) = (webhook_secret().unwrap(), webhook_secret().unwrap());

        assert_ne!(first, second);
        for secret in [first, second] {
            let hex = secret.strip_prefix("whsec_").unwrap();
            assert_eq!(hex.len(), 32);
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}
