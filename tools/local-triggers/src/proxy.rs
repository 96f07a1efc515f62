//! Fault proxies: an HTTP proxy of the runner's in front of a service a Lambda binary calls,
//! which answers for the service while a fault file exists ([`Faults`]), as AWS Fault Injection
//! Service does from outside a function's code. The binary is only given the proxy's endpoint
//! (`AWS_ENDPOINT_URL_DYNAMODB`, `STRIPE_API_BASE`); everything else passes through unchanged,
//! signatures included (the emulators do not check the `Host` a request was signed for).

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::TriggerError;
use crate::faults::Faults;

/// The DynamoDB operations that write items: what a view write is.
const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

/// What the proxy refuses while its fault is active.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// DynamoDB item writes to a table whose name starts with one of these (the views, and
    /// their rebuilt copies behind an alias), answered as DynamoDB answers a throttled write.
    DynamoDbWrites { tables: Vec<String> },
    /// Every call, answered 503 with a Stripe-shaped error (a provider outage).
    Everything,
}

/// A running proxy; it stops with the runner (or when dropped).
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`http://host:port`,
    /// optionally with a base path), refusing as `refusal` says while `fault` is active.
    pub async fn start(
        upstream: &str,
        fault: &'static str,
        faults: Faults,
        refusal: Refusal,
    ) -> Result<Self, TriggerError> {
        let failed = |message: String| TriggerError::Proxy {
            fault,
            message: format!("{upstream}: {message}"),
        };
        let upstream: Uri = upstream
            .parse()
            .map_err(|e| failed(format!("not a URL: {e}")))?;
        if upstream.scheme_str() != Some("http") || upstream.authority().is_none() {
            return Err(failed(
                "only http://host:port upstreams are proxied".to_owned(),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| failed(format!("binding a port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| failed(format!("reading the bound port: {e}")))?;
        let shared = Arc::new(Shared {
            upstream,
            fault,
            faults,
            refusal,
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let task = tokio::spawn(accept(listener, shared));
        tracing::info!(fault, proxy = %addr, "fault proxy listening");
        Ok(Self { addr, task })
    }

    /// `http://127.0.0.1:<port>`: the endpoint to give the binary.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    upstream: Uri,
    fault: &'static str,
    faults: Faults,
    refusal: Refusal,
    client: Client<HttpConnector, Full<Bytes>>,
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors or the like: pause rather than spin.
                tracing::warn!(%error, "the fault proxy could not accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(&shared, request).await) }
            });
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "a fault proxy connection ended with an error");
            }
        });
    }
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!("reading the body: {error}"),
            );
        }
    };
    if shared.faults.active(shared.fault)
        && let Some(refused) = refuse(&shared.refusal, &parts.headers, &body)
    {
        tracing::info!(fault = shared.fault, "injected fault answered a call");
        return refused;
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let base = shared.upstream.path().trim_end_matches('/');
    let uri = format!(
        "http://{}{base}{path}",
        shared
            .upstream
            .authority()
            .map_or("", |authority| authority.as_str())
    );
    let mut forward = Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let forward = match forward.body(Full::new(body)) {
        Ok(forward) => forward,
        Err(error) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                format!("building the call: {error}"),
            );
        }
    };
    let response = match shared.client.request(forward).await {
        Ok(response) => response,
        // The service is down: the caller sees what it would see without the proxy, a failed
        // connection, as closely as an HTTP answer can say it.
        Err(error) => return plain(StatusCode::BAD_GATEWAY, format!("upstream: {error}")),
    };
    let (parts, body) = response.into_parts();
    match body.collect().await {
        Ok(collected) => Response::from_parts(parts, Full::new(collected.to_bytes())),
        Err(error) => plain(StatusCode::BAD_GATEWAY, format!("upstream body: {error}")),
    }
}

/// The answer the service would give under the fault, if this call is one it refuses.
fn refuse(
    refusal: &Refusal,
    headers: &hyper::HeaderMap,
    body: &Bytes,
) -> Option<Response<Full<Bytes>>> {
    match refusal {
        Refusal::Everything => Some(json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            &json!({"error": {
                "type": "api_error",
                "message": "The service is temporarily unavailable (injected fault payment-provider)."
            }}),
        )),
        Refusal::DynamoDbWrites { tables } => {
            let target = headers.get("x-amz-target")?.to_str().ok()?;
            let operation = target.rsplit('.').next()?;
            if !WRITES.contains(&operation) {
                return None;
            }
            let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let is_view = |name: &str| tables.iter().any(|table| name.starts_with(table.as_str()));
            if !written_tables(&request).iter().any(|name| is_view(name)) {
                return None;
            }
            Some(json_response(
                StatusCode::BAD_REQUEST,
                "application/x-amz-json-1.0",
                &json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                    "message": "Throughput exceeds the current capacity of your table or index (injected fault projector-writes)."
                }),
            ))
        }
    }
}

/// Every table a DynamoDB write request names.
fn written_tables(request: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if let Some(name) = request["TableName"].as_str() {
        names.push(name.to_owned());
    }
    if let Some(items) = request["RequestItems"].as_object() {
        names.extend(items.keys().cloned());
    }
    for item in request["TransactItems"].as_array().into_iter().flatten() {
        for kind in ["Put", "Update", "Delete", "ConditionCheck"] {
            if let Some(name) = item[kind]["TableName"].as_str() {
                names.push(name.to_owned());
            }
        }
    }
    names
}

fn json_response(status: StatusCode, content_type: &str, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

fn plain(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn dynamodb(operation: &str) -> hyper::HeaderMap {
        let mut headers = hyper::HeaderMap::new();
        headers.insert(
            "x-amz-target",
            format!("DynamoDB_20120810.{operation}").parse().unwrap(),
        );
        headers
    }

    fn views() -> Refusal {
        Refusal::DynamoDbWrites {
            tables: vec!["AuctionListView".to_owned(), "UserBids".to_owned()],
        }
    }

    #[test]
    fn given_view_writes_refused_when_the_projector_writes_a_view_then_it_is_throttled() {
        let body = Bytes::from(r#"{"TableName":"AuctionListView","Item":{}}"#);
        let refused = refuse(&views(), &dynamodb("PutItem"), &body).unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

        let batch = Bytes::from(r#"{"RequestItems":{"UserBids-rebuilt-1":[]}}"#);
        assert!(refuse(&views(), &dynamodb("BatchWriteItem"), &batch).is_some());
        let transact =
            Bytes::from(r#"{"TransactItems":[{"Update":{"TableName":"AuctionListView"}}]}"#);
        assert!(refuse(&views(), &dynamodb("TransactWriteItems"), &transact).is_some());
    }

    #[test]
    fn given_view_writes_refused_when_the_projector_reads_or_writes_elsewhere_then_it_passes() {
        let view = Bytes::from(r#"{"TableName":"AuctionListView"}"#);
        assert!(refuse(&views(), &dynamodb("GetItem"), &view).is_none());
        assert!(refuse(&views(), &dynamodb("Query"), &view).is_none());
        let events = Bytes::from(r#"{"TableName":"Events","Item":{}}"#);
        assert!(refuse(&views(), &dynamodb("PutItem"), &events).is_none());
        assert!(refuse(&views(), &hyper::HeaderMap::new(), &view).is_none());
    }

    #[test]
    fn given_an_outage_when_anything_is_called_then_it_is_a_503() {
        let refused = refuse(
            &Refusal::Everything,
            &hyper::HeaderMap::new(),
            &Bytes::new(),
        )
        .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
