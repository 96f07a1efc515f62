//! The admin routes of the Items' ownership ledger, as the auctions' are: an item's audited
//! history, its state at a version or an instant, the tamper check of its stream and its export
//! as JSON Lines, each answered by the event store's generic time travel, verification and
//! export for the Item aggregate (`auction-admin ... --item` does the same from a terminal).

use ::events::{Envelope, ItemEvent};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use domain::item::ItemState;
use event_store::HistoryError;
use event_store::history;
use event_store::{export, verify};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::bodies::{Defect, StateQuery, Verdict};
use super::{Admin, JSON_LINES};
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::items::{ItemPath, item_not_found};
use crate::problems::Problems;
use crate::{App, Backend};

/// One event of an item's history and the item's state right after it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemHistoryEntry {
    /// The event envelope, upcast to the current schema version.
    #[schema(value_type = Object)]
    pub event: Envelope<ItemEvent>,
    /// The item's state after the event (the domain's own state, for auditors).
    #[schema(value_type = Object)]
    pub state: ItemState,
}

/// Every event of an item, in version order, each with the state after it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemHistory {
    pub item_id: Uuid,
    pub entries: Vec<ItemHistoryEntry>,
}

/// An item's state at a point of its history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemStateAtBody {
    pub item_id: Uuid,
    /// The version the state stands at: 0 when `at` is before the item's first event.
    pub version: u64,
    #[schema(value_type = Object)]
    pub state: ItemState,
}

/// The verdict on an item's stream. A tampered log is still a 200: the check itself succeeded.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemVerifyBody {
    pub item_id: Uuid,
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

/// The generic history's errors, worded for items: no events is 404 ITEM_NOT_FOUND.
fn item_error(error: HistoryError) -> ApiError {
    match error {
        HistoryError::NotFound(_) => item_not_found(),
        HistoryError::VersionOutOfRange {
            aggregate_id,
            requested,
            head,
        } => ApiError::InvalidQuery(format!(
            "version {requested} is out of range: item {aggregate_id} has versions 1 to {head}"
        )),
        other => ApiError::from(other),
    }
}

#[utoipa::path(get, path = "/admin/items/{id}/history", tag = "admin",
    params(("id" = Uuid, Path, description = "The item id")),
    responses(
        (status = 200, body = ItemHistory),
        Problems<401, 403, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn item_history<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    ItemPath(item_id): ItemPath,
) -> Result<Json<ItemHistory>, ApiError> {
    let steps = history::history::<ItemState, _>(app.store.backend(), item_id)
        .await
        .map_err(item_error)?;
    Ok(Json(ItemHistory {
        item_id: item_id.0,
        entries: steps
            .into_iter()
            .map(|step| ItemHistoryEntry {
                event: step.event,
                state: step.state,
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/admin/items/{id}/state", tag = "admin",
    params(("id" = Uuid, Path, description = "The item id"), StateQuery),
    responses(
        (status = 200, body = ItemStateAtBody),
        Problems<400, 401, 403, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn item_state_at<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    ItemPath(item_id): ItemPath,
    QueryParams(query): QueryParams<StateQuery>,
) -> Result<Json<ItemStateAtBody>, ApiError> {
    let as_of = query.as_of()?;
    let at = history::state_as_of::<ItemState, _>(app.store.backend(), item_id, as_of)
        .await
        .map_err(item_error)?;
    Ok(Json(ItemStateAtBody {
        item_id: item_id.0,
        version: at.version,
        state: at.state,
    }))
}

#[utoipa::path(get, path = "/admin/items/{id}/verify", tag = "admin",
    params(("id" = Uuid, Path, description = "The item id")),
    responses(
        (status = 200, body = ItemVerifyBody),
        Problems<401, 403, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn item_verify<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    ItemPath(item_id): ItemPath,
) -> Result<Json<ItemVerifyBody>, ApiError> {
    let report = verify::verify::<ItemEvent, _>(app.store.backend(), item_id)
        .await
        .map_err(item_error)?;
    let verdict = Verdict::of(&report);
    Ok(Json(ItemVerifyBody {
        item_id: item_id.0,
        intact: verdict.intact,
        events: verdict.events,
        head: verdict.head,
        first_bad_version: verdict.first_bad_version,
        defect: verdict.defect,
        report: verdict.report,
    }))
}

#[utoipa::path(get, path = "/admin/items/{id}/export", tag = "admin",
    params(("id" = Uuid, Path, description = "The item id")),
    responses(
        (status = 200, description = "Every stored event of the item in version order, one per line: the envelope as stored (not upcast) with its chain hash; the format of `auction-admin export --item` (docs/audit.md)", body = String, content_type = "application/x-ndjson"),
        Problems<401, 403, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn item_export<B: Backend>(
    State(app): State<App<B>>,
    _admin: Admin,
    ItemPath(item_id): ItemPath,
) -> Result<Response, ApiError> {
    let events = history::history_events(app.store.backend(), item_id)
        .await
        .map_err(item_error)?;
    let lines = super::revealed_lines(&app, &export::encode_lines(&events)?).await?;
    Ok(([(header::CONTENT_TYPE, JSON_LINES)], lines).into_response())
}
