//! The in-memory twin of the DynamoDB store, for fast handler tests. Same ports, same conflict
//! behaviour (a taken version is refused and the event holding it returned), same request
//! counting; capacity units are reported as zero.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreError;
use crate::log::{
    EventLog, EventsOfType, IdempotencyRecord, IdempotencyRecords, NewestEvents, NewestPage,
    Snapshot, Snapshots, TypePage, TypePosition, TypeQuery, to_millis,
};
use crate::meter::{Meter, Purpose, Usage};
use crate::stored::StoredEvent;

#[derive(Debug, Default)]
struct Tables {
    events: HashMap<Uuid, Vec<StoredEvent>>,
    snapshots: HashMap<Uuid, Snapshot>,
    records: HashMap<String, IdempotencyRecord>,
    /// Appends still to fail with [`StoreError::Contention`], for tests of the retry path.
    contended_appends: u32,
    /// Appends still to commit and then report [`StoreError::Contention`], as when DynamoDB
    /// commits a write and the response is lost on the way back.
    lost_responses: u32,
    /// Writes that took effect: events appended, snapshots and idempotency records put.
    writes: usize,
    /// Appends still to wait at `rendezvous` before they write, and the barrier they meet at.
    rendezvous_appends: usize,
    rendezvous: Option<Arc<tokio::sync::Barrier>>,
}

#[derive(Debug, Default)]
pub struct InMemoryStore {
    tables: Mutex<Tables>,
}

const ONE_READ: Usage = Usage {
    read_requests: 1,
    write_requests: 0,
    read_units: 0.0,
    write_units: 0.0,
    index_write_units: 0.0,
};

const ONE_WRITE: Usage = Usage {
    read_requests: 0,
    write_requests: 1,
    read_units: 0.0,
    write_units: 0.0,
    index_write_units: 0.0,
};

impl InMemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves whole values behind: keep going.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the next `appends` appends fail as DynamoDB throttling would.
    pub fn contend_next_appends(&self, appends: u32) {
        self.tables().contended_appends = appends;
    }

    /// Drops every idempotency record, as if the process had died between appending a
    /// command's events and recording its key.
    pub fn forget_idempotency_records(&self) {
        self.tables().records.clear();
    }

    /// The stored events of an aggregate that satisfy `keep`, in version order.
    fn select(&self, aggregate_id: Uuid, keep: impl Fn(&StoredEvent) -> bool) -> Vec<StoredEvent> {
        self.tables()
            .events
            .get(&aggregate_id)
            .map(|log| log.iter().filter(|e| keep(e)).cloned().collect())
            .unwrap_or_default()
    }

    /// Makes the next `appends` appends wait for each other before any of them writes, so that
    /// commands running at once have all decided on the same state: a race for one version, on
    /// every run, which real concurrency produces only some of the time.
    pub fn rendezvous_next_appends(&self, appends: usize) {
        let mut tables = self.tables();
        tables.rendezvous_appends = appends;
        tables.rendezvous = Some(Arc::new(tokio::sync::Barrier::new(appends)));
    }

    /// Makes the next `appends` appends commit and then fail as a lost response would.
    pub fn lose_next_append_responses(&self, appends: u32) {
        self.tables().lost_responses = appends;
    }

    /// How many writes succeeded so far (each appended event, snapshot put and idempotency
    /// record put counts one, as a DynamoDB write request would): tests of refused input check
    /// that it did not move.
    pub fn writes(&self) -> usize {
        self.tables().writes
    }

    /// Every stored event of an aggregate, for assertions.
    pub fn events(&self, aggregate_id: impl Into<Uuid>) -> Vec<StoredEvent> {
        self.select(aggregate_id.into(), |_| true)
    }

    /// Replaces a stored event as someone with write access to the table could, for tests of
    /// the tamper check.
    pub fn overwrite(&self, event: StoredEvent) {
        let mut tables = self.tables();
        let log = tables
            .events
            .entry(event.envelope.aggregate_id)
            .or_default();
        match log.iter_mut().find(|e| e.version() == event.version()) {
            Some(slot) => *slot = event,
            None => log.push(event),
        }
        log.sort_by_key(StoredEvent::version);
    }
}

impl NewestEvents for InMemoryStore {
    async fn newest_events(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        older_than: Option<u64>,
        limit: u32,
        meter: &Meter,
    ) -> Result<NewestPage, StoreError> {
        meter.record(Purpose::Load, ONE_READ);
        let mut older = self.select(aggregate_id.into(), |e| {
            older_than.is_none_or(|before| e.version() < before)
        });
        older.reverse();
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = older.len() > limit;
        older.truncate(limit);
        Ok(NewestPage {
            older_than: older.last().filter(|_| more).map(StoredEvent::version),
            events: older,
        })
    }
}

impl EventLog for InMemoryStore {
    async fn read_after(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        after: u64,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let aggregate_id = aggregate_id.into();
        meter.record(Purpose::Load, ONE_READ);
        Ok(self.select(aggregate_id, |e| e.version() > after))
    }

    async fn read_range(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        from: u64,
        to: u64,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let aggregate_id = aggregate_id.into();
        meter.record(Purpose::Idempotency, ONE_READ);
        Ok(self.select(aggregate_id, |e| (from..=to).contains(&e.version())))
    }

    async fn append(&self, events: &[StoredEvent], meter: &Meter) -> Result<(), StoreError> {
        meter.record(Purpose::Append, ONE_WRITE);
        let barrier = {
            let mut tables = self.tables();
            if tables.rendezvous_appends > 0 {
                tables.rendezvous_appends -= 1;
                tables.rendezvous.clone()
            } else {
                None
            }
        };
        if let Some(barrier) = barrier {
            barrier.wait().await;
        }
        let mut tables = self.tables();
        if tables.contended_appends > 0 {
            tables.contended_appends -= 1;
            return Err(StoreError::Contention("simulated throttling".to_owned()));
        }
        let Some(first) = events.first() else {
            return Ok(());
        };
        let aggregate_id = first.envelope.aggregate_id;
        let log = tables.events.entry(aggregate_id).or_default();
        // Every write is conditional on its own key: check them all before writing any.
        for event in events {
            if let Some(existing) = log.iter().find(|e| e.version() == event.version()) {
                return Err(StoreError::VersionTaken {
                    aggregate_id,
                    version: event.version(),
                    existing: Some(Box::new(existing.clone())),
                });
            }
        }
        log.extend(events.iter().cloned());
        log.sort_by_key(StoredEvent::version);
        tables.writes += events.len();
        if tables.lost_responses > 0 {
            tables.lost_responses -= 1;
            return Err(StoreError::Contention("simulated lost response".to_owned()));
        }
        Ok(())
    }

    async fn find_by_command_key(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        command_key: &str,
        not_before: DateTime<Utc>,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let aggregate_id = aggregate_id.into();
        meter.record(Purpose::Idempotency, ONE_READ);
        Ok(self.select(aggregate_id, |e| {
            e.envelope.occurred_at >= not_before && e.command_key().as_deref() == Some(command_key)
        }))
    }
}

impl EventsOfType for InMemoryStore {
    async fn events_of_type(&self, query: &TypeQuery) -> Result<TypePage, StoreError> {
        let Some((from, to)) = query.checked_bounds()? else {
            return Ok(TypePage::default());
        };
        let after = query.after.as_ref().map(TypePosition::sort_key);
        let mut found: Vec<(TypePosition, StoredEvent)> = self
            .tables()
            .events
            .values()
            .flatten()
            .filter(|event| {
                event.envelope.event_type == query.event_type
                    && (from..=to).contains(&to_millis(event.envelope.occurred_at))
            })
            .map(|event| (TypePosition::of(event), event.clone()))
            .filter(|(position, _)| after.is_none_or(|after| position.sort_key() > after))
            .collect();
        found.sort_by_key(|(position, _)| position.sort_key());
        found.truncate(query.page_size());
        // Like DynamoDB: a full page says there may be more, without looking.
        let next = (found.len() == query.page_size())
            .then(|| found.last().map(|(position, _)| position.clone()))
            .flatten();
        Ok(TypePage {
            events: found.into_iter().map(|(_, event)| event).collect(),
            next,
        })
    }
}

impl Snapshots for InMemoryStore {
    async fn get_snapshot(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        meter: &Meter,
    ) -> Result<Option<Snapshot>, StoreError> {
        let aggregate_id = aggregate_id.into();
        meter.record(Purpose::Load, ONE_READ);
        Ok(self.tables().snapshots.get(&aggregate_id).cloned())
    }

    async fn put_snapshot(&self, snapshot: &Snapshot, meter: &Meter) -> Result<(), StoreError> {
        meter.record(Purpose::Snapshot, ONE_WRITE);
        let mut tables = self.tables();
        let newer_exists = tables
            .snapshots
            .get(&snapshot.aggregate_id)
            .is_some_and(|stored| stored.version >= snapshot.version);
        if !newer_exists {
            tables
                .snapshots
                .insert(snapshot.aggregate_id, snapshot.clone());
        }
        tables.writes += 1;
        Ok(())
    }
}

impl IdempotencyRecords for InMemoryStore {
    async fn get_record(
        &self,
        command_key: &str,
        meter: &Meter,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        meter.record(Purpose::Idempotency, ONE_READ);
        Ok(self.tables().records.get(command_key).cloned())
    }

    async fn put_record(
        &self,
        record: &IdempotencyRecord,
        meter: &Meter,
    ) -> Result<(), StoreError> {
        meter.record(Purpose::Idempotency, ONE_WRITE);
        let mut tables = self.tables();
        tables
            .records
            .entry(record.command_key.clone())
            .or_insert_with(|| record.clone());
        tables.writes += 1;
        Ok(())
    }
}
