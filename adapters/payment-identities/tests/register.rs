//! Registering payment identities over the in-memory table and the provider's test double:
//! what is checked, in which order, and that a refusal stores nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use events::UserId;
use payment_identities::testing::InMemoryProvider;
use payment_identities::{
    IdentityError, InMemoryPaymentIdentities, Missing, PaymentIdentityLookup, missing,
    register_payment_method, register_payout_account,
};

fn bob() -> UserId {
    UserId::try_from("bidder-bob").unwrap()
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, minute, 0).unwrap()
}

struct World {
    provider: InMemoryProvider,
    store: InMemoryPaymentIdentities,
}

impl World {
    fn new() -> Self {
        Self {
            provider: InMemoryProvider::new(),
            store: InMemoryPaymentIdentities::new(),
        }
    }

    async fn card(&self, customer: &str, payment_method: &str) -> Result<(), IdentityError> {
        register_payment_method(
            &self.provider,
            &self.store,
            &bob(),
            customer,
            payment_method,
            at(1),
        )
        .await
        .map(drop)
    }

    async fn account(&self, account: &str) -> Result<(), IdentityError> {
        register_payout_account(&self.provider, &self.store, &bob(), account, at(2))
            .await
            .map(drop)
    }

    /// The refusal is `expected`, and nothing is on file.
    async fn assert_refused_storing_nothing(
        &self,
        outcome: Result<(), IdentityError>,
        expected: impl Fn(&IdentityError) -> bool,
    ) {
        let error = outcome.unwrap_err();
        assert!(expected(&error), "{error:?}");
        assert!(self.store.all().is_empty(), "a refusal stored something");
    }
}

#[tokio::test]
async fn given_a_card_attached_to_its_customer_when_registered_then_it_is_on_file_with_brand_and_last4()
 {
    let world = World::new();
    let (customer, card) = world.provider.create_card_on_file();

    world.card(customer.as_str(), card.as_str()).await.unwrap();

    let on_file = world.store.get(&bob()).await.unwrap().unwrap();
    let card_on_file = on_file.card.clone().unwrap();
    assert_eq!(card_on_file.customer_id, customer);
    assert_eq!(card_on_file.payment_method_id, card);
    assert_eq!(
        (card_on_file.brand.as_str(), card_on_file.last4.as_str()),
        ("visa", "4242")
    );
    assert_eq!(on_file.updated_at, at(1));
    assert_eq!(missing(Some(&on_file)), [Missing::PayoutAccount]);
}

#[tokio::test]
async fn given_nothing_on_file_when_asked_what_is_missing_then_both_are() {
    let world = World::new();

    let on_file = world.store.get(&bob()).await.unwrap();

    assert_eq!(
        missing(on_file.as_ref()),
        [Missing::PaymentMethod, Missing::PayoutAccount]
    );
}

#[tokio::test]
async fn given_a_card_and_then_an_account_when_each_is_registered_then_neither_replaces_the_other()
{
    let world = World::new();
    let (customer, card) = world.provider.create_card_on_file();
    let account = world.provider.create_connected_account(true);

    world.card(customer.as_str(), card.as_str()).await.unwrap();
    world.account(account.as_str()).await.unwrap();
    let (customer2, card2) = world.provider.create_card_on_file();
    world
        .card(customer2.as_str(), card2.as_str())
        .await
        .unwrap();

    let on_file = world.store.get(&bob()).await.unwrap().unwrap();
    assert!(on_file.missing().is_empty());
    assert_eq!(on_file.card.unwrap().payment_method_id, card2);
    assert_eq!(on_file.payout_account_id, Some(account));
}

#[tokio::test]
async fn given_ids_of_the_wrong_shape_when_registered_then_they_are_refused_before_the_provider_is_asked()
 {
    let world = World::new();
    let (customer, card) = world.provider.create_card_on_file();

    for (customer, payment_method, field) in [
        ("cust_1", card.as_str(), "customerId"),
        (customer.as_str(), "card_1", "paymentMethodId"),
        ("", "", "customerId"),
        (customer.as_str(), "pm_ 1", "paymentMethodId"),
    ] {
        world
            .assert_refused_storing_nothing(
                world.card(customer, payment_method).await,
                |e| matches!(e, IdentityError::MalformedId { field: f, .. } if *f == field),
            )
            .await;
    }
    world
        .assert_refused_storing_nothing(world.account("acct_").await, |e| {
            matches!(
                e,
                IdentityError::MalformedId {
                    field: "accountId",
                    ..
                }
            )
        })
        .await;
    assert_eq!(
        world.provider.checks(),
        0,
        "a malformed id reached the provider"
    );
}

#[tokio::test]
async fn given_a_customer_or_card_the_provider_does_not_know_when_registered_then_each_is_named() {
    let world = World::new();
    let (customer, card) = world.provider.create_card_on_file();

    world
        .assert_refused_storing_nothing(
            world.card("cus_nobody", card.as_str()).await,
            |e| matches!(e, IdentityError::CustomerNotFound(c) if c.as_str() == "cus_nobody"),
        )
        .await;
    world
        .assert_refused_storing_nothing(
            world.card(customer.as_str(), "pm_nothing").await,
            |e| matches!(e, IdentityError::PaymentMethodNotFound(p) if p.as_str() == "pm_nothing"),
        )
        .await;
}

#[tokio::test]
async fn given_a_card_of_another_customer_or_of_none_when_registered_then_they_do_not_belong_together()
 {
    let world = World::new();
    let (_, anns_card) = world.provider.create_card_on_file();
    let bobs = world.provider.create_customer();
    let loose = world.provider.create_payment_method("card", None);

    for card in [anns_card, loose] {
        world
            .assert_refused_storing_nothing(world.card(bobs.as_str(), card.as_str()).await, |e| {
                matches!(e, IdentityError::NotAttached { .. })
            })
            .await;
    }
}

#[tokio::test]
async fn given_a_payment_method_that_is_no_card_when_registered_then_it_is_refused() {
    let world = World::new();
    let customer = world.provider.create_customer();
    let sepa = world
        .provider
        .create_payment_method("sepa_debit", Some(&customer));

    world
        .assert_refused_storing_nothing(
            world.card(customer.as_str(), sepa.as_str()).await,
            |e| matches!(e, IdentityError::NotACard { kind, .. } if kind == "sepa_debit"),
        )
        .await;
}

#[tokio::test]
async fn given_an_unknown_account_or_one_without_transfers_when_registered_then_it_is_refused() {
    let world = World::new();
    let not_ready = world.provider.create_connected_account(false);

    world
        .assert_refused_storing_nothing(world.account("acct_nobody").await, |e| {
            matches!(e, IdentityError::AccountNotFound(_))
        })
        .await;
    world
        .assert_refused_storing_nothing(world.account(not_ready.as_str()).await, |e| {
            matches!(e, IdentityError::AccountCannotReceiveTransfers { .. })
        })
        .await;
}

#[tokio::test]
async fn given_an_unavailable_provider_when_registering_then_it_is_transient_and_nothing_is_stored()
{
    let world = World::new();
    let (customer, card) = world.provider.create_card_on_file();
    let account = world.provider.create_connected_account(true);
    world.provider.set_unavailable(true);

    for outcome in [
        world.card(customer.as_str(), card.as_str()).await,
        world.account(account.as_str()).await,
    ] {
        world
            .assert_refused_storing_nothing(outcome, |e| {
                matches!(e, IdentityError::ProviderUnavailable(_)) && e.is_transient()
            })
            .await;
    }
}

#[tokio::test]
async fn given_an_unavailable_table_when_a_checked_card_is_recorded_then_it_is_transient() {
    let world = World::new();
    let (customer, card) = world.provider.create_card_on_file();
    world.store.set_unavailable(true);

    let error = world
        .card(customer.as_str(), card.as_str())
        .await
        .unwrap_err();

    assert!(matches!(error, IdentityError::StoreUnavailable(_)) && error.is_transient());
}
