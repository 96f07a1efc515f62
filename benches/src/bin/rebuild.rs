//! Rebuild benchmark: how fast `auction-admin rebuild` turns the Events table into fresh read
//! models, against a raw parallel Scan of the same table in the same run.
//!
//! - **baseline, raw parallel Scan**: every item of the Events table read with the same number
//!   of segments, every page followed, nothing done with the items (measured before and after
//!   the rebuild; the figure is their mean, so neither gets a warmer table);
//! - **rebuild, bulk**: the same Scan with each item decoded (through the upcasters), folded by
//!   the projector and written to fresh tables with BatchWriteItem;
//! - **rebuild, end to end**: the bulk plus creating the tables and catching up from the stream.
//!
//! The load: BENCH_REBUILD_AUCTIONS auctions (default 20,000) of BENCH_REBUILD_BIDS bids each
//! (default 48, from 8 bidders), i.e. 1,000,000 events by default, decided by the domain and
//! chained exactly as the store would, then written with BatchWriteItem. Loading takes a few
//! minutes and is not part of any figure; on the 2-core machine the whole run takes about half
//! an hour, because DynamoDB Local scans a million items at about 2,000 per second.
//!
//! Run it with `scripts/bench rebuild`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use audit::rebuild::{Progress, RebuildOptions, Sources, rebuild};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use benchmarks::{Better, Measurement, print_table, record};
use domain::decide_create;
use e2e::fixtures;
use event_store::{InMemoryStore, SnapshotPolicy, Store};
use events::{AuctionId, BidId};
use futures_util::future::try_join_all;
use local_stack::{Clients, Endpoints, ResourceNames, provision};
use read_models::{ViewAliases, ViewTables};
use tokio::sync::{Mutex, mpsc};
use uuid::Uuid;

type Item = HashMap<String, AttributeValue>;

const SEGMENTS: i32 = 8;

#[tokio::main]
async fn main() -> Result<()> {
    let auctions = benchmarks::setting("BENCH_REBUILD_AUCTIONS", 20_000).max(1);
    let bids = benchmarks::setting("BENCH_REBUILD_BIDS", 48);
    let endpoints = Endpoints::from_env()
        .context("no local stack: run `scripts/bench rebuild`, which starts one")?;
    let clients = Clients::connect(&endpoints).await;
    let names =
        ResourceNames::with_prefix(&format!("rb{}", &Uuid::new_v4().simple().to_string()[..8]));
    provision(&clients, &names).await.context("provisioning")?;

    println!("# Rebuild benchmark");
    println!();
    println!(
        "DynamoDB Local at {}; {auctions} auctions x ({bids} bids + 2) events from 8 bidders; \
         {SEGMENTS} Scan segments, 8 writers ({}).",
        endpoints.dynamodb,
        benchmarks::build_profile()
    );
    println!();

    let started = Instant::now();
    let loaded = load(&clients.dynamodb, &names.events_table, auctions, bids).await?;
    println!(
        "Loaded {loaded} events in {:.0} s (not measured).",
        started.elapsed().as_secs_f64()
    );
    // Let the stream settle, so the rebuild's tail starts after the load.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let before = raw_scan(&clients.dynamodb, &names.events_table).await?;
    // Each figure on stderr as soon as it is measured: the whole run takes half an hour.
    eprintln!(
        "raw Scan before the rebuild: {} events in {:.1} s",
        before.0,
        before.1.as_secs_f64()
    );
    let sdk = local_stack::sdk_config().await;
    let sources = Sources {
        dynamodb: clients.dynamodb.clone(),
        streams: aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
                .endpoint_url(&endpoints.dynamodb)
                .build(),
        ),
        log: event_store::DynamoDbStore::new(
            clients.dynamodb.clone(),
            fixtures::table_names(&names),
        ),
        aliases: ViewAliases::new(
            clients.dynamodb.clone(),
            names.read_model_aliases_table.clone(),
        ),
        fallback: ViewTables {
            auction_views: names.auction_views_table.clone(),
            user_bids: names.user_bids_table.clone(),
        },
    };
    let mut options = RebuildOptions::new(ViewTables {
        auction_views: format!("{}-rebuilt", names.auction_views_table),
        user_bids: format!("{}-rebuilt", names.user_bids_table),
    });
    options.segments = SEGMENTS;
    options.writers = 8;
    options.switch = false;
    let rebuilt = rebuild(&sources, &options, &Progress::default())
        .await
        .context("rebuilding")?;
    eprintln!(
        "rebuild: {} events, bulk {:.1} s, end to end {:.1} s",
        rebuilt.events,
        rebuilt.bulk.as_secs_f64(),
        rebuilt.total.as_secs_f64()
    );
    let after = raw_scan(&clients.dynamodb, &names.events_table).await?;

    let scanned = (before.0 + after.0) / 2;
    let scan_time = (before.1 + after.1) / 2;
    let scan_rate = scanned as f64 / scan_time.as_secs_f64();
    let bulk_rate = rebuilt.rate();
    let end_to_end = rebuilt.events as f64 / rebuilt.total.as_secs_f64();
    let row = |what: &str, events: u64, time: Duration, rate: f64| {
        vec![
            what.to_owned(),
            events.to_string(),
            format!("{:.1} s", time.as_secs_f64()),
            format!("{rate:.0}/s"),
            format!("{:.2}x", rate / scan_rate),
        ]
    };
    print_table(
        &["what", "events", "time", "rate", "vs raw Scan"],
        &[
            row(
                "baseline: raw parallel Scan, before the rebuild",
                before.0,
                before.1,
                before.0 as f64 / before.1.as_secs_f64(),
            ),
            row(
                "baseline: raw parallel Scan, after the rebuild",
                after.0,
                after.1,
                after.0 as f64 / after.1.as_secs_f64(),
            ),
            row(
                "rebuild, bulk (Scan + fold + BatchWriteItem)",
                rebuilt.events,
                rebuilt.bulk,
                bulk_rate,
            ),
            row(
                "rebuild, end to end (tables, bulk, catch-up)",
                rebuilt.events,
                rebuilt.total,
                end_to_end,
            ),
        ],
    );
    println!();
    for (what, rate) in [
        (
            "rebuild, bulk (Scan + fold + BatchWriteItem): rate",
            bulk_rate,
        ),
        (
            "rebuild, end to end (tables, bulk, catch-up): rate",
            end_to_end,
        ),
    ] {
        record(&Measurement::new(what, rate, "events/s").beside(
            Better::Higher,
            "raw parallel Scan of the same table, rate",
            scan_rate,
        ))?;
    }
    println!(
        "The rebuild wrote {} items ({} auctions, their rows), read {} auctions again from the \
         log, and applied {} stream records. Baseline: the mean of the two raw Scans, {scan_rate:.0} events/s.",
        rebuilt.items, rebuilt.auctions, rebuilt.reread, rebuilt.caught_up
    );
    Ok(())
}

/// Every item of `table` read by a parallel Scan: how many, and how long it took.
async fn raw_scan(client: &Client, table: &str) -> Result<(u64, Duration)> {
    let started = Instant::now();
    let segments = (0..SEGMENTS).map(|segment| async move {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(table)
                .segment(segment)
                .total_segments(SEGMENTS)
                .select(Select::AllAttributes)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .context("scanning")?;
            count += page.items().len() as u64;
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return anyhow::Ok(count),
            }
        }
    });
    let counts = try_join_all(segments).await?;
    Ok((counts.iter().sum(), started.elapsed()))
}

/// Writes `auctions` histories of `bids` bids into `table`: two producers decide and chain
/// them in memory, sixteen writers send them in batches of 25.
async fn load(client: &Client, table: &str, auctions: usize, bids: usize) -> Result<u64> {
    let (sender, receiver) = mpsc::channel::<Item>(25 * 64);
    let receiver = Arc::new(Mutex::new(receiver));
    let written = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..16 {
        let (client, table, receiver, written) = (
            client.clone(),
            table.to_owned(),
            Arc::clone(&receiver),
            Arc::clone(&written),
        );
        writers.push(tokio::spawn(async move {
            loop {
                let mut batch = Vec::with_capacity(25);
                {
                    let mut receiver = receiver.lock().await;
                    match receiver.recv().await {
                        Some(item) => batch.push(item),
                        None => return anyhow::Ok(()),
                    }
                    while batch.len() < 25 {
                        match receiver.try_recv() {
                            Ok(item) => batch.push(item),
                            Err(_) => break,
                        }
                    }
                }
                let count = batch.len() as u64;
                benchmarks::write_batch(&client, &table, batch).await?;
                let total = written.fetch_add(count, Ordering::Relaxed) + count;
                if total / 100_000 != (total - count) / 100_000 {
                    eprintln!("loaded {total} events");
                }
            }
        }));
    }
    let producers = 2;
    let mut tasks = Vec::new();
    for producer in 0..producers {
        let sender = sender.clone();
        let share = auctions / producers + usize::from(producer < auctions % producers);
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                for item in history(bids).await? {
                    sender.send(item).await.context("the writers stopped")?;
                }
            }
            anyhow::Ok(())
        }));
    }
    drop(sender);
    for task in tasks {
        task.await??;
    }
    for writer in writers {
        writer.await??;
    }
    Ok(written.load(Ordering::Relaxed))
}

/// One auction's items: created, started, then `bids` bids from 8 bidders in turn.
async fn history(bids: usize) -> Result<Vec<Item>> {
    let store = Store::new(InMemoryStore::new(), SnapshotPolicy::inline(100));
    let auction_id = AuctionId(Uuid::new_v4());
    let create = fixtures::create_command(auction_id);
    let seller = fixtures::user("seller");
    store
        .execute(
            auction_id,
            &fixtures::context(&seller, None),
            |state, now| decide_create(state, &create, now),
        )
        .await?;
    let bidders: Vec<_> = (0..8).map(|i| fixtures::user(&format!("b{i}"))).collect();
    for i in 0..bids {
        let bidder = &bidders[i % bidders.len()];
        let bid_id = BidId(Uuid::new_v4());
        store
            .execute(
                auction_id,
                &fixtures::context(bidder, None),
                |state, now| fixtures::outbid(bidder, bid_id, state, now),
            )
            .await?;
    }
    store
        .backend()
        .events(auction_id)
        .iter()
        .map(|event| event_store::event_item(event).context("encoding an event"))
        .collect()
}
