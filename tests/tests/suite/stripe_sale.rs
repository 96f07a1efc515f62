//! The payment saga as the Lambda wires it, against the local stack: money through Stripe's API
//! on localstripe (with the Connect endpoints and the idempotency its launcher adds), ownership
//! through the Items' ledger in this test's Events table, the identities in its
//! PaymentIdentities table. Every effect is read back twice: through Stripe's API on localstripe
//! and through ours (the log, the ledger).
//!
//! Faults are injected around the real adapters (a refusal before the call, or an answer lost
//! after the call took effect), so what the saga undoes is undone on localstripe for real.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::support::system_context as context;
use chrono::{DateTime, TimeDelta, Utc};
use domain::item::ItemState;
use e2e::TestEnv;
use e2e::fixtures::{epoch, user};
use event_store::{DynamoDbStore, Meter, SnapshotPolicy, Store, StoredEvent};
use events::{AuctionId, ItemId, UserId};
use payment_identities::{
    AccountId, CardOnFile, CustomerId, DynamoDbPaymentIdentities, PaymentMethodId,
    RecordPaymentIdentity,
};
use payments::ports::{
    Charge, OwnershipReversal, OwnershipTransfer, Payout, PayoutReversal, Receipt, Refund,
};
use payments::stripe::StripePayments;
use payments::testing::{SaleStep, batch, register_item, sallys_lamp, sell};
use payments::{
    AdvanceClock, BasisPoints, DynamoDbSagaStates, FixedClock, ItemLedger, OwnershipRegistry,
    PaymentProvider, Ports, Retry, SagaError,
};
use stripe_api::{PaymentIntentStatus, StripeClient};
use uuid::Uuid;

const VISA: &str = "4242424242424242";
/// Attaches, then every charge is declined (Stripe's "charge customer fail" test card).
const DECLINES_ON_CHARGE: &str = "4000000000000341";
/// Every charge needs 3-D Secure, which an off-session charge cannot do: the buyer must come
/// back and authenticate.
const NEEDS_AUTHENTICATION: &str = "4000002500003155";

fn after_the_end() -> DateTime<Utc> {
    epoch() + TimeDelta::days(2)
}

fn key(what: &str) -> String {
    format!("e2e-{what}-{}", Uuid::new_v4().simple())
}

/// Where the money of one sale is on localstripe: the buyers' customers and the seller's account.
struct Accounts {
    customers: BTreeMap<String, String>,
    seller_account: String,
}

/// Which operation of the outside world a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Call {
    Charge,
    Refund,
    Payout,
    ReversePayout,
    Transfer,
    ReverseTransfer,
}

/// What goes wrong around the real adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nothing.
    None,
    /// This call is refused for good, before it reaches the adapter.
    Refuse(Call),
    /// Right after the payout took effect, the auction gives up on the buyer another way (an
    /// operator records the payment as failed), so recording the settlement is refused.
    SettlementRefusedAfterPayout,
    /// Every call's first attempt takes effect, and then its answer is lost (a timeout after
    /// Stripe moved the money, a crash before the state was saved): the saga calls again with
    /// the same key.
    LoseEveryFirstAnswer,
}

/// The faults of one test, and the calls made.
#[derive(Clone)]
struct Faults {
    fault: Fault,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Faults {
    /// Whether this attempt of `call` gets its answer: records it, refuses it if it is the one.
    fn before(&self, call: Call) -> Result<(), SagaError> {
        self.calls.lock().unwrap().push(call);
        if self.fault == Fault::Refuse(call) {
            return Err(SagaError::Declined {
                reason: format!("injected refusal of {call:?}"),
            });
        }
        Ok(())
    }

    fn after<T>(&self, call: Call, answer: Result<T, SagaError>) -> Result<T, SagaError> {
        let attempts = self
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| **c == call)
            .count();
        if self.fault == Fault::LoseEveryFirstAnswer && attempts == 1 {
            return Err(SagaError::Unavailable {
                reason: format!(
                    "injected: the answer to {call:?} was lost ({answer:?} dropped)",
                    answer = answer.as_ref().map(|_| "ok").map_err(ToString::to_string)
                ),
            });
        }
        answer
    }

    fn count(&self, call: Call) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| **c == call)
            .count()
    }
}

/// The Stripe adapter with faults around it; `store` and `auction_id` are the sale's, for the
/// fault that changes the auction behind the saga's back.
#[derive(Clone)]
struct FaultyStripe {
    inner: Arc<StripePayments<DynamoDbPaymentIdentities>>,
    faults: Faults,
    store: Store<DynamoDbStore>,
    auction_id: AuctionId,
}

impl PaymentProvider for FaultyStripe {
    async fn charge(&self, charge: &Charge) -> Result<Receipt, SagaError> {
        self.faults.before(Call::Charge)?;
        let answer = self.inner.charge(charge).await;
        self.faults.after(Call::Charge, answer)
    }

    async fn charge_outcome(&self, reference: &str) -> Result<Receipt, SagaError> {
        self.faults.before(Call::Charge)?;
        let answer = self.inner.charge_outcome(reference).await;
        self.faults.after(Call::Charge, answer)
    }

    async fn cancel_charge(&self, reference: &str, idempotency_key: &str) -> Result<(), SagaError> {
        self.inner.cancel_charge(reference, idempotency_key).await
    }

    async fn refund(&self, refund: &Refund) -> Result<Receipt, SagaError> {
        self.faults.before(Call::Refund)?;
        let answer = self.inner.refund(refund).await;
        self.faults.after(Call::Refund, answer)
    }

    async fn payout(&self, payout: &Payout) -> Result<Receipt, SagaError> {
        self.faults.before(Call::Payout)?;
        let answer = self.inner.payout(payout).await;
        if self.faults.fault == Fault::SettlementRefusedAfterPayout && answer.is_ok() {
            self.store
                .execute(self.auction_id, &context(after_the_end()), |state, now| {
                    let command = domain::RecordPaymentFailed {
                        buyer_id: user("bob"),
                        reason: "payment deadline passed".to_owned(),
                    };
                    domain::decide_record_payment_failed(state, &command, now)
                })
                .await
                .unwrap();
        }
        self.faults.after(Call::Payout, answer)
    }

    async fn reverse_payout(&self, reversal: &PayoutReversal) -> Result<Receipt, SagaError> {
        self.faults.before(Call::ReversePayout)?;
        let answer = self.inner.reverse_payout(reversal).await;
        self.faults.after(Call::ReversePayout, answer)
    }
}

/// The ledger with the same faults around it.
#[derive(Clone)]
struct FaultyLedger {
    inner: ItemLedger<DynamoDbStore>,
    faults: Faults,
}

impl OwnershipRegistry for FaultyLedger {
    async fn transfer(&self, transfer: &OwnershipTransfer) -> Result<Receipt, SagaError> {
        self.faults.before(Call::Transfer)?;
        let answer = self.inner.transfer(transfer).await;
        self.faults.after(Call::Transfer, answer)
    }

    async fn reverse(&self, reversal: &OwnershipReversal) -> Result<Receipt, SagaError> {
        self.faults.before(Call::ReverseTransfer)?;
        let answer = self.inner.reverse(reversal).await;
        self.faults.after(Call::ReverseTransfer, answer)
    }
}

type SagaPorts = Ports<DynamoDbStore, FaultyStripe, FaultyLedger, DynamoDbSagaStates>;

/// One ended auction by sally (bob wins at 30.01 EUR over cat), bob's card of `bob_card`, and
/// the saga's world around it.
struct Sale {
    env: TestEnv,
    store: Store<DynamoDbStore>,
    stripe: StripeClient,
    accounts: Accounts,
    clock: Arc<FixedClock>,
    auction_id: AuctionId,
    ended: StoredEvent,
}

async fn ended_auction(bob_card: &str) -> Sale {
    let env = TestEnv::new().await;
    let store = Store::new(env.event_store(), SnapshotPolicy::default());
    let auction_id = AuctionId(Uuid::new_v4());
    let create = sallys_lamp(auction_id, None, epoch() + TimeDelta::days(1)).unwrap();
    // As the API does on creation: the item enters the ledger as sally's.
    register_item(&store, &create, &context(epoch()))
        .await
        .unwrap();
    sell(
        &store,
        &create,
        &[("bob", 5_000), ("cat", 3_000)],
        |step| match step {
            SaleStep::End => context(after_the_end()),
            SaleStep::Create | SaleStep::Bid(_) => context(epoch()),
        },
    )
    .await
    .unwrap();
    let ended = env
        .event_store()
        .read_all(auction_id, &Meter::default())
        .await
        .unwrap()
        .into_iter()
        .rev()
        .find(|e| e.envelope.event_type == "AuctionEnded")
        .unwrap();

    // The identities, as the API registers them: bob's and cat's cards, sally's account.
    let stripe = crate::support::stripe().await;
    let identities = identities(&env);
    let mut customers = BTreeMap::new();
    for (bidder, card) in [("bob", bob_card), ("cat", VISA)] {
        let customer = stripe
            .create_customer(bidder, &key("customer"))
            .await
            .unwrap();
        let method = stripe
            .create_card_payment_method(card, &key("card"))
            .await
            .unwrap();
        stripe
            .attach_payment_method(&method.id, &customer.id, &key("attach"))
            .await
            .unwrap();
        identities
            .put_payment_method(
                &user(bidder),
                &CardOnFile {
                    customer_id: CustomerId::parse(&customer.id).unwrap(),
                    payment_method_id: PaymentMethodId::parse(&method.id).unwrap(),
                    brand: "visa".to_owned(),
                    last4: card[card.len() - 4..].to_owned(),
                },
                epoch(),
            )
            .await
            .unwrap();
        customers.insert(bidder.to_owned(), customer.id);
    }
    let account = stripe
        .create_connected_account("sally@example.com", &key("account"))
        .await
        .unwrap();
    identities
        .put_payout_account(
            &user("sally"),
            &AccountId::parse(&account.id).unwrap(),
            epoch(),
        )
        .await
        .unwrap();

    Sale {
        env,
        store,
        stripe,
        accounts: Accounts {
            customers,
            seller_account: account.id,
        },
        clock: Arc::new(FixedClock::new(after_the_end())),
        auction_id,
        ended,
    }
}

fn identities(env: &TestEnv) -> DynamoDbPaymentIdentities {
    DynamoDbPaymentIdentities::new(
        env.dynamodb().clone(),
        env.names().payment_identities_table.clone(),
    )
}

impl Sale {
    /// A consumer as the Lambda wires it (Stripe, the ledger, DynamoDB), faults around it.
    fn consumer(&self, faults: &Faults) -> SagaPorts {
        let store = Store::new(self.env.event_store(), SnapshotPolicy::default());
        Ports {
            store: store.clone(),
            payments: FaultyStripe {
                inner: Arc::new(StripePayments::new(
                    self.stripe.clone(),
                    identities(&self.env),
                )),
                faults: faults.clone(),
                store: store.clone(),
                auction_id: self.auction_id,
            },
            ownership: FaultyLedger {
                inner: ItemLedger::new(store, self.clock.clone()),
                faults: faults.clone(),
            },
            sagas: DynamoDbSagaStates::new(
                self.env.dynamodb().clone(),
                self.env.names().payment_sagas_table.clone(),
            ),
            clock: self.clock.clone(),
            sleep: Arc::new(AdvanceClock(self.clock.clone())),
            retry: Retry::default(),
            commission: BasisPoints::try_from(500).unwrap(),
        }
    }

    /// Delivers the auction's end to a fresh consumer with `fault`; returns the faults (with
    /// the calls made) and whether the message failed.
    async fn deliver(&self, fault: Fault) -> (Faults, bool) {
        let faults = Faults {
            fault,
            calls: Arc::default(),
        };
        let response = self
            .consumer(&faults)
            .handle(batch(std::slice::from_ref(&self.ended)).unwrap())
            .await
            .unwrap();
        (faults, !response.batch_item_failures.is_empty())
    }

    /// bob's PaymentIntents on localstripe that were paid: (id, amount).
    async fn paid_by(&self, bidder: &str) -> Vec<(String, i64)> {
        self.stripe
            .payment_intents_of_customer(&self.accounts.customers[bidder])
            .await
            .unwrap()
            .into_iter()
            .filter(|pi| pi.status == PaymentIntentStatus::Succeeded)
            .map(|pi| (pi.id, pi.amount))
            .collect()
    }

    /// What was refunded of a PaymentIntent on localstripe.
    async fn refunded(&self, payment_intent: &str) -> i64 {
        self.stripe
            .refunds_of_payment_intent(payment_intent)
            .await
            .unwrap()
            .iter()
            .map(|r| r.amount)
            .sum()
    }

    /// The transfers to sally's account on localstripe: (amount, amount reversed).
    async fn transfers(&self) -> Vec<(i64, i64)> {
        self.stripe
            .transfers_to(&self.accounts.seller_account)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.amount, t.amount_reversed))
            .collect()
    }

    async fn event_types(&self) -> Vec<String> {
        self.env
            .event_store()
            .read_all(self.auction_id, &Meter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.envelope.event_type)
            .collect()
    }

    async fn item_event_types(&self) -> Vec<String> {
        self.env
            .event_store()
            .read_all(ItemId::for_auction(self.auction_id), &Meter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.envelope.event_type)
            .collect()
    }

    async fn owner(&self) -> Option<UserId> {
        self.store
            .load::<ItemState>(ItemId::for_auction(self.auction_id), &Meter::default())
            .await
            .unwrap()
            .state
            .item
            .map(|item| item.owner)
    }

    /// Never a transfer without a charge: every transfer to the seller that was not reversed
    /// in full is covered by a paid charge of this auction that was not refunded.
    async fn assert_no_transfer_without_a_charge(&self) {
        let auction = self.auction_id.to_string();
        let mut kept = 0;
        for customer in self.accounts.customers.values() {
            for pi in self
                .stripe
                .payment_intents_of_customer(customer)
                .await
                .unwrap()
            {
                if pi.status == PaymentIntentStatus::Succeeded
                    && pi.metadata.get("auction_id") == Some(&auction)
                {
                    kept += pi.amount - self.refunded(&pi.id).await;
                }
            }
        }
        let paid_out: i64 = self.transfers().await.iter().map(|(a, r)| a - r).sum();
        assert!(
            paid_out <= kept,
            "{paid_out} paid out to the seller against {kept} kept from buyers"
        );
    }
}

/// The buyer authenticating (or failing to) on localstripe, as Stripe.js would on-session:
/// `POST /v1/payment_intents/{id}/_authenticate` with the intent's client secret.
async fn authenticate(payment_intent: &str, success: bool) {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let base = std::env::var("STRIPE_API_BASE").unwrap();
    let key = std::env::var("STRIPE_SECRET_KEY").unwrap();
    let client: Client<_, Full<hyper::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let call = |method: &str, path: String, body: String| {
        hyper::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(hyper::body::Bytes::from(body)))
            .unwrap()
    };
    let read = |response: hyper::Response<hyper::body::Incoming>| async move {
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(
            status.is_success(),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()
    };
    let intent = read(
        client
            .request(call(
                "GET",
                format!("/v1/payment_intents/{payment_intent}"),
                String::new(),
            ))
            .await
            .unwrap(),
    )
    .await;
    let secret = intent["client_secret"].as_str().unwrap().to_owned();
    read(
        client
            .request(call(
                "POST",
                format!("/v1/payment_intents/{payment_intent}/_authenticate"),
                format!("client_secret={secret}&success={success}"),
            ))
            .await
            .unwrap(),
    )
    .await;
}

fn count(types: &[String], event_type: &str) -> usize {
    types.iter().filter(|t| *t == event_type).count()
}

#[tokio::test]
async fn given_a_sold_auction_when_the_saga_settles_it_on_stripe_then_one_charge_one_transfer_less_commission_and_the_buyer_owns_the_item()
 {
    let sale = ended_auction(VISA).await;

    let (_, failed) = sale.deliver(Fault::None).await;

    assert!(!failed);
    // On localstripe: one PaymentIntent paid for the price, one transfer of the price less 5 %
    // (30.01 EUR - 1.50) to sally's connected account.
    let paid = sale.paid_by("bob").await;
    assert_eq!(paid.iter().map(|(_, a)| *a).collect::<Vec<_>>(), [3_001]);
    assert_eq!(sale.transfers().await, [(2_851, 0)]);
    assert!(sale.paid_by("cat").await.is_empty());
    let transfer = sale
        .stripe
        .transfers_to(&sale.accounts.seller_account)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(transfer.currency, "eur");
    // funded from bob's charge, not from the platform's balance
    let paid_with = sale
        .stripe
        .payment_intent(&paid[0].0)
        .await
        .unwrap()
        .latest_charge;
    assert!(paid_with.is_some());
    assert_eq!(transfer.source_transaction, paid_with);
    assert_eq!(
        transfer.metadata.get("auction_id"),
        Some(&sale.auction_id.to_string())
    );
    // Through ours: the settlement in the log names the charge, and the ledger says bob owns it.
    let types = sale.event_types().await;
    assert_eq!(count(&types, "PaymentSucceeded"), 1, "{types:?}");
    assert_eq!(sale.owner().await, Some(user("bob")));
    assert_eq!(
        sale.item_event_types().await,
        ["ItemRegistered", "OwnershipTransferred"]
    );
    sale.assert_no_transfer_without_a_charge().await;
}

#[tokio::test]
async fn given_a_card_that_declines_when_the_saga_charges_it_then_nothing_is_paid_out_nothing_changes_hands_and_the_failure_is_recorded()
 {
    let sale = ended_auction(DECLINES_ON_CHARGE).await;

    let (faults, failed) = sale.deliver(Fault::None).await;

    // The refusal is an outcome, not a failure of the message.
    assert!(!failed);
    assert!(sale.paid_by("bob").await.is_empty());
    assert!(sale.transfers().await.is_empty());
    assert_eq!(faults.count(Call::Payout), 0);
    assert_eq!(
        faults.count(Call::Refund),
        0,
        "nothing was charged to refund"
    );
    let types = sale.event_types().await;
    assert_eq!(count(&types, "PaymentFailed"), 1, "{types:?}");
    assert_eq!(count(&types, "PaymentSucceeded"), 0, "{types:?}");
    assert_eq!(sale.owner().await, Some(user("sally")));
}

#[tokio::test]
async fn given_a_refusal_at_each_step_after_the_charge_then_what_was_done_is_undone_on_stripe_and_in_the_ledger()
 {
    for refused in [Call::Transfer, Call::Payout] {
        let sale = ended_auction(VISA).await;

        let (faults, failed) = sale.deliver(Fault::Refuse(refused)).await;

        assert!(!failed, "{refused:?}");
        // The charge happened once and was refunded in full.
        let paid = sale.paid_by("bob").await;
        assert_eq!(paid.len(), 1, "{refused:?}: {paid:?}");
        assert_eq!(sale.refunded(&paid[0].0).await, 3_001, "{refused:?}");
        // Nothing stays with the seller, and the item is sally's again (or never left her).
        let transfers = sale.transfers().await;
        assert!(
            transfers
                .iter()
                .all(|(amount, reversed)| amount == reversed),
            "{refused:?}: {transfers:?}"
        );
        assert_eq!(sale.owner().await, Some(user("sally")), "{refused:?}");
        if faults.count(Call::Transfer) > 0 && refused != Call::Transfer {
            assert_eq!(
                count(&sale.item_event_types().await, "TransferReversed"),
                1,
                "{refused:?}"
            );
        }
        let types = sale.event_types().await;
        assert_eq!(count(&types, "PaymentFailed"), 1, "{refused:?}: {types:?}");
        assert_eq!(
            count(&types, "PaymentSucceeded"),
            0,
            "{refused:?}: {types:?}"
        );
        sale.assert_no_transfer_without_a_charge().await;
    }
}

#[tokio::test]
async fn given_the_settlement_refused_after_the_payout_then_the_payout_the_transfer_and_the_charge_are_undone_on_stripe()
 {
    let sale = ended_auction(VISA).await;

    let (faults, failed) = sale.deliver(Fault::SettlementRefusedAfterPayout).await;

    // The saga compensated everything it did, in reverse: the payout reversed in full on
    // localstripe, the item handed back, the charge refunded in full.
    assert!(!failed);
    assert_eq!(faults.count(Call::ReversePayout), 1);
    assert_eq!(sale.transfers().await, [(2_851, 2_851)]);
    let paid = sale.paid_by("bob").await;
    assert_eq!(paid.len(), 1);
    assert_eq!(sale.refunded(&paid[0].0).await, 3_001);
    assert_eq!(sale.owner().await, Some(user("sally")));
    assert_eq!(
        sale.item_event_types().await,
        ["ItemRegistered", "OwnershipTransferred", "TransferReversed"]
    );
    let types = sale.event_types().await;
    assert_eq!(count(&types, "PaymentSucceeded"), 0, "{types:?}");
    sale.assert_no_transfer_without_a_charge().await;
}

#[tokio::test]
async fn given_every_call_whose_first_answer_is_lost_when_the_saga_retries_under_the_same_keys_then_stripe_moves_the_money_once()
 {
    let sale = ended_auction(VISA).await;

    let (faults, failed) = sale.deliver(Fault::LoseEveryFirstAnswer).await;

    assert!(!failed);
    // Each call was made twice, under one key: one charge and one transfer on localstripe.
    assert_eq!(faults.count(Call::Charge), 2);
    assert_eq!(faults.count(Call::Payout), 2);
    assert_eq!(sale.paid_by("bob").await.len(), 1);
    assert_eq!(sale.transfers().await, [(2_851, 0)]);
    assert_eq!(
        sale.item_event_types().await,
        ["ItemRegistered", "OwnershipTransferred"]
    );
    assert_eq!(count(&sale.event_types().await, "PaymentSucceeded"), 1);
}

#[tokio::test]
async fn given_a_settled_sale_when_its_message_is_delivered_again_then_nothing_moves_a_second_time()
{
    let sale = ended_auction(VISA).await;
    let (_, failed) = sale.deliver(Fault::None).await;
    assert!(!failed);

    // When SQS delivers the same end again, to another consumer
    let (faults, failed) = sale.deliver(Fault::None).await;

    // Then the saga is finished: no call to Stripe or the ledger, nothing new anywhere
    assert!(!failed);
    assert!(
        faults.calls.lock().unwrap().is_empty(),
        "{:?}",
        faults.calls
    );
    assert_eq!(sale.paid_by("bob").await.len(), 1);
    assert_eq!(sale.transfers().await, [(2_851, 0)]);
    assert_eq!(count(&sale.event_types().await, "PaymentSucceeded"), 1);
    assert_eq!(
        sale.item_event_types().await,
        ["ItemRegistered", "OwnershipTransferred"]
    );
}

impl Sale {
    /// The saga's state.
    async fn saga(&self) -> payments::Saga {
        use payments::SagaStates;
        DynamoDbSagaStates::new(
            self.env.dynamodb().clone(),
            self.env.names().payment_sagas_table.clone(),
        )
        .get(&payments::SagaId::new(self.auction_id, &user("bob")))
        .await
        .unwrap()
        .unwrap()
    }

    /// bob's charge that waits for him, after the first delivery.
    async fn awaited_charge(&self) -> String {
        let (_, failed) = self.deliver(Fault::None).await;
        assert!(!failed, "waiting is not a failure of the message");
        let saga = self.saga().await;
        assert_eq!(saga.status, payments::Status::Running);
        let awaiting = saga.awaiting.expect("the saga waits for the charge");
        assert_eq!(awaiting.step, payments::Step::Charge);
        assert!(self.paid_by("bob").await.is_empty());
        assert!(self.transfers().await.is_empty());
        awaiting.reference
    }
}

#[tokio::test]
async fn given_a_card_that_needs_the_buyer_when_they_authenticate_and_the_sale_is_delivered_again_then_the_saga_completes_with_that_one_charge()
 {
    let sale = ended_auction(NEEDS_AUTHENTICATION).await;
    let charge = sale.awaited_charge().await;

    // When bob authenticates, and the sale comes back (Stripe's webhook, or the reconciler)
    authenticate(&charge, true).await;
    let (faults, failed) = sale.deliver(Fault::None).await;

    // Then the saga asked for the intent's outcome instead of charging anew, and went on
    assert!(!failed);
    assert_eq!(faults.count(Call::Charge), 1);
    let paid = sale.paid_by("bob").await;
    assert_eq!(paid, [(charge, 3_001)]);
    assert_eq!(sale.transfers().await, [(2_851, 0)]);
    assert_eq!(sale.owner().await, Some(user("bob")));
    assert_eq!(count(&sale.event_types().await, "PaymentSucceeded"), 1);
    assert_eq!(sale.saga().await.status, payments::Status::Completed);
}

#[tokio::test]
async fn given_a_card_that_needs_the_buyer_when_authentication_fails_then_the_sale_fails_and_nothing_moves()
 {
    let sale = ended_auction(NEEDS_AUTHENTICATION).await;
    let charge = sale.awaited_charge().await;

    authenticate(&charge, false).await;
    let (_, failed) = sale.deliver(Fault::None).await;

    assert!(!failed);
    assert!(sale.paid_by("bob").await.is_empty());
    assert!(sale.transfers().await.is_empty());
    assert_eq!(sale.owner().await, Some(user("sally")));
    let types = sale.event_types().await;
    assert_eq!(count(&types, "PaymentFailed"), 1, "{types:?}");
    assert_eq!(sale.saga().await.status, payments::Status::Failed);
}

#[tokio::test]
async fn given_a_charge_awaited_past_its_window_when_the_sale_comes_back_then_the_charge_is_cancelled_and_the_sale_fails()
 {
    let sale = ended_auction(NEEDS_AUTHENTICATION).await;
    let charge = sale.awaited_charge().await;

    // When three days pass without bob authenticating, and the reconciler brings the sale back
    sale.clock.advance(payments::AWAIT_CHARGE_FOR);
    let (_, failed) = sale.deliver(Fault::None).await;

    // Then the intent is cancelled on Stripe, so it can no longer be paid, and the sale fails
    assert!(!failed);
    let intent = sale.stripe.payment_intent(&charge).await.unwrap();
    assert_eq!(intent.status, PaymentIntentStatus::Canceled);
    let types = sale.event_types().await;
    assert_eq!(count(&types, "PaymentFailed"), 1, "{types:?}");
    assert_eq!(sale.owner().await, Some(user("sally")));
}
