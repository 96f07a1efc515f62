//! Group commit: the commands of one aggregate that queue up in this process while another is
//! appending are decided in order, each on the state the one before it produced, and their
//! events appended in one request. On a hot auction the appends per second stop being the
//! limit: a round trip carries as many bids as arrived during the last one.
//!
//! What a group costs and asks (docs/event-store.md, "Hot aggregates"): a conditional write of
//! several items is a transaction, 2 WCU an item where single PutItems are 1; a command refused
//! (or found already done) on a state holding its group's uncommitted events is decided again
//! alone once they commit, on the log's state, as every refusal is; and the store runs the
//! callers' decisions in the task that commits, so they must be `'static`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use events::Aggregate;
use tracing::Instrument;

use crate::Store;
use crate::command::{
    CacheKey, CommandContext, Loaded, Outcome, Queues, cache_key, decision_time, jitter,
};
use crate::error::{CommandError, StoreError};
use crate::log::{EventLog, IdempotencyRecords, Snapshots};
use crate::meter::{Cost, Meter};
use crate::stored::StoredEvent;

/// Events one group appends at most: well under DynamoDB's 100 items (and 4 MB) a transaction,
/// and few enough that the first command of a group does not wait long for the last.
pub(crate) const GROUP_EVENTS: usize = 25;

/// Commands queued at least, for a group: a transaction takes about twice a PutItem's time, so
/// committing two together gains the second nothing; from three on the queue drains faster.
pub(crate) const GROUP_MIN: usize = 3;

/// A caller's decision, owned so that whichever task commits the group can run it.
type Decision<S> = Arc<
    dyn Fn(&S, DateTime<Utc>) -> Result<Vec<<S as Aggregate>::Event>, <S as Aggregate>::Rejection>
        + Send
        + Sync,
>;

/// What a queued command gets back: its outcome, and what it cost. A group's requests are
/// counted once, on its first command, so that the costs of all commands add up to what the
/// table was sent.
type Answer<S> = (
    Result<Outcome<S>, CommandError<<S as Aggregate>::Rejection>>,
    Cost,
    u32,
);

/// One command waiting for its group.
pub(crate) struct Queued<S: Aggregate> {
    context: CommandContext,
    decide: Decision<S>,
    reply: tokio::sync::oneshot::Sender<Answer<S>>,
}

// The queues' storage is the store's (command.rs); what goes in them, and how, is the group's.
impl Queues {
    /// Queues a command; gives it back if the key holds another aggregate's queue (it cannot:
    /// the key names the aggregate type).
    fn push<S: Aggregate>(&self, key: CacheKey, queued: Queued<S>) -> Result<(), Box<Queued<S>>> {
        let mut queues = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = queues
            .entry(key)
            .or_insert_with(|| Box::new(Vec::<Queued<S>>::new()));
        match entry.downcast_mut::<Vec<Queued<S>>>() {
            Some(queue) => {
                queue.push(queued);
                Ok(())
            }
            None => Err(Box::new(queued)),
        }
    }

    /// The aggregate's queued commands, without those whose callers stopped waiting before
    /// their turn came: a command nobody waits for any more is not run later at its old time.
    fn take<S: Aggregate>(&self, key: &CacheKey) -> Vec<Queued<S>> {
        let mut queues = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut queued = queues
            .remove(key)
            .and_then(|queue| queue.downcast::<Vec<Queued<S>>>().ok())
            .map(|queue| *queue)
            .unwrap_or_default();
        queued.retain(|queued| !queued.reply.is_closed());
        queued
    }
}

/// One round's decisions, in the order the commands came.
struct Round<S: Aggregate> {
    /// Appended together.
    members: Vec<Member<S>>,
    /// Refused on the log's state plus the members: answered once the members commit.
    refused: Vec<(Queued<S>, S::Rejection)>,
    /// Refused on a cached state: decided again after reading the tail.
    again: Vec<Queued<S>>,
    /// Nothing to append (already done), or too large for a group: run alone after the round.
    alone: Vec<Queued<S>>,
    /// Did not fit: the next round's.
    rest: Vec<Queued<S>>,
}

impl<S: Aggregate> Round<S> {
    /// Every command of the round, members first, to decide again.
    fn into_queued(self) -> Vec<Queued<S>> {
        let members = self.members.into_iter().map(|member| member.queued);
        let refused = self.refused.into_iter().map(|(queued, _)| queued);
        members
            .chain(refused)
            .chain(self.again)
            .chain(self.alone)
            .chain(self.rest)
            .collect()
    }
}

/// A command of the group being formed: its events, sealed at their versions, and the state
/// after them.
struct Member<S: Aggregate> {
    queued: Queued<S>,
    stored: Vec<StoredEvent>,
    state: S,
    version: u64,
}

impl<B> Store<B>
where
    B: EventLog + Snapshots + IdempotencyRecords + Send + Sync + 'static,
{
    /// [`Store::execute_metered`], committed with the commands of the same aggregate that
    /// queue up in this process meanwhile: while one group appends, the commands arriving
    /// wait; the next turn decides them in order, each on the state the one before it
    /// produced, and appends all their events in one request (a transaction), answering each
    /// when it lands. A command alone appends alone, as `execute_metered` does.
    ///
    /// Each answer is the command's own: its events, the state after them, its refusal. A
    /// refusal stands only on the log's state: one decided on a state just read plus the
    /// members before it is given once they commit, one decided on a cached state is decided
    /// again on the tail after the group. A command found already done (a retry) runs alone
    /// after the group. A group that loses its version to another process is decided again on
    /// the new tail. A command with an idempotency key for an aggregate whose decisions do
    /// not recognise retries runs alone (its record is read beside its load). The group is
    /// committed in a task of its own, so a caller that stops waiting (a closed connection)
    /// stops no one else's command.
    pub async fn execute_grouped<S, F>(
        &self,
        aggregate_id: S::Id,
        context: &CommandContext,
        decide: F,
        meter: &Meter,
    ) -> Result<Outcome<S>, CommandError<S::Rejection>>
    where
        S: Aggregate,
        F: Fn(&S, DateTime<Utc>) -> Result<Vec<S::Event>, S::Rejection> + Send + Sync + 'static,
    {
        if context.idempotency_key.is_some() && !S::DECISIONS_RECOGNISE_RETRIES {
            return self
                .execute_metered(aggregate_id, context, decide, meter)
                .await;
        }
        let key = cache_key::<S>(aggregate_id);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = Queued {
            context: context.clone(),
            decide: Arc::new(decide),
            reply,
        };
        if let Err(queued) = self.queues.push(key, queued) {
            let decide = queued.decide;
            return self
                .execute_metered(
                    aggregate_id,
                    context,
                    move |s: &S, now| decide(s, now),
                    meter,
                )
                .await;
        }
        let turn = self.turns.take_owned(&key).await;
        let queued = self.queues.take::<S>(&key);
        if queued.is_empty() {
            // An earlier turn took this command into its group.
            drop(turn);
        } else {
            let store = self.clone();
            tokio::spawn(
                async move {
                    store.commit_groups(aggregate_id, queued).await;
                    drop(turn);
                }
                .instrument(tracing::Span::current()),
            );
        }
        let (result, cost, conflicts) = answer.await.map_err(|_| {
            // The task committing it panicked: its events may or may not be in the log, and
            // a retry with the same key finds out which.
            CommandError::Store(StoreError::Unavailable(
                "the command's group stopped before answering".to_owned(),
            ))
        })?;
        meter.add(&cost, conflicts);
        crate::command::log_outcome(aggregate_id, &result, meter);
        let cost = meter.cost();
        result.map(|outcome| Outcome { cost, ..outcome })
    }

    /// Commits the queued commands in rounds, each a group of at most [`GROUP_EVENTS`] events,
    /// and answers each command.
    async fn commit_groups<S: Aggregate>(&self, aggregate_id: S::Id, queued: Vec<Queued<S>>) {
        if queued.len() < GROUP_MIN {
            return self.each_alone(aggregate_id, queued).await;
        }
        let mut meter = Meter::default();
        let (mut loaded, mut fresh) = match self.load_for_command::<S>(aggregate_id, &meter).await {
            Ok(loaded) => loaded,
            Err(_) => return self.each_alone(aggregate_id, queued).await,
        };
        if fresh {
            self.remember(aggregate_id, &loaded);
        }
        let mut pending = queued;
        let mut attempts = 0;
        // Ends: a round answers at least one command (commands left over only come after
        // members), or has only refusals on a cached state, which the next round decides on the
        // tail just read, where a refusal is final.
        while !pending.is_empty() {
            let round = self.decide_in_order(aggregate_id, &loaded, fresh, pending);
            let events: Vec<StoredEvent> = round
                .members
                .iter()
                .flat_map(|member| member.stored.iter().cloned())
                .collect();
            let appended = match events.first() {
                None => Ok(()),
                Some(first) => match self.append_riding_out_contention(&events, &meter).await {
                    // A transaction lands whole: if its first event is in the log, all of it
                    // is (an earlier try whose response was lost).
                    Err(StoreError::VersionTaken {
                        existing: Some(existing),
                        ..
                    }) if existing.envelope.event_id == first.envelope.event_id => Ok(()),
                    other => other,
                },
            };
            match appended {
                Ok(()) => {
                    let round_meter = std::mem::take(&mut meter);
                    if !round.members.is_empty() {
                        loaded = self
                            .answer_members(aggregate_id, loaded, round.members, round_meter)
                            .await;
                        fresh = false;
                    }
                    for (queued, rejection) in round.refused {
                        let _ = queued.reply.send((
                            Err(CommandError::Rejected(rejection)),
                            Cost::default(),
                            0,
                        ));
                    }
                    if !round.alone.is_empty() {
                        self.each_alone(aggregate_id, round.alone).await;
                        // Those may have appended: go on from what the process knows now,
                        // which is not a state just read.
                        if let Some(known) = self.cached::<S>(aggregate_id) {
                            loaded = known;
                        }
                        fresh = false;
                    }
                    // Refused on a state the log may have moved past: decided again on the tail.
                    if !round.again.is_empty() {
                        if self
                            .catch_up(aggregate_id, &mut loaded, &meter)
                            .await
                            .is_err()
                        {
                            let all = round.again.into_iter().chain(round.rest).collect();
                            return self.each_alone(aggregate_id, all).await;
                        }
                        fresh = true;
                    }
                    pending = round.again.into_iter().chain(round.rest).collect();
                }
                Err(StoreError::VersionTaken { .. }) if attempts + 1 < self.max_attempts => {
                    attempts += 1;
                    meter.conflict();
                    tracing::debug!(%aggregate_id, attempts, "another writer won; deciding the group again");
                    pending = round.into_queued();
                    if self
                        .catch_up(aggregate_id, &mut loaded, &meter)
                        .await
                        .is_err()
                    {
                        return self.each_alone(aggregate_id, pending).await;
                    }
                    fresh = true;
                    tokio::time::sleep(jitter(attempts, 5)).await;
                }
                // Anything else is each command's own answer, which it gets alone.
                Err(_) => return self.each_alone(aggregate_id, round.into_queued()).await,
            }
        }
    }

    /// Decides the commands in order on `loaded`, each on the state the members before it
    /// left. A refusal is final on a state just read from the log (`fresh`) plus this group's
    /// members, once they commit; on a cached state it is decided again after reading the tail.
    fn decide_in_order<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        loaded: &Loaded<S>,
        fresh: bool,
        queued: Vec<Queued<S>>,
    ) -> Round<S> {
        let mut state = loaded.clone();
        let mut round = Round {
            members: Vec::new(),
            refused: Vec::new(),
            again: Vec::new(),
            alone: Vec::new(),
            rest: Vec::new(),
        };
        let mut events_in_group = 0;
        for queued in queued {
            if events_in_group >= GROUP_EVENTS {
                round.rest.push(queued);
                continue;
            }
            let now = decision_time(&queued.context);
            let events = match (queued.decide)(&state.state, now) {
                Ok(events) if events.is_empty() => {
                    round.alone.push(queued);
                    continue;
                }
                Ok(events) if events_in_group + events.len() > GROUP_EVENTS => {
                    if round.members.is_empty() {
                        round.alone.push(queued);
                    } else {
                        round.rest.push(queued);
                    }
                    continue;
                }
                Ok(events) => events,
                Err(rejection) if fresh => {
                    round.refused.push((queued, rejection));
                    continue;
                }
                Err(_) => {
                    round.again.push(queued);
                    continue;
                }
            };
            let stored = match self.seal(aggregate_id, &queued.context, &state, &events, now) {
                Ok(stored) => stored,
                Err(_) => {
                    round.alone.push(queued);
                    continue;
                }
            };
            for event in &events {
                state.state = std::mem::take(&mut state.state).evolve(event);
            }
            state.version += events.len() as u64;
            if let Some(last) = stored.last() {
                state.head_hash = last.hash.clone();
            }
            events_in_group += events.len();
            round.members.push(Member {
                queued,
                stored,
                state: state.state.clone(),
                version: state.version,
            });
        }
        round
    }

    /// The group landed: the cache moves past it, a snapshot is written if it crossed a
    /// multiple, and each member gets its own events and the state after them.
    async fn answer_members<S: Aggregate>(
        &self,
        aggregate_id: S::Id,
        loaded: Loaded<S>,
        members: Vec<Member<S>>,
        meter: Meter,
    ) -> Loaded<S> {
        let previous_version = loaded.version;
        let mut after = loaded;
        if let Some(last) = members.last() {
            after.state = last.state.clone();
            after.version = last.version;
            if let Some(event) = last.stored.last() {
                after.head_hash = event.hash.clone();
            }
        }
        self.remember(aggregate_id, &after);
        self.maybe_snapshot(aggregate_id, previous_version, &after, &meter)
            .await;
        let mut share = Some((meter.cost(), meter.conflicts()));
        for member in members {
            let result = crate::command::decode_all::<S>(&member.stored)
                .map(|events| Outcome {
                    events,
                    state: member.state,
                    version: member.version,
                    replayed: false,
                    cost: Cost::default(),
                })
                .map_err(CommandError::from);
            let (cost, conflicts) = share.take().unwrap_or_default();
            let _ = member.queued.reply.send((result, cost, conflicts));
        }
        after
    }

    /// Runs each command alone, in order, and answers it.
    async fn each_alone<S: Aggregate>(&self, aggregate_id: S::Id, queued: Vec<Queued<S>>) {
        for one in queued {
            self.run_alone(aggregate_id, one).await;
        }
    }

    async fn run_alone<S: Aggregate>(&self, aggregate_id: S::Id, queued: Queued<S>) {
        let meter = Meter::default();
        let decide = &queued.decide;
        let result = self
            .run(
                aggregate_id,
                &queued.context,
                &|state: &S, now| decide(state, now),
                &meter,
            )
            .await;
        if let Err(CommandError::Store(StoreError::Corrupt { .. })) = &result {
            self.forget::<S>(aggregate_id);
        }
        // The caller may have stopped waiting; its command is done either way.
        let _ = queued.reply.send((result, meter.cost(), meter.conflicts()));
    }
}
