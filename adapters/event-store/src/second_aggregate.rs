//! A second aggregate, defined here and nowhere else: a counter with its own id, events, codec,
//! rejection and snapshot format, run through the command loop, snapshots, idempotency, time
//! travel and verification on the in-memory twin. Proves that nothing in the store is the
//! Auction's: this compiles and passes without naming any Auction type.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt;

use chrono::{DateTime, Utc};
use events::{Actor, Aggregate, DecodeError, EventCodec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    CommandContext, CommandError, IdempotencyKey, InMemoryStore, Meter, SnapshotPolicy, Snapshots,
    Store, StoreError, history, verify,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct CounterId(Uuid);

impl fmt::Display for CounterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Uuid> for CounterId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl From<CounterId> for Uuid {
    fn from(id: CounterId) -> Self {
        id.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum CounterEvent {
    Added { by: u32 },
}

/// The counter's codec, with an upcaster: v1 `{"n": ..}` reads as the current `{"by": ..}`.
#[derive(Debug, Clone, PartialEq)]
struct CounterCodec;

impl EventCodec for CounterCodec {
    type Event = CounterEvent;
    type Id = CounterId;
    const AGGREGATE_TYPE: &'static str = "Counter";

    fn event_type(_: &CounterEvent) -> &'static str {
        "Added"
    }

    fn schema_version(_: &CounterEvent) -> u32 {
        2
    }

    fn decode(event_type: &str, version: u32, payload: Value) -> Result<CounterEvent, DecodeError> {
        let field = match (event_type, version) {
            ("Added", 1) => "n",
            ("Added", 2) => "by",
            ("Added", _) => {
                return Err(DecodeError::UnknownSchemaVersion {
                    event_type: "Added",
                    found: version,
                });
            }
            (other, _) => return Err(DecodeError::UnknownEventType(other.to_owned())),
        };
        let by = payload[field]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| DecodeError::InvalidPayload {
                event_type: "Added",
                schema_version: version,
                reason: format!("{field} is not a count"),
            })?;
        Ok(CounterEvent::Added { by })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Counter {
    total: u64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("the counter is capped at {0}")]
struct Capped(u64);

impl Aggregate for Counter {
    type Event = CounterEvent;
    type Id = CounterId;
    type Rejection = Capped;
    type Codec = CounterCodec;
    const SNAPSHOT_FORMAT: u32 = 7;

    fn evolve(self, event: &CounterEvent) -> Self {
        match event {
            CounterEvent::Added { by } => Self {
                total: self.total + u64::from(*by),
            },
        }
    }
}

const CAP: u64 = 10;

fn add(by: u32) -> impl Fn(&Counter, DateTime<Utc>) -> Result<Vec<CounterEvent>, Capped> {
    move |counter, _| {
        if counter.total + u64::from(by) > CAP {
            Err(Capped(CAP))
        } else {
            Ok(vec![CounterEvent::Added { by }])
        }
    }
}

fn context(key: Option<&str>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: Uuid::new_v4().to_string(),
        actor: Actor::System {
            name: "counter-test".to_owned(),
        },
        idempotency_key: key.map(|key| IdempotencyKey {
            key: key.to_owned(),
            fingerprint: format!("fp-{key}"),
        }),
        now: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_second_aggregate_runs_through_commands_snapshots_idempotency_and_time_travel() {
    runtime().block_on(async {
        let store = Store::new(InMemoryStore::new(), SnapshotPolicy::inline(2));
        let id = CounterId(Uuid::new_v4());

        // Commands: the aggregate is inferred from the decision, events are the counter's own
        let first = store.execute(id, &context(None), add(3)).await.unwrap();
        assert_eq!((first.state.total, first.version), (3, 1));
        assert_eq!(first.events[0].aggregate_id, id);
        assert_eq!(first.events[0].event, CounterEvent::Added { by: 3 });
        let stored = store.backend().events(id);
        assert_eq!(stored[0].envelope.aggregate_type, "Counter");
        assert_eq!(stored[0].envelope.payload, serde_json::json!({"by": 3}));

        // A refusal is the counter's own rejection, and writes nothing
        let writes = store.backend().writes();
        let refused = store.execute(id, &context(None), add(20)).await;
        assert!(
            matches!(refused, Err(CommandError::Rejected(Capped(CAP)))),
            "{refused:?}"
        );
        assert_eq!(store.backend().writes(), writes);

        // Idempotency: a retry under the same key appends nothing and answers the first result
        let keyed = store
            .execute(id, &context(Some("k")), add(4))
            .await
            .unwrap();
        let retried = store
            .execute(id, &context(Some("k")), add(4))
            .await
            .unwrap();
        assert!(retried.replayed);
        assert_eq!(retried.events, keyed.events);
        assert_eq!(store.backend().events(id).len(), 2);
        // The counter's decisions do not recognise retries, so the store keeps a record for
        // its keyed commands: another request under the key is refused by the record
        const { assert!(!Counter::DECISIONS_RECOGNISE_RETRIES) };
        let mut other_body = context(Some("k"));
        if let Some(key) = other_body.idempotency_key.as_mut() {
            key.fingerprint = "fp-another-body".to_owned();
        }
        let reused = store.execute(id, &other_body, add(1)).await;
        assert!(
            matches!(
                reused,
                Err(CommandError::Store(StoreError::IdempotencyKeyReused))
            ),
            "{reused:?}"
        );
        assert_eq!(store.backend().events(id).len(), 2);

        // Snapshots: written at version 2 in the counter's format, and loaded from
        let meter = Meter::default();
        let snapshot = store
            .backend()
            .get_snapshot(id, &meter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (snapshot.version, snapshot.format),
            (2, Counter::SNAPSHOT_FORMAT)
        );
        let cold = Store::new(InMemoryStore::new(), SnapshotPolicy::default());
        for event in store.backend().events(id) {
            cold.backend().overwrite(event);
        }
        cold.backend()
            .put_snapshot(&snapshot, &meter)
            .await
            .unwrap();
        let loaded = cold.load::<Counter>(id, &meter).await.unwrap();
        assert_eq!((loaded.state.total, loaded.version), (7, 2));
        assert_eq!(loaded.snapshot_version, Some(2));

        // Time travel and the hash chain, generic too
        let at_one = crate::state_at::<Counter, _>(store.backend(), id, 1, &meter)
            .await
            .unwrap();
        assert_eq!(at_one.total, 3);
        let steps = history::history::<Counter, _>(store.backend(), id)
            .await
            .unwrap();
        assert_eq!(
            steps.iter().map(|s| s.state.total).collect::<Vec<_>>(),
            [3, 7]
        );
        let report = verify::verify::<CounterCodec, _>(store.backend(), id)
            .await
            .unwrap();
        assert!(report.is_clean(), "{report}");
        assert!(report.to_string().starts_with("counter "));
    });
}

#[test]
fn a_second_aggregates_old_schema_version_is_upcast_and_another_stream_is_refused() {
    runtime().block_on(async {
        let store = Store::new(InMemoryStore::new(), SnapshotPolicy::default());
        let id = CounterId(Uuid::new_v4());
        store.execute(id, &context(None), add(1)).await.unwrap();
        // An event stored at schema version 1 reads as the current model
        let mut old = store.backend().events(id).remove(0);
        old.envelope.schema_version = 1;
        old.envelope.payload = serde_json::json!({"n": 5});
        assert_eq!(
            old.decode::<CounterCodec>().unwrap().event,
            CounterEvent::Added { by: 5 }
        );
        // The counter's events are not another aggregate's
        old.envelope.aggregate_type = "Auction".to_owned();
        assert!(old.decode::<CounterCodec>().is_err());
    });
}
