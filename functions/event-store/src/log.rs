//! The ports of the event store, each named for one capability.

use std::future::Future;

use auction_events::{Actor, AuctionId, EventEnvelope, RawEnvelope};
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::meter::Meter;

/// How long an idempotency key is honoured: at least the 24 hours clients are promised.
pub const IDEMPOTENCY_RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(48);

/// One event as stored: its wire envelope (payload not yet upcast) and its chain hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub envelope: RawEnvelope,
    /// Hex SHA-256 over the previous event's hash and this event's canonical content.
    pub hash: String,
}

impl StoredEvent {
    pub fn version(&self) -> u64 {
        self.envelope.version
    }

    /// The event in the current model, upcast from whatever schema version it was written in.
    pub fn decode(&self) -> Result<EventEnvelope, StoreError> {
        self.envelope
            .clone()
            .decode()
            .map_err(|e| StoreError::Corrupt {
                aggregate_id: self.envelope.aggregate_id,
                version: self.envelope.version,
                reason: e.to_string(),
            })
    }

    /// The idempotency key of the command that appended this event, scoped to its actor.
    pub fn command_key(&self) -> Option<String> {
        let metadata = &self.envelope.metadata;
        metadata
            .idempotency_key
            .as_deref()
            .map(|key| scoped_key(&metadata.actor, key))
    }
}

/// Idempotency keys are chosen by clients, so they are only unique per actor.
pub(crate) fn scoped_key(actor: &Actor, key: &str) -> String {
    match actor {
        Actor::User { id } => format!("user:{id}#{key}"),
        Actor::System { name } => format!("system:{name}#{key}"),
    }
}

/// The append-only log of every aggregate's events.
pub trait EventLog: Send + Sync {
    /// Every event of `aggregate_id` with a version above `after`, in version order: strongly
    /// consistent, every page.
    fn read_after(
        &self,
        aggregate_id: AuctionId,
        after: u64,
        meter: &Meter,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// The events with versions `from..=to`, in version order.
    fn read_range(
        &self,
        aggregate_id: AuctionId,
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
    /// for [`IDEMPOTENCY_RETENTION`]). A slow path, taken only when a retry's record is missing.
    fn find_by_command_key(
        &self,
        aggregate_id: AuctionId,
        command_key: &str,
        not_before: DateTime<Utc>,
        meter: &Meter,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;
}

/// The aggregate's state as of a version, so that loading reads a snapshot and a short tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub aggregate_id: AuctionId,
    pub version: u64,
    /// The domain's [`auction_domain::SNAPSHOT_FORMAT`] when it was written; any other format
    /// is ignored and the state rebuilt from the events.
    pub format: u32,
    /// The chain hash of the event at `version`, which the next append chains from.
    pub head_hash: String,
    /// The state as JSON.
    pub state: String,
}

pub trait Snapshots: Send + Sync {
    fn get_snapshot(
        &self,
        aggregate_id: AuctionId,
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
    pub aggregate_id: AuctionId,
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

/// The aggregate after exactly the events `1..=version`: the latest snapshot when it is not
/// past `version` (one past it would include later events), then the events up to `version`,
/// folded by the domain's own `evolve`. For consumers that describe an event with the state it
/// produced (who was told, how many bids), whenever they handle it. The result's `version` is
/// below `version` when the log ends earlier or has a gap; callers decide what that means.
pub async fn state_at<B: EventLog + Snapshots>(
    backend: &B,
    aggregate_id: AuctionId,
    version: u64,
    meter: &Meter,
) -> Result<auction_domain::State, StoreError> {
    let mut state = backend
        .get_snapshot(aggregate_id, meter)
        .await?
        .filter(|snapshot| {
            snapshot.version <= version && snapshot.format == auction_domain::SNAPSHOT_FORMAT
        })
        .and_then(|snapshot| serde_json::from_str::<auction_domain::State>(&snapshot.state).ok())
        .unwrap_or_default();
    if state.version < version {
        let tail = backend
            .read_range(aggregate_id, state.version + 1, version, meter)
            .await?;
        for stored in &tail {
            if stored.version() != state.version + 1 {
                break;
            }
            state = auction_domain::evolve(state, &stored.decode()?.event);
        }
    }
    Ok(state)
}
