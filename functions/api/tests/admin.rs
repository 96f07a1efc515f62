//! The admin routes over the in-memory event store: history, time travel and the tamper check
//! for admins; 403 for everyone else; 404 and 400 for unknown auctions and bad parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use api::{App, Authenticator, FixedClock, LocalJwt, router};
use auction_events::{AuctionId, UserId};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use event_store::{InMemoryStore, SnapshotPolicy, Store};
use http_body_util::BodyExt;
use notifier::InMemoryNotifications;
use projector::InMemoryViews;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &[u8] = b"test-secret-of-the-local-verifier";

fn start_of_test() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

struct Harness {
    router: Router,
    store: Store<InMemoryStore>,
    jwt: LocalJwt,
}

fn harness() -> Harness {
    let store = Store::new(InMemoryStore::new(), SnapshotPolicy::default());
    let app = App {
        store: store.clone(),
        clock: Arc::new(FixedClock::new(start_of_test())),
        authenticator: Authenticator::LocalJwt(Arc::new(LocalJwt::new(SECRET))),
        views: Arc::new(InMemoryViews::new()),
        inbox: Arc::new(InMemoryNotifications::new()),
    };
    Harness {
        router: router(app),
        store,
        jwt: LocalJwt::new(SECRET),
    }
}

impl Harness {
    fn token(&self, sub: &str, groups: &[&str]) -> String {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        self.jwt
            .mint(
                &UserId::try_from(sub).unwrap(),
                &groups,
                Utc::now(),
                TimeDelta::hours(1),
            )
            .unwrap()
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn post(&self, user: &str, path: &str, body: Value, key: &str) -> (StatusCode, Value) {
        let request = Request::post(path)
            .header("authorization", format!("Bearer {}", self.token(user, &[])))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    async fn get_as(&self, user: &str, groups: &[&str], path: &str) -> (StatusCode, Value) {
        let request = Request::get(path)
            .header(
                "authorization",
                format!("Bearer {}", self.token(user, groups)),
            )
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as("auditor-ada", &["admin"], path).await
    }

    /// An open auction with two bids; answers its id and how many events it holds.
    async fn auction_with_bids(&self) -> (String, usize) {
        let (status, body) = self
            .post(
                "seller-ann",
                "/auctions",
                json!({
                    "title": "Brass telescope",
                    "currency": "EUR",
                    "startingPrice": 1_000,
                    "endsAt": (start_of_test() + TimeDelta::days(1)).to_rfc3339(),
                }),
                "create-1",
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body:?}");
        let id = body["auctionId"].as_str().unwrap().to_owned();
        for (bidder, amount) in [("bidder-bob", 1_000), ("bidder-cat", 2_000)] {
            let (status, body) = self
                .post(
                    bidder,
                    &format!("/auctions/{id}/bids"),
                    json!({"amount": amount, "currency": "EUR"}),
                    &format!("{bidder}-1"),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body:?}");
        }
        let events = self
            .store
            .backend()
            .events(AuctionId(Uuid::parse_str(&id).unwrap()))
            .len();
        (id, events)
    }
}

fn assert_problem(reply: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(reply.0, status, "{:?}", reply.1);
    assert_eq!(reply.1["code"], code, "{:?}", reply.1);
}

#[tokio::test]
async fn given_an_admin_when_the_history_is_read_then_every_event_comes_with_the_state_after_it() {
    let h = harness();
    let (id, events) = h.auction_with_bids().await;
    let (status, body) = h.admin_get(&format!("/admin/auctions/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body["auctionId"], id);
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), events);
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["event"]["version"], i + 1);
        assert_eq!(entry["state"]["version"], i + 1);
    }
    assert_eq!(entries[0]["event"]["eventType"], "AuctionCreated");
    assert_eq!(entries[events - 1]["event"]["eventType"], "BidPlaced");
}

#[tokio::test]
async fn given_an_admin_when_the_state_is_read_at_a_version_or_an_instant_then_it_is_that_prefix() {
    let h = harness();
    let (id, events) = h.auction_with_bids().await;
    let (_, history) = h.admin_get(&format!("/admin/auctions/{id}/history")).await;
    // At version 1: the state right after creation
    let (status, body) = h
        .admin_get(&format!("/admin/auctions/{id}/state?version=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body["version"], 1);
    assert_eq!(body["state"], history["entries"][0]["state"]);
    // At the instant every event occurred (the fixed clock): all of them
    let at = start_of_test().to_rfc3339().replace('+', "%2B");
    let (status, body) = h
        .admin_get(&format!("/admin/auctions/{id}/state?at={at}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body["version"], events);
    assert_eq!(body["state"], history["entries"][events - 1]["state"]);
    // Before anything happened: the empty state at version 0
    let before = (start_of_test() - TimeDelta::seconds(1))
        .to_rfc3339()
        .replace('+', "%2B");
    let (_, body) = h
        .admin_get(&format!("/admin/auctions/{id}/state?at={before}"))
        .await;
    assert_eq!(body["version"], 0);
}

#[tokio::test]
async fn given_an_admin_when_a_log_is_verified_then_an_intact_one_passes_and_an_edited_one_names_the_version()
 {
    let h = harness();
    let (id, events) = h.auction_with_bids().await;
    let (status, body) = h.admin_get(&format!("/admin/auctions/{id}/verify")).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body["intact"], true);
    assert_eq!(body["events"], events);
    // When the last bid's amount is edited in the store
    let auction = AuctionId(Uuid::parse_str(&id).unwrap());
    let mut edited = h.store.backend().events(auction)[events - 1].clone();
    edited.envelope.payload["amount"]["amountMinor"] = json!(1);
    h.store.backend().overwrite(edited);
    let (status, body) = h.admin_get(&format!("/admin/auctions/{id}/verify")).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body["intact"], false);
    assert_eq!(body["firstBadVersion"], events);
    assert_eq!(body["defect"], "modified");
    assert!(
        body["report"]
            .as_str()
            .unwrap()
            .contains(&format!("version {events} was modified"))
    );
}

#[tokio::test]
async fn given_a_bidder_when_they_call_any_admin_route_then_403_admin_only() {
    let h = harness();
    let (id, _) = h.auction_with_bids().await;
    for path in ["history", "state?version=1", "verify", "export"] {
        let reply = h
            .get_as(
                "bidder-bob",
                &["bidders"],
                &format!("/admin/auctions/{id}/{path}"),
            )
            .await;
        assert_problem(&reply, StatusCode::FORBIDDEN, "ADMIN_ONLY");
    }
}

#[tokio::test]
async fn given_an_unknown_auction_when_an_admin_asks_then_404() {
    let h = harness();
    let unknown = Uuid::new_v4();
    for path in ["history", "state?version=1", "verify", "export"] {
        let reply = h
            .admin_get(&format!("/admin/auctions/{unknown}/{path}"))
            .await;
        assert_problem(&reply, StatusCode::NOT_FOUND, "AUCTION_NOT_FOUND");
    }
}

#[tokio::test]
async fn given_bad_version_or_at_when_the_state_is_asked_then_400_invalid_query() {
    let h = harness();
    let (id, events) = h.auction_with_bids().await;
    let beyond = format!("version={}", events + 1);
    for query in [
        "version=0",
        beyond.as_str(),
        "version=abc",
        "version=-1",
        "at=yesterday",
        "at=2026-06-01",
        "version=1&at=2026-06-01T12:00:00Z",
        "",
        "when=now",
    ] {
        let reply = h
            .admin_get(&format!("/admin/auctions/{id}/state?{query}"))
            .await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "INVALID_QUERY");
    }
}

#[tokio::test]
async fn given_an_admin_when_an_auction_is_exported_then_the_json_lines_are_its_stored_events() {
    // Given an auction with two bids
    let h = harness();
    let (id, events) = h.auction_with_bids().await;

    // When an admin exports it
    let request = Request::get(format!("/admin/auctions/{id}/export"))
        .header(
            "authorization",
            format!("Bearer {}", h.token("auditor-ada", &["admin"])),
        )
        .body(Body::empty())
        .unwrap();
    let response = h.router.clone().oneshot(request).await.unwrap();

    // Then the body is the stored events as the CLI exports them, one line each
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let stored = h
        .store
        .backend()
        .events(AuctionId(Uuid::parse_str(&id).unwrap()));
    assert_eq!(text, audit::export::encode_lines(&stored).unwrap());
    assert_eq!(text.lines().count(), events);
    // And it parses back into the same events
    assert_eq!(audit::export::parse_lines(&text).unwrap(), stored);
}
