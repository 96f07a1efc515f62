//! The stream handler: each record's event applied to the views, in order per auction, with
//! gaps filled from the log and every write version-gated.

use std::collections::{HashMap, HashSet};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use conventions::metrics::Consumer;
use event_store::{EventLog, Meter, StoredEvent};
use events::{AuctionEvent, AuctionId, EventCodec, EventEnvelope};
use futures_util::future::try_join_all;
use futures_util::stream::{self, StreamExt};
use notary::{AdvanceHeads, StreamHead};
use stream_records::{Failures, aggregate_of, stored_event};

use crate::error::ProjectorError;
use crate::ports::{Projections, Written};
use crate::views::{AuctionProjection, Replay};

/// Rows written at once: enough to hide latency at an auction's end, few enough not to
/// exhaust the SDK's connection pool or a partition's throughput.
const CONCURRENT_ROW_WRITES: usize = 25;

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The views moved to the event's version; `filled` earlier events came from the log first.
    Projected { filled: usize, rows: usize },
    /// The views were already at the event's version or later: a duplicate or an older record.
    AlreadyApplied,
}

/// Auctions projected at once. Records of one auction are always applied one after another.
const CONCURRENT_AUCTIONS: usize = 8;

/// What became of one record of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Applied,
    /// Failed: unreadable, or the store refused or failed.
    Failed {
        transient: bool,
    },
    /// Not tried: an earlier record of the same auction failed in this batch.
    HeldBack,
}

/// A readable record, by its position in the batch.
struct Readable {
    position: usize,
    stored: StoredEvent,
    envelope: EventEnvelope,
}

/// Applies a batch of Events stream records to the views, then moves each stream's head in
/// the StreamHeads table (`notary`: what the log's digests are made of) to the highest
/// version of the batch, every aggregate's (the Items' ledger's too).
///
/// Records of one auction are applied in order; different auctions concurrently. A record that
/// fails (unreadable, or a store error) is reported in the partial batch response, and so is
/// every later record of the same auction in this batch, so that none is applied out of order;
/// other auctions keep flowing. `Err` only when no record was applied and every failure was
/// transient (the store is down): the invocation then counts as an error, which is what alarms
/// watch, and Lambda retries the whole batch. The same when the heads could not be written:
/// the views are version-gated, so applying the batch again changes nothing there.
///
/// Counted as the projector's records, processed or failed, with each readable record's lag.
pub async fn handle<P, L, H>(
    views: &P,
    log: &L,
    heads: &H,
    event: Event,
) -> Result<DynamoDbEventResponse, ProjectorError>
where
    P: Projections,
    L: EventLog,
    H: AdvanceHeads,
{
    let records = event.records.len();
    let batch_heads = heads_of(&event.records);
    // The heads beside the views, not after them: neither depends on the other, and in turn
    // they added a write's latency to every batch (the lag bench's p99, 15 %).
    let (projected, advanced) = futures_util::future::join(
        project_batch(views, log, event),
        heads.advance(&batch_heads),
    )
    .await;
    let result = projected.and_then(|response| {
        advanced.map(|()| response).map_err(|error| {
            ProjectorError::Unavailable(format!("the streams' heads were not written: {error}"))
        })
    });
    let failed = result
        .as_ref()
        .map_or(records, |response| response.batch_item_failures.len());
    Consumer::PROJECTOR.handled(records, failed);
    result
}

async fn project_batch<P, L>(
    views: &P,
    log: &L,
    event: Event,
) -> Result<DynamoDbEventResponse, ProjectorError>
where
    P: Projections,
    L: EventLog,
{
    let mut fates: Vec<Fate> = vec![Fate::HeldBack; event.records.len()];
    let mut by_auction: Vec<(AuctionId, Vec<Readable>)> = Vec::new();
    let mut group_of: HashMap<AuctionId, usize> = HashMap::new();
    let mut unreadable: HashSet<AuctionId> = HashSet::new();
    for (position, record) in event.records.iter().enumerate() {
        match decode(record) {
            // Another aggregate's event (the Items' ledger shares the table): no view shows it.
            Ok(None) => fates[position] = Fate::Applied,
            Ok(Some((stored, envelope))) => {
                let aggregate_id = envelope.aggregate_id;
                if unreadable.contains(&aggregate_id) {
                    held_back(&envelope);
                    continue;
                }
                let group = *group_of.entry(aggregate_id).or_insert_with(|| {
                    by_auction.push((aggregate_id, Vec::new()));
                    by_auction.len() - 1
                });
                by_auction[group].1.push(Readable {
                    position,
                    stored,
                    envelope,
                });
            }
            Err(aggregate_id) => {
                fates[position] = Fate::Failed { transient: false };
                unreadable.extend(aggregate_id);
            }
        }
    }
    let projected: Vec<Vec<(usize, Fate)>> = stream::iter(by_auction)
        .map(|(aggregate_id, records)| project_auction(views, log, aggregate_id, records))
        .buffer_unordered(CONCURRENT_AUCTIONS)
        .collect()
        .await;
    for (position, fate) in projected.into_iter().flatten() {
        fates[position] = fate;
    }
    let none_applied = !fates.contains(&Fate::Applied);
    let store_down = fates.contains(&Fate::Failed { transient: true })
        && !fates.contains(&Fate::Failed { transient: false });
    if none_applied && store_down {
        return Err(ProjectorError::Unavailable(format!(
            "none of {} records could be projected: DynamoDB is unavailable or throttling",
            fates.len()
        )));
    }
    let mut failures = Failures::new();
    for (record, fate) in event.records.iter().zip(&fates) {
        if *fate != Fate::Applied {
            failures.fail(record);
        }
    }
    Ok(failures.into_response())
}

/// Each stream's highest version in the batch, from its INSERT records (an edit of an old event
/// arrives as MODIFY and moves no head; an unreadable record is the views' to report).
fn heads_of(records: &[EventRecord]) -> Vec<StreamHead> {
    let mut highest: HashMap<uuid::Uuid, StreamHead> = HashMap::new();
    for stored in records
        .iter()
        .filter_map(|record| stored_event(record).ok())
    {
        let head = StreamHead {
            aggregate_type: stored.envelope.aggregate_type.clone(),
            aggregate_id: stored.envelope.aggregate_id,
            version: stored.version(),
            head: stored.hash,
        };
        match highest.get(&head.aggregate_id) {
            Some(known) if known.version >= head.version => {}
            _ => {
                highest.insert(head.aggregate_id, head);
            }
        }
    }
    highest.into_values().collect()
}

/// Applies one auction's records in order, holding back every record after a failure.
async fn project_auction<P, L>(
    views: &P,
    log: &L,
    aggregate_id: AuctionId,
    records: Vec<Readable>,
) -> Vec<(usize, Fate)>
where
    P: Projections,
    L: EventLog,
{
    let mut fates = Vec::with_capacity(records.len());
    let mut current: Option<Option<AuctionProjection>> = None;
    let mut failed = false;
    for record in &records {
        if failed {
            held_back(&record.envelope);
            fates.push((record.position, Fate::HeldBack));
            continue;
        }
        match apply_one(views, log, aggregate_id, current.take(), record).await {
            Ok(next) => {
                current = Some(next);
                fates.push((record.position, Fate::Applied));
            }
            Err(error) => {
                failed = true;
                fates.push((
                    record.position,
                    Fate::Failed {
                        transient: error.is_transient(),
                    },
                ));
            }
        }
    }
    fates
}

fn held_back(envelope: &EventEnvelope) {
    tracing::warn!(
        correlation_id = %envelope.metadata.correlation_id,
        aggregate_id = %envelope.aggregate_id,
        version = envelope.version,
        "held back: an earlier record of this auction failed in this batch"
    );
}

/// The record's Auction event, `None` for another aggregate's (the Items' ledger, whose events
/// share the table and which no view shows), or the auction it belongs to (when its keys say)
/// if it is unreadable.
fn decode(record: &EventRecord) -> Result<Option<(StoredEvent, EventEnvelope)>, Option<AuctionId>> {
    let stored = stored_event(record).map_err(|error| {
        tracing::error!(record_id = %record.event_id, %error, "unreadable stream record");
        aggregate_of(record)
    })?;
    Consumer::PROJECTOR.lag(stored.envelope.occurred_at);
    if stored.envelope.aggregate_type != <AuctionEvent as EventCodec>::AGGREGATE_TYPE {
        tracing::debug!(
            record_id = %record.event_id,
            aggregate_type = %stored.envelope.aggregate_type,
            "not an auction's event: nothing to project"
        );
        return Ok(None);
    }
    let envelope = stored.decode().map_err(|error| {
        tracing::error!(
            correlation_id = %stored.envelope.metadata.correlation_id,
            record_id = %record.event_id,
            %error,
            "undecodable event"
        );
        Some(AuctionId::from(stored.envelope.aggregate_id))
    })?;
    Ok(Some((stored, envelope)))
}

/// Applies one record, starting from `known` (what this batch last stored for the auction) or
/// else from the stored projection; returns what is stored now.
async fn apply_one<P, L>(
    views: &P,
    log: &L,
    aggregate_id: AuctionId,
    known: Option<Option<AuctionProjection>>,
    record: &Readable,
) -> Result<Option<AuctionProjection>, ProjectorError>
where
    P: Projections,
    L: EventLog,
{
    let envelope = &record.envelope;
    let correlation_id = &envelope.metadata.correlation_id;
    let event_type = &record.stored.envelope.event_type;
    let result = async {
        let current = match known {
            Some(current) => current,
            None => views.load(aggregate_id).await?,
        };
        apply(views, log, current, envelope).await
    }
    .await;
    match result {
        Ok((applied, next)) => {
            tracing::info!(
                %correlation_id,
                %aggregate_id,
                version = envelope.version,
                %event_type,
                outcome = ?applied,
                "projected"
            );
            Ok(next)
        }
        Err(error) => {
            tracing::error!(
                %correlation_id,
                %aggregate_id,
                version = envelope.version,
                %event_type,
                %error,
                transient = error.is_transient(),
                "projection failed"
            );
            Err(error)
        }
    }
}

/// Brings the views of one auction from `current` to `event`'s version: reads any missing
/// events from the log, writes the changed user rows, then the auction's projection.
///
/// The projection goes last because its version is what the next delivery compares with: if
/// a row write fails, the projection still says the older version, so a retry recomputes and
/// rewrites every row (rows already written are skipped by their own gate).
pub async fn apply<P, L>(
    views: &P,
    log: &L,
    current: Option<AuctionProjection>,
    event: &EventEnvelope,
) -> Result<(Applied, Option<AuctionProjection>), ProjectorError>
where
    P: Projections,
    L: EventLog,
{
    let stored_version = current.as_ref().map_or(0, AuctionProjection::version);
    if event.version <= stored_version {
        return Ok((Applied::AlreadyApplied, current));
    }
    let missing = if event.version > stored_version + 1 {
        fill_gap(log, event, stored_version + 1, event.version - 1).await?
    } else {
        Vec::new()
    };
    let filled = missing.len();
    let mut replay = Replay::new(current);
    for event in missing.iter().chain(std::iter::once(event)) {
        replay.apply(event);
    }
    let (next, rows) = replay.finish();
    let Some(next) = next.filter(|next| next.version() == event.version) else {
        return Err(ProjectorError::Corrupt(format!(
            "the history of auction {} does not start with AuctionCreated at version 1",
            event.aggregate_id
        )));
    };
    for chunk in rows.chunks(CONCURRENT_ROW_WRITES) {
        try_join_all(chunk.iter().map(|row| views.put_user_bid(row))).await?;
    }
    let next = match views.put_projection(&next).await? {
        Written::Stored => Some(next),
        // Someone else got further; what they stored is newer than what we know.
        Written::AlreadyApplied => views.load(event.aggregate_id).await?,
    };
    Ok((
        Applied::Projected {
            filled,
            rows: rows.len(),
        },
        next,
    ))
}

/// The events `from..=to` that must come before `event`, read from the log.
async fn fill_gap<L: EventLog>(
    log: &L,
    event: &EventEnvelope,
    from: u64,
    to: u64,
) -> Result<Vec<EventEnvelope>, ProjectorError> {
    let aggregate_id = event.aggregate_id;
    let events = log
        .read_range(aggregate_id, from, to, &Meter::default())
        .await?;
    let contiguous = events
        .iter()
        .zip(from..=to)
        .all(|(event, version)| event.version() == version);
    let expected = usize::try_from(to - from + 1).unwrap_or(usize::MAX);
    if events.len() != expected || !contiguous {
        return Err(ProjectorError::GapNotFillable {
            aggregate_id,
            from,
            to,
            found: events.len(),
        });
    }
    tracing::info!(
        correlation_id = %event.metadata.correlation_id,
        %aggregate_id,
        from,
        to,
        "filling a gap from the log"
    );
    events
        .iter()
        .map(|event| event.decode().map_err(ProjectorError::from))
        .collect()
}
