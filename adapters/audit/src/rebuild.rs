//! Rebuilding the read models from the log, beside the live ones, then switching over.
//!
//! 1. **Fresh tables**: the AuctionListView and UserBids pair is created under new names with
//!    the live tables' own key schema and indexes (read with DescribeTable, so the rebuild never
//!    has its own copy of them). An existing table is never reused: nothing is overwritten.
//! 2. **Bulk load**: a parallel Scan of the Events table. DynamoDB keeps an item collection
//!    (one auction's events) inside one segment, in version order, so each segment folds one
//!    auction at a time with the projector's own `project` and, when the next auction starts,
//!    writes the result with BatchWriteItem: the projection and, per bidder, the row as the
//!    projector last wrote it. Nobody else writes the fresh tables yet, so unconditional
//!    batches are safe and cost a 25th of the requests. An auction whose events do not arrive
//!    as one run from version 1 (only possible if that ordering ever broke) is read again
//!    whole from the log after the scan.
//! 3. **Catch-up**: before the Scan starts, the rebuild starts tailing every open shard of the
//!    Events stream at its latest position and keeps the records that arrive during the bulk
//!    load in memory (about a kilobyte per event committed meanwhile). After the bulk load they
//!    go, shard by shard in order, through the projector's version-gated `apply`, so whatever
//!    the Scan already wrote is left alone; then the tail goes on until it finds nothing new.
//!    The Scan starts `lead` after the tail, so an event committed just before the tail began
//!    is visible to the Scan's eventually consistent reads.
//! 4. **Switch**: the views' alias is pointed at the fresh tables (conditional on the alias not
//!    having moved since the rebuild began). The API and the projector resolve the alias every
//!    [`read_models::ALIAS_TTL`]; until then they read and write the old tables, which stay
//!    complete, so readers never see a missing view.
//! 5. **Grace**: the catch-up keeps running for longer than that TTL, covering the events a
//!    projector still wrote to the old tables after the switch. The old tables are left in
//!    place for the operator to delete.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auction_events::{AuctionId, EventEnvelope};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, GlobalSecondaryIndex, LocalSecondaryIndex, Projection,
    ProvisionedThroughput, PutRequest, TableDescription, TableStatus, WriteRequest,
};
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use chrono::{DateTime, Utc};
use event_store::{DynamoDbStore, EventLog, Meter, StoredEvent, event_from_image};
use futures_util::future::try_join_all;
use read_models::{
    Alias, DynamoDbViews, Projections, Replay, ViewAliases, ViewTables, projection_item,
    user_bid_item,
};
use tokio::sync::{Mutex, mpsc};

use crate::dynamodb::store_failure;
use crate::error::AuditError;

type Item = HashMap<String, AttributeValue>;

/// BatchWriteItem's limit.
const BATCH: usize = 25;

/// How a rebuild runs.
#[derive(Debug, Clone)]
pub struct RebuildOptions {
    /// The fresh tables to create and fill.
    pub target: ViewTables,
    /// Parallel Scan segments.
    pub segments: i32,
    /// BatchWriteItem requests in flight at once.
    pub writers: usize,
    /// Point the views' alias at the fresh tables when they have caught up.
    pub switch: bool,
    /// How long the catch-up keeps running after the switch: longer than
    /// [`read_models::ALIAS_TTL`] plus a projector batch.
    pub grace: Duration,
    /// How long after the stream tail starts the Scan begins: longer than an eventually
    /// consistent read lags behind a write, so every event is in the Scan or in the tail.
    pub lead: Duration,
}

impl RebuildOptions {
    pub fn new(target: ViewTables) -> Self {
        Self {
            target,
            segments: 8,
            writers: 8,
            switch: true,
            grace: read_models::ALIAS_TTL * 3,
            lead: Duration::from_secs(2),
        }
    }
}

/// Where a rebuild reads from and what it switches.
#[derive(Debug, Clone)]
pub struct Sources {
    pub dynamodb: Client,
    pub streams: StreamsClient,
    pub log: DynamoDbStore,
    pub aliases: ViewAliases,
    /// The live tables when no alias was ever stored (the environment's).
    pub fallback: ViewTables,
    /// What the consumers gave up on, for `auction-admin parked`.
    pub parked: parking::DynamoDbParked,
    /// For `auction-admin redrive`.
    pub sqs: aws_sdk_sqs::Client,
    /// Where `auction-admin parked replay` redelivers: `None` builds them from the environment
    /// on first use, so that audits need no queue.
    pub consumers: Option<std::sync::Arc<parking::Consumers>>,
    pub sdk: aws_config::SdkConfig,
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub target: ViewTables,
    /// Events read by the Scan.
    pub events: u64,
    pub auctions: u64,
    /// Items written by the bulk load (projections and rows).
    pub items: u64,
    /// Auctions read again from the log because the Scan did not deliver them as one run.
    pub reread: u64,
    /// Stream records applied by the catch-up (before and after the switch).
    pub caught_up: u64,
    /// The bulk load alone (Scan, fold and writes).
    pub bulk: Duration,
    pub total: Duration,
    /// The alias generation switched to, if the rebuild switched.
    pub generation: Option<u64>,
}

impl Rebuilt {
    /// Events per second of the bulk load.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.bulk.as_secs_f64().max(f64::EPSILON)
    }
}

/// Which phase a rebuild is in, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Creating = 0,
    Scanning = 1,
    Rereading = 2,
    CatchingUp = 3,
    Switching = 4,
    Grace = 5,
    Done = 6,
}

impl Phase {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Creating,
            1 => Self::Scanning,
            2 => Self::Rereading,
            3 => Self::CatchingUp,
            4 => Self::Switching,
            5 => Self::Grace,
            _ => Self::Done,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Creating => "creating tables",
            Self::Scanning => "scanning",
            Self::Rereading => "rereading",
            Self::CatchingUp => "catching up",
            Self::Switching => "switching",
            Self::Grace => "grace",
            Self::Done => "done",
        }
    }
}

/// Counters a rebuild updates as it goes; a reporter reads them from another task.
#[derive(Debug, Default)]
pub struct Progress {
    phase: std::sync::atomic::AtomicU8,
    /// DescribeTable's ItemCount of the Events table: an estimate (AWS refreshes it about
    /// every six hours).
    pub estimated: AtomicU64,
    pub scanned: AtomicU64,
    pub written: AtomicU64,
    pub caught_up: AtomicU64,
    /// When the Scan began and, once done, ended: the rate counts the bulk load only.
    scan_window: std::sync::Mutex<(Option<Instant>, Option<Instant>)>,
}

impl Progress {
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    fn enter(&self, phase: Phase) {
        if let Ok(mut window) = self.scan_window.lock() {
            let now = Instant::now();
            match (phase, *window) {
                (Phase::Scanning, (None, _)) => window.0 = Some(now),
                (Phase::Scanning, _) => {}
                (_, (Some(_), None)) => window.1 = Some(now),
                _ => {}
            }
        }
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// How long the Scan has run (or ran, once it is done).
    pub fn scanning_for(&self) -> Duration {
        match self.scan_window.lock().map(|window| *window) {
            Ok((Some(start), Some(end))) => end.duration_since(start),
            Ok((Some(start), None)) => start.elapsed(),
            _ => Duration::ZERO,
        }
    }

    /// [`Progress::line_after`] the Scan's own time so far.
    pub fn line(&self) -> String {
        self.line_after(self.scanning_for())
    }

    /// One line: the phase, events scanned of the estimate, the rate over `scanning_for` and
    /// the time left at that rate.
    pub fn line_after(&self, scanning_for: Duration) -> String {
        let phase = self.phase();
        let scanned = self.scanned.load(Ordering::Relaxed);
        let estimated = self.estimated.load(Ordering::Relaxed).max(scanned);
        let written = self.written.load(Ordering::Relaxed);
        let seconds = scanning_for.as_secs_f64();
        let rate = if seconds > 0.0 {
            scanned as f64 / seconds
        } else {
            0.0
        };
        let mut line = format!(
            "{:<15} {} / ~{} events",
            phase.label(),
            thousands(scanned),
            thousands(estimated)
        );
        if let Some(percent) = scanned.saturating_mul(100).checked_div(estimated) {
            line.push_str(&format!(" {:>3}%", percent.min(100)));
        }
        line.push_str(&format!(
            "  {} events/s  {} items written",
            thousands(rate as u64),
            thousands(written)
        ));
        if phase == Phase::Scanning && rate > 0.0 {
            let left = estimated.saturating_sub(scanned) as f64 / rate;
            line.push_str(&format!("  ETA {}", clock(Duration::from_secs_f64(left))));
        }
        let caught_up = self.caught_up.load(Ordering::Relaxed);
        if caught_up > 0 {
            line.push_str(&format!("  {} stream records", thousands(caught_up)));
        }
        line
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn clock(duration: Duration) -> String {
    let secs = duration.as_secs();
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The default fresh tables: the environment's names with the rebuild's start,
/// `AuctionListView-r20261127T181500`, so that each rebuild gets its own without probing.
pub fn fresh_tables(base: &ViewTables, at: DateTime<Utc>) -> ViewTables {
    let suffix = at.format("-r%Y%m%dT%H%M%S");
    ViewTables {
        auction_views: format!("{}{suffix}", base.auction_views),
        user_bids: format!("{}{suffix}", base.user_bids),
    }
}

impl Sources {
    /// Clients from `config`; the Events table and the other store tables from
    /// `EVENTS_TABLE` etc., the alias table from `READ_MODEL_ALIASES_TABLE`, the fallback view
    /// tables from `AUCTION_VIEWS_TABLE` and `USER_BIDS_TABLE`.
    pub fn from_env(config: &aws_config::SdkConfig) -> Self {
        let dynamodb = Client::new(config);
        Self {
            streams: StreamsClient::new(config),
            log: DynamoDbStore::new(dynamodb.clone(), event_store::TableNames::from_env()),
            aliases: ViewAliases::from_env(dynamodb.clone()),
            fallback: ViewTables::from_env(),
            parked: parking::DynamoDbParked::from_env(dynamodb.clone()),
            sqs: aws_sdk_sqs::Client::new(config),
            consumers: None,
            sdk: config.clone(),
            dynamodb,
        }
    }

    /// The consumers a replay redelivers to.
    pub async fn consumers(
        &self,
    ) -> Result<std::sync::Arc<parking::Consumers>, parking::ParkingError> {
        match &self.consumers {
            Some(consumers) => Ok(std::sync::Arc::clone(consumers)),
            None => Ok(std::sync::Arc::new(
                parking::Consumers::from_env(&self.sdk).await?,
            )),
        }
    }
}

/// Rebuilds the views into `options.target` and, if asked, switches readers over. See the
/// module's documentation for the phases.
pub async fn rebuild(
    sources: &Sources,
    options: &RebuildOptions,
    progress: &Progress,
) -> Result<Rebuilt, AuditError> {
    let started = Instant::now();
    let events_table = sources.log.tables().events.clone();
    let alias = sources.aliases.current(&sources.fallback).await?;
    if alias.tables.auction_views == options.target.auction_views
        || alias.tables.user_bids == options.target.user_bids
    {
        return Err(AuditError::TargetExists(format!(
            "{} / {} are the live tables",
            options.target.auction_views, options.target.user_bids
        )));
    }

    progress.enter(Phase::Creating);
    let events = describe(&sources.dynamodb, &events_table).await?;
    progress.estimated.store(
        events
            .item_count()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        Ordering::Relaxed,
    );
    let stream_arn = events
        .latest_stream_arn()
        .map(str::to_owned)
        .ok_or_else(|| {
            AuditError::Rebuild(format!(
                "the Events table {events_table} has no stream to catch up from"
            ))
        })?;
    for (live, fresh) in [
        (&alias.tables.auction_views, &options.target.auction_views),
        (&alias.tables.user_bids, &options.target.user_bids),
    ] {
        create_like(&sources.dynamodb, live, fresh).await?;
    }

    let target_views = DynamoDbViews::new(sources.dynamodb.clone(), options.target.clone());
    let mut tail = Tail::start(&sources.streams, &stream_arn).await?;
    tokio::time::sleep(options.lead).await;

    let bulk_started = Instant::now();
    progress.enter(Phase::Scanning);
    let loading = std::sync::atomic::AtomicBool::new(true);
    let mut buffered: Vec<EventEnvelope> = Vec::new();
    let (bulk, tailed) = tokio::join!(
        async {
            let bulk = bulk_load(sources, &events_table, options, progress).await;
            loading.store(false, Ordering::Relaxed);
            bulk
        },
        async {
            while loading.load(Ordering::Relaxed) {
                buffered.extend(tail.poll().await?);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok::<_, AuditError>(())
        }
    );
    let bulk = bulk?;
    tailed?;
    let bulk_took = bulk_started.elapsed();

    progress.enter(Phase::CatchingUp);
    for event in &buffered {
        apply_one(&target_views, &sources.log, event).await?;
        progress.caught_up.fetch_add(1, Ordering::Relaxed);
    }
    drop(buffered);
    tail.until_caught_up(&target_views, &sources.log, progress)
        .await?;

    let mut generation = None;
    if options.switch {
        progress.enter(Phase::Switching);
        let switched = switch(&sources.aliases, &alias, &options.target).await?;
        generation = Some(switched.generation);
        progress.enter(Phase::Grace);
        let until = Instant::now() + options.grace;
        while Instant::now() < until {
            tail.until_caught_up(&target_views, &sources.log, progress)
                .await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    progress.enter(Phase::Done);
    Ok(Rebuilt {
        target: options.target.clone(),
        events: bulk.events,
        auctions: bulk.auctions,
        items: progress.written.load(Ordering::Relaxed),
        reread: bulk.reread,
        caught_up: progress.caught_up.load(Ordering::Relaxed),
        bulk: bulk_took,
        total: started.elapsed(),
        generation,
    })
}

async fn switch(aliases: &ViewAliases, from: &Alias, to: &ViewTables) -> Result<Alias, AuditError> {
    Ok(aliases.switch(from, to).await?)
}

async fn describe(client: &Client, table: &str) -> Result<TableDescription, AuditError> {
    client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| store_failure(&e))?
        .table
        .ok_or_else(|| AuditError::Rebuild(format!("DescribeTable {table} returned no table")))
}

/// Creates `fresh` with `live`'s keys, indexes and billing, and waits until it is active.
async fn create_like(client: &Client, live: &str, fresh: &str) -> Result<(), AuditError> {
    let exists = client.describe_table().table_name(fresh).send().await;
    match exists {
        Ok(_) => {
            return Err(AuditError::TargetExists(format!(
                "table {fresh} already exists; a rebuild only fills fresh tables"
            )));
        }
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) => {}
        Err(error) => return Err(store_failure(&error)),
    }
    let source = describe(client, live).await?;
    let provisioned = source
        .billing_mode_summary()
        .and_then(|summary| summary.billing_mode())
        .is_some_and(|mode| *mode == BillingMode::Provisioned)
        // DynamoDB Local reports provisioned throughput without a billing summary.
        || source
            .provisioned_throughput()
            .and_then(|t| t.read_capacity_units())
            .is_some_and(|units| units > 0);
    let throughput = |read: Option<i64>, write: Option<i64>| {
        ProvisionedThroughput::builder()
            .read_capacity_units(read.unwrap_or(5).max(1))
            .write_capacity_units(write.unwrap_or(5).max(1))
            .build()
    };
    let mut request = client
        .create_table()
        .table_name(fresh)
        .set_key_schema(Some(source.key_schema().to_vec()))
        .set_attribute_definitions(Some(source.attribute_definitions().to_vec()));
    if provisioned {
        let t = source.provisioned_throughput();
        request = request.provisioned_throughput(
            throughput(
                t.and_then(|t| t.read_capacity_units()),
                t.and_then(|t| t.write_capacity_units()),
            )
            .map_err(|e| AuditError::Rebuild(e.to_string()))?,
        );
    } else {
        request = request.billing_mode(BillingMode::PayPerRequest);
    }
    for index in source.global_secondary_indexes() {
        let mut built = GlobalSecondaryIndex::builder()
            .set_index_name(index.index_name().map(str::to_owned))
            .set_key_schema(Some(index.key_schema().to_vec()))
            .set_projection(index.projection().cloned().or_else(|| {
                Some(
                    Projection::builder()
                        .projection_type(aws_sdk_dynamodb::types::ProjectionType::All)
                        .build(),
                )
            }));
        if provisioned {
            let t = index.provisioned_throughput();
            built = built.provisioned_throughput(
                throughput(
                    t.and_then(|t| t.read_capacity_units()),
                    t.and_then(|t| t.write_capacity_units()),
                )
                .map_err(|e| AuditError::Rebuild(e.to_string()))?,
            );
        }
        request = request.global_secondary_indexes(
            built
                .build()
                .map_err(|e| AuditError::Rebuild(e.to_string()))?,
        );
    }
    for index in source.local_secondary_indexes() {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .set_index_name(index.index_name().map(str::to_owned))
                .set_key_schema(Some(index.key_schema().to_vec()))
                .set_projection(index.projection().cloned())
                .build()
                .map_err(|e| AuditError::Rebuild(e.to_string()))?,
        );
    }
    request.send().await.map_err(|e| store_failure(&e))?;
    for _ in 0..600 {
        let status = describe(client, fresh).await?.table_status().cloned();
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(AuditError::Rebuild(format!(
        "table {fresh} did not become active within 2 minutes"
    )))
}

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

struct Bulk {
    events: u64,
    auctions: u64,
    reread: u64,
}

/// Phase 2: the parallel Scan folded into batch writes; then, once those are all written, the
/// auctions to read again from the log (so that their complete fold is the last write).
async fn bulk_load(
    sources: &Sources,
    events_table: &str,
    options: &RebuildOptions,
    progress: &Progress,
) -> Result<Bulk, AuditError> {
    let segments = options.segments.max(1);
    let (mut bulk, reread) = with_writers(
        &sources.dynamodb,
        options.writers,
        progress,
        |sender| async move {
            let scans = (0..segments).map(|segment| {
                scan_segment(
                    &sources.dynamodb,
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
        },
    )
    .await?;
    if reread.is_empty() {
        return Ok(bulk);
    }
    progress.enter(Phase::Rereading);
    bulk.reread = reread.len() as u64;
    // A reread auction was counted once per run the Scan delivered.
    bulk.auctions = bulk.auctions.saturating_sub(bulk.reread);
    with_writers(
        &sources.dynamodb,
        options.writers,
        progress,
        |sender| async move {
            for auction_id in reread {
                let events = sources
                    .log
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
        },
    )
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
        outcome.events += count;
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

/// Runs `request` again on throttling and transport failures (up to 8 times, with a growing
/// pause); other failures are returned at once. For DynamoDB and DynamoDB Streams requests
/// alike: both SDKs share the error type.
async fn with_retries<T, E, R, F, Fut>(mut request: F) -> Result<T, AuditError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>>,
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut pause = Duration::from_millis(50);
    let mut attempt = 0;
    loop {
        match request().await {
            Ok(output) => return Ok(output),
            Err(error) => {
                attempt += 1;
                if !conventions::Failure::of(&error).is_transient() || attempt >= 8 {
                    return Err(store_failure(&error));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Phase 3: the Events stream, tailed from where it stood when the rebuild began: every shard
/// open then from its latest record, every shard that appears later (a rollover's children)
/// from its trim horizon, each child after its parent.
struct Tail<'a> {
    streams: &'a StreamsClient,
    stream_arn: &'a str,
    /// Shards seen so far (also the closed ones at the start, which are never read).
    known: HashSet<String>,
    /// Each shard to read and its next iterator; `None` once a closed shard ended.
    shards: Vec<(String, Option<String>)>,
}

impl<'a> Tail<'a> {
    async fn start(streams: &'a StreamsClient, stream_arn: &'a str) -> Result<Self, AuditError> {
        let mut tail = Self {
            streams,
            stream_arn,
            known: HashSet::new(),
            shards: Vec::new(),
        };
        for shard in tail.list().await? {
            if shard.open {
                tail.add(&shard.id, ShardIteratorType::Latest).await?;
            }
            tail.known.insert(shard.id);
        }
        Ok(tail)
    }

    /// Reads every shard until it is empty (open) or ended (closed): the events that arrived
    /// since the last poll, in order within each shard.
    async fn poll(&mut self) -> Result<Vec<EventEnvelope>, AuditError> {
        self.discover().await?;
        let mut events = Vec::new();
        for index in 0..self.shards.len() {
            while let Some(iterator) = self.shards[index].1.clone() {
                let output =
                    with_retries(|| self.streams.get_records().shard_iterator(&iterator).send())
                        .await?;
                let records = output.records();
                for record in records {
                    events.extend(event_of(record)?);
                }
                self.shards[index].1 = output.next_shard_iterator().map(str::to_owned);
                if records.is_empty() {
                    break;
                }
            }
        }
        Ok(events)
    }

    /// Polls and applies until a poll finds nothing; returns how many events were applied.
    async fn until_caught_up(
        &mut self,
        views: &DynamoDbViews,
        log: &DynamoDbStore,
        progress: &Progress,
    ) -> Result<u64, AuditError> {
        let mut applied = 0;
        loop {
            let events = self.poll().await?;
            if events.is_empty() {
                return Ok(applied);
            }
            for event in &events {
                apply_one(views, log, event).await?;
                applied += 1;
                progress.caught_up.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn list(&self) -> Result<Vec<Shard>, AuditError> {
        let mut listed = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let output = with_retries(|| {
                self.streams
                    .describe_stream()
                    .stream_arn(self.stream_arn)
                    .set_exclusive_start_shard_id(start.clone())
                    .send()
            })
            .await?;
            let Some(description) = output.stream_description else {
                return Err(AuditError::Rebuild(
                    "DescribeStream returned nothing".into(),
                ));
            };
            for shard in description.shards.unwrap_or_default() {
                let open = shard
                    .sequence_number_range()
                    .is_none_or(|range| range.ending_sequence_number().is_none());
                if let Some(id) = shard.shard_id {
                    listed.push(Shard {
                        id,
                        parent: shard.parent_shard_id,
                        open,
                    });
                }
            }
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => return Ok(listed),
            }
        }
    }

    /// Adds the shards not seen yet, each after its parent, read from their trim horizon.
    async fn discover(&mut self) -> Result<(), AuditError> {
        let listed = self.list().await?;
        let ids: HashSet<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        let mut pending: Vec<&Shard> = listed
            .iter()
            .filter(|s| !self.known.contains(&s.id))
            .collect();
        while !pending.is_empty() {
            let (ready, rest): (Vec<&Shard>, Vec<&Shard>) = pending.into_iter().partition(|s| {
                s.parent
                    .as_deref()
                    .is_none_or(|p| !ids.contains(p) || self.known.contains(p))
            });
            // A cycle cannot happen; should one appear, take the rest as listed.
            let (ready, rest) = if ready.is_empty() {
                (rest, Vec::new())
            } else {
                (ready, rest)
            };
            for shard in ready {
                self.add(&shard.id, ShardIteratorType::TrimHorizon).await?;
                self.known.insert(shard.id.clone());
            }
            pending = rest;
        }
        Ok(())
    }

    async fn add(&mut self, shard_id: &str, position: ShardIteratorType) -> Result<(), AuditError> {
        let output = with_retries(|| {
            self.streams
                .get_shard_iterator()
                .stream_arn(self.stream_arn)
                .shard_id(shard_id)
                .shard_iterator_type(position.clone())
                .send()
        })
        .await?;
        self.shards.push((
            shard_id.to_owned(),
            output.shard_iterator().map(str::to_owned),
        ));
        Ok(())
    }
}

struct Shard {
    id: String,
    parent: Option<String>,
    open: bool,
}

/// The record's event, if it is an append (the Events table is append-only; anything else is
/// not an event).
fn event_of(
    record: &aws_sdk_dynamodbstreams::types::Record,
) -> Result<Option<EventEnvelope>, AuditError> {
    let Some(image) = record.dynamodb().and_then(|change| change.new_image()) else {
        return Ok(None);
    };
    let item: Item = image
        .iter()
        .map(|(name, value)| (name.clone(), from_stream(value)))
        .collect();
    let stored: StoredEvent = event_from_image(&item)?;
    Ok(Some(stored.decode()?))
}

/// The version-gated path of the projector: loads what the fresh tables hold and applies the
/// event (filling any gap from the log).
async fn apply_one(
    views: &DynamoDbViews,
    log: &DynamoDbStore,
    event: &EventEnvelope,
) -> Result<(), AuditError> {
    let current = views.load(event.aggregate_id).await?;
    read_models::apply(views, log, current, event).await?;
    Ok(())
}

/// A stream image's value as the DynamoDB client's own type, so the store's item parser reads
/// it.
fn from_stream(value: &aws_sdk_dynamodbstreams::types::AttributeValue) -> AttributeValue {
    use aws_sdk_dynamodbstreams::types::AttributeValue as S;
    match value {
        S::S(text) => AttributeValue::S(text.clone()),
        S::N(number) => AttributeValue::N(number.clone()),
        S::B(blob) => AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
            blob.as_ref().to_vec(),
        )),
        S::Bool(flag) => AttributeValue::Bool(*flag),
        S::Null(flag) => AttributeValue::Null(*flag),
        S::Ss(texts) => AttributeValue::Ss(texts.clone()),
        S::Ns(numbers) => AttributeValue::Ns(numbers.clone()),
        S::Bs(blobs) => AttributeValue::Bs(
            blobs
                .iter()
                .map(|b| aws_sdk_dynamodb::primitives::Blob::new(b.as_ref().to_vec()))
                .collect(),
        ),
        S::L(values) => AttributeValue::L(values.iter().map(from_stream).collect()),
        S::M(map) => AttributeValue::M(
            map.iter()
                .map(|(name, value)| (name.clone(), from_stream(value)))
                .collect(),
        ),
        // An attribute type newer than this code: keep it visible as unreadable rather than
        // silently dropping it.
        _ => AttributeValue::Null(true),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
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

    #[test]
    fn fresh_tables_carry_the_start_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 18, 15, 0).unwrap();

        let fresh = fresh_tables(&tables(), at);

        assert_eq!(fresh.auction_views, "Views-r20261127T181500");
        assert_eq!(fresh.user_bids, "Rows-r20261127T181500");
    }

    #[test]
    fn the_progress_line_shows_the_share_the_rate_and_the_time_left() {
        let progress = Progress::default();
        progress.enter(Phase::Scanning);
        progress.estimated.store(1_000_000, Ordering::Relaxed);
        progress.scanned.store(250_000, Ordering::Relaxed);
        progress.written.store(45_000, Ordering::Relaxed);

        let line = progress.line_after(Duration::from_secs(10));

        assert!(line.starts_with("scanning"), "{line}");
        assert!(line.contains("250,000 / ~1,000,000 events  25%"), "{line}");
        assert!(line.contains("25,000 events/s"), "{line}");
        assert!(line.contains("45,000 items written"), "{line}");
        assert!(line.contains("ETA 0:00:30"), "{line}");
    }

    #[test]
    fn the_estimate_never_falls_below_what_was_scanned() {
        let progress = Progress::default();
        progress.enter(Phase::CatchingUp);
        progress.estimated.store(10, Ordering::Relaxed);
        progress.scanned.store(12, Ordering::Relaxed);

        let line = progress.line_after(Duration::from_secs(1));

        assert!(line.contains("12 / ~12 events 100%"), "{line}");
        assert!(!line.contains("ETA"), "{line}");
    }
}
