//! One Lambda binary, started as a process of its own against the emulator.

use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::emulator::{Invocation, RuntimeEmulator};
use super::environment::FunctionSpec;
use super::runtime_api::{FrontConfig, RuntimeFront};
use crate::emulator::{Emulator, Launch};
use crate::launch::random_hex;
use crate::{Error, Result, Tools};

/// How often a waiting call checks whether the binary is still alive.
const EXIT_POLL: Duration = Duration::from_millis(50);
/// How long a binary may take to ask for its first invocation. Lambda allows 10 s for the init
/// phase; a debug build on a busy 2-core machine gets three times that before it counts as
/// hung. A limit against hanging, not a measure of speed (that is [`LambdaFunction::init_duration`]).
const INIT_LIMIT: Duration = Duration::from_secs(30);
/// Lines kept per stream: enough for any test, bounded for a long `scripts/run`. Every line
/// also goes to the function's log file.
const KEPT_LINES: usize = 100_000;
/// How many lines of output go into an error.
const TAIL_LINES: usize = 25;
/// Names each started binary's log file apart within one launcher.
static STARTED: AtomicU64 = AtomicU64::new(0);

/// How a stopped binary ended, and everything it printed.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Stopped {
    /// Whether it ended because it was told to: by our SIGTERM (the Rust runtime's default is
    /// to die of it, as Lambda's shutdown expects) or by exiting 0 on it. A crash (a panic's
    /// exit 101, SIGABRT, SIGSEGV) is not clean.
    pub fn is_clean(&self) -> bool {
        self.status.success() || self.status.signal() == Some(Signal::SIGTERM as i32)
    }
}

/// The lines one output stream has printed so far.
#[derive(Debug, Default)]
struct Lines {
    lines: VecDeque<String>,
}

type SharedLines = Arc<Mutex<Lines>>;

/// A running Lambda binary. Stop it with [`LambdaFunction::stop`]; dropping it kills it.
pub struct LambdaFunction {
    name: String,
    process: Emulator,
    front: RuntimeFront,
    emulator: std::net::SocketAddr,
    timeout: Duration,
    started: Instant,
    stdout: SharedLines,
    stderr: SharedLines,
    readers: Vec<JoinHandle<()>>,
    log: PathBuf,
}

impl std::fmt::Debug for LambdaFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaFunction")
            .field("name", &self.name)
            .field("pid", &self.process.pid())
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl LambdaFunction {
    /// Starts `spec`'s artifact against `emulator` with the environment Lambda would give it
    /// (see [`FunctionSpec`]), its output captured (and appended to a log file in the tools'
    /// logs directory). Returns at once: the binary initializes in the background, and an
    /// invocation waits for it as Lambda's first invocation waits for a cold start.
    pub async fn start(
        tools: &Tools,
        emulator: &RuntimeEmulator,
        spec: &FunctionSpec,
    ) -> Result<Self> {
        if !spec.artifact.is_file() {
            return Err(Error::LambdaNotBuilt {
                binary: spec.binary.clone(),
                path: spec.artifact.clone(),
            });
        }
        let front = RuntimeFront::start(FrontConfig {
            upstream: emulator.addr(),
            function: spec.binary.clone(),
            function_arn: spec.function_arn(),
            timeout: spec.timeout,
        })
        .await?;
        let logs = tools.logs_dir();
        std::fs::create_dir_all(&logs)
            .map_err(|e| Error::io(format!("creating {}", logs.display()), e))?;
        let number = STARTED.fetch_add(1, Ordering::Relaxed);
        let log = logs.join(format!(
            "{}.{}.{number}.log",
            spec.binary,
            std::process::id()
        ));
        let log_stream = format!(
            "{}/[$LATEST]{}",
            chrono::Utc::now().format("%Y/%m/%d"),
            random_hex(16)?
        );
        let launch = Launch {
            service: "a Lambda binary",
            program: spec.artifact.clone().into_os_string(),
            prerequisite: None,
            args: vec![],
            envs: spec.process_env(&front.runtime_api(), &log_stream),
            clear_env: true,
            cwd: spec
                .artifact
                .parent()
                .map_or_else(|| PathBuf::from("/"), PathBuf::from),
            log: log.clone(),
            capture: true,
            own_group: spec.process_group.is_own(),
        };
        let started = Instant::now();
        let mut process = Emulator::spawn(&launch, 0)?;
        let (stdout_pipe, stderr_pipe) = process.take_output();
        let (stdout, stderr) = (SharedLines::default(), SharedLines::default());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| Error::io(format!("opening log {}", log.display()), e))?;
        let file = Arc::new(Mutex::new(file));
        let mut readers = Vec::new();
        if let Some(pipe) = stdout_pipe {
            readers.push(tokio::spawn(read_lines(
                pipe,
                Arc::clone(&stdout),
                Arc::clone(&file),
            )));
        }
        if let Some(pipe) = stderr_pipe {
            readers.push(tokio::spawn(read_lines(pipe, Arc::clone(&stderr), file)));
        }
        tracing::debug!(
            function = %spec.binary,
            pid = process.pid(),
            runtime_api = %front.runtime_api(),
            log = %log.display(),
            "started a Lambda binary"
        );
        Ok(Self {
            name: spec.binary.clone(),
            process,
            front,
            emulator: emulator.addr(),
            timeout: spec.timeout,
            started,
            stdout,
            stderr,
            readers,
            log,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Where every line the binary printed is appended.
    pub fn log(&self) -> &std::path::Path {
        &self.log
    }

    /// Its cold start: from spawning the process to its first `next` call, once it made it.
    pub fn init_duration(&self) -> Option<Duration> {
        self.front
            .first_next()
            .map(|at| at.saturating_duration_since(self.started))
    }

    /// Waits until the binary asks for its first invocation and returns its cold start; fails
    /// when it exits, reports an init error, or takes longer than `within`.
    pub async fn initialized(&mut self, within: Duration) -> Result<Duration> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(init) = self.init_duration() {
                return Ok(init);
            }
            self.check_alive()?;
            if Instant::now() >= deadline {
                return Err(Error::LambdaTimedOut {
                    function: self.name.clone(),
                    timeout: within,
                });
            }
            tokio::select! {
                _ = self.front.wait_first_next() => {}
                () = tokio::time::sleep(EXIT_POLL) => {}
            }
        }
    }

    /// Invokes the function through the emulator's Invoke API with `payload`, the JSON Lambda
    /// would send, and waits for its answer: at most the function's timeout (plus its cold
    /// start, which Lambda does not count either), less if the binary exits or reports an init
    /// error first.
    pub async fn invoke(&mut self, payload: &Value) -> Result<Invocation> {
        let body = serde_json::to_vec(payload).map_err(|e| Error::LambdaInvoke {
            function: self.name.clone(),
            message: format!("the payload is not serializable: {e}"),
        })?;
        let call = RuntimeEmulator::invoke_at(self.emulator, self.name.clone(), body);
        tokio::pin!(call);
        let init_limit = Instant::now() + INIT_LIMIT;
        let mut deadline = None;
        loop {
            tokio::select! {
                answer = &mut call => return answer,
                () = tokio::time::sleep(EXIT_POLL) => {}
            }
            self.check_alive()?;
            // The timeout runs from the invocation's start in the handler, i.e. once the
            // binary has initialized.
            if deadline.is_none() && self.init_duration().is_some() {
                deadline = Some(Instant::now() + self.timeout);
            }
            if deadline.is_none() && Instant::now() >= init_limit {
                return Err(Error::LambdaTimedOut {
                    function: self.name.clone(),
                    timeout: INIT_LIMIT,
                });
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(Error::LambdaTimedOut {
                    function: self.name.clone(),
                    timeout: self.timeout,
                });
            }
        }
    }

    /// Every line printed on stdout so far (where CloudWatch's embedded metric format lines
    /// go).
    pub fn stdout(&self) -> Vec<String> {
        snapshot(&self.stdout)
    }

    /// Every line printed on stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        snapshot(&self.stderr)
    }

    /// How the binary exited, if it has by itself.
    pub fn exit_status(&mut self) -> Result<Option<String>> {
        self.process.exit_status()
    }

    fn check_alive(&mut self) -> Result<()> {
        if let Some(report) = self.front.init_error() {
            return Err(Error::LambdaInitFailed {
                function: self.name.clone(),
                report,
            });
        }
        if let Some(status) = self.process.exit_status()? {
            return Err(Error::LambdaExited {
                function: self.name.clone(),
                pid: self.process.pid(),
                status,
                output_tail: self.output_tail(),
            });
        }
        Ok(())
    }

    fn output_tail(&self) -> String {
        let mut lines = self.stderr();
        lines.extend(self.stdout());
        let start = lines.len().saturating_sub(TAIL_LINES);
        match lines.get(start..) {
            Some(tail) if !tail.is_empty() => tail.join("\n"),
            _ => "(it printed nothing)".to_owned(),
        }
    }

    /// Stops the binary as Lambda shuts an execution environment down (SIGTERM, then SIGKILL
    /// after a grace period), waits for it and for its output to be read to the end.
    pub async fn stop(mut self) -> Result<Stopped> {
        let status = self.process.stop_with_status().await?;
        for reader in std::mem::take(&mut self.readers) {
            // A reader ends at the pipe's end, which the exit closed.
            if let Err(error) = reader.await {
                tracing::debug!(%error, "an output reader failed");
            }
        }
        tracing::debug!(function = %self.name, %status, "stopped a Lambda binary");
        Ok(Stopped {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        })
    }
}

impl Drop for LambdaFunction {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

async fn read_lines(
    pipe: impl AsyncRead + Unpin,
    into: SharedLines,
    file: Arc<Mutex<std::fs::File>>,
) {
    let mut lines = BufReader::new(pipe).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                {
                    let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
                    // The log file is for people; a full disk must not stop the capture.
                    let _ = writeln!(file, "{line}");
                }
                let mut kept = into.lock().unwrap_or_else(PoisonError::into_inner);
                if kept.lines.len() == KEPT_LINES {
                    kept.lines.pop_front();
                }
                kept.lines.push_back(line);
            }
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%error, "reading a Lambda binary's output failed");
                return;
            }
        }
    }
}

fn snapshot(lines: &SharedLines) -> Vec<String> {
    lines
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .lines
        .iter()
        .cloned()
        .collect()
}
