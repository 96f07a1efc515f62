//! One HTTP/1.1 request to the emulator over a fresh connection: all the Invoke API and the
//! readiness probe need. A connection per call keeps a long invocation from holding up another.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

/// What went wrong on the wire, for the caller to put into its own error.
pub(crate) type Failure = String;

/// `method path` with `body` (JSON) to `addr`; the status and the whole body of the answer.
pub(crate) async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<(StatusCode, Bytes), Failure> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
    // Drives the connection; it ends when the answer is read and `sender` is dropped.
    let driver = tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| format!("building the request for {path}: {e}"))?;
    let answer = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{path} on {addr}: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer of {path}: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
    .await;
    drop(sender);
    driver.abort();
    answer
}
