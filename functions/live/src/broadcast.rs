//! The broadcaster: a consumer of the Events table's stream (a Lambda in AWS, a mapping of the
//! local trigger runner) that pushes each update to the connections watching its auction.

use std::collections::HashSet;

use auction_events::{AuctionEvent, AuctionId};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use event_store::{EventLog, Meter, Snapshots, state_at};
use futures_util::future::join_all;
use stream_records::{Failures, aggregate_of, stored_event};

use crate::error::LiveError;
use crate::push::{Push, PushError};
use crate::session;
use crate::subscriptions::Subscriptions;
use crate::update::update;

/// Pushes the updates of a batch of stream records, in record order.
///
/// A record fails (and is retried, with everything after it of the same auction in this batch)
/// when it cannot be read, the log or the connections table cannot be read, or a push fails
/// for another reason than the connection being gone. A retried record pushes its update again
/// to every watcher: clients drop what they already have by its version. A connection that
/// answers 410 Gone is forgotten. Returns [`LiveError::BatchFailed`] when every record failed.
pub async fn handle<S, P, L>(
    subscriptions: &S,
    push: &P,
    log: &L,
    event: Event,
) -> Result<DynamoDbEventResponse, LiveError>
where
    S: Subscriptions,
    P: Push,
    L: EventLog + Snapshots,
{
    let mut failures = Failures::new();
    let mut failed_auctions: HashSet<AuctionId> = HashSet::new();
    let mut first_error = None;
    for record in &event.records {
        let auction = aggregate_of(record);
        if auction.is_some_and(|id| failed_auctions.contains(&id)) {
            failures.fail(record);
            continue;
        }
        if let Err(error) = broadcast(subscriptions, push, log, record).await {
            tracing::warn!(record = %record.event_id, %error, "could not push a record's update");
            failures.fail(record);
            failed_auctions.extend(auction);
            first_error.get_or_insert(error);
        }
    }
    if let Some(error) = first_error
        && failures.len() == event.records.len()
    {
        return Err(LiveError::BatchFailed(error.to_string()));
    }
    Ok(failures.into_response())
}

async fn broadcast<S, P, L>(
    subscriptions: &S,
    push: &P,
    log: &L,
    record: &EventRecord,
) -> Result<(), LiveError>
where
    S: Subscriptions,
    P: Push,
    L: EventLog + Snapshots,
{
    let stored = stored_event(record).map_err(|e| LiveError::InvalidMessage(e.to_string()))?;
    let envelope = stored.decode()?;
    if !may_update(&envelope.event) {
        return Ok(());
    }
    // Both reads at once: they are independent, and each is a round trip of the push's latency.
    let meter = Meter::default();
    let (watchers, after) = tokio::join!(
        subscriptions.watchers(envelope.aggregate_id),
        state_at(log, envelope.aggregate_id, envelope.version, &meter),
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
    let Some(message) = update(&envelope, &after) else {
        return Ok(());
    };
    let text = message.to_json();
    // Every watcher at once; each connection still gets its updates in record order, because
    // the next record waits for this one.
    let results = join_all(
        watchers
            .iter()
            .map(|connection| push.push(connection, &text)),
    )
    .await;
    let mut unavailable = None;
    for (connection, result) in watchers.iter().zip(results) {
        match result {
            Ok(()) => {}
            Err(PushError::Gone) => {
                tracing::info!(%connection, "the connection is gone; forgetting it");
                if let Err(error) = session::disconnect(subscriptions, connection).await {
                    // Its items expire anyway; the next push finds it gone again.
                    tracing::warn!(%connection, %error, "could not forget a gone connection");
                }
            }
            Err(PushError::Unavailable(reason)) => {
                unavailable.get_or_insert(reason);
            }
        }
    }
    match unavailable {
        Some(reason) => Err(LiveError::Subscriptions(format!("a push failed: {reason}"))),
        None => Ok(()),
    }
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
