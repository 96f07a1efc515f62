//! The admin routes over the in-memory event store: history, time travel, the tamper check and
//! the exports for admins; 403 for everyone else; 404 and 400 for unknown auctions and bad
//! parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use api::{App, Authenticator, FixedClock, LocalJwt, router};
use auction_events::{AuctionId, UserId};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, TimeDelta, TimeZone, Utc};
use event_store::testing::typed_history;
use event_store::{EventLog, InMemoryStore, Meter, SnapshotPolicy, Store, StoredEvent};
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

// ----------------------------------------------------------------------- GET /admin/events

/// `at` as a query parameter value.
fn param(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `minutes` after the start of the test.
fn minute(minutes: i64) -> DateTime<Utc> {
    start_of_test() + TimeDelta::minutes(minutes)
}

/// An auction whose event at version v has type `types[v - 1]` and occurred at `at(v)`.
fn history(types: &[&str], at: impl Fn(u64) -> DateTime<Utc>) -> Vec<StoredEvent> {
    typed_history(AuctionId(Uuid::new_v4()), types, at)
}

/// The order of the `byEventType` index in the in-memory twin.
fn index_order(events: &mut [StoredEvent]) {
    events.sort_by_key(|e| {
        (
            e.envelope.occurred_at,
            e.envelope.aggregate_id,
            e.envelope.version,
        )
    });
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The target of the `Link: <...>; rel="next"` header.
    fn next_link(&self) -> Option<String> {
        let link = self.header("link")?;
        let (target, relation) = link.split_once("; ")?;
        assert_eq!(relation, "rel=\"next\"", "{link}");
        Some(
            target
                .strip_prefix('<')
                .and_then(|t| t.strip_suffix('>'))
                .unwrap()
                .to_owned(),
        )
    }

    fn problem(&self) -> (StatusCode, Value) {
        (
            self.status,
            serde_json::from_str(&self.body).unwrap_or(Value::Null),
        )
    }
}

impl Harness {
    /// Puts events straight into the store, as if they had been appended at their own times.
    async fn store_events(&self, auctions: &[Vec<StoredEvent>]) {
        for events in auctions {
            self.store
                .backend()
                .append(events, &Meter::default())
                .await
                .unwrap();
        }
    }

    async fn events_page(&self, groups: &[&str], path: &str) -> Page {
        let request = Request::get(path)
            .header(
                "authorization",
                format!("Bearer {}", self.token("auditor-ada", groups)),
            )
            .body(Body::empty())
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    /// Follows `Link: rel="next"` from `path` to the end: every page, in order.
    async fn every_page(&self, path: &str) -> Vec<Page> {
        let mut pages = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(path) = next {
            let page = self.events_page(&["admin"], &path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
            assert_eq!(page.header("content-type"), Some("application/x-ndjson"));
            next = page.next_link();
            pages.push(page);
            assert!(pages.len() < 100, "the pages never end");
        }
        pages
    }
}

/// Three auctions with bids every minute from minute 1, interleaved (two of them bid in the
/// same minutes), and other event types among them.
fn three_auctions() -> Vec<Vec<StoredEvent>> {
    let types = [
        "AuctionCreated",
        "AuctionStarted",
        "BidPlaced",
        "BidPlaced",
        "BidPlaced",
        "BidPlaced",
    ];
    vec![
        history(&types, |v| minute(v as i64)),
        history(&types, |v| minute(v as i64)),
        history(&types, |v| {
            minute(v as i64) + TimeDelta::seconds(30) + TimeDelta::microseconds(1_500)
        }),
    ]
}

#[tokio::test]
async fn given_bids_over_time_when_an_admin_pages_through_a_range_then_each_bid_in_it_comes_once_in_time_order_as_the_cli_exports_it()
 {
    // Given three auctions' events, bids among other types
    let h = harness();
    let auctions = three_auctions();
    h.store_events(&auctions).await;
    let (from, to) = (minute(3), minute(5) + TimeDelta::seconds(30));

    // When an admin reads the bids from minute 3 to 5:30, two at a time, following the links
    let pages = h
        .every_page(&format!(
            "/admin/events?eventType=BidPlaced&from={}&to={}&limit=2",
            param(from),
            param(to)
        ))
        .await;

    // Then the pages hold exactly the bids in the range, each once, in time order
    let mut expected: Vec<StoredEvent> = auctions
        .concat()
        .into_iter()
        .filter(|e| e.envelope.event_type == "BidPlaced")
        .filter(|e| (from..=to).contains(&e.envelope.occurred_at))
        .collect();
    index_order(&mut expected);
    assert!(expected.len() > 4, "the range spans several pages");
    let body: String = pages.iter().map(|p| p.body.as_str()).collect();
    assert_eq!(audit::export::parse_lines(&body).unwrap(), expected);
    assert!(pages.iter().all(|p| p.body.lines().count() <= 2));
    // And the pages together are the CLI's export of that range, byte for byte
    let mut cli = String::new();
    audit::export::events_of_type(h.store.backend(), "BidPlaced", from, to, |page| {
        cli.push_str(&audit::export::encode_lines(&page)?);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(body, cli);
    assert_eq!(body, audit::export::encode_lines(&expected).unwrap());
    // And each Next-Cursor is the cursor of its Link, which repeats the query
    for page in &pages[..pages.len() - 1] {
        let link = page.next_link().unwrap();
        let cursor = page.header("next-cursor").unwrap();
        assert!(link.ends_with(&format!("&cursor={cursor}")), "{link}");
        assert!(link.starts_with("/admin/events?eventType=BidPlaced&from="));
        assert!(link.contains("&limit=2&"), "{link}");
    }
    assert_eq!(pages.last().unwrap().header("next-cursor"), None);
}

#[tokio::test]
async fn given_events_at_both_bounds_when_an_admin_asks_for_that_range_then_both_are_in_it_and_a_millisecond_beyond_is_not()
 {
    // Given bids a millisecond before, at, and a millisecond after each bound
    let h = harness();
    let ms = TimeDelta::milliseconds(1);
    let (from, to) = (minute(10), minute(20));
    let times = [from - ms, from, to, to + ms];
    let auction = history(&["BidPlaced"; 4], |v| times[v as usize - 1]);
    h.store_events(std::slice::from_ref(&auction)).await;

    // When an admin asks for exactly from..=to
    let page = h
        .events_page(
            &["admin"],
            &format!(
                "/admin/events?eventType=BidPlaced&from={}&to={}",
                param(from),
                param(to)
            ),
        )
        .await;

    // Then the two events at the bounds are the answer
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.body,
        audit::export::encode_lines(&auction[1..3]).unwrap()
    );
    assert_eq!(page.next_link(), None);
}

#[tokio::test]
async fn given_no_range_when_an_admin_asks_then_it_runs_from_the_beginning_to_now_and_the_next_page_keeps_that_now()
 {
    // Given bids long ago, now (the API clock's instant) and a minute from now
    let h = harness();
    let long_ago = Utc.with_ymd_and_hms(1999, 1, 1, 0, 0, 0).unwrap();
    let times = [long_ago, start_of_test(), minute(1)];
    let auction = history(&["BidPlaced"; 3], |v| times[v as usize - 1]);
    h.store_events(std::slice::from_ref(&auction)).await;

    // When an admin asks for the bids one at a time, without from or to
    let first = h
        .events_page(&["admin"], "/admin/events?eventType=BidPlaced&limit=1")
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        first.body,
        audit::export::encode_lines(&auction[..1]).unwrap()
    );
    // Then the link pins `to` at now
    let link = first.next_link().unwrap();
    assert!(link.contains("&to=2026-06-01T12%3A00%3A00.000Z&"), "{link}");
    // And the cursor alone continues the same listing, which ends at now
    let cursor = first.header("next-cursor").unwrap();
    let rest = h
        .every_page(&format!(
            "/admin/events?eventType=BidPlaced&limit=1&cursor={cursor}"
        ))
        .await;
    let body: String = rest.iter().map(|p| p.body.as_str()).collect();
    assert_eq!(body, audit::export::encode_lines(&auction[1..2]).unwrap());
}

#[tokio::test]
async fn given_a_bidder_when_they_ask_for_events_then_403_admin_only_whatever_the_parameters() {
    let h = harness();
    h.store_events(&three_auctions()).await;
    for query in [
        "eventType=BidPlaced",
        "eventType=NoSuchEvent",
        "",
        "eventType=BidPlaced&limit=0",
        "eventType=BidPlaced&from=yesterday",
        "eventType=BidPlaced&cursor=garbage",
    ] {
        let page = h
            .events_page(&["bidders"], &format!("/admin/events?{query}"))
            .await;
        assert_problem(&page.problem(), StatusCode::FORBIDDEN, "ADMIN_ONLY");
        assert_eq!(page.header("next-cursor"), None);
    }
}

#[tokio::test]
async fn given_bad_parameters_when_an_admin_asks_for_events_then_400_invalid_query() {
    let h = harness();
    h.store_events(&three_auctions()).await;
    let valid = "eventType=BidPlaced&from=2026-06-01T12:00:00Z&to=2026-06-01T13:00:00Z";
    for query in [
        "".to_owned(),
        "from=2026-06-01T12:00:00Z".to_owned(),
        "eventType=NoSuchEvent".to_owned(),
        "eventType=bidplaced".to_owned(),
        "eventType=".to_owned(),
        "eventType=BidPlaced&eventType=BidPlaced".to_owned(),
        "eventType=BidPlaced&from=yesterday".to_owned(),
        "eventType=BidPlaced&from=2026-06-01".to_owned(),
        "eventType=BidPlaced&to=2026-13-01T00:00:00Z".to_owned(),
        "eventType=BidPlaced&to=".to_owned(),
        "eventType=BidPlaced&from=2026-06-01T13:00:00Z&to=2026-06-01T12:00:00Z".to_owned(),
        // Without `to`, the range ends now: a `from` after now is an empty range
        format!("eventType=BidPlaced&from={}", param(minute(1))),
        format!("{valid}&limit=0"),
        format!("{valid}&limit=1001"),
        format!("{valid}&limit=-1"),
        format!("{valid}&limit=ten"),
        format!("{valid}&limit="),
        format!("{valid}&status=active"),
    ] {
        let page = h
            .events_page(&["admin"], &format!("/admin/events?{query}"))
            .await;
        assert_problem(&page.problem(), StatusCode::BAD_REQUEST, "INVALID_QUERY");
    }
    // And the known types are named
    let page = h
        .events_page(&["admin"], "/admin/events?eventType=NoSuchEvent")
        .await;
    let detail = page.problem().1["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("BidPlaced") && detail.contains("AuctionCreated"),
        "{detail}"
    );
}

#[tokio::test]
async fn given_a_cursor_edited_or_from_another_query_when_it_is_used_then_400_invalid_cursor() {
    // Given the first page of bids from minute 1 to minute 9
    let h = harness();
    h.store_events(&three_auctions()).await;
    let (from, to) = (param(minute(1)), param(minute(9)));
    let query = format!("eventType=BidPlaced&from={from}&to={to}&limit=2");
    let first = h
        .events_page(&["admin"], &format!("/admin/events?{query}"))
        .await;
    let cursor = first.header("next-cursor").unwrap().to_owned();
    // (it continues its own query)
    let own = h
        .events_page(
            &["admin"],
            &format!("/admin/events?{query}&cursor={cursor}"),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);

    // When it is used with another type, another from or another to, or edited
    let decoded: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&cursor).unwrap()).unwrap();
    let edit = |field: &str, value: Value| {
        let mut edited = decoded.clone();
        edited[field] = value;
        URL_SAFE_NO_PAD.encode(edited.to_string())
    };
    let mut extra = decoded.clone();
    extra["more"] = json!(1);
    let mut missing = decoded.clone();
    missing.as_object_mut().unwrap().remove("version");
    let later = param(minute(10));
    let mut flipped = cursor.clone().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let cases = [
        format!("eventType=AuctionStarted&from={from}&to={to}&limit=2&cursor={cursor}"),
        format!("eventType=BidPlaced&from={to}&to={to}&cursor={cursor}"),
        format!("eventType=BidPlaced&from={from}&to={later}&cursor={cursor}"),
        format!("{query}&cursor={}", String::from_utf8(flipped).unwrap()),
        format!("{query}&cursor={}", &cursor[..cursor.len() - 4]),
        format!("{query}&cursor=not-a-cursor"),
        format!("{query}&cursor="),
        format!(
            "{query}&cursor={}",
            edit("eventType", json!("AuctionStarted"))
        ),
        format!("{query}&cursor={}", edit("from", json!(0))),
        format!("{query}&cursor={}", edit("occurredAt", json!(0))),
        format!("{query}&cursor={}", edit("occurredAt", json!(i64::MAX))),
        format!(
            "{query}&cursor={}",
            edit("aggregateId", json!("not-a-uuid"))
        ),
        format!("{query}&cursor={}", edit("version", json!(-1))),
        format!(
            "{query}&cursor={}",
            URL_SAFE_NO_PAD.encode(extra.to_string())
        ),
        format!(
            "{query}&cursor={}",
            URL_SAFE_NO_PAD.encode(missing.to_string())
        ),
    ];
    // Then each is refused
    for case in cases {
        let page = h
            .events_page(&["admin"], &format!("/admin/events?{case}"))
            .await;
        assert_problem(&page.problem(), StatusCode::BAD_REQUEST, "INVALID_CURSOR");
    }
}
