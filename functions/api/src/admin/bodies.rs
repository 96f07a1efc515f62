//! The admin routes' bodies and query parameters, with their OpenAPI schemas.

use event_store::verify::Finding;
use events::AuctionId;

/// The tamper check of one auction.
type Report = event_store::verify::Report<AuctionId>;
use chrono::{DateTime, Utc};
use domain::State as AuctionState;
use event_store::chain::Tampered;
use event_store::history::AsOf;
use events::EventEnvelope;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;

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

impl StateQuery {
    /// The point of the history asked for: exactly one of `version` and `at`.
    pub fn as_of(&self) -> Result<AsOf, ApiError> {
        match (self.version, self.at) {
            (Some(version), None) => Ok(AsOf::Version(version)),
            (None, Some(at)) => Ok(AsOf::Instant(at)),
            _ => Err(ApiError::InvalidQuery(
                "give exactly one of version and at".to_owned(),
            )),
        }
    }
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
        let verdict = Verdict::of(report);
        Self {
            auction_id: report.aggregate_id.0,
            intact: verdict.intact,
            events: verdict.events,
            head: verdict.head,
            first_bad_version: verdict.first_bad_version,
            defect: verdict.defect,
            report: verdict.report,
        }
    }
}

/// What a tamper check of any aggregate's log found: the fields of a verify body after the id.
pub(crate) struct Verdict {
    pub intact: bool,
    pub events: Option<u64>,
    pub head: Option<String>,
    pub first_bad_version: Option<u64>,
    pub defect: Option<Defect>,
    pub report: String,
}

impl Verdict {
    pub(crate) fn of<I: std::fmt::Display>(report: &event_store::verify::Report<I>) -> Self {
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
            intact: report.is_clean(),
            events,
            head,
            first_bad_version,
            defect,
            report: report.to_string(),
        }
    }
}

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
