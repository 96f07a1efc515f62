//! The Runtime API one binary talks to: a front of ours, on its own port, that forwards to
//! cargo-lambda's emulator and fills in what the emulator leaves out.
//!
//! - The binary gets `AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`, host and port only, as Lambda
//!   gives it. cargo-lambda serves each function under a path (`/.rt/<function>/2018-06-01/…`);
//!   the front adds it.
//! - `next` answers carry a real deadline (now plus the function's timeout, in epoch
//!   milliseconds) and the function's ARN. cargo-lambda sends `Lambda-Runtime-Deadline-Ms:
//!   600000` and `function-arn`: a handler that plans its work by the deadline (the payment saga
//!   does) would read 1970 and give up on every message.
//! - The first `next` call marks the end of the binary's initialization, which cargo-lambda
//!   does not report (no REPORT line, no Init Duration).
//! - `/runtime/init/error` is answered here (202, as Lambda does) and kept: cargo-lambda would
//!   hand it to whichever invocation is queued, as if that invocation had succeeded.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::{Error, Result};

/// Where cargo-lambda serves the Runtime API, before the function's name.
const EMULATOR_RUNTIME_PATH: &str = "/.rt";
const DEADLINE_HEADER: &str = "lambda-runtime-deadline-ms";
const FUNCTION_ARN_HEADER: &str = "lambda-runtime-invoked-function-arn";

type Body = BoxBody<Bytes, hyper::Error>;

/// What the front forwards to and what it tells the binary.
#[derive(Debug, Clone)]
pub(crate) struct FrontConfig {
    /// cargo-lambda's address.
    pub upstream: SocketAddr,
    pub function: String,
    pub function_arn: String,
    /// The function's timeout: each invocation's deadline is this far from its `next` answer.
    pub timeout: Duration,
}

struct Shared {
    config: FrontConfig,
    first_next: watch::Sender<Option<Instant>>,
    init_error: Mutex<Option<String>>,
}

/// A running front. Dropping it stops it, and with it every connection of its binary.
pub(crate) struct RuntimeFront {
    addr: SocketAddr,
    shared: Arc<Shared>,
    first_next: watch::Receiver<Option<Instant>>,
    task: JoinHandle<()>,
}

impl RuntimeFront {
    /// Listens on a free port of 127.0.0.1 (held from here on, so nobody can take it before the
    /// binary connects).
    pub(crate) async fn start(config: FrontConfig) -> Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| Error::io("binding the Runtime API front on 127.0.0.1", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the Runtime API front's address", e))?;
        let (first_tx, first_next) = watch::channel(None);
        let shared = Arc::new(Shared {
            config,
            first_next: first_tx,
            init_error: Mutex::new(None),
        });
        let task = tokio::spawn(accept(listener, Arc::clone(&shared)));
        Ok(Self {
            addr,
            shared,
            first_next,
            task,
        })
    }

    /// `127.0.0.1:<port>`: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub(crate) fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// When the binary first asked for an invocation, if it has.
    pub(crate) fn first_next(&self) -> Option<Instant> {
        *self.first_next.borrow()
    }

    /// Resolves when the binary first asks for an invocation.
    pub(crate) async fn wait_first_next(&mut self) -> Instant {
        loop {
            if let Some(at) = *self.first_next.borrow_and_update() {
                return at;
            }
            if self.first_next.changed().await.is_err() {
                // The sender lives in `shared`, which we hold: this cannot end; wait forever
                // rather than invent an instant.
                std::future::pending::<()>().await;
            }
        }
    }

    /// What the binary reported to `/runtime/init/error`, if it did.
    pub(crate) fn init_error(&self) -> Option<String> {
        self.shared
            .init_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for RuntimeFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // Owned here, so that aborting this task drops (and aborts) every connection's task.
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                connections.spawn(serve(stream, Arc::clone(&shared)));
            }
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "the Runtime API front could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        while connections.try_join_next().is_some() {}
    }
}

/// One connection of the binary, forwarded over one connection to the emulator: the runtime
/// client keeps its connection, and cargo-lambda tells instances apart by theirs.
async fn serve(downstream: TcpStream, shared: Arc<Shared>) {
    let upstream = shared.config.upstream;
    let connected = async {
        let stream = TcpStream::connect(upstream)
            .await
            .map_err(|e| e.to_string())?;
        hyper::client::conn::http1::handshake::<_, Incoming>(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())
    };
    let (sender, connection) = match connected.await {
        Ok(connected) => connected,
        Err(error) => {
            // Dropping the binary's connection is what a vanished Runtime API looks like.
            tracing::warn!(%upstream, %error, "the Runtime API emulator is unreachable");
            return;
        }
    };
    let driver = tokio::spawn(connection);
    let sender = Arc::new(tokio::sync::Mutex::new(sender));
    let service = hyper::service::service_fn(move |request| {
        forward(request, Arc::clone(&sender), Arc::clone(&shared))
    });
    if let Err(error) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(downstream), service)
        .await
    {
        tracing::debug!(%error, "a Runtime API connection ended");
    }
    driver.abort();
}

async fn forward(
    mut request: Request<Incoming>,
    sender: Arc<tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Incoming>>>,
    shared: Arc<Shared>,
) -> std::result::Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    if path.ends_with("/runtime/init/error") {
        let report = match request.into_body().collect().await {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            Err(error) => format!("(the report could not be read: {error})"),
        };
        tracing::warn!(function = %shared.config.function, %report, "the function failed to initialize");
        *shared
            .init_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(report);
        return Ok(local_answer(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    let is_next = path.ends_with("/runtime/invocation/next");
    if is_next {
        shared.first_next.send_if_modified(|first| {
            let unset = first.is_none();
            if unset {
                *first = Some(Instant::now());
            }
            unset
        });
    }
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or(path.as_str(), |pq| pq.as_str());
    let target = format!(
        "{EMULATOR_RUNTIME_PATH}/{}{path_and_query}",
        shared.config.function
    );
    match target.parse() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(error) => {
            return Ok(local_answer(
                StatusCode::BAD_REQUEST,
                &format!(r#"{{"errorMessage":"unforwardable path: {error}"}}"#),
            ));
        }
    }
    let answered = sender.lock().await.send_request(request).await;
    let mut response = match answered {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%error, "the Runtime API emulator failed a request");
            return Ok(local_answer(
                StatusCode::BAD_GATEWAY,
                r#"{"errorMessage":"the Runtime API emulator failed the request"}"#,
            ));
        }
    };
    if is_next && response.status() == StatusCode::OK {
        let headers = response.headers_mut();
        if let Ok(deadline) = HeaderValue::from_str(&deadline_ms(shared.config.timeout)) {
            headers.insert(DEADLINE_HEADER, deadline);
        }
        if let Ok(arn) = HeaderValue::from_str(&shared.config.function_arn) {
            headers.insert(FUNCTION_ARN_HEADER, arn);
        }
    }
    Ok(response.map(BodyExt::boxed))
}

/// Milliseconds since the epoch at `timeout` from now: Lambda's deadline header.
fn deadline_ms(timeout: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now + timeout).as_millis().to_string()
}

fn local_answer(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(body.to_owned()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_timeout_from_now_in_epoch_milliseconds() {
        let epoch_ms = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis()
        };
        let before = epoch_ms();

        let deadline: u128 = deadline_ms(Duration::from_secs(10)).parse().unwrap();

        let after = epoch_ms();
        assert!(deadline >= before + 10_000, "{deadline} vs {before}");
        assert!(deadline <= after + 10_000, "{deadline} vs {after}");
    }
}
