//! Payment identities through the router: what is on file, registering a card and a payout
//! account (checked with the provider's test double first, nothing stored on a refusal), and
//! the commands that need them (bids and purchases a card, creations a payout account), refused
//! before anything is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::testing::{TestApp, TestResponse as Reply, start_of_test};
use axum::http::StatusCode;
use chrono::TimeDelta;
use serde_json::{Value, json};

fn auction_body() -> Value {
    json!({
        "title": "Brass telescope",
        "currency": "EUR",
        "startingPrice": 1_000,
        "buyNowPrice": 20_000,
        "endsAt": (start_of_test() + TimeDelta::days(1)).to_rfc3339(),
    })
}

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.body["code"], code, "{}", reply.text());
    assert_eq!(reply.body["status"], status.as_u16());
    assert!(reply.body["detail"].is_string());
}

/// The steps of these tests, in the API's words.
trait Steps {
    async fn identity(&self, user: &str) -> Reply;
    async fn put_card(&self, user: &str, customer: &str, payment_method: &str) -> Reply;
    async fn put_account(&self, user: &str, account: &str) -> Reply;
    /// An auction by `seller-ann` (who gets a payout account for it), open for bids now.
    async fn open_auction(&self) -> String;
    async fn bid(&self, user: &str, auction: &str, key: &str) -> Reply;
    async fn buy_now(&self, user: &str, auction: &str, key: &str) -> Reply;
    /// Every store write and every item of the PaymentIdentities table, to show a refusal
    /// changed nothing.
    fn footprint(&self) -> (usize, usize);
}

impl Steps for TestApp {
    async fn identity(&self, user: &str) -> Reply {
        self.get(user, "/me/payment-identity").await
    }

    async fn put_card(&self, user: &str, customer: &str, payment_method: &str) -> Reply {
        self.put(
            user,
            "/me/payment-method",
            json!({"customerId": customer, "paymentMethodId": payment_method}),
        )
        .await
    }

    async fn put_account(&self, user: &str, account: &str) -> Reply {
        self.put(user, "/me/payout-account", json!({"accountId": account}))
            .await
    }

    async fn open_auction(&self) -> String {
        self.with_payout_account("seller-ann").await;
        let reply = self
            .post("seller-ann", "/auctions", auction_body(), None)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.body["auctionId"].as_str().unwrap().to_owned()
    }

    async fn bid(&self, user: &str, auction: &str, key: &str) -> Reply {
        self.post(
            user,
            &format!("/auctions/{auction}/bids"),
            json!({"amount": 1_500, "currency": "EUR"}),
            Some(key),
        )
        .await
    }

    async fn buy_now(&self, user: &str, auction: &str, key: &str) -> Reply {
        self.post_empty(user, &format!("/auctions/{auction}/buy-now"), Some(key))
            .await
    }

    fn footprint(&self) -> (usize, usize) {
        (self.store.backend().writes(), self.identities.all().len())
    }
}

// ------------------------------------------------------------------------------ on file

#[tokio::test]
async fn given_nothing_on_file_when_the_user_asks_then_both_are_missing_and_nothing_is_allowed() {
    let h = TestApp::new();

    let reply = h.identity("bidder-bob").await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.body,
        json!({
            "paymentMethod": null,
            "payoutAccountId": null,
            "canBid": false,
            "canSell": false,
            "missing": ["paymentMethod", "payoutAccount"],
            "updatedAt": null,
        })
    );
}

#[tokio::test]
async fn given_a_card_attached_to_its_customer_when_registered_then_it_is_on_file_for_that_user_only()
 {
    let h = TestApp::new();
    let (customer, card) = h.provider.create_card_on_file();

    let reply = h
        .put_card("bidder-bob", customer.as_str(), card.as_str())
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let bob = h.identity("bidder-bob").await;
    assert_eq!(bob.body, reply.body);
    assert_eq!(
        bob.body["paymentMethod"],
        json!({"customerId": customer.as_str(), "paymentMethodId": card.as_str(),
            "brand": "visa", "last4": "4242"})
    );
    assert_eq!(bob.body["canBid"], true);
    assert_eq!(bob.body["canSell"], false);
    assert_eq!(bob.body["missing"], json!(["payoutAccount"]));
    assert_eq!(bob.body["updatedAt"], json!(start_of_test()));
    let cat = h.identity("bidder-cat").await;
    assert_eq!(cat.body["canBid"], false);
}

#[tokio::test]
async fn given_a_card_on_file_when_a_payout_account_is_registered_then_both_are_on_file() {
    let h = TestApp::new();
    h.with_card("seller-ann").await;
    let account = h.provider.create_connected_account(true);

    let reply = h.put_account("seller-ann", account.as_str()).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.body["payoutAccountId"], account.as_str());
    assert_eq!(reply.body["paymentMethod"]["last4"], "4242");
    assert_eq!(reply.body["missing"], json!([]));
    assert_eq!(reply.body["canBid"], true);
    assert_eq!(reply.body["canSell"], true);
}

// ------------------------------------------------------------------------------ refusals

#[tokio::test]
async fn given_ids_of_the_wrong_shape_when_registered_then_422_invalid_request_before_stripe_is_asked()
 {
    let h = TestApp::new();
    let (customer, card) = h.provider.create_card_on_file();
    let before = h.footprint();

    for (customer, payment_method, field) in [
        ("acct_1", card.as_str(), "customerId"),
        (customer.as_str(), "card_1", "paymentMethodId"),
        ("cus_", card.as_str(), "customerId"),
        (customer.as_str(), "pm_1;drop", "paymentMethodId"),
    ] {
        let reply = h.put_card("bidder-bob", customer, payment_method).await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST");
        assert!(
            reply.body["detail"].as_str().unwrap().contains(field),
            "{}",
            reply.text()
        );
    }
    let reply = h.put_account("seller-ann", "ac_1").await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST");
    assert!(reply.text().contains("accountId"));

    assert_eq!(
        h.provider.checks(),
        0,
        "a malformed id reached the provider"
    );
    assert_eq!(h.footprint(), before);
}

#[tokio::test]
async fn given_bodies_without_the_ids_or_with_other_fields_when_registered_then_422_and_nothing_is_stored()
 {
    let h = TestApp::new();
    let (customer, card) = h.provider.create_card_on_file();

    for body in [
        json!({"customerId": customer.as_str()}),
        json!({"customerId": customer.as_str(), "paymentMethodId": 7}),
        // The user is the token's, never the body's.
        json!({"customerId": customer.as_str(), "paymentMethodId": card.as_str(), "userId": "bidder-cat"}),
    ] {
        let reply = h.put("bidder-bob", "/me/payment-method", body).await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST");
    }
    let reply = h.put("seller-ann", "/me/payout-account", json!({})).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST");
    assert!(h.identities.all().is_empty());
}

#[tokio::test]
async fn given_ids_stripe_does_not_confirm_when_registered_then_422_names_which_and_nothing_is_stored()
 {
    let h = TestApp::new();
    let (customer, card) = h.provider.create_card_on_file();
    let (_, anns_card) = h.provider.create_card_on_file();
    let sepa = h
        .provider
        .create_payment_method("sepa_debit", Some(&customer));
    let not_ready = h.provider.create_connected_account(false);
    let before = h.footprint();

    for (customer, payment_method, code) in [
        ("cus_nobody", card.as_str(), "CUSTOMER_NOT_FOUND"),
        (customer.as_str(), "pm_nothing", "PAYMENT_METHOD_NOT_FOUND"),
        (
            customer.as_str(),
            anns_card.as_str(),
            "PAYMENT_METHOD_NOT_ATTACHED",
        ),
        (
            customer.as_str(),
            sepa.as_str(),
            "PAYMENT_METHOD_NOT_A_CARD",
        ),
    ] {
        let reply = h.put_card("bidder-bob", customer, payment_method).await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    for (account, code) in [
        ("acct_nobody", "PAYOUT_ACCOUNT_NOT_FOUND"),
        (not_ready.as_str(), "PAYOUT_ACCOUNT_NOT_READY"),
    ] {
        let reply = h.put_account("seller-ann", account).await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, code);
    }

    assert_eq!(h.footprint(), before);
    assert_eq!(h.identity("bidder-bob").await.body["canBid"], false);
}

#[tokio::test]
async fn given_a_card_on_file_when_a_replacement_is_refused_then_the_first_card_stays() {
    let h = TestApp::new();
    let (_, first) = h.with_card("bidder-bob").await;
    let stranger = h.provider.create_customer();

    let reply = h
        .put_card("bidder-bob", stranger.as_str(), first.as_str())
        .await;

    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "PAYMENT_METHOD_NOT_ATTACHED",
    );
    let bob = h.identity("bidder-bob").await;
    assert_eq!(bob.body["paymentMethod"]["paymentMethodId"], first.as_str());
}

#[tokio::test]
async fn given_stripe_unavailable_when_registering_then_503_with_retry_after_and_nothing_is_stored()
{
    let h = TestApp::new();
    let (customer, card) = h.provider.create_card_on_file();
    let account = h.provider.create_connected_account(true);
    h.provider.set_unavailable(true);

    let card_reply = h
        .put_card("bidder-bob", customer.as_str(), card.as_str())
        .await;
    let account_reply = h.put_account("bidder-bob", account.as_str()).await;

    for reply in [&card_reply, &account_reply] {
        assert_problem(
            reply,
            StatusCode::SERVICE_UNAVAILABLE,
            "PAYMENT_PROVIDER_UNAVAILABLE",
        );
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
    assert!(h.identities.all().is_empty());
    // And once Stripe answers again, the same request registers the card.
    h.provider.set_unavailable(false);
    let retry = h
        .put_card("bidder-bob", customer.as_str(), card.as_str())
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text());
}

#[tokio::test]
async fn given_no_token_when_the_identity_routes_are_called_then_401() {
    let h = TestApp::new();
    for (method, path) in [
        (axum::http::Method::GET, "/me/payment-identity"),
        (axum::http::Method::PUT, "/me/payment-method"),
        (axum::http::Method::PUT, "/me/payout-account"),
    ] {
        let reply = h.request(method, None, path, Some(&json!({})), None).await;
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
}

// ------------------------------------------------------------------------- preconditions

#[tokio::test]
async fn given_no_card_on_file_when_a_bidder_bids_then_409_payment_method_required_and_no_event_is_written()
 {
    let h = TestApp::new();
    let auction = h.open_auction().await;
    let before = h.footprint();

    let reply = h.bid("bidder-bob", &auction, "bob-1").await;

    assert_problem(&reply, StatusCode::CONFLICT, "PAYMENT_METHOD_REQUIRED");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("PUT /me/payment-method"),
        "{}",
        reply.text()
    );
    assert_eq!(h.footprint(), before, "a refused bid wrote something");
    // And the key was not used up: with a card on file, the same bid goes through.
    h.with_card("bidder-bob").await;
    let retry = h.bid("bidder-bob", &auction, "bob-1").await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text());
    assert!(retry.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn given_no_card_on_file_when_a_bidder_buys_now_then_409_payment_method_required_and_the_auction_stays_open()
 {
    let h = TestApp::new();
    let auction = h.open_auction().await;
    let before = h.footprint();

    let reply = h.buy_now("bidder-cat", &auction, "cat-buy").await;

    assert_problem(&reply, StatusCode::CONFLICT, "PAYMENT_METHOD_REQUIRED");
    assert_eq!(h.footprint(), before, "a refused purchase wrote something");
    let view = h.get("bidder-cat", &format!("/auctions/{auction}")).await;
    assert_eq!(view.body["status"], "active");
}

#[tokio::test]
async fn given_only_a_payout_account_when_the_seller_bids_elsewhere_then_a_card_is_still_required()
{
    let h = TestApp::new();
    let auction = h.open_auction().await;
    h.with_payout_account("bidder-bob").await;

    let reply = h.bid("bidder-bob", &auction, "bob-1").await;

    assert_problem(&reply, StatusCode::CONFLICT, "PAYMENT_METHOD_REQUIRED");
}

#[tokio::test]
async fn given_no_payout_account_when_a_seller_creates_an_auction_then_409_payout_account_required_and_nothing_is_written()
 {
    let h = TestApp::new();
    // A card is not enough to sell.
    h.with_card("seller-sam").await;
    let before = h.footprint();

    let reply = h
        .post("seller-sam", "/auctions", auction_body(), Some("create-1"))
        .await;

    assert_problem(&reply, StatusCode::CONFLICT, "PAYOUT_ACCOUNT_REQUIRED");
    assert!(reply.text().contains("PUT /me/payout-account"));
    assert_eq!(h.footprint(), before, "a refused creation wrote something");
    h.with_payout_account("seller-sam").await;
    let retry = h
        .post("seller-sam", "/auctions", auction_body(), Some("create-1"))
        .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text());
}

#[tokio::test]
async fn given_the_identities_table_unavailable_when_a_bid_arrives_then_503_and_nothing_is_written()
{
    let h = TestApp::new();
    let auction = h.open_auction().await;
    h.with_card("bidder-bob").await;
    let writes = h.store.backend().writes();
    h.identities.set_unavailable(true);

    let reply = h.bid("bidder-bob", &auction, "bob-1").await;

    assert_problem(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(h.store.backend().writes(), writes);
}
