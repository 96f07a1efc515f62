//! The ports of the event store, each named for one capability. Keyed by the plain aggregate id
//! (a UUID; a typed id such as `AuctionId` converts into it), so one backend holds every
//! aggregate's events.

use std::future::Future;

use chrono::{DateTime, Timelike, Utc};
use events::{Envelope, EventCodec};
use uuid::Uuid;

use crate::error::StoreError;
use crate::meter::Meter;
pub use crate::stored::StoredEvent;

/// How long an idempotency key is honoured: at least the 24 hours clients are promised.
pub const IDEMPOTENCY_RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(48);

impl StoredEvent {
    /// The event in the current model of the aggregate `C` reads, upcast from whatever schema
    /// version it was written in; an event of another aggregate type, or one that does not
    /// decode, is [`StoreError::OtherAggregate`] or [`StoreError::Corrupt`]. For the Auction: `stored.decode::<AuctionEvent>()`
    /// (often inferred from where the envelope goes).
    pub fn decode<C: EventCodec>(&self) -> Result<Envelope<C>, StoreError> {
        self.envelope.clone().decode_as::<C>().map_err(|e| match e {
            events::DecodeError::UnknownAggregateType(aggregate_type) => {
                StoreError::OtherAggregate {
                    aggregate_id: self.envelope.aggregate_id,
                    aggregate_type,
                }
            }
            e => StoreError::Corrupt {
                aggregate_id: self.envelope.aggregate_id,
                version: self.envelope.version,
                reason: e.to_string(),
            },
        })
    }
}

/// The append-only log of every aggregate's events.
pub trait EventLog: Send + Sync {
    /// Every event of `aggregate_id` with a version above `after`, in version order: strongly
    /// consistent, every page.
    fn read_after(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        after: u64,
        meter: &Meter,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// The events with versions `from..=to`, in version order.
    fn read_range(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        from: u64,
        to: u64,
        meter: &Meter,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Appends one command's events atomically: all or none. Their versions are contiguous and
    /// the first follows the version the decision saw; each write is conditional on its own
    /// `(aggregateId, version)` being free, so of two writers of a version exactly one wins and
    /// the other gets [`StoreError::VersionTaken`].
    fn append(
        &self,
        events: &[StoredEvent],
        meter: &Meter,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The events appended by the command with this scoped idempotency key, in version order,
    /// looking no further back than events that occurred at `not_before` (a key is honoured
    /// for [`IDEMPOTENCY_RETENTION`]). Taken by a retry the decision recognised (no events): for
    /// an aggregate that keeps idempotency records, only when the retry's record is missing.
    fn find_by_command_key(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        command_key: &str,
        not_before: DateTime<Utc>,
        meter: &Meter,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;
}

/// A shared log is a log: adapters that take one by value (the notary's prover) also take a
/// reference to a store that others use.
impl<T: EventLog + ?Sized> EventLog for &T {
    fn read_after(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        after: u64,
        meter: &Meter,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send {
        (**self).read_after(aggregate_id, after, meter)
    }

    fn read_range(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        from: u64,
        to: u64,
        meter: &Meter,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send {
        (**self).read_range(aggregate_id, from, to, meter)
    }

    fn append(
        &self,
        events: &[StoredEvent],
        meter: &Meter,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).append(events, meter)
    }

    fn find_by_command_key(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        command_key: &str,
        not_before: DateTime<Utc>,
        meter: &Meter,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send {
        (**self).find_by_command_key(aggregate_id, command_key, not_before, meter)
    }
}

/// One page of an aggregate's events, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct NewestPage {
    /// Newest first.
    pub events: Vec<StoredEvent>,
    /// Where the next, older page starts: its events have versions below this one. `None` when
    /// this page holds the aggregate's first event (or the aggregate has none).
    pub older_than: Option<u64>,
}

/// Pages of one aggregate's events, newest first: for people reading its recent history (the
/// bids on an auction), where reading the whole history would cost read units that grow with
/// it. A page is one read request for at most `limit` events, whatever the history's length.
pub trait NewestEvents: Send + Sync {
    /// At most `limit` events of `aggregate_id` with versions below `older_than` (from the
    /// newest when `None`), newest first; strongly consistent, so a caller's own accepted
    /// command is on its next page.
    fn newest_events(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        older_than: Option<u64>,
        limit: u32,
        meter: &Meter,
    ) -> impl Future<Output = Result<NewestPage, StoreError>> + Send;
}

/// The index over (`typeShard`, `typeOrder`) that the Events table keeps for audits: each event
/// type's entries spread over [`AUDIT_SHARDS`] partitions, read back in time order by a
/// scatter-gather (docs/event-store.md, "The audit index").
pub const BY_EVENT_TYPE: &str = conventions::names::EVENTS_BY_TYPE_INDEX;

/// Partitions per event type in the audit index. One partition takes about 1,000 writes a
/// second; sixteen lift the platform's cap on bids (every bid writes its type's entry) to about
/// 16,000 a second, at the price of sixteen Queries (0.5 RCU each at least) per page read.
pub const AUDIT_SHARDS: u32 = 16;

/// Where a listing of one event type stands: the last event it returned, whose place in the
/// audit index's order (`typeOrder`) is where the next page starts, in every partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypePosition {
    pub event_type: String,
    /// At millisecond precision, as the index holds it.
    pub occurred_at: DateTime<Utc>,
    pub aggregate_id: Uuid,
    pub version: u64,
}

impl TypePosition {
    /// The position of `event`: a listing that continues from it starts with the next one.
    pub fn of(event: &StoredEvent) -> Self {
        let envelope = &event.envelope;
        Self {
            event_type: envelope.event_type.clone(),
            occurred_at: to_millis(envelope.occurred_at),
            aggregate_id: envelope.aggregate_id,
            version: envelope.version,
        }
    }

    /// The order of a listing: time, then the event's own key (the audit index's `typeOrder`
    /// is this order as text).
    pub(crate) fn sort_key(&self) -> (DateTime<Utc>, Uuid, u64) {
        (to_millis(self.occurred_at), self.aggregate_id, self.version)
    }
}

/// One page of the events of one type whose `occurredAt` is within `from..=to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeQuery {
    pub event_type: String,
    /// Inclusive; compared at millisecond precision, as the store writes `occurredAt` (a bound
    /// finer than that is cut to the millisecond it falls in).
    pub from: DateTime<Utc>,
    /// Inclusive, like `from`.
    pub to: DateTime<Utc>,
    /// At most this many events; 0 reads as 1.
    pub limit: u32,
    /// Continue after this position (a previous page's `next`); `None` starts at `from`.
    pub after: Option<TypePosition>,
}

/// The inclusive time range an index read covers, cut to whole milliseconds.
pub(crate) type Bounds = (DateTime<Utc>, DateTime<Utc>);

impl TypeQuery {
    /// The first page of `event_type` in `from..=to`, `limit` events at most.
    pub fn new(
        event_type: impl Into<String>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Self {
        Self {
            event_type: event_type.into(),
            from,
            to,
            limit,
            after: None,
        }
    }

    /// The bounds as the index compares them: at millisecond precision, and within the years
    /// 0000 to 9999, where RFC 3339 text sorts as time does (no stored event is outside them).
    /// `None` when no instant is in the range.
    pub fn bounds(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let from = to_millis(self.from).max(earliest());
        let to = to_millis(self.to).min(latest());
        (from <= to).then_some((from, to))
    }

    /// Whether `after` can continue this query: a position of the same event type whose time
    /// is within the bounds (DynamoDB refuses a start key outside them). Always true without one.
    pub fn continues(&self) -> bool {
        let Some(after) = &self.after else {
            return true;
        };
        after.event_type == self.event_type
            && self
                .bounds()
                .is_some_and(|(from, to)| (from..=to).contains(&to_millis(after.occurred_at)))
    }

    /// What both backends check before they read: the bounds to read within (`None` when the
    /// range holds no instant: an empty page), or `Refused` for a start position that does not
    /// continue this query.
    pub(crate) fn checked_bounds(&self) -> Result<Option<Bounds>, StoreError> {
        if self.continues() {
            Ok(self.bounds())
        } else {
            Err(StoreError::Refused(
                "the start position does not continue this query".to_owned(),
            ))
        }
    }

    pub(crate) fn page_size(&self) -> usize {
        usize::try_from(self.limit.max(1)).unwrap_or(usize::MAX)
    }
}

/// A page of events of one type, in index order: `occurredAt`, then a tie-break that is the
/// same on every page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypePage {
    pub events: Vec<StoredEvent>,
    /// Where the next page starts, set when this one ended at the limit (or at DynamoDB's 1 MB
    /// page size): there may be more, and the next page may be empty.
    pub next: Option<TypePosition>,
}

/// Reading the events of one type within a time range, page by page (the audit index (`byTypeShard`)),
/// for audits and exports.
pub trait EventsOfType: Send + Sync {
    /// One page of `query`. A range with no instant in it is an empty page. A position that
    /// does not continue the query (see [`TypeQuery::continues`]) is [`StoreError::Refused`].
    fn events_of_type(
        &self,
        query: &TypeQuery,
    ) -> impl Future<Output = Result<TypePage, StoreError>> + Send;
}

/// `at` cut to the millisecond it falls in.
pub(crate) fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_nanosecond(at.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(at)
}

/// 0000-01-01T00:00:00.000Z: RFC 3339 has four-digit years, and DynamoDB compares the text.
fn earliest() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(-62_167_219_200, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// 9999-12-31T23:59:59.999Z.
fn latest() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 999_000_000)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The aggregate's state as of a version, so that loading reads a snapshot and a short tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub aggregate_id: Uuid,
    pub version: u64,
    /// The aggregate's [`events::Aggregate::SNAPSHOT_FORMAT`] when it was written; any
    /// other format is ignored and the state rebuilt from the events.
    pub format: u32,
    /// The chain hash of the event at `version`, which the next append chains from.
    pub head_hash: String,
    /// The state as JSON.
    pub state: String,
}

pub trait Snapshots: Send + Sync {
    fn get_snapshot(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        meter: &Meter,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send;

    /// Keeps `snapshot` unless a snapshot of a later version is already stored.
    fn put_snapshot(
        &self,
        snapshot: &Snapshot,
        meter: &Meter,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What a command with an idempotency key appended, so a retry returns the same outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The client's key scoped to its actor.
    pub command_key: String,
    pub aggregate_id: Uuid,
    /// Identifies the request the key was first used for; a different request under the same
    /// key is refused.
    pub fingerprint: String,
    pub first_version: u64,
    pub last_version: u64,
    pub recorded_at: DateTime<Utc>,
}

pub trait IdempotencyRecords: Send + Sync {
    fn get_record(
        &self,
        command_key: &str,
        meter: &Meter,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>, StoreError>> + Send;

    /// Keeps the first record for a key; a second put of the same key changes nothing.
    fn put_record(
        &self,
        record: &IdempotencyRecord,
        meter: &Meter,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
