//! The admin routes: an auction's audited history, its state at a version or an instant, the
//! tamper check of its log and its export as JSON Lines, all answered by the event store's own time travel, verification and export from
//! the event log itself; the events of one type within a time range (the audit
//! index), a page at a time, in the same JSON Lines; and the parked items (what a consumer gave
//! up on, docs/parking.md), listed and replayed from the log through their consumer, as
//! `auction-admin parked list|replay` do. (Rebuilding the read models runs for
//! minutes, longer than an HTTP API waits: it is the `auction-admin rebuild` command, not a
//! route.)
//! A user is forgotten through `POST /admin/subjects/forget` (`admin/subjects.rs`).
//! The Items' ownership ledger has the same four routes under `/admin/items/{id}/...`
//! (`admin/items.rs`).
//! Only callers in the `admin` group may use them; anyone else gets 403 ADMIN_ONLY, checked
//! before the path and query are validated so that a non-admin learns nothing from a 404 or 400.

mod bodies;
mod events;
mod items;
pub mod proofs;
mod subjects;

pub use bodies::*;
pub use items::*;
pub use proofs::{Proofs, proof};
pub use subjects::*;

use ::events::AuctionEvent;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::State as Aggregate;
use event_store::history;
use event_store::{StoreError, TypeQuery};
use event_store::{export, verify};

use self::events::{EventsCursor, event_type, header_value, instant};
use crate::error::ApiError;
use crate::extract::{AuctionPath, QueryParams};
use crate::identity::Claims;
use crate::problems::{
    ParkedListBadRequest, Problems, ReplayEventsMissing, ReplayFailed, ReplayNotParked,
    ReplayUnknownConsumer,
};
use crate::{App, Backend};

/// The authorizer group whose members may audit.
pub const ADMIN_GROUP: &str = "admin";

/// A caller in the [`ADMIN_GROUP`]. Put before the path and query extractors, it answers 403
/// before they can answer 404 or 400.
#[derive(Debug)]
pub struct Admin(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = Claims::from_request_parts(parts, state).await?;
        if claims.groups.iter().any(|group| group == ADMIN_GROUP) {
            Ok(Self(claims))
        } else {
            Err(ApiError::AdminOnly)
        }
    }
}

#[utoipa::path(get, path = "/admin/auctions/{id}/history", tag = "admin",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 200, body = AuctionHistory),
        Problems<401, 403, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn history<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    AuctionPath(auction_id): AuctionPath,
) -> Result<Json<AuctionHistory>, ApiError> {
    let steps = history::history::<Aggregate, _>(app.store.backend(), auction_id).await?;
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
        Problems<400, 401, 403, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn state_at<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    AuctionPath(auction_id): AuctionPath,
    QueryParams(query): QueryParams<StateQuery>,
) -> Result<Json<StateAtBody>, ApiError> {
    let as_of = query.as_of()?;
    let at = history::state_as_of::<Aggregate, _>(app.store.backend(), auction_id, as_of).await?;
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
        Problems<401, 403, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn verify<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    AuctionPath(auction_id): AuctionPath,
) -> Result<Json<VerifyBody>, ApiError> {
    let report = verify::verify::<AuctionEvent, _>(app.store.backend(), auction_id).await?;
    Ok(Json(VerifyBody::from(&report)))
}

/// The media type of an export: one JSON document per line.
pub const JSON_LINES: &str = "application/x-ndjson";

#[utoipa::path(get, path = "/admin/auctions/{id}/export", tag = "admin",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 200, description = "Every stored event of the auction in version order, one per line: the envelope as stored (not upcast) with its chain hash; the format of `auction-admin export` (docs/audit.md)", body = String, content_type = "application/x-ndjson"),
        Problems<401, 403, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn export<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    AuctionPath(auction_id): AuctionPath,
) -> Result<Response, ApiError> {
    let events = history::history_events(app.store.backend(), auction_id).await?;
    let lines = revealed_lines(&app, &export::encode_lines(&events)?).await?;
    Ok(([(header::CONTENT_TYPE, JSON_LINES)], lines).into_response())
}

/// An export's lines, each beside what its pseudonyms reveal (`revealed`: a user id, or
/// `erased:<key id>` for a forgotten subject); the envelopes stay as stored, so the export still
/// verifies and imports.
pub(crate) async fn revealed_lines<B>(app: &App<B>, lines: &str) -> Result<String, ApiError> {
    Ok(personal_data::reveal_lines(app.pseudonyms.as_ref(), lines).await?)
}

/// Events per page of `GET /admin/events` when `limit` is not given.
pub const DEFAULT_EVENTS_PAGE: u32 = 500;
/// The largest `limit` of `GET /admin/events`. A page stays well below a Lambda response's
/// 6 MB whatever the events' size: one Query reads at most 1 MB of items.
pub const MAX_EVENTS_PAGE: u32 = 1_000;
/// The header that carries the next page's cursor alone, for scripts that do not parse `Link`.
pub const NEXT_CURSOR_HEADER: &str = "next-cursor";

/// Events of one type within a time range, a page at a time, as the CLI's export by type.
#[utoipa::path(get, path = "/admin/events", tag = "admin",
    params(EventsQuery),
    responses(
        (status = 200, description = "The page's events of `eventType` with `from <= occurredAt <= to`, in time order, one per line: the envelope as stored (not upcast) with its chain hash; the format of `auction-admin export` (docs/audit.md). A full page may be followed by more: then the `Link` and `Next-Cursor` headers are set (the page after a full one may be empty).", body = String, content_type = "application/x-ndjson",
            headers(
                ("Link" = String, description = "RFC 8288 `</admin/events?...&cursor=C>; rel=\"next\"`: the next page, with the query's parameters and `to` pinned; absent on the last page"),
                ("Next-Cursor" = String, description = "The cursor of the next page alone; absent on the last page"),
            )),
        Problems<400, 401, 403, 503>,
    ),
    security(("bearer" = [])))]
pub async fn events_of_type<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    QueryParams(query): QueryParams<EventsQuery>,
) -> Result<Response, ApiError> {
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
    let lines = revealed_lines(&app, &export::encode_lines(&page.events)?).await?;
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

/// What the consumers gave up on, as `auction-admin parked list` lists it. The whole table in
/// one answer: it is empty on a healthy platform, and a person works through it.
#[utoipa::path(get, path = "/admin/parked", tag = "admin",
    params(ParkedQuery),
    responses(
        (status = 200, body = ParkedList),
        ParkedListBadRequest,
        Problems<401, 403, 503>,
    ),
    security(("bearer" = [])))]
pub async fn parked<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    QueryParams(query): QueryParams<ParkedQuery>,
) -> Result<Json<ParkedList>, ApiError> {
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
        ReplayUnknownConsumer,
        ReplayNotParked,
        ReplayEventsMissing,
        ReplayFailed,
        Problems<401, 403, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn replay_parked<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<ParkedItem>, ApiError> {
    // Only a path that does not decode to text fails here: it names nothing.
    let Path((consumer, parked_id)) = path.map_err(|_| ApiError::NoRoute)?;
    let item = app.parked.replay(&consumer, &parked_id).await?;
    Ok(Json(ParkedItem::from(item)))
}
