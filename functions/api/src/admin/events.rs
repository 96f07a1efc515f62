//! The cursor of `GET /admin/events` and the parameters it is checked against.

use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use event_store::{StoreError, TypePosition, TypeQuery};
use events::AuctionEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// Where a listing of `GET /admin/events` continues: the position of the last event sent and
/// the query it belongs to, as base64url JSON (the scheme of the bidder listings' cursors). A
/// cursor whose query is not the request's, or whose position is not in its range, is refused.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct EventsCursor {
    event_type: String,
    /// The query's bounds, in Unix milliseconds.
    from: i64,
    pub(super) to: i64,
    /// The last event's `occurredAt` (Unix milliseconds), auction and version.
    occurred_at: i64,
    aggregate_id: Uuid,
    version: u64,
}

impl EventsCursor {
    pub(super) fn after(query: &TypeQuery, position: &TypePosition) -> Self {
        Self {
            event_type: query.event_type.clone(),
            from: query.from.timestamp_millis(),
            to: query.to.timestamp_millis(),
            occurred_at: position.occurred_at.timestamp_millis(),
            aggregate_id: position.aggregate_id,
            version: position.version,
        }
    }

    pub(super) fn encode(&self) -> Result<String, ApiError> {
        serde_json::to_vec(self)
            .map(|json| URL_SAFE_NO_PAD.encode(json))
            .map_err(|e| ApiError::Store(StoreError::Refused(format!("a cursor: {e}"))))
    }

    pub(super) fn decode(text: &str) -> Result<Self, ApiError> {
        let json = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| ApiError::InvalidCursor)?;
        serde_json::from_slice(&json).map_err(|_| ApiError::InvalidCursor)
    }

    /// The position to continue `query` from, if this cursor was issued for it.
    pub(super) fn position(&self, query: &TypeQuery) -> Result<TypePosition, ApiError> {
        let same_query = self.event_type == query.event_type
            && self.from == query.from.timestamp_millis()
            && self.to == query.to.timestamp_millis();
        let occurred_at = DateTime::from_timestamp_millis(self.occurred_at);
        match occurred_at {
            Some(occurred_at) if same_query => Ok(TypePosition {
                event_type: self.event_type.clone(),
                occurred_at,
                aggregate_id: self.aggregate_id,
                version: self.version,
            }),
            _ => Err(ApiError::InvalidCursor),
        }
    }
}

pub(super) fn event_type(given: Option<&str>) -> Result<String, ApiError> {
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
pub(super) fn instant(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| ApiError::InvalidQuery(format!("{name} is not an RFC 3339 instant: {e}")))
}

pub(super) fn header_value(text: String) -> Result<HeaderValue, ApiError> {
    HeaderValue::try_from(text)
        .map_err(|e| ApiError::Store(StoreError::Refused(format!("a header: {e}"))))
}
