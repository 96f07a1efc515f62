//! A scripted stand-in for Stripe's HTTP server: it records every request exactly as the client
//! sent it (method, path, query, headers, raw body) and answers with what the test's responder
//! returns. Plain HTTP/1.1 over a tokio listener, keep-alive included, so that what is checked is
//! what went over the wire.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stripe_api::{SecretKey, StripeClient, StripeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The form body's pairs, decoded.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
}

pub type Responder = Arc<dyn Fn(&Captured) -> (u16, String) + Send + Sync>;

/// The running fake; it stops when the test's runtime ends.
pub struct FakeStripe {
    pub base: String,
    pub requests: Arc<Mutex<Vec<Captured>>>,
}

impl FakeStripe {
    pub async fn start(responder: Responder) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(stream, responder.clone(), recorded.clone()));
            }
        });
        Self { base, requests }
    }

    pub fn client(&self, key: &str, timeout: Duration) -> StripeClient {
        client(&self.base, key, timeout)
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }
}

pub fn client(base: &str, key: &str, timeout: Duration) -> StripeClient {
    StripeClient::new(StripeConfig {
        api_base: base.to_owned(),
        secret_key: SecretKey::new(key),
        timeout,
    })
    .unwrap()
}

async fn serve(mut stream: TcpStream, responder: Responder, recorded: Arc<Mutex<Vec<Captured>>>) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        recorded.lock().unwrap().push(request.clone());
        let (status, body) = responder(&request);
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: req_fake\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Captured> {
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0u8; 8192];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let target = request_line.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        let mut chunk = [0u8; 8192];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8(buffer[body_start..body_start + length].to_vec()).unwrap();
    buffer.drain(..body_start + length);
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (
            path.to_owned(),
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        ),
        None => (target, Vec::new()),
    };
    Some(Captured {
        method,
        path,
        query,
        headers,
        body,
    })
}

/// The local stack's localstripe (`STRIPE_API_BASE`, `STRIPE_SECRET_KEY`), as
/// `cargo run -q -p local-stack -- exec -- cargo test -p stripe-api` sets them. Panics, saying
/// how to run the tests, when they are unset, and refuses anything but a loopback address so that
/// a shell pointed at Stripe itself is never used.
pub fn localstripe() -> (String, String) {
    let read = |name: &str| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
            panic!(
                "{name} is unset: these tests run against the local stack's localstripe. Run them \
                 with `cargo run -q -p local-stack -- exec -- cargo test -p stripe-api` (or \
                 scripts/test)"
            )
        })
    };
    let base = read("STRIPE_API_BASE");
    assert!(
        base.starts_with("http://127.0.0.1:") || base.starts_with("http://localhost:"),
        "refusing to run the localstripe tests against {base}: not a local emulator"
    );
    (base, read("STRIPE_SECRET_KEY"))
}

/// One raw call (for what the client cannot send: a misspelt parameter, an account without
/// capabilities): the status and the body.
pub async fn raw_call(
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    form: &str,
    idempotency_key: Option<&str>,
) -> (u16, Vec<u8>) {
    let address = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(address).await.unwrap();
    let idempotency = idempotency_key
        .map(|k| format!("Idempotency-Key: {k}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\
         {idempotency}Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer[split + 4..].to_vec())
}
