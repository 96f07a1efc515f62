//! Running one command against the log: load, decide, append, and what to do when that fails.
//! Generic over the aggregate (`S`, an [`Aggregate`]): the state is folded by `S::evolve`, the
//! events are written and read by `S::Codec`, snapshots carry `S::SNAPSHOT_FORMAT`. The
//! aggregate is inferred from the decision's first parameter (`|state: &State, now| ..`).

use std::any::Any;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lru::LruCache;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use events::{Actor, Aggregate, Envelope, EventCodec, Metadata};
use uuid::Uuid;

use crate::chain::{GENESIS, seal};
use crate::error::{CommandError, StoreError};
use crate::log::{
    EventLog, IDEMPOTENCY_RETENTION, IdempotencyRecord, IdempotencyRecords, Snapshot, Snapshots,
};
use crate::meter::{Cost, Meter};
use crate::stored::{StoredEvent, scoped_key};

/// A client's idempotency key for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The key as the client sent it (the `Idempotency-Key` header).
    pub key: String,
    /// Identifies the request (e.g. a hash of its method, path and body), so that the same key
    /// on a different request is refused instead of answered with another request's outcome.
    pub fingerprint: String,
}

/// Who issued a command, when, and how to trace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    /// Becomes every event's causationId.
    pub command_id: String,
    pub correlation_id: String,
    pub actor: Actor,
    pub idempotency_key: Option<IdempotencyKey>,
    /// The server's clock, read once for the whole command.
    pub now: DateTime<Utc>,
}

/// When and how snapshots are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// A snapshot is written each time an append crosses a multiple of this many events;
    /// 0 disables snapshots.
    pub every: u64,
    /// Write the snapshot after the command has returned (off its latency path) instead of
    /// before. Tests turn this off to observe snapshots deterministically.
    pub in_background: bool,
}

impl SnapshotPolicy {
    /// A snapshot every `every` events (0: none), written before the command returns, so that
    /// a test (or a tool) sees it at once.
    pub const fn inline(every: u64) -> Self {
        Self {
            every,
            in_background: false,
        }
    }
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        Self {
            every: 100,
            in_background: true,
        }
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<S: Aggregate> {
    /// The events the command appended. For a replayed retry, the events the first attempt
    /// appended; empty when the command had already taken effect some other way.
    pub events: Vec<Envelope<S::Codec>>,
    /// The aggregate as this attempt last saw it: after the events for a fresh command, the
    /// current state for a replay.
    pub state: S,
    /// The version of `state`: the number of events folded into it.
    pub version: u64,
    /// The answer repeats an earlier attempt's (same idempotency key).
    pub replayed: bool,
    pub cost: Cost,
}

/// The aggregate as loaded: its state, its version and the chain hash to append after. A
/// version of 0 is an aggregate with no events (its state is the initial one).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<S> {
    pub state: S,
    /// The number of events folded into `state`.
    pub version: u64,
    pub head_hash: String,
    /// The version of the snapshot the load started from, if any.
    pub snapshot_version: Option<u64>,
}

/// The event store: a backend implementing the three ports, plus the policies of the command
/// loop.
#[derive(Debug)]
pub struct Store<B> {
    pub(crate) backend: Arc<B>,
    snapshots: SnapshotPolicy,
    /// Attempts at deciding and appending before giving up on a busy aggregate.
    pub(crate) max_attempts: u32,
    /// Aggregates this process loaded recently, of any type: keyed by (aggregate type, id),
    /// each holding a `Loaded<S>` of its own `S`. Events are immutable, so a cached state is
    /// always a prefix of the log: a command decides on it without reading and appends at its
    /// version + 1, and reads the events after it only when another writer got there first.
    /// Shared by clones.
    cache: Option<Arc<Mutex<Cache>>>,
    /// Commands of one aggregate in this process take turns (see [`Turns`]). Shared by clones,
    /// like the cache: a store made by [`Store::with_cache`] is another process's, with its own.
    pub(crate) turns: Arc<Turns>,
    /// Commands waiting for a turn to commit them in a group (see [`Store::execute_grouped`]).
    pub(crate) queues: Arc<Queues>,
}

/// How many locks the aggregates of a process are spread over: two aggregates on one lock only
/// wait for each other, so this bounds how many commands of different aggregates run at once.
const TURN_LOCKS: usize = 1_024;

/// Commands of one aggregate in this process take turns: each decides on the state the one
/// before it committed, which the cache then holds, and appends without a rival from its own
/// process. Without turns, concurrent commands of a hot auction all decided on the same cached
/// version and all but one lost the race for it, each paying a refused write and a tail read
/// before deciding again. Only other processes' commands still race (the conditional append).
/// Striped: the aggregate's key picks one of [`TURN_LOCKS`] locks, so memory stays fixed.
pub(crate) struct Turns(Vec<Arc<tokio::sync::Mutex<()>>>);

impl Turns {
    fn new() -> Self {
        Self(
            (0..TURN_LOCKS)
                .map(|_| Arc::new(tokio::sync::Mutex::new(())))
                .collect(),
        )
    }

    /// The aggregate's turn, held until the guard is dropped, which may be in another task.
    pub(crate) async fn take_owned(&self, key: &CacheKey) -> tokio::sync::OwnedMutexGuard<()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let slot = usize::try_from(hasher.finish() % TURN_LOCKS as u64).unwrap_or(0);
        Arc::clone(&self.0[slot]).lock_owned().await
    }
}

impl std::fmt::Debug for Turns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Turns({} locks)", self.0.len())
    }
}

/// Commands waiting for their aggregate's turn, per aggregate: each entry a `Vec` of the group
/// commit's queued commands (group.rs) of its own aggregate type. Shared by clones of a store,
/// like its turns.
#[derive(Debug, Default)]
pub(crate) struct Queues(pub(crate) Mutex<HashMap<CacheKey, Box<dyn Any + Send>>>);

/// Loaded aggregates of any type, each a `Loaded<S>` of its own `S`.
type Cache = LruCache<CacheKey, Box<dyn Any + Send + Sync>>;

/// The stream's name (its aggregate type) and the aggregate's id.
pub(crate) type CacheKey = (&'static str, Uuid);

pub(crate) fn cache_key<S: Aggregate>(aggregate_id: S::Id) -> CacheKey {
    (
        <S::Codec as EventCodec>::AGGREGATE_TYPE,
        aggregate_id.into(),
    )
}

impl<B> Clone for Store<B> {
    fn clone(&self) -> Self {
        Self {
            backend: Arc::clone(&self.backend),
            snapshots: self.snapshots,
            max_attempts: self.max_attempts,
            cache: self.cache.clone(),
            turns: Arc::clone(&self.turns),
            queues: Arc::clone(&self.queues),
        }
    }
}

/// Aggregates kept by default: a few KB each.
const DEFAULT_CACHE_CAPACITY: usize = 1_000;

/// Loads an aggregate from a store; see [`Store::load`].
pub async fn load<S, B>(store: &Store<B>, aggregate_id: S::Id) -> Result<Loaded<S>, StoreError>
where
    S: Aggregate,
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
{
    store.load(aggregate_id, &Meter::default()).await
}

/// Runs one command; see [`Store::execute`].
pub async fn execute<S, B, F>(
    store: &Store<B>,
    aggregate_id: S::Id,
    context: &CommandContext,
    decide: F,
) -> Result<Outcome<S>, CommandError<S::Rejection>>
where
    S: Aggregate,
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    F: Fn(&S, DateTime<Utc>) -> Result<Vec<S::Event>, S::Rejection>,
{
    store.execute(aggregate_id, context, decide).await
}

const CONTENTION_RETRIES: u32 = 5;

impl<B> Store<B>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
{
    pub fn new(backend: B, snapshots: SnapshotPolicy) -> Self {
        Self {
            backend: Arc::new(backend),
            snapshots,
            max_attempts: 10,
            cache: NonZeroUsize::new(DEFAULT_CACHE_CAPACITY)
                .map(|capacity| Arc::new(Mutex::new(LruCache::new(capacity)))),
            turns: Arc::new(Turns::new()),
            queues: Arc::new(Queues::default()),
        }
    }

    /// Keeps up to `aggregates` recently used aggregates in memory (0 turns the cache off, so
    /// that every command loads from the snapshot). The store this returns is another process's
    /// as far as its clones are concerned: its own cache and its own turns.
    pub fn with_cache(mut self, aggregates: usize) -> Self {
        self.cache = NonZeroUsize::new(aggregates)
            .map(|capacity| Arc::new(Mutex::new(LruCache::new(capacity))));
        self.turns = Arc::new(Turns::new());
        self.queues = Arc::new(Queues::default());
        self
    }

    pub(crate) fn cached<S: Aggregate>(&self, aggregate_id: S::Id) -> Option<Loaded<S>> {
        let cache = self.cache.as_ref()?;
        // A poisoned cache holds whole values; a stale one is only a longer tail.
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&cache_key::<S>(aggregate_id))?
            .downcast_ref::<Loaded<S>>()
            .cloned()
    }

    pub(crate) fn remember<S: Aggregate>(&self, aggregate_id: S::Id, loaded: &Loaded<S>) {
        if let Some(cache) = &self.cache {
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.put(cache_key::<S>(aggregate_id), Box::new(loaded.clone()));
        }
    }

    pub(crate) fn forget<S: Aggregate>(&self, aggregate_id: S::Id) {
        if let Some(cache) = &self.cache {
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.pop(&cache_key::<S>(aggregate_id));
        }
    }

    /// The aggregate for a command, and whether it was read from the log just now: the cached
    /// state as it is (the append is conditional on its version, so a state behind the log
    /// costs a lost race, never a wrong commit), or a full load.
    pub(crate) async fn load_for_command<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        meter: &Meter,
    ) -> Result<(Loaded<S>, bool), StoreError> {
        match self.cached::<S>(aggregate_id) {
            Some(loaded) => Ok((loaded, false)),
            None => Ok((self.load(aggregate_id, meter).await?, true)),
        }
    }

    /// How many times a command may lose the race for its version before it gives up with
    /// [`StoreError::TooManyConflicts`] (default 10).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Loads the aggregate: the latest snapshot (if it is of the current format and readable),
    /// then every event after it, strongly consistent and fully paginated. Two read requests
    /// at any history length while snapshots keep the tail under 1 MB.
    /// Which aggregate comes from the result's type: annotate it where nothing else says
    /// (`store.load::<State>(id, &meter)`).
    pub async fn load<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        meter: &Meter,
    ) -> Result<Loaded<S>, StoreError> {
        let mut loaded = Loaded {
            state: S::default(),
            version: 0,
            head_hash: GENESIS.to_owned(),
            snapshot_version: None,
        };
        if self.snapshots.every > 0
            && let Some(snapshot) = self.backend.get_snapshot(aggregate_id, meter).await?
        {
            match restore::<S>(&snapshot) {
                Some(state) => {
                    loaded = Loaded {
                        state,
                        version: snapshot.version,
                        head_hash: snapshot.head_hash,
                        snapshot_version: Some(snapshot.version),
                    }
                }
                None => tracing::warn!(
                    %aggregate_id,
                    snapshot_version = snapshot.version,
                    snapshot_format = snapshot.format,
                    "ignoring a snapshot this code cannot read; replaying every event"
                ),
            }
        }
        let tail = self
            .backend
            .read_after(aggregate_id, loaded.version, meter)
            .await?;
        apply(&mut loaded, aggregate_id, &tail)?;
        Ok(loaded)
    }

    /// Runs one command: load (or take the cached state), `decide`, append at the next version;
    /// on a conflict with another writer, read only the tail and decide again (bounded, with
    /// jitter). A refusal decided on a cached state is checked against the tail first, so that
    /// no command is refused by a state the log has moved past. A command with an idempotency
    /// key that already took effect appends nothing and returns the first attempt's events.
    ///
    /// The aggregate is the decision's: `S` is inferred from `decide`'s first parameter. A
    /// refusal comes back as [`CommandError::Rejected`] with the aggregate's own rejection.
    pub async fn execute<S, F>(
        &self,
        aggregate_id: S::Id,
        context: &CommandContext,
        decide: F,
    ) -> Result<Outcome<S>, CommandError<S::Rejection>>
    where
        S: Aggregate,
        F: Fn(&S, DateTime<Utc>) -> Result<Vec<S::Event>, S::Rejection>,
    {
        self.execute_metered(aggregate_id, context, decide, &Meter::default())
            .await
    }

    /// [`Self::execute`], adding what the command costs and the versions it loses to `meter`,
    /// whatever the outcome: for a caller that reports a command's cost even when it is
    /// refused or fails, or meters several calls as one command. The outcome's `cost` is the
    /// meter's total so far.
    pub async fn execute_metered<S, F>(
        &self,
        aggregate_id: S::Id,
        context: &CommandContext,
        decide: F,
        meter: &Meter,
    ) -> Result<Outcome<S>, CommandError<S::Rejection>>
    where
        S: Aggregate,
        F: Fn(&S, DateTime<Utc>) -> Result<Vec<S::Event>, S::Rejection>,
    {
        let result = {
            let _turn = self.turns.take_owned(&cache_key::<S>(aggregate_id)).await;
            self.run(aggregate_id, context, &decide, meter).await
        };
        if let Err(CommandError::Store(StoreError::Corrupt { .. })) = &result {
            self.forget::<S>(aggregate_id);
        }
        log_outcome(aggregate_id, &result, meter);
        let cost = meter.cost();
        result.map(|outcome| Outcome { cost, ..outcome })
    }

    pub(crate) async fn run<S, F>(
        &self,
        aggregate_id: S::Id,
        context: &CommandContext,
        decide: &F,
        meter: &Meter,
    ) -> Result<Outcome<S>, CommandError<S::Rejection>>
    where
        S: Aggregate,
        F: Fn(&S, DateTime<Utc>) -> Result<Vec<S::Event>, S::Rejection>,
    {
        let command_key = context
            .idempotency_key
            .as_ref()
            .map(|key| scoped_key(&context.actor, &key.key));
        // The record lookup runs beside the load, so idempotency adds no latency; an aggregate
        // whose decisions recognise retries needs none.
        let record_lookup = async {
            match &command_key {
                Some(key) if !S::DECISIONS_RECOGNISE_RETRIES => {
                    self.backend.get_record(key, meter).await
                }
                _ => Ok(None),
            }
        };
        let (loaded, record) =
            tokio::join!(self.load_for_command(aggregate_id, meter), record_lookup);
        let (mut loaded, mut read_just_now) = loaded?;
        // Whatever this command does, a state just read is a prefix of the log (a cached one is
        // in the cache already).
        if read_just_now {
            self.remember(aggregate_id, &loaded);
        }
        if let Some(record) = record? {
            return Ok(self
                .replay(aggregate_id, context, &record, loaded, meter)
                .await?);
        }

        for attempt in 1..=self.max_attempts {
            let now = decision_time(context);
            let events = match decide(&loaded.state, now) {
                Ok(events) => events,
                Err(rejection) if !read_just_now => {
                    // The cached state may be behind the log: refuse only on the current one.
                    read_just_now = true;
                    if self.catch_up(aggregate_id, &mut loaded, meter).await? {
                        continue;
                    }
                    return Err(CommandError::Rejected(rejection));
                }
                Err(rejection) => return Err(CommandError::Rejected(rejection)),
            };
            if events.is_empty() {
                return Ok(self
                    .already_done(aggregate_id, context, command_key.as_deref(), loaded, meter)
                    .await?);
            }
            let stored = self.seal(aggregate_id, context, &loaded, &events, now)?;
            match self.append_riding_out_contention(&stored, meter).await {
                Ok(()) => {
                    return Ok(self
                        .committed(aggregate_id, context, command_key, loaded, stored, meter)
                        .await?);
                }
                Err(StoreError::VersionTaken { existing, .. }) => {
                    let ours = existing.as_deref().is_some_and(|existing| {
                        existing.envelope.event_id == stored[0].envelope.event_id
                            || (command_key.is_some() && existing.command_key() == command_key)
                    });
                    let tail = self
                        .backend
                        .read_after(aggregate_id, loaded.version, meter)
                        .await?;
                    if ours {
                        // Our own earlier attempt (a retried request, or a response lost in
                        // transit) already committed: answer with what it appended.
                        return Ok(self
                            .own_earlier_attempt(
                                aggregate_id,
                                context,
                                command_key,
                                loaded,
                                tail,
                                meter,
                            )
                            .await?);
                    }
                    apply(&mut loaded, aggregate_id, &tail)?;
                    read_just_now = true;
                    self.remember(aggregate_id, &loaded);
                    meter.conflict();
                    tracing::debug!(%aggregate_id, attempt, "another writer won; deciding again");
                    tokio::time::sleep(jitter(attempt, 5)).await;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::TooManyConflicts {
            aggregate_id: aggregate_id.into(),
            attempts: self.max_attempts,
        }
        .into())
    }

    /// Folds the events after `loaded` into it and caches the result; says whether there were
    /// any.
    pub(crate) async fn catch_up<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        loaded: &mut Loaded<S>,
        meter: &Meter,
    ) -> Result<bool, StoreError> {
        let tail = self
            .backend
            .read_after(aggregate_id, loaded.version, meter)
            .await?;
        apply(loaded, aggregate_id, &tail)?;
        self.remember(aggregate_id, loaded);
        Ok(!tail.is_empty())
    }

    pub(crate) fn seal<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        context: &CommandContext,
        loaded: &Loaded<S>,
        events: &[S::Event],
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let envelopes = (loaded.version + 1..)
            .zip(events)
            .map(|(version, event)| {
                Envelope::<S::Codec> {
                    event_id: Uuid::new_v4(),
                    aggregate_id,
                    version,
                    occurred_at: now,
                    event: event.clone(),
                    metadata: Metadata {
                        correlation_id: context.correlation_id.clone(),
                        causation_id: context.command_id.clone(),
                        actor: context.actor.clone(),
                        idempotency_key: context.idempotency_key.as_ref().map(|k| k.key.clone()),
                        // Stored with the commit itself, so that a reuse of the key is
                        // recognised even when the idempotency record is missing.
                        request_fingerprint: context
                            .idempotency_key
                            .as_ref()
                            .map(|k| k.fingerprint.clone()),
                    },
                }
                .to_raw()
                .map_err(|e| StoreError::Refused(format!("cannot encode event: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stored = seal(&loaded.head_hash, envelopes);
        stored.iter().try_for_each(crate::dynamodb::check_size)?;
        Ok(stored)
    }

    pub(crate) async fn append_riding_out_contention(
        &self,
        stored: &[StoredEvent],
        meter: &Meter,
    ) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match self.backend.append(stored, meter).await {
                Err(StoreError::Contention(reason)) if attempt < CONTENTION_RETRIES => {
                    attempt += 1;
                    tracing::debug!(%reason, attempt, "append throttled; backing off");
                    tokio::time::sleep(jitter(attempt, 20)).await;
                }
                other => return other,
            }
        }
    }

    async fn committed<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        context: &CommandContext,
        command_key: Option<String>,
        mut loaded: Loaded<S>,
        stored: Vec<StoredEvent>,
        meter: &Meter,
    ) -> Result<Outcome<S>, StoreError> {
        let previous_version = loaded.version;
        apply(&mut loaded, aggregate_id, &stored)?;
        self.remember(aggregate_id, &loaded);
        if let (false, Some(command_key), Some(key), Some(first), Some(last)) = (
            S::DECISIONS_RECOGNISE_RETRIES,
            command_key,
            &context.idempotency_key,
            stored.first(),
            stored.last(),
        ) {
            let record = IdempotencyRecord {
                command_key,
                aggregate_id: aggregate_id.into(),
                fingerprint: key.fingerprint.clone(),
                first_version: first.version(),
                last_version: last.version(),
                recorded_at: context.now,
            };
            // The events are committed whatever happens here; a retry finds them by their key
            // in the log if the record is missing.
            if let Err(error) = self.backend.put_record(&record, meter).await {
                tracing::warn!(%aggregate_id, %error, "idempotency record not written");
            }
        }
        self.maybe_snapshot(aggregate_id, previous_version, &loaded, meter)
            .await;
        Ok(Outcome {
            events: decode_all::<S>(&stored)?,
            state: loaded.state,
            version: loaded.version,
            replayed: false,
            cost: Cost::default(),
        })
    }

    pub(crate) async fn maybe_snapshot<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        previous_version: u64,
        loaded: &Loaded<S>,
        meter: &Meter,
    ) {
        let every = self.snapshots.every;
        if every == 0 || previous_version / every == loaded.version / every {
            return;
        }
        let state = match serde_json::to_string(&loaded.state) {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(%error, "state not serializable; no snapshot");
                return;
            }
        };
        let aggregate_id: Uuid = aggregate_id.into();
        let snapshot = Snapshot {
            aggregate_id,
            version: loaded.version,
            format: S::SNAPSHOT_FORMAT,
            head_hash: loaded.head_hash.clone(),
            state,
        };
        if self.snapshots.in_background {
            let backend = Arc::clone(&self.backend);
            tokio::spawn(async move {
                if let Err(error) = backend.put_snapshot(&snapshot, &Meter::default()).await {
                    tracing::warn!(%aggregate_id, %error, "snapshot not written");
                }
            });
        } else if let Err(error) = self.backend.put_snapshot(&snapshot, meter).await {
            tracing::warn!(%aggregate_id, %error, "snapshot not written");
        }
    }

    /// The record says this key already took effect.
    async fn replay<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        context: &CommandContext,
        record: &IdempotencyRecord,
        loaded: Loaded<S>,
        meter: &Meter,
    ) -> Result<Outcome<S>, StoreError> {
        let same_request = context
            .idempotency_key
            .as_ref()
            .is_some_and(|key| key.fingerprint == record.fingerprint);
        if !same_request || record.aggregate_id != aggregate_id.into() {
            return Err(StoreError::IdempotencyKeyReused);
        }
        let events = self
            .backend
            .read_range(
                aggregate_id,
                record.first_version,
                record.last_version,
                meter,
            )
            .await?;
        Ok(Outcome {
            events: decode_all::<S>(&events)?,
            state: loaded.state,
            version: loaded.version,
            replayed: true,
            cost: Cost::default(),
        })
    }

    /// The decision emitted nothing: the command took effect before. With a key, find what it
    /// appended (its record may be missing if the process died between append and record), and
    /// refuse it if that was another request under the same key.
    async fn already_done<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        context: &CommandContext,
        command_key: Option<&str>,
        loaded: Loaded<S>,
        meter: &Meter,
    ) -> Result<Outcome<S>, StoreError> {
        let mut events = Vec::new();
        if let Some(command_key) = command_key {
            let found = self
                .backend
                .find_by_command_key(
                    aggregate_id,
                    command_key,
                    context.now - IDEMPOTENCY_RETENTION,
                    meter,
                )
                .await?;
            same_request(context, &found)?;
            if let (false, Some(first), Some(last), Some(key)) = (
                S::DECISIONS_RECOGNISE_RETRIES,
                found.first(),
                found.last(),
                &context.idempotency_key,
            ) {
                let record = IdempotencyRecord {
                    command_key: command_key.to_owned(),
                    aggregate_id: aggregate_id.into(),
                    fingerprint: key.fingerprint.clone(),
                    first_version: first.version(),
                    last_version: last.version(),
                    recorded_at: first.envelope.occurred_at,
                };
                if let Err(error) = self.backend.put_record(&record, meter).await {
                    tracing::warn!(%aggregate_id, %error, "idempotency record not repaired");
                }
            }
            events = decode_all::<S>(&found)?;
        }
        Ok(Outcome {
            replayed: !events.is_empty(),
            events,
            state: loaded.state,
            version: loaded.version,
            cost: Cost::default(),
        })
    }

    /// Lost the race for a version to an event carrying this command's key or event id. By
    /// key, it may be a concurrent request with another body under the same key: the commit is
    /// found and compared like any other "already done".
    async fn own_earlier_attempt<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        context: &CommandContext,
        command_key: Option<String>,
        mut loaded: Loaded<S>,
        tail: Vec<StoredEvent>,
        meter: &Meter,
    ) -> Result<Outcome<S>, StoreError> {
        apply(&mut loaded, aggregate_id, &tail)?;
        match command_key {
            Some(command_key) => {
                self.already_done(aggregate_id, context, Some(&command_key), loaded, meter)
                    .await
            }
            // Recognised by event id: our commit is in the tail, perhaps followed by others'.
            None => Ok(Outcome {
                events: decode_all::<S>(
                    &tail
                        .into_iter()
                        .filter(|e| e.envelope.metadata.causation_id == context.command_id)
                        .collect::<Vec<_>>(),
                )?,
                state: loaded.state,
                version: loaded.version,
                replayed: true,
                cost: Cost::default(),
            }),
        }
    }
}

/// The command's clock reading as its events carry it. Money and audit trails want one reading,
/// at millisecond precision so that the stored timestamp reads back exactly.
pub(crate) fn decision_time(context: &CommandContext) -> DateTime<Utc> {
    context
        .now
        .duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(context.now)
}

/// One line per command: what it did and what it cost.
pub(crate) fn log_outcome<S: Aggregate>(
    aggregate_id: S::Id,
    result: &Result<Outcome<S>, CommandError<S::Rejection>>,
    meter: &Meter,
) {
    let cost = meter.cost();
    let total = cost.total();
    match result {
        Ok(outcome) => tracing::info!(
            %aggregate_id,
            version = outcome.version,
            appended = outcome.events.len(),
            replayed = outcome.replayed,
            read_requests = total.read_requests,
            write_requests = total.write_requests,
            read_units = total.read_units,
            write_units = total.write_units,
            index_write_units = total.index_write_units,
            idempotency_write_units = cost.idempotency.write_units,
            "command done"
        ),
        Err(error) => tracing::debug!(
            %aggregate_id,
            %error,
            read_requests = total.read_requests,
            write_requests = total.write_requests,
            "command not done"
        ),
    }
}

/// Whether the commit found under this command's key was made by the same request: every path
/// that answers "already done" asks this, so a key reused on another body is refused even when
/// the decision emitted nothing or the record is gone. A commit written before fingerprints were
/// stored with events carries none and counts as the same request: that is what the store
/// answered for it before, and its record (when there is one) still compares.
fn same_request(context: &CommandContext, commit: &[StoredEvent]) -> Result<(), StoreError> {
    let ours = context
        .idempotency_key
        .as_ref()
        .map(|k| k.fingerprint.as_str());
    let other = commit.iter().any(|event| {
        event
            .envelope
            .metadata
            .request_fingerprint
            .as_deref()
            .is_some_and(|stored| Some(stored) != ours)
    });
    if other {
        Err(StoreError::IdempotencyKeyReused)
    } else {
        Ok(())
    }
}

/// The state a snapshot holds, if it is of the aggregate's current format and reads back.
pub(crate) fn restore<S: Aggregate>(snapshot: &Snapshot) -> Option<S> {
    if snapshot.format != S::SNAPSHOT_FORMAT {
        return None;
    }
    serde_json::from_str(&snapshot.state).ok()
}

/// Folds stored events into a loaded aggregate, insisting on contiguous versions.
pub(crate) fn apply<S: Aggregate>(
    loaded: &mut Loaded<S>,
    aggregate_id: S::Id,
    events: &[StoredEvent],
) -> Result<(), StoreError> {
    for stored in events {
        let expected = loaded.version + 1;
        if stored.version() != expected {
            return Err(StoreError::Corrupt {
                aggregate_id: aggregate_id.into(),
                version: expected,
                reason: format!("the log jumps to version {}", stored.version()),
            });
        }
        let envelope = stored.decode::<S::Codec>()?;
        loaded.state = std::mem::take(&mut loaded.state).evolve(&envelope.event);
        loaded.version = expected;
        loaded.head_hash = stored.hash.clone();
    }
    Ok(())
}

pub(crate) fn decode_all<S: Aggregate>(
    events: &[StoredEvent],
) -> Result<Vec<Envelope<S::Codec>>, StoreError> {
    events.iter().map(StoredEvent::decode::<S::Codec>).collect()
}

/// Exponential backoff with full jitter: `base_ms * 2^attempt`, capped at one second.
pub(crate) fn jitter(attempt: u32, base_ms: u64) -> Duration {
    let ceiling = base_ms.saturating_mul(1 << attempt.min(10)).min(1_000);
    Duration::from_millis(fastrand::u64(0..=ceiling))
}
