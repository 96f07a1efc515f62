//! Payment identities on the real stack: the PaymentIdentities table on DynamoDB Local, the
//! Stripe check against the stack's Stripe emulator, and the API over both, refusing a bid
//! until a card made in Stripe is registered.

use std::sync::Arc;

use api::{App, Authenticator, FixedClock, LocalJwt, router};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{TimeDelta, TimeZone, Utc};
use e2e::{TestEnv, fixtures};
use event_store::{EventLog, Meter};
use events::AuctionId;
use http_body_util::BodyExt;
use payment_identities::{
    AccountId, CardOnFile, CheckWithProvider, CustomerId, DynamoDbPaymentIdentities, IdentityError,
    PaymentIdentityLookup, PaymentMethodId, RecordPaymentIdentity, StripeChecker,
};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use api_local::demo::DemoPayments;

use crate::support;

fn table(env: &TestEnv) -> DynamoDbPaymentIdentities {
    DynamoDbPaymentIdentities::new(
        env.dynamodb().clone(),
        env.names().payment_identities_table.clone(),
    )
}

fn card(customer: &str, payment_method: &str) -> CardOnFile {
    CardOnFile {
        customer_id: CustomerId::parse(customer).unwrap(),
        payment_method_id: PaymentMethodId::parse(payment_method).unwrap(),
        brand: "visa".to_owned(),
        last4: "4242".to_owned(),
    }
}

// ---------------------------------------------------------------------------- the table

#[tokio::test]
async fn given_dynamodb_local_when_a_card_and_then_an_account_are_recorded_then_the_item_holds_both()
 {
    let env = TestEnv::new().await;
    let table = table(&env);
    let bob = fixtures::user("bidder-bob");
    let first = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let later = first + TimeDelta::minutes(5);

    assert_eq!(table.get(&bob).await.unwrap(), None);
    let after_card = table
        .put_payment_method(&bob, &card("cus_1", "pm_1"), first)
        .await
        .unwrap();
    let account = AccountId::parse("acct_1").unwrap();
    let after_account = table
        .put_payout_account(&bob, &account, later)
        .await
        .unwrap();

    assert_eq!(after_card.payout_account_id, None);
    assert_eq!(after_account.card, Some(card("cus_1", "pm_1")));
    assert_eq!(after_account.payout_account_id, Some(account));
    assert_eq!(after_account.updated_at, later);
    assert_eq!(table.get(&bob).await.unwrap(), Some(after_account));
    // Another user's item is untouched by bob's.
    assert_eq!(
        table.get(&fixtures::user("bidder-cat")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn given_a_card_on_file_when_another_is_recorded_then_it_replaces_the_first_and_keeps_the_account()
 {
    let env = TestEnv::new().await;
    let table = table(&env);
    let ann = fixtures::user("seller-ann");
    let now = Utc::now();
    table
        .put_payment_method(&ann, &card("cus_1", "pm_1"), now)
        .await
        .unwrap();
    table
        .put_payout_account(&ann, &AccountId::parse("acct_1").unwrap(), now)
        .await
        .unwrap();

    table
        .put_payment_method(&ann, &card("cus_2", "pm_2"), now)
        .await
        .unwrap();

    let item = table.get(&ann).await.unwrap().unwrap();
    assert_eq!(item.card, Some(card("cus_2", "pm_2")));
    assert_eq!(item.payout_account_id.unwrap().as_str(), "acct_1");
}

#[tokio::test]
async fn given_a_missing_table_when_it_is_read_then_the_failure_is_not_transient() {
    let env = TestEnv::new().await;
    let table = DynamoDbPaymentIdentities::new(
        env.dynamodb().clone(),
        format!("missing-{}", Uuid::new_v4()),
    );

    let error = table.get(&fixtures::user("bidder-bob")).await.unwrap_err();

    assert!(matches!(error, IdentityError::StoreFailed(_)), "{error:?}");
}

// ------------------------------------------------------------------------------- Stripe

#[tokio::test]
async fn given_the_stacks_stripe_when_a_card_attached_to_its_customer_is_checked_then_it_passes_with_its_last4()
 {
    let stripe = support::stripe().await;
    let (customer, card) = stripe
        .create_card_on_file(&fixtures::user("bidder-bob"))
        .await
        .unwrap();
    let checker = StripeChecker::new(stripe);

    let on_file = checker
        .check_payment_method(
            &CustomerId::parse(&customer).unwrap(),
            &PaymentMethodId::parse(&card).unwrap(),
        )
        .await
        .unwrap();

    assert_eq!(on_file.last4, "4242");
    assert_eq!(on_file.brand, "visa");
}

#[tokio::test]
async fn given_the_stacks_stripe_when_ids_it_does_not_know_or_that_do_not_belong_together_are_checked_then_each_is_refused()
 {
    let stripe = support::stripe().await;
    let (bobs_customer, bobs_card) = stripe
        .create_card_on_file(&fixtures::user("bidder-bob"))
        .await
        .unwrap();
    let (cats_customer, _) = stripe
        .create_card_on_file(&fixtures::user("bidder-cat"))
        .await
        .unwrap();
    let checker = StripeChecker::new(stripe);
    let check = |customer: &str, card: &str| {
        let (customer, card) = (
            CustomerId::parse(customer).unwrap(),
            PaymentMethodId::parse(card).unwrap(),
        );
        let checker = checker.clone();
        async move { checker.check_payment_method(&customer, &card).await }
    };

    let unknown_customer = check("cus_nobody0000000", &bobs_card).await.unwrap_err();
    let unknown_card = check(&bobs_customer, "pm_nothing0000000")
        .await
        .unwrap_err();
    let someone_elses = check(&cats_customer, &bobs_card).await.unwrap_err();
    let unknown_account = checker
        .check_payout_account(&AccountId::parse("acct_nobody000000").unwrap())
        .await
        .unwrap_err();

    assert!(
        matches!(unknown_customer, IdentityError::CustomerNotFound(_)),
        "{unknown_customer:?}"
    );
    assert!(
        matches!(unknown_card, IdentityError::PaymentMethodNotFound(_)),
        "{unknown_card:?}"
    );
    assert!(
        matches!(someone_elses, IdentityError::NotAttached { .. }),
        "{someone_elses:?}"
    );
    assert!(
        matches!(unknown_account, IdentityError::AccountNotFound(_)),
        "{unknown_account:?}"
    );
}

#[tokio::test]
async fn given_the_stacks_stripe_when_a_connected_account_it_made_is_checked_then_it_can_receive_transfers()
 {
    let stripe = support::stripe().await;
    let account = stripe
        .create_payout_account(&fixtures::user("seller-ann"))
        .await
        .unwrap();

    StripeChecker::new(stripe)
        .check_payout_account(&AccountId::parse(&account).unwrap())
        .await
        .unwrap();
}

// ------------------------------------------------------------------------------- the API

const SECRET: &[u8] = b"e2e-payment-identities-secret";

async fn call(
    router: &axum::Router,
    method: Method,
    path: &str,
    user: &str,
    key: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let token = LocalJwt::new(SECRET)
        .mint(&fixtures::user(user), &[], Utc::now(), TimeDelta::hours(1))
        .unwrap();
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn given_the_api_over_dynamodb_local_and_stripe_when_bob_bids_without_and_then_with_a_card_then_the_first_is_refused_and_writes_nothing()
 {
    // Given the API over this test's tables, checking ids with the stack's Stripe, and an
    // auction by ann, who registered her payout account
    let env = TestEnv::new().await;
    let now = Utc::now();
    let stripe = support::stripe().await;
    let adapters = crate::api::api_adapters(&env, stripe.clone()).await;
    let app = App::new(
        adapters,
        Arc::new(FixedClock::new(now)),
        Authenticator::LocalJwt(Arc::new(LocalJwt::new(SECRET))),
    );
    let router = router(app);
    let (_, ann_account) = support::stripe_identity(&stripe, "seller-ann").await;
    let (status, reply) = call(
        &router,
        Method::PUT,
        "/me/payout-account",
        "seller-ann",
        None,
        &ann_account,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let auction = json!({"title": "Brass telescope", "currency": "EUR", "startingPrice": 1_000,
        "endsAt": (now + TimeDelta::days(1)).to_rfc3339()});
    let (status, created) = call(
        &router,
        Method::POST,
        "/auctions",
        "seller-ann",
        None,
        &auction,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["auctionId"].as_str().unwrap().to_owned();
    let auction_id = AuctionId(Uuid::parse_str(&id).unwrap());
    let bid_path = format!("/auctions/{id}/bids");
    let bid = json!({"amount": 1_500, "currency": "EUR"});

    // When bob bids with nothing on file
    let (status, refused) = call(
        &router,
        Method::POST,
        &bid_path,
        "bidder-bob",
        Some("b-1"),
        &bid,
    )
    .await;

    // Then he is told to add a card, and the log is as it was
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "PAYMENT_METHOD_REQUIRED");
    let log = env
        .event_store()
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap();
    assert_eq!(log.len(), 2, "created and started only");

    // When he registers ids Stripe does not know, nothing is stored either
    let (status, unknown) = call(
        &router,
        Method::PUT,
        "/me/payment-method",
        "bidder-bob",
        None,
        &json!({"customerId": "cus_nobody0000000", "paymentMethodId": "pm_nothing0000000"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{unknown}");
    assert_eq!(unknown["code"], "CUSTOMER_NOT_FOUND");
    assert_eq!(
        table(&env)
            .get(&fixtures::user("bidder-bob"))
            .await
            .unwrap(),
        None
    );

    // And once he registers a card made in Stripe, the same bid goes through
    let (card, _) = support::stripe_identity(&stripe, "bidder-bob").await;
    let (status, on_file) = call(
        &router,
        Method::PUT,
        "/me/payment-method",
        "bidder-bob",
        None,
        &card,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{on_file}");
    assert_eq!(on_file["paymentMethod"]["last4"], "4242");
    let (status, accepted) = call(
        &router,
        Method::POST,
        &bid_path,
        "bidder-bob",
        Some("b-1"),
        &bid,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{accepted}");
}
