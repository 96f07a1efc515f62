//! The handler over the in-memory event store and saga states and the simulated provider:
//! the whole saga, fast. The same scenarios run against DynamoDB Local in the e2e suite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use auction_domain::{
    CreateAuction, EndAuction, PlaceBid, Settlement, State, decide_create, decide_end,
    decide_place_bid,
};
use auction_events::{
    Actor, AuctionEvent, AuctionId, BidId, Currency, IncrementPolicy, Money, UserId,
};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use chrono::{DateTime, TimeDelta, Utc};
use event_store::{CommandContext, InMemoryStore, Meter, SnapshotPolicy, Store, StoredEvent};
use payment_saga::{
    BasisPoints, Fault, FixedClock, InMemorySagaStates, Operation, Ports, SagaId, SagaStates,
    SimulatedProvider, SimulatedRegistry, Status, Step, handle,
};
use uuid::Uuid;

type TestPorts = Ports<InMemoryStore, SimulatedProvider, SimulatedRegistry, InMemorySagaStates>;

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
    payments: SimulatedProvider,
    registry: SimulatedRegistry,
    sagas: InMemorySagaStates,
    auction_id: AuctionId,
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

/// An auction by `seller` with bob bidding up to 5 000 and cat up to 3 000 (so bob wins at
/// 3 001, or at the reserve if that is higher), ended.
async fn world(reserve: Option<i64>, bidders: &[(&str, i64)]) -> World {
    let store = Store::new(
        InMemoryStore::new(),
        SnapshotPolicy {
            every: 0,
            in_background: false,
        },
    );
    let auction_id = AuctionId(Uuid::new_v4());
    let create = CreateAuction {
        auction_id,
        seller_id: user("sally"),
        title: "A lamp".to_owned(),
        description: None,
        currency: Currency::try_from("EUR").unwrap(),
        starting_price: eur(1_000),
        reserve_price: reserve.map(eur),
        buy_now_price: None,
        increment: Some(IncrementPolicy::Fixed { amount_minor: 1 }),
        starts_at: None,
        ends_at: epoch() + TimeDelta::days(1),
        soft_close: None,
    };
    store
        .execute(auction_id, &context(epoch()), |s, now| {
            decide_create(s, &create, now)
        })
        .await
        .unwrap();
    for (bidder, max) in bidders {
        let bid_id = BidId(Uuid::new_v4());
        store
            .execute(auction_id, &context(epoch()), |s, now| {
                // The least the bid may be: the start, or one increment above the price.
                let price = s.auction.as_ref().and_then(|a| a.price);
                let bid = PlaceBid {
                    bid_id,
                    bidder_id: user(bidder),
                    amount: eur(price.map_or(1_000, |p| p + 1)),
                    max_amount: Some(eur(*max)),
                };
                decide_place_bid(s, &bid, now)
            })
            .await
            .unwrap();
    }
    store
        .execute(auction_id, &context(after_the_end()), |s, now| {
            decide_end(s, &EndAuction, now)
        })
        .await
        .unwrap();
    let payments = SimulatedProvider::new(Duration::from_millis(1));
    let registry = SimulatedRegistry::new(Duration::from_millis(1));
    let sagas = InMemorySagaStates::new();
    World {
        ports: Arc::new(Ports {
            store,
            payments: payments.clone(),
            ownership: registry.clone(),
            sagas: sagas.clone(),
            clock: Arc::new(FixedClock::new(after_the_end())),
            commission: BasisPoints::try_from(500).unwrap(),
        }),
        payments,
        registry,
        sagas,
        auction_id,
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

    async fn saga_of(&self, buyer: &str) -> payment_saga::Saga {
        self.sagas
            .get(&SagaId::new(self.auction_id, &user(buyer)))
            .await
            .unwrap()
            .unwrap()
    }

    async fn deliver(&self, events: &[StoredEvent]) -> Vec<String> {
        let response = handle(&self.ports, batch(events)).await.unwrap();
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
}

/// Messages as the publisher sends them: the stored envelope as the body, grouped by auction.
fn batch(events: &[StoredEvent]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = events.iter().map(message).collect();
    event
}

fn message(stored: &StoredEvent) -> SqsMessage {
    let envelope = &stored.envelope;
    let mut message = SqsMessage::default();
    message.message_id = Some(format!("m-{}", envelope.event_id));
    message.body = Some(serde_json::to_string(envelope).unwrap());
    message.attributes.insert(
        "MessageGroupId".to_owned(),
        envelope.aggregate_id.to_string(),
    );
    for (name, value) in [
        ("eventType", envelope.event_type.clone()),
        ("eventId", envelope.event_id.to_string()),
        ("correlationId", envelope.metadata.correlation_id.clone()),
    ] {
        let mut attribute = SqsMessageAttribute::default();
        attribute.string_value = Some(value);
        attribute.data_type = Some("String".to_owned());
        message
            .message_attributes
            .insert(name.to_owned(), attribute);
    }
    message
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
    assert_eq!(world.registry.owner(world.auction_id), Some(user("bob")));
    assert_eq!(world.saga_of("bob").await.status, Status::Completed);
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
    assert_eq!(world.registry.owner(world.auction_id), Some(user("cat")));
}

#[tokio::test]
async fn given_a_refused_payout_then_the_charge_is_refunded_and_without_runner_up_the_item_stays_unsold()
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
    assert_eq!(world.registry.owner(world.auction_id), None);
}

#[tokio::test]
async fn a_transient_outage_fails_the_message_and_the_redelivery_finishes_with_one_charge() {
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .inject(Fault::unavailable(Operation::Payout).times(1));
    let ended = world.last_of_type("AuctionEnded");

    let failed = world.deliver(std::slice::from_ref(&ended)).await;
    assert_eq!(failed, [format!("m-{}", ended.envelope.event_id)]);
    assert_eq!(world.saga_of("bob").await.status, Status::Running);

    let failed = world.deliver(&[ended]).await;

    assert!(failed.is_empty());
    assert_eq!(world.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(world.payments.entries(Operation::Payout).len(), 1);
    assert_eq!(world.saga_of("bob").await.status, Status::Completed);
}

#[tokio::test]
async fn a_lost_charge_response_is_answered_by_the_first_charge_on_redelivery() {
    let world = world(None, &[("bob", 5_000)]).await;
    world
        .payments
        .inject(Fault::lose_response(Operation::Charge).times(1));
    let ended = world.last_of_type("AuctionEnded");

    assert_eq!(world.deliver(std::slice::from_ref(&ended)).await.len(), 1);
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
        let event = batch(std::slice::from_ref(&ended));
        async move { handle(&ports, event).await }
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
async fn the_same_message_twice_and_two_consumers_at_once_take_one_effect() {
    let world = world(None, &[("bob", 5_000)]).await;
    let ended = world.last_of_type("AuctionEnded");

    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let ports = Arc::clone(&world.ports);
            let event = batch(std::slice::from_ref(&ended));
            tokio::spawn(async move { handle(&ports, event).await })
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
    assert_eq!(world.registry.transfers().len(), 1);
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
    world
        .payments
        .inject(Fault::unavailable(Operation::Charge).times(1));
    let ended = world.last_of_type("AuctionEnded");
    let created = world.events()[0].clone();
    let mut garbage = message(&created);
    garbage.body = Some("not json".to_owned());
    garbage.message_id = Some("garbage".to_owned());
    garbage
        .attributes
        .insert("MessageGroupId".to_owned(), "another-auction".to_owned());

    let mut event = batch(&[ended.clone(), created.clone()]);
    event.records.push(garbage);
    let response = handle(&world.ports, event).await.unwrap();

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
