//! The detection over in-memory ports: the event store's twin (log and audit index (`byTypeShard`)),
//! the projector's, the saga's and the notifier's, with a recording double for redelivery. The
//! healthy state each test starts from is made by the consumers' own code (the projector's
//! `apply`, the notifier's `notifications`), so that "nothing missing" means what they write.
//! The parked items a run replays are in parking's in-memory Parked table, replayed by parking's
//! own `replay` through the recording double.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use domain::fixtures::lamp_auction;
use event_store::testing::{context, epoch, eur, user};
use event_store::{EventLog, InMemoryStore, Meter, SnapshotPolicy, Store, StoredEvent};
use events::AuctionId;
use parking::InMemoryParked;
use payments::saga::Start;
use payments::testing::{SaleStep, sell};
use payments::{BasisPoints, InMemorySagaStates, Saga, SagaId, SagaStates, Status};
use read_models::InMemoryViews;
use read_models::notifications::{AuctionContext, InMemoryNotifications, StoreNotification};
use uuid::Uuid;

use crate::ports::{Consumer, Redeliver};
use crate::{Kind, MAX_REPLAYS_PER_RUN, Ports, Reconciled, Settings, reconcile};
use parking::{Parked, ParkedItems, ParkingError};

/// One redelivery: the consumer and the (auction, version) of each event.
type Call = (Consumer, Vec<(AuctionId, u64)>);

/// What the double was asked to redeliver.
#[derive(Debug, Default)]
struct Recording {
    calls: Mutex<Vec<Call>>,
    /// Redeliveries to this consumer fail.
    refuse: Option<Consumer>,
}

impl Recording {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Redeliver for Recording {
    async fn redeliver(
        &self,
        consumer: Consumer,
        events: &[StoredEvent],
    ) -> Result<(), ParkingError> {
        if self.refuse == Some(consumer) {
            return Err(ParkingError::ConsumerFailed {
                consumer: consumer.name().to_owned(),
                reason: "refused by the test".to_owned(),
            });
        }
        let keys = events
            .iter()
            .map(|e| (AuctionId(e.envelope.aggregate_id), e.version()))
            .collect();
        self.calls.lock().unwrap().push((consumer, keys));
        Ok(())
    }
}

type World = Ports<
    InMemoryStore,
    InMemorySagaStates,
    InMemoryViews,
    InMemoryNotifications,
    Recording,
    InMemoryParked,
>;

fn world() -> World {
    Ports {
        log: InMemoryStore::new(),
        sagas: InMemorySagaStates::new(),
        views: InMemoryViews::new(),
        notices: InMemoryNotifications::new(),
        consumers: Recording::default(),
        parked: InMemoryParked::new(),
    }
}

fn settings() -> Settings {
    Settings {
        lookback: TimeDelta::hours(6),
        grace: TimeDelta::minutes(10),
        saga_deadline: TimeDelta::minutes(15),
        ..Settings::default()
    }
}

fn ends_at() -> DateTime<Utc> {
    epoch() + TimeDelta::days(1)
}

/// When the end was recorded.
fn ended_at() -> DateTime<Utc> {
    ends_at() + TimeDelta::seconds(1)
}

/// An hour after the end: the end is well inside the window.
fn an_hour_later() -> DateTime<Utc> {
    ended_at() + TimeDelta::hours(1)
}

/// The seller's lamp, bid on by `bidders` (name, maximum) in order an hour after it opened,
/// ended at [`ended_at`], in the world's log: with bob at 500 and cat at 300, bob wins at 310.
async fn ended_auction(world: &World, bidders: &[(&str, i64)]) -> AuctionId {
    let store = Store::new(InMemoryStore::new(), SnapshotPolicy::inline(0));
    let auction_id = AuctionId(Uuid::new_v4());
    let create = lamp_auction(auction_id, ends_at());
    sell(&store, &create, bidders, |step| match step {
        SaleStep::Create => context("seller", epoch()),
        SaleStep::Bid(bidder) => context(bidder, epoch() + TimeDelta::hours(1)),
        SaleStep::End => context("scheduler", ended_at()),
    })
    .await
    .unwrap();
    // The log the run reads is the world's; the store above only made the history.
    world
        .log
        .append(&store.backend().events(auction_id), &Meter::default())
        .await
        .unwrap();
    auction_id
}

fn events(world: &World, auction_id: AuctionId) -> Vec<StoredEvent> {
    world.log.events(auction_id)
}

fn last_of(world: &World, auction_id: AuctionId, event_type: &str) -> StoredEvent {
    events(world, auction_id)
        .into_iter()
        .rev()
        .find(|e| e.envelope.event_type == event_type)
        .unwrap()
}

/// The projector applies events `1..=up_to` of the auction.
async fn project(world: &World, auction_id: AuctionId, up_to: u64) {
    let mut current = None;
    for stored in events(world, auction_id)
        .iter()
        .filter(|e| e.version() <= up_to)
    {
        let (_, next) =
            read_models::apply(&world.views, &world.log, current, &stored.decode().unwrap())
                .await
                .unwrap();
        current = next;
    }
}

/// The notifier stores the end's notices, all but those of `except`.
async fn notify_end(world: &World, auction_id: AuctionId, except: &[&str]) -> usize {
    let ended = last_of(world, auction_id, "AuctionEnded");
    let envelope = ended.decode().unwrap();
    let state = event_store::state_at(&world.log, auction_id, ended.version(), &Meter::default())
        .await
        .unwrap();
    let notices =
        read_models::notifications::notifications(&envelope, &AuctionContext::of(&state).unwrap());
    for notice in &notices {
        if !except.iter().any(|name| notice.recipient == user(name)) {
            world.notices.store(notice).await.unwrap();
        }
    }
    notices.len()
}

/// The winner's saga, saved with `status`, last written at `updated_at`.
async fn saga(
    world: &World,
    auction_id: AuctionId,
    buyer: &str,
    status: Status,
    updated_at: DateTime<Utc>,
) {
    let ended = last_of(world, auction_id, "AuctionEnded");
    let mut saga = Saga::start(
        Start {
            auction_id,
            buyer_id: user(buyer),
            seller_id: user("seller"),
            price: eur(310),
            commission_rate: BasisPoints::try_from(500).unwrap(),
            correlation_id: ended.envelope.metadata.correlation_id.clone(),
            causation_id: ended.envelope.event_id.to_string(),
        },
        ended_at(),
    )
    .unwrap();
    saga.status = status;
    saga.updated_at = updated_at;
    world.sagas.save(&saga).await.unwrap();
}

/// The version of the auction's last event.
fn head_of(world: &World, auction_id: AuctionId) -> u64 {
    events(world, auction_id).last().unwrap().version()
}

/// The projector applies every event of the auction.
async fn project_all(world: &World, auction_id: AuctionId) {
    let head = head_of(world, auction_id);
    project(world, auction_id, head).await;
}

/// Every consumer did its part for the auction: the view is at the log's head, the winner's
/// saga completed, every notice of the end stored.
async fn healthy(world: &World, auction_id: AuctionId, winner: &str) {
    project_all(world, auction_id).await;
    saga(world, auction_id, winner, Status::Completed, ended_at()).await;
    notify_end(world, auction_id, &[]).await;
}

/// [`bob_wins`], and [`healthy`]: the auction and the version of its end.
async fn bob_wins_and_every_consumer_did_its_part(world: &World) -> (AuctionId, u64) {
    let auction_id = bob_wins(world).await;
    healthy(world, auction_id, "bob").await;
    (auction_id, head_of(world, auction_id))
}

fn only(kind: Kind, count: usize, auctions: usize) -> Reconciled {
    let mut expected = Reconciled {
        auctions,
        ..Reconciled::default()
    };
    match kind {
        Kind::MissingSaga => expected.missing_sagas = count,
        Kind::StalledSaga => expected.stalled_sagas = count,
        Kind::ViewBehind => expected.views_behind = count,
        Kind::MissingNotices => expected.missing_notices = count,
    }
    expected
}

/// The run's counts without the index entries it read (which depend on the history).
fn counts(mut reconciled: Reconciled) -> Reconciled {
    reconciled.events_read = 0;
    reconciled
}

/// Bob (500) beats cat (300) on the seller's lamp: the sale most tests look at.
async fn bob_wins(world: &World) -> AuctionId {
    ended_auction(world, &[("bob", 500), ("cat", 300)]).await
}

/// A run an hour after the end, with the default settings.
async fn run_an_hour_later(world: &World) -> Reconciled {
    reconcile(world, &settings(), an_hour_later())
        .await
        .unwrap()
}

/// The run looked at one auction and redelivered nothing.
fn assert_checked_one_and_repaired_nothing(world: &World, reconciled: Reconciled) {
    assert_eq!(
        counts(reconciled),
        Reconciled {
            auctions: 1,
            ..Reconciled::default()
        }
    );
    assert_eq!(world.consumers.calls(), vec![]);
}

#[tokio::test]
async fn given_an_ended_auction_whose_consumers_all_did_their_part_when_a_run_looks_then_it_redelivers_nothing()
 {
    let world = world();
    let auction_id = bob_wins(&world).await;
    healthy(&world, auction_id, "bob").await;

    let reconciled = run_an_hour_later(&world).await;

    assert_eq!(
        counts(reconciled.clone()),
        Reconciled {
            auctions: 1,
            ..Reconciled::default()
        }
    );
    assert_eq!(reconciled.events_read, 1, "only the end is in the window");
    assert_eq!(world.consumers.calls(), vec![]);
}

#[tokio::test]
async fn given_a_sale_without_a_saga_when_a_run_looks_after_the_grace_then_the_end_goes_to_the_payment_saga_once()
 {
    let world = world();
    let auction_id = bob_wins(&world).await;
    project_all(&world, auction_id).await;
    notify_end(&world, auction_id, &[]).await;
    let ended = last_of(&world, auction_id, "AuctionEnded");
    let bobs = SagaId::new(auction_id, &user("bob"));
    assert!(world.sagas.get(&bobs).await.unwrap().is_none());

    let reconciled = run_an_hour_later(&world).await;

    assert_eq!(counts(reconciled), only(Kind::MissingSaga, 1, 1));
    assert_eq!(
        world.consumers.calls(),
        vec![(Consumer::PaymentSaga, vec![(auction_id, ended.version())])]
    );
}

#[tokio::test]
async fn given_a_sale_without_a_saga_when_a_run_looks_within_the_grace_then_it_is_left_to_the_consumers()
 {
    let world = world();
    let auction_id = bob_wins(&world).await;
    project_all(&world, auction_id).await;
    notify_end(&world, auction_id, &[]).await;

    let five_minutes_after = ended_at() + TimeDelta::minutes(5);
    let reconciled = reconcile(&world, &settings(), five_minutes_after)
        .await
        .unwrap();

    assert_eq!(reconciled, Reconciled::default());
    assert_eq!(world.consumers.calls(), vec![]);
}

#[tokio::test]
async fn given_an_unsold_auction_when_a_run_looks_then_no_saga_is_expected() {
    let world = world();
    let auction_id = ended_auction(&world, &[]).await;
    let head = head_of(&world, auction_id);
    project(&world, auction_id, head).await;
    notify_end(&world, auction_id, &[]).await;

    let reconciled = run_an_hour_later(&world).await;

    assert_checked_one_and_repaired_nothing(&world, reconciled);
}

#[tokio::test]
async fn given_a_running_saga_when_its_last_write_is_past_the_deadline_then_its_sale_goes_to_the_payment_saga_and_not_before()
 {
    let world = world();
    let auction_id = bob_wins(&world).await;
    project_all(&world, auction_id).await;
    notify_end(&world, auction_id, &[]).await;
    let ended = last_of(&world, auction_id, "AuctionEnded");
    let last_write = an_hour_later() - TimeDelta::minutes(16);
    saga(&world, auction_id, "bob", Status::Compensating, last_write).await;

    let within = reconcile(&world, &settings(), last_write + TimeDelta::minutes(14))
        .await
        .unwrap();
    assert_checked_one_and_repaired_nothing(&world, within);

    let past = run_an_hour_later(&world).await;
    assert_eq!(counts(past), only(Kind::StalledSaga, 1, 1));
    assert_eq!(
        world.consumers.calls(),
        vec![(Consumer::PaymentSaga, vec![(auction_id, ended.version())])]
    );
}

#[tokio::test]
async fn given_no_view_when_a_run_looks_then_the_whole_history_goes_to_the_projector() {
    let world = world();
    let auction_id = bob_wins(&world).await;
    saga(&world, auction_id, "bob", Status::Completed, ended_at()).await;
    notify_end(&world, auction_id, &[]).await;
    let all: Vec<(AuctionId, u64)> = events(&world, auction_id)
        .iter()
        .map(|e| (auction_id, e.version()))
        .collect();

    let reconciled = run_an_hour_later(&world).await;

    assert_eq!(counts(reconciled), only(Kind::ViewBehind, 1, 1));
    assert_eq!(world.consumers.calls(), vec![(Consumer::Projector, all)]);
}

#[tokio::test]
async fn given_a_view_behind_the_log_when_a_run_looks_then_only_the_events_it_lacks_go_to_the_projector()
 {
    let world = world();
    let (_, head) = bob_wins_and_every_consumer_did_its_part(&world).await;
    let behind = bob_wins(&world).await;
    saga(&world, behind, "bob", Status::Completed, ended_at()).await;
    notify_end(&world, behind, &[]).await;
    project(&world, behind, head - 1).await;

    let reconciled = run_an_hour_later(&world).await;

    assert_eq!(counts(reconciled), only(Kind::ViewBehind, 1, 2));
    assert_eq!(
        world.consumers.calls(),
        vec![(Consumer::Projector, vec![(behind, head)])]
    );
}

#[tokio::test]
async fn given_a_view_behind_only_by_events_younger_than_the_grace_when_a_run_looks_then_that_is_lag_not_divergence()
 {
    let world = world();
    let auction_id = bob_wins(&world).await;
    let head = head_of(&world, auction_id);
    project(&world, auction_id, head - 1).await;
    saga(&world, auction_id, "bob", Status::Completed, ended_at()).await;
    notify_end(&world, auction_id, &[]).await;
    // The bids are old enough to be in the window, the end is not.
    let settings = Settings {
        lookback: TimeDelta::days(2),
        ..settings()
    };

    let reconciled = reconcile(&world, &settings, ended_at() + TimeDelta::minutes(5))
        .await
        .unwrap();

    assert_checked_one_and_repaired_nothing(&world, reconciled);
}

#[tokio::test]
async fn given_an_ended_auction_with_a_notice_missing_when_a_run_looks_then_the_end_goes_to_the_notifier()
 {
    let world = world();
    let auction_id = bob_wins(&world).await;
    let head = head_of(&world, auction_id);
    project(&world, auction_id, head).await;
    saga(&world, auction_id, "bob", Status::Completed, ended_at()).await;
    let expected = notify_end(&world, auction_id, &["cat"]).await;
    assert_eq!(expected, 3, "won, lost and sold");

    let reconciled = run_an_hour_later(&world).await;

    assert_eq!(counts(reconciled), only(Kind::MissingNotices, 1, 1));
    assert_eq!(
        world.consumers.calls(),
        vec![(Consumer::Notifier, vec![(auction_id, head)])]
    );
}

#[tokio::test]
async fn given_auctions_that_ended_before_the_lookback_or_within_the_grace_when_a_run_looks_then_they_are_not_checked()
 {
    let world = world();
    bob_wins(&world).await;
    // Nothing was consumed at all: every kind of divergence, but outside the window.
    assert!(world.views.all_user_bids().is_empty());
    assert!(world.sagas.all().is_empty());

    let long_after = ended_at() + TimeDelta::hours(7);
    let reconciled = reconcile(&world, &settings(), long_after).await.unwrap();

    assert_eq!(reconciled, Reconciled::default());
    assert_eq!(world.consumers.calls(), vec![]);
}

#[tokio::test]
async fn given_a_consumer_that_refuses_the_redelivery_when_a_run_repairs_then_it_counts_the_failure_and_repairs_the_rest()
 {
    let mut world = world();
    world.consumers.refuse = Some(Consumer::Projector);
    let auction_id = bob_wins(&world).await;
    notify_end(&world, auction_id, &[]).await;
    let ended = last_of(&world, auction_id, "AuctionEnded");

    let reconciled = run_an_hour_later(&world).await;

    assert_eq!(
        counts(reconciled),
        Reconciled {
            auctions: 1,
            missing_sagas: 1,
            failed: 1,
            ..Reconciled::default()
        }
    );
    assert_eq!(
        world.consumers.calls(),
        vec![(Consumer::PaymentSaga, vec![(auction_id, ended.version())])]
    );
}

#[test]
fn every_kind_is_counted_on_its_own() {
    for kind in [
        Kind::MissingSaga,
        Kind::StalledSaga,
        Kind::ViewBehind,
        Kind::MissingNotices,
    ] {
        let mut reconciled = Reconciled::default();
        reconciled.repaired(kind);
        assert_eq!(reconciled.count(kind), 1, "{}", kind.as_str());
        assert_eq!(reconciled.repairs(), 1);
    }
}

// The parked items a run replays on its own.

/// `consumer` gave up on events `from..=to` of the auction at `parked_at`, and its replays
/// failed `failed_replays` times since.
fn parked_item(
    consumer: &str,
    auction_id: AuctionId,
    (from, to): (u64, u64),
    parked_at: DateTime<Utc>,
    failed_replays: u32,
) -> Parked {
    Parked {
        consumer: consumer.to_owned(),
        aggregate_id: auction_id,
        from_version: from,
        to_version: to,
        event_types: vec!["AuctionEnded".to_owned()],
        last_error: "RetryAttemptsExhausted after 4 invocations".to_owned(),
        attempts: 4,
        failed_replays,
        parked_at,
        origin: "the test".to_owned(),
    }
}

async fn park(world: &World, item: &Parked) {
    world.parked.put(item).await.unwrap();
}

async fn still_parked(world: &World, item: &Parked) -> Option<Parked> {
    world
        .parked
        .get(&item.consumer, &item.parked_id())
        .await
        .unwrap()
}

/// Replays wait a minute and stop after five failures.
fn replay_settings() -> Settings {
    Settings {
        parked_grace: TimeDelta::minutes(1),
        max_replays: 5,
        ..settings()
    }
}

/// A run at `now` with [`replay_settings`].
async fn replay_run(world: &World, now: DateTime<Utc>) -> Reconciled {
    reconcile(world, &replay_settings(), now).await.unwrap()
}

/// The run's counts of parked items only.
fn replays(reconciled: &Reconciled) -> (usize, usize, usize, usize, usize) {
    (
        reconciled.parked,
        reconciled.replayed,
        reconciled.replays_failed,
        reconciled.left_for_a_person,
        reconciled.failed,
    )
}

#[tokio::test]
async fn given_an_item_parked_longer_than_the_grace_ago_when_a_run_looks_then_its_events_go_to_its_consumer_and_it_is_removed()
 {
    let world = world();
    let (auction_id, head) = bob_wins_and_every_consumer_did_its_part(&world).await;
    let now = an_hour_later();
    let item = parked_item(
        "projector",
        auction_id,
        (head - 1, head),
        now - TimeDelta::minutes(2),
        0,
    );
    park(&world, &item).await;

    let reconciled = replay_run(&world, now).await;

    assert_eq!(replays(&reconciled), (1, 1, 0, 0, 0));
    assert_eq!(
        world.consumers.calls(),
        vec![(
            Consumer::Projector,
            vec![(auction_id, head - 1), (auction_id, head)]
        )]
    );
    assert_eq!(still_parked(&world, &item).await, None);
}

#[tokio::test]
async fn given_an_item_parked_within_the_grace_when_a_run_looks_then_it_is_left_to_the_outage_to_end()
 {
    let world = world();
    let (auction_id, head) = bob_wins_and_every_consumer_did_its_part(&world).await;
    let now = an_hour_later();
    let item = parked_item(
        "notifier",
        auction_id,
        (head, head),
        now - TimeDelta::seconds(30),
        0,
    );
    park(&world, &item).await;

    let reconciled = replay_run(&world, now).await;

    assert_eq!(replays(&reconciled), (1, 0, 0, 0, 0));
    assert_eq!(world.consumers.calls(), vec![]);
    assert_eq!(still_parked(&world, &item).await, Some(item));
}

#[tokio::test]
async fn given_an_item_whose_replays_failed_the_maximum_when_a_run_looks_then_it_is_left_for_a_person_and_reported()
 {
    let world = world();
    let (auction_id, head) = bob_wins_and_every_consumer_did_its_part(&world).await;
    let now = an_hour_later();
    let exhausted = parked_item(
        "payment-saga",
        auction_id,
        (head, head),
        now - TimeDelta::hours(1),
        5,
    );
    let one_more_try = parked_item(
        "notifier",
        auction_id,
        (head, head),
        now - TimeDelta::hours(1),
        4,
    );
    park(&world, &exhausted).await;
    park(&world, &one_more_try).await;

    let reconciled = replay_run(&world, now).await;

    assert_eq!(replays(&reconciled), (2, 1, 0, 1, 0));
    assert_eq!(
        world.consumers.calls(),
        vec![(Consumer::Notifier, vec![(auction_id, head)])]
    );
    assert_eq!(still_parked(&world, &exhausted).await, Some(exhausted));
    assert_eq!(still_parked(&world, &one_more_try).await, None);
}

#[tokio::test]
async fn given_a_consumer_that_fails_the_replay_when_a_run_looks_then_the_item_stays_with_one_more_failed_replay_and_the_run_has_not_failed()
 {
    let mut world = world();
    world.consumers.refuse = Some(Consumer::Projector);
    let (auction_id, head) = bob_wins_and_every_consumer_did_its_part(&world).await;
    let now = an_hour_later();
    let item = parked_item(
        "projector",
        auction_id,
        (head, head),
        now - TimeDelta::minutes(5),
        2,
    );
    park(&world, &item).await;

    let reconciled = replay_run(&world, now).await;

    assert_eq!(replays(&reconciled), (1, 0, 1, 0, 0));
    let kept = still_parked(&world, &item).await.unwrap();
    assert_eq!(kept.failed_replays, 3);
    assert!(
        kept.last_error.starts_with("replay failed: ") && kept.last_error.contains("refused"),
        "{}",
        kept.last_error
    );
    assert_eq!(
        Parked {
            failed_replays: item.failed_replays,
            last_error: item.last_error.clone(),
            ..kept
        },
        item,
        "nothing else about the item changed"
    );
}

#[tokio::test]
async fn given_an_item_of_an_unknown_consumer_or_of_events_the_log_lacks_when_a_run_looks_then_a_person_is_needed_and_the_other_items_are_replayed()
 {
    let world = world();
    let (auction_id, head) = bob_wins_and_every_consumer_did_its_part(&world).await;
    let now = an_hour_later();
    let old = now - TimeDelta::hours(1);
    let unknown = parked_item("prod-Projector-1A2B", auction_id, (head, head), old, 0);
    let beyond_the_log = parked_item("publisher", auction_id, (head, head + 1), old, 0);
    let fine = parked_item("broadcaster", auction_id, (head, head), old, 0);
    for item in [&unknown, &beyond_the_log, &fine] {
        park(&world, item).await;
    }

    let reconciled = replay_run(&world, now).await;

    // The log lacking events is a failure of the run (the error alarm): run auction-admin
    // verify. The item stays as it was, for the next run or a person.
    assert_eq!(replays(&reconciled), (3, 1, 0, 1, 1));
    assert_eq!(
        world.consumers.calls(),
        vec![(Consumer::Broadcaster, vec![(auction_id, head)])]
    );
    assert_eq!(still_parked(&world, &unknown).await, Some(unknown));
    assert_eq!(
        still_parked(&world, &beyond_the_log).await,
        Some(beyond_the_log)
    );
    assert_eq!(still_parked(&world, &fine).await, None);
}

#[tokio::test]
async fn given_more_items_due_than_a_run_replays_when_runs_look_then_each_replays_the_oldest_up_to_the_bound()
 {
    let world = world();
    let now = an_hour_later();
    // Every range of two auctions' events, for every consumer, each parked a second before the
    // previous one: more than one run replays.
    let mut items = Vec::new();
    for _ in 0..2 {
        let (auction_id, head) = bob_wins_and_every_consumer_did_its_part(&world).await;
        for consumer in Consumer::ALL {
            for from in 1..=head {
                for to in from..=head {
                    let earlier = TimeDelta::seconds(i64::try_from(items.len()).unwrap());
                    let parked_at = now - TimeDelta::minutes(2) - earlier;
                    items.push(parked_item(
                        consumer.name(),
                        auction_id,
                        (from, to),
                        parked_at,
                        0,
                    ));
                }
            }
        }
    }
    let total = items.len();
    assert!(total > MAX_REPLAYS_PER_RUN, "{total} items");
    for item in &items {
        park(&world, item).await;
    }

    let first = replay_run(&world, now).await;

    assert_eq!(replays(&first), (total, MAX_REPLAYS_PER_RUN, 0, 0, 0));
    let newest = items.iter().take(total - MAX_REPLAYS_PER_RUN);
    let mut left = world.parked.list(None).await.unwrap();
    let mut expected: Vec<Parked> = newest.cloned().collect();
    left.sort_by_key(|item| item.parked_at);
    expected.sort_by_key(|item| item.parked_at);
    assert_eq!(left, expected, "the oldest went first");

    let second = replay_run(&world, now).await;

    assert_eq!(
        replays(&second),
        (
            total - MAX_REPLAYS_PER_RUN,
            total - MAX_REPLAYS_PER_RUN,
            0,
            0,
            0
        )
    );
    assert!(world.parked.list(None).await.unwrap().is_empty());
}
