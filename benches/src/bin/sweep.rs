//! Scheduler sweep benchmark: what one sweep of the scheduler (`scheduler::StatusIndex`, the
//! production query) reads with 1,000, 10,000 and 100,000 auctions scheduled and 10 due,
//! beside the sweep as it was before the `byStart` index (the whole `scheduled` partition of
//! `byStatus` read, every attribute, and filtered by start time) over the same table in the
//! same run.
//!
//! The auctions are real view items (an auction created by the domain, folded by the
//! projector, encoded as the projector writes it, with a 300-character description), copied
//! under new ids and start times and written with BatchWriteItem; the table grows from one size
//! to the next. Read units are DynamoDB Local's `ConsumedCapacity`; times are the median of five
//! sweeps.
//!
//! Environment: BENCH_SWEEP_SIZES (default "1000,10000,100000"). Run it with
//! `scripts/bench sweep`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use benchmarks::{Better, Measurement, ms, print_table, record};
use chrono::{DateTime, TimeDelta, Utc};
use conventions::names;
use domain::{CreateAuction, decide_create};
use e2e::fixtures;
use event_store::{InMemoryStore, SnapshotPolicy, Store};
use events::{AuctionEvent, AuctionId};
use local_stack::{Clients, Endpoints, ResourceNames, provision};
use scheduler::{DueAuctions, StatusIndex};
use uuid::Uuid;

type Item = HashMap<String, AttributeValue>;

const DUE: usize = 10;
const WRITERS: usize = 8;
const SWEEPS: usize = 5;

#[tokio::main]
async fn main() -> Result<()> {
    let sizes: Vec<usize> = std::env::var("BENCH_SWEEP_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".to_owned())
        .split(',')
        .map(|size| size.trim().parse::<usize>().context("BENCH_SWEEP_SIZES"))
        .collect::<Result<_>>()?;
    let endpoints = Endpoints::from_env()
        .context("no local stack: run `scripts/bench sweep`, which starts one")?;
    let clients = Clients::connect(&endpoints).await;
    let names =
        ResourceNames::with_prefix(&format!("sw{}", &Uuid::new_v4().simple().to_string()[..8]));
    provision(&clients, &names).await.context("provisioning")?;
    let table = names.auction_views_table.clone();
    let client = clients.dynamodb.clone();

    println!("# Scheduler sweep benchmark");
    println!();
    println!(
        "DynamoDB Local at {}; {DUE} auctions due among 1,000 to 100,000 scheduled; a sweep is \
         the scheduler's due query (ends and starts); median of {SWEEPS} sweeps ({}).",
        endpoints.dynamodb,
        benchmarks::build_profile()
    );
    println!();

    let template = view_item().await?;
    let now = fixtures::epoch() + TimeDelta::days(1);
    // The due ones: started a minute before now.
    let due: Vec<Item> = (0..DUE)
        .map(|_| copy(&template, now - TimeDelta::minutes(1)))
        .collect();
    benchmarks::write_all(&client, &table, WRITERS, due).await?;
    let index = StatusIndex::new(client.clone(), table.clone());
    let mut scheduled = 0;
    let mut rows = Vec::new();
    for size in sizes {
        if size < scheduled {
            bail!("BENCH_SWEEP_SIZES must grow: {size} after {scheduled}");
        }
        // The rest start in a week.
        let later: Vec<Item> = (scheduled..size)
            .map(|_| copy(&template, now + TimeDelta::days(7)))
            .collect();
        benchmarks::write_all(&client, &table, WRITERS, later).await?;
        scheduled = size;

        let (units, time) = sweep(&index, now).await?;
        let (before_units, before_time) = whole_partition(&client, &table, now).await?;
        let figure = |what: &str| format!("sweep with {size} scheduled, {DUE} due: {what}");
        record(&Measurement::new(figure("RCU"), units, "RCU").beside(
            Better::Lower,
            "the whole scheduled partition read and filtered (before byStart), RCU",
            before_units,
        ))?;
        record(&Measurement::new(figure("time"), ms(time), "ms").beside(
            Better::Lower,
            "the whole scheduled partition read and filtered, time",
            ms(before_time),
        ))?;
        rows.push(vec![
            size.to_string(),
            format!("{units:.1}"),
            format!("{before_units:.1}"),
            format!("{:.1} ms", ms(time)),
            format!("{:.1} ms", ms(before_time)),
        ]);
    }
    print_table(
        &[
            "scheduled",
            "sweep RCU",
            "before, RCU",
            "sweep time",
            "before, time",
        ],
        &rows,
    );
    Ok(())
}

/// A scheduled auction's view item as the projector writes it.
async fn view_item() -> Result<Item> {
    let store = Store::new(InMemoryStore::new(), SnapshotPolicy::inline(100));
    let auction_id = AuctionId(Uuid::new_v4());
    let command = CreateAuction {
        title: "Oil on canvas, river landscape at dusk, signed lower left".to_owned(),
        description: Some("A".repeat(300)),
        starts_at: Some(fixtures::epoch() + TimeDelta::days(7)),
        ends_at: fixtures::epoch() + TimeDelta::days(14),
        ..fixtures::create_command(auction_id)
    };
    let seller = fixtures::user("seller");
    let mut context = fixtures::context(&seller, None);
    context.now = fixtures::epoch();
    store
        .execute(auction_id, &context, |state, now| {
            decide_create(state, &command, now)
        })
        .await?;
    let mut projection = None;
    for stored in store.backend().events(auction_id) {
        let event = stored.decode::<AuctionEvent>()?;
        projection = read_models::project(projection, &event);
    }
    let projection = projection.context("the creation projected to nothing")?;
    Ok(read_models::projection_item(&projection)?)
}

/// `template` under a new id, starting at `starts_at`.
fn copy(template: &Item, starts_at: DateTime<Utc>) -> Item {
    let mut item = template.clone();
    let text = |time: DateTime<Utc>| {
        AttributeValue::S(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    };
    item.insert(
        "auctionId".to_owned(),
        AttributeValue::S(Uuid::new_v4().to_string()),
    );
    item.insert("startsAt".to_owned(), text(starts_at));
    item.insert("endsAt".to_owned(), text(starts_at + TimeDelta::days(7)));
    item
}

/// Writes `items` with BatchWriteItem from [`WRITERS`] writers.
/// The scheduler's sweep query: read units of one, median time of [`SWEEPS`].
async fn sweep(index: &StatusIndex, now: DateTime<Utc>) -> Result<(f64, Duration)> {
    let units = index.read_units();
    let mut times = Vec::with_capacity(SWEEPS);
    let mut per_sweep = 0.0;
    for _ in 0..SWEEPS {
        let before = units.total();
        let started = Instant::now();
        let due = index.due(now).await?;
        times.push(started.elapsed());
        per_sweep = units.total() - before;
        if due.len() != DUE {
            bail!("the sweep found {} due, not {DUE}", due.len());
        }
    }
    Ok((per_sweep, median(times)))
}

/// The sweep before `byStart`: the active auctions whose end has come from `byStatus` (none
/// here), and the whole `scheduled` partition of `byStatus`, every attribute, filtered by start
/// time in the scheduler.
async fn whole_partition(
    client: &Client,
    table: &str,
    now: DateTime<Utc>,
) -> Result<(f64, Duration)> {
    let until = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut times = Vec::with_capacity(SWEEPS);
    let mut per_sweep = 0.0;
    for _ in 0..SWEEPS {
        let started = Instant::now();
        let mut units = 0.0;
        let mut due = 0;
        for (status, key_condition) in [
            ("active", "#status = :status AND endsAt <= :until"),
            ("scheduled", "#status = :status"),
        ] {
            let mut start_key = None;
            loop {
                let mut request = client
                    .query()
                    .table_name(table)
                    .index_name(names::VIEWS_BY_STATUS_INDEX)
                    .key_condition_expression(key_condition)
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", AttributeValue::S(status.to_owned()))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .limit(scheduler::PAGE_SIZE)
                    .set_exclusive_start_key(start_key);
                if status == "active" {
                    request = request
                        .expression_attribute_values(":until", AttributeValue::S(until.clone()));
                }
                let page = request.send().await.context("the sweep before byStart")?;
                units += page
                    .consumed_capacity()
                    .and_then(|c| c.capacity_units())
                    .unwrap_or(0.0);
                due += page
                    .items()
                    .iter()
                    .filter(|item| {
                        item.get("startsAt")
                            .and_then(|s| s.as_s().ok())
                            .is_some_and(|starts| *starts <= until)
                    })
                    .count();
                match page.last_evaluated_key {
                    Some(key) if !key.is_empty() => start_key = Some(key),
                    _ => break,
                }
            }
        }
        times.push(started.elapsed());
        per_sweep = units;
        if due != DUE {
            bail!("the sweep before byStart found {due} due, not {DUE}");
        }
    }
    Ok((per_sweep, median(times)))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
