//! The handler over the in-memory event store and saga states, the simulated provider and the
//! Item's ledger (the registry the Lambda runs, in the same in-memory store): the whole saga,
//! fast. The same scenarios run against DynamoDB Local in the e2e suite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use domain::item::{
    Acquisition, ItemState, TransferOwnership as ItemTransfer, decide_transfer_ownership,
};
use domain::{RecordPaymentFailed, Settlement, State, decide_record_payment_failed};
use event_store::{CommandContext, InMemoryStore, Meter, SnapshotPolicy, Store, StoredEvent};
use events::{Actor, AuctionEvent, AuctionId, Currency, ItemId, Money, UserId};
use payments::saga::Start;
use payments::testing::{SaleStep, batch, message, register_item, sallys_lamp, sell};
use payments::{
    AdvanceClock, BasisPoints, Clock, Fault, FixedClock, Handled, InMemorySagaStates, ItemLedger,
    Operation, PaymentProvider, Ports, Retry, Saga, SagaError, SagaId, SagaStates,
    SimulatedProvider, StalledSagas, Status, Step,
};
use uuid::Uuid;

type TestPorts = Ports<InMemoryStore, SimulatedProvider, ItemLedger<InMemoryStore>, LosingStates>;

/// The saga states as a consumer sees them, able to lose the write that records one step, as a
/// consumer dying after the step took effect and before its state was saved would.
#[derive(Clone, Default)]
struct LosingStates {
    inner: InMemorySagaStates,
    lose_after: Arc<Mutex<Option<Step>>>,
}

impl LosingStates {
    /// The next write that records `step` is lost (once).
    fn lose_the_write_after(&self, step: Step) {
        *self.lose_after.lock().unwrap() = Some(step);
    }
}

impl SagaStates for LosingStates {
    async fn get(&self, id: &SagaId) -> Result<Option<Saga>, SagaError> {
        self.inner.get(id).await
    }

    async fn save(&self, saga: &Saga) -> Result<(), SagaError> {
        let last = saga.steps.last().map(|record| record.step);
        {
            let mut lose = self.lose_after.lock().unwrap();
            if last.is_some() && *lose == last {
                *lose = None;
                return Err(SagaError::StateUnavailable(format!(
                    "the consumer died after {last:?} took effect"
                )));
            }
        }
        self.inner.save(saga).await
    }
}

fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn after_the_end() -> DateTime<Utc> {
    epoch() + TimeDelta::days(2)
}

fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::try_from("EUR").unwrap())
}

struct World {
    ports: Arc<TestPorts>,
    /// The handler's clock; its retry waits move it on instead of waiting.
    clock: Arc<FixedClock>,
    payments: SimulatedProvider,
    /// The registry: the Item's ledger in the saga's own store.
    ledger: ItemLedger<InMemoryStore>,
    /// The saga states the consumer writes through; `sagas` is the table behind them.
    states: LosingStates,
    sagas: InMemorySagaStates,
    auction_id: AuctionId,
    item_id: ItemId,
}

fn context(now: DateTime<Utc>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: "corr-test".to_owned(),
        actor: Actor::System {
            name: "test".to_owned(),
        },
        idempotency_key: None,
        now,
    }
}

/// An auction by sally with `bidders` (with bob bidding up to 5 000 and cat up to 3 000, bob
/// wins at 3 001, or at the reserve if that is higher), ended; its item registered to sally as
/// the API registers it when it creates the auction.
async fn world(reserve: Option<i64>, bidders: &[(&str, i64)]) -> World {
    world_of(reserve, bidders, true).await
}

/// The same auction created before the API registered items: its item is not in the ledger.
async fn world_before_the_ledger(bidders: &[(&str, i64)]) -> World {
    world_of(None, bidders, false).await
}

async fn world_of(reserve: Option<i64>, bidders: &[(&str, i64)], registered: bool) -> World {
    let store = Store::new(InMemoryStore::new(), SnapshotPolicy::inline(0));
    let auction_id = AuctionId(Uuid::new_v4());
    let create = sallys_lamp(auction_id, reserve, epoch() + TimeDelta::days(1)).unwrap();
    if registered {
        register_item(&store, &create, &context(epoch()))
            .await
            .unwrap();
    }
    sell(&store, &create, bidders, |step| match step {
        SaleStep::End => context(after_the_end()),
        SaleStep::Create | SaleStep::Bid(_) => context(epoch()),
    })
    .await
    .unwrap();
    let clock = Arc::new(FixedClock::new(after_the_end()));
    let payments = SimulatedProvider::with_clock(Duration::from_millis(1), clock.clone());
    let ledger = ItemLedger::new(store.clone(), clock.clone());
    let states = LosingStates::default();
    World {
        ports: Arc::new(Ports {
            store,
            payments: payments.clone(),
            ownership: ledger.clone(),
            sagas: states.clone(),
            clock: clock.clone(),
            sleep: Arc::new(AdvanceClock(clock.clone())),
            retry: Retry::default(),
            commission: BasisPoints::try_from(500).unwrap(),
        }),
        clock,
        payments,
        ledger,
        sagas: states.inner.clone(),
        states,
        auction_id,
        item_id: ItemId::for_auction(auction_id),
    }
}

impl World {
    fn events(&self) -> Vec<StoredEvent> {
        self.ports.store.backend().events(self.auction_id)
    }

    fn last_of_type(&self, event_type: &str) -> StoredEvent {
        self.events()
            .into_iter()
            .rev()
            .find(|e| e.envelope.event_type == event_type)
            .unwrap_or_else(|| panic!("no {event_type}"))
    }

    async fn aggregate(&self) -> State {
        self.ports
            .store
            .load(self.auction_id, &Meter::default())
            .await
            .unwrap()
            .state
    }

    async fn settlement(&self) -> Option<Settlement> {
        self.aggregate().await.auction.unwrap().settlement
    }

    async fn saga_of(&self, buyer: &str) -> payments::Saga {
        self.sagas
            .get(&SagaId::new(self.auction_id, &user(buyer)))
            .await
            .unwrap()
            .unwrap()
    }

    async fn deliver(&self, events: &[StoredEvent]) -> Vec<String> {
        let response = self.ports.handle(batch(events).unwrap()).await.unwrap();
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }

    fn event_types(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .map(|e| e.envelope.event_type)
            .collect()
    }

    fn count(&self, event_type: &str) -> usize {
        self.event_types()
            .iter()
            .filter(|t| *t == event_type)
            .count()
    }

    /// The item's events in the ledger.
    fn item_events(&self) -> Vec<StoredEvent> {
        self.ports.store.backend().events(self.item_id)
    }

    fn item_event_types(&self) -> Vec<String> {
        self.item_events()
            .into_iter()
            .map(|e| e.envelope.event_type)
            .collect()
    }

    /// Who the ledger says owns the item.
    async fn owner(&self) -> Option<UserId> {
        self.ledger
            .item(self.item_id)
            .await
            .unwrap()
            .item
            .map(|item| item.owner)
    }

    /// The steps the saga of `buyer` took, in the order they were done.
    async fn steps_of(&self, buyer: &str) -> Vec<Step> {
        self.saga_of(buyer)
            .await
            .steps
            .iter()
            .map(|record| record.step)
            .collect()
    }
}

#[tokio::test]
async fn given_a_sold_auction_when_the_end_arrives_then_the_winner_pays_the_seller_is_paid_and_the_winner_owns_the_item()
 {
    let world = world(None, &[("bob", 5_000), ("cat", 3_000)]).await;
    let ended = world.last_of_type("AuctionEnded");

    let failed = world.deliver(&[ended]).await;

    assert!(failed.is_empty());
    let charges = world.payments.entries(Operation::Charge);
    assert_eq!(charges.len(), 1);
    assert_eq!(
        (charges[0].party.clone(), charges[0].amount.clone()),
        (user("bob"), Some(eur(3_001)))
    );
    // 5 % of 30.01 is 1.5005, rounded half up to 1.50: the seller gets 28.51.
    assert_eq!(world.payments.net_paid_to(&user("sally")), 2_851);
    assert_eq!(
        world.settlement().await,
        Some(Settlement::Paid {
            buyer: user("bob"),
            amount: 3_001,
            payment_reference: charges[0].reference.clone(),
        })
    );
    assert_eq!(world.owner().await, Some(user("bob")));
    assert_eq!(
        world.item_event_types(),
        ["ItemRegistered", "OwnershipTransferred"]
    );
    assert_eq!(world.saga_of("bob").await.status, Status::Completed);
    assert_eq!(world.steps_of("bob").await, Step::FORWARD);
}

#[tokio::test]
async fn the_commands_carry_the_announcing_events_correlation_and_causation() {
    let world = world(None, &[("bob", 5_000)]).await;
    let ended = world.last_of_type("AuctionEnded");

    world.deliver(std::slice::from_ref(&ended)).await;

    let paid = world.last_of_type("PaymentSucceeded");
    assert_eq!(paid.envelope.metadata.correlation_id, "corr-test");
    assert_eq!(
        paid.envelope.metadata.causation_id,
        ended.envelope.event_id.to_string()
    );
    assert_eq!(
        paid.envelope.metadata.actor,
        Actor::System {
            name: "payment-saga".to_owned()
        }
    );
    // And so does the transfer in the item's ledger
    let transferred = world.item_events().pop().unwrap();
    assert_eq!(transferred.envelope.event_type, "OwnershipTransferred");
    assert_eq!(transferred.envelope.metadata.correlation_id, "corr-test");
    assert_eq!(
        transferred.envelope.metadata.causation_id,
        ended.envelope.event_id.to_string()
    );
    assert_eq!(
        transferred.envelope.metadata.actor,
        paid.envelope.metadata.actor
    );
}

#[tokio::test]
async fn given_a_declined_charge_then_nothing_is_undone_and_the_runner_up_gets_the_offer() {
    let world = world(Some(2_000), &[("bob", 5_000), ("cat", 3_000)]).await;
    world
        .payments
        .inject(Fault::decline(Operation::Charge, "card declined").for_party(&user("bob")));

    let failed = world.deliver(&[world.last_of_type("AuctionEnded")]).await;

    assert!(failed.is_empty());
    assert_eq!(world.payments.entries(Operation::Refund), vec![]);
    assert_eq!(world.payments.entries(Operation::Payout), vec![]);
    assert_eq!(world.saga_of("bob").await.status, Status::Failed);
    let types = world.event_types();
    assert_eq!(
        types[types.len() - 2..],
        ["PaymentFailed", "ItemOfferedToRunnerUp"]
    );

    // The offer arrives on the queue: a new saga, for cat at cat's maximum.
    let failed = world
        .deliver(&[world.last_of_type("ItemOfferedToRunnerUp")])
        .await;

    assert!(failed.is_empty());
    assert_eq!(world.payments.net_paid_by(&user("cat")), 3_000);
    assert_eq!(world.payments.net_paid_by(&user("bob")), 0);
    assert_eq!(world.saga_of("cat").await.status, Status::Completed);
    assert!(matches!(
        world.settlement().await,
        Some(Settlement::Paid { buyer, amount: 3_000, .. }) if buyer == user("cat")
    ));
    assert_eq!(world.owner().await, Some(user("cat")));
    // Bob never owned it: the only transfer is cat's
    assert_eq!(
        world.item_event_types(),
        ["ItemRegistered", "OwnershipTransferred"]
    );
}

#[tokio::test]
async fn given_a_refused_payout_then_the_transfer_is_reversed_the_charge_refunded_and_without_runner_up_the_item_stays_unsold()
 {
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .inject(Fault::decline(Operation::Payout, "seller account closed"));

    let failed = world.deliver(&[world.last_of_type("AuctionEnded")]).await;

    assert!(failed.is_empty());
    let refunds = world.payments.entries(Operation::Refund);
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        refunds[0].refers_to,
        world.payments.entries(Operation::Charge)[0].reference
    );
    assert_eq!(world.payments.net_paid_by(&user("bob")), 0);
    assert_eq!(world.settlement().await, Some(Settlement::NoBuyer));
    assert_eq!(world.event_types().last().unwrap(), "PaymentFailed");
    // The item went to bob and came back to sally before bob was refunded
    assert_eq!(world.owner().await, Some(user("sally")));
    assert_eq!(
        world.item_event_types(),
        ["ItemRegistered", "OwnershipTransferred", "TransferReversed"]
    );
    assert_eq!(
        world.steps_of("bob").await,
        [
            Step::Charge,
            Step::TransferOwnership,
            Step::ReverseTransfer,
            Step::Refund,
            Step::RecordFailure
        ]
    );
}

#[tokio::test]
async fn an_outage_longer_than_the_invocation_fails_the_message_and_the_redelivery_finishes_with_one_charge()
 {
    // Given payouts failing for five minutes, far longer than one invocation's 7 s of retries
    let world = world(None, &[("bob", 5_000)]).await;
    let outage_ends = after_the_end() + TimeDelta::minutes(5);
    world
        .payments
        .inject(Fault::unavailable(Operation::Payout).until(outage_ends));
    let ended = world.last_of_type("AuctionEnded");

    // When the sale's message is handled during the outage
    let failed = world.deliver(std::slice::from_ref(&ended)).await;

    // Then it fails, with the saga saved after its charge
    assert_eq!(failed, [format!("m-{}", ended.envelope.event_id)]);
    let saga = world.saga_of("bob").await;
    assert_eq!(saga.status, Status::Running);
    assert!(saga.reference(Step::Charge).is_some());
    assert_eq!(saga.outcome(Step::Payout), None);

    // And when it is redelivered after the outage, the saga finishes
    world.clock.set(outage_ends);
    let failed = world.deliver(&[ended]).await;

    assert!(failed.is_empty());
    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.payments.entries(Operation::Payout).len(), 1);
    assert_eq!(world.saga_of("bob").await.status, Status::Completed);
}

#[tokio::test]
async fn a_lost_charge_response_is_answered_by_the_first_charge_on_the_retry() {
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .inject(Fault::lose_response(Operation::Charge).times(1));
    let ended = world.last_of_type("AuctionEnded");

    assert!(world.deliver(&[ended]).await.is_empty());

    assert_eq!(world.payments.calls(Operation::Charge), 2);
    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.saga_of("bob").await.status, Status::Completed);
}

#[tokio::test]
async fn a_crash_after_the_charge_and_before_the_state_write_resumes_without_a_second_charge() {
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .inject(Fault::crash_after(Operation::Charge).times(1));
    let ended = world.last_of_type("AuctionEnded");

    let ports = Arc::clone(&world.ports);
    let crashed = tokio::spawn({
        let event = batch(std::slice::from_ref(&ended)).unwrap();
        async move { ports.handle(event).await }
    })
    .await;
    assert!(crashed.unwrap_err().is_panic());
    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.saga_of("bob").await.outcome(Step::Charge), None);

    assert!(world.deliver(&[ended]).await.is_empty());

    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.saga_of("bob").await.status, Status::Completed);
}

#[tokio::test]
async fn given_a_settled_sale_whose_saga_state_was_lost_when_the_sale_is_announced_again_then_the_saga_is_rebuilt_with_no_second_effect()
 {
    let world = world(None, &[("bob", 5_000)]).await;
    let ended = world.last_of_type("AuctionEnded");
    assert!(world.deliver(std::slice::from_ref(&ended)).await.is_empty());
    let first = world.saga_of("bob").await;
    world
        .sagas
        .remove(&SagaId::new(world.auction_id, &user("bob")));

    assert!(world.deliver(&[ended]).await.is_empty());

    let rebuilt = world.saga_of("bob").await;
    assert_eq!(rebuilt.status, Status::Completed);
    assert_eq!(
        rebuilt.outcome(Step::Charge),
        first.outcome(Step::Charge),
        "the charge is the first one"
    );
    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.payments.entries(Operation::Payout).len(), 1);
    assert_eq!(
        world.item_event_types(),
        ["ItemRegistered", "OwnershipTransferred"]
    );
    let succeeded = world
        .events()
        .into_iter()
        .filter(|e| e.envelope.event_type == "PaymentSucceeded")
        .count();
    assert_eq!(succeeded, 1);
}

#[tokio::test]
async fn the_same_message_twice_and_two_consumers_at_once_take_one_effect() {
    let world = world(None, &[("bob", 5_000)]).await;
    let ended = world.last_of_type("AuctionEnded");

    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let ports = Arc::clone(&world.ports);
            let event = batch(std::slice::from_ref(&ended)).unwrap();
            tokio::spawn(async move { ports.handle(event).await })
        })
        .collect();
    for consumer in consumers {
        assert!(
            consumer
                .await
                .unwrap()
                .unwrap()
                .batch_item_failures
                .is_empty()
        );
    }
    assert!(world.deliver(&[ended.clone(), ended]).await.is_empty());

    // All four consumers reached the provider with the charge; one took effect.
    assert_eq!(world.payments.calls(Operation::Charge), 4);
    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.payments.entries(Operation::Payout).len(), 1);
    assert_eq!(
        world.item_event_types(),
        ["ItemRegistered", "OwnershipTransferred"]
    );
    let payments: Vec<_> = world
        .events()
        .into_iter()
        .filter(|e| e.envelope.event_type == "PaymentSucceeded")
        .collect();
    assert_eq!(payments.len(), 1);
}

#[tokio::test]
async fn once_a_message_of_an_auction_fails_its_later_messages_in_the_batch_wait() {
    let world = world(None, &[("bob", 5_000)]).await;
    world.payments.inject(Fault::unavailable(Operation::Charge));
    let ended = world.last_of_type("AuctionEnded");
    let created = world.events()[0].clone();
    let mut garbage = message(&created).unwrap();
    garbage.body = Some("not json".to_owned());
    garbage.message_id = Some("garbage".to_owned());
    garbage
        .attributes
        .insert("MessageGroupId".to_owned(), "another-auction".to_owned());

    let mut event = batch(&[ended.clone(), created.clone()]).unwrap();
    event.records.push(garbage);
    let response = world.ports.handle(event).await.unwrap();

    let failed: Vec<_> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    assert_eq!(
        failed,
        [
            format!("m-{}", ended.envelope.event_id),
            format!("m-{}", created.envelope.event_id),
            "garbage".to_owned()
        ]
    );
}

#[tokio::test]
async fn an_unsold_auction_or_the_sagas_own_events_start_nothing() {
    let world = world(Some(9_000), &[("bob", 5_000)]).await;
    let ended = world.last_of_type("AuctionEnded");
    assert!(matches!(
        ended.envelope.clone().decode().unwrap().event,
        AuctionEvent::AuctionEnded(_)
    ));

    assert!(world.deliver(&world.events()).await.is_empty());

    assert_eq!(world.payments.ledger(), vec![]);
    assert!(world.sagas.all().is_empty());
}

#[tokio::test]
async fn given_a_refused_refund_then_the_saga_stops_compensating_and_the_message_fails_towards_the_dlq()
 {
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .inject(Fault::decline(Operation::Payout, "seller account closed"))
        .inject(Fault::decline(Operation::Refund, "refunds suspended"));
    let ended = world.last_of_type("AuctionEnded");

    let failed = world.deliver(std::slice::from_ref(&ended)).await;

    assert_eq!(failed, [format!("m-{}", ended.envelope.event_id)]);
    let saga = world.saga_of("bob").await;
    assert_eq!(saga.status, Status::Compensating);
    assert_eq!(saga.outcome(Step::Refund), None);
    // Nothing is recorded on the aggregate until the money is back.
    assert!(!world.event_types().contains(&"PaymentFailed".to_owned()));
    assert_eq!(world.payments.net_paid_by(&user("bob")), 1_000);
}

#[tokio::test]
async fn an_outage_shorter_than_the_retry_budget_is_ridden_out_in_one_invocation() {
    // Given the provider down for the next three seconds (the budget is 10 s less 3)
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .outage_until(after_the_end() + TimeDelta::seconds(3));
    let ended = world.last_of_type("AuctionEnded");

    // When the sale's message is handled once
    let failed = world.deliver(&[ended]).await;

    // Then the saga completed in that invocation, charging once after several attempts
    assert!(failed.is_empty());
    assert_eq!(world.saga_of("bob").await.status, Status::Completed);
    assert!(world.payments.calls(Operation::Charge) > 1);
    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.payments.net_paid_to(&user("sally")), 950);
}

#[tokio::test]
async fn retries_stop_before_the_deadline_leaving_the_margin_to_save_the_state() {
    // Given the provider down for good
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .outage_until(after_the_end() + TimeDelta::days(1));
    let ended = world.last_of_type("AuctionEnded");

    // When the message is handled
    let failed = world.deliver(&[ended]).await;

    // Then it failed having retried, and the handler's clock stopped short of the deadline by
    // at least the margin
    assert_eq!(failed.len(), 1);
    assert!(world.payments.calls(Operation::Charge) > 3);
    let retry = Retry::default();
    let deadline = retry.deadline_from(after_the_end());
    assert!(world.clock.now() < retry.last_start(deadline));
}

#[tokio::test]
async fn a_batch_with_less_than_the_margin_left_before_its_deadline_begins_nothing() {
    // Given a sold auction, and an invocation with 2 s left (the margin is 3 s)
    let world = world(None, &[("bob", 5_000)]).await;
    let ended = world.last_of_type("AuctionEnded");
    let deadline = after_the_end() + TimeDelta::seconds(2);

    // When the sale's message is handed to it
    let response = world
        .ports
        .handle_until(batch(std::slice::from_ref(&ended)).unwrap(), deadline)
        .await
        .unwrap();

    // Then the message is reported failed, for its redelivery, and nothing was begun
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(world.sagas.all().is_empty());
    assert_eq!(world.payments.calls(Operation::Charge), 0);
}

#[tokio::test]
async fn a_saga_whose_message_gave_up_is_found_stalled_and_resumed_after_the_outage_with_one_charge()
 {
    // Given payouts failing for an hour, and the sale's message failing during it
    let world = world(None, &[("bob", 5_000)]).await;
    let outage_ends = after_the_end() + TimeDelta::hours(1);
    world
        .payments
        .inject(Fault::unavailable(Operation::Payout).until(outage_ends));
    let failed = world.deliver(&[world.last_of_type("AuctionEnded")]).await;
    assert_eq!(failed.len(), 1);
    let id = SagaId::new(world.auction_id, &user("bob"));

    // When, after the outage, a reconciler looks for sagas untouched for ten minutes
    world.clock.set(outage_ends);
    let stalled = world
        .sagas
        .stalled(outage_ends - TimeDelta::minutes(10), 100)
        .await
        .unwrap();

    // Then it finds this one, charged and not paid out
    assert_eq!(stalled.len(), 1);
    assert_eq!(stalled[0].id, id);
    assert_eq!(world.payments.net_paid_by(&user("bob")), 1_000);
    assert_eq!(world.payments.net_paid_to(&user("sally")), 0);

    // And when it resumes the saga, the saga completes without charging again
    let resumed = world.ports.resume(&id).await.unwrap();
    assert!(matches!(resumed, Handled::Finished(saga) if saga.status == Status::Completed));
    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.payments.net_paid_to(&user("sally")), 950);
    assert_eq!(world.owner().await, Some(user("bob")));
    assert_eq!(
        world
            .events()
            .iter()
            .filter(|e| e.envelope.event_type == "PaymentSucceeded")
            .count(),
        1
    );
    let much_later = outage_ends + TimeDelta::days(1);
    assert!(
        world
            .sagas
            .stalled(much_later, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // And resuming it again calls nobody
    let payout_calls = world.payments.calls(Operation::Payout);
    let again = world.ports.resume(&id).await.unwrap();
    assert!(matches!(again, Handled::Finished(_)));
    assert_eq!(world.payments.calls(Operation::Payout), payout_calls);
    assert_eq!(world.payments.ledger().len(), 2);
}

#[tokio::test]
async fn a_refund_after_an_outage_resumes_and_never_leaves_a_charge_without_payout_or_refund() {
    // Given a refused payout (so the charge is to be refunded) and refunds down for an hour
    let world = world(None, &[("bob", 5_000)]).await;
    let outage_ends = after_the_end() + TimeDelta::hours(1);
    world
        .payments
        .inject(Fault::decline(Operation::Payout, "seller account closed"))
        .inject(Fault::unavailable(Operation::Refund).until(outage_ends));

    // When the message gives up during the outage
    let failed = world.deliver(&[world.last_of_type("AuctionEnded")]).await;

    // Then the saga is saved compensating, bob still charged
    assert_eq!(failed.len(), 1);
    let id = SagaId::new(world.auction_id, &user("bob"));
    assert_eq!(world.saga_of("bob").await.status, Status::Compensating);
    assert_eq!(world.payments.net_paid_by(&user("bob")), 1_000);

    // And when it is resumed after the outage, bob is refunded and the failure recorded
    world.clock.set(outage_ends);
    world.ports.resume(&id).await.unwrap();
    assert_eq!(world.saga_of("bob").await.status, Status::Failed);
    assert_eq!(world.payments.net_paid_by(&user("bob")), 0);
    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.event_types().last().unwrap(), "PaymentFailed");
}

#[tokio::test]
async fn a_permanent_decline_during_an_outage_still_compensates_and_is_not_retried() {
    // Given charges down for two seconds, then payouts refused for good
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .inject(
            Fault::unavailable(Operation::Charge).until(after_the_end() + TimeDelta::seconds(2)),
        )
        .inject(Fault::decline(Operation::Payout, "seller account closed"));

    // When the sale's message is handled
    let failed = world.deliver(&[world.last_of_type("AuctionEnded")]).await;

    // Then the charge went through after its retries, the payout was asked once, and the
    // charge was refunded
    assert!(failed.is_empty());
    assert_eq!(world.payments.calls(Operation::Payout), 1);
    assert_eq!(world.payments.entries(Operation::Refund).len(), 1);
    assert_eq!(world.payments.net_paid_by(&user("bob")), 0);
    assert_eq!(world.saga_of("bob").await.status, Status::Failed);
}

#[tokio::test]
async fn resuming_a_saga_that_does_not_exist_does_nothing() {
    let world = world(None, &[("bob", 5_000)]).await;

    let resumed = world
        .ports
        .resume(&SagaId::new(world.auction_id, &user("bob")))
        .await
        .unwrap();

    assert!(matches!(resumed, Handled::Ignored(_)));
    assert_eq!(world.payments.ledger(), vec![]);
}

#[tokio::test]
async fn resuming_a_stuck_saga_says_so_and_keeps_its_state() {
    // Given a saga stuck on a refused refund
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .inject(Fault::decline(Operation::Payout, "seller account closed"))
        .inject(Fault::decline(Operation::Refund, "refunds suspended"));
    world.deliver(&[world.last_of_type("AuctionEnded")]).await;
    let before = world.saga_of("bob").await;

    // When it is resumed
    let resumed = world.ports.resume(&before.id).await;

    // Then it is still stuck, for a human, and unchanged
    assert!(
        matches!(
            resumed,
            Err(SagaError::Stuck {
                step: Step::Refund,
                ..
            })
        ),
        "{resumed:?}"
    );
    assert_eq!(world.saga_of("bob").await, before);
}

// The order of the ADR: charge, transfer in the registry, pay the seller, settle.

#[tokio::test]
async fn given_the_ledger_refuses_the_transfer_then_the_charge_is_refunded_and_nobody_is_paid_out()
{
    // Given bob's purchase, of an item the ledger says sally already sold to mallory
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .ports
        .store
        .execute(
            world.item_id,
            &context(after_the_end()),
            |state: &ItemState, now| {
                let private_sale = ItemTransfer {
                    sale: "private-sale-1".to_owned(),
                    auction_id: world.auction_id,
                    from: user("sally"),
                    to: user("mallory"),
                    price: eur(500),
                };
                decide_transfer_ownership(state, &private_sale, now)
            },
        )
        .await
        .unwrap();

    let failed = world.deliver(&[world.last_of_type("AuctionEnded")]).await;

    // Then bob is refunded, the seller never paid, the failure recorded, and mallory keeps it
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        world.steps_of("bob").await,
        [Step::Charge, Step::Refund, Step::RecordFailure]
    );
    let saga = world.saga_of("bob").await;
    assert_eq!(saga.status, Status::Failed);
    let failure = saga.failure.unwrap();
    assert_eq!(failure.step, Step::TransferOwnership);
    assert!(failure.reason.contains("mallory"), "{failure:?}");
    assert_eq!(world.payments.calls(Operation::Payout), 0);
    assert_eq!(world.payments.net_paid_by(&user("bob")), 0);
    assert_eq!(world.settlement().await, Some(Settlement::NoBuyer));
    assert_eq!(world.count("PaymentSucceeded"), 0);
    assert_eq!(world.owner().await, Some(user("mallory")));
    assert_eq!(world.item_events().len(), 2);
}

#[tokio::test]
async fn given_the_settlement_is_refused_then_payout_transfer_and_charge_are_undone_in_reverse() {
    // Given payouts down for an hour, so the first delivery stops after the charge and the
    // transfer...
    let world = world(None, &[("bob", 5_000)]).await;
    let outage_ends = after_the_end() + TimeDelta::hours(1);
    world
        .payments
        .inject(Fault::unavailable(Operation::Payout).until(outage_ends));
    let ended = world.last_of_type("AuctionEnded");
    assert_eq!(world.deliver(std::slice::from_ref(&ended)).await.len(), 1);
    assert_eq!(
        world.steps_of("bob").await,
        [Step::Charge, Step::TransferOwnership]
    );
    // ...and the aggregate giving up on bob another way meanwhile (an operator)
    world
        .ports
        .store
        .execute(
            world.auction_id,
            &context(after_the_end()),
            |s: &State, now| {
                let command = RecordPaymentFailed {
                    buyer_id: user("bob"),
                    reason: "payment deadline passed".to_owned(),
                };
                decide_record_payment_failed(s, &command, now)
            },
        )
        .await
        .unwrap();

    // When the message comes again after the outage
    world.clock.set(outage_ends);
    let failed = world.deliver(&[ended]).await;

    // Then the payout is made, the settlement refused, and everything undone in reverse
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        world.steps_of("bob").await,
        [
            Step::Charge,
            Step::TransferOwnership,
            Step::Payout,
            Step::ReversePayout,
            Step::ReverseTransfer,
            Step::Refund,
            Step::RecordFailure
        ]
    );
    let saga = world.saga_of("bob").await;
    assert_eq!(saga.status, Status::Failed);
    assert_eq!(saga.failure.unwrap().step, Step::RecordSettlement);
    assert_eq!(world.payments.net_paid_to(&user("sally")), 0);
    assert_eq!(world.payments.net_paid_by(&user("bob")), 0);
    assert_eq!(world.owner().await, Some(user("sally")));
    assert_eq!(
        world.item_event_types(),
        ["ItemRegistered", "OwnershipTransferred", "TransferReversed"]
    );
    // The failure was on the aggregate already: no second one, and no payment
    assert_eq!(world.count("PaymentFailed"), 1);
    assert_eq!(world.count("PaymentSucceeded"), 0);
}

#[tokio::test]
async fn a_consumer_dying_after_any_forward_step_is_redelivered_without_a_second_effect() {
    for step in Step::FORWARD {
        // Given the state write that records `step` lost, as when the consumer dies after the
        // step took effect
        let world = world(None, &[("bob", 5_000)]).await;
        world.states.lose_the_write_after(step);
        let ended = world.last_of_type("AuctionEnded");
        assert_eq!(
            world.deliver(std::slice::from_ref(&ended)).await.len(),
            1,
            "{step:?}"
        );
        assert!(
            world.saga_of("bob").await.outcome(step).is_none(),
            "{step:?}"
        );

        // When the message comes again, the step is done again under its key
        assert!(world.deliver(&[ended]).await.is_empty(), "{step:?}");

        // Then every effect happened once
        assert_eq!(
            world.saga_of("bob").await.status,
            Status::Completed,
            "{step:?}"
        );
        assert_eq!(
            world.payments.entries(Operation::Charge).len(),
            1,
            "{step:?}"
        );
        assert_eq!(
            world.payments.entries(Operation::Payout).len(),
            1,
            "{step:?}"
        );
        assert_eq!(
            world.item_event_types(),
            ["ItemRegistered", "OwnershipTransferred"],
            "{step:?}"
        );
        assert_eq!(world.count("PaymentSucceeded"), 1, "{step:?}");
        assert_eq!(world.owner().await, Some(user("bob")), "{step:?}");
        assert_eq!(world.steps_of("bob").await, Step::FORWARD, "{step:?}");
    }
}

#[tokio::test]
async fn a_consumer_dying_after_any_compensation_is_redelivered_without_a_second_effect() {
    for step in [Step::ReverseTransfer, Step::Refund, Step::RecordFailure] {
        // Given a refused payout, and the write that records `step` lost
        let world = world(None, &[("bob", 5_000)]).await;
        world
            .payments
            .inject(Fault::decline(Operation::Payout, "seller account closed"));
        world.states.lose_the_write_after(step);
        let ended = world.last_of_type("AuctionEnded");
        assert_eq!(
            world.deliver(std::slice::from_ref(&ended)).await.len(),
            1,
            "{step:?}"
        );

        // When the message comes again
        assert!(world.deliver(&[ended]).await.is_empty(), "{step:?}");

        // Then the sale is unwound once
        assert_eq!(
            world.saga_of("bob").await.status,
            Status::Failed,
            "{step:?}"
        );
        assert_eq!(
            world.payments.entries(Operation::Refund).len(),
            1,
            "{step:?}"
        );
        assert_eq!(world.payments.net_paid_by(&user("bob")), 0, "{step:?}");
        assert_eq!(
            world.item_event_types(),
            ["ItemRegistered", "OwnershipTransferred", "TransferReversed"],
            "{step:?}"
        );
        assert_eq!(world.count("PaymentFailed"), 1, "{step:?}");
        assert_eq!(world.owner().await, Some(user("sally")), "{step:?}");
    }
}

/// Bob's saga for the sale, started as the handler starts it (5 % commission).
fn bobs_saga(world: &World) -> Saga {
    Saga::start(
        Start {
            auction_id: world.auction_id,
            buyer_id: user("bob"),
            seller_id: user("sally"),
            price: eur(1_000),
            commission_rate: BasisPoints::try_from(500).unwrap(),
            correlation_id: "corr-test".to_owned(),
            causation_id: world
                .last_of_type("AuctionEnded")
                .envelope
                .event_id
                .to_string(),
        },
        after_the_end(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_saga_persisted_under_the_old_order_charged_and_paid_out_resumes_by_transferring_and_settling()
 {
    // Given an auction from before the ledger (no item registered), and bob's saga as the old
    // order left it: charged, then paid out, its state saved after each step
    let world = world_before_the_ledger(&[("bob", 5_000)]).await;
    let mut saga = bobs_saga(&world);
    world.sagas.save(&saga).await.unwrap();
    let charge = world
        .payments
        .charge(&payments::ports::Charge {
            idempotency_key: saga.idempotency_key(Step::Charge),
            payer: user("bob"),
            amount: eur(1_000),
            auction_id: world.auction_id,
        })
        .await
        .unwrap();
    saga = saga
        .after(
            Step::Charge,
            payments::saga::StepResult::Done {
                reference: charge.reference.clone(),
            },
            after_the_end(),
        )
        .unwrap();
    world.sagas.save(&saga).await.unwrap();
    let payout = world
        .payments
        .payout(&payments::ports::Payout {
            idempotency_key: saga.idempotency_key(Step::Payout),
            payee: user("sally"),
            amount: saga.payout(),
            auction_id: world.auction_id,
            charge_reference: charge.reference.clone(),
        })
        .await
        .unwrap();
    saga = saga
        .after(
            Step::Payout,
            payments::saga::StepResult::Done {
                reference: payout.reference,
            },
            after_the_end(),
        )
        .unwrap();
    world.sagas.save(&saga).await.unwrap();

    // When it is resumed under the new order
    let resumed = world.ports.resume(&saga.id).await.unwrap();

    // Then it transfers the item (registering it to sally first) and records the settlement,
    // without charging or paying out again
    assert!(matches!(resumed, Handled::Finished(s) if s.status == Status::Completed));
    assert_eq!(
        world.steps_of("bob").await,
        [
            Step::Charge,
            Step::Payout,
            Step::TransferOwnership,
            Step::RecordSettlement
        ]
    );
    assert_eq!(world.payments.calls(Operation::Charge), 1);
    assert_eq!(world.payments.calls(Operation::Payout), 1);
    assert_eq!(
        world.item_event_types(),
        ["ItemRegistered", "OwnershipTransferred"]
    );
    let item = world
        .ledger
        .item(world.item_id)
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item.owners[0].owner, user("sally"));
    assert!(matches!(
        &item.owners[1].acquired,
        Acquisition::Bought { sale, price, .. } if *sale == saga.id.to_string() && *price == eur(1_000)
    ));
    assert_eq!(
        world.settlement().await,
        Some(Settlement::Paid {
            buyer: user("bob"),
            amount: 1_000,
            payment_reference: charge.reference,
        })
    );

    // And the sale's message coming again afterwards changes nothing
    assert!(
        world
            .deliver(&[world.last_of_type("AuctionEnded")])
            .await
            .is_empty()
    );
    assert_eq!(world.payments.ledger().len(), 2);
    assert_eq!(world.item_events().len(), 2);
    assert_eq!(world.count("PaymentSucceeded"), 1);
}

#[tokio::test]
async fn an_auction_from_before_the_ledger_is_registered_to_its_seller_by_its_first_sale() {
    let world = world_before_the_ledger(&[("bob", 5_000)]).await;
    assert!(world.item_events().is_empty());

    assert!(
        world
            .deliver(&[world.last_of_type("AuctionEnded")])
            .await
            .is_empty()
    );

    let registered = world.item_events().remove(0);
    assert_eq!(registered.envelope.event_type, "ItemRegistered");
    assert_eq!(registered.envelope.payload["owner"], "sally");
    assert_eq!(registered.envelope.payload["title"], "A lamp");
    assert_eq!(world.owner().await, Some(user("bob")));
}

/// The sagas' outcomes as counted, and the consumer's records, for what `run` does to a world.
fn outcomes_of<F>(run: impl FnOnce() -> F) -> conventions::metrics::testing::Recorded
where
    F: std::future::Future<Output = ()>,
{
    let ((), recorded) = conventions::metrics::testing::recorded_async(async { run().await });
    recorded
}

fn outcome(recorded: &conventions::metrics::testing::Recorded, outcome: &str) -> u64 {
    recorded.counter("SagaOutcomes", &[("Outcome", outcome)])
}

const PAYMENT_SAGA: [(&str, &str); 1] = [("Consumer", "payment-saga")];

#[test]
fn given_a_sold_auction_when_its_end_arrives_twice_then_one_settled_saga_and_two_processed_records_are_counted()
 {
    let recorded = outcomes_of(|| async {
        // Given a sold auction
        let world = world(None, &[("bob", 5_000), ("cat", 3_000)]).await;
        let ended = world.last_of_type("AuctionEnded");

        // When its end is delivered, then delivered again
        assert!(world.deliver(std::slice::from_ref(&ended)).await.is_empty());
        assert!(world.deliver(&[ended]).await.is_empty());
    });

    // Then the saga counts as settled once, and both messages as processed with their lag
    assert_eq!(outcome(&recorded, "settled"), 1);
    assert_eq!(outcome(&recorded, "compensated"), 0);
    assert_eq!(recorded.counter("RecordsProcessed", &PAYMENT_SAGA), 2);
    assert_eq!(recorded.counter("RecordsFailed", &PAYMENT_SAGA), 0);
    assert_eq!(recorded.histogram("ConsumerLag", &PAYMENT_SAGA).len(), 2);
}

#[test]
fn given_a_refused_payout_when_the_saga_compensates_then_it_counts_as_compensated() {
    let recorded = outcomes_of(|| async {
        // Given a sold auction whose seller's account refuses the payout
        let world = world(None, &[("bob", 5_000)]).await;
        world
            .payments
            .inject(Fault::decline(Operation::Payout, "seller account closed"));

        // When its end is delivered
        assert!(
            world
                .deliver(&[world.last_of_type("AuctionEnded")])
                .await
                .is_empty()
        );
    });

    // Then the saga counts as compensated, not settled
    assert_eq!(outcome(&recorded, "compensated"), 1);
    assert_eq!(outcome(&recorded, "settled"), 0);
}

#[test]
fn given_a_refused_refund_when_the_saga_is_stuck_then_it_counts_as_failed_and_its_message_as_failed()
 {
    let recorded = outcomes_of(|| async {
        // Given a refused payout whose refund is refused too
        let world = world(None, &[("bob", 5_000)]).await;
        world
            .payments
            .inject(Fault::decline(Operation::Payout, "seller account closed"))
            .inject(Fault::decline(Operation::Refund, "refunds suspended"));

        // When its end is delivered
        let failed = world.deliver(&[world.last_of_type("AuctionEnded")]).await;
        assert_eq!(failed.len(), 1);
    });

    // Then the saga counts as failed, and its message as a failed record
    assert_eq!(outcome(&recorded, "failed"), 1);
    assert_eq!(outcome(&recorded, "compensated"), 0);
    assert_eq!(recorded.counter("RecordsFailed", &PAYMENT_SAGA), 1);
    assert_eq!(recorded.counter("RecordsProcessed", &PAYMENT_SAGA), 0);
}
