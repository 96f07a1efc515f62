//! cargo-lambda's emulator (`cargo lambda watch --only-lambda-apis`) as a child process.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::time::Instant;

use super::environment::ProcessGroup;
use super::http;
use super::workspace_manifest;
use crate::emulator::{Emulator, Launch};
use crate::launch::{endpoint_url, free_port};
use crate::{Error, Result, Tools};

/// It answers within a second of starting; the margin covers a machine busy compiling, and its
/// first answer runs `cargo metadata` on the workspace.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// Each attempt picks a fresh port, as the other emulators' starts do.
const START_ATTEMPTS: u32 = 3;
/// A name no binary has: invoking it is answered at once with "Missing function", which tells
/// the emulator (not whatever else might hold the port) is up, and queues nothing.
const PROBE_FUNCTION: &str = "local-stack-readiness-probe";
const SERVICE: &str = "cargo-lambda (Lambda Runtime and Invoke APIs)";

/// What an invocation returned, as the Invoke API reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// The handler's response (status 200): the JSON it returned, `null` for unit.
    Response(Value),
    /// The handler returned an error or panicked: Lambda answers 200 with
    /// `X-Amz-Function-Error: Unhandled` and this body; cargo-lambda answers 500 with it.
    FunctionError {
        error_type: String,
        error_message: String,
    },
}

/// The running emulator: the Runtime API for every function name, and the Invoke API. Stop it
/// with [`RuntimeEmulator::stop`]; dropping it kills it.
#[derive(Debug)]
pub struct RuntimeEmulator {
    process: Emulator,
    addr: SocketAddr,
}

impl RuntimeEmulator {
    /// Starts the emulator for the workspace's binaries on a free port of 127.0.0.1 and returns
    /// once it answers. Requires [`Tools::install`] (cargo-lambda) and `cargo` on PATH: the
    /// emulator reads the binaries' names with `cargo metadata`.
    pub async fn start(tools: &Tools) -> Result<Self> {
        Self::start_for(tools, &workspace_manifest()).await
    }

    /// As [`RuntimeEmulator::start`], in the process group `group` names.
    pub async fn start_in(tools: &Tools, group: ProcessGroup) -> Result<Self> {
        Self::start_with(tools, &workspace_manifest(), group).await
    }

    /// As [`RuntimeEmulator::start`], for the binaries of another Cargo manifest.
    pub async fn start_for(tools: &Tools, manifest: &Path) -> Result<Self> {
        Self::start_with(tools, manifest, ProcessGroup::Own).await
    }

    async fn start_with(tools: &Tools, manifest: &Path, group: ProcessGroup) -> Result<Self> {
        if !tools.cargo_lambda().is_file() {
            return Err(Error::NotInstalled {
                home: tools.home().to_path_buf(),
            });
        }
        let logs = tools.logs_dir();
        std::fs::create_dir_all(&logs)
            .map_err(|e| Error::io(format!("creating {}", logs.display()), e))?;
        let mut attempt = 1;
        loop {
            let port = free_port()?;
            let mut process = Emulator::spawn(&launch(tools, manifest, port, group), port)?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match wait_ready(&mut process, addr).await {
                Ok(()) => {
                    tracing::debug!(pid = process.pid(), port, "the Lambda emulator is ready");
                    return Ok(Self { process, addr });
                }
                Err(Error::EmulatorExited { status, .. }) if attempt < START_ATTEMPTS => {
                    tracing::warn!(port, %status, attempt, "the Lambda emulator exited while starting; retrying on another port");
                    process.stop().await?;
                    attempt += 1;
                }
                Err(error) => {
                    process.stop().await?;
                    return Err(error);
                }
            }
        }
    }

    /// `http://127.0.0.1:<port>`: the Invoke API's endpoint (an SDK's `endpoint_url`).
    pub fn endpoint(&self) -> String {
        endpoint_url(self.addr.port())
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Invokes `function` (a binary's name) with `payload` through the Invoke API and waits for
    /// its answer, however long it takes: the emulator holds the invocation until an instance of
    /// the function asks for it. [`super::LambdaFunction::invoke`] bounds the wait by the
    /// function's timeout and its process.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Invocation> {
        let body = serde_json::to_vec(payload).map_err(|e| Error::LambdaInvoke {
            function: function.to_owned(),
            message: format!("the payload is not serializable: {e}"),
        })?;
        Self::invoke_at(self.addr, function.to_owned(), body).await
    }

    pub(crate) async fn invoke_at(
        addr: SocketAddr,
        function: String,
        payload: Vec<u8>,
    ) -> Result<Invocation> {
        let failed = |message: String| Error::LambdaInvoke {
            function: function.clone(),
            message,
        };
        let path = format!("/2015-03-31/functions/{function}/invocations");
        let (status, body) = http::call(addr, Method::POST, &path, Bytes::from(payload))
            .await
            .map_err(failed)?;
        let text = || String::from_utf8_lossy(&body).into_owned();
        match status {
            StatusCode::OK => {
                let response = if body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&body).map_err(|e| {
                        failed(format!("the response is not JSON ({e}): {}", text()))
                    })?
                };
                Ok(Invocation::Response(response))
            }
            // The runtime's `/error` call, passed through with its body: `errorType` and
            // `errorMessage`. The emulator's own failures are problem+json documents instead.
            StatusCode::INTERNAL_SERVER_ERROR => {
                let error: Value = serde_json::from_slice(&body)
                    .map_err(|_| failed(format!("status 500: {}", text())))?;
                match (error["errorType"].as_str(), error["errorMessage"].as_str()) {
                    (Some(error_type), Some(error_message)) => Ok(Invocation::FunctionError {
                        error_type: error_type.to_owned(),
                        error_message: error_message.to_owned(),
                    }),
                    _ => Err(failed(format!("status 500: {}", text()))),
                }
            }
            other => Err(failed(format!("status {other}: {}", text()))),
        }
    }

    /// Stops the emulator (SIGTERM; it shuts down within a second) and reaps it. Stop the
    /// functions first: a binary whose Runtime API is gone exits with an error.
    pub async fn stop(mut self) -> Result<()> {
        self.process.stop().await
    }
}

fn launch(tools: &Tools, manifest: &Path, port: u16, group: ProcessGroup) -> Launch {
    let args: Vec<OsString> = vec![
        "lambda".into(),
        "watch".into(),
        "--only-lambda-apis".into(),
        "--invoke-address".into(),
        Ipv4Addr::LOCALHOST.to_string().into(),
        "--invoke-port".into(),
        port.to_string().into(),
        "--manifest-path".into(),
        manifest.as_os_str().to_owned(),
    ];
    Launch {
        service: SERVICE,
        program: tools.cargo_lambda().into_os_string(),
        prerequisite: None,
        args,
        envs: vec![],
        clear_env: false,
        cwd: manifest.parent().unwrap_or(Path::new("/")).to_path_buf(),
        log: tools
            .logs_dir()
            .join(format!("cargo-lambda.{}.{port}.log", std::process::id())),
        capture: false,
        own_group: group.is_own(),
    }
}

async fn wait_ready(process: &mut Emulator, addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let exited = |process: &Emulator, status: String| Error::EmulatorExited {
        service: SERVICE,
        status,
        log: process.log().to_path_buf(),
        log_tail: process.log_tail(),
    };
    let path = format!("/2015-03-31/functions/{PROBE_FUNCTION}/invocations");
    loop {
        if let Some(status) = process.exit_status()? {
            return Err(exited(process, status));
        }
        let last_error = match http::call(addr, Method::POST, &path, Bytes::from_static(b"{}"))
            .await
        {
            Ok((StatusCode::NOT_FOUND, body))
                if body.windows(16).any(|w| w == b"Missing function") =>
            {
                // An answer only counts while our child still runs: otherwise another process
                // took the port between our picking it and the child binding it.
                return match process.exit_status()? {
                    None => Ok(()),
                    Some(status) => Err(exited(process, status)),
                };
            }
            Ok((status, body)) => format!("answered {status}: {}", String::from_utf8_lossy(&body)),
            Err(error) => error,
        };
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                service: SERVICE,
                probe: "an invocation of an unknown function",
                waited: READY_TIMEOUT,
                last_error,
                log: process.log().to_path_buf(),
                log_tail: process.log_tail(),
            });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}
