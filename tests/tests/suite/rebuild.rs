//! Rebuilding the read models from the log (`audit::rebuild`) against DynamoDB Local: the
//! projector runs behind the local trigger runner exactly as the runner binary wires it (through
//! the views' alias), bids arrive while the rebuild runs, and the rebuilt tables are compared
//! with the projector's item for item.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Running, created, stop_within};
use ::audit::AuditError;
use ::audit::rebuild::{Progress, RebuildOptions, Rebuilt, rebuild};
use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::TimeDelta;
use domain::{CancelAuction, EndAuction, decide_cancel, decide_end};
use e2e::{TestEnv, fixtures};
use event_store::testing::golden_history;
use event_store::{DynamoDbStore, EventLog, Meter, Store};
use events::{AuctionId, BidId};
use local_triggers::{CancellationToken, run_stream};
use read_models::{DynamoDbViews, Projections, ReadModels, ViewAliases, ViewTables};
use uuid::Uuid;

use crate::audit::sources;

const BUDGET: Duration = Duration::from_secs(60);

type Item = HashMap<String, AttributeValue>;

pub(crate) fn live(env: &TestEnv) -> ViewTables {
    ViewTables {
        auction_views: env.names().auction_views_table.clone(),
        user_bids: env.names().user_bids_table.clone(),
    }
}

fn aliases(env: &TestEnv) -> ViewAliases {
    ViewAliases::new(
        env.dynamodb().clone(),
        env.names().read_model_aliases_table.clone(),
    )
}

/// The views as the deployed projector and API hold them: through the alias.
pub(crate) fn aliased(env: &TestEnv) -> DynamoDbViews {
    DynamoDbViews::aliased(env.dynamodb().clone(), aliases(env), live(env))
}

/// Fresh table names under this test's prefix.
pub(crate) fn fresh(env: &TestEnv, tag: &str) -> ViewTables {
    ViewTables {
        auction_views: format!("{}-{tag}", env.names().auction_views_table),
        user_bids: format!("{}-{tag}", env.names().user_bids_table),
    }
}

pub(crate) fn options(target: ViewTables, switch: bool) -> RebuildOptions {
    let mut options = RebuildOptions::new(target);
    options.segments = 4;
    options.writers = 4;
    options.switch = switch;
    // Longer than the alias TTL plus a projector batch.
    options.grace = read_models::ALIAS_TTL + Duration::from_secs(2);
    options
}

/// The projector's handler behind the trigger runner, on the aliased views.
async fn start_projector(env: &TestEnv) -> Running {
    let (mut mapping, clients) = env.stream_mapping("projector").await;
    mapping.report_batch_item_failures = true;
    mapping.bisect_batch_on_function_error = true;
    mapping.retry_delay = Duration::from_millis(20);
    let views = Arc::new(aliased(env));
    let log = Arc::new(env.event_store());
    let heads = Arc::new(env.heads());
    let stop = CancellationToken::new();
    let handler = move |event: Event| {
        let (views, log, heads) = (Arc::clone(&views), Arc::clone(&log), Arc::clone(&heads));
        async move { read_models::handle(&*views, &*log, &*heads, event).await }
    };
    let task = tokio::spawn(run_stream(
        mapping,
        clients,
        Arc::new(handler),
        stop.clone(),
    ));
    (stop, task)
}

async fn stop(running: Running) {
    stop_within(BUDGET, running).await;
}

/// One bid by `bidder` a step above the price (or a raise of their own maximum when leading).
async fn bid(store: &Store<DynamoDbStore>, auction_id: AuctionId, bidder: &str) {
    let bidder = fixtures::user(bidder);
    let bid_id = BidId(Uuid::new_v4());
    let result = store
        .execute(
            auction_id,
            &fixtures::context(&bidder, None),
            |state, now| fixtures::outbid(&bidder, bid_id, state, now),
        )
        .await;
    match result {
        // A closed auction refuses bids: the load does not care.
        Ok(_) | Err(event_store::CommandError::Rejected(_)) => {}
        Err(error) => panic!("a bid failed: {error}"),
    }
}

/// `bidders` bidding concurrently, each `rounds` times on every auction.
async fn load(env: &TestEnv, auctions: &[AuctionId], bidders: &[&str], rounds: usize) {
    let tasks = bidders.iter().map(|bidder| {
        let store = env.store();
        let bidder = (*bidder).to_owned();
        let auctions = auctions.to_vec();
        tokio::spawn(async move {
            for _ in 0..rounds {
                for auction_id in &auctions {
                    bid(&store, *auction_id, &bidder).await;
                }
            }
        })
    });
    for task in tasks {
        task.await.unwrap();
    }
}

async fn end(store: &Store<DynamoDbStore>, auction_id: AuctionId) {
    let mut context = fixtures::context(&fixtures::user("scheduler"), None);
    context.now = fixtures::epoch() + TimeDelta::days(31);
    store
        .execute(auction_id, &context, |state, now| {
            decide_end(state, &EndAuction, now)
        })
        .await
        .unwrap();
}

async fn cancel(store: &Store<DynamoDbStore>, auction_id: AuctionId) {
    let seller = fixtures::user("seller");
    let command = CancelAuction {
        requested_by: seller.clone(),
        reason: Some("withdrawn".to_owned()),
    };
    store
        .execute(
            auction_id,
            &fixtures::context(&seller, None),
            |state, now| decide_cancel(state, &command, now),
        )
        .await
        .unwrap();
}

/// The item `auction_id` sells, registered to its seller in the Items' ledger (whose streams
/// share the Events table, and which no view shows): what the API writes before
/// `AuctionCreated`.
async fn register_item(store: &Store<DynamoDbStore>, auction_id: AuctionId) {
    use domain::item::{ItemState, RegisterItem, decide_register};
    let seller = fixtures::user("seller");
    let item_id = events::ItemId::for_auction(auction_id);
    let command = RegisterItem {
        item_id,
        auction_id,
        owner: seller.clone(),
        title: "A lot".to_owned(),
    };
    store
        .execute(
            item_id,
            &fixtures::context(&seller, None),
            |state: &ItemState, now| decide_register(state, &command, now),
        )
        .await
        .unwrap();
}

/// An auction written in the first schema versions (AuctionCreated v1, BidPlaced v1, from the
/// contract's golden samples), so that the rebuild has to upcast.
async fn old_schema_auction(env: &TestEnv) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let events = golden_history(
        auction_id,
        &["AuctionCreated.v1", "AuctionStarted.v1", "BidPlaced.v1"],
    )
    .unwrap();
    assert_eq!(events[0].envelope.schema_version, 1);
    fixtures::import(&env.event_store(), &events).await.unwrap();
    auction_id
}

/// Waits until each auction's view in `views` stands at its log's last version.
pub(crate) async fn converged(env: &TestEnv, views: &DynamoDbViews, auctions: &[AuctionId]) {
    let log = env.event_store();
    let started = Instant::now();
    for auction_id in auctions {
        let head = log
            .read_after(*auction_id, 0, &Meter::default())
            .await
            .unwrap()
            .last()
            .map_or(0, |event| event.version());
        loop {
            let version = views
                .load(*auction_id)
                .await
                .unwrap()
                .map_or(0, |p| p.version());
            if version == head {
                break;
            }
            assert!(
                started.elapsed() < BUDGET,
                "auction {auction_id}: the views stayed at version {version}, the log is at {head}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Every item of `table`, by its key.
async fn items(env: &TestEnv, table: &str) -> BTreeMap<String, Item> {
    let mut all = BTreeMap::new();
    let mut start = None;
    loop {
        let page = env
            .dynamodb()
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let key = ["auctionId", "userId"]
                .iter()
                .filter_map(|name| item.get(*name).and_then(|v| v.as_s().ok()).cloned())
                .collect::<Vec<_>>()
                .join("#");
            all.insert(key, item.clone());
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return all,
        }
    }
}

/// Asserts both pairs of tables hold the same items, naming the first difference.
pub(crate) async fn assert_same_items(env: &TestEnv, expected: &ViewTables, actual: &ViewTables) {
    for (expected, actual) in [
        (&expected.auction_views, &actual.auction_views),
        (&expected.user_bids, &actual.user_bids),
    ] {
        let (want, got) = (items(env, expected).await, items(env, actual).await);
        assert!(!want.is_empty(), "{expected} is empty");
        for (key, item) in &want {
            assert_eq!(
                got.get(key),
                Some(item),
                "{actual} differs from {expected} at {key}"
            );
        }
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>(),
            "{actual} and {expected} hold different keys"
        );
    }
}

async fn table_exists(env: &TestEnv, table: &str) -> bool {
    env.dynamodb()
        .describe_table()
        .table_name(table)
        .send()
        .await
        .is_ok()
}

pub(crate) async fn run_rebuild(
    env: &TestEnv,
    options: &RebuildOptions,
) -> Result<Rebuilt, AuditError> {
    rebuild(&sources(env).await.rebuild, options, &Progress::default()).await
}

#[tokio::test]
async fn views_rebuilt_after_a_load_run_equal_the_live_views_item_for_item() {
    // Given the projector behind the runner, and a load run: 10 auctions with 4 bidders bidding
    // concurrently, three of them ended, one more cancelled before any bid, and one written in
    // old schema versions
    let env = TestEnv::new().await;
    let running = start_projector(&env).await;
    let store = env.store();
    let mut auctions = Vec::new();
    for _ in 0..10 {
        auctions.push(created(&store).await);
    }
    load(&env, &auctions, &["ann", "bob", "cat", "dan"], 3).await;
    for auction_id in &auctions[..3] {
        end(&store, *auction_id).await;
    }
    let withdrawn = created(&store).await;
    cancel(&store, withdrawn).await;
    auctions.push(withdrawn);
    auctions.push(old_schema_auction(&env).await);
    // And the items of two of them in the ledger, which the projector and the rebuild pass over
    register_item(&store, auctions[0]).await;
    register_item(&store, auctions[1]).await;
    converged(&env, &aliased(&env), &auctions).await;
    stop(running).await;

    // When the views are rebuilt from the log into fresh tables, without switching
    let target = fresh(&env, "rebuilt");
    let rebuilt = run_rebuild(&env, &options(target.clone(), false))
        .await
        .unwrap();

    // Then every item equals the projector's, and every event and auction was read
    assert_same_items(&env, &live(&env), &target).await;
    let events: u64 = {
        let log = env.event_store();
        let mut total = 0;
        for auction_id in &auctions {
            total += log
                .read_after(*auction_id, 0, &Meter::default())
                .await
                .unwrap()
                .len() as u64;
        }
        total
    };
    assert_eq!(rebuilt.events, events);
    assert_eq!(rebuilt.auctions, auctions.len() as u64);
    // DynamoDB keeps an auction's events in one segment, in order: nothing was read twice
    assert_eq!(rebuilt.reread, 0);
    // And the readers still use the live tables
    assert_eq!(aliased(&env).tables().await.unwrap(), live(&env));
}

#[tokio::test]
async fn a_rebuild_under_load_switches_readers_and_the_projector_without_a_missing_view() {
    // Given the projector behind the runner and 6 auctions with bids
    let env = TestEnv::new().await;
    let running = start_projector(&env).await;
    let store = env.store();
    let mut auctions = Vec::new();
    for _ in 0..6 {
        auctions.push(created(&store).await);
    }
    load(&env, &auctions, &["ann", "bob"], 2).await;
    converged(&env, &aliased(&env), &auctions).await;

    // And a reader that keeps reading every auction through the alias, as the API does
    let reading = Arc::new(AtomicBool::new(true));
    let (reads, missing) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let reader = {
        let (views, auctions) = (aliased(&env), auctions.clone());
        let (reading, reads, missing) = (
            Arc::clone(&reading),
            Arc::clone(&reads),
            Arc::clone(&missing),
        );
        tokio::spawn(async move {
            while reading.load(Ordering::Relaxed) {
                for auction_id in &auctions {
                    match views.auction(*auction_id).await {
                        Ok(Some(_)) => reads.fetch_add(1, Ordering::Relaxed),
                        _ => missing.fetch_add(1, Ordering::Relaxed),
                    };
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // And bids that keep arriving while the rebuild runs
    let bidding = {
        let (env, auctions) = (env.clone(), auctions.clone());
        tokio::spawn(async move { load(&env, &auctions, &["cat", "dan"], 12).await })
    };

    // When the views are rebuilt and switched over
    let target = fresh(&env, "switched");
    let rebuilt = run_rebuild(&env, &options(target.clone(), true))
        .await
        .unwrap();
    bidding.await.unwrap();

    // Then the alias names the fresh tables, and the reader never missed a view
    assert_eq!(rebuilt.generation, Some(1));
    let alias = aliases(&env).current(&live(&env)).await.unwrap();
    assert_eq!(alias.tables, target);
    tokio::time::sleep(read_models::ALIAS_TTL).await;
    reading.store(false, Ordering::Relaxed);
    reader.await.unwrap();
    assert_eq!(missing.load(Ordering::Relaxed), 0);
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_eq!(aliased(&env).tables().await.unwrap(), target);

    // And bids after the switch reach the fresh tables through the projector
    load(&env, &auctions, &["eve"], 1).await;
    converged(
        &env,
        &DynamoDbViews::new(env.dynamodb().clone(), target.clone()),
        &auctions,
    )
    .await;
    stop(running).await;

    // And the fresh tables equal a rebuild from the log made now, item for item
    let reference = fresh(&env, "reference");
    run_rebuild(&env, &options(reference.clone(), false))
        .await
        .unwrap();
    assert_same_items(&env, &reference, &target).await;
}

#[tokio::test]
async fn a_rebuild_into_existing_tables_is_refused_and_changes_nothing() {
    // Given an auction and its views
    let env = TestEnv::new().await;
    let store = env.store();
    created(&store).await;
    let before = items(&env, &env.names().auction_views_table).await;

    // When a rebuild targets the live tables, or a table that exists
    let onto_live = run_rebuild(&env, &options(live(&env), true)).await;
    let existing = ViewTables {
        auction_views: env.names().notifications_table.clone(),
        user_bids: format!("{}-fresh", env.names().user_bids_table),
    };
    let onto_existing = run_rebuild(&env, &options(existing.clone(), true)).await;

    // Then both are refused as bad input, and nothing was switched, created or written
    for result in [onto_live, onto_existing] {
        let error = result.unwrap_err();
        assert!(matches!(error, AuditError::TargetExists(_)), "{error}");
        assert!(error.is_bad_input());
    }
    assert_eq!(
        aliases(&env).current(&live(&env)).await.unwrap().generation,
        0
    );
    assert!(!table_exists(&env, &existing.user_bids).await);
    assert_eq!(items(&env, &env.names().auction_views_table).await, before);
    assert!(
        items(&env, &env.names().notifications_table)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_rebuild_command_prints_a_summary_and_switches() {
    // Given an imported auction and no projector at all
    let env = TestEnv::new().await;
    let (auction_id, events) = fixtures::history(4).await.unwrap();
    fixtures::import(&env.event_store(), &events).await.unwrap();

    // When `auction-admin rebuild` runs with explicit fresh tables
    let target = fresh(&env, "cli");
    let cli = <::auction_admin::cli::Cli as clap::Parser>::try_parse_from([
        "auction-admin",
        "rebuild",
        "--auction-views-table",
        &target.auction_views,
        "--user-bids-table",
        &target.user_bids,
        "--segments",
        "2",
        "--grace-seconds",
        "5",
        "--no-progress",
    ])
    .unwrap();
    let mut out = Vec::new();
    ::auction_admin::cli::run(&sources(&env).await, cli.command, &mut out)
        .await
        .unwrap();

    // Then it prints what it did, and readers find the auction in the fresh tables
    let summary: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(summary["events"], events.len());
    assert_eq!(summary["auctions"], 1);
    assert_eq!(summary["switchedToGeneration"], 1);
    assert_eq!(summary["auctionViewsTable"], target.auction_views.as_str());
    let view = aliased(&env).auction(auction_id).await.unwrap().unwrap();
    assert_eq!(view.version, events.len() as u64);
    assert_eq!(view.bid_count, 4);
}

#[tokio::test]
async fn the_rebuild_command_refuses_bad_arguments() {
    for args in [
        vec!["rebuild", "--segments", "0"],
        vec!["rebuild", "--writers", "0"],
        vec!["rebuild", "--grace-seconds", "1"],
        vec!["rebuild", "--auction-views-table", "only-one"],
    ] {
        let parsed = <::auction_admin::cli::Cli as clap::Parser>::try_parse_from(
            std::iter::once("auction-admin").chain(args.iter().copied()),
        );
        assert!(parsed.is_err(), "{args:?} was accepted");
    }
}
