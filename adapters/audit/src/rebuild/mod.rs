//! Rebuilding the read models from the log, beside the live ones, then switching over.
//!
//! The phases, each in its own file:
//!
//! 1. **Fresh tables** ([`tables`]): the AuctionListView and UserBids pair is created under new names with
//!    the live tables' own key schema and indexes (read with DescribeTable, so the rebuild never
//!    has its own copy of them). An existing table is never reused: nothing is overwritten.
//! 2. **Bulk load** ([`bulk`]): a parallel Scan of the Events table. DynamoDB keeps an item collection
//!    (one auction's events) inside one segment, in version order, so each segment folds one
//!    auction at a time with the projector's own `project` and, when the next auction starts,
//!    writes the result with BatchWriteItem: the projection and, per bidder, the row as the
//!    projector last wrote it. Nobody else writes the fresh tables yet, so unconditional
//!    batches are safe and cost a 25th of the requests. An auction whose events do not arrive
//!    as one run from version 1 (only possible if that ordering ever broke) is read again
//!    whole from the log after the scan.
//! 3. **Catch-up** ([`tail`]): before the Scan starts, the rebuild starts tailing every open shard of the
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
//!
//! [`progress`] is what a reporter reads meanwhile; [`options`] what the caller asks and gets.
//! The CLI's wider set of clients (parking, SQS) is `auction-admin`'s, not the rebuild's.

mod bulk;
mod options;
mod progress;
mod retry;
mod tables;
mod tail;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use event_store::DynamoDbStore;
use events::EventEnvelope;
use read_models::{DynamoDbViews, ViewAliases, ViewTables};

use crate::error::AuditError;
use bulk::bulk_load;
use tables::{create_like, describe};
use tail::{Tail, apply_one};

pub use options::{RebuildOptions, Rebuilt, fresh_tables};
pub use progress::{Phase, Progress};

/// Where a rebuild reads from and what it switches.
#[derive(Debug, Clone)]
pub struct Sources {
    pub dynamodb: Client,
    pub streams: StreamsClient,
    pub log: DynamoDbStore,
    pub aliases: ViewAliases,
    /// The live tables when no alias was ever stored (the environment's).
    pub fallback: ViewTables,
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
            dynamodb,
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
    let loading = AtomicBool::new(true);
    let mut buffered: Vec<EventEnvelope> = Vec::new();
    let (bulk, tailed) = tokio::join!(
        async {
            let bulk = bulk_load(
                &sources.dynamodb,
                &sources.log,
                &events_table,
                options,
                progress,
            )
            .await;
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
        let switched = sources.aliases.switch(&alias, &options.target).await?;
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
