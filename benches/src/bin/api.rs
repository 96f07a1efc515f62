//! Load driver for the bidder API: real HTTP against the api router served in-process on
//! 127.0.0.1, over DynamoDB Local, beside the raw conditional PutItem rate of the same DynamoDB
//! Local with the same concurrency as baseline.
//!
//! Two modes in one run: bids spread over many auctions (throughput and PlaceBid latency), and
//! every client on one hot auction (rejections, conflict retries, and a check that the final
//! state is the fold of exactly the accepted bids).
//!
//! Run it with `scripts/bench api` (which starts the local stack), or under
//! `cargo run -p local-stack -- exec -- cargo run -p benchmarks --bin api`.
//! A third mode measures latency below saturation: the same clients on a schedule, offering
//! BENCH_PACED_LOAD percent (default 50) of the bid rate the spread mode reached, beside raw
//! PutItems offered at the same rate by the same number of writers. Closed-loop latency at
//! saturation is mostly queueing (clients / throughput, Little's law); the paced figures are
//! what a bidder sees when the system is not overloaded.
//!
//! Every bidder registers a card and the seller a payout account at set-up, through the API's
//! routes with ids made in the stack's Stripe, outside the timed parts; each bid then reads its
//! bidder's card from the PaymentIdentities table, as in production.
//!
//! A fourth, the workload of issue 21's goal 6: BENCH_SHARED_BIDDERS (default 64) bidders on one
//! auction, each amount the next of a counter they share, beside one writer's conditional puts
//! on one key.
//!
//! A fifth, issue 21's goal 7: BENCH_FAIR_CLIENTS (default 10) clients bidding on a schedule
//! (five bids a second each, as two users in turn) while one user floods the write routes from
//! four connections, beside the same clients alone in the same run. The run fails if any of
//! their bids is answered 429.
//!
//! Environment: BENCH_CLIENTS (default 50), BENCH_AUCTIONS (default 50), BENCH_BIDS (default
//! 2000, spread mode), BENCH_HOT_BIDS (default 500, hot-auction mode), BENCH_PACED_BIDS
//! (default 600), BENCH_PACED_LOAD (default 50), BENCH_SHARED_BIDDERS (default 64),
//! BENCH_SHARED_BIDS (default 640), BENCH_FAIR_CLIENTS (default 10), BENCH_FAIR_SECONDS
//! (default 4).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use api::{App, Authenticator, LocalJwt, SystemClock};
use api_local::demo::DemoPayments;
use benchmarks::{
    Better, Measurement, Pace, Percentiles, millis, ms, print_table, raw_conditional_puts, record,
};
use chrono::{TimeDelta, Utc};
use e2e::fixtures;
use event_store::{DynamoDbStore, EventLog, Meter, SnapshotPolicy, Store};
use events::{AuctionEvent, AuctionId, UserId};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use local_stack::{Clients, Endpoints, ResourceNames, provision};
use payment_identities::StripeChecker;
use serde_json::{Value, json};
use stripe_api::StripeClient;
use uuid::Uuid;

/// The fixed increment of every benchmark auction, so that a client knows the next valid bid
/// from the price alone.
const INCREMENT: i64 = 10;
const STARTING_PRICE: i64 = 1_000;
/// How often a client retries a bid answered 409 CONFLICT_RETRY (same key, same body).
const CONFLICT_RETRIES: usize = 5;

#[tokio::main]
async fn main() -> Result<()> {
    let clients_n = benchmarks::setting("BENCH_CLIENTS", 50).max(1);
    let auctions_n = benchmarks::setting("BENCH_AUCTIONS", 50).max(1);
    let bids = benchmarks::setting("BENCH_BIDS", 2_000);
    let hot_bids = benchmarks::setting("BENCH_HOT_BIDS", 500);
    let shared_bidders = benchmarks::setting("BENCH_SHARED_BIDDERS", 64).max(1);
    let shared_bids = benchmarks::setting("BENCH_SHARED_BIDS", 640);
    let paced_bids = benchmarks::setting("BENCH_PACED_BIDS", 600).max(1);
    let paced_load = benchmarks::setting("BENCH_PACED_LOAD", 50).clamp(1, 100);
    let fair_clients = benchmarks::setting("BENCH_FAIR_CLIENTS", 10).max(1);
    let fair_seconds = benchmarks::setting("BENCH_FAIR_SECONDS", 4).max(1);
    let endpoints =
        Endpoints::from_env().context("no local stack: run `scripts/bench`, which starts one")?;
    let clients = Clients::connect(&endpoints).await;
    let names = ResourceNames::with_prefix(&format!(
        "benchapi{}",
        &Uuid::new_v4().simple().to_string()[..8]
    ));
    provision(&clients, &names).await.context("provisioning")?;
    let tables = fixtures::table_names(&names);
    let dynamo = DynamoDbStore::new(clients.dynamodb.clone(), tables.clone());
    // The stack's Stripe (STRIPE_API_BASE, STRIPE_SECRET_KEY): every bid first reads the
    // bidder's card from the PaymentIdentities table, as in production.
    let stripe = StripeClient::from_env(&local_stack::sdk_config().await)
        .await
        .context("the local stack's Stripe (run `scripts/bench`, which starts one)")?;

    // The API exactly as api-local serves it, but on our tables and with our signing key.
    let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let jwt = Arc::new(LocalJwt::new(secret.as_bytes()));
    let adapters = api::config::adapters(
        clients.dynamodb.clone(),
        api::config::Tables {
            store: tables.clone(),
            auction_views: names.auction_views_table.clone(),
            user_bids: names.user_bids_table.clone(),
            notifications: names.notifications_table.clone(),
            read_model_aliases: names.read_model_aliases_table.clone(),
            parked: names.parked_table.clone(),
            payment_identities: names.payment_identities_table.clone(),
            stripe_webhook_deliveries: names.stripe_webhook_deliveries_table.clone(),
            stream_heads: names.stream_heads_table.clone(),
            watchlist: names.watchlist_table.clone(),
            email_notices: names.email_notices_table.clone(),
        },
        // Ids checked with the stack's Stripe, as api-local checks them.
        Arc::new(StripeChecker::new(stripe.clone())),
        // The load posts no webhook.
        api::webhooks::WebhookSecret::new("whsec_unused-by-the-bench"),
        clients.sqs.clone(),
        api::config::Buckets {
            digests: notary::S3Archive::new(clients.s3.clone(), names.digest_bucket.clone()),
            photos: api::item_photos::Media::new(
                Arc::new(photos::InMemoryPhotos::new()),
                "http://127.0.0.1",
            ),
        },
        api::config::Keys {
            subjects: personal_data::KmsSubjectKeys::new(
                clients.dynamodb.clone(),
                clients.kms.clone(),
                names.subject_keys_table.clone(),
                names.subject_key.clone(),
            ),
            links: email::KmsLinkKey::new(clients.kms.clone(), names.unsubscribe_key.clone()),
        },
    );
    let app = App {
        store: Store::new(dynamo.clone(), SnapshotPolicy::default()),
        clock: Arc::new(SystemClock),
        authenticator: Authenticator::LocalJwt(Arc::clone(&jwt)),
        views: adapters.views,
        inbox: adapters.inbox,
        parked: adapters.parked,
        identities: adapters.identities,
        provider: adapters.provider,
        webhooks: adapters.webhooks,
        // The production rule: each client's bidders stay under it (two users per client in
        // the spread mode), so the bench measures the path, not refusals.
        throttle: api::throttle::Throttle::new(api::throttle::WriteRate::DEFAULT),
        proofs: adapters.proofs,
        pseudonyms: adapters.pseudonyms,
        watchlist: adapters.watchlist,
        email_notices: adapters.email_notices,
        link_key: adapters.link_key,
        media: adapters.media,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("binding a loopback port")?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, api::router(app)).await });
    let http = Http {
        client: Client::builder(TokioExecutor::new()).build_http(),
        base: format!("http://{address}"),
    };
    let token = |sub: &str| -> Result<String> {
        let sub = UserId::try_from(sub.to_owned()).context("user id")?;
        Ok(jwt.mint(&sub, &[], Utc::now(), TimeDelta::hours(2))?)
    };
    let seller = token("bench-seller")?;

    // Set-up, before any timed part: the seller's payout account and every bidder's card, made
    // in the stack's Stripe and registered through the API's routes.
    let set_up = Instant::now();
    http.register(&stripe, &seller, "bench-seller", Needs::PayoutAccount)
        .await?;
    for client in 0..clients_n {
        for user in [
            format!("bench-bidder-{client}-a"),
            format!("bench-bidder-{client}-b"),
            format!("bench-hot-{client}"),
        ] {
            http.register(&stripe, &token(&user)?, &user, Needs::Card)
                .await?;
        }
    }
    for bidder in 0..shared_bidders {
        let user = format!("bench-shared-{bidder}");
        http.register(&stripe, &token(&user)?, &user, Needs::Card)
            .await?;
    }
    for client in 0..fair_clients {
        for user in [
            format!("bench-fair-{client}-a"),
            format!("bench-fair-{client}-b"),
        ] {
            http.register(&stripe, &token(&user)?, &user, Needs::Card)
                .await?;
        }
    }
    http.register(&stripe, &token(FLOODER)?, FLOODER, Needs::Card)
        .await?;

    println!("# API load benchmark");
    println!();
    println!(
        "API at {} (in-process, {}) over DynamoDB Local at {}; {clients_n} clients.",
        http.base,
        benchmarks::build_profile(),
        endpoints.dynamodb
    );
    println!(
        "Set-up (not measured): {} bidders' cards and the seller's payout account registered \
         through the API, checked with the stack's Stripe, in {:.1} s; every bid reads its \
         bidder's card (one GetItem) before the event store.",
        3 * clients_n + shared_bidders + 2 * fair_clients + 1,
        set_up.elapsed().as_secs_f64()
    );
    println!();

    // Warm-up, not measured: DynamoDB Local's JIT compiles its write path during its first few
    // thousand requests, and a cold start would be counted against whichever mode runs first
    // (the raw puts: their p99 was 300-650 ms cold, 150-190 ms warm).
    let warm_up = benchmarks::setting("BENCH_WARM_UP_PUTS", 2_000);
    if warm_up > 0 {
        raw_conditional_puts(
            &clients.dynamodb,
            &tables.events,
            warm_up,
            clients_n,
            Pace::FlatOut,
        )
        .await?;
    }

    let baseline = raw_conditional_puts(
        &clients.dynamodb,
        &tables.events,
        bids,
        clients_n,
        Pace::FlatOut,
    )
    .await?;

    let mut auctions = Vec::with_capacity(auctions_n);
    for _ in 0..auctions_n {
        auctions.push(http.create_auction(&seller).await?);
    }
    let spread = spread_bids(
        &http,
        &token,
        ("bench-bidder", &auctions),
        clients_n,
        bids,
        Pace::FlatOut,
    )
    .await?;
    let offered = spread.accepted as f64 / spread.elapsed.as_secs_f64() * paced_load as f64 / 100.0;
    let paced_baseline = raw_conditional_puts(
        &clients.dynamodb,
        &tables.events,
        paced_bids,
        clients_n,
        Pace::Rate(offered),
    )
    .await?;
    let mut paced_auctions = Vec::with_capacity(auctions_n);
    for _ in 0..auctions_n {
        paced_auctions.push(http.create_auction(&seller).await?);
    }
    let paced = spread_bids(
        &http,
        &token,
        ("bench-bidder", &paced_auctions),
        clients_n,
        paced_bids,
        Pace::Rate(offered),
    )
    .await?;

    let hot_auction = http.create_auction(&seller).await?;
    let hot = hot_bids_run(
        &http,
        &token,
        hot_auction,
        ("bench-hot", clients_n),
        hot_bids,
        Amounts::AroundSeen,
    )
    .await?;
    // The workload: many bidders on one auction, each amount the next of a counter they
    // share, beside one writer's conditional puts on one key (the most one stream takes without
    // batching).
    let one_key = raw_conditional_puts(
        &clients.dynamodb,
        &tables.events,
        shared_bids,
        1,
        Pace::FlatOut,
    )
    .await?;
    let shared_auction = http.create_auction(&seller).await?;
    let counter = Arc::new(AtomicI64::new(STARTING_PRICE));
    let shared = hot_bids_run(
        &http,
        &token,
        shared_auction,
        ("bench-shared", shared_bidders),
        shared_bids,
        Amounts::SharedCounter(counter),
    )
    .await?;

    let fairness = fairness_run(&http, &token, &seller, fair_clients, fair_seconds).await?;

    println!("## Throughput (same run, same DynamoDB Local, {clients_n} concurrent writers)");
    println!();
    let rate = |n: usize, elapsed: Duration| n as f64 / elapsed.as_secs_f64();
    let baseline_rate = rate(bids, baseline.elapsed);
    let spread_rate = rate(spread.accepted, spread.elapsed);
    let hot_rate = rate(hot.accepted.len(), hot.elapsed);
    let row = |what: &str, count: usize, per_s: f64, latency: &Percentiles| {
        vec![
            what.to_owned(),
            count.to_string(),
            format!("{per_s:.0}/s"),
            format!("{:.2}x", per_s / baseline_rate),
            millis(latency.p50),
            millis(latency.p95),
            millis(latency.p99),
        ]
    };
    print_table(
        &["what", "count", "rate", "vs baseline", "p50", "p95", "p99"],
        &[
            row(
                "baseline: raw conditional PutItem (~700 B)",
                bids,
                baseline_rate,
                &baseline.latency,
            ),
            row(
                &format!("accepted bids, {auctions_n} auctions (PlaceBid over HTTP)"),
                spread.accepted,
                spread_rate,
                &spread.latency,
            ),
            row(
                "accepted bids, 1 hot auction (PlaceBid over HTTP)",
                hot.accepted.len(),
                hot_rate,
                &hot.latency,
            ),
        ],
    );
    println!();
    let baseline_name = "raw conditional PutItems, flat out, same clients";
    for (what, per_s, latency) in [
        (
            format!("PlaceBid over HTTP, {auctions_n} auctions, flat out"),
            spread_rate,
            &spread.latency,
        ),
        (
            "PlaceBid over HTTP, 1 hot auction, flat out".to_owned(),
            hot_rate,
            &hot.latency,
        ),
    ] {
        record(
            &Measurement::new(format!("{what}: accepted rate"), per_s, "/s").beside(
                Better::Higher,
                format!("{baseline_name}, rate"),
                baseline_rate,
            ),
        )?;
        for (p, bid, put) in [
            ("p50", latency.p50, baseline.latency.p50),
            ("p95", latency.p95, baseline.latency.p95),
            ("p99", latency.p99, baseline.latency.p99),
        ] {
            record(
                &Measurement::new(format!("{what}: {p}"), ms(bid), "ms").beside(
                    Better::Lower,
                    format!("{baseline_name}, {p}"),
                    ms(put),
                ),
            )?;
        }
    }
    let what = format!("PlaceBid over HTTP, {shared_bidders} bidders on 1 auction, shared counter");
    let one_key_name = "raw conditional PutItems on one key, one writer";
    record(
        &Measurement::new(
            format!("{what}: accepted rate"),
            rate(shared.accepted.len(), shared.elapsed),
            "/s",
        )
        .beside(
            Better::Higher,
            format!("{one_key_name}, rate"),
            rate(shared_bids, one_key.elapsed),
        ),
    )?;
    for (p, bid, put) in [
        ("p50", shared.latency.p50, one_key.latency.p50),
        ("p95", shared.latency.p95, one_key.latency.p95),
    ] {
        record(
            &Measurement::new(format!("{what}: {p}"), ms(bid), "ms").beside(
                Better::Lower,
                format!("{one_key_name}, {p}"),
                ms(put),
            ),
        )?;
    }
    println!(
        "{what}: {} sent, {} accepted ({:.0}/s), {} refused ({}), {} conflict retries; p50 {}, \
         p95 {}; one key, one writer: {:.0}/s, p95 {}.",
        shared.sent,
        shared.accepted.len(),
        rate(shared.accepted.len(), shared.elapsed),
        shared.rejected.values().sum::<usize>(),
        codes(&shared.rejected),
        shared.conflict_retries,
        millis(shared.latency.p50),
        millis(shared.latency.p95),
        rate(shared_bids, one_key.elapsed),
        millis(one_key.latency.p95),
    );
    println!();
    println!(
        "## Latency at a fixed offered rate ({offered:.0}/s = {paced_load}% of the spread mode's \
         bid rate, {clients_n} clients on a schedule)"
    );
    println!();
    print_table(
        &["what", "count", "achieved", "p50", "p95", "p99", "max"],
        &[
            (
                "baseline: raw conditional PutItem (~700 B)",
                paced_bids,
                &paced_baseline.elapsed,
                &paced_baseline.latency,
            ),
            (
                "PlaceBid over HTTP, spread over auctions",
                paced.accepted,
                &paced.elapsed,
                &paced.latency,
            ),
        ]
        .map(|(what, count, elapsed, latency)| {
            vec![
                what.to_owned(),
                count.to_string(),
                format!("{:.0}/s", rate(count, *elapsed)),
                millis(latency.p50),
                millis(latency.p95),
                millis(latency.p99),
                millis(latency.max),
            ]
        }),
    );
    println!();
    // The name stays the same from run to run (the offered rate follows each run's flat-out
    // rate), so that rounds and commits compare figure by figure; the rate goes with the
    // baseline's name.
    let what = format!("PlaceBid over HTTP at {paced_load} % of its flat-out rate");
    let baseline_name =
        format!("raw conditional PutItems at the same {offered:.0}/s offered, same clients");
    record(
        &Measurement::new(
            format!("{what}: achieved rate"),
            rate(paced.accepted, paced.elapsed),
            "/s",
        )
        .beside(
            Better::Higher,
            format!("{baseline_name}, achieved rate"),
            rate(paced_bids, paced_baseline.elapsed),
        ),
    )?;
    for (p, bid, put) in [
        ("p50", paced.latency.p50, paced_baseline.latency.p50),
        ("p95", paced.latency.p95, paced_baseline.latency.p95),
        ("p99", paced.latency.p99, paced_baseline.latency.p99),
        ("max", paced.latency.max, paced_baseline.latency.max),
    ] {
        record(
            &Measurement::new(format!("{what}: {p}"), ms(bid), "ms").beside(
                Better::Lower,
                format!("{baseline_name}, {p}"),
                ms(put),
            ),
        )?;
    }
    fairness.report(fair_clients)?;
    println!(
        "Spread mode: {} bids sent, {} accepted, {} rejected ({}), {} conflict retries.",
        spread.sent,
        spread.accepted,
        spread.rejected.values().sum::<usize>(),
        codes(&spread.rejected),
        spread.conflict_retries
    );
    println!(
        "Hot auction: {} bids sent, {} accepted, {} rejected ({}), {} conflict retries.",
        hot.sent,
        hot.accepted.len(),
        hot.rejected.values().sum::<usize>(),
        codes(&hot.rejected),
        hot.conflict_retries
    );
    println!();

    println!("## Hot auction: final state against the fold of the accepted bids");
    println!();
    let check = check_hot(&http, &seller, &dynamo, hot_auction, &hot.accepted).await?;
    print_table(
        &["check", "expected", "found", "ok"],
        &check
            .iter()
            .map(|(what, expected, found)| {
                vec![
                    (*what).to_owned(),
                    expected.clone(),
                    found.clone(),
                    if expected == found { "yes" } else { "NO" }.to_owned(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    println!();
    let failed = check.iter().filter(|(_, e, f)| e != f).count();
    server.abort();
    if failed > 0 {
        bail!("{failed} hot-auction checks failed: bids were lost or duplicated");
    }
    println!(
        "Result: 0 lost bids, 0 duplicates: all {} accepted bids are in the log exactly once.",
        hot.accepted.len()
    );
    println!();
    let many: std::collections::HashSet<String> = auctions
        .iter()
        .chain(&paced_auctions)
        .map(|auction| auction.0.to_string())
        .collect();
    audit_partitions(&clients.dynamodb, &tables.events, &many).await?;
    Ok(())
}

/// How the bids on many auctions (the spread and fixed-rate modes') spread over the audit
/// index's partitions: the busiest partition's share of their BidPlaced entries (which caps the
/// platform's bid rate at one partition's write limit divided by it), beside the share under
/// the index's former key (`eventType` alone: all of them, one partition), from the same items.
/// The one-auction modes are left out: one auction's events share a partition by design, and
/// its own table partition bounds it anyway.
async fn audit_partitions(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    auctions: &std::collections::HashSet<String>,
) -> Result<()> {
    let (mut by_shard, mut by_type) = (BTreeMap::<String, usize>::new(), BTreeMap::new());
    let mut start_key = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .projection_expression("aggregateId, eventType, typeShard")
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .context("scanning the audit index's keys")?;
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            if text("eventType").as_deref() != Some("BidPlaced")
                || !text("aggregateId").is_some_and(|id| auctions.contains(&id))
            {
                continue;
            }
            *by_type.entry("BidPlaced".to_owned()).or_default() += 1;
            *by_shard
                .entry(text("typeShard").unwrap_or_default())
                .or_default() += 1;
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start_key = Some(key),
            _ => break,
        }
    }
    let total: usize = by_shard.values().sum();
    if total == 0 {
        bail!("no BidPlaced entry in the Events table");
    }
    let share = |counts: &BTreeMap<String, usize>| {
        100.0 * counts.values().copied().max().unwrap_or(0) as f64 / total as f64
    };
    println!(
        "## Audit index: {total} BidPlaced entries of {} auctions over {} partitions, the \
         busiest {:.1} % of them",
        auctions.len(),
        by_shard.len(),
        share(&by_shard)
    );
    record(
        &Measurement::new(
            format!(
                "audit index: the busiest partition's share of {} auctions' BidPlaced entries",
                auctions.len()
            ),
            share(&by_shard),
            "%",
        )
        .beside(
            Better::Lower,
            "keyed by eventType alone (byEventType), share",
            share(&by_type),
        ),
    )
}

fn codes(counts: &BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Http {
    /// One request; the status and the JSON body (`Null` when there is none).
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let bytes = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(body)?)
            }
            None => Bytes::new(),
        };
        let response = self.client.request(request.body(Full::new(bytes))?).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).with_context(|| format!("{status} answer is not JSON"))?
        };
        Ok((status, value))
    }

    /// Makes what `user` needs in Stripe (a customer with the test card attached, or a
    /// connected account) and registers it with `PUT /me/payment-method` or
    /// `PUT /me/payout-account`.
    async fn register(
        &self,
        stripe: &StripeClient,
        token: &str,
        user: &str,
        needs: Needs,
    ) -> Result<()> {
        let user_id = UserId::try_from(user.to_owned()).context("user id")?;
        let (path, body) = match needs {
            Needs::Card => {
                let (customer, card) = stripe.create_card_on_file(&user_id).await?;
                (
                    "/me/payment-method",
                    json!({"customerId": customer, "paymentMethodId": card}),
                )
            }
            Needs::PayoutAccount => {
                let account = stripe.create_payout_account(&user_id).await?;
                ("/me/payout-account", json!({"accountId": account}))
            }
        };
        let (status, answer) = self
            .send(Method::PUT, path, token, None, Some(&body))
            .await?;
        if status != 200 {
            bail!("registering {user} with {path} answered {status}: {answer}");
        }
        Ok(())
    }

    async fn create_auction(&self, seller: &str) -> Result<AuctionId> {
        let body = json!({
            "title": "Benchmark lot",
            "currency": "EUR",
            "startingPrice": STARTING_PRICE,
            "increment": {"kind": "fixed", "amountMinor": INCREMENT},
            "endsAt": (Utc::now() + TimeDelta::days(1)).to_rfc3339(),
        });
        let key = Uuid::new_v4().to_string();
        // The seller creates a hundred auctions at once, faster than one user's share of
        // writes: it waits as a 429 says (Retry-After is at least a second) and sends the same
        // request again. Set-up, not measured.
        let mut limited = 0;
        let (status, answer) = loop {
            let (status, answer) = self
                .send(Method::POST, "/auctions", seller, Some(&key), Some(&body))
                .await?;
            if status != 429 || limited == 60 {
                break (status, answer);
            }
            limited += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        if status != 201 {
            bail!("creating an auction answered {status}: {answer}");
        }
        let id = answer["auctionId"]
            .as_str()
            .context("no auctionId")?
            .parse()
            .context("auctionId is not a UUID")?;
        Ok(AuctionId(id))
    }
}

/// What a benchmark user registers before the load.
#[derive(Debug, Clone, Copy)]
enum Needs {
    Card,
    PayoutAccount,
}

/// What one bid attempt came to, after retrying conflicts.
enum BidResult {
    Accepted { bid_id: Uuid, price: i64 },
    Rejected { code: String, minimum: Option<i64> },
}

/// Places one bid with a fresh Idempotency-Key, retrying 409 CONFLICT_RETRY with the same key
/// and body (which the API makes safe). Returns the result, the latency of the final attempt,
/// and the number of conflict retries.
async fn place_bid(
    http: &Http,
    token: &str,
    auction: AuctionId,
    amount: i64,
) -> Result<(BidResult, Duration, usize)> {
    let key = Uuid::new_v4().to_string();
    let path = format!("/auctions/{}/bids", auction.0);
    let body = json!({"amount": amount, "currency": "EUR"});
    let mut retries = 0;
    loop {
        let start = Instant::now();
        let (status, answer) = http
            .send(Method::POST, &path, token, Some(&key), Some(&body))
            .await?;
        let latency = start.elapsed();
        let code = answer["code"].as_str().unwrap_or_default().to_owned();
        match status {
            201 => {
                let bid_id = answer["bidId"]
                    .as_str()
                    .context("no bidId")?
                    .parse()
                    .context("bidId is not a UUID")?;
                let price = answer["currentPrice"]["amountMinor"]
                    .as_i64()
                    .context("no currentPrice")?;
                return Ok((BidResult::Accepted { bid_id, price }, latency, retries));
            }
            409 if code == "CONFLICT_RETRY" && retries < CONFLICT_RETRIES => retries += 1,
            409 | 422 => {
                return Ok((
                    BidResult::Rejected {
                        minimum: minimum_in(&answer),
                        code,
                    },
                    latency,
                    retries,
                ));
            }
            _ => bail!("a bid answered {status}: {answer}"),
        }
    }
}

/// The minimum a BID_TOO_LOW problem names in its detail ("at least N EUR (minor units)").
fn minimum_in(problem: &Value) -> Option<i64> {
    if problem["code"] != "BID_TOO_LOW" {
        return None;
    }
    let detail = problem["detail"].as_str()?;
    let rest = detail.split("at least ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

struct Spread {
    sent: usize,
    accepted: usize,
    rejected: BTreeMap<String, usize>,
    conflict_retries: usize,
    elapsed: Duration,
    latency: Percentiles,
}

/// Each client bids on its own share of the auctions (client i on auction i mod M), one
/// increment above the price it last saw. A client bids as two users in turn
/// (`<prefix>-<client>-a` and `-b`) so that it never bids against its own lead (which the domain
/// turns into a raise of the maximum). A bid answered anything but a decision (201, 409, 422)
/// fails the run: a 429 among them included.
async fn spread_bids(
    http: &Http,
    token: &dyn Fn(&str) -> Result<String>,
    (prefix, auctions): (&str, &[AuctionId]),
    clients: usize,
    bids: usize,
    pace: Pace,
) -> Result<Spread> {
    let http = Arc::new(Http {
        client: http.client.clone(),
        base: http.base.clone(),
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let users = [
            token(&format!("{prefix}-{client}-a"))?,
            token(&format!("{prefix}-{client}-b"))?,
        ];
        let auction = auctions[client % auctions.len()];
        let share = bids / clients + usize::from(client < bids % clients);
        let http = Arc::clone(&http);
        let mut schedule = pace.schedule(client, clients);
        tasks.push(tokio::spawn(async move {
            let mut next = STARTING_PRICE;
            let (mut samples, mut rejected, mut retries) =
                (Vec::with_capacity(share), BTreeMap::new(), 0);
            for i in 0..share {
                // From the planned send to the final answer, conflict retries included.
                let planned = schedule.next().await;
                let (result, _, r) = place_bid(&http, &users[i % 2], auction, next).await?;
                samples.push(planned.elapsed());
                retries += r;
                match result {
                    BidResult::Accepted { price, .. } => next = price + INCREMENT,
                    BidResult::Rejected { code, minimum } => {
                        *rejected.entry(code).or_insert(0) += 1;
                        next = minimum.unwrap_or(next + INCREMENT);
                    }
                }
            }
            anyhow::Ok((samples, rejected, retries))
        }));
    }
    let (mut samples, mut rejected, mut conflict_retries) = (Vec::new(), BTreeMap::new(), 0);
    for task in tasks {
        let (s, r, retries) = task.await??;
        samples.extend(s);
        for (code, n) in r {
            *rejected.entry(code).or_insert(0) += n;
        }
        conflict_retries += retries;
    }
    let elapsed = started.elapsed();
    let sent = samples.len();
    Ok(Spread {
        sent,
        accepted: sent - rejected.values().sum::<usize>(),
        rejected,
        conflict_retries,
        elapsed,
        latency: Percentiles::of(&mut samples).context("no samples")?,
    })
}

struct Hot {
    sent: usize,
    accepted: Vec<Uuid>,
    rejected: BTreeMap<String, usize>,
    conflict_retries: usize,
    elapsed: Duration,
    latency: Percentiles,
}

/// How the clients on one auction choose their amounts.
#[derive(Clone)]
enum Amounts {
    /// Random amounts around the price a client last saw (from one increment below to six
    /// above), so that many bids race for the same version and some are too low by the time
    /// they land.
    AroundSeen,
    /// The next value of a counter every client shares, one increment a bid: most bids outbid
    /// the last, but one that lands after a higher one is refused as too low.
    SharedCounter(Arc<AtomicI64>),
}

/// Every client on one auction, bidding as `amounts` says; the clients are the users
/// `<prefix>-0` to `<prefix>-<clients - 1>`.
async fn hot_bids_run(
    http: &Http,
    token: &dyn Fn(&str) -> Result<String>,
    auction: AuctionId,
    (prefix, clients): (&str, usize),
    bids: usize,
    amounts: Amounts,
) -> Result<Hot> {
    let http = Arc::new(Http {
        client: http.client.clone(),
        base: http.base.clone(),
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let user = token(&format!("{prefix}-{client}"))?;
        let share = bids / clients + usize::from(client < bids % clients);
        let http = Arc::clone(&http);
        let amounts = amounts.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = STARTING_PRICE;
            let (mut samples, mut accepted, mut rejected, mut retries) =
                (Vec::new(), Vec::new(), BTreeMap::new(), 0);
            for _ in 0..share {
                let amount = match &amounts {
                    Amounts::AroundSeen => {
                        // A random step in -1..=6 increments; a UUID's random bits are random
                        // enough.
                        let step = (Uuid::new_v4().as_u128() % 8) as i64 - 1;
                        (seen + step * INCREMENT).max(STARTING_PRICE)
                    }
                    Amounts::SharedCounter(counter) => {
                        counter.fetch_add(INCREMENT, Ordering::SeqCst) + INCREMENT
                    }
                };
                let (result, latency, r) = place_bid(&http, &user, auction, amount).await?;
                samples.push(latency);
                retries += r;
                match result {
                    BidResult::Accepted { bid_id, price } => {
                        accepted.push(bid_id);
                        seen = price;
                    }
                    BidResult::Rejected { code, minimum } => {
                        *rejected.entry(code).or_insert(0) += 1;
                        if let Some(minimum) = minimum {
                            seen = minimum;
                        }
                    }
                }
            }
            anyhow::Ok((samples, accepted, rejected, retries))
        }));
    }
    let (mut samples, mut accepted, mut rejected, mut conflict_retries) =
        (Vec::new(), Vec::new(), BTreeMap::new(), 0);
    for task in tasks {
        let (s, a, r, retries) = task.await??;
        samples.extend(s);
        accepted.extend(a);
        for (code, n) in r {
            *rejected.entry(code).or_insert(0) += n;
        }
        conflict_retries += retries;
    }
    let elapsed = started.elapsed();
    Ok(Hot {
        sent: samples.len(),
        accepted,
        rejected,
        conflict_retries,
        elapsed,
        latency: Percentiles::of(&mut samples).context("no samples")?,
    })
}

/// Reads the auction back through the API and its events through the event store, folds the
/// bid events, and lists (check, expected, found).
async fn check_hot(
    http: &Http,
    token: &str,
    store: &DynamoDbStore,
    auction: AuctionId,
    accepted: &[Uuid],
) -> Result<Vec<(&'static str, String, String)>> {
    let events = store.read_after(auction, 0, &Meter::default()).await?;
    // The fold: each bid id with how often it occurs, the count of new bids (a leader's raise
    // of their maximum is accepted but is no new bid), and the price after the last bid event.
    let (mut occurrences, mut placed, mut price) = (HashMap::new(), 0u64, None);
    for event in &events {
        match event.decode::<events::AuctionEvent>()?.event {
            AuctionEvent::BidPlaced(bid) => {
                *occurrences.entry(bid.bid_id.0).or_insert(0u32) += 1;
                placed += 1;
                price = Some(bid.new_price.amount_minor);
            }
            AuctionEvent::MaxBidRaised(raise) => {
                *occurrences.entry(raise.bid_id.0).or_insert(0u32) += 1;
                price = Some(raise.new_price.amount_minor);
            }
            _ => {}
        }
    }
    let (status, view) = http
        .send(
            Method::GET,
            &format!("/auctions/{}", auction.0),
            token,
            None,
            None,
        )
        .await?;
    if status != 200 {
        bail!("reading the hot auction answered {status}: {view}");
    }
    let exactly_once = accepted
        .iter()
        .filter(|id| occurrences.get(id) == Some(&1))
        .count();
    let mut unique = accepted.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let show = |v: Option<i64>| v.map_or("none".to_owned(), |v| v.to_string());
    Ok(vec![
        (
            "201 bidIds found in the log exactly once",
            accepted.len().to_string(),
            exactly_once.to_string(),
        ),
        (
            "distinct 201 bidIds",
            accepted.len().to_string(),
            unique.len().to_string(),
        ),
        (
            "bid events in the log (BidPlaced + MaxBidRaised)",
            accepted.len().to_string(),
            occurrences.values().sum::<u32>().to_string(),
        ),
        (
            "GET bidCount = BidPlaced events in the log",
            placed.to_string(),
            view["bidCount"].as_u64().unwrap_or_default().to_string(),
        ),
        (
            "GET currentPrice = price after the last bid event",
            show(price),
            show(view["currentPrice"]["amountMinor"].as_i64()),
        ),
        (
            "GET version = last event's version",
            events.last().map_or(0, |e| e.version()).to_string(),
            view["version"].as_u64().unwrap_or_default().to_string(),
        ),
    ])
}

/// The user who floods the write routes in the fairness mode.
const FLOODER: &str = "bench-flood";
/// Each fairness client's bids a second: half the per-user rule (10 a second) for each of its
/// two users, a bidder's pace at the close rather than an idle one.
const FAIR_BIDS_PER_SECOND: f64 = 5.0;
/// The flooder's connections, each sending back to back.
const FLOOD_CONNECTIONS: usize = 4;

/// The fairness mode's two runs: the clients alone, then the same clients (on new auctions)
/// while one user floods.
struct Fairness {
    seconds: usize,
    alone: Spread,
    flooded: Spread,
    flood: Flood,
}

/// What the flooder's requests were answered: decided (201, 409, 422) or limited (429).
#[derive(Default)]
struct Flood {
    decided: usize,
    limited: usize,
    elapsed: Duration,
}

async fn fairness_run(
    http: &Http,
    token: &dyn Fn(&str) -> Result<String>,
    seller: &str,
    clients: usize,
    seconds: usize,
) -> Result<Fairness> {
    let bids = (clients as f64 * FAIR_BIDS_PER_SECOND * seconds as f64) as usize;
    let pace = Pace::Rate(clients as f64 * FAIR_BIDS_PER_SECOND);
    let mut alone_auctions = Vec::with_capacity(clients);
    let mut flooded_auctions = Vec::with_capacity(clients);
    for _ in 0..clients {
        alone_auctions.push(http.create_auction(seller).await?);
        flooded_auctions.push(http.create_auction(seller).await?);
    }
    let flood_auction = http.create_auction(seller).await?;
    let alone = spread_bids(
        http,
        token,
        ("bench-fair", &alone_auctions),
        clients,
        bids,
        pace,
    )
    .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = token(FLOODER)?;
    let flooding = flood(http, &flooder, flood_auction, Arc::clone(&stop));
    let fair = async {
        let spread = spread_bids(
            http,
            token,
            ("bench-fair", &flooded_auctions),
            clients,
            bids,
            pace,
        )
        .await;
        stop.store(true, Ordering::SeqCst);
        spread
    };
    let (flooded, flood) = tokio::join!(fair, flooding);
    Ok(Fairness {
        seconds,
        alone,
        flooded: flooded?,
        flood: flood?,
    })
}

/// One user bidding from [`FLOOD_CONNECTIONS`] connections, each sending its next bid as soon as
/// the last is answered, until `stop`.
async fn flood(
    http: &Http,
    token: &str,
    auction: AuctionId,
    stop: Arc<AtomicBool>,
) -> Result<Flood> {
    let started = Instant::now();
    let counter = Arc::new(AtomicI64::new(STARTING_PRICE));
    let path = format!("/auctions/{}/bids", auction.0);
    let mut tasks = Vec::new();
    for _ in 0..FLOOD_CONNECTIONS {
        let (http, token, path) = (
            Http {
                client: http.client.clone(),
                base: http.base.clone(),
            },
            token.to_owned(),
            path.clone(),
        );
        let (stop, counter) = (Arc::clone(&stop), Arc::clone(&counter));
        tasks.push(tokio::spawn(async move {
            let mut answered = Flood::default();
            while !stop.load(Ordering::SeqCst) {
                let amount = counter.fetch_add(INCREMENT, Ordering::SeqCst) + INCREMENT;
                let body = json!({"amount": amount, "currency": "EUR"});
                let key = Uuid::new_v4().to_string();
                let (status, answer) = http
                    .send(Method::POST, &path, &token, Some(&key), Some(&body))
                    .await?;
                match status {
                    201 | 409 | 422 => answered.decided += 1,
                    429 => answered.limited += 1,
                    _ => bail!("a flooder's bid answered {status}: {answer}"),
                }
            }
            anyhow::Ok(answered)
        }));
    }
    let mut total = Flood::default();
    for task in tasks {
        let answered = task.await??;
        total.decided += answered.decided;
        total.limited += answered.limited;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

impl Fairness {
    fn report(&self, clients: usize) -> Result<()> {
        let what = format!(
            "PlaceBid over HTTP, {clients} clients at {FAIR_BIDS_PER_SECOND:.0} bids/s each, \
             one user flooding"
        );
        let baseline = format!("the same {clients} clients alone");
        println!(
            "## Fairness: {clients} clients at {FAIR_BIDS_PER_SECOND:.0} bids/s each for {} s, \
             alone and while one user floods from {FLOOD_CONNECTIONS} connections",
            self.seconds
        );
        println!();
        let row = |what: &str, run: &Spread| {
            vec![
                what.to_owned(),
                run.sent.to_string(),
                (run.sent - run.rejected.values().sum::<usize>()).to_string(),
                codes(&run.rejected),
                millis(run.latency.p50),
                millis(run.latency.p95),
                millis(run.latency.p99),
            ]
        };
        print_table(
            &["what", "sent", "accepted", "refused", "p50", "p95", "p99"],
            &[
                row(&baseline, &self.alone),
                row(
                    &format!("{clients} clients, one user flooding"),
                    &self.flooded,
                ),
            ],
        );
        let seconds = self.flood.elapsed.as_secs_f64();
        println!();
        println!(
            "The flooder: {} requests in {seconds:.1} s ({:.0}/s), {} decided ({:.1}/s: the \
             rule is 10 a second after a burst of 20), {} answered 429 before anything was read \
             or decided. The clients' bids answered 429: 0 (the run fails otherwise).",
            self.flood.decided + self.flood.limited,
            (self.flood.decided + self.flood.limited) as f64 / seconds,
            self.flood.decided,
            self.flood.decided as f64 / seconds,
            self.flood.limited,
        );
        println!();
        for (p, flooded, alone) in [
            ("p50", self.flooded.latency.p50, self.alone.latency.p50),
            ("p95", self.flooded.latency.p95, self.alone.latency.p95),
            ("p99", self.flooded.latency.p99, self.alone.latency.p99),
        ] {
            record(
                &Measurement::new(format!("{what}: {p}"), ms(flooded), "ms").beside(
                    Better::Lower,
                    format!("{baseline}, {p}"),
                    ms(alone),
                ),
            )?;
        }
        record(
            &Measurement::new(
                format!("{what}: the flooder's decided writes"),
                self.flood.decided as f64 / seconds,
                "/s",
            )
            .beside(
                Better::Lower,
                "the flooder's requests",
                (self.flood.decided + self.flood.limited) as f64 / seconds,
            ),
        )
    }
}
