//! The broadcaster: the consumer of the live queue (`live.fifo`, filled by the publisher; a
//! Lambda in AWS, a mapping of the local trigger runner) that pushes each update to the
//! connections watching its auction. It reads a queue, not the Events stream, so that the
//! stream keeps two readers per shard (docs/fan-out.md, "Two readers per shard").

use std::collections::HashSet;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use conventions::metrics::Consumer;
use event_store::{EventLog, Meter, Snapshots, state_at};
use events::{AuctionEvent, EventEnvelope};
use futures_util::{StreamExt, stream};
use personal_data::Pseudonyms;
use tracing::{Instrument, Span};

use crate::config::Fanout;
use crate::error::LiveError;
use crate::push::{Push, PushError};
use crate::session;
use crate::subscriptions::{ConnectionId, Subscriptions};
use crate::update::update;

/// Pushes the updates of a batch of the live queue's messages, in order, with the fan-out of
/// [`crate::config::fanout`] (`LIVE_PUSH_CONCURRENCY`, else the defaults).
pub async fn handle<S, P, L>(
    subscriptions: &S,
    push: &P,
    log: &L,
    pseudonyms: &dyn Pseudonyms,
    event: SqsEvent,
) -> Result<SqsBatchResponse, LiveError>
where
    S: Subscriptions,
    P: Push,
    L: EventLog + Snapshots,
{
    handle_with(
        &crate::config::fanout(),
        subscriptions,
        push,
        log,
        pseudonyms,
        event,
    )
    .await
}

/// Pushes the updates of a batch of the live queue's messages (each the publisher's message
/// for one event: its stored envelope), in batch order, at most `fanout.concurrency` pushes at
/// a time, and reports the messages that failed (`ReportBatchItemFailures`). The pseudonyms
/// an update holds (its leader, its winner) are pushed revealed, as the API answers them
/// (docs/privacy.md).
///
/// A message fails (and is received again, then reaches the DLQ and is parked after the
/// queue's receives) when its body is not a readable event, the log, the connections table or
/// the subjects' key store cannot be read, or no watcher could be reached (the management API is out). Once a message
/// of a group (the auction) fails, the group's later messages in the batch are reported failed
/// unhandled, as FIFO order requires: a watcher never gets an auction's updates out of order.
/// A retried message pushes its update again to every watcher: clients drop what they already
/// have by its version. A connection that answers 410 Gone is forgotten. A connection whose
/// push fails while others' succeed is retried alone (`fanout.rounds`); if it still fails it
/// misses this update and the message succeeds, so one sick socket neither holds back its
/// auction's updates for everyone nor parks the message.
///
/// Messages are handled one after another, not group by group at once, so that
/// `fanout.concurrency` bounds the pushes of the whole invocation.
///
/// Returns [`LiveError::MissingMessageId`] when a message has no id, and
/// [`LiveError::BatchFailed`] when every message failed.
///
/// Counted as the broadcaster's records, processed or failed, with each readable message's lag.
pub async fn handle_with<S, P, L>(
    fanout: &Fanout,
    subscriptions: &S,
    push: &P,
    log: &L,
    pseudonyms: &dyn Pseudonyms,
    event: SqsEvent,
) -> Result<SqsBatchResponse, LiveError>
where
    S: Subscriptions,
    P: Push,
    L: EventLog + Snapshots,
{
    let records = event.records.len();
    let ports = Ports {
        fanout,
        subscriptions,
        push,
        log,
        pseudonyms,
    };
    let result = broadcast_batch(&ports, event).await;
    let failed = result
        .as_ref()
        .map_or(records, |response| response.batch_item_failures.len());
    Consumer::BROADCASTER.handled(records, failed);
    result
}

/// What a batch is broadcast with.
struct Ports<'a, S, P, L> {
    fanout: &'a Fanout,
    subscriptions: &'a S,
    push: &'a P,
    log: &'a L,
    pseudonyms: &'a dyn Pseudonyms,
}

async fn broadcast_batch<S, P, L>(
    ports: &Ports<'_, S, P, L>,
    event: SqsEvent,
) -> Result<SqsBatchResponse, LiveError>
where
    S: Subscriptions,
    P: Push,
    L: EventLog + Snapshots,
{
    let mut response = SqsBatchResponse::default();
    let mut failed_groups: HashSet<String> = HashSet::new();
    let mut first_error = None;
    let messages = event.records.len();
    for message in &event.records {
        let id = message
            .message_id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or(LiveError::MissingMessageId)?;
        let group = group_of(message, &id);
        let decoded = decode(&id, message);
        let span = message_span(&id, decoded.as_ref().ok());
        if failed_groups.contains(&group) {
            span.in_scope(|| {
                tracing::warn!(
                    "not handled: an earlier message of its auction failed in this batch"
                );
            });
            response.add_failure(id);
            continue;
        }
        let outcome = match decoded {
            Ok(envelope) => broadcast(ports, &envelope).instrument(span.clone()).await,
            Err(error) => Err(error),
        };
        if let Err(error) = outcome {
            span.in_scope(|| {
                tracing::warn!(%error, "could not push a message's update; reported failed");
            });
            response.add_failure(id);
            failed_groups.insert(group);
            first_error.get_or_insert(error);
        }
    }
    if let Some(error) = first_error
        && response.batch_item_failures.len() == messages
    {
        return Err(LiveError::BatchFailed(error.to_string()));
    }
    Ok(response)
}

/// The event a message carries: its body is the event's stored envelope, upcast here.
fn decode(id: &str, message: &SqsMessage) -> Result<EventEnvelope, LiveError> {
    let undecodable = |reason: String| LiveError::Undecodable {
        message_id: id.to_owned(),
        reason,
    };
    let body = message
        .body
        .as_deref()
        .ok_or_else(|| undecodable("the message has no body".to_owned()))?;
    let envelope = EventEnvelope::from_json(body).map_err(|e| undecodable(e.to_string()))?;
    Consumer::BROADCASTER.lag(envelope.occurred_at);
    Ok(envelope)
}

/// FIFO order holds within a message group (the auction); Lambda passes the group id in the
/// message's system attributes. A message without one is a group of its own.
fn group_of(message: &SqsMessage, id: &str) -> String {
    message
        .attributes
        .get("MessageGroupId")
        .cloned()
        .or_else(|| {
            message
                .message_attributes
                .get("aggregateId")
                .and_then(|value| value.string_value.clone())
        })
        .unwrap_or_else(|| id.to_owned())
}

/// The span every log line of a message carries: the event's ids when the body is readable.
fn message_span(id: &str, envelope: Option<&EventEnvelope>) -> Span {
    match envelope {
        Some(envelope) => tracing::info_span!(
            "message",
            message_id = id,
            correlation_id = envelope.metadata.correlation_id.as_str(),
            event_id = %envelope.event_id,
            aggregate_id = %envelope.aggregate_id,
            version = envelope.version,
            event_type = envelope.event_type(),
        ),
        None => tracing::info_span!("message", message_id = id),
    }
}

async fn broadcast<S, P, L>(
    ports: &Ports<'_, S, P, L>,
    envelope: &EventEnvelope,
) -> Result<(), LiveError>
where
    S: Subscriptions,
    P: Push,
    L: EventLog + Snapshots,
{
    let Ports {
        fanout,
        subscriptions,
        push,
        log,
        pseudonyms,
    } = *ports;
    if !may_update(&envelope.event) {
        return Ok(());
    }
    // Both reads at once: they are independent, and each is a round trip of the push's latency.
    let meter = Meter::default();
    let (watchers, after) = tokio::join!(
        subscriptions.watchers(envelope.aggregate_id),
        state_at::<domain::State, _>(log, envelope.aggregate_id, envelope.version, &meter),
    );
    let watchers = watchers?;
    if watchers.is_empty() {
        return Ok(());
    }
    let after = after?;
    if after.version != envelope.version {
        return Err(LiveError::IncompleteHistory {
            aggregate_id: envelope.aggregate_id,
            version: envelope.version,
        });
    }
    let Some(message) = update(envelope, &after) else {
        return Ok(());
    };
    let text = message.to_json();
    let text = match personal_data::reveal_json(pseudonyms, text.as_bytes())
        .await
        .map_err(|error| LiveError::Keys(error.to_string()))?
    {
        Some(revealed) => {
            String::from_utf8(revealed).map_err(|error| LiveError::Keys(error.to_string()))?
        }
        None => text,
    };
    // Each connection still gets its updates in message order: the next message waits for
    // this one.
    let outcome = fan_out(fanout, push, &watchers, &text).await;
    forget(fanout, subscriptions, &outcome.gone).await;
    match outcome.failed.first() {
        Some((_, reason)) if outcome.delivered == 0 => Err(LiveError::Unreachable(reason.clone())),
        Some(_) => {
            for (connection, reason) in &outcome.failed {
                tracing::warn!(%connection, %reason, "the connection missed this update");
            }
            Ok(())
        }
        None => Ok(()),
    }
}

/// What pushing one update to its watchers came to.
#[derive(Debug, Default)]
struct Outcome {
    delivered: usize,
    gone: Vec<ConnectionId>,
    /// The connections still failing after every round, with their last failure.
    failed: Vec<(ConnectionId, String)>,
}

/// Pushes `text` to every watcher, `fanout.concurrency` at a time, then again only to those
/// whose push failed, for up to `fanout.rounds` rounds. When nobody was reached in the first
/// round the management API is out, not one socket: no further round, the message fails and is
/// retried whole.
async fn fan_out<P: Push>(
    fanout: &Fanout,
    push: &P,
    watchers: &[ConnectionId],
    text: &str,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut pending: Vec<ConnectionId> = watchers.to_vec();
    let mut pause = fanout.backoff;
    for round in 0..fanout.rounds.max(1) {
        if round > 0 {
            if outcome.delivered == 0 {
                break;
            }
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
        let results: Vec<(ConnectionId, Result<(), PushError>)> = stream::iter(pending)
            .map(|connection| async move {
                let result = push.push(&connection, text).await;
                (connection, result)
            })
            .buffer_unordered(fanout.concurrency.max(1))
            .collect()
            .await;
        pending = Vec::new();
        outcome.failed.clear();
        for (connection, result) in results {
            match result {
                Ok(()) => outcome.delivered += 1,
                Err(PushError::Gone) => outcome.gone.push(connection),
                Err(PushError::Unavailable(reason)) => {
                    outcome.failed.push((connection.clone(), reason));
                    pending.push(connection);
                }
            }
        }
        if pending.is_empty() {
            break;
        }
    }
    outcome
}

/// Forgets the connections that answered 410 Gone, `fanout.concurrency` at a time.
async fn forget<S: Subscriptions>(fanout: &Fanout, subscriptions: &S, gone: &[ConnectionId]) {
    stream::iter(gone)
        .for_each_concurrent(fanout.concurrency.max(1), |connection| async move {
            tracing::info!(%connection, "the connection is gone; forgetting it");
            if let Err(error) = session::disconnect(subscriptions, connection).await {
                // Its items expire anyway; the next push finds it gone again.
                tracing::warn!(%connection, %error, "could not forget a gone connection");
            }
        })
        .await;
}

/// Whether watchers may see a change, before anything is read for it.
fn may_update(event: &AuctionEvent) -> bool {
    matches!(
        event,
        AuctionEvent::BidPlaced(_)
            | AuctionEvent::MaxBidRaised(_)
            | AuctionEvent::AuctionExtended(_)
            | AuctionEvent::AuctionEnded(_)
            | AuctionEvent::AuctionCancelled(_)
    )
}
