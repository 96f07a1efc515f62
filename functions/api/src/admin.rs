//! The admin routes: an auction's audited history, its state at a version or an instant, the
//! tamper check of its log and its export as JSON Lines, all answered by the `audit` crate from
//! the event log itself; the events of one type within a time range (the `byEventType`
//! index), a page at a time, in the same JSON Lines; and the parked items (what a consumer gave
//! up on, docs/parking.md), listed and replayed from the log through their consumer, as
//! `auction-admin parked list|replay` do. (Rebuilding the read models runs for
//! minutes, longer than an HTTP API waits: it is the `auction-admin rebuild` command, not a
//! route.)
//! Only callers in the `admin` group may use them; anyone else gets 403 ADMIN_ONLY, checked
//! before the path and query are validated so that a non-admin learns nothing from a 404 or 400.

use auction_domain::State as AuctionState;
use auction_events::{AuctionEvent, AuctionId, EventEnvelope};
use audit::{AsOf, Finding, Report};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use event_store::chain::Tampered;
use event_store::{StoreError, TypePosition, TypeQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, Problem};
use crate::extract::{AuctionPath, QueryParams};
use crate::identity::Claims;
use crate::{App, Backend};

/// The authorizer group whose members may audit.
pub const ADMIN_GROUP: &str = "admin";

fn require_admin(claims: &Claims) -> Result<(), ApiError> {
    if claims.groups.iter().any(|group| group == ADMIN_GROUP) {
        Ok(())
    } else {
        Err(ApiError::AdminOnly)
    }
}

/// One event of the history and the auction's state right after it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The event envelope, upcast to the current schema version.
    #[schema(value_type = Object)]
    pub event: EventEnvelope,
    /// The aggregate's state after the event (the domain's own state, for auditors).
    #[schema(value_type = Object)]
    pub state: AuctionState,
}

/// Every event of an auction, in version order, each with the state after it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionHistory {
    pub auction_id: Uuid,
    pub entries: Vec<HistoryEntry>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StateQuery {
    /// The state after this version (1 to the auction's last). Give this or `at`.
    #[param(minimum = 1)]
    pub version: Option<u64>,
    /// The state after every event that occurred at or before this RFC 3339 instant.
    #[param(value_type = Option<String>, format = DateTime)]
    pub at: Option<DateTime<Utc>>,
}

/// An auction's state at a point of its history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateAtBody {
    pub auction_id: Uuid,
    /// The version the state stands at: 0 when `at` is before the auction's first event.
    pub version: u64,
    #[schema(value_type = Object)]
    pub state: AuctionState,
}

/// What is wrong at the first bad event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Defect {
    /// The version is absent: deleted, or the log skips it.
    Missing,
    /// The event's hash does not match the chain: edited, or moved from another version.
    Modified,
    /// The event belongs to another auction.
    Foreign,
    /// The item is not a readable event at all.
    Unreadable,
}

/// The verdict on an auction's log. A tampered log is still a 200: the check itself succeeded.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyBody {
    pub auction_id: Uuid,
    pub intact: bool,
    /// How many events verified (when intact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// The last event's hash (when intact): keep it to detect truncation later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// The first bad version (when not intact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defect: Option<Defect>,
    /// The verdict in words, naming the first bad event.
    pub report: String,
}

impl From<&Report> for VerifyBody {
    fn from(report: &Report) -> Self {
        let (events, head, first_bad_version, defect) = match &report.outcome {
            Ok(verified) => (
                Some(verified.events),
                Some(verified.head.clone()),
                None,
                None,
            ),
            Err(finding) => {
                let defect = match finding {
                    Finding::Tampered(Tampered::Missing { .. }) => Defect::Missing,
                    Finding::Tampered(Tampered::Modified { .. }) => Defect::Modified,
                    Finding::Tampered(Tampered::Foreign { .. }) => Defect::Foreign,
                    Finding::Unreadable { .. } => Defect::Unreadable,
                };
                (None, None, Some(finding.version()), Some(defect))
            }
        };
        Self {
            auction_id: report.aggregate_id.0,
            intact: report.is_clean(),
            events,
            head,
            first_bad_version,
            defect,
            report: report.to_string(),
        }
    }
}

#[utoipa::path(get, path = "/admin/auctions/{id}/history", tag = "admin",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 200, body = AuctionHistory),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn history<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    path: Result<AuctionPath, ApiError>,
) -> Result<Json<AuctionHistory>, ApiError> {
    require_admin(&claims)?;
    let AuctionPath(auction_id) = path?;
    let steps = audit::history(app.store.backend(), auction_id).await?;
    Ok(Json(AuctionHistory {
        auction_id: auction_id.0,
        entries: steps
            .into_iter()
            .map(|step| HistoryEntry {
                event: step.event,
                state: step.state,
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/admin/auctions/{id}/state", tag = "admin",
    params(("id" = Uuid, Path, description = "The auction id"), StateQuery),
    responses(
        (status = 200, body = StateAtBody),
        (status = 400, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn state_at<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    path: Result<AuctionPath, ApiError>,
    query: Result<QueryParams<StateQuery>, ApiError>,
) -> Result<Json<StateAtBody>, ApiError> {
    require_admin(&claims)?;
    let (AuctionPath(auction_id), QueryParams(query)) = (path?, query?);
    let as_of = match (query.version, query.at) {
        (Some(version), None) => AsOf::Version(version),
        (None, Some(at)) => AsOf::Instant(at),
        _ => {
            return Err(ApiError::InvalidQuery(
                "give exactly one of version and at".to_owned(),
            ));
        }
    };
    let at = audit::state_at(app.store.backend(), auction_id, as_of).await?;
    Ok(Json(StateAtBody {
        auction_id: auction_id.0,
        version: at.version,
        state: at.state,
    }))
}

#[utoipa::path(get, path = "/admin/auctions/{id}/verify", tag = "admin",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 200, body = VerifyBody),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn verify<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    path: Result<AuctionPath, ApiError>,
) -> Result<Json<VerifyBody>, ApiError> {
    require_admin(&claims)?;
    let AuctionPath(auction_id) = path?;
    let report = audit::verify(app.store.backend(), auction_id).await?;
    Ok(Json(VerifyBody::from(&report)))
}

/// The media type of an export: one JSON document per line.
pub const JSON_LINES: &str = "application/x-ndjson";

#[utoipa::path(get, path = "/admin/auctions/{id}/export", tag = "admin",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 200, description = "Every stored event of the auction in version order, one per line: the envelope as stored (not upcast) with its chain hash; the format of `auction-admin export` (docs/audit.md)", body = String, content_type = "application/x-ndjson"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn export<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    path: Result<AuctionPath, ApiError>,
) -> Result<Response, ApiError> {
    require_admin(&claims)?;
    let AuctionPath(auction_id) = path?;
    let events = audit::history_events(app.store.backend(), auction_id).await?;
    let lines = audit::export::encode_lines(&events)?;
    Ok(([(header::CONTENT_TYPE, JSON_LINES)], lines).into_response())
}

/// Events per page of `GET /admin/events` when `limit` is not given.
pub const DEFAULT_EVENTS_PAGE: u32 = 500;
/// The largest `limit` of `GET /admin/events`. A page stays well below a Lambda response's
/// 6 MB whatever the events' size: one Query reads at most 1 MB of items.
pub const MAX_EVENTS_PAGE: u32 = 1_000;
/// The header that carries the next page's cursor alone, for scripts that do not parse `Link`.
pub const NEXT_CURSOR_HEADER: &str = "next-cursor";

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The event type, one of the contract's (`AuctionCreated`, `BidPlaced`, ...).
    #[param(required = true)]
    pub event_type: Option<String>,
    /// The earliest `occurredAt`, inclusive, as RFC 3339 (compared at millisecond precision).
    /// Default: the beginning.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<String>,
    /// The latest `occurredAt`, inclusive, as RFC 3339. Default: now; the `next` link keeps
    /// the instant the first page resolved, so a listing does not grow while it is paged.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<String>,
    /// Page size, 1 to 1000 (default 500).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The previous page's `Next-Cursor`, with the same `eventType`, `from` and `to`.
    pub cursor: Option<String>,
}

/// Where a listing of `GET /admin/events` continues: the position of the last event sent and
/// the query it belongs to, as base64url JSON (the scheme of the bidder listings' cursors). A
/// cursor whose query is not the request's, or whose position is not in its range, is refused.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventsCursor {
    event_type: String,
    /// The query's bounds, in Unix milliseconds.
    from: i64,
    to: i64,
    /// The last event's `occurredAt` (Unix milliseconds), auction and version.
    occurred_at: i64,
    aggregate_id: Uuid,
    version: u64,
}

impl EventsCursor {
    fn after(query: &TypeQuery, position: &TypePosition) -> Self {
        Self {
            event_type: query.event_type.clone(),
            from: query.from.timestamp_millis(),
            to: query.to.timestamp_millis(),
            occurred_at: position.occurred_at.timestamp_millis(),
            aggregate_id: position.aggregate_id.0,
            version: position.version,
        }
    }

    fn encode(&self) -> Result<String, ApiError> {
        serde_json::to_vec(self)
            .map(|json| URL_SAFE_NO_PAD.encode(json))
            .map_err(|e| ApiError::Store(StoreError::Refused(format!("a cursor: {e}"))))
    }

    fn decode(text: &str) -> Result<Self, ApiError> {
        let json = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| ApiError::InvalidCursor)?;
        serde_json::from_slice(&json).map_err(|_| ApiError::InvalidCursor)
    }

    /// The position to continue `query` from, if this cursor was issued for it.
    fn position(&self, query: &TypeQuery) -> Result<TypePosition, ApiError> {
        let same_query = self.event_type == query.event_type
            && self.from == query.from.timestamp_millis()
            && self.to == query.to.timestamp_millis();
        let occurred_at = DateTime::from_timestamp_millis(self.occurred_at);
        match occurred_at {
            Some(occurred_at) if same_query => Ok(TypePosition {
                event_type: self.event_type.clone(),
                occurred_at,
                aggregate_id: AuctionId(self.aggregate_id),
                version: self.version,
            }),
            _ => Err(ApiError::InvalidCursor),
        }
    }
}

fn event_type(given: Option<&str>) -> Result<String, ApiError> {
    let known = || {
        AuctionEvent::TYPES
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match given {
        Some(name) if AuctionEvent::TYPES.iter().any(|(known, _)| *known == name) => {
            Ok(name.to_owned())
        }
        Some(_) => Err(ApiError::InvalidQuery(format!(
            "eventType must be one of {}",
            known()
        ))),
        None => Err(ApiError::InvalidQuery(format!(
            "eventType is required: one of {}",
            known()
        ))),
    }
}

/// An RFC 3339 instant, strictly: its text is repeated in the `next` link as it came.
fn instant(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| ApiError::InvalidQuery(format!("{name} is not an RFC 3339 instant: {e}")))
}

fn header_value(text: String) -> Result<HeaderValue, ApiError> {
    HeaderValue::try_from(text)
        .map_err(|e| ApiError::Store(StoreError::Refused(format!("a header: {e}"))))
}

/// Events of one type within a time range, a page at a time, as the CLI's export by type.
#[utoipa::path(get, path = "/admin/events", tag = "admin",
    params(EventsQuery),
    responses(
        (status = 200, description = "The page's events of `eventType` with `from <= occurredAt <= to`, in time order, one per line: the envelope as stored (not upcast) with its chain hash; the format of `auction-admin export` (docs/audit.md). A full page may be followed by more: then the `Link` and `Next-Cursor` headers are set (the page after a full one may be empty).", body = String, content_type = "application/x-ndjson",
            headers(
                ("Link" = String, description = "RFC 8288 `</admin/events?...&cursor=C>; rel=\"next\"`: the next page, with the query's parameters and `to` pinned; absent on the last page"),
                ("Next-Cursor" = String, description = "The cursor of the next page alone; absent on the last page"),
            )),
        (status = 400, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn events_of_type<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    query: Result<QueryParams<EventsQuery>, ApiError>,
) -> Result<Response, ApiError> {
    require_admin(&claims)?;
    let QueryParams(query) = query?;
    let event_type = event_type(query.event_type.as_deref())?;
    let from = query
        .from
        .as_deref()
        .map(|t| instant("from", t))
        .transpose()?;
    let to = query.to.as_deref().map(|t| instant("to", t)).transpose()?;
    let limit = match query.limit {
        None => DEFAULT_EVENTS_PAGE,
        Some(limit @ 1..=MAX_EVENTS_PAGE) => limit,
        Some(limit) => {
            return Err(ApiError::InvalidQuery(format!(
                "limit must be 1 to {MAX_EVENTS_PAGE}, not {limit}"
            )));
        }
    };
    let cursor = query
        .cursor
        .as_deref()
        .map(EventsCursor::decode)
        .transpose()?;
    // Without `to`, a continuation keeps the end its listing started with.
    let to = match (to, &cursor) {
        (Some(to), _) => to,
        (None, Some(cursor)) => {
            DateTime::from_timestamp_millis(cursor.to).ok_or(ApiError::InvalidCursor)?
        }
        (None, None) => app.clock.now(),
    };
    let from = from.unwrap_or(DateTime::<Utc>::MIN_UTC);
    if from > to {
        return Err(ApiError::InvalidQuery(format!(
            "the time range is empty: from {} is after to {}",
            from.to_rfc3339(),
            to.to_rfc3339()
        )));
    }
    let mut wanted = TypeQuery::new(event_type, from, to, limit);
    if let Some(cursor) = &cursor {
        wanted.after = Some(cursor.position(&wanted)?);
        if !wanted.continues() {
            return Err(ApiError::InvalidCursor);
        }
    }
    let page = app.store.backend().events_of_type(&wanted).await?;
    let lines = audit::export::encode_lines(&page.events)?;
    let mut response = ([(header::CONTENT_TYPE, JSON_LINES)], lines).into_response();
    if let Some(next) = &page.next {
        let next_cursor = EventsCursor::after(&wanted, next).encode()?;
        let mut pairs = vec![("eventType", wanted.event_type.clone())];
        if let Some(from) = query.from {
            pairs.push(("from", from));
        }
        pairs.push((
            "to",
            query
                .to
                .unwrap_or_else(|| to.to_rfc3339_opts(SecondsFormat::Millis, true)),
        ));
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        pairs.push(("cursor", next_cursor.clone()));
        let link = serde_urlencoded::to_string(&pairs)
            .map_err(|e| ApiError::Store(StoreError::Refused(format!("a link: {e}"))))?;
        let headers = response.headers_mut();
        headers.insert(
            header::LINK,
            header_value(format!("</admin/events?{link}>; rel=\"next\""))?,
        );
        headers.insert(NEXT_CURSOR_HEADER, header_value(next_cursor)?);
    }
    Ok(response)
}

/// The consumers whose give-ups are parked, as the admin routes name them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ParkedConsumer {
    Projector,
    Publisher,
    Broadcaster,
    Notifier,
    PaymentSaga,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ParkedQuery {
    /// Only this consumer's items. Default: every consumer's, including items parked under the
    /// name of a function or queue this build does not know.
    #[param(value_type = Option<ParkedConsumer>)]
    pub consumer: Option<String>,
}

/// A stretch of one aggregate's events that a consumer gave up on (the `Parked` table's item,
/// docs/parking.md).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParkedItem {
    /// The consumer's name; a give-up by a consumer this build does not know carries its
    /// function's or queue's name.
    pub consumer: String,
    /// `{aggregateId}#{fromVersion}-{toVersion}`, versions zero-padded to 20 digits; in a path,
    /// percent-encode the `#` (`%23`).
    pub parked_id: String,
    pub aggregate_id: Uuid,
    pub from_version: u64,
    pub to_version: u64,
    /// The event types in the range, in version order, each once.
    pub event_types: Vec<String>,
    /// What the source said about the last failure, or the last failed replay's error.
    pub last_error: String,
    /// Invocations (stream) or receives (queue) before the consumer gave up.
    pub attempts: u32,
    /// Replays of this item that failed since it was parked.
    pub failed_replays: u32,
    pub parked_at: DateTime<Utc>,
    /// Where the give-up came from: the shard and sequence numbers, or the DLQ and message id.
    pub origin: String,
}

impl From<parking::Parked> for ParkedItem {
    fn from(item: parking::Parked) -> Self {
        Self {
            parked_id: item.parked_id(),
            consumer: item.consumer,
            aggregate_id: item.aggregate_id.0,
            from_version: item.from_version,
            to_version: item.to_version,
            event_types: item.event_types,
            last_error: item.last_error,
            attempts: item.attempts,
            failed_replays: item.failed_replays,
            parked_at: item.parked_at,
            origin: item.origin,
        }
    }
}

/// The parked items, ordered by consumer and id.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ParkedList {
    pub items: Vec<ParkedItem>,
}

/// What the consumers gave up on, as `auction-admin parked list` lists it. The whole table in
/// one answer: it is empty on a healthy platform, and a person works through it.
#[utoipa::path(get, path = "/admin/parked", tag = "admin",
    params(ParkedQuery),
    responses(
        (status = 200, body = ParkedList),
        (status = 400, description = "A problem document; see its `code` (UNKNOWN_CONSUMER, INVALID_QUERY)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn parked<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    query: Result<QueryParams<ParkedQuery>, ApiError>,
) -> Result<Json<ParkedList>, ApiError> {
    require_admin(&claims)?;
    let QueryParams(query) = query?;
    let consumer = query
        .consumer
        .as_deref()
        .map(str::parse::<parking::Consumer>)
        .transpose()?;
    let items = app.parked.list(consumer).await?;
    Ok(Json(ParkedList {
        items: items.into_iter().map(ParkedItem::from).collect(),
    }))
}

/// Re-drives a parked item's events from the log through its consumer's own code and removes
/// the item, as `auction-admin parked replay` does. Idempotent: an event the consumer already
/// applied changes nothing.
#[utoipa::path(post, path = "/admin/parked/{consumer}/{parkedId}/replay", tag = "admin",
    params(
        ("consumer" = ParkedConsumer, Path, description = "The item's consumer"),
        ("parkedId" = String, Path, description = "The item's `parkedId`, its `#` percent-encoded"),
    ),
    responses(
        (status = 200, description = "Replayed and removed: the item as it was", body = ParkedItem),
        (status = 400, description = "A problem document; see its `code` (UNKNOWN_CONSUMER)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code` (NOT_PARKED)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A problem document; see its `code` (PARKED_EVENTS_MISSING: the log lacks some of the item's events; it stays parked)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "A problem document; see its `code` (REPLAY_FAILED: the consumer failed again; the item stays parked with that error and one more failed replay)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn replay_parked<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<ParkedItem>, ApiError> {
    require_admin(&claims)?;
    // Only a path that does not decode to text fails here: it names nothing.
    let Path((consumer, parked_id)) = path.map_err(|_| ApiError::NoRoute)?;
    let item = app.parked.replay(&consumer, &parked_id).await?;
    Ok(Json(ParkedItem::from(item)))
}
