//! What each command costs in DynamoDB requests and capacity units, by purpose.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::Serialize;

/// Why a request was made, so that the cost of idempotency and snapshots is seen apart from
/// the command's own path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reading the aggregate: snapshot and tail.
    Load,
    /// Writing the command's events.
    Append,
    /// Looking up and writing idempotency records, and replaying a retried command's events.
    Idempotency,
    /// Writing snapshots.
    Snapshot,
}

/// Requests and capacity units as DynamoDB reports them (`ReturnConsumedCapacity`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub read_requests: u32,
    pub write_requests: u32,
    pub read_units: f64,
    /// Write units of the table itself.
    pub write_units: f64,
    /// Write units spent keeping global secondary indexes up to date.
    pub index_write_units: f64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.read_requests += other.read_requests;
        self.write_requests += other.write_requests;
        self.read_units += other.read_units;
        self.write_units += other.write_units;
        self.index_write_units += other.index_write_units;
    }
}

/// One command's usage, by purpose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub load: Usage,
    pub append: Usage,
    pub idempotency: Usage,
    pub snapshot: Usage,
}

impl Cost {
    pub fn add(&mut self, other: &Cost) {
        self.load.add(&other.load);
        self.append.add(&other.append);
        self.idempotency.add(&other.idempotency);
        self.snapshot.add(&other.snapshot);
    }

    pub fn total(&self) -> Usage {
        let mut total = Usage::default();
        for usage in [&self.load, &self.append, &self.idempotency, &self.snapshot] {
            total.add(usage);
        }
        total
    }
}

/// Collects usage while a command runs; shared by reference with every store call.
#[derive(Debug, Default)]
pub struct Meter {
    cost: Mutex<Cost>,
    /// Versions lost to another writer, each followed by deciding again.
    conflicts: AtomicU32,
}

impl Meter {
    pub fn record(&self, purpose: Purpose, usage: Usage) {
        // A poisoned lock only means another recording panicked; the numbers are still usable.
        let mut cost = self.cost.lock().unwrap_or_else(|e| e.into_inner());
        match purpose {
            Purpose::Load => cost.load.add(&usage),
            Purpose::Append => cost.append.add(&usage),
            Purpose::Idempotency => cost.idempotency.add(&usage),
            Purpose::Snapshot => cost.snapshot.add(&usage),
        }
    }

    pub fn cost(&self) -> Cost {
        *self.cost.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds what another meter measured: a command committed in a group gets its share.
    pub fn add(&self, cost: &Cost, conflicts: u32) {
        self.cost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(cost);
        self.conflicts.fetch_add(conflicts, Ordering::Relaxed);
    }

    /// Another writer took the version the command was appending at.
    pub fn conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times the commands metered here lost their version to another writer.
    pub fn conflicts(&self) -> u32 {
        self.conflicts.load(Ordering::Relaxed)
    }
}
