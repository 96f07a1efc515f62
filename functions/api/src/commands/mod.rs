//! The command routes. Each handler reads its body, builds the domain command and hands it to
//! [`run_command`], which does the rest the same way for every command: the caller's identity
//! and correlation id, the idempotency key and request fingerprint, the event store, the
//! problem document for a rejection or a store failure, and the `Idempotent-Replayed` header.

mod buy_now;
mod cancel;
mod create;
mod place_bid;
mod relist;
mod start;

pub use buy_now::*;
pub use cancel::*;
pub use create::*;
pub use place_bid::*;
pub use relist::*;
pub use start::*;

use std::time::Instant;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use conventions::metrics::Command;
use domain::{Auction, Event, Rejection, State as Aggregate, fold};
use event_store::{CommandContext, CommandError, IdempotencyKey, Meter, Outcome};
use events::{Actor, AuctionId, BidId, Currency, Money, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::bodies::{AuctionChanged, AuctionStatus};
use crate::correlation::CorrelationId;
use crate::error::ApiError;
use crate::extract::idempotency_key;
use crate::identity::Claims;
use crate::{App, Backend};

/// Who sent a command and how: the caller as the authorizer vouches for them, the correlation
/// id, the request line, and the `Idempotency-Key` header as it came. The key is read only by
/// the commands that take one, after their body, so that a bad body answers first and a key
/// sent to `start` or `cancel` changes nothing. It also keeps when the command arrived and what
/// its DynamoDB requests cost, for the command's metrics.
#[derive(Debug)]
pub struct CommandRequest {
    claims: Claims,
    correlation: CorrelationId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    key: Option<IdempotencyKey>,
    /// Extracted before the body is read: the command's latency starts here.
    received: Instant,
    /// Every store call the command makes, the item's registration and the creation's
    /// check included, is metered here.
    meter: Meter,
}

impl<S: Send + Sync> FromRequestParts<S> for CommandRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let received = Instant::now();
        let claims = Claims::from_request_parts(parts, state).await?;
        let Ok(correlation) = CorrelationId::from_request_parts(parts, state).await;
        Ok(Self {
            claims,
            correlation,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
            key: None,
            received,
            meter: Meter::default(),
        })
    }
}

impl CommandRequest {
    /// The caller.
    pub fn caller(&self) -> &UserId {
        &self.claims.sub
    }

    /// The `Idempotency-Key`, if one came; an error if it is malformed.
    pub fn optional_key(&self) -> Result<Option<String>, ApiError> {
        idempotency_key(&self.headers)
    }

    /// The `Idempotency-Key`, which this command needs.
    pub fn required_key(&self) -> Result<String, ApiError> {
        self.optional_key()?.ok_or(ApiError::IdempotencyKeyRequired)
    }

    /// Runs the command under `key`: a retry with the same key and the same request (method,
    /// path and `body`) answers as the first attempt did; another request under it is refused.
    pub fn keyed(mut self, key: Option<String>, body: &[u8]) -> Self {
        self.key = key.map(|key| IdempotencyKey {
            key,
            fingerprint: fingerprint(&self.method, &self.uri, body),
        });
        self
    }

    fn context<B>(&self, app: &App<B>) -> CommandContext {
        CommandContext {
            command_id: Uuid::new_v4().to_string(),
            correlation_id: self.correlation.0.clone(),
            actor: Actor::User {
                id: self.claims.sub.clone(),
            },
            idempotency_key: self.key.clone(),
            now: app.clock.now(),
        }
    }
}

/// How a command that took effect is answered.
#[derive(Debug)]
pub struct Answer<T> {
    status: StatusCode,
    body: T,
    location: Option<String>,
}

impl<T> Answer<T> {
    pub fn ok(body: T) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            location: None,
        }
    }

    pub fn created(body: T) -> Self {
        Self {
            status: StatusCode::CREATED,
            ..Self::ok(body)
        }
    }

    /// With a `Location` header naming what was created.
    pub fn at(self, location: String) -> Self {
        Self {
            location: Some(location),
            ..self
        }
    }
}

/// The one way a command runs: `decide` over the auction's state in the event store, under the
/// caller's identity and the request's correlation id and idempotency key; then `answer` shapes
/// the outcome (a replayed retry's outcome is the first attempt's) into the response, marked
/// `Idempotent-Replayed: true` on a replay. A rejection or a store failure is its problem
/// document. Whatever the outcome, it is counted under `command` (accepted, replayed, or
/// rejected by code; conflicts, capacity, latency).
pub async fn run_command<B, T>(
    app: &App<B>,
    command: Command,
    request: &CommandRequest,
    auction_id: AuctionId,
    decide: impl Fn(&Aggregate, DateTime<Utc>) -> Result<Vec<Event>, Rejection> + Send + Sync + 'static,
    answer: impl FnOnce(&Outcome<Aggregate>) -> Result<Answer<T>, ApiError>,
) -> Result<Response, ApiError>
where
    B: Backend,
    T: Serialize,
{
    let result = app
        .store
        .execute_grouped(auction_id, &request.context(app), decide, &request.meter)
        .await;
    count(command, &result, &request.meter);
    let response = match result {
        Ok(outcome) => respond(&outcome, answer),
        Err(error) => Err(error.into()),
    };
    command.latency(request.received.elapsed());
    response
}

/// What the command came to, and what it cost.
fn count(
    command: Command,
    result: &Result<Outcome<Aggregate>, CommandError<Rejection>>,
    meter: &Meter,
) {
    let cost = meter.cost().total();
    command.capacity(cost.read_units, cost.write_units + cost.index_write_units);
    command.conflicts(meter.conflicts());
    match result {
        // Nothing appended: answered from its idempotency record, or found already done.
        Ok(outcome) if outcome.replayed || outcome.events.is_empty() => command.replayed(),
        Ok(_) => command.accepted(),
        Err(CommandError::Rejected(rejection)) => command.rejected(rejection.code()),
        // Not the aggregate's refusal (a reused key, too many conflicts, an outage): the
        // answer's status says which, and API Gateway counts answers by status.
        Err(CommandError::Store(_)) => {}
    }
}

fn respond<T: Serialize>(
    outcome: &Outcome<Aggregate>,
    answer: impl FnOnce(&Outcome<Aggregate>) -> Result<Answer<T>, ApiError>,
) -> Result<Response, ApiError> {
    let Answer {
        status,
        body,
        location,
    } = answer(outcome)?;
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    if outcome.replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Identifies a request for idempotency: the same key on a different request is refused.
fn fingerprint(method: &Method, uri: &Uri, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b" ");
    hash.update(uri.path().as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The namespace of every id derived from an idempotency key: the same key from the same
/// caller always names the same auction, bid or purchase, so a retry cannot create a second.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x5f0c_7d0e_4b7a_4d8e_9a55_2c1e_6b3f_a901);

/// The id that `user`'s `key` names within `scope`: `create` for auctions, `bid/<auction id>`
/// for the commands on one auction.
///
/// The name is injective in (scope, user, key), so that no crafted user id reaches another
/// user's id: a user id without `/` keeps the original `<scope>/<user>/<key>` (the user ends at
/// the first `/` after the scope, which has a fixed form); one with `/` is length-prefixed,
/// `<scope>#<bytes>/<user>/<key>`, which the original form never produces (it has `/` right
/// after the scope). Names that were already unambiguous are unchanged, so a retry sent across
/// a deploy still names the bid or auction its first attempt created.
fn derived_id(scope: &str, user: &UserId, key: &str) -> Uuid {
    let user = user.as_str();
    let name = if user.contains('/') {
        format!("{scope}#{}/{user}/{key}", user.len())
    } else {
        format!("{scope}/{user}/{key}")
    };
    Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
}

/// The id of the bid or purchase a key names on one auction. Bids and purchases share it: the
/// key names one command on the auction whatever its kind, so a bid's key reused for a
/// purchase (or the reverse) finds the earlier command taken, and the store compares the
/// requests instead of appending a second command under the key.
fn command_id_on(auction_id: AuctionId, user: &UserId, key: &str) -> BidId {
    BidId(derived_id(&format!("bid/{auction_id}"), user, key))
}

fn money(currency: &Currency, amount_minor: i64) -> Money {
    Money::new(amount_minor, currency.clone())
}

fn existing(state: &Aggregate) -> Result<&Auction, ApiError> {
    state
        .auction
        .as_ref()
        .ok_or_else(ApiError::auction_not_found)
}

/// The version the command left the auction at: its last event's, or the state's when it
/// appended nothing.
fn version_after(outcome: &Outcome<Aggregate>) -> u64 {
    outcome
        .events
        .last()
        .map_or(outcome.state.version, |e| e.version)
}

/// The auction as the command left it: folded from what it appended when that is the whole
/// history (a creation), so a replay answers the same; otherwise the state the store saw.
fn changed(outcome: &Outcome<Aggregate>) -> Result<AuctionChanged, ApiError> {
    let auction = existing(&outcome.state)?;
    let status = match outcome.events.first() {
        Some(first) if first.version == 1 => {
            let state = fold(outcome.events.iter().map(|e| &e.event));
            state
                .auction
                .as_ref()
                .map_or(AuctionStatus::from(&auction.status), |a| {
                    AuctionStatus::from(&a.status)
                })
        }
        _ => AuctionStatus::from(&auction.status),
    };
    Ok(AuctionChanged {
        auction_id: auction.id.0,
        version: version_after(outcome),
        status,
    })
}
