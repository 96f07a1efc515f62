//! Event store benchmark: what one accepted bid costs, what loading costs at 10, 1,000 and
//! 10,000 events, and the raw conditional PutItem rate of the same DynamoDB Local as baseline.
//!
//! Run it with `scripts/bench` (which starts the local stack), or under
//! `cargo run -p local-stack -- exec -- cargo run -p benchmarks --bin store`.
//! Environment: BENCH_BIDS (default 2000), BENCH_WRITERS (default 8).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use benchmarks::{
    Better, Measurement, Percentiles, millis, ms, print_table, raw_conditional_puts, record,
};
use domain::decide_create;
use e2e::fixtures;
use event_store::{
    Cost, DynamoDbStore, Meter, NewestEvents, SnapshotPolicy, Snapshots, Store, Usage,
};
use events::{AuctionId, BidId};
use local_stack::{Clients, Endpoints, ResourceNames, provision};
use uuid::Uuid;

#[tokio::main]
async fn main() -> Result<()> {
    let bids = benchmarks::setting("BENCH_BIDS", 2_000);
    let writers = benchmarks::setting("BENCH_WRITERS", 8).max(1);
    let endpoints =
        Endpoints::from_env().context("no local stack: run `scripts/bench`, which starts one")?;
    let clients = Clients::connect(&endpoints).await;
    let names = ResourceNames::with_prefix(&format!(
        "bench{}",
        &Uuid::new_v4().simple().to_string()[..8]
    ));
    provision(&clients, &names).await.context("provisioning")?;
    let tables = fixtures::table_names(&names);
    println!("# Event store benchmark");
    println!();
    println!(
        "DynamoDB Local at {}; {bids} bids from {writers} concurrent writers, one auction each \
         ({}).",
        endpoints.dynamodb,
        benchmarks::build_profile()
    );
    println!();

    let baseline = raw_conditional_puts(
        &clients.dynamodb,
        &tables.events,
        bids,
        writers,
        benchmarks::Pace::FlatOut,
    )
    .await?;
    let steady = steady_state_bids(&clients, &tables, bids, writers).await?;

    println!("## Throughput (same run, same DynamoDB Local)");
    println!();
    let rate = |n: usize, elapsed: Duration| format!("{:.0}/s", n as f64 / elapsed.as_secs_f64());
    print_table(
        &["what", "count", "rate", "p50", "p95", "p99"],
        &[
            vec![
                "baseline: raw conditional PutItem (~700 B)".to_owned(),
                bids.to_string(),
                rate(bids, baseline.elapsed),
                millis(baseline.latency.p50),
                millis(baseline.latency.p95),
                millis(baseline.latency.p99),
            ],
            vec![
                "accepted bids (load + decide + append + idempotency)".to_owned(),
                steady.accepted.to_string(),
                rate(steady.accepted, steady.elapsed),
                millis(steady.latency.p50),
                millis(steady.latency.p95),
                millis(steady.latency.p99),
            ],
        ],
    );
    println!();
    let bid_rate = steady.accepted as f64 / steady.elapsed.as_secs_f64();
    let put_rate = bids as f64 / baseline.elapsed.as_secs_f64();
    record(
        &Measurement::new("accepted bids, rate", bid_rate, "/s").beside(
            Better::Higher,
            "raw conditional PutItems, same writers, rate",
            put_rate,
        ),
    )?;
    for (p, bid, put) in [
        ("p50", steady.latency.p50, baseline.latency.p50),
        ("p95", steady.latency.p95, baseline.latency.p95),
        ("p99", steady.latency.p99, baseline.latency.p99),
    ] {
        record(
            &Measurement::new(format!("accepted bid latency {p}"), ms(bid), "ms").beside(
                Better::Lower,
                format!("raw conditional PutItem {p}, same writers"),
                ms(put),
            ),
        )?;
    }
    let total = steady.cost.total();
    println!(
        "Bids reach {:.2}x the raw PutItem rate; each makes {:.2} read and {:.2} write requests.",
        (steady.accepted as f64 / steady.elapsed.as_secs_f64())
            / (bids as f64 / baseline.elapsed.as_secs_f64()),
        f64::from(total.read_requests) / steady.accepted as f64,
        f64::from(total.write_requests) / steady.accepted as f64,
    );
    println!();

    println!(
        "## Cost per accepted bid at steady state (mean over {} bids)",
        steady.accepted
    );
    println!();
    let per = |usage: &Usage| {
        let n = steady.accepted as f64;
        vec![
            format!("{:.2}", f64::from(usage.read_requests) / n),
            format!("{:.2}", f64::from(usage.write_requests) / n),
            format!("{:.2}", usage.read_units / n),
            format!("{:.2}", usage.write_units / n),
            format!("{:.2}", usage.index_write_units / n),
        ]
    };
    let header = [
        "path",
        "read req",
        "write req",
        "RCU",
        "WCU (table)",
        "WCU (audit GSI)",
    ];
    let rows: Vec<Vec<String>> = [
        ("load (the tail, after a lost race)", &steady.cost.load),
        ("append (the command's path)", &steady.cost.append),
        (
            "idempotency (record lookup + write)",
            &steady.cost.idempotency,
        ),
        ("snapshots (every 100 events)", &steady.cost.snapshot),
        ("total", &steady.cost.total()),
    ]
    .into_iter()
    .map(|(name, usage)| {
        let mut row = vec![name.to_owned()];
        row.extend(per(usage));
        row
    })
    .collect();
    print_table(&header, &rows);
    println!();
    for (what, bid, put) in [
        ("table WCU", total.write_units, baseline.write_units),
        (
            "audit GSI WCU",
            total.index_write_units,
            baseline.index_write_units,
        ),
    ] {
        record(
            &Measurement::new(
                format!("{what} per accepted bid"),
                bid / steady.accepted as f64,
                "WCU",
            )
            .beside(
                Better::Lower,
                format!("{what} per raw PutItem"),
                put / bids as f64,
            ),
        )?;
    }
    // The raw PutItem is one write request and no read: a bid at its cost reads nothing while
    // this process's cached state is current, and writes only its event.
    let requests = f64::from(total.read_requests + total.write_requests);
    record(
        &Measurement::new(
            "requests (read + write) per accepted bid",
            requests / steady.accepted as f64,
            "req",
        )
        .beside(Better::Lower, "requests per raw PutItem", 1.0),
    )?;
    println!(
        "Baseline PutItem cost: {:.2} WCU (table) + {:.2} WCU (GSI) per write.",
        baseline.write_units / bids as f64,
        baseline.index_write_units / bids as f64
    );
    println!();

    println!("## Load cost against history length");
    println!();
    let store = DynamoDbStore::new(clients.dynamodb.clone(), tables.clone());
    let mut rows = Vec::new();
    for length in [10usize, 1_000, 10_000] {
        let (auction_id, events) = fixtures::history(length.saturating_sub(2))
            .await
            .context("building a history")?;
        fixtures::import(&store, &events)
            .await
            .context("importing")?;
        // Each kind of load runs once unmeasured first: right after the import, DynamoDB Local
        // collects its garbage and compiles its read path, and samples taken then measured how
        // much the import had just written (a 1,000-event snapshot + tail load, p50 of 600
        // after 100 unmeasured: 1.61 ms at 3a01762, 1.73 ms at 3ca31d4; of the first 20: 2.03
        // ms and 1.54 ms).
        LOADS.store(if length <= 1_000 { 200 } else { 20 }, Ordering::Relaxed);
        measure_loads(&store, auction_id, 0).await?;
        let without = measure_loads(&store, auction_id, 0).await?;
        // Where the store would have left its latest snapshot: at the last multiple of 100.
        let snapshot_at = events.len() / 100 * 100;
        if snapshot_at > 0 {
            let snapshot = fixtures::snapshot_of(auction_id, &events[..snapshot_at])?;
            store.put_snapshot(&snapshot, &Meter::default()).await?;
        }
        measure_loads(&store, auction_id, 100).await?;
        let with = measure_loads(&store, auction_id, 100).await?;
        let length = events.len();
        for (what, unit, snapshot, replay) in [
            (
                "read requests",
                "req",
                f64::from(with.0.read_requests),
                f64::from(without.0.read_requests),
            ),
            ("RCU", "RCU", with.0.read_units, without.0.read_units),
            ("p50", "ms", ms(with.1.p50), ms(without.1.p50)),
            ("p95", "ms", ms(with.1.p95), ms(without.1.p95)),
        ] {
            record(
                &Measurement::new(
                    format!("load of {length} events, snapshot + tail: {what}"),
                    snapshot,
                    unit,
                )
                .beside(
                    Better::Lower,
                    format!("full replay of the same auction, {what}"),
                    replay,
                ),
            )?;
        }
        // A page of the bid history (`GET /auctions/{id}/bids`) reads the newest events only;
        // before pages it read the whole history, which the full replay measures.
        let page = Meter::default();
        store
            .newest_events(auction_id, None, 20, &page)
            .await
            .context("reading the newest page")?;
        record(
            &Measurement::new(
                format!("bids page (newest 20 events) of {length} events: RCU"),
                page.cost().total().read_units,
                "RCU",
            )
            .beside(
                Better::Lower,
                "the whole history read (a bids page before pages), RCU",
                without.0.read_units,
            ),
        )?;
        for (mode, (usage, latency)) in [("full replay", without), ("snapshot + tail", with)] {
            rows.push(vec![
                events.len().to_string(),
                mode.to_owned(),
                usage.read_requests.to_string(),
                format!("{:.1}", usage.read_units),
                millis(latency.p50),
                millis(latency.p95),
            ]);
        }
    }
    print_table(&["events", "load", "read req", "RCU", "p50", "p95"], &rows);
    Ok(())
}

struct Steady {
    accepted: usize,
    elapsed: Duration,
    latency: Percentiles,
    cost: Cost,
}

/// Bids through the whole command path, each writer on its own auction (steady state, no
/// conflicts), each bid with an idempotency key as the API sends them.
async fn steady_state_bids(
    clients: &Clients,
    tables: &event_store::TableNames,
    count: usize,
    writers: usize,
) -> Result<Steady> {
    let store = Store::new(
        DynamoDbStore::new(clients.dynamodb.clone(), tables.clone()),
        SnapshotPolicy::inline(100),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let store = store.clone();
        let share = count / writers + usize::from(writer < count % writers);
        tasks.push(tokio::spawn(async move {
            let auction_id = AuctionId(Uuid::new_v4());
            let seller = fixtures::user("seller");
            let create = fixtures::create_command(auction_id);
            store
                .execute(
                    auction_id,
                    &fixtures::context(&seller, None),
                    |state, now| decide_create(state, &create, now),
                )
                .await?;
            let bidders = [fixtures::user("bob"), fixtures::user("cat")];
            let (mut samples, mut costs) = (Vec::with_capacity(share), Vec::with_capacity(share));
            for i in 0..share {
                let bidder = &bidders[i % 2];
                let bid_id = BidId(Uuid::new_v4());
                let start = Instant::now();
                let outcome = store
                    .execute(
                        auction_id,
                        &fixtures::context(bidder, Some(bid_id.to_string())),
                        |state, now| fixtures::outbid(bidder, bid_id, state, now),
                    )
                    .await?;
                samples.push(start.elapsed());
                costs.push(outcome.cost);
            }
            anyhow::Ok((samples, costs))
        }));
    }
    let (mut samples, mut cost) = (Vec::new(), Cost::default());
    for task in tasks {
        let (s, costs) = task.await??;
        samples.extend(s);
        for c in costs {
            cost.add(&c);
        }
    }
    Ok(Steady {
        accepted: samples.len(),
        elapsed: started.elapsed(),
        latency: Percentiles::of(&mut samples).context("no samples")?,
        cost,
    })
}

/// How many loads `measure_loads` times. A p95 of 20 is their 19th: one pause of the emulator
/// among them sets it, and the last reports' 10- and 1,000-event p95s swung from 50 % better to
/// 47 % worse for the same code. Set per history length, before each measurement, so that the
/// 10,000-event full replays (half a second each) stay at 20.
static LOADS: AtomicUsize = AtomicUsize::new(20);

/// Loads of one auction: the usage of one, and the latency percentiles.
async fn measure_loads(
    store: &DynamoDbStore,
    auction_id: AuctionId,
    snapshot_every: u64,
) -> Result<(Usage, Percentiles)> {
    let store = Store::new(store.clone(), SnapshotPolicy::inline(snapshot_every));
    let mut samples = Vec::new();
    let mut usage = Usage::default();
    for _ in 0..LOADS.load(Ordering::Relaxed) {
        let meter = Meter::default();
        let start = Instant::now();
        store.load::<domain::State>(auction_id, &meter).await?;
        samples.push(start.elapsed());
        usage = meter.cost().load;
    }
    Ok((usage, Percentiles::of(&mut samples).context("no samples")?))
}
