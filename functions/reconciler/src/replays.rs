//! The parked items, replayed on their own: what a consumer gave up on during an outage goes
//! back to it once the outage had time to end, with no person involved. An item whose replays
//! keep failing is left parked for one.

use chrono::{DateTime, Utc};
use event_store::EventLog;
use parking::{Parked, ParkedItems, ParkingError};

use crate::error::ReconcilerError;
use crate::ports::{Consumer, Ports, Redeliver};
use crate::reconciled::Reconciled;
use crate::settings::Settings;

/// Replays one run makes at most, failed ones included. Each replay is a strongly consistent
/// read of the item and of its events, the consumer's work on them and a write to the Parked
/// table, one after the other, well under a second; 100 of them leave most of the Lambda's
/// 4-minute timeout to the checks. A backlog larger than that (a long outage of a busy
/// consumer) drains at 100 items per period, 1,200 an hour at the default 5 minutes, oldest
/// first.
pub const MAX_REPLAYS_PER_RUN: usize = 100;

/// Lists every consumer's parked items (one Scan) and replays, oldest first and one at a time
/// (the consumers are just back from an outage: no burst on top of their own backlog), each
/// item that was parked at least `settings.parked_grace` before `now` and whose replays failed
/// fewer than `settings.max_replays` times, at most [`MAX_REPLAYS_PER_RUN`] of them.
///
/// Through `parking::replay`, as `auction-admin parked replay` does: the item's events from the
/// log to its consumer's normal idempotent path, then the item removed; if the consumer fails,
/// the item stays with one more failed replay. Each replay is one log line; the items left to a
/// person are one warning per run.
pub(crate) async fn replay_parked<L, S, V, N, R, P>(
    ports: &Ports<L, S, V, N, R, P>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Reconciled
where
    L: EventLog,
    R: Redeliver,
    P: ParkedItems,
{
    let mut run = Reconciled::default();
    let items = match ports.parked.list(None).await {
        Ok(items) => items,
        Err(error) => {
            let error = ReconcilerError::Parked(error);
            tracing::warn!(%error, "no parked item replayed; the next run lists them again");
            run.failed += 1;
            return run;
        }
    };
    run.parked = items.len();
    let ripe = now - settings.parked_grace;
    let mut due = Vec::new();
    let mut left = Vec::new();
    for item in items {
        // A consumer this build does not know cannot be replayed to by any run: a person
        // decides (deploy the consumer, or discard the item).
        if item.consumer.parse::<Consumer>().is_err() || item.failed_replays >= settings.max_replays
        {
            left.push(item);
        } else if item.parked_at <= ripe {
            due.push(item);
        }
    }
    // Stable: items parked at the same time stay in the table's order (consumer, aggregate,
    // versions).
    due.sort_by_key(|item| item.parked_at);
    let deferred = due.len().saturating_sub(MAX_REPLAYS_PER_RUN);
    for item in due.into_iter().take(MAX_REPLAYS_PER_RUN) {
        replay_one(ports, &item, &mut run).await;
    }
    if deferred > 0 {
        tracing::info!(
            deferred,
            per_run = MAX_REPLAYS_PER_RUN,
            "more parked items are due than a run replays; the next run goes on with them"
        );
    }
    run.left_for_a_person = left.len();
    if !left.is_empty() {
        let items: Vec<String> = left
            .iter()
            .map(|item| {
                format!(
                    "{} {} ({} failed replays; last error: {})",
                    item.consumer,
                    item.parked_id(),
                    item.failed_replays,
                    item.last_error
                )
            })
            .collect();
        tracing::warn!(
            count = left.len(),
            max_replays = settings.max_replays,
            ?items,
            "parked items left for a person: their replays failed too often, or their consumer \
             is unknown (auction-admin parked show|replay|discard; docs/parking.md)"
        );
    }
    run
}

/// One replay, logged and counted. Only a consumer's failure is a failed replay; anything else
/// (the log lacks the events, a table or the log cannot be read or written) is a failure of the
/// run, which the Lambda's error alarm watches.
async fn replay_one<L, S, V, N, R, P>(
    ports: &Ports<L, S, V, N, R, P>,
    item: &Parked,
    run: &mut Reconciled,
) where
    L: EventLog,
    R: Redeliver,
    P: ParkedItems,
{
    let parked_id = item.parked_id();
    let result = parking::replay(
        &ports.parked,
        &ports.log,
        &ports.consumers,
        &item.consumer,
        &parked_id,
    )
    .await;
    let (outcome, error) = match result {
        Ok(_) => {
            run.replayed += 1;
            ("replayed", None)
        }
        // Replayed or discarded by a person since the list: nothing left to do.
        Err(ParkingError::NotParked { .. }) => ("gone", None),
        // The item is still parked, with one more failed replay: the outage may not be over.
        Err(error @ (ParkingError::ConsumerFailed { .. } | ParkingError::Unreachable { .. })) => {
            run.replays_failed += 1;
            ("failed", Some(error))
        }
        Err(error) => {
            run.failed += 1;
            ("error", Some(error))
        }
    };
    match error {
        None => tracing::info!(
            consumer = %item.consumer,
            parked_id,
            aggregate_id = %item.aggregate_id,
            from_version = item.from_version,
            to_version = item.to_version,
            outcome,
            "parked item replay"
        ),
        Some(error) => tracing::warn!(
            consumer = %item.consumer,
            parked_id,
            aggregate_id = %item.aggregate_id,
            from_version = item.from_version,
            to_version = item.to_version,
            outcome,
            failed_replays_before = item.failed_replays,
            %error,
            "parked item replay"
        ),
    }
}
