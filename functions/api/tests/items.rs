//! The Items' ownership ledger through the API, over the in-memory event store: creating an
//! auction registers its item, the auction's detail names it, `GET /items/{id}/provenance`
//! answers its owners over time from the log, and the admin routes audit its stream as they
//! audit an auction's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::testing::{TestApp, TestResponse as Reply, start_of_test};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use domain::item::{
    ItemState, ReverseTransfer, TransferOwnership, decide_reverse_transfer,
    decide_transfer_ownership,
};
use event_store::CommandContext;
use events::{Actor, AuctionId, Currency, ItemId, Money};
use serde_json::{Value, json};
use uuid::Uuid;

const SELLER: &str = "seller-ann";

async fn harness() -> TestApp {
    let app = TestApp::new();
    app.with_identities(&[SELLER]).await;
    app
}

fn auction_body() -> Value {
    json!({
        "title": "Brass telescope",
        "currency": "EUR",
        "startingPrice": 1_000,
        "endsAt": (start_of_test() + TimeDelta::days(1)).to_rfc3339(),
    })
}

async fn create(app: &TestApp, body: Value, key: Option<&str>) -> Reply {
    app.post(SELLER, "/auctions", body, key).await
}

fn auction_of(reply: &Reply) -> AuctionId {
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    AuctionId(reply.body["auctionId"].as_str().unwrap().parse().unwrap())
}

fn item_types(app: &TestApp, item_id: ItemId) -> Vec<String> {
    app.store
        .backend()
        .events(item_id)
        .into_iter()
        .map(|e| e.envelope.event_type)
        .collect()
}

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.body["code"], code, "{}", reply.text());
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::try_from("EUR").unwrap())
}

/// The payment saga's commands on the item, as its ledger runs them.
fn saga(now: DateTime<Utc>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: "corr-sale".to_owned(),
        actor: Actor::System {
            name: "payment-saga".to_owned(),
        },
        idempotency_key: None,
        now,
    }
}

async fn transfer(app: &TestApp, auction_id: AuctionId, to: &str, price: i64, at: DateTime<Utc>) {
    let command = TransferOwnership {
        sale: format!("{auction_id}#{to}"),
        auction_id,
        // The saga takes them from the sale's events: pseudonyms.
        from: app.pseudonym(SELLER).await,
        to: app.pseudonym(to).await,
        price: eur(price),
    };
    app.store
        .execute(
            ItemId::for_auction(auction_id),
            &saga(at),
            |state: &ItemState, now| decide_transfer_ownership(state, &command, now),
        )
        .await
        .unwrap();
}

async fn reverse(app: &TestApp, auction_id: AuctionId, from: &str, at: DateTime<Utc>) {
    let command = ReverseTransfer {
        sale: format!("{auction_id}#{from}"),
        auction_id,
        from: app.pseudonym(from).await,
        to: app.pseudonym(SELLER).await,
        reason: "payout refused: seller account closed".to_owned(),
    };
    app.store
        .execute(
            ItemId::for_auction(auction_id),
            &saga(at),
            |state: &ItemState, now| decide_reverse_transfer(state, &command, now),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn creating_an_auction_registers_its_item_to_the_seller_and_its_detail_names_the_item() {
    let app = harness().await;

    let auction_id = auction_of(&create(&app, auction_body(), None).await);

    // The item is registered to the seller, by the seller's request
    let item_id = ItemId::for_auction(auction_id);
    let registered = app.store.backend().events(item_id);
    assert_eq!(registered.len(), 1);
    let envelope = &registered[0].envelope;
    assert_eq!(
        (
            envelope.aggregate_type.as_str(),
            envelope.event_type.as_str()
        ),
        ("Item", "ItemRegistered")
    );
    // The log holds the seller's pseudonym (docs/privacy.md)
    let seller = app.pseudonym(SELLER).await;
    assert_eq!(envelope.payload["owner"], seller.as_str());
    assert_eq!(envelope.payload["auctionId"], auction_id.to_string());
    assert_eq!(envelope.payload["title"], "Brass telescope");
    assert_eq!(envelope.metadata.actor, Actor::User { id: seller });
    assert_eq!(envelope.occurred_at, start_of_test());
    // And the auction's detail (from the log, before any projection) names it
    let detail = app
        .get("bidder-bob", &format!("/auctions/{auction_id}"))
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text());
    assert_eq!(detail.body["itemId"], item_id.to_string());
}

#[tokio::test]
async fn a_retried_creation_registers_the_item_once_and_a_refused_one_registers_nothing() {
    let app = harness().await;

    // A retry under the same key
    let first = create(&app, auction_body(), Some("create-1")).await;
    let retry = create(&app, auction_body(), Some("create-1")).await;
    let auction_id = auction_of(&first);
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        item_types(&app, ItemId::for_auction(auction_id)),
        ["ItemRegistered"]
    );

    // The same key on another body: refused, and nothing registered again
    let writes = app.store.backend().writes();
    let mut other = auction_body();
    other["title"] = json!("Another telescope");
    let reused = create(&app, other, Some("create-1")).await;
    assert_problem(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    );
    assert_eq!(app.store.backend().writes(), writes);

    // An invalid creation: refused before the item is registered
    let mut invalid = auction_body();
    invalid["title"] = json!("   ");
    let refused = create(&app, invalid, Some("create-2")).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_TITLE");
    assert_eq!(app.store.backend().writes(), writes);
}

#[tokio::test]
async fn the_provenance_of_a_new_item_is_its_seller_since_the_auction_was_created() {
    let app = harness().await;
    let auction_id = auction_of(&create(&app, auction_body(), None).await);
    let item_id = ItemId::for_auction(auction_id);

    let reply = app
        .get("bidder-bob", &format!("/items/{item_id}/provenance"))
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let stored = app.store.backend().events(item_id);
    assert_eq!(
        reply.body,
        json!({
            "itemId": item_id.to_string(),
            "title": "Brass telescope",
            "auctionId": auction_id.to_string(),
            "owner": SELLER,
            "owners": [{
                "owner": SELLER,
                "from": "2026-06-01T12:00:00Z",
                "until": null,
                "acquiredBy": "registered",
                "auctionId": auction_id.to_string(),
                "price": null,
                "sale": null,
                "reason": null,
            }],
            "version": 1,
            "headHash": stored[0].hash,
        })
    );
}

#[tokio::test]
async fn the_provenance_after_a_sale_reversed_and_a_second_sale_lists_every_owner_in_order() {
    let app = harness().await;
    let auction_id = auction_of(&create(&app, auction_body(), None).await);
    let item_id = ItemId::for_auction(auction_id);
    let t = |minutes| start_of_test() + TimeDelta::days(1) + TimeDelta::minutes(minutes);
    transfer(&app, auction_id, "bidder-bob", 4_600, t(1)).await;
    reverse(&app, auction_id, "bidder-bob", t(2)).await;
    transfer(&app, auction_id, "bidder-cat", 4_500, t(3)).await;

    let reply = app
        .get("bidder-dan", &format!("/items/{item_id}/provenance"))
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = &reply.body;
    assert_eq!(body["owner"], "bidder-cat");
    assert_eq!(body["version"], 4);
    let stored = app.store.backend().events(item_id);
    assert_eq!(body["headHash"], stored[3].hash.as_str());
    let owners: Vec<(&str, &str, Value, Value)> = body["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["owner"].as_str().unwrap(),
                o["acquiredBy"].as_str().unwrap(),
                o["price"]["amountMinor"].clone(),
                o["until"].clone(),
            )
        })
        .collect();
    assert_eq!(
        owners,
        [
            (SELLER, "registered", Value::Null, json!(t(1))),
            ("bidder-bob", "bought", json!(4_600), json!(t(2))),
            (SELLER, "returned", Value::Null, json!(t(3))),
            ("bidder-cat", "bought", json!(4_500), Value::Null),
        ]
    );
    let bought = &body["owners"][1];
    assert_eq!(bought["from"], json!(t(1)));
    assert_eq!(bought["auctionId"], auction_id.to_string());
    assert_eq!(bought["sale"], format!("{auction_id}#bidder-bob"));
    assert_eq!(
        body["owners"][2]["reason"],
        "payout refused: seller account closed"
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_item_is_a_404_problem_and_nobody_unknown_may_ask() {
    let app = harness().await;
    // An auction created before the ledger has no item until its sale: the same 404.
    let unknown = ItemId(Uuid::new_v4());

    let missing = app
        .get("bidder-bob", &format!("/items/{unknown}/provenance"))
        .await;
    let malformed = app.get("bidder-bob", "/items/not-an-id/provenance").await;
    let anonymous = app
        .request(
            axum::http::Method::GET,
            None,
            &format!("/items/{unknown}/provenance"),
            None,
            None,
        )
        .await;

    assert_problem(&missing, StatusCode::NOT_FOUND, "ITEM_NOT_FOUND");
    assert_problem(&malformed, StatusCode::NOT_FOUND, "ITEM_NOT_FOUND");
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

#[tokio::test]
async fn given_an_auctions_id_when_its_provenance_is_asked_then_no_item_is_found() {
    // Given an auction (its stream is an Auction's, not an Item's)
    let app = harness().await;
    let auction_id = auction_of(&create(&app, auction_body(), None).await);

    // When someone asks for the provenance of the auction's id as if it were an item's
    let reply = app
        .get("bidder-bob", &format!("/items/{auction_id}/provenance"))
        .await;

    // Then it is the item-not-found problem, not a server error
    assert_problem(&reply, StatusCode::NOT_FOUND, "ITEM_NOT_FOUND");
}

// The admin routes of the ledger.

#[tokio::test]
async fn an_admin_audits_an_items_stream_as_an_auctions_history_state_verify_and_export() {
    let app = harness().await;
    let auction_id = auction_of(&create(&app, auction_body(), None).await);
    let item_id = ItemId::for_auction(auction_id);
    transfer(
        &app,
        auction_id,
        "bidder-bob",
        4_600,
        start_of_test() + TimeDelta::days(1),
    )
    .await;
    let admin = |path: String| {
        let app = &app;
        async move { app.get_in("auditor-ada", &["admin"], &path).await }
    };

    let history = admin(format!("/admin/items/{item_id}/history")).await;
    let state = admin(format!("/admin/items/{item_id}/state?version=1")).await;
    let verify = admin(format!("/admin/items/{item_id}/verify")).await;
    let export = admin(format!("/admin/items/{item_id}/export")).await;

    assert_eq!(history.status, StatusCode::OK, "{}", history.text());
    let entries = history.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["event"]["eventType"], "OwnershipTransferred");
    assert_eq!(entries[1]["state"]["item"]["owner"], "bidder-bob");
    assert_eq!(state.status, StatusCode::OK, "{}", state.text());
    assert_eq!(state.body["version"], 1);
    assert_eq!(state.body["state"]["item"]["owner"], SELLER);
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text());
    let stored = app.store.backend().events(item_id);
    assert_eq!(verify.body["itemId"], item_id.to_string());
    assert_eq!(verify.body["intact"], true);
    assert_eq!(verify.body["events"], 2);
    assert_eq!(verify.body["head"], stored[1].hash.as_str());
    assert!(
        verify.body["report"]
            .as_str()
            .unwrap()
            .starts_with(&format!("item {item_id}: OK")),
        "{}",
        verify.text()
    );
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.header("content-type"), Some("application/x-ndjson"));
    // The stored events beside what their pseudonyms reveal (an import ignores that)
    assert_eq!(
        event_store::export::parse_lines(&export.text()).unwrap(),
        stored
    );
    let first: Value = serde_json::from_str(export.text().lines().next().unwrap()).unwrap();
    let seller = app.pseudonym(SELLER).await;
    assert_eq!(first["revealed"][seller.as_str()], SELLER);

    // An edited event of the item is named by verify
    let mut edited = stored[1].clone();
    edited.envelope.payload["to"] = json!("mallory");
    app.store.backend().overwrite(edited);
    let tampered = admin(format!("/admin/items/{item_id}/verify")).await;
    assert_eq!(tampered.status, StatusCode::OK);
    assert_eq!(tampered.body["intact"], false);
    assert_eq!(tampered.body["firstBadVersion"], 2);
    assert_eq!(tampered.body["defect"], "modified");
}

#[tokio::test]
async fn the_items_admin_routes_are_for_admins_and_name_unknown_items_and_versions() {
    let app = harness().await;
    let auction_id = auction_of(&create(&app, auction_body(), None).await);
    let item_id = ItemId::for_auction(auction_id);
    let unknown = ItemId(Uuid::new_v4());

    let not_admin = app
        .get("bidder-bob", &format!("/admin/items/{item_id}/verify"))
        .await;
    let missing = app
        .get_in(
            "auditor-ada",
            &["admin"],
            &format!("/admin/items/{unknown}/export"),
        )
        .await;
    let beyond = app
        .get_in(
            "auditor-ada",
            &["admin"],
            &format!("/admin/items/{item_id}/state?version=2"),
        )
        .await;

    assert_problem(&not_admin, StatusCode::FORBIDDEN, "ADMIN_ONLY");
    assert_problem(&missing, StatusCode::NOT_FOUND, "ITEM_NOT_FOUND");
    assert_problem(&beyond, StatusCode::BAD_REQUEST, "INVALID_QUERY");
    assert!(
        beyond.body["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("item {item_id} has versions 1 to 1")),
        "{}",
        beyond.text()
    );
}
