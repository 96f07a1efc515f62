//! The handlers: plain async functions that turn a request into a command, run it through the
//! event store, and shape the outcome into a response.

use auction_domain::{
    Auction, BuyNow, CancelAuction, CreateAuction, PlaceBid, StartAuction, State as Aggregate,
    Status, decide_buy_now, decide_cancel, decide_create, decide_place_bid, decide_start, fold,
};
use auction_events::{
    Actor, AuctionEvent, AuctionId, AuctionResult, BidId, Currency, EventEnvelope, IncrementBand,
    IncrementPolicy, Money, SoftClose, UnsoldReason, UserId,
};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use event_store::{CommandContext, IdempotencyKey, Meter, Outcome, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::correlation::CorrelationId;
use crate::error::{ApiError, Problem};
use crate::extract::{AuctionPath, JsonBody, OptionalJsonBody, idempotency_key};
use crate::identity::Claims;
use crate::{App, Backend};

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

// ---------------------------------------------------------------- request and response bodies

/// How much a bid must exceed the current price by.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum IncrementRequest {
    #[serde(rename_all = "camelCase")]
    Fixed {
        amount_minor: i64,
    },
    Tiered {
        bands: Vec<IncrementBandRequest>,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncrementBandRequest {
    pub from_minor: i64,
    pub increment_minor: i64,
}

/// Anti-sniping: a bid less than `windowSeconds` before the end moves the end
/// `extensionSeconds` later.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoftCloseRequest {
    pub window_seconds: u32,
    pub extension_seconds: u32,
}

/// An auction to create. Amounts are integer minor units of `currency`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateAuctionRequest {
    pub title: String,
    pub description: Option<String>,
    /// ISO 4217 code, e.g. `EUR`.
    #[schema(value_type = String, example = "EUR")]
    pub currency: Currency,
    pub starting_price: i64,
    pub reserve_price: Option<i64>,
    pub buy_now_price: Option<i64>,
    pub increment: Option<IncrementRequest>,
    /// Absent, or already past: the auction starts at once.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: DateTime<Utc>,
    pub soft_close: Option<SoftCloseRequest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AuctionStatus {
    Scheduled,
    Active,
    Ended,
    Cancelled,
}

impl From<&Status> for AuctionStatus {
    fn from(status: &Status) -> Self {
        match status {
            Status::Scheduled => Self::Scheduled,
            Status::Active => Self::Active,
            Status::Ended(_) => Self::Ended,
            Status::Cancelled => Self::Cancelled,
        }
    }
}

/// The auction after a command: its id, version and status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionChanged {
    pub auction_id: Uuid,
    pub version: u64,
    pub status: AuctionStatus,
}

/// An amount of money in integer minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoneyBody {
    pub amount_minor: i64,
    pub currency: String,
}

impl From<&Money> for MoneyBody {
    fn from(money: &Money) -> Self {
        Self {
            amount_minor: money.amount_minor,
            currency: money.currency.to_string(),
        }
    }
}

/// A bid: `amount` now, and proxy bidding up to `maxAmount`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceBidRequest {
    pub amount: i64,
    pub max_amount: Option<i64>,
    #[schema(value_type = String, example = "EUR")]
    pub currency: Currency,
}

/// The answer to an accepted bid; a retry with the same key gets the same answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidAccepted {
    pub accepted: bool,
    pub bid_id: Uuid,
    pub current_price: MoneyBody,
    /// Whether the caller leads after this bid.
    pub leading: bool,
    pub version: u64,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    pub reason: Option<String>,
}

/// The answer to a completed buy-now purchase.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Purchase {
    pub purchase_id: Uuid,
    pub auction_id: Uuid,
    pub price: MoneyBody,
    pub version: u64,
    pub status: AuctionStatus,
}

/// One auction as a bidder may see it: never other bidders' maximums, never the reserve.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionView {
    pub id: Uuid,
    pub title: String,
    pub seller_id: String,
    pub status: AuctionStatus,
    pub currency: String,
    pub starting_price: MoneyBody,
    /// Absent until the first bid.
    pub current_price: Option<MoneyBody>,
    pub bid_count: u32,
    /// Whether the caller is the leading bidder.
    pub leading: bool,
    pub has_reserve: bool,
    pub reserve_met: bool,
    pub buy_now_price: Option<MoneyBody>,
    pub starts_at: DateTime<Utc>,
    /// The current end, after any soft-close extensions.
    pub ends_at: DateTime<Utc>,
    /// How it ended; absent until it has.
    pub result: Option<AuctionResultBody>,
    pub version: u64,
}

/// How an auction ended: `sold` to `winnerId` at `finalPrice`, or `unsold` for `reason`
/// (`noBids`, `reserveNotMet`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionResultBody {
    pub outcome: AuctionOutcome,
    pub winner_id: Option<String>,
    pub final_price: Option<MoneyBody>,
    pub reason: Option<UnsoldReasonBody>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AuctionOutcome {
    Sold,
    Unsold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum UnsoldReasonBody {
    NoBids,
    ReserveNotMet,
}

impl From<&AuctionResult> for AuctionResultBody {
    fn from(result: &AuctionResult) -> Self {
        match result {
            AuctionResult::Sold {
                winner_id,
                final_price,
            } => Self {
                outcome: AuctionOutcome::Sold,
                winner_id: Some(winner_id.to_string()),
                final_price: Some(MoneyBody::from(final_price)),
                reason: None,
            },
            AuctionResult::Unsold { reason } => Self {
                outcome: AuctionOutcome::Unsold,
                winner_id: None,
                final_price: None,
                reason: Some(match reason {
                    UnsoldReason::NoBids => UnsoldReasonBody::NoBids,
                    UnsoldReason::ReserveNotMet => UnsoldReasonBody::ReserveNotMet,
                }),
            },
        }
    }
}

/// One accepted bid in the history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidEntry {
    pub bid_id: Uuid,
    pub bidder_id: String,
    pub amount: MoneyBody,
    /// The visible price after this bid (proxy bidding may have answered it).
    pub new_price: MoneyBody,
    pub placed_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidHistory {
    pub auction_id: Uuid,
    pub bids: Vec<BidEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

// ------------------------------------------------------------------------------------ helpers

/// What every command needs besides its body.
struct Caller {
    claims: Claims,
    correlation: CorrelationId,
}

impl Caller {
    fn context<B: Backend>(&self, app: &App<B>, key: Option<IdempotencyKey>) -> CommandContext {
        CommandContext {
            command_id: Uuid::new_v4().to_string(),
            correlation_id: self.correlation.0.clone(),
            actor: Actor::User {
                id: self.claims.sub.clone(),
            },
            idempotency_key: key,
            now: app.clock.now(),
        }
    }
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

fn keyed(key: Option<String>, method: &Method, uri: &Uri, body: &[u8]) -> Option<IdempotencyKey> {
    key.map(|key| IdempotencyKey {
        key,
        fingerprint: fingerprint(method, uri, body),
    })
}

fn money(currency: &Currency, amount_minor: i64) -> Money {
    Money::new(amount_minor, currency.clone())
}

/// The auction as the command left it: folded from what it appended when that is the whole
/// history (a creation), so a replay answers the same; otherwise the state the store saw.
fn changed(outcome: &Outcome) -> Result<AuctionChanged, ApiError> {
    let auction = existing(&outcome.state)?;
    let version = outcome
        .events
        .last()
        .map_or(outcome.state.version, |e| e.version);
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
        version,
        status,
    })
}

fn existing(state: &Aggregate) -> Result<&Auction, ApiError> {
    state
        .auction
        .as_ref()
        .ok_or(ApiError::Store(StoreError::Rejected(
            auction_domain::Rejection::AuctionNotFound,
        )))
}

fn created_response<T: Serialize>(body: &T, replayed: bool, location: Option<String>) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    let headers = response.headers_mut();
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    response
}

fn ok_response<T: Serialize>(body: &T, replayed: bool) -> Response {
    let mut response = Json(body).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

// ----------------------------------------------------------------------------------- handlers

/// Liveness: answers without touching the event store.
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// Puts an item up for auction; the caller is the seller.
#[utoipa::path(post, path = "/auctions", tag = "auctions",
    request_body = CreateAuctionRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes a retry create nothing new: the auction id derives from it")),
    responses(
        (status = 201, description = "Created", body = AuctionChanged,
            headers(("Location" = String, description = "/auctions/{id}"))),
        (status = 400, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_auction<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    correlation: CorrelationId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody<CreateAuctionRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let auction_id = AuctionId(match &key {
        Some(key) => derived_id("create", &claims.sub, key),
        None => Uuid::new_v4(),
    });
    let request = body.value;
    let currency = request.currency;
    let command = CreateAuction {
        auction_id,
        seller_id: claims.sub.clone(),
        title: request.title,
        description: request.description,
        starting_price: money(&currency, request.starting_price),
        reserve_price: request.reserve_price.map(|a| money(&currency, a)),
        buy_now_price: request.buy_now_price.map(|a| money(&currency, a)),
        increment: request.increment.map(|increment| match increment {
            IncrementRequest::Fixed { amount_minor } => IncrementPolicy::Fixed { amount_minor },
            IncrementRequest::Tiered { bands } => IncrementPolicy::Tiered {
                bands: bands
                    .into_iter()
                    .map(|band| IncrementBand {
                        from_minor: band.from_minor,
                        increment_minor: band.increment_minor,
                    })
                    .collect(),
            },
        }),
        starts_at: request.starts_at,
        ends_at: request.ends_at,
        soft_close: request.soft_close.map(|soft| SoftClose {
            window_seconds: soft.window_seconds,
            extension_seconds: soft.extension_seconds,
        }),
        currency,
    };
    let caller = Caller {
        claims,
        correlation,
    };
    let derived = key.is_some();
    let context = caller.context(&app, keyed(key, &method, &uri, &body.raw));
    let outcome = app
        .store
        .execute(auction_id, &context, |state, now| {
            // The id derives from the seller's key, so an auction under it is that key's
            // earlier command whatever its body said (the domain would call another title a
            // different auction): nothing to decide, and the store compares the two requests.
            if derived
                && state
                    .auction
                    .as_ref()
                    .is_some_and(|a| a.id == auction_id && a.seller_id == command.seller_id)
            {
                return Ok(vec![]);
            }
            decide_create(state, &command, now)
        })
        .await?;
    let body = changed(&outcome)?;
    Ok(created_response(
        &body,
        outcome.replayed,
        Some(format!("/auctions/{auction_id}")),
    ))
}

/// Opens bidding once the start time has come (the scheduler's job, open to the seller too).
#[utoipa::path(post, path = "/auctions/{id}/start", tag = "auctions",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 200, description = "Active", body = AuctionChanged),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn start_auction<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    claims: Claims,
    correlation: CorrelationId,
) -> Result<Response, ApiError> {
    let caller = Caller {
        claims,
        correlation,
    };
    let context = caller.context(&app, None);
    let outcome = app
        .store
        .execute(auction_id, &context, |state, now| {
            // Starting is harmless once due, but only the seller may ask for it early or at
            // all: anyone else gets the same answer as for cancelling.
            if state
                .auction
                .as_ref()
                .is_some_and(|a| a.seller_id != caller.claims.sub)
            {
                return Err(auction_domain::Rejection::NotSeller);
            }
            decide_start(state, &StartAuction, now)
        })
        .await?;
    Ok(ok_response(&changed(&outcome)?, outcome.replayed))
}

/// Withdraws the auction; only its seller may, and only before the first bid.
#[utoipa::path(post, path = "/auctions/{id}/cancel", tag = "auctions",
    params(("id" = Uuid, Path, description = "The auction id")),
    request_body(content = CancelRequest, description = "Optional; an empty body means no reason"),
    responses(
        (status = 200, description = "Cancelled", body = AuctionChanged),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "NOT_SELLER", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn cancel_auction<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    claims: Claims,
    correlation: CorrelationId,
    body: OptionalJsonBody<CancelRequest>,
) -> Result<Response, ApiError> {
    let command = CancelAuction {
        requested_by: claims.sub.clone(),
        reason: body.value.reason,
    };
    let context = Caller {
        claims,
        correlation,
    }
    .context(&app, None);
    let outcome = app
        .store
        .execute(auction_id, &context, |state, now| {
            decide_cancel(state, &command, now)
        })
        .await?;
    Ok(ok_response(&changed(&outcome)?, outcome.replayed))
}

/// Places a bid (with optional proxy maximum). Needs an `Idempotency-Key`: a retry with the
/// same key and body returns the first answer and changes nothing.
#[utoipa::path(post, path = "/auctions/{id}/bids", tag = "bids",
    params(("id" = Uuid, Path, description = "The auction id"),
        ("Idempotency-Key" = String, Header, description = "1 to 128 visible ASCII characters")),
    request_body = PlaceBidRequest,
    responses(
        (status = 201, description = "Accepted (also for a replayed retry)", body = BidAccepted,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replay"))),
        (status = 400, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "SELLER_CANNOT_BID", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
#[allow(clippy::too_many_arguments)] // one extractor per input, as axum wants them
pub async fn place_bid<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    claims: Claims,
    correlation: CorrelationId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody<PlaceBidRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?.ok_or(ApiError::IdempotencyKeyRequired)?;
    let bid_id = command_id_on(auction_id, &claims.sub, &key);
    let request = body.value;
    let command = PlaceBid {
        bid_id,
        bidder_id: claims.sub.clone(),
        amount: money(&request.currency, request.amount),
        max_amount: request.max_amount.map(|a| money(&request.currency, a)),
    };
    let caller = Caller {
        claims,
        correlation,
    };
    let context = caller.context(&app, keyed(Some(key), &method, &uri, &body.raw));
    let outcome = app
        .store
        .execute(auction_id, &context, |state, now| {
            decide_place_bid(state, &command, now)
        })
        .await?;
    let accepted = bid_accepted(&outcome, bid_id, &caller.claims.sub)?;
    Ok(created_response(&accepted, outcome.replayed, None))
}

/// The answer to a bid, from the events it appended, so that a replay (which returns the same
/// events) answers the same. A bid that took effect without a record of its events (the
/// domain recognised its id) answers from the current state.
fn bid_accepted(
    outcome: &Outcome,
    bid_id: BidId,
    caller: &UserId,
) -> Result<BidAccepted, ApiError> {
    let mut price = None;
    let mut leading = None;
    for envelope in &outcome.events {
        match &envelope.event {
            AuctionEvent::BidPlaced(bid) if bid.bid_id == bid_id => {
                price = Some(MoneyBody::from(&bid.new_price));
                leading = Some(&bid.leader_id == caller);
            }
            AuctionEvent::MaxBidRaised(raise) if raise.bid_id == bid_id => {
                price = Some(MoneyBody::from(&raise.new_price));
                // Only the leader raises their maximum.
                leading = Some(true);
            }
            _ => {}
        }
    }
    let version = outcome
        .events
        .last()
        .map_or(outcome.state.version, |e| e.version);
    match (price, leading) {
        (Some(current_price), Some(leading)) => Ok(BidAccepted {
            accepted: true,
            bid_id: bid_id.0,
            current_price,
            leading,
            version,
        }),
        _ => {
            let auction = existing(&outcome.state)?;
            Ok(BidAccepted {
                accepted: true,
                bid_id: bid_id.0,
                current_price: MoneyBody::from(
                    &auction.money(auction.price.unwrap_or(auction.starting_price)),
                ),
                leading: auction.leader.as_ref() == Some(caller),
                version,
            })
        }
    }
}

/// Buys the item at its buy-now price, ending the auction. Needs an `Idempotency-Key`.
#[utoipa::path(post, path = "/auctions/{id}/buy-now", tag = "bids",
    params(("id" = Uuid, Path, description = "The auction id"),
        ("Idempotency-Key" = String, Header, description = "1 to 128 visible ASCII characters")),
    responses(
        (status = 201, description = "Bought (also for a replayed retry)", body = Purchase),
        (status = 400, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn buy_now<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    claims: Claims,
    correlation: CorrelationId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?.ok_or(ApiError::IdempotencyKeyRequired)?;
    let purchase_id = command_id_on(auction_id, &claims.sub, &key);
    let command = BuyNow {
        purchase_id,
        buyer_id: claims.sub.clone(),
    };
    let context = Caller {
        claims,
        correlation,
    }
    .context(&app, keyed(Some(key), &method, &uri, b""));
    let outcome = app
        .store
        .execute(auction_id, &context, |state, now| {
            decide_buy_now(state, &command, now)
        })
        .await?;
    let auction = existing(&outcome.state)?;
    let price = outcome
        .events
        .iter()
        .find_map(|e| match &e.event {
            AuctionEvent::AuctionEnded(ended) => match &ended.result {
                auction_events::AuctionResult::Sold { final_price, .. } => {
                    Some(MoneyBody::from(final_price))
                }
                auction_events::AuctionResult::Unsold { .. } => None,
            },
            _ => None,
        })
        // A purchase that took effect without a record of its events: the ended state holds
        // the final price (a successful buy-now always sets it).
        .or_else(|| auction.price.map(|p| MoneyBody::from(&auction.money(p))))
        .or_else(|| {
            auction
                .buy_now_price
                .map(|p| MoneyBody::from(&auction.money(p)))
        })
        .ok_or(ApiError::Store(StoreError::Rejected(
            auction_domain::Rejection::BuyNowNotOffered,
        )))?;
    let body = Purchase {
        purchase_id: purchase_id.0,
        auction_id: auction_id.0,
        price,
        version: outcome
            .events
            .last()
            .map_or(outcome.state.version, |e| e.version),
        status: AuctionStatus::from(&auction.status),
    };
    Ok(created_response(&body, outcome.replayed, None))
}

/// The auction's current state, from the event store.
/// The auction as the caller may see it, from its state in the log.
pub(crate) fn auction_view(state: &Aggregate, caller: &UserId) -> Result<AuctionView, ApiError> {
    let auction = existing(state)?;
    Ok(AuctionView {
        id: auction.id.0,
        title: auction.title.clone(),
        seller_id: auction.seller_id.to_string(),
        status: AuctionStatus::from(&auction.status),
        currency: auction.currency.to_string(),
        starting_price: MoneyBody::from(&auction.money(auction.starting_price)),
        current_price: auction.price.map(|p| MoneyBody::from(&auction.money(p))),
        bid_count: auction.bid_count,
        leading: auction.leader.as_ref() == Some(caller),
        has_reserve: auction.reserve_price.is_some(),
        reserve_met: auction.reserve_met(),
        buy_now_price: auction
            .buy_now_price
            .map(|p| MoneyBody::from(&auction.money(p))),
        starts_at: auction.starts_at,
        ends_at: auction.ends_at,
        result: match &auction.status {
            Status::Ended(result) => Some(AuctionResultBody::from(result)),
            _ => None,
        },
        version: state.version,
    })
}

/// Every accepted bid, oldest first: bidder, amount, resulting price, time. Never maximums.
#[utoipa::path(get, path = "/auctions/{id}/bids", tag = "bids",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 200, body = BidHistory),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_bids<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    _claims: Claims,
) -> Result<Json<BidHistory>, ApiError> {
    let stored = app
        .store
        .backend()
        .read_after(auction_id, 0, &Meter::default())
        .await?;
    if stored.is_empty() {
        return Err(ApiError::Store(StoreError::Rejected(
            auction_domain::Rejection::AuctionNotFound,
        )));
    }
    let mut bids = Vec::new();
    for event in &stored {
        let EventEnvelope {
            event,
            occurred_at,
            version,
            ..
        } = event.decode()?;
        if let AuctionEvent::BidPlaced(bid) = event {
            bids.push(BidEntry {
                bid_id: bid.bid_id.0,
                bidder_id: bid.bidder_id.to_string(),
                amount: MoneyBody::from(&bid.amount),
                new_price: MoneyBody::from(&bid.new_price),
                placed_at: occurred_at,
                version,
            });
        }
    }
    Ok(Json(BidHistory {
        auction_id: auction_id.0,
        bids,
    }))
}
