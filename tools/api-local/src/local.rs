//! What only the local server serves, in place of AWS services:
//!
//! - live updates: the WebSocket protocol of `functions/live` at `GET /live?token=<JWT>` (API
//!   Gateway's WebSocket API in AWS), and API Gateway's management endpoint
//!   (`POST/GET/DELETE /@connections/{id}`) through which the broadcaster, unchanged, pushes to
//!   this server's sockets;
//! - with `--dev`: the bidder web page (the files of `web/`) and `POST /dev/token`, the demo
//!   sign-in (Cognito's hosted sign-in in AWS).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, TimeDelta, Utc};
use events::UserId;
use live::{ConnectionId, Subscriptions, session};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use api::error::ApiError;
use api::identity::LocalJwt;

/// What a socket's writer is told to do.
#[derive(Debug)]
enum Outgoing {
    Text(String),
    Close,
}

#[derive(Debug)]
struct Socket {
    sender: mpsc::UnboundedSender<Outgoing>,
    user: UserId,
    connected_at: DateTime<Utc>,
}

/// The open sockets of this server, by connection id.
#[derive(Debug, Default)]
pub struct Sockets {
    open: Mutex<HashMap<String, Socket>>,
}

impl Sockets {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Socket>) -> T) -> T {
        f(&mut self.open.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many sockets are open.
    pub fn len(&self) -> usize {
        self.with(|open| open.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The live routes' state: the connections table, the token check, the open sockets.
pub struct Live<S> {
    pub subscriptions: Arc<S>,
    pub jwt: Arc<LocalJwt>,
    pub sockets: Arc<Sockets>,
}

impl<S> Clone for Live<S> {
    fn clone(&self) -> Self {
        Self {
            subscriptions: Arc::clone(&self.subscriptions),
            jwt: Arc::clone(&self.jwt),
            sockets: Arc::clone(&self.sockets),
        }
    }
}

/// `GET /live` and the management endpoint.
pub fn live_router<S: Subscriptions + 'static>(live: Live<S>) -> Router {
    Router::new()
        .route("/live", get(connect::<S>))
        .route(
            "/@connections/{id}",
            post(post_to_connection::<S>)
                .get(get_connection::<S>)
                .delete(delete_connection::<S>),
        )
        .with_state(live)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The upgrade, after the token: an unauthenticated request gets the API's 401 problem and no
/// socket. Browsers cannot set headers on a WebSocket, so the token comes in the query.
async fn connect<S: Subscriptions + 'static>(
    State(live): State<Live<S>>,
    Query(query): Query<TokenQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let token = query
        .token
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthenticated(
            "a token is required: /live?token=<JWT>",
        ))?;
    let claims = live.jwt.verify(&token)?;
    let connection = ConnectionId(uuid::Uuid::new_v4().simple().to_string());
    let now = Utc::now();
    session::connect(&*live.subscriptions, &connection, &claims.sub, now)
        .await
        .map_err(|error| {
            tracing::error!(%error, "could not record a live connection");
            ApiError::ReadUnavailable("the live connections table".to_owned())
        })?;
    Ok(upgrade.on_upgrade(move |socket| serve(live, connection, claims.sub, now, socket)))
}

async fn serve<S: Subscriptions + 'static>(
    live: Live<S>,
    connection: ConnectionId,
    user: UserId,
    connected_at: DateTime<Utc>,
    mut socket: WebSocket,
) {
    let (sender, mut outgoing) = mpsc::unbounded_channel();
    live.sockets.with(|open| {
        open.insert(
            connection.0.clone(),
            Socket {
                sender,
                user,
                connected_at,
            },
        )
    });
    tracing::info!(%connection, "live connection open");
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let reply =
                        session::receive(&*live.subscriptions, &connection, text.as_str(), Utc::now())
                            .await;
                    if socket.send(Message::Text(reply.to_json().into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let reply = live::ServerMessage::error("INVALID_MESSAGE", "messages are JSON text frames");
                    if socket.send(Message::Text(reply.to_json().into())).await.is_err() {
                        break;
                    }
                }
                // Pings are answered by the WebSocket layer itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            pushed = outgoing.recv() => match pushed {
                Some(Outgoing::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
        }
    }
    live.sockets.with(|open| open.remove(&connection.0));
    if let Err(error) = session::disconnect(&*live.subscriptions, &connection).await {
        // Its items expire; a push to it meanwhile answers 410 and removes them.
        tracing::warn!(%connection, %error, "could not forget a closed live connection");
    }
    tracing::info!(%connection, "live connection closed");
}

/// The management API's answer for a connection that is not open, as API Gateway gives it (the
/// SDK reads the error type from this header).
fn gone() -> Response {
    let mut response = (
        StatusCode::GONE,
        axum::Json(json!({"message": "the connection is not open"})),
    )
        .into_response();
    response.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static("GoneException"),
    );
    response
}

/// Only a signed request (the SDK's SigV4) reaches a socket: a browser page cannot send one
/// cross-origin without a preflight this server never grants, so no web page on this machine
/// can push into a bidder's socket. The signature itself is not checked: the local stack's
/// credentials are dummies anyway.
fn signed(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("AWS4-HMAC-SHA256 "))
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(json!({"message": "a signed request is required"})),
    )
        .into_response()
}

async fn post_to_connection<S: Subscriptions + 'static>(
    State(live): State<Live<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !signed(&headers) {
        return forbidden();
    }
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "the data must be UTF-8 text"})),
        )
            .into_response();
    };
    let sent = live.sockets.with(|open| {
        open.get(&id)
            .is_some_and(|socket| socket.sender.send(Outgoing::Text(text)).is_ok())
    });
    if sent {
        StatusCode::OK.into_response()
    } else {
        gone()
    }
}

async fn get_connection<S: Subscriptions + 'static>(
    State(live): State<Live<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !signed(&headers) {
        return forbidden();
    }
    let found = live.sockets.with(|open| {
        open.get(&id)
            .map(|socket| (socket.user.clone(), socket.connected_at))
    });
    match found {
        Some((user, connected_at)) => axum::Json(json!({
            "connectedAt": connected_at,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": user.as_str()},
            "lastActiveAt": connected_at,
        }))
        .into_response(),
        None => gone(),
    }
}

async fn delete_connection<S: Subscriptions + 'static>(
    State(live): State<Live<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !signed(&headers) {
        return forbidden();
    }
    let closed = live.sockets.with(|open| {
        open.get(&id)
            .is_some_and(|socket| socket.sender.send(Outgoing::Close).is_ok())
    });
    if closed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone()
    }
}

/// The development-only routes: the web page and the demo sign-in.
pub fn dev_router(jwt: Arc<LocalJwt>, web_dir: PathBuf) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/{file}", get(web_file))
        .with_state(Arc::new(web_dir))
        .merge(
            Router::new()
                .route("/dev/token", post(dev_token))
                .with_state(jwt),
        )
}

/// How long a demo sign-in lasts.
const DEMO_TOKEN_TTL: TimeDelta = TimeDelta::hours(12);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoSignIn {
    sub: String,
    /// The demo account's email address, taken as verified (as an identity provider's would
    /// be): where its email notices go. None: an account without one.
    #[serde(default)]
    email: Option<String>,
}

async fn dev_token(
    State(jwt): State<Arc<LocalJwt>>,
    body: api::extract::JsonBody<DemoSignIn>,
) -> Result<Response, ApiError> {
    let sub = UserId::try_from(body.value.sub.trim()).map_err(|_| {
        ApiError::InvalidBody("sub must be 1 to 128 characters, no control characters".to_owned())
    })?;
    let email = body
        .value
        .email
        .as_deref()
        .map(str::trim)
        .filter(|email| !email.is_empty())
        .map(email::checked_address)
        .transpose()
        .map_err(|error| ApiError::InvalidBody(format!("email: {error}")))?;
    let token = jwt
        .mint_with_email(&sub, email.as_deref(), &[], Utc::now(), DEMO_TOKEN_TTL)
        .map_err(|_| ApiError::Unauthenticated("the token could not be signed"))?;
    Ok(axum::Json(json!({"token": token, "sub": sub.as_str()})).into_response())
}

async fn index(State(web): State<Arc<PathBuf>>) -> Response {
    serve_file(&web, "index.html").await
}

async fn web_file(State(web): State<Arc<PathBuf>>, Path(file): Path<String>) -> Response {
    serve_file(&web, &file).await
}

/// One file from the web directory's top level: the name is checked before any path is built,
/// so `..`, separators and hidden files never reach the file system.
async fn serve_file(web: &std::path::Path, name: &str) -> Response {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let content_type = match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => return ApiError::NoRoute.into_response(),
    };
    if !plain {
        return ApiError::NoRoute.into_response();
    }
    match tokio::fs::read(web.join(name)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                // The page changes with the code; a stale copy would speak an old protocol.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => ApiError::NoRoute.into_response(),
    }
}
