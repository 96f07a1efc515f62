//! The scheduler against DynamoDB Local: the status index the projector keeps tells it what is
//! due, the aggregate decides, and the conditional append makes the end happen exactly once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use domain::{CreateAuction, PlaceBid, decide_create, decide_place_bid};
use e2e::{TestEnv, fixtures};
use event_store::{DynamoDbStore, EventLog, Meter, Store};
use events::{AuctionEvent, AuctionId, AuctionResult, BidId, SoftClose, UnsoldReason};
use read_models::Projections;
use scheduler::{StatusIndex, sweep, sweep_until};
use uuid::Uuid;

/// The reminders' ports on this test's tables, emails through moto's SES.
fn reminders(env: &TestEnv) -> scheduler::DynamoDbReminders {
    scheduler::reminders::Reminders {
        watchlist: watchlist::DynamoDbWatchlist::new(
            env.dynamodb().clone(),
            env.names().watchlist_table.clone(),
        ),
        inbox: read_models::notifications::DynamoDbNotifications::new(
            env.dynamodb().clone(),
            env.names().notifications_table.clone(),
        ),
        mail: env.mail(),
    }
}

fn index(env: &TestEnv) -> StatusIndex {
    StatusIndex::new(
        env.dynamodb().clone(),
        env.names().auction_views_table.clone(),
    )
}

/// Brings the auction's views up to the log's `up_to` version, as the stream would.
async fn project(env: &TestEnv, auction_id: AuctionId, up_to: u64) {
    let (views, log) = (env.views(), env.event_store());
    let mut current = views.load(auction_id).await.unwrap();
    let after = current.as_ref().map_or(0, |p| p.version());
    for stored in log
        .read_after(auction_id, after, &Meter::default())
        .await
        .unwrap()
    {
        if stored.version() > up_to {
            break;
        }
        let event = stored.decode().unwrap();
        current = read_models::apply(&views, &log, current, &event)
            .await
            .unwrap()
            .1;
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    fixtures::epoch() + TimeDelta::seconds(seconds)
}

async fn create(
    store: &Store<DynamoDbStore>,
    now: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    reserve: Option<i64>,
    soft_close: Option<SoftClose>,
) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let command = CreateAuction {
        reserve_price: reserve.map(fixtures::eur),
        ends_at,
        soft_close: Some(soft_close.unwrap_or(SoftClose {
            window_seconds: 0,
            extension_seconds: 0,
        })),
        ..fixtures::create_command(auction_id)
    };
    let mut context = fixtures::context(&fixtures::user("seller"), None);
    context.now = now;
    store
        .execute(auction_id, &context, |state, now| {
            decide_create(state, &command, now)
        })
        .await
        .unwrap();
    auction_id
}

async fn bid(
    store: &Store<DynamoDbStore>,
    auction_id: AuctionId,
    bidder: &str,
    amount: i64,
    now: DateTime<Utc>,
) -> Vec<AuctionEvent> {
    let command = PlaceBid {
        bid_id: BidId(Uuid::new_v4()),
        bidder_id: fixtures::user(bidder),
        amount: fixtures::eur(amount),
        max_amount: None,
    };
    let mut context = fixtures::context(&fixtures::user(bidder), None);
    context.now = now;
    let outcome = store
        .execute(auction_id, &context, |state, now| {
            decide_place_bid(state, &command, now)
        })
        .await
        .unwrap();
    outcome.events.into_iter().map(|e| e.event).collect()
}

/// Every AuctionEnded of the auction, with when it occurred.
async fn endings(env: &TestEnv, auction_id: AuctionId) -> Vec<(AuctionResult, DateTime<Utc>)> {
    env.event_store()
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap()
        .iter()
        .filter_map(|stored| {
            let envelope = stored.decode::<events::AuctionEvent>().unwrap();
            match envelope.event {
                AuctionEvent::AuctionEnded(ended) => Some((ended.result, envelope.occurred_at)),
                _ => None,
            }
        })
        .collect()
}

#[tokio::test]
async fn an_auction_whose_reserve_is_met_ends_sold_exactly_once_with_two_schedulers() {
    // Given an auction ending at +1h with a bid above its reserve, projected
    let env = TestEnv::new().await;
    let (first, second) = (env.store_snapshotting(0), env.store_snapshotting(0));
    let auction_id = create(&first, at(0), at(3600), Some(150), None).await;
    bid(&first, auction_id, "bob", 200, at(60)).await;
    project(&env, auction_id, u64::MAX).await;
    let index = index(&env);

    // When two schedulers sweep a second before the end, then both at the end at once
    let early = sweep(&first, &index, at(3599)).await.unwrap();
    let (a, b) = tokio::join!(
        sweep(&first, &index, at(3600)),
        sweep(&second, &index, at(3600))
    );

    // Then nothing happened early, and exactly one of them ended it, sold to bob
    assert_eq!(early, scheduler::SweepReport::default());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.ended.len() + b.ended.len(), 1, "{a:?} {b:?}");
    let ended = endings(&env, auction_id).await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert!(
        matches!(&ended[0].0, AuctionResult::Sold { winner_id, final_price }
            if *winner_id == fixtures::user("bob") && final_price.amount_minor == 200),
        "{ended:?}"
    );
}

#[tokio::test]
async fn an_auction_whose_reserve_is_not_met_ends_unsold() {
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(0);
    let auction_id = create(&store, at(0), at(3600), Some(10_000), None).await;
    bid(&store, auction_id, "bob", 200, at(60)).await;
    project(&env, auction_id, u64::MAX).await;

    let report = sweep(&store, &index(&env), at(3600)).await.unwrap();

    assert_eq!(report.ended, vec![auction_id]);
    let ended = endings(&env, auction_id).await;
    assert!(
        matches!(
            ended.as_slice(),
            [(
                AuctionResult::Unsold {
                    reason: UnsoldReason::ReserveNotMet
                },
                _
            )]
        ),
        "{ended:?}"
    );
}

#[tokio::test]
async fn after_a_soft_close_extension_the_auction_ends_at_the_new_end_even_from_a_stale_index() {
    // Given an auction ending at +1h with a 60 s soft-close window extending by 120 s, and a
    // bid 30 s before the end that extended it, which the index has not seen yet
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(0);
    let soft_close = SoftClose {
        window_seconds: 60,
        extension_seconds: 120,
    };
    let auction_id = create(&store, at(0), at(3600), None, Some(soft_close)).await;
    project(&env, auction_id, u64::MAX).await;
    let events = bid(&store, auction_id, "bob", 200, at(3570)).await;
    let new_end = events
        .iter()
        .find_map(|event| match event {
            AuctionEvent::AuctionExtended(extended) => Some(extended.new_ends_at),
            _ => None,
        })
        .expect("the bid extends the auction");
    assert_eq!(new_end, at(3720));
    let index = index(&env);

    // When the scheduler sweeps at the old end with the stale index
    let stale = sweep(&store, &index, at(3600)).await.unwrap();
    // and, once the extension is projected, at the old end and at the new one
    project(&env, auction_id, u64::MAX).await;
    let before = sweep(&store, &index, at(3719)).await.unwrap();
    let on_time = sweep(&store, &index, new_end).await.unwrap();

    // Then the aggregate refused the early end, nothing was due before the new end, and the
    // auction ended at it, sold to bob
    assert_eq!(stale.not_yet, 1);
    assert!(stale.ended.is_empty() && before.ended.is_empty());
    assert_eq!(on_time.ended, vec![auction_id]);
    assert_eq!(endings(&env, auction_id).await.len(), 1);
}

#[tokio::test]
async fn with_the_projector_and_two_schedulers_running_an_auction_ends_within_a_second_of_its_extended_end()
 {
    // Given the projector behind the stream runner and two schedulers sweeping on the clock
    let env = TestEnv::new().await;
    let (mapping, clients) = env.stream_mapping("projector").await;
    let (views, log) = (Arc::new(env.views()), Arc::new(env.event_store()));
    let heads = Arc::new(env.heads());
    let runner_stop = local_triggers::CancellationToken::new();
    let runner = tokio::spawn(local_triggers::run_stream(
        mapping,
        clients,
        Arc::new(move |event| {
            let (views, log, heads) = (Arc::clone(&views), Arc::clone(&log), Arc::clone(&heads));
            async move { read_models::handle(&*views, &*log, &*heads, event).await }
        }),
        runner_stop.clone(),
    ));
    let stop = local_triggers::CancellationToken::new();
    let mut schedulers = Vec::new();
    for _ in 0..2 {
        let (store, index, stop) = (env.store_snapshotting(0), index(&env), stop.clone());
        let reminders = reminders(&env);
        schedulers.push(tokio::spawn(async move {
            sweep_until(&store, &index, &reminders, Utc::now, stop.cancelled_owned()).await;
        }));
    }

    // When an auction ending in 6 s (soft close: 3 s window, 2 s extension) gets a bid 4.5 s in
    let created_at = Utc::now();
    let store = env.store_snapshotting(0);
    let soft_close = SoftClose {
        window_seconds: 3,
        extension_seconds: 2,
    };
    let ends_at = created_at + TimeDelta::seconds(6);
    let auction_id = create(&store, created_at, ends_at, None, Some(soft_close)).await;
    tokio::time::sleep_until(
        tokio::time::Instant::now()
            + (created_at + TimeDelta::milliseconds(4_500) - Utc::now())
                .to_std()
                .unwrap_or_default(),
    )
    .await;
    let events = bid(&store, auction_id, "bob", 200, Utc::now()).await;
    let new_end = events
        .iter()
        .find_map(|event| match event {
            AuctionEvent::AuctionExtended(extended) => Some(extended.new_ends_at),
            _ => None,
        })
        .expect("a bid inside the window extends the auction");

    // Then it ends exactly once, within a second after the extended end
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let ended = loop {
        let ended = endings(&env, auction_id).await;
        if !ended.is_empty() || tokio::time::Instant::now() > deadline {
            break ended;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop.cancel();
    runner_stop.cancel();
    for scheduler in schedulers {
        scheduler.await.unwrap();
    }
    runner.await.unwrap().unwrap();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(endings(&env, auction_id).await.len(), 1, "ended twice");
    let late = ended[0].1 - new_end;
    assert!(
        late >= TimeDelta::zero() && late <= TimeDelta::seconds(1),
        "ended {late} after its extended end {new_end}"
    );
}

/// A scheduled auction starting at `starts_at` (and ending a day later), created at 0 and
/// projected.
async fn scheduled(env: &TestEnv, store: &Store<DynamoDbStore>, starts_at: i64) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let command = CreateAuction {
        starts_at: Some(at(starts_at)),
        ends_at: at(starts_at + 86_400),
        ..fixtures::create_command(auction_id)
    };
    let mut context = fixtures::context(&fixtures::user("seller"), None);
    context.now = at(0);
    store
        .execute(auction_id, &context, |state, now| {
            decide_create(state, &command, now)
        })
        .await
        .unwrap();
    project(env, auction_id, u64::MAX).await;
    auction_id
}

#[tokio::test]
async fn a_scheduled_auction_starts_at_its_start_time_and_not_before() {
    // Given an auction scheduled to start at +10 min, projected
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(0);
    let auction_id = scheduled(&env, &store, 600).await;
    let index = index(&env);

    // When the scheduler sweeps a second before its start, then at its start
    let early = sweep(&store, &index, at(599)).await.unwrap();
    let on_time = sweep(&store, &index, at(600)).await.unwrap();

    // Then it started at its start, once
    assert_eq!(early, scheduler::SweepReport::default());
    assert_eq!(on_time.started, vec![auction_id], "{on_time:?}");
}

#[tokio::test]
async fn a_sweep_reads_the_auctions_whose_start_has_come_not_every_auction_scheduled() {
    // Given three auctions whose start has come
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(0);
    for _ in 0..3 {
        scheduled(&env, &store, 60).await;
    }
    let index = index(&env);
    let units = index.read_units();
    let before = units.total();
    assert_eq!(index_due(&index, at(120)).await, 3);
    let three_due = units.total() - before;

    // When sixty more are scheduled for tomorrow
    for _ in 0..60 {
        scheduled(&env, &store, 86_400).await;
    }

    // Then a sweep finds the same three and reads no more than it did
    let before = units.total();
    assert_eq!(index_due(&index, at(120)).await, 3);
    let with_sixty_more = units.total() - before;
    assert!(three_due > 0.0, "DynamoDB reported no read units");
    assert_eq!(with_sixty_more, three_due);
}

/// How many auctions the index says are due at `now`.
async fn index_due(index: &StatusIndex, now: DateTime<Utc>) -> usize {
    use scheduler::DueAuctions;
    index.due(now).await.unwrap().len()
}

#[tokio::test]
async fn an_auction_ending_within_the_hour_tells_its_watchers_once_in_the_inbox_and_by_email_if_wanted()
 {
    use email::PreferenceStore;
    use read_models::notifications::{Kind, ListNotifications};
    use watchlist::Watchlist;

    // Given an auction ending at +1h and another at +2h, both active and projected; ann, who
    // wants "ends soon" emails, watches both; bob, who asked for no email, watches the first
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(0);
    let soon = create(&store, at(0), at(3600), None, None).await;
    let later = create(&store, at(0), at(7200), None, None).await;
    for auction_id in [soon, later] {
        project(&env, auction_id, u64::MAX).await;
    }
    let reminders = reminders(&env);
    let (ann, bob) = (fixtures::user("ann"), fixtures::user("bob"));
    for (who, auction_id) in [(&ann, soon), (&ann, later), (&bob, soon)] {
        reminders
            .watchlist
            .watch(who, auction_id, at(10))
            .await
            .unwrap();
    }
    let ann_email = format!("ann-{}@example.com", Uuid::new_v4().simple());
    let wants = email::Preferences {
        email: Some(ann_email.clone()),
        topics: [email::Topic::EndingSoon].into_iter().collect(),
        updated_at: at(10),
    };
    env.email_notices().save(&ann, &wants).await.unwrap();

    // When the reminders run a minute in, and again half a minute later
    let index = index(&env);
    let first = scheduler::reminders::remind(&store, &index, &reminders, at(60))
        .await
        .unwrap();
    let again = scheduler::reminders::remind(&store, &index, &reminders, at(90))
        .await
        .unwrap();

    // Then both watchers of the first auction were told once, and nobody of the second
    assert_eq!(
        (first.auctions, first.told, first.failed),
        (1, 2, 0),
        "{first:?}"
    );
    assert_eq!((again.told, again.failed), (0, 0), "{again:?}");
    for who in [&ann, &bob] {
        let inbox = reminders
            .inbox
            .list(who, 10, None)
            .await
            .unwrap()
            .notifications;
        assert_eq!(inbox.len(), 1, "{inbox:?}");
        assert_eq!(
            (inbox[0].kind, inbox[0].auction_id),
            (Kind::EndingSoon, soon)
        );
        assert!(inbox[0].text.contains("ends soon"), "{}", inbox[0].text);
    }
    // and ann got one email about it
    let emails = env.emails_to(&ann_email).await;
    let subjects: Vec<&str> = emails.iter().map(|email| email.subject.as_str()).collect();
    assert_eq!(subjects, ["“Fixture auction” ends soon"]);
}
