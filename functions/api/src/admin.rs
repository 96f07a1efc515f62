//! The admin routes: an auction's audited history, its state at a version or an instant, the
//! tamper check of its log and its export as JSON Lines, all answered by the `audit` crate from
//! the event log itself. (Rebuilding the read models runs for minutes, longer than an HTTP API
//! waits: it is the `auction-admin rebuild` command, not a route.)
//! Only callers in the `admin` group may use them; anyone else gets 403 ADMIN_ONLY, checked
//! before the path and query are validated so that a non-admin learns nothing from a 404 or 400.

use auction_domain::State as AuctionState;
use auction_events::EventEnvelope;
use audit::{AsOf, Finding, Report};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use event_store::chain::Tampered;
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
