//! The demo data, seeded through the API's own routes into the API as the binaries wire it
//! (over in-memory adapters), and the demo routes that give a signed-in user a card or a payout
//! account. The provider is the payment provider's test double here; api-local runs them
//! against the local stack's Stripe emulator (the end-to-end suite's `demo` tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use api::testing::{TestApp, start_of_test};
use api_local::demo::{self, BoxFuture, DemoPayments};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use events::UserId;
use http_body_util::BodyExt;
use payment_identities::testing::InMemoryProvider;
use serde_json::Value;
use tower::ServiceExt;

/// Demo objects made in the test double, as the Stripe client makes them in localstripe.
struct InMemoryDemo(Arc<InMemoryProvider>);

impl DemoPayments for InMemoryDemo {
    fn create_card_on_file<'a>(
        &'a self,
        _user: &'a UserId,
    ) -> BoxFuture<'a, anyhow::Result<(String, String)>> {
        let (customer, card) = self.0.create_card_on_file();
        Box::pin(async move { Ok((customer.to_string(), card.to_string())) })
    }

    fn create_payout_account<'a>(
        &'a self,
        _user: &'a UserId,
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        let account = self.0.create_connected_account(true);
        Box::pin(async move { Ok(account.to_string()) })
    }
}

#[tokio::test]
async fn demo_seeding_creates_an_auction_with_bids_one_ending_soon_and_one_with_buy_now() {
    let h = TestApp::new();
    let payments = InMemoryDemo(Arc::clone(&h.provider));
    let demo = api_local::demo::seed(h.app.clone(), &h.jwt, &payments)
        .await
        .unwrap();

    let with_bids = h
        .get("bidder-bob", &format!("/auctions/{}", demo.with_bids))
        .await;
    assert_eq!(with_bids.status, StatusCode::OK, "{:?}", with_bids.body);
    assert_eq!(with_bids.body["bidCount"], 2);
    assert_eq!(with_bids.body["status"], "active");

    let ending_soon = h
        .get("bidder-bob", &format!("/auctions/{}", demo.ending_soon))
        .await;
    let ends_at: DateTime<Utc> =
        serde_json::from_value(ending_soon.body["endsAt"].clone()).unwrap();
    assert!(ends_at - start_of_test() <= TimeDelta::minutes(10));

    let buy_now = h
        .get("bidder-bob", &format!("/auctions/{}", demo.buy_now))
        .await;
    assert_eq!(buy_now.body["buyNowPrice"]["amountMinor"], 25_000);
}

#[tokio::test]
async fn given_seeding_then_every_demo_user_has_a_card_and_a_payout_account_registered_through_the_routes()
 {
    let h = TestApp::new();
    let payments = InMemoryDemo(Arc::clone(&h.provider));

    demo::seed(h.app.clone(), &h.jwt, &payments).await.unwrap();

    for user in [demo::SELLER].into_iter().chain(demo::BIDDERS) {
        let identity = h.get(user, "/me/payment-identity").await;
        assert_eq!(identity.body["missing"], serde_json::json!([]), "{user}");
    }
    // Each was checked with the provider: two checks per user.
    assert_eq!(h.provider.checks(), 6);
}

/// `POST path` through the demo routes (over the harness's API), with this bearer token if any.
async fn demo_post(h: &TestApp, path: &str, token: Option<String>) -> (StatusCode, Value) {
    let router = demo::payments_router(
        h.router.clone(),
        Arc::clone(&h.jwt),
        Arc::new(InMemoryDemo(Arc::clone(&h.provider))),
    );
    let mut request = Request::post(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router
        .oneshot(request.body(Body::empty()).unwrap())
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
async fn given_a_signed_in_demo_user_when_they_ask_for_a_test_card_then_it_is_made_and_registered_for_them()
 {
    let h = TestApp::new();

    let (status, body) = demo_post(&h, "/demo/payment-method", Some(h.token("bidder-dan"))).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["canBid"], true);
    assert_eq!(body["paymentMethod"]["last4"], "4242");
    let identity = h.get("bidder-dan", "/me/payment-identity").await;
    assert_eq!(identity.body, body);
    assert_eq!(
        h.get("bidder-eve", "/me/payment-identity").await.body["canBid"],
        false
    );
}

#[tokio::test]
async fn given_a_signed_in_demo_user_when_they_ask_for_a_payout_account_then_they_can_sell() {
    let h = TestApp::new();

    let (status, body) = demo_post(&h, "/demo/payout-account", Some(h.token("seller-sue"))).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["canSell"], true);
    assert_eq!(body["missing"], serde_json::json!(["paymentMethod"]));
}

#[tokio::test]
async fn given_no_token_or_a_forged_one_when_the_demo_routes_are_called_then_401_and_nothing_is_made()
 {
    let h = TestApp::new();
    let forged = api::LocalJwt::new(b"another key")
        .mint(
            &UserId::try_from("bidder-dan").unwrap(),
            &[],
            Utc::now(),
            TimeDelta::hours(1),
        )
        .unwrap();

    for path in ["/demo/payment-method", "/demo/payout-account"] {
        for token in [None, Some(forged.clone())] {
            let (status, body) = demo_post(&h, path, token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
            assert_eq!(body["code"], "UNAUTHENTICATED");
        }
    }
    assert!(h.identities.all().is_empty());
}

#[tokio::test]
async fn given_the_provider_down_when_a_demo_card_is_registered_then_the_apis_503_is_the_answer() {
    let h = TestApp::new();
    h.provider.set_unavailable(true);

    let (status, body) = demo_post(&h, "/demo/payment-method", Some(h.token("bidder-dan"))).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "PAYMENT_PROVIDER_UNAVAILABLE");
    assert!(h.identities.all().is_empty());
}
