//! The admin routes over the in-memory event store: history, time travel, the tamper check,
//! the exports and the parked items (list and replay, through the real consumers over their
//! in-memory ports) for admins; 403 for everyone else; 404 and 400 for unknown auctions, items
//! and consumers and for bad parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use api::parked::{Parking, StoreLog};
use api::testing::{TestApp, TestResponse, start_of_test};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, TimeDelta, TimeZone, Utc};
use event_store::testing::typed_history;
use event_store::{EventLog, InMemoryStore, Meter, Store, StoredEvent};
use events::AuctionId;
use fan_out::{
    EntryFailure, InMemoryQueues, PublishError, Queue, QueueMessage, QueueSender, QueueUrls,
};
use notary::InMemoryHeads;
use parking::{Consumers, InMemoryParked, Parked, ParkedItems, ParkingError};
use read_models::{
    AuctionProjection, InMemoryViews, Projections, ProjectorError, ReadModels, UserBid, Written,
};
use serde_json::{Value, json};
use uuid::Uuid;

struct Harness {
    app: TestApp,
    store: Store<InMemoryStore>,
    /// What the API reads and a replay to the projector writes.
    views: Arc<InMemoryViews>,
    parked: Arc<InMemoryParked>,
    /// Where a replay to a queue consumer sends.
    queues: Arc<InMemoryQueues>,
}

/// One in-memory port shared by the test and the consumers a replay redelivers to.
struct Shared<T>(Arc<T>);

impl<T: Projections> Projections for Shared<T> {
    async fn load(
        &self,
        auction_id: AuctionId,
    ) -> Result<Option<AuctionProjection>, ProjectorError> {
        self.0.load(auction_id).await
    }

    async fn put_projection(
        &self,
        projection: &AuctionProjection,
    ) -> Result<Written, ProjectorError> {
        self.0.put_projection(projection).await
    }

    async fn put_user_bid(&self, row: &UserBid) -> Result<Written, ProjectorError> {
        self.0.put_user_bid(row).await
    }
}

impl<T: QueueSender> QueueSender for Shared<T> {
    async fn send_batch(
        &self,
        queue_url: &str,
        messages: &[QueueMessage],
    ) -> Result<Vec<Result<(), EntryFailure>>, PublishError> {
        self.0.send_batch(queue_url, messages).await
    }
}

impl<T: ParkedItems> ParkedItems for Shared<T> {
    async fn put(&self, item: &Parked) -> Result<(), ParkingError> {
        self.0.put(item).await
    }

    async fn list(&self, consumer: Option<&str>) -> Result<Vec<Parked>, ParkingError> {
        self.0.list(consumer).await
    }

    async fn get(&self, consumer: &str, parked_id: &str) -> Result<Option<Parked>, ParkingError> {
        self.0.get(consumer, parked_id).await
    }

    async fn remove(&self, consumer: &str, parked_id: &str) -> Result<bool, ParkingError> {
        self.0.remove(consumer, parked_id).await
    }
}

fn queue_url(queue: Queue) -> String {
    format!("memory://{}", queue.default_name())
}

/// The API with the real consumers (the projector's handler, the queues' messages) over
/// in-memory ports that the test shares, for the replays; the seller and the two bidders of
/// [`Harness::auction_with_bids`] have a card and a payout account on file, registered through
/// the routes.
async fn harness() -> Harness {
    let parked = Arc::new(InMemoryParked::new());
    let queues = Arc::new(InMemoryQueues::new());
    let app = TestApp::builder()
        .parked({
            let (parked, queues) = (Arc::clone(&parked), Arc::clone(&queues));
            move |store, views| {
                let consumers = Consumers::new(
                    StoreLog::new(store.clone()),
                    Shared(Arc::clone(views)),
                    InMemoryHeads::new(),
                    Shared(queues),
                    QueueUrls::from_fn(queue_url),
                );
                Arc::new(Parking::new(
                    Shared(parked),
                    StoreLog::new(store.clone()),
                    consumers,
                ))
            }
        })
        .build();
    app.with_identities(&["seller-ann", "bidder-bob", "bidder-cat"])
        .await;
    Harness {
        store: app.store.clone(),
        views: Arc::clone(&app.views),
        app,
        parked,
        queues,
    }
}

/// The status and the JSON body (`null` when not JSON).
fn status_and_body(reply: &TestResponse) -> (StatusCode, Value) {
    (
        reply.status,
        serde_json::from_slice(&reply.bytes).unwrap_or(Value::Null),
    )
}

impl Harness {
    async fn post(&self, user: &str, path: &str, body: Value, key: &str) -> (StatusCode, Value) {
        status_and_body(&self.app.post(user, path, body, Some(key)).await)
    }

    async fn get_as(&self, user: &str, groups: &[&str], path: &str) -> (StatusCode, Value) {
        status_and_body(&self.app.get_in(user, groups, path).await)
    }

    async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as("auditor-ada", &["admin"], path).await
    }

    /// Each of `paths`, asked by an admin, is refused with `status` and `code`.
    async fn assert_admin_gets_refused(
        &self,
        paths: impl IntoIterator<Item = String>,
        status: StatusCode,
        code: &str,
    ) {
        for path in paths {
            assert_problem(&self.admin_get(&path).await, status, code);
        }
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
    let h = harness().await;
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
    let h = harness().await;
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
    let h = harness().await;
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
    let h = harness().await;
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
    let h = harness().await;
    let unknown = Uuid::new_v4();
    h.assert_admin_gets_refused(
        ["history", "state?version=1", "verify", "export"]
            .map(|path| format!("/admin/auctions/{unknown}/{path}")),
        StatusCode::NOT_FOUND,
        "AUCTION_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn given_bad_version_or_at_when_the_state_is_asked_then_400_invalid_query() {
    let h = harness().await;
    let (id, events) = h.auction_with_bids().await;
    let beyond = format!("version={}", events + 1);
    let paths = [
        "version=0",
        beyond.as_str(),
        "version=abc",
        "version=-1",
        "at=yesterday",
        "at=2026-06-01",
        "version=1&at=2026-06-01T12:00:00Z",
        "",
        "when=now",
    ]
    .map(|query| format!("/admin/auctions/{id}/state?{query}"));
    h.assert_admin_gets_refused(paths, StatusCode::BAD_REQUEST, "INVALID_QUERY")
        .await;
}

#[tokio::test]
async fn given_an_admin_when_an_auction_is_exported_then_the_json_lines_are_its_stored_events() {
    // Given an auction with two bids
    let h = harness().await;
    let (id, events) = h.auction_with_bids().await;

    // When an admin exports it
    let response = h
        .app
        .get_in(
            "auditor-ada",
            &["admin"],
            &format!("/admin/auctions/{id}/export"),
        )
        .await;

    // Then the body is the stored events as the CLI exports them, one line each, each beside
    // what its pseudonyms reveal
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.headers["content-type"], "application/x-ndjson");
    let text = String::from_utf8(response.bytes.to_vec()).unwrap();
    let stored = h
        .store
        .backend()
        .events(AuctionId(Uuid::parse_str(&id).unwrap()));
    assert_eq!(text.lines().count(), events);
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let seller = h.app.pseudonym("seller-ann").await;
    assert_eq!(first["sellerId"], Value::Null);
    assert_eq!(first["payload"]["sellerId"], seller.as_str());
    assert_eq!(first["revealed"][seller.as_str()], "seller-ann");
    // And it parses back into the same events (an import ignores what was revealed)
    assert_eq!(audit::export::parse_lines(&text).unwrap(), stored);
    let mut stripped = String::new();
    for line in text.lines() {
        let mut value: Value = serde_json::from_str(line).unwrap();
        value.as_object_mut().unwrap().remove("revealed");
        stripped.push_str(&value.to_string());
        stripped.push('\n');
    }
    assert_eq!(stripped, audit::export::encode_lines(&stored).unwrap());
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

/// The order of the audit index (`byTypeShard`) in the in-memory twin.
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
        let response = self.app.get_in("auditor-ada", groups, path).await;
        Page {
            body: String::from_utf8(response.bytes.to_vec()).unwrap(),
            status: response.status,
            headers: response.headers,
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
    let h = harness().await;
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
    let h = harness().await;
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
    let h = harness().await;
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
    let h = harness().await;
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
    let h = harness().await;
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
    let h = harness().await;
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

// -------------------------------------------------------------------------- parked items

/// What a consumer gave up on: `auction`'s versions `from..=to`, as the parker parks them.
fn parked_item(consumer: &str, auction: AuctionId, from: u64, to: u64, types: &[&str]) -> Parked {
    Parked {
        consumer: consumer.to_owned(),
        aggregate_id: auction,
        from_version: from,
        to_version: to,
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        last_error: "condition RetryAttemptsExhausted after 4 invocations".to_owned(),
        attempts: 4,
        failed_replays: 0,
        parked_at: start_of_test() - TimeDelta::minutes(5),
        origin: "shardId-000001 sequence 100..=300".to_owned(),
    }
}

/// The replay route of an item: its `#` percent-encoded, as a client must send it.
fn replay_path(consumer: &str, parked_id: &str) -> String {
    format!(
        "/admin/parked/{consumer}/{}/replay",
        parked_id.replace('#', "%23")
    )
}

impl Harness {
    async fn post_as(&self, user: &str, groups: &[&str], path: &str) -> (StatusCode, Value) {
        status_and_body(&self.app.post_in(user, groups, path).await)
    }

    async fn admin_replay(&self, consumer: &str, parked_id: &str) -> (StatusCode, Value) {
        self.post_as("auditor-ada", &["admin"], &replay_path(consumer, parked_id))
            .await
    }

    /// The auction with two bids, all its events parked by the projector (as a batch its
    /// mapping gave up on) and its last bid by the notifier (as a DLQ's message).
    async fn parked_auction(&self) -> (AuctionId, Parked, Parked) {
        let (id, events) = self.auction_with_bids().await;
        let auction = AuctionId(Uuid::parse_str(&id).unwrap());
        let last = u64::try_from(events).unwrap();
        let mut types: Vec<String> = Vec::new();
        for stored in self.store.backend().events(auction) {
            let event_type = stored.envelope.event_type.clone();
            if !types.contains(&event_type) {
                types.push(event_type);
            }
        }
        let types: Vec<&str> = types.iter().map(String::as_str).collect();
        let projector = parked_item("projector", auction, 1, last, &types);
        let notifier = parked_item("notifier", auction, last, last, &["BidPlaced"]);
        self.parked.put(&projector).await.unwrap();
        self.parked.put(&notifier).await.unwrap();
        (auction, projector, notifier)
    }

    async fn parked_items(&self) -> Vec<Parked> {
        self.parked.list(None).await.unwrap()
    }
}

#[tokio::test]
async fn given_a_bidder_when_they_list_or_replay_parked_items_then_403_admin_only_and_nothing_is_replayed()
 {
    let h = harness().await;
    let (auction, projector, _) = h.parked_auction().await;
    let before = h.parked_items().await;
    // Whatever the path and query: the group is checked first
    for reply in [
        h.get_as("bidder-bob", &[], "/admin/parked").await,
        h.get_as("bidder-bob", &[], "/admin/parked?consumer=nobody")
            .await,
        h.post_as(
            "bidder-bob",
            &["bidders"],
            &replay_path("projector", &projector.parked_id()),
        )
        .await,
        h.post_as("bidder-bob", &[], &replay_path("nobody", "x"))
            .await,
    ] {
        assert_problem(&reply, StatusCode::FORBIDDEN, "ADMIN_ONLY");
    }
    assert_eq!(h.parked_items().await, before);
    assert_eq!(h.views.auction(auction).await.unwrap(), None);
}

#[tokio::test]
async fn given_parked_items_when_an_admin_lists_them_then_every_field_comes_and_a_consumer_filter_keeps_its_own()
 {
    let h = harness().await;
    let (auction, projector, notifier) = h.parked_auction().await;
    // Every item, ordered by consumer and id
    let (status, body) = h.admin_get("/admin/parked").await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0],
        json!({
            "consumer": "notifier",
            "parkedId": notifier.parked_id(),
            "aggregateId": auction.to_string(),
            "fromVersion": notifier.from_version,
            "toVersion": notifier.to_version,
            "eventTypes": ["BidPlaced"],
            "lastError": "condition RetryAttemptsExhausted after 4 invocations",
            "attempts": 4,
            "failedReplays": 0,
            "parkedAt": "2026-06-01T11:55:00Z",
            "origin": "shardId-000001 sequence 100..=300",
        })
    );
    assert_eq!(items[1]["consumer"], "projector");
    assert_eq!(items[1]["parkedId"], projector.parked_id());
    assert_eq!(items[1]["eventTypes"], json!(projector.event_types));
    assert_eq!(items[1]["toVersion"], projector.to_version);
    // One consumer's
    let (status, body) = h.admin_get("/admin/parked?consumer=projector").await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["parkedId"], projector.parked_id());
    // A consumer with nothing parked
    let (status, body) = h.admin_get("/admin/parked?consumer=payment-saga").await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body, json!({"items": []}));
}

#[tokio::test]
async fn given_an_unknown_consumer_or_parameter_when_an_admin_lists_or_replays_then_400_and_nothing_changes()
 {
    let h = harness().await;
    let (auction, projector, _) = h.parked_auction().await;
    let before = h.parked_items().await;
    for path in [
        "/admin/parked?consumer=Projector",
        "/admin/parked?consumer=",
    ] {
        assert_problem(
            &h.admin_get(path).await,
            StatusCode::BAD_REQUEST,
            "UNKNOWN_CONSUMER",
        );
    }
    assert_problem(
        &h.admin_get("/admin/parked?customer=projector").await,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY",
    );
    // The projector's item, named under a consumer that does not exist
    assert_problem(
        &h.admin_replay("auditor", &projector.parked_id()).await,
        StatusCode::BAD_REQUEST,
        "UNKNOWN_CONSUMER",
    );
    assert_eq!(h.parked_items().await, before);
    assert_eq!(h.views.auction(auction).await.unwrap(), None);
}

#[tokio::test]
async fn given_a_parked_projector_item_when_an_admin_replays_it_then_the_view_reaches_its_last_version_and_the_item_is_gone()
 {
    let h = harness().await;
    let (auction, projector, notifier) = h.parked_auction().await;
    // Before: the projector never wrote the view
    assert_eq!(h.views.auction(auction).await.unwrap(), None);
    let (status, body) = h.admin_replay("projector", &projector.parked_id()).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    // The answer is the item as it was
    assert_eq!(body["parkedId"], projector.parked_id());
    assert_eq!(body["consumer"], "projector");
    assert_eq!(body["toVersion"], projector.to_version);
    // The view is the fold of every event
    let view = h.views.auction(auction).await.unwrap().expect("the view");
    assert_eq!(view.version, projector.to_version);
    assert_eq!(view.bid_count, 2);
    // The item is gone; the notifier's is untouched, and nothing went to a queue
    assert_eq!(h.parked_items().await, vec![notifier]);
    assert!(h.queues.requests().is_empty());
    // A second replay of the same id: it is not parked any more
    assert_problem(
        &h.admin_replay("projector", &projector.parked_id()).await,
        StatusCode::NOT_FOUND,
        "NOT_PARKED",
    );
}

#[tokio::test]
async fn given_no_such_item_when_an_admin_replays_it_then_404_not_parked_and_nothing_changes() {
    let h = harness().await;
    let (auction, projector, _) = h.parked_auction().await;
    let before = h.parked_items().await;
    let other_auction = AuctionId(Uuid::new_v4());
    for (consumer, parked_id) in [
        // An id of another consumer's item
        ("publisher", projector.parked_id()),
        // Another range of the same auction
        (
            "projector",
            parked_item("projector", auction, 1, 2, &[]).parked_id(),
        ),
        (
            "projector",
            parked_item("projector", other_auction, 1, 1, &[]).parked_id(),
        ),
        ("projector", "not-an-id".to_owned()),
    ] {
        assert_problem(
            &h.admin_replay(consumer, &parked_id).await,
            StatusCode::NOT_FOUND,
            "NOT_PARKED",
        );
    }
    assert_eq!(h.parked_items().await, before);
    assert_eq!(h.views.auction(auction).await.unwrap(), None);
    assert!(h.queues.requests().is_empty());
}

#[tokio::test]
async fn given_an_unreachable_queue_when_an_admin_replays_a_notifier_item_then_502_replay_failed_and_the_item_stays_with_one_failed_replay()
 {
    let h = harness().await;
    let (_, projector, notifier) = h.parked_auction().await;
    let notifications = queue_url(Queue::Notifications);
    h.queues.fail_next_requests(&notifications, 1);
    let reply = h.admin_replay("notifier", &notifier.parked_id()).await;
    assert_problem(&reply, StatusCode::BAD_GATEWAY, "REPLAY_FAILED");
    assert!(
        reply.1["detail"].as_str().unwrap().contains("notifier"),
        "{:?}",
        reply.1
    );
    // The item stays, its failure counted and recorded; the other is untouched
    let after = h.parked_items().await;
    assert_eq!(after.len(), 2);
    let stayed = after.iter().find(|i| i.consumer == "notifier").unwrap();
    assert_eq!(stayed.failed_replays, 1);
    assert!(
        stayed.last_error.starts_with("replay failed: "),
        "{}",
        stayed.last_error
    );
    assert!(after.contains(&projector));
    assert!(h.queues.messages(&notifications).is_empty());
    // Once the queue answers, the same replay delivers the bid's message and removes the item
    let (status, body) = h.admin_replay("notifier", &notifier.parked_id()).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body["failedReplays"], 1);
    let sent = h.queues.messages(&notifications);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].deduplication_id.contains("#replay-"),
        "{:?}",
        sent[0]
    );
    assert_eq!(h.parked_items().await, vec![projector]);
}

#[tokio::test]
async fn given_consumers_that_cannot_be_built_when_an_admin_replays_then_503_and_the_item_is_untouched_and_a_missing_one_is_still_404()
 {
    // As the binaries wire it: the consumers are built on the first replay, here failing as an
    // unresolvable queue URL does.
    let parked = Arc::new(InMemoryParked::new());
    let connect: api::parked::Connect<
        Consumers<StoreLog<InMemoryStore>, InMemoryViews, InMemoryQueues, InMemoryHeads>,
    > = Box::new(|| {
        Box::pin(async {
            Err(ParkingError::Unreachable {
                consumer: "the queues".to_owned(),
                reason: "GetQueueUrl: connection refused".to_owned(),
            })
        })
    });
    let app = TestApp::builder()
        .parked({
            let parked = Arc::clone(&parked);
            move |store, _| {
                Arc::new(Parking::connecting(
                    Shared(parked),
                    StoreLog::new(store.clone()),
                    connect,
                ))
            }
        })
        .build();
    let item = parked_item(
        "projector",
        AuctionId(Uuid::new_v4()),
        1,
        1,
        &["AuctionCreated"],
    );
    parked.put(&item).await.unwrap();
    let h = Harness {
        store: app.store.clone(),
        views: Arc::clone(&app.views),
        app,
        parked,
        queues: Arc::new(InMemoryQueues::new()),
    };
    let reply = h.admin_replay("projector", &item.parked_id()).await;
    assert_problem(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(h.parked_items().await, vec![item.clone()]);
    assert_problem(
        &h.admin_replay("projector", "not-an-id").await,
        StatusCode::NOT_FOUND,
        "NOT_PARKED",
    );
    // Listing needs no consumers
    let (status, body) = h.admin_get("/admin/parked").await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body["items"][0]["parkedId"], item.parked_id());
}

/// A test double of the KMS key: "signs" with a SHA-256 of the message. The route serves the
/// proof, whose checks are the verifier's; the signature's own tests are the verifier's.
struct HashSigner;

impl notary::Signer for HashSigner {
    async fn key_id(&self) -> Result<String, notary::NotaryError> {
        Ok("test-key".to_owned())
    }
    async fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, notary::NotaryError> {
        use sha2::Digest as _;
        Ok(sha2::Sha256::digest(message).to_vec())
    }
}

impl Harness {
    /// Another open auction (no bids): a second stream.
    async fn another_auction(&self, key: &str) -> String {
        let (status, body) = self
            .post(
                "seller-ann",
                "/auctions",
                json!({
                    "title": "Copper kettle",
                    "currency": "EUR",
                    "startingPrice": 500,
                    "endsAt": (start_of_test() + TimeDelta::days(1)).to_rfc3339(),
                }),
                key,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body:?}");
        body["auctionId"].as_str().unwrap().to_owned()
    }

    /// Moves the heads of these streams, as the projector does, then writes a digest of every
    /// head.
    async fn digest(&self, ids: &[&str]) -> u64 {
        use notary::AdvanceHeads as _;
        for id in ids {
            let events = self.store.backend().events(Uuid::parse_str(id).unwrap());
            let last = events.last().unwrap();
            self.app
                .heads
                .advance(&[notary::StreamHead {
                    aggregate_type: last.envelope.aggregate_type.clone(),
                    aggregate_id: last.envelope.aggregate_id,
                    version: last.version(),
                    head: last.hash.clone(),
                }])
                .await
                .unwrap();
        }
        notary::publish(
            &*self.app.heads,
            &HashSigner,
            &*self.app.archive,
            start_of_test(),
        )
        .await
        .unwrap()
        .sequence
    }
}

#[tokio::test]
async fn given_a_digest_when_an_admin_asks_for_a_proof_then_it_carries_the_event_the_chain_to_the_head_and_the_path()
 {
    // Given an auction of three events, in a digest with another stream
    let h = harness().await;
    let (id, events) = h.auction_with_bids().await;
    let other = h.another_auction("create-other").await;
    assert_eq!(h.digest(&[&id, &other]).await, 1);
    // When an admin asks for the proof of version 2
    let (status, proof) = h.admin_get(&format!("/admin/proofs/Auction/{id}/2")).await;
    // Then it names the digest, the hash before the event, every event from it to the head,
    // and a path in a tree of two
    assert_eq!(status, StatusCode::OK, "{proof}");
    assert_eq!(proof["format"], "auction-log-proof/1");
    assert_eq!(proof["digest"]["sequence"], 1);
    assert_eq!(proof["digest"]["key"], "digests/000000000001.json");
    assert_eq!(proof["treeSize"], 2);
    assert_eq!(proof["auditPath"].as_array().unwrap().len(), 1);
    let stored = h.store.backend().events(Uuid::parse_str(&id).unwrap());
    assert_eq!(proof["previous"], stored[0].hash);
    let envelopes = proof["envelopes"].as_array().unwrap();
    assert_eq!(envelopes.len(), events - 1);
    let first: Value = serde_json::from_str(envelopes[0].as_str().unwrap()).unwrap();
    assert_eq!(first["version"], 2);
    assert_eq!(
        envelopes[0].as_str().unwrap(),
        event_store::chain::content(&stored[1].envelope)
    );
    // And against a digest named explicitly, the same
    let (status, named) = h
        .admin_get(&format!("/admin/proofs/Auction/{id}/2?digest=1"))
        .await;
    assert_eq!((status, named), (StatusCode::OK, proof));
}

#[tokio::test]
async fn given_proofs_that_cannot_be_cut_when_an_admin_asks_then_each_is_refused_with_its_code() {
    let h = harness().await;
    let (id, events) = h.auction_with_bids().await;
    // No digest yet
    assert_problem(
        &h.admin_get(&format!("/admin/proofs/Auction/{id}/1")).await,
        StatusCode::NOT_FOUND,
        "DIGEST_NOT_FOUND",
    );
    h.digest(&[&id]).await;
    let later = h.another_auction("create-later").await;
    for (path, status, code) in [
        // A stream that began after the digest
        (
            format!("/admin/proofs/Auction/{later}/1"),
            StatusCode::NOT_FOUND,
            "NOT_IN_DIGEST",
        ),
        // The stream under another type
        (
            format!("/admin/proofs/Item/{id}/1"),
            StatusCode::NOT_FOUND,
            "NOT_IN_DIGEST",
        ),
        // An event after the digest's head
        (
            format!("/admin/proofs/Auction/{id}/{}", events + 1),
            StatusCode::CONFLICT,
            "NOT_YET_DIGESTED",
        ),
        // A digest that was never written
        (
            format!("/admin/proofs/Auction/{id}/1?digest=7"),
            StatusCode::NOT_FOUND,
            "DIGEST_NOT_FOUND",
        ),
        // Paths that name no stream
        (
            format!("/admin/proofs/Bid/{id}/1"),
            StatusCode::NOT_FOUND,
            "STREAM_NOT_FOUND",
        ),
        (
            "/admin/proofs/Auction/not-a-uuid/1".to_owned(),
            StatusCode::NOT_FOUND,
            "STREAM_NOT_FOUND",
        ),
        // Bad versions and digests
        (
            format!("/admin/proofs/Auction/{id}/0"),
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
        ),
        (
            format!("/admin/proofs/Auction/{id}/x"),
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
        ),
        (
            format!("/admin/proofs/Auction/{id}/1?digest=0"),
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
        ),
        (
            format!("/admin/proofs/Auction/{id}/1?digest=x"),
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
        ),
        (
            format!("/admin/proofs/Auction/{id}/1?other=1"),
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
        ),
    ] {
        let reply = h.admin_get(&path).await;
        assert_problem(&reply, status, code);
        assert!(!reply.1["detail"].as_str().unwrap().is_empty(), "{path}");
    }
    // And a bidder learns nothing
    assert_problem(
        &h.get_as("bidder-bob", &[], &format!("/admin/proofs/Auction/{id}/1"))
            .await,
        StatusCode::FORBIDDEN,
        "ADMIN_ONLY",
    );
}
