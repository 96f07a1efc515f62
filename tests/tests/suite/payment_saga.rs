//! The payment saga against DynamoDB Local: the Auction in this test's Events table, saga state
//! in its PaymentSagas table, the Items' ownership ledger (`ItemLedger`, the registry the Lambda
//! runs) in the same Events table, and the simulated provider as the outside world. Messages
//! are built from the real stored events exactly as the publisher sends them, and handed to the
//! handler the Lambda main and the local runner call. The auctions here are created without
//! their item registered, as before the API registered items, so every first transfer also
//! registers the item to the seller.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::system_context as context;
use chrono::{DateTime, TimeDelta, Utc};
use domain::item::ItemState;
use domain::{RecordPaymentFailed, Settlement, decide_record_payment_failed};
use e2e::TestEnv;
use e2e::fixtures::{epoch, eur, user};
use event_store::{DynamoDbStore, Meter, SnapshotPolicy, Store, StoredEvent};
use events::{AuctionId, ItemId, Money, UserId};
use payments::ports::{OwnershipReversal, OwnershipTransfer, Receipt};
use payments::testing::{SaleStep, batch, sallys_lamp, sell};
use payments::{
    AdvanceClock, BasisPoints, DynamoDbSagaStates, Fault, FixedClock, Handled, ItemLedger,
    Operation, OwnershipRegistry, Ports, Retry, Saga, SagaError, SagaId, SagaStates,
    SimulatedProvider, StalledSagas, Status, Step,
};
use uuid::Uuid;

type SagaPorts = Ports<DynamoDbStore, SimulatedProvider, Ledger, DynamoDbSagaStates>;

/// The Items' ledger, which can be made to die once right after a transfer took effect, as a
/// consumer dying before its state write would.
#[derive(Clone)]
struct Ledger {
    ledger: ItemLedger<DynamoDbStore>,
    crash_after_transfer: Arc<AtomicBool>,
}

impl OwnershipRegistry for Ledger {
    async fn transfer(&self, transfer: &OwnershipTransfer) -> Result<Receipt, SagaError> {
        let receipt = self.ledger.transfer(transfer).await;
        if receipt.is_ok() && self.crash_after_transfer.swap(false, Ordering::SeqCst) {
            panic!("the consumer died right after the transfer took effect");
        }
        receipt
    }

    async fn reverse(&self, reversal: &OwnershipReversal) -> Result<Receipt, SagaError> {
        self.ledger.reverse(reversal).await
    }
}

fn after_the_end() -> DateTime<Utc> {
    epoch() + TimeDelta::days(2)
}

/// One test's auction and the saga's world around it.
struct Sale {
    env: TestEnv,
    store: Store<DynamoDbStore>,
    payments: SimulatedProvider,
    /// Armed by a test: the next transfer that takes effect kills its consumer.
    crash_after_transfer: Arc<AtomicBool>,
    /// Every consumer's clock, and the provider's; retry waits move it on instead of waiting.
    clock: Arc<FixedClock>,
    auction_id: AuctionId,
}

/// An auction by sally, bid on by `bidders` (name, maximum) in order, ended: with bob at 5 000
/// and cat at 3 000, bob wins at 3 001 (or at the reserve, if higher) and cat is the runner-up.
async fn ended_auction(reserve: Option<i64>, bidders: &[(&str, i64)]) -> Sale {
    let env = TestEnv::new().await;
    let store = Store::new(env.event_store(), SnapshotPolicy::default());
    let auction_id = AuctionId(Uuid::new_v4());
    let create = sallys_lamp(auction_id, reserve, epoch() + TimeDelta::days(1)).unwrap();
    sell(&store, &create, bidders, |step| match step {
        SaleStep::End => context(after_the_end()),
        SaleStep::Create | SaleStep::Bid(_) => context(epoch()),
    })
    .await
    .unwrap();
    let clock = Arc::new(FixedClock::new(after_the_end()));
    Sale {
        env,
        store,
        payments: SimulatedProvider::with_clock(Duration::from_millis(2), clock.clone()),
        crash_after_transfer: Arc::new(AtomicBool::new(false)),
        clock,
        auction_id,
    }
}

impl Sale {
    /// A consumer: its own event store (and cache) and saga state client, the shared world.
    fn consumer(&self) -> Arc<SagaPorts> {
        let store = Store::new(self.env.event_store(), SnapshotPolicy::default());
        Arc::new(Ports {
            ownership: Ledger {
                ledger: ItemLedger::new(store.clone(), self.clock.clone()),
                crash_after_transfer: self.crash_after_transfer.clone(),
            },
            store,
            payments: self.payments.clone(),
            sagas: self.sagas(),
            clock: self.clock.clone(),
            sleep: Arc::new(AdvanceClock(self.clock.clone())),
            retry: Retry::default(),
            commission: BasisPoints::try_from(500).unwrap(),
        })
    }

    fn sagas(&self) -> DynamoDbSagaStates {
        DynamoDbSagaStates::new(
            self.env.dynamodb().clone(),
            self.env.names().payment_sagas_table.clone(),
        )
    }

    async fn events(&self) -> Vec<StoredEvent> {
        self.env
            .event_store()
            .read_all(self.auction_id, &Meter::default())
            .await
            .unwrap()
    }

    async fn event_types(&self) -> Vec<String> {
        self.events()
            .await
            .into_iter()
            .map(|e| e.envelope.event_type)
            .collect()
    }

    async fn count(&self, event_type: &str) -> usize {
        self.event_types()
            .await
            .iter()
            .filter(|t| *t == event_type)
            .count()
    }

    async fn last(&self, event_type: &str) -> StoredEvent {
        self.events()
            .await
            .into_iter()
            .rev()
            .find(|e| e.envelope.event_type == event_type)
            .unwrap_or_else(|| panic!("no {event_type} in the log"))
    }

    fn item_id(&self) -> ItemId {
        ItemId::for_auction(self.auction_id)
    }

    /// The item's events in the ledger, read from the table.
    async fn item_event_types(&self) -> Vec<String> {
        self.env
            .event_store()
            .read_all(self.item_id(), &Meter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.envelope.event_type)
            .collect()
    }

    /// Who the ledger says owns the item.
    async fn owner(&self) -> Option<UserId> {
        let loaded = self
            .store
            .load::<ItemState>(self.item_id(), &Meter::default())
            .await
            .unwrap();
        loaded.state.item.map(|item| item.owner)
    }

    async fn settlement(&self) -> Option<Settlement> {
        let loaded = self
            .store
            .load::<domain::State>(self.auction_id, &Meter::default())
            .await
            .unwrap();
        loaded.state.auction.unwrap().settlement
    }

    async fn saga(&self, buyer: &str) -> Option<Saga> {
        self.sagas()
            .get(&SagaId::new(self.auction_id, &user(buyer)))
            .await
            .unwrap()
    }

    /// Delivers messages to a fresh consumer; returns the ids reported failed.
    async fn deliver(&self, events: &[StoredEvent]) -> Vec<String> {
        self.consumer()
            .handle(batch(events).unwrap())
            .await
            .unwrap()
            .batch_item_failures
            .into_iter()
            .map(|failure| failure.item_identifier)
            .collect()
    }

    fn operations(&self) -> Vec<(Operation, UserId, i64)> {
        self.payments
            .ledger()
            .into_iter()
            .map(|e| (e.operation, e.party, e.amount.map_or(0, |a| a.amount_minor)))
            .collect()
    }
}

fn id_of(stored: &StoredEvent) -> String {
    format!("m-{}", stored.envelope.event_id)
}

fn money(amount: i64) -> Money {
    eur(amount)
}

#[tokio::test]
async fn given_a_sold_auction_when_its_end_is_delivered_then_the_winner_pays_the_seller_gets_the_price_less_commission_and_the_winner_owns_it()
 {
    let sale = ended_auction(None, &[("bob", 5_000), ("cat", 3_000)]).await;
    let ended = sale.last("AuctionEnded").await;

    let failed = sale.deliver(std::slice::from_ref(&ended)).await;

    assert!(failed.is_empty(), "{failed:?}");
    // 5 % of 30.01 EUR is 1.5005, rounded half up to 1.50: sally receives 28.51.
    assert_eq!(
        sale.operations(),
        [
            (Operation::Charge, user("bob"), 3_001),
            (Operation::Payout, user("sally"), 2_851)
        ]
    );
    let charge = sale.payments.entries(Operation::Charge).remove(0);
    assert_eq!(
        sale.settlement().await,
        Some(Settlement::Paid {
            buyer: user("bob"),
            amount: 3_001,
            payment_reference: charge.reference,
        })
    );
    assert_eq!(sale.owner().await, Some(user("bob")));
    assert_eq!(
        sale.item_event_types().await,
        ["ItemRegistered", "OwnershipTransferred"]
    );
    let saga = sale.saga("bob").await.unwrap();
    assert_eq!(saga.status, Status::Completed);
    assert_eq!(saga.price, money(3_001));
    let steps: Vec<Step> = saga.steps.iter().map(|record| record.step).collect();
    assert_eq!(steps, Step::FORWARD);
    // The recorded payment carries the sale's correlation id and names the end as its cause.
    let paid = sale.last("PaymentSucceeded").await;
    assert_eq!(
        paid.envelope.metadata.correlation_id,
        ended.envelope.metadata.correlation_id
    );
    assert_eq!(
        paid.envelope.metadata.causation_id,
        ended.envelope.event_id.to_string()
    );
}

#[tokio::test]
async fn given_the_winners_card_is_declined_then_nothing_is_undone_and_the_runner_up_whose_maximum_meets_the_reserve_buys_it()
 {
    let sale = ended_auction(Some(2_000), &[("bob", 5_000), ("cat", 3_000)]).await;
    sale.payments
        .inject(Fault::decline(Operation::Charge, "card declined").for_party(&user("bob")));

    let failed = sale.deliver(&[sale.last("AuctionEnded").await]).await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(sale.operations(), []);
    assert_eq!(sale.saga("bob").await.unwrap().status, Status::Failed);
    let types = sale.event_types().await;
    assert_eq!(
        types[types.len() - 2..],
        ["PaymentFailed", "ItemOfferedToRunnerUp"]
    );

    let offer = sale.last("ItemOfferedToRunnerUp").await;
    let failed = sale.deliver(&[offer]).await;

    assert!(failed.is_empty(), "{failed:?}");
    // cat pays their maximum; 5 % of 30.00 is exactly 1.50.
    assert_eq!(
        sale.operations(),
        [
            (Operation::Charge, user("cat"), 3_000),
            (Operation::Payout, user("sally"), 2_850)
        ]
    );
    assert!(matches!(
        sale.settlement().await,
        Some(Settlement::Paid { buyer, amount: 3_000, .. }) if buyer == user("cat")
    ));
    assert_eq!(sale.owner().await, Some(user("cat")));
    assert_eq!(sale.saga("cat").await.unwrap().status, Status::Completed);
}

#[tokio::test]
async fn given_the_winners_card_is_declined_and_the_runner_up_is_below_the_reserve_then_the_item_stays_unsold()
 {
    // cat bids first (a later bid could not go below the reserve price bob's bid reveals);
    // bob wins at the reserve, 4 000, which cat's 3 000 does not meet.
    let sale = ended_auction(Some(4_000), &[("cat", 3_000), ("bob", 5_000)]).await;
    sale.payments
        .inject(Fault::decline(Operation::Charge, "card declined"));

    let failed = sale.deliver(&[sale.last("AuctionEnded").await]).await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(sale.event_types().await.last().unwrap(), "PaymentFailed");
    assert_eq!(sale.count("ItemOfferedToRunnerUp").await, 0);
    assert_eq!(sale.settlement().await, Some(Settlement::NoBuyer));
    assert_eq!(sale.operations(), []);
    assert_eq!(sale.saga("bob").await.unwrap().price, money(4_000));
    assert_eq!(sale.saga("cat").await, None);
}

#[tokio::test]
async fn given_the_payout_is_refused_then_the_transfer_is_reversed_the_charge_refunded_and_with_no_runner_up_the_item_stays_unsold()
 {
    let sale = ended_auction(None, &[("bob", 5_000)]).await;
    sale.payments
        .inject(Fault::decline(Operation::Payout, "seller account closed"));

    let failed = sale.deliver(&[sale.last("AuctionEnded").await]).await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        sale.operations(),
        [
            (Operation::Charge, user("bob"), 1_000),
            (Operation::Refund, user("bob"), 1_000)
        ]
    );
    assert_eq!(sale.payments.net_paid_by(&user("bob")), 0);
    assert_eq!(sale.settlement().await, Some(Settlement::NoBuyer));
    let failure = sale
        .last("PaymentFailed")
        .await
        .decode::<events::AuctionEvent>()
        .unwrap();
    let events::AuctionEvent::PaymentFailed(failure) = failure.event else {
        panic!("not a PaymentFailed");
    };
    assert!(
        failure.reason.contains("seller account closed"),
        "{failure:?}"
    );
    let saga = sale.saga("bob").await.unwrap();
    assert_eq!(saga.status, Status::Failed);
    let steps: Vec<Step> = saga.steps.iter().map(|record| record.step).collect();
    assert_eq!(
        steps,
        [
            Step::Charge,
            Step::TransferOwnership,
            Step::ReverseTransfer,
            Step::Refund,
            Step::RecordFailure
        ]
    );
    assert_eq!(saga.failure.unwrap().step, Step::Payout);
    assert_eq!(sale.owner().await, Some(user("sally")));
    assert_eq!(
        sale.item_event_types().await,
        ["ItemRegistered", "OwnershipTransferred", "TransferReversed"]
    );
}

#[tokio::test]
async fn given_the_aggregate_refuses_the_settlement_then_the_payout_and_the_transfer_are_reversed_before_the_charge_is_refunded()
 {
    let sale = ended_auction(None, &[("bob", 5_000), ("cat", 3_000)]).await;
    sale.payments
        .inject(Fault::crash_after(Operation::Payout).times(1));
    let ended = sale.last("AuctionEnded").await;
    // The consumer dies right after the payout took effect...
    let consumer = sale.consumer();
    let event = batch(std::slice::from_ref(&ended)).unwrap();
    let crashed = tokio::spawn(async move { consumer.handle(event).await }).await;
    assert!(crashed.unwrap_err().is_panic());
    // ...and before it comes back, the aggregate gives up on bob another way (an operator).
    sale.store
        .execute(sale.auction_id, &context(after_the_end()), |s, now| {
            let command = RecordPaymentFailed {
                buyer_id: user("bob"),
                reason: "payment deadline passed".to_owned(),
            };
            decide_record_payment_failed(s, &command, now)
        })
        .await
        .unwrap();

    let failed = sale.deliver(&[ended]).await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        sale.operations(),
        [
            (Operation::Charge, user("bob"), 3_001),
            (Operation::Payout, user("sally"), 2_851),
            (Operation::ReversePayout, user("sally"), 2_851),
            (Operation::Refund, user("bob"), 3_001)
        ]
    );
    let saga = sale.saga("bob").await.unwrap();
    assert_eq!(saga.status, Status::Failed);
    assert_eq!(saga.failure.unwrap().step, Step::RecordSettlement);
    assert_eq!(sale.owner().await, Some(user("sally")));
    assert_eq!(
        sale.item_event_types().await,
        ["ItemRegistered", "OwnershipTransferred", "TransferReversed"]
    );
    // The failure was already on the aggregate; the saga adds no second one, and no payment.
    assert_eq!(sale.count("PaymentFailed").await, 1);
    assert_eq!(sale.count("PaymentSucceeded").await, 0);
    assert!(matches!(
        sale.settlement().await,
        Some(Settlement::AwaitingPayment { buyer, .. }) if buyer == user("cat")
    ));
}

#[tokio::test]
async fn given_the_ledger_refuses_the_transfer_then_the_charge_is_refunded_nobody_is_paid_and_the_runner_up_gets_the_offer()
 {
    // Given a sale to bob of an item the ledger says sally sold to mallory already, and cat as
    // runner-up
    let sale = ended_auction(None, &[("bob", 5_000), ("cat", 3_000)]).await;
    let consumer = sale.consumer();
    consumer
        .ownership
        .ledger
        .transfer(&OwnershipTransfer {
            idempotency_key: "private-sale".to_owned(),
            auction_id: sale.auction_id,
            from: user("sally"),
            to: user("mallory"),
            price: money(500),
            sale: "private-sale".to_owned(),
            correlation_id: "corr".to_owned(),
            causation_id: "cause".to_owned(),
        })
        .await
        .unwrap();
    let ended = sale.last("AuctionEnded").await;

    // When the saga runs
    let failed = sale.deliver(std::slice::from_ref(&ended)).await;

    // Then bob is refunded, sally is never paid, the failure is recorded and the item offered
    // to cat; mallory still owns it
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        sale.operations(),
        [
            (Operation::Charge, user("bob"), 3_001),
            (Operation::Refund, user("bob"), 3_001)
        ]
    );
    assert_eq!(sale.count("PaymentSucceeded").await, 0);
    assert_eq!(sale.count("PaymentFailed").await, 1);
    assert!(matches!(
        sale.settlement().await,
        Some(Settlement::AwaitingPayment { buyer, .. }) if buyer == user("cat")
    ));
    let saga = sale.saga("bob").await.unwrap();
    assert_eq!(saga.status, Status::Failed);
    assert_eq!(saga.failure.unwrap().step, Step::TransferOwnership);
    assert_eq!(sale.owner().await, Some(user("mallory")));
}

#[tokio::test]
async fn given_a_crash_after_the_charge_before_the_state_write_when_the_message_comes_again_then_the_saga_finishes_with_one_charge()
 {
    let sale = ended_auction(None, &[("bob", 5_000)]).await;
    sale.payments
        .inject(Fault::crash_after(Operation::Charge).times(1));
    let ended = sale.last("AuctionEnded").await;

    let consumer = sale.consumer();
    let event = batch(std::slice::from_ref(&ended)).unwrap();
    let crashed = tokio::spawn(async move { consumer.handle(event).await }).await;

    assert!(crashed.unwrap_err().is_panic());
    assert_eq!(sale.payments.entries(Operation::Charge).len(), 1);
    let saga = sale.saga("bob").await.unwrap();
    assert_eq!(
        saga.outcome(Step::Charge),
        None,
        "the crash came before the write"
    );

    let failed = sale.deliver(&[ended]).await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(sale.payments.calls(Operation::Charge), 2);
    assert_eq!(sale.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(sale.payments.net_paid_by(&user("bob")), 1_000);
    assert_eq!(sale.saga("bob").await.unwrap().status, Status::Completed);
    assert_eq!(sale.count("PaymentSucceeded").await, 1);
}

#[tokio::test]
async fn given_the_provider_down_for_seconds_then_one_receive_rides_it_out() {
    let sale = ended_auction(None, &[("bob", 5_000)]).await;
    sale.payments
        .outage_until(after_the_end() + TimeDelta::seconds(4));
    let ended = sale.last("AuctionEnded").await;

    assert!(sale.deliver(&[ended]).await.is_empty());

    assert!(sale.payments.calls(Operation::Charge) > 1);
    assert_eq!(sale.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(sale.saga("bob").await.unwrap().status, Status::Completed);
}

#[tokio::test]
async fn given_payouts_down_for_minutes_then_the_message_gives_up_and_the_stalled_saga_resumes_later_with_one_charge()
 {
    // Given payouts failing for five minutes, and the sale's message handled during them
    let sale = ended_auction(None, &[("bob", 5_000)]).await;
    let outage_ends = after_the_end() + TimeDelta::minutes(5);
    sale.payments
        .inject(Fault::unavailable(Operation::Payout).until(outage_ends));
    let ended = sale.last("AuctionEnded").await;
    assert_eq!(
        sale.deliver(std::slice::from_ref(&ended)).await,
        [id_of(&ended)]
    );
    let saga = sale.saga("bob").await.unwrap();
    assert_eq!(saga.status, Status::Running);
    assert!(saga.reference(Step::Charge).is_some());

    // When, after the outage, the sagas untouched for a minute are looked up in the table
    sale.clock.set(outage_ends);
    let stalled = sale
        .sagas()
        .stalled(outage_ends - TimeDelta::minutes(1), 1_000)
        .await
        .unwrap();

    // Then this one is among them, and resuming it completes it with one charge
    assert!(stalled.iter().any(|s| s.id == saga.id), "{stalled:?}");
    let resumed = sale.consumer().resume(&saga.id).await.unwrap();
    assert!(matches!(resumed, Handled::Finished(s) if s.status == Status::Completed));
    assert_eq!(sale.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(sale.payments.entries(Operation::Payout).len(), 1);
    assert_eq!(sale.count("PaymentSucceeded").await, 1);
    let stalled = sale
        .sagas()
        .stalled(outage_ends + TimeDelta::days(1), 1_000)
        .await
        .unwrap();
    assert!(stalled.iter().all(|s| s.id != saga.id));

    // And a redrive of the message from the DLQ afterwards changes nothing
    assert!(sale.deliver(&[ended]).await.is_empty());
    assert_eq!(sale.payments.entries(Operation::Charge).len(), 1);
}

#[tokio::test]
async fn given_the_same_message_twice_and_two_consumers_on_it_at_once_then_there_is_one_charge_one_payout_one_payment()
 {
    let mut sale = ended_auction(None, &[("bob", 5_000), ("cat", 3_000)]).await;
    // Slow enough that both consumers are inside the provider's charge at the same time.
    sale.payments = SimulatedProvider::new(Duration::from_millis(300));
    let ended = sale.last("AuctionEnded").await;

    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let consumer = sale.consumer();
            let event = batch(std::slice::from_ref(&ended)).unwrap();
            tokio::spawn(async move { consumer.handle(event).await })
        })
        .collect();
    for consumer in consumers {
        let response = consumer.await.unwrap().unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    // And again, twice in one batch, after it is all done.
    assert!(sale.deliver(&[ended.clone(), ended]).await.is_empty());

    assert_eq!(
        sale.operations(),
        [
            (Operation::Charge, user("bob"), 3_001),
            (Operation::Payout, user("sally"), 2_851)
        ]
    );
    // Both consumers really raced: each presented the charge, under the same key.
    assert_eq!(sale.payments.calls(Operation::Charge), 2);
    assert_eq!(
        sale.item_event_types().await,
        ["ItemRegistered", "OwnershipTransferred"]
    );
    assert_eq!(sale.count("PaymentSucceeded").await, 1);
    assert_eq!(sale.saga("bob").await.unwrap().status, Status::Completed);
}

#[tokio::test]
async fn the_sagas_own_outcomes_and_earlier_events_on_the_queue_change_nothing() {
    let sale = ended_auction(None, &[("bob", 5_000)]).await;
    assert!(
        sale.deliver(&[sale.last("AuctionEnded").await])
            .await
            .is_empty()
    );
    let before = (sale.operations(), sale.event_types().await);

    // Everything the auction ever published, the saga's PaymentSucceeded included.
    let failed = sale.deliver(&sale.events().await).await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!((sale.operations(), sale.event_types().await), before);
}

#[tokio::test]
async fn given_a_crash_after_the_ownership_transfer_when_the_message_comes_again_then_the_item_is_transferred_once()
 {
    let sale = ended_auction(None, &[("bob", 5_000)]).await;
    sale.crash_after_transfer.store(true, Ordering::SeqCst);
    let ended = sale.last("AuctionEnded").await;

    let consumer = sale.consumer();
    let event = batch(std::slice::from_ref(&ended)).unwrap();
    let crashed = tokio::spawn(async move { consumer.handle(event).await }).await;
    assert!(crashed.unwrap_err().is_panic());
    let saga = sale.saga("bob").await.unwrap();
    assert_eq!(saga.status, Status::Running);
    assert_eq!(
        saga.outcome(Step::TransferOwnership),
        None,
        "died before the write"
    );

    assert!(sale.deliver(&[ended]).await.is_empty());

    assert_eq!(
        sale.item_event_types().await,
        ["ItemRegistered", "OwnershipTransferred"]
    );
    assert_eq!(sale.owner().await, Some(user("bob")));
    assert_eq!(sale.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(sale.count("PaymentSucceeded").await, 1);
    assert_eq!(sale.saga("bob").await.unwrap().status, Status::Completed);
}

#[tokio::test]
async fn of_two_writers_of_the_same_saga_revision_exactly_one_succeeds() {
    let sale = ended_auction(None, &[("bob", 5_000)]).await;
    let sagas = sale.sagas();
    let started = Saga::start(
        payments::saga::Start {
            auction_id: sale.auction_id,
            buyer_id: user("bob"),
            seller_id: user("sally"),
            price: money(1_000),
            commission_rate: BasisPoints::try_from(500).unwrap(),
            correlation_id: "corr".to_owned(),
            causation_id: "event".to_owned(),
        },
        after_the_end(),
    )
    .unwrap();

    sagas.save(&started).await.unwrap();
    let again = sagas.save(&started).await;
    assert!(
        matches!(again, Err(payments::SagaError::Conflict { .. })),
        "{again:?}"
    );

    let charged = |reference: &str| {
        started
            .after(
                Step::Charge,
                payments::saga::StepResult::Done {
                    reference: reference.to_owned(),
                },
                after_the_end(),
            )
            .unwrap()
    };
    let (a, b) = (charged("ch_a"), charged("ch_b"));
    let (first, second) = tokio::join!(sagas.save(&a), sagas.save(&b));

    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{first:?} {second:?}"
    );
    let stored = sagas.get(&started.id).await.unwrap().unwrap();
    assert_eq!(stored.revision, 2);
    let winner = if first.is_ok() { "ch_a" } else { "ch_b" };
    assert_eq!(stored.reference(Step::Charge), Some(winner));
}
