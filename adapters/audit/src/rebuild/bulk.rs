//! Phase 2: the bulk load, a parallel Scan of the Events table folded into batch writes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use event_store::{DynamoDbStore, EventLog, Meter, event_from_image};
use events::{AuctionEvent, AuctionId, EventCodec, EventEnvelope};
use futures_util::future::try_join_all;
use read_models::{Replay, ViewTables, projection_item, user_bid_item};
use tokio::sync::{Mutex, mpsc};

use super::options::RebuildOptions;
use super::progress::{Phase, Progress};
use super::retry::with_retries;
use crate::error::AuditError;

type Item = HashMap<String, AttributeValue>;

/// BatchWriteItem's limit.
const BATCH: usize = 25;

/// One auction's fold as the Scan delivers its events: the projector's own [`Replay`], so the
/// rows are those the projector wrote (each as of the last event that changed it).
struct Fold {
    auction_id: AuctionId,
    replay: Replay,
    /// Events 1..=version arrived as one run; false once one did not fit.
    whole: bool,
}

impl Fold {
    fn new(auction_id: AuctionId) -> Self {
        Self {
            auction_id,
            replay: Replay::new(None),
            whole: true,
        }
    }

    fn push(&mut self, event: &EventEnvelope) {
        if self.whole && (event.version != self.replay.version() + 1 || !self.replay.apply(event)) {
            self.whole = false;
        }
    }

    /// The items to write, or `None` when the auction must be read again from the log.
    fn items(self, tables: &ViewTables) -> Result<Option<Vec<(String, Item)>>, AuditError> {
        if !self.whole {
            return Ok(None);
        }
        let (Some(projection), rows) = self.replay.finish() else {
            return Ok(None);
        };
        let mut items = Vec::with_capacity(rows.len() + 1);
        for row in &rows {
            items.push((tables.user_bids.clone(), user_bid_item(row)?));
        }
        items.push((tables.auction_views.clone(), projection_item(&projection)?));
        Ok(Some(items))
    }
}

pub(super) struct Bulk {
    pub(super) events: u64,
    pub(super) auctions: u64,
    pub(super) reread: u64,
}

/// Phase 2: the parallel Scan folded into batch writes; then, once those are all written, the
/// auctions to read again from the log (so that their complete fold is the last write).
pub(super) async fn bulk_load(
    client: &Client,
    log: &DynamoDbStore,
    events_table: &str,
    options: &RebuildOptions,
    progress: &Progress,
) -> Result<Bulk, AuditError> {
    let segments = options.segments.max(1);
    let (mut bulk, reread) = with_writers(client, options.writers, progress, |sender| async move {
        let scans = (0..segments).map(|segment| {
            scan_segment(
                client,
                events_table,
                segment,
                segments,
                &options.target,
                sender.clone(),
                progress,
            )
        });
        let outcomes = try_join_all(scans).await?;
        let mut bulk = Bulk {
            events: 0,
            auctions: 0,
            reread: 0,
        };
        let mut reread = HashSet::new();
        for outcome in outcomes {
            bulk.events += outcome.events;
            bulk.auctions += outcome.auctions;
            reread.extend(outcome.reread);
        }
        Ok((bulk, reread))
    })
    .await?;
    if reread.is_empty() {
        return Ok(bulk);
    }
    progress.enter(Phase::Rereading);
    bulk.reread = reread.len() as u64;
    // A reread auction was counted once per run the Scan delivered.
    bulk.auctions = bulk.auctions.saturating_sub(bulk.reread);
    with_writers(client, options.writers, progress, |sender| async move {
        for auction_id in reread {
            let events = log
                .read_range(auction_id, 1, u64::MAX, &Meter::default())
                .await?;
            let mut fold = Fold::new(auction_id);
            for event in &events {
                fold.push(&event.decode()?);
            }
            let items = fold.items(&options.target)?.ok_or_else(|| {
                AuditError::Rebuild(format!(
                    "auction {auction_id}: its log does not fold from version 1 (run verify)"
                ))
            })?;
            for item in items {
                send(&sender, item).await?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(bulk)
}

/// Runs `produce` with a queue that `writers` BatchWriteItem loops drain, and returns when
/// both are done: every queued item written, or the first failure.
async fn with_writers<T, F, Fut>(
    client: &Client,
    writers: usize,
    progress: &Progress,
    produce: F,
) -> Result<T, AuditError>
where
    F: FnOnce(mpsc::Sender<(String, Item)>) -> Fut,
    Fut: std::future::Future<Output = Result<T, AuditError>>,
{
    let writers = writers.max(1);
    let (sender, receiver) = mpsc::channel::<(String, Item)>(BATCH * writers * 8);
    let receiver = Arc::new(Mutex::new(receiver));
    let loops = (0..writers).map(|_| write_batches(client, Arc::clone(&receiver), progress));
    // `produce` owns the only sender: when it finishes, the queue closes and the writers stop.
    let (produced, written) = tokio::join!(produce(sender), try_join_all(loops));
    written?;
    produced
}

async fn send(
    sender: &mpsc::Sender<(String, Item)>,
    item: (String, Item),
) -> Result<(), AuditError> {
    sender
        .send(item)
        .await
        .map_err(|_| AuditError::Rebuild("the table writers stopped".into()))
}

struct SegmentOutcome {
    events: u64,
    auctions: u64,
    reread: Vec<AuctionId>,
}

async fn scan_segment(
    client: &Client,
    table: &str,
    segment: i32,
    segments: i32,
    target: &ViewTables,
    sender: mpsc::Sender<(String, Item)>,
    progress: &Progress,
) -> Result<SegmentOutcome, AuditError> {
    let mut outcome = SegmentOutcome {
        events: 0,
        auctions: 0,
        reread: Vec::new(),
    };
    let mut fold: Option<Fold> = None;
    let mut start_key = None;
    let finish =
        |fold: Fold, outcome: &mut SegmentOutcome| -> Result<Vec<(String, Item)>, AuditError> {
            outcome.auctions += 1;
            let id = fold.auction_id;
            match fold.items(target)? {
                Some(items) => Ok(items),
                None => {
                    outcome.reread.push(id);
                    Ok(Vec::new())
                }
            }
        };
    loop {
        let page = with_retries(|| {
            client
                .scan()
                .table_name(table)
                .segment(segment)
                .total_segments(segments)
                .set_exclusive_start_key(start_key.clone())
                .send()
        })
        .await?;
        let count = page.items().len() as u64;
        for item in page.items() {
            let stored = event_from_image(item)?;
            // The Items' ledger shares the table; no view shows its events.
            if stored.envelope.aggregate_type != <AuctionEvent as EventCodec>::AGGREGATE_TYPE {
                continue;
            }
            outcome.events += 1;
            let event = stored.decode()?;
            let current = fold.as_ref().map(|f| f.auction_id);
            if current != Some(event.aggregate_id) {
                if let Some(done) = fold.take() {
                    for item in finish(done, &mut outcome)? {
                        send(&sender, item).await?;
                    }
                }
                fold = Some(Fold::new(event.aggregate_id));
            }
            if let Some(fold) = fold.as_mut() {
                fold.push(&event);
            }
        }
        progress.scanned.fetch_add(count, Ordering::Relaxed);
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start_key = Some(key.clone()),
            _ => break,
        }
    }
    if let Some(done) = fold.take() {
        for item in finish(done, &mut outcome)? {
            send(&sender, item).await?;
        }
    }
    // An auction met twice in one segment (its run was broken) is read again once.
    outcome.reread.sort_unstable_by_key(|id| id.0);
    outcome.reread.dedup();
    Ok(outcome)
}

/// Takes up to 25 queued items at a time and writes them with BatchWriteItem, sending back
/// unprocessed items with a growing pause, until the queue is closed and empty.
async fn write_batches(
    client: &Client,
    receiver: Arc<Mutex<mpsc::Receiver<(String, Item)>>>,
    progress: &Progress,
) -> Result<(), AuditError> {
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        {
            let mut receiver = receiver.lock().await;
            match receiver.recv().await {
                Some(item) => batch.push(item),
                None => return Ok(()),
            }
            while batch.len() < BATCH {
                match receiver.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
        }
        let count = batch.len() as u64;
        let mut requests: HashMap<String, Vec<WriteRequest>> = HashMap::new();
        for (table, item) in batch {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| AuditError::Rebuild(e.to_string()))?;
            requests
                .entry(table)
                .or_default()
                .push(WriteRequest::builder().put_request(put).build());
        }
        let mut pause = Duration::from_millis(20);
        for attempt in 0.. {
            let output = with_retries(|| {
                client
                    .batch_write_item()
                    .set_request_items(Some(requests.clone()))
                    .send()
            })
            .await?;
            requests = output
                .unprocessed_items
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, left)| !left.is_empty())
                .collect();
            if requests.is_empty() {
                break;
            }
            if attempt >= 20 {
                return Err(AuditError::Rebuild(
                    "BatchWriteItem left items unprocessed 20 times in a row".into(),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
        progress.written.fetch_add(count, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {

    use event_store::testing::golden_history;
    use uuid::Uuid;

    use super::*;

    fn tables() -> ViewTables {
        ViewTables {
            auction_views: "Views".to_owned(),
            user_bids: "Rows".to_owned(),
        }
    }

    /// An auction's first two events (AuctionCreated v1 and BidPlaced v1 from the contract's
    /// golden samples), chained and decoded as a Scan would.
    fn created_and_bid(auction_id: AuctionId) -> Vec<EventEnvelope> {
        golden_history(auction_id, &["AuctionCreated.v1", "BidPlaced.v1"])
            .unwrap()
            .iter()
            .map(|event| event.decode().unwrap())
            .collect()
    }

    #[test]
    fn a_whole_run_from_version_one_yields_the_rows_then_the_projection() {
        let auction_id = AuctionId(Uuid::new_v4());
        let mut fold = Fold::new(auction_id);
        for event in &created_and_bid(auction_id) {
            fold.push(event);
        }

        let items = fold.items(&tables()).unwrap().unwrap();

        let written: Vec<&str> = items.iter().map(|(table, _)| table.as_str()).collect();
        assert_eq!(written, ["Rows", "Views"]);
        assert_eq!(items[1].1["version"], AttributeValue::N("2".to_owned()));
    }

    #[test]
    fn a_run_that_does_not_start_at_version_one_is_read_again() {
        let auction_id = AuctionId(Uuid::new_v4());
        let events = created_and_bid(auction_id);
        let mut fold = Fold::new(auction_id);
        fold.push(&events[1]);

        assert!(fold.items(&tables()).unwrap().is_none());
    }

    #[test]
    fn a_version_skipped_in_the_run_sends_the_auction_back_to_the_log() {
        let auction_id = AuctionId(Uuid::new_v4());
        let events = created_and_bid(auction_id);
        let mut fold = Fold::new(auction_id);
        fold.push(&events[0]);
        fold.push(&events[0]);

        assert!(fold.items(&tables()).unwrap().is_none());
    }
}
