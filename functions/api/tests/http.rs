//! The router over the in-memory event store: every route, every error code, the authz matrix,
//! correlation ids, idempotent retries and the Lambda identity path. No network.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::testing::{TestApp, TestResponse as Reply, start_of_test};
use api::throttle::WriteRate;
use api::{ApiError, LocalJwt};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, TimeDelta, Utc};
use event_store::{EventLog, Meter, StoreError};
use events::{AuctionEvent, AuctionId, UserId};
use http_body_util::BodyExt;
use read_models::Projections;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tower::ServiceExt;
use uuid::Uuid;

/// The users these tests sell, bid and buy as.
const CAST: &[&str] = &["seller-ann", "bidder-bob", "bidder-cat"];

/// The API with a card and a payout account on file for each of [`CAST`], registered through
/// the routes: what every test of the other routes starts from.
async fn harness() -> TestApp {
    let h = TestApp::new();
    h.with_identities(CAST).await;
    h
}

/// The steps these tests take on the API, in its own words.
trait Steps {
    /// An auction by seller-ann that is open for bids now, with a reserve and a buy-now price.
    async fn open_auction(&self) -> String;
    /// `POST /auctions` by seller-ann with this body, under an `Idempotency-Key` if given.
    async fn create(&self, body: Value, key: Option<&str>) -> Reply;
    async fn bid(&self, user: &str, auction: &str, amount: i64, key: &str) -> Reply;
    /// A bid up to `max` by proxy, opening at `amount`.
    async fn bid_up_to(&self, user: &str, auction: &str, amount: i64, max: i64, key: &str)
    -> Reply;
    /// A bid with no `Idempotency-Key` at all.
    async fn bid_without_key(&self, user: &str, auction: &str, amount: i64) -> Reply;
    async fn buy_now(&self, user: &str, auction: &str, key: &str) -> Reply;
    /// `POST /auctions/{auction}/cancel` by `user` with this JSON body.
    async fn cancel(&self, user: &str, auction: &str, body: Value) -> Reply;
    /// `POST /auctions/{auction}/start` by `user` with an empty JSON object.
    async fn start(&self, user: &str, auction: &str) -> Reply;
    /// A GET with no token.
    async fn get_anonymous(&self, path: &str) -> Reply;
    /// A GET presenting exactly this bearer token.
    async fn get_with_token(&self, token: &str, path: &str) -> Reply;
    /// A POST by `user` with exactly this content type (if any) and body.
    async fn post_raw(
        &self,
        user: &str,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply;
    /// Runs the projector over the auction's events not yet in its views, as the stream would.
    async fn project(&self, auction: &str);
    fn event_count(&self, auction: &str) -> usize;
    /// The amounts of the bids in the auction's log, in order.
    fn bid_amounts(&self, auction: &str) -> Vec<i64>;
}

impl Steps for TestApp {
    async fn open_auction(&self) -> String {
        let reply = self.create(auction_body(), None).await;
        assert_created(&reply);
        reply.body["auctionId"].as_str().unwrap().to_owned()
    }

    async fn create(&self, body: Value, key: Option<&str>) -> Reply {
        self.post("seller-ann", "/auctions", body, key).await
    }

    async fn bid(&self, user: &str, auction: &str, amount: i64, key: &str) -> Reply {
        self.post(
            user,
            &format!("/auctions/{auction}/bids"),
            json!({"amount": amount, "currency": "EUR"}),
            Some(key),
        )
        .await
    }

    async fn bid_up_to(
        &self,
        user: &str,
        auction: &str,
        amount: i64,
        max: i64,
        key: &str,
    ) -> Reply {
        self.post(
            user,
            &format!("/auctions/{auction}/bids"),
            json!({"amount": amount, "maxAmount": max, "currency": "EUR"}),
            Some(key),
        )
        .await
    }

    async fn bid_without_key(&self, user: &str, auction: &str, amount: i64) -> Reply {
        self.post(
            user,
            &format!("/auctions/{auction}/bids"),
            json!({"amount": amount, "currency": "EUR"}),
            None,
        )
        .await
    }

    async fn buy_now(&self, user: &str, auction: &str, key: &str) -> Reply {
        self.post_empty(user, &format!("/auctions/{auction}/buy-now"), Some(key))
            .await
    }

    async fn cancel(&self, user: &str, auction: &str, body: Value) -> Reply {
        self.post(user, &format!("/auctions/{auction}/cancel"), body, None)
            .await
    }

    async fn start(&self, user: &str, auction: &str) -> Reply {
        self.post(user, &format!("/auctions/{auction}/start"), json!({}), None)
            .await
    }

    async fn get_anonymous(&self, path: &str) -> Reply {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn get_with_token(&self, token: &str, path: &str) -> Reply {
        self.send(
            Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post_raw(
        &self,
        user: &str,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::post(path).header("authorization", self.bearer(user));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    async fn project(&self, auction: &str) {
        let id = AuctionId(Uuid::parse_str(auction).unwrap());
        let mut current = self.views.load(id).await.unwrap();
        let after = current.as_ref().map_or(0, |p| p.version());
        let log = self.store.backend();
        for stored in log.read_after(id, after, &Meter::default()).await.unwrap() {
            let event = stored.decode().unwrap();
            current = read_models::apply(self.views.as_ref(), log, current, &event)
                .await
                .unwrap()
                .1;
        }
    }

    fn event_count(&self, auction: &str) -> usize {
        let id = AuctionId(Uuid::parse_str(auction).unwrap());
        self.store.backend().events(id).len()
    }

    fn bid_amounts(&self, auction: &str) -> Vec<i64> {
        let id = AuctionId(Uuid::parse_str(auction).unwrap());
        self.store
            .backend()
            .events(id)
            .iter()
            .filter_map(|e| match e.decode::<AuctionEvent>().unwrap().event {
                AuctionEvent::BidPlaced(bid) => Some(bid.amount.amount_minor),
                _ => None,
            })
            .collect()
    }
}

fn auction_body() -> Value {
    json!({
        "title": "Brass telescope",
        "description": "Victorian, working",
        "currency": "EUR",
        "startingPrice": 1_000,
        "reservePrice": 5_000,
        "buyNowPrice": 20_000,
        "increment": {"kind": "fixed", "amountMinor": 100},
        "endsAt": (start_of_test() + TimeDelta::days(1)).to_rfc3339(),
        "softClose": {"windowSeconds": 120, "extensionSeconds": 120}
    })
}

fn assert_created(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

/// The retry was answered with the first answer (201), replayed.
fn assert_replays(retry: &Reply, first: &Reply) {
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(first.body, retry.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
}

/// The key was used before for something else: 422, and nothing done.
fn assert_key_reused(reply: &Reply) {
    assert_problem(
        reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    );
}

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(
        reply.headers["content-type"], "application/problem+json",
        "{:?}",
        reply.body
    );
    assert_eq!(reply.body["code"], code, "{:?}", reply.body);
    assert_eq!(reply.body["status"], status.as_u16());
    assert!(
        reply.body["type"]
            .as_str()
            .unwrap()
            .ends_with(&code.to_ascii_lowercase())
    );
    assert!(reply.body["title"].is_string() && reply.body["detail"].is_string());
}

// ----------------------------------------------------------------------------------- routes

#[tokio::test]
async fn given_a_seller_when_they_create_an_auction_without_start_time_then_it_is_created_active_with_a_location()
 {
    let h = harness().await;
    let reply = h.create(auction_body(), None).await;
    assert_created(&reply);
    let id = reply.body["auctionId"].as_str().unwrap();
    assert_eq!(
        reply.headers["location"],
        format!("/auctions/{id}").as_str()
    );
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body["version"], 2, "created and started");
    assert_eq!(h.event_count(id), 2);
}

#[tokio::test]
async fn given_an_idempotency_key_when_creation_is_retried_then_the_same_auction_is_returned_and_nothing_is_appended()
 {
    let h = harness().await;
    let first = h.create(auction_body(), Some("create-1")).await;
    let retry = h.create(auction_body(), Some("create-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_replays(&retry, &first);
    let id = first.body["auctionId"].as_str().unwrap();
    assert_eq!(h.event_count(id), 2);
}

#[tokio::test]
async fn given_a_scheduled_auction_when_its_seller_starts_it_at_its_start_time_then_it_is_active() {
    let h = harness().await;
    let mut body = auction_body();
    body["startsAt"] = json!((start_of_test() + TimeDelta::hours(1)).to_rfc3339());
    let created = h.create(body, None).await;
    assert_eq!(created.body["status"], "scheduled");
    let id = created.body["auctionId"].as_str().unwrap();

    let early = h.start("seller-ann", id).await;
    assert_problem(&early, StatusCode::CONFLICT, "TOO_EARLY_TO_START");

    h.clock.advance(TimeDelta::hours(1));
    let started = h
        .post_empty("seller-ann", &format!("/auctions/{id}/start"), None)
        .await;
    assert_eq!(started.status, StatusCode::OK, "{:?}", started.body);
    assert_eq!(started.body["status"], "active");
    assert_eq!(started.body["version"], 2);
}

#[tokio::test]
async fn given_an_auction_without_bids_when_its_seller_cancels_it_with_a_reason_then_it_is_cancelled()
 {
    let h = harness().await;
    let id = h.open_auction().await;
    let reply = h
        .cancel("seller-ann", &id, json!({"reason": "sold elsewhere"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "cancelled");
    let view = h.get("bidder-bob", &format!("/auctions/{id}")).await;
    assert_eq!(view.body["status"], "cancelled");
}

#[tokio::test]
async fn given_an_empty_body_when_the_seller_cancels_then_it_is_cancelled_without_a_reason() {
    let h = harness().await;
    let id = h.open_auction().await;
    let reply = h
        .post_empty("seller-ann", &format!("/auctions/{id}/cancel"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "cancelled");
}

#[tokio::test]
async fn given_a_non_json_body_when_cancelling_then_415_and_nothing_is_appended() {
    let h = harness().await;
    let id = h.open_auction().await;
    let reply = h
        .post_raw(
            "seller-ann",
            &format!("/auctions/{id}/cancel"),
            Some("text/plain"),
            "because",
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    assert_eq!(h.event_count(&id), 2);
}

#[tokio::test]
async fn given_an_open_auction_when_a_bidder_bids_then_201_says_they_lead_at_the_new_price() {
    let h = harness().await;
    let id = h.open_auction().await;
    let reply = h.bid("bidder-bob", &id, 1_500, "bid-1").await;
    assert_created(&reply);
    assert_eq!(reply.body["accepted"], true);
    assert_eq!(reply.body["leading"], true);
    assert_eq!(
        reply.body["currentPrice"],
        json!({"amountMinor": 1_500, "currency": "EUR"})
    );
    assert_eq!(reply.body["version"], 3);
    assert!(Uuid::parse_str(reply.body["bidId"].as_str().unwrap()).is_ok());
    assert!(reply.headers.get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn given_a_higher_proxy_maximum_when_another_bidder_bids_below_it_then_they_are_told_they_do_not_lead()
 {
    let h = harness().await;
    let id = h.open_auction().await;
    let bob = h.bid_up_to("bidder-bob", &id, 1_000, 3_000, "bob-1").await;
    assert_created(&bob);
    let cat = h.bid("bidder-cat", &id, 2_000, "cat-1").await;
    assert_created(&cat);
    assert_eq!(cat.body["leading"], false);
    assert_eq!(cat.body["currentPrice"]["amountMinor"], 2_100);
}

#[tokio::test]
async fn given_an_accepted_bid_when_it_is_retried_with_the_same_key_then_the_same_body_returns_and_nothing_is_appended()
 {
    let h = harness().await;
    let id = h.open_auction().await;
    let first = h.bid("bidder-bob", &id, 1_500, "bid-1").await;
    let events_after_first = h.event_count(&id);
    // Someone else bids in between: the retry must still answer what the first attempt did.
    h.bid("bidder-cat", &id, 2_000, "cat-1").await;
    let events_before_retry = h.event_count(&id);
    let retry = h.bid("bidder-bob", &id, 1_500, "bid-1").await;
    assert_replays(&retry, &first);
    assert_eq!(h.event_count(&id), events_before_retry);
    assert_eq!(events_after_first, 3);
}

#[tokio::test]
async fn given_a_buy_now_price_when_a_bidder_buys_now_then_the_auction_ends_sold_at_that_price() {
    let h = harness().await;
    let id = h.open_auction().await;
    let reply = h.buy_now("bidder-bob", &id, "buy-1").await;
    assert_created(&reply);
    assert_eq!(reply.body["status"], "ended");
    assert_eq!(reply.body["price"]["amountMinor"], 20_000);
    let view = h.get("bidder-bob", &format!("/auctions/{id}")).await;
    assert_eq!(view.body["status"], "ended");
}

#[tokio::test]
async fn given_a_purchase_when_buy_now_is_retried_with_the_same_key_then_the_same_body_returns_and_nothing_is_appended()
 {
    let h = harness().await;
    let id = h.open_auction().await;
    let first = h.buy_now("bidder-bob", &id, "buy-1").await;
    let events = h.event_count(&id);
    let retry = h.buy_now("bidder-bob", &id, "buy-1").await;
    assert_replays(&retry, &first);
    assert_eq!(h.event_count(&id), events);

    let other = h.buy_now("bidder-cat", &id, "buy-1").await;
    assert_problem(&other, StatusCode::CONFLICT, "AUCTION_ENDED");
}

#[tokio::test]
async fn given_bids_when_anyone_reads_the_auction_then_they_see_price_and_their_own_lead_but_no_maximums_or_reserve()
 {
    let h = harness().await;
    let id = h.open_auction().await;
    h.bid_up_to("bidder-bob", &id, 1_000, 4_321, "bob-1").await;
    let bob = h.get("bidder-bob", &format!("/auctions/{id}")).await;
    let cat = h.get("bidder-cat", &format!("/auctions/{id}")).await;
    assert_eq!(bob.status, StatusCode::OK);
    assert_eq!(bob.body["leading"], true);
    assert_eq!(cat.body["leading"], false);
    assert_eq!(bob.body["title"], "Brass telescope");
    assert_eq!(bob.body["sellerId"], "seller-ann");
    assert_eq!(bob.body["status"], "active");
    assert_eq!(bob.body["currentPrice"]["amountMinor"], 1_000);
    assert_eq!(bob.body["bidCount"], 1);
    assert_eq!(bob.body["hasReserve"], true);
    assert_eq!(bob.body["reserveMet"], false);
    assert_eq!(bob.body["buyNowPrice"]["amountMinor"], 20_000);
    assert_eq!(bob.body["version"], 3);
    let text = cat.body.to_string();
    assert!(!text.contains("4321"), "a maximum leaked: {text}");
    assert!(!text.contains("5000"), "the reserve leaked: {text}");
}

#[tokio::test]
async fn given_bids_when_the_history_is_read_then_it_lists_bidders_amounts_prices_and_times_without_maximums()
 {
    let h = harness().await;
    let id = h.open_auction().await;
    h.bid_up_to("bidder-bob", &id, 1_000, 4_321, "bob-1").await;
    h.clock.advance(TimeDelta::minutes(1));
    h.bid("bidder-cat", &id, 2_000, "cat-1").await;
    let reply = h.get("bidder-cat", &format!("/auctions/{id}/bids")).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let bids = reply.body["bids"].as_array().unwrap();
    assert_eq!(bids.len(), 2);
    assert_eq!(bids[0]["bidderId"], "bidder-cat");
    assert_eq!(bids[0]["newPrice"]["amountMinor"], 2_100);
    let placed: DateTime<Utc> = serde_json::from_value(bids[0]["placedAt"].clone()).unwrap();
    assert_eq!(placed, start_of_test() + TimeDelta::minutes(1));
    // Cat sees her own bid in full and bob's masked, as large auction sites show bidders
    assert_eq!(bids[0]["yours"], true);
    assert_eq!(bids[1]["bidderId"], "b***b");
    assert_eq!(bids[1]["yours"], false);
    assert_eq!(bids[1]["amount"]["amountMinor"], 1_000);
    assert!(!reply.text().contains("bidder-bob"), "{}", reply.text());
    // and bob sees his own in full and cat's masked
    let bob = h.get("bidder-bob", &format!("/auctions/{id}/bids")).await;
    assert_eq!(bob.body["bids"][0]["bidderId"], "b***t");
    assert_eq!(bob.body["bids"][1]["bidderId"], "bidder-bob");
    assert_eq!(bob.body["bids"][1]["yours"], true);
    assert!(reply.body["nextCursor"].is_null());
    assert!(!reply.body.to_string().contains("4321"));
}

#[tokio::test]
async fn given_five_bids_when_the_history_is_read_two_at_a_time_then_the_pages_hold_every_bid_once_newest_first()
 {
    // Given five bids (versions 3 to 7, after the creation and the start)
    let h = harness().await;
    let id = h.open_auction().await;
    for (n, bidder) in ["bob", "cat", "bob", "cat", "bob"].into_iter().enumerate() {
        let amount = 1_000 + 1_000 * n as i64;
        h.bid(
            &format!("bidder-{bidder}"),
            &id,
            amount,
            &format!("{bidder}-{n}"),
        )
        .await;
    }
    // When the pages of two are followed
    let mut versions = Vec::new();
    let mut pages = 0;
    let mut path = format!("/auctions/{id}/bids?limit=2");
    loop {
        let reply = h.get("bidder-dan", &path).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        pages += 1;
        let bids = reply.body["bids"].as_array().unwrap();
        assert!(bids.len() <= 2, "{:?}", reply.body);
        versions.extend(bids.iter().map(|bid| bid["version"].as_u64().unwrap()));
        match reply.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/auctions/{id}/bids?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    // Then every bid came once, newest first, in as many pages as 7 events take 2 at a time
    assert_eq!(versions, [7, 6, 5, 4, 3]);
    assert_eq!(pages, 4);
}

#[tokio::test]
async fn given_a_bids_page_request_with_a_bad_limit_or_cursor_then_400_and_what_is_wrong() {
    let h = harness().await;
    let id = h.open_auction().await;
    for (query, code) in [
        ("limit=0", "INVALID_QUERY"),
        ("limit=101", "INVALID_QUERY"),
        ("limit=two", "INVALID_QUERY"),
        ("cursor=abc", "INVALID_CURSOR"),
        ("cursor=1", "INVALID_CURSOR"),
        ("cursor=007", "INVALID_CURSOR"),
        ("cursor=-3", "INVALID_CURSOR"),
    ] {
        let reply = h
            .get("bidder-dan", &format!("/auctions/{id}/bids?{query}"))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["code"], code, "{query}");
    }
}

/// What one bidder was answered in the fairness test: (idempotency key, reply) of each bid.
type Answers = Vec<(String, Reply)>;

/// A bid from the fairness test's shared rising counter, so that most bids outbid the last.
async fn bid_next(h: &TestApp, user: &str, auction: &str, counter: &AtomicI64, key: &str) -> Reply {
    let amount = counter.fetch_add(100, Ordering::SeqCst);
    h.bid(user, auction, amount, key).await
}

/// The domain decided the bid: accepted, or refused for what the auction's state is (outbid,
/// too low); not refused for its rate, not left to retry, not failed.
fn decided(reply: &Reply) -> bool {
    reply.status == StatusCode::CREATED
        || (matches!(reply.status.as_u16(), 409 | 422)
            && reply.body["code"] != "CONFLICT_RETRY"
            && reply.body["code"] != "RATE_LIMITED")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_one_user_flooding_when_ten_users_bid_at_a_normal_pace_then_none_of_theirs_is_refused_and_each_is_decided()
 {
    // Given an open auction, a flooder bidding back to back from four connections, and ten
    // users each bidding five times a second (half the rule's ten), for two seconds.
    let h = harness().await;
    let users: Vec<String> = (0..10).map(|n| format!("bidder-{n}")).collect();
    let names: Vec<&str> = users
        .iter()
        .map(String::as_str)
        .chain(["flooder"])
        .collect();
    h.with_identities(&names).await;
    let id = h.open_auction().await;
    let counter = Arc::new(AtomicI64::new(1_000));
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    let flooders = (0..4).map(|connection| {
        let (h, id, counter) = (h.clone(), id.clone(), Arc::clone(&counter));
        tokio::spawn(async move {
            let mut answers = Answers::new();
            while tokio::time::Instant::now() < until {
                let key = format!("flood-{connection}-{}", answers.len());
                let reply = bid_next(&h, "flooder", &id, &counter, &key).await;
                answers.push((key, reply));
            }
            answers
        })
    });
    let flooders: Vec<_> = flooders.collect();
    // When the ten bid meanwhile.
    let bidders = users.iter().map(|user| {
        let (h, id, counter, user) = (h.clone(), id.clone(), Arc::clone(&counter), user.clone());
        tokio::spawn(async move {
            let mut answers = Answers::new();
            let mut every = tokio::time::interval(Duration::from_millis(200));
            for n in 0..10 {
                every.tick().await;
                let key = format!("{user}-{n}");
                answers.push((key.clone(), bid_next(&h, &user, &id, &counter, &key).await));
            }
            answers
        })
    });
    let bidders: Vec<_> = bidders.collect();
    let mut flood = Answers::new();
    for task in flooders {
        flood.extend(task.await.unwrap());
    }
    let mut normal = Answers::new();
    for task in bidders {
        normal.extend(task.await.unwrap());
    }

    // Then none of the ten's bids was refused for its rate, and each was decided.
    assert_eq!(normal.len(), 100);
    for (key, reply) in &normal {
        assert!(decided(reply), "{key}: {} {:?}", reply.status, reply.body);
    }
    assert!(normal.iter().any(|(_, r)| r.status == StatusCode::CREATED));
    // And the flooder had its burst and its rate, and 429 with a Retry-After beyond that.
    let limited: Vec<&(String, Reply)> = flood
        .iter()
        .filter(|(_, r)| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    let passed = flood.len() - limited.len();
    assert!(!limited.is_empty(), "the flooder was never limited");
    assert!(
        (20..=20 + 10 * 3).contains(&passed),
        "{passed} of the flooder's {} bids passed the rule (burst 20, 10 a second, 2 s)",
        flood.len()
    );
    for (_, reply) in &limited {
        assert_problem(reply, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
    // And nothing of a limited bid reached the log.
    let keys: Vec<String> = h
        .store
        .backend()
        .events(AuctionId(Uuid::parse_str(&id).unwrap()))
        .iter()
        .filter_map(|e| e.decode::<AuctionEvent>().unwrap().metadata.idempotency_key)
        .collect();
    for (key, _) in &limited {
        assert!(!keys.contains(key), "the limited bid {key} was appended");
    }
    // And once the flooder waits as told, the same request is decided.
    let (key, _) = limited[0];
    tokio::time::sleep(Duration::from_secs(1)).await;
    let retried = bid_next(&h, "flooder", &id, &counter, key).await;
    assert!(decided(&retried), "{} {:?}", retried.status, retried.body);
}

#[tokio::test]
async fn given_a_user_out_of_writes_when_they_read_then_reads_are_not_limited() {
    let h = harness().await;
    let id = h.open_auction().await;
    let mut n = 0;
    while h
        .bid("bidder-bob", &id, 1_000 + n * 100, &format!("b{n}"))
        .await
        .status
        != StatusCode::TOO_MANY_REQUESTS
    {
        n += 1;
        assert!(n <= 40, "never limited");
    }
    assert_eq!(
        h.get("bidder-bob", &format!("/auctions/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get("bidder-bob", &format!("/auctions/{id}/bids"))
            .await
            .status,
        StatusCode::OK
    );
    let cat = h.bid("bidder-cat", &id, 1_000 + (n + 1) * 100, "c1").await;
    assert_created(&cat);
}

#[tokio::test]
async fn given_no_token_when_health_and_openapi_are_fetched_then_both_answer() {
    let h = harness().await;
    let health = h.get_anonymous("/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    let doc = h.get_anonymous("/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc.body["paths"]["/auctions/{id}/bids"]["post"].is_object());
}

#[test]
fn given_the_code_when_the_openapi_document_is_generated_then_it_equals_the_checked_in_copy() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let generated = format!("{}\n", api::openapi::document());
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "functions/api/openapi.json is out of date; regenerate it with \
         UPDATE_OPENAPI=1 cargo test -p api --test http"
    );
}

#[test]
fn given_the_openapi_document_when_its_references_are_followed_then_each_names_a_component() {
    fn refs(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", serde_json::Value::String(reference)) => {
                            found.push(reference.clone());
                        }
                        _ => refs(value, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
            _ => {}
        }
    }
    let document: serde_json::Value = serde_json::from_str(&api::openapi::document()).unwrap();
    let mut found = Vec::new();
    refs(&document, &mut found);

    let schemas = &document["components"]["schemas"];
    let dangling: Vec<&String> = found
        .iter()
        .filter(|reference| {
            reference
                .strip_prefix("#/components/schemas/")
                .is_none_or(|name| schemas.get(name).is_none())
        })
        .collect();
    assert!(!found.is_empty());
    assert!(dangling.is_empty(), "unresolvable references: {dangling:?}");
}

// ----------------------------------------------------------------------------------- errors

#[tokio::test]
async fn given_a_body_that_is_not_json_when_posted_then_400_malformed_json() {
    let h = harness().await;
    let reply = h
        .post_raw(
            "seller-ann",
            "/auctions",
            Some("application/json"),
            "{\"title\": ",
        )
        .await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "MALFORMED_JSON");
}

#[tokio::test]
async fn given_a_body_over_64_kib_when_posted_then_413_body_too_large() {
    let h = harness().await;
    let mut body = auction_body();
    body["description"] = json!("x".repeat(70 * 1024));
    let reply = h.create(body, None).await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE");
}

#[tokio::test]
async fn given_a_declared_length_over_64_kib_when_posted_then_413_before_the_body_is_read() {
    let h = harness().await;
    let reply = h
        .send(
            Request::post("/auctions")
                .header("authorization", format!("Bearer {}", h.token("seller-ann")))
                .header("content-type", "application/json")
                .header("content-length", "1000000")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE");
}

#[tokio::test]
async fn given_a_non_json_content_type_when_posted_then_415_unsupported_media_type() {
    let h = harness().await;
    let reply = h
        .post_raw(
            "seller-ann",
            "/auctions",
            Some("text/plain"),
            auction_body().to_string(),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    );
}

#[tokio::test]
async fn given_amounts_as_floats_or_strings_when_posted_then_422_invalid_request() {
    let h = harness().await;
    for price in [json!(10.5), json!("1000"), json!(1e3)] {
        let mut body = auction_body();
        body["startingPrice"] = price.clone();
        let reply = h.create(body, None).await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST");
    }
    let mut body = auction_body();
    body["currency"] = json!("XXQ");
    let reply = h.create(body, None).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST");
}

#[tokio::test]
async fn given_rule_violations_when_commands_arrive_then_422_with_the_domain_code() {
    let h = harness().await;
    let mut body = auction_body();
    body["reservePrice"] = json!(500);
    let reply = h.create(body, None).await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_RESERVE_PRICE",
    );

    let id = h.open_auction().await;
    let reply = h.bid("bidder-bob", &id, 999, "low-1").await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "BID_TOO_LOW");
    assert_eq!(h.event_count(&id), 2, "a refused bid appends nothing");
}

#[tokio::test]
async fn given_an_unknown_or_malformed_auction_id_when_addressed_then_404_auction_not_found() {
    let h = harness().await;
    let unknown = Uuid::new_v4();
    let reply = h.get("bidder-bob", &format!("/auctions/{unknown}")).await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "AUCTION_NOT_FOUND");
    let reply = h
        .get("bidder-bob", &format!("/auctions/{unknown}/bids"))
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "AUCTION_NOT_FOUND");
    let reply = h.bid("bidder-bob", &unknown.to_string(), 1_000, "k").await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "AUCTION_NOT_FOUND");
    let reply = h.get("bidder-bob", "/auctions/not-a-uuid").await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "AUCTION_NOT_FOUND");
    let reply = h.bid("bidder-bob", "not-a-uuid", 1_000, "k").await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "AUCTION_NOT_FOUND");
}

#[tokio::test]
async fn given_unknown_routes_or_methods_when_requested_then_problem_documents_answer() {
    let h = harness().await;
    let reply = h.get_anonymous("/nowhere").await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "NOT_FOUND");
    let reply = h
        .send(Request::delete("/health").body(Body::empty()).unwrap())
        .await;
    assert_problem(&reply, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn given_an_auction_with_bids_when_the_seller_cancels_then_409_auction_has_bids() {
    let h = harness().await;
    let id = h.open_auction().await;
    h.bid("bidder-bob", &id, 1_000, "b").await;
    let reply = h.cancel("seller-ann", &id, json!({})).await;
    assert_problem(&reply, StatusCode::CONFLICT, "AUCTION_HAS_BIDS");
}

#[tokio::test]
async fn given_a_bid_without_idempotency_key_when_posted_then_400_idempotency_key_required() {
    let h = harness().await;
    let id = h.open_auction().await;
    let reply = h.bid_without_key("bidder-bob", &id, 1_000).await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "IDEMPOTENCY_KEY_REQUIRED");
    let reply = h.bid("bidder-bob", &id, 1_000, "has space").await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "INVALID_IDEMPOTENCY_KEY");
    let long = "k".repeat(129);
    let reply = h.bid("bidder-bob", &id, 1_000, &long).await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "INVALID_IDEMPOTENCY_KEY");
}

#[tokio::test]
async fn given_a_used_idempotency_key_when_a_different_bid_reuses_it_then_422_idempotency_key_reused()
 {
    let h = harness().await;
    let id = h.open_auction().await;
    h.bid("bidder-bob", &id, 1_000, "same").await;
    let reply = h.bid("bidder-bob", &id, 1_500, "same").await;
    assert_key_reused(&reply);
}

#[tokio::test]
async fn given_a_throttled_store_when_a_bid_arrives_then_503_with_retry_after() {
    let h = harness().await;
    let id = h.open_auction().await;
    h.store.backend().contend_next_appends(1_000);
    let reply = h.bid("bidder-bob", &id, 1_000, "b").await;
    assert_problem(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(reply.headers["retry-after"], "1");
    assert!(!reply.body["detail"].as_str().unwrap().contains("contend"));
}

#[tokio::test]
async fn given_each_store_failure_when_mapped_then_status_code_and_retry_hints_match_the_contract()
{
    let id = AuctionId(Uuid::new_v4());
    let cases = [
        (
            StoreError::TooManyConflicts {
                aggregate_id: id.into(),
                attempts: 10,
            },
            StatusCode::CONFLICT,
            "CONFLICT_RETRY",
            true,
        ),
        (
            StoreError::Unavailable("timeout".into()),
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            true,
        ),
        (
            StoreError::ItemTooLarge {
                version: 3,
                size: 500_000,
                limit: 400_000,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "ITEM_TOO_LARGE",
            false,
        ),
        (
            StoreError::Corrupt {
                aggregate_id: id.into(),
                version: 2,
                reason: "secret internals".into(),
            },
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            false,
        ),
        (
            StoreError::Refused("ValidationException: secret internals".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            false,
        ),
    ];
    for (error, status, code, retry) in cases {
        let response = ApiError::from(error).into_response();
        assert_eq!(response.status(), status);
        assert_eq!(response.headers().contains_key("retry-after"), retry);
        let body: Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        assert_eq!(body["code"], code);
        assert!(!body["detail"].as_str().unwrap().contains("secret"));
    }
}

// ------------------------------------------------------------------------------ read models

#[tokio::test]
async fn given_a_projected_auction_when_it_is_read_then_the_view_answers_with_the_callers_lead() {
    let h = harness().await;
    let id = h.open_auction().await;
    h.bid("bidder-bob", &id, 1_000, "bob-1").await;
    h.project(&id).await;

    let bob = h.get("bidder-bob", &format!("/auctions/{id}")).await;

    assert_eq!(bob.status, StatusCode::OK, "{:?}", bob.body);
    assert_eq!(bob.headers["x-read-source"], "view");
    assert_eq!(bob.body["leading"], true);
    assert_eq!(bob.body["currentPrice"]["amountMinor"], 1_000);
    assert_eq!(bob.body["version"], 3);
}

#[tokio::test]
async fn given_an_auction_the_projector_has_not_seen_when_it_is_read_then_the_log_answers() {
    let h = harness().await;
    let id = h.open_auction().await;

    let reply = h.get("bidder-bob", &format!("/auctions/{id}")).await;

    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.headers["x-read-source"], "log");
    assert_eq!(reply.body["version"], 2);
}

#[tokio::test]
async fn given_a_view_behind_min_version_when_read_then_the_log_answers_at_that_version() {
    // Given a view at version 2 and a bid the projector has not applied yet (version 3)
    let h = harness().await;
    let id = h.open_auction().await;
    h.project(&id).await;
    let bid = h.bid("bidder-bob", &id, 1_000, "bob-1").await;
    let version = bid.body["version"].as_u64().unwrap();

    // When the bidder reads their own write
    let reply = h
        .get(
            "bidder-bob",
            &format!("/auctions/{id}?minVersion={version}"),
        )
        .await;
    let without = h.get("bidder-bob", &format!("/auctions/{id}")).await;

    // Then the answer includes the bid (from the log), while a plain read shows the view
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.headers["x-read-source"], "log");
    assert_eq!(reply.body["version"], version);
    assert_eq!(reply.body["leading"], true);
    assert_eq!(without.headers["x-read-source"], "view");
    assert_eq!(without.body["version"], 2);
}

#[tokio::test]
async fn given_a_view_at_min_version_when_read_then_the_view_answers() {
    let h = harness().await;
    let id = h.open_auction().await;
    h.bid("bidder-bob", &id, 1_000, "bob-1").await;
    h.project(&id).await;

    let reply = h
        .get("bidder-bob", &format!("/auctions/{id}?minVersion=3"))
        .await;

    assert_eq!(reply.headers["x-read-source"], "view");
    assert_eq!(reply.body["version"], 3);
}

#[tokio::test]
async fn given_active_auctions_when_listed_a_page_at_a_time_then_each_comes_once_soonest_end_first()
{
    // Given three auctions ending one, two and three days from now, projected
    let h = harness().await;
    let mut ids = Vec::new();
    for days in [3, 1, 2] {
        let mut body = auction_body();
        body["endsAt"] = json!((start_of_test() + TimeDelta::days(days)).to_rfc3339());
        let reply = h.create(body, None).await;
        let id = reply.body["auctionId"].as_str().unwrap().to_owned();
        h.project(&id).await;
        ids.push((days, id));
    }

    // When they are listed two at a time
    let first = h.get("bidder-bob", "/auctions?status=active&limit=2").await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let second = h
        .get("bidder-bob", &format!("/auctions?limit=2&cursor={cursor}"))
        .await;

    // Then every auction comes exactly once, in end time order
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let listed: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|page| page.body["items"].as_array().unwrap().clone())
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let expected: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(listed, expected);
    assert_eq!(first.body["items"][0]["status"], "active");
}

#[tokio::test]
async fn given_bad_listing_parameters_when_listed_then_400_and_the_parameter_is_named() {
    let h = harness().await;
    for (query, code) in [
        ("status=sold", "INVALID_QUERY"),
        ("limit=0", "INVALID_QUERY"),
        ("limit=101", "INVALID_QUERY"),
        ("limit=ten", "INVALID_QUERY"),
        ("colour=red", "INVALID_QUERY"),
        ("cursor=not-a-cursor", "INVALID_CURSOR"),
    ] {
        let reply = h.get("bidder-bob", &format!("/auctions?{query}")).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, code);
    }
    let reply = h
        .get(
            "bidder-bob",
            &format!("/auctions/{}?minVersion=-1", Uuid::new_v4()),
        )
        .await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "INVALID_QUERY");
}

#[tokio::test]
async fn given_a_cursor_of_another_user_when_my_bids_are_listed_then_400_invalid_cursor() {
    // Given bob has two rows and a cursor after the first
    let h = harness().await;
    for key in ["a", "b"] {
        let id = h.open_auction().await;
        h.bid("bidder-bob", &id, 1_000, key).await;
        h.project(&id).await;
    }
    let first = h.get("bidder-bob", "/me/bids?limit=1").await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();

    // When cat uses bob's cursor
    let reply = h
        .get("bidder-cat", &format!("/me/bids?cursor={cursor}"))
        .await;

    // Then it is refused rather than showing bob's rows
    assert_problem(&reply, StatusCode::BAD_REQUEST, "INVALID_CURSOR");
}

#[tokio::test]
async fn given_two_bidders_when_they_list_their_bids_then_each_sees_only_their_own_standing() {
    let h = harness().await;
    let id = h.open_auction().await;
    h.bid_up_to("bidder-bob", &id, 1_000, 3_000, "bob-1").await;
    h.bid("bidder-cat", &id, 1_500, "cat-1").await;
    h.project(&id).await;

    let bob = h.get("bidder-bob", "/me/bids").await;
    let cat = h.get("bidder-cat", "/me/bids").await;

    assert_eq!(bob.status, StatusCode::OK, "{:?}", bob.body);
    assert_eq!(bob.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(bob.body["items"][0]["status"], "leading");
    assert_eq!(bob.body["items"][0]["myMaxBid"]["amountMinor"], 3_000);
    assert_eq!(cat.body["items"][0]["status"], "outbid");
    assert!(
        !cat.body.to_string().contains("3000"),
        "bob's maximum leaked to cat: {}",
        cat.body
    );
}

/// The payment saga's last step, as it records it: `buyer` paid `amount`, or their payment
/// failed for good.
async fn record_payment(h: &TestApp, auction: &str, buyer: &str, paid: Option<i64>) {
    use domain::{RecordPaymentFailed, RecordPaymentSucceeded};
    use event_store::CommandContext;
    let id = AuctionId(Uuid::parse_str(auction).unwrap());
    let buyer_id = h.pseudonym(buyer).await;
    let context = CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: "saga".to_owned(),
        actor: events::Actor::System {
            name: "payment-saga".to_owned(),
        },
        idempotency_key: None,
        now: start_of_test(),
    };
    h.store
        .execute(id, &context, |state: &domain::State, now| match paid {
            Some(amount) => domain::decide_record_payment_succeeded(
                state,
                &RecordPaymentSucceeded {
                    buyer_id: buyer_id.clone(),
                    amount: events::Money::new(amount, events::Currency::try_from("EUR").unwrap()),
                    payment_reference: "pi_test".to_owned(),
                },
                now,
            ),
            None => domain::decide_record_payment_failed(
                state,
                &RecordPaymentFailed {
                    buyer_id: buyer_id.clone(),
                    reason: "card declined".to_owned(),
                },
                now,
            ),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn given_a_sellers_auctions_when_she_reads_her_page_then_each_shows_bids_reserve_result_and_payout()
 {
    // Given ann's four auctions: one bid on, one bought and paid for, one bought and being
    // paid for, one bought and whose payment failed for good
    let h = harness().await;
    let bid_on = h.open_auction().await;
    let paid = h.open_auction().await;
    let pending = h.open_auction().await;
    let failed = h.open_auction().await;
    h.bid("bidder-bob", &bid_on, 1_000, "bob-1").await;
    h.buy_now("bidder-bob", &paid, "bob-2").await;
    h.buy_now("bidder-cat", &pending, "cat-1").await;
    h.buy_now("bidder-cat", &failed, "cat-2").await;
    record_payment(&h, &paid, "bidder-bob", Some(20_000)).await;
    record_payment(&h, &failed, "bidder-cat", None).await;
    for id in [&bid_on, &paid, &pending, &failed] {
        h.project(id).await;
    }

    // When she reads her page two auctions at a time
    let first = h.get("seller-ann", "/me/auctions?limit=2").await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let second = h
        .get(
            "seller-ann",
            &format!("/me/auctions?limit=2&cursor={cursor}"),
        )
        .await;

    // Then she sees all four, latest end first, each with where it stands
    let items: Vec<Value> = [&first, &second]
        .iter()
        .flat_map(|page| page.body["items"].as_array().unwrap().clone())
        .collect();
    assert_eq!(items.len(), 4, "{items:?}");
    let ends: Vec<DateTime<Utc>> = items
        .iter()
        .map(|item| item["auction"]["endsAt"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ends.windows(2).all(|pair| pair[0] >= pair[1]), "{ends:?}");
    let find = |id: &str| {
        items
            .iter()
            .find(|item| item["auction"]["id"] == id)
            .unwrap()
            .clone()
    };
    let open = find(&bid_on);
    assert_eq!(open["auction"]["status"], "active");
    assert_eq!(open["auction"]["bidCount"], 1);
    assert_eq!(open["auction"]["reserveMet"], false);
    assert_eq!(open["payout"], "none");
    assert_eq!(open["buyerId"], Value::Null);
    let paid = find(&paid);
    assert_eq!(paid["auction"]["result"]["outcome"], "sold");
    assert_eq!(paid["auction"]["result"]["winnerId"], "bidder-bob");
    assert_eq!(paid["payout"], "paidOut");
    assert_eq!(paid["buyerId"], "bidder-bob");
    let pending = find(&pending);
    assert_eq!(pending["payout"], "pending");
    assert_eq!(pending["buyerId"], "bidder-cat");
    assert_eq!(find(&failed)["payout"], "failed");
    // Only the sale nobody paid for can be put up again
    let relistable: Vec<bool> = [&open, &paid, &pending, &find(&failed)]
        .iter()
        .map(|item| item["relistable"].as_bool().unwrap())
        .collect();
    assert_eq!(relistable, [false, false, false, true]);
    assert!(
        items
            .iter()
            .all(|item| item["auction"]["sellerId"] == "seller-ann")
    );

    // And bob, who sells nothing, sees none of them, nor gets her page with her cursor
    let bob = h.get("bidder-bob", "/me/auctions").await;
    assert_eq!(bob.status, StatusCode::OK, "{:?}", bob.body);
    assert_eq!(bob.body["items"], json!([]));
    let stolen = h
        .get("bidder-bob", &format!("/me/auctions?cursor={cursor}"))
        .await;
    assert_problem(&stolen, StatusCode::BAD_REQUEST, "INVALID_CURSOR");
}

/// `POST /auctions/{auction}/relist` by `user`, bidding until `ends_in_days` after the test's
/// start.
async fn relist(h: &TestApp, user: &str, auction: &str, ends_in_days: i64) -> Reply {
    h.post(
        user,
        &format!("/auctions/{auction}/relist"),
        json!({"endsAt": (start_of_test() + TimeDelta::days(ends_in_days)).to_rfc3339()}),
        None,
    )
    .await
}

#[tokio::test]
async fn given_an_unsold_auction_when_its_seller_relists_it_then_a_new_auction_sells_the_same_item()
{
    // Given ann's auction, withdrawn before any bid
    let h = harness().await;
    let id = h.open_auction().await;
    let cancelled = h.cancel("seller-ann", &id, json!({})).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    let first = h.get("seller-ann", &format!("/auctions/{id}")).await;

    // When she relists it
    let reply = relist(&h, "seller-ann", &id, 3).await;

    // Then a new auction is open on the same terms, selling the same item, and each names
    // the other
    assert_created(&reply);
    let new = reply.body["auctionId"].as_str().unwrap().to_owned();
    assert_ne!(new, id);
    assert_eq!(reply.headers["location"], format!("/auctions/{new}"));
    assert_eq!(reply.body["status"], "active");
    let relisted = h.get("bidder-bob", &format!("/auctions/{new}")).await;
    assert_eq!(relisted.body["title"], first.body["title"]);
    assert_eq!(relisted.body["startingPrice"], first.body["startingPrice"]);
    assert_eq!(relisted.body["buyNowPrice"], first.body["buyNowPrice"]);
    assert_eq!(relisted.body["hasReserve"], true);
    assert_eq!(relisted.body["itemId"], first.body["itemId"]);
    assert_eq!(relisted.body["relistedFrom"], id.as_str());
    assert_eq!(
        relisted.body["endsAt"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        start_of_test() + TimeDelta::days(3)
    );
    let old = h.get("seller-ann", &format!("/auctions/{id}")).await;
    assert_eq!(old.body["relistedAs"], new.as_str());
    let provenance = h
        .get(
            "bidder-bob",
            &format!(
                "/items/{}/provenance",
                first.body["itemId"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(provenance.status, StatusCode::OK, "{:?}", provenance.body);
    assert_eq!(
        provenance.body["owner"], "seller-ann",
        "{:?}",
        provenance.body
    );

    // And asking again (a retry, another tab) makes no second auction
    let events = (h.event_count(&id), h.event_count(&new));
    let again = relist(&h, "seller-ann", &id, 5).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["auctionId"], new.as_str());
    assert_eq!((h.event_count(&id), h.event_count(&new)), events);

    // And when the relisting is withdrawn in turn and relisted further, asking again for the
    // first relisting still answers with it
    let withdrawn = h.cancel("seller-ann", &new, json!({})).await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{:?}", withdrawn.body);
    let further = relist(&h, "seller-ann", &new, 4).await;
    assert_created(&further);
    let asked_again = relist(&h, "seller-ann", &id, 3).await;
    assert_eq!(asked_again.status, StatusCode::OK, "{:?}", asked_again.body);
    assert_eq!(asked_again.body["auctionId"], new.as_str());
    assert_eq!(asked_again.body["status"], "cancelled");

    // And bidders can bid on the relisting's relisting
    let furthest = further.body["auctionId"].as_str().unwrap().to_owned();
    let bid = h.bid("bidder-bob", &furthest, 1_000, "bob-1").await;
    assert_created(&bid);
}

#[tokio::test]
async fn given_auctions_that_cannot_be_relisted_when_relisted_then_each_is_refused_and_nothing_changes()
 {
    let h = harness().await;
    let open = h.open_auction().await;
    let sold = h.open_auction().await;
    h.buy_now("bidder-bob", &sold, "bob-1").await;
    let withdrawn = h.open_auction().await;
    h.cancel("seller-ann", &withdrawn, json!({})).await;
    let before: Vec<usize> = [&open, &sold, &withdrawn]
        .iter()
        .map(|id| h.event_count(id))
        .collect();

    // Still open; sold; someone else's; a schedule that ended before it began
    assert_problem(
        &relist(&h, "seller-ann", &open, 3).await,
        StatusCode::CONFLICT,
        "AUCTION_NOT_OVER",
    );
    assert_problem(
        &relist(&h, "seller-ann", &sold, 3).await,
        StatusCode::CONFLICT,
        "ITEM_SOLD",
    );
    assert_problem(
        &relist(&h, "bidder-bob", &withdrawn, 3).await,
        StatusCode::FORBIDDEN,
        "NOT_SELLER",
    );
    assert_problem(
        &relist(&h, "seller-ann", &withdrawn, -1).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_SCHEDULE",
    );
    let unknown = h
        .post(
            "seller-ann",
            &format!("/auctions/{withdrawn}/relist"),
            json!({"endsAt": (start_of_test() + TimeDelta::days(3)).to_rfc3339(), "title": "x"}),
            None,
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        unknown.body
    );
    assert_problem(
        &relist(&h, "seller-ann", &Uuid::new_v4().to_string(), 3).await,
        StatusCode::NOT_FOUND,
        "AUCTION_NOT_FOUND",
    );

    // Nothing was written: not to the auctions, not to a new one, not to the item
    let after: Vec<usize> = [&open, &sold, &withdrawn]
        .iter()
        .map(|id| h.event_count(id))
        .collect();
    assert_eq!(after, before);
    let item = events::ItemId::for_auction(AuctionId(Uuid::parse_str(&withdrawn).unwrap()));
    assert_eq!(
        h.store.backend().events(item.0).len(),
        1,
        "the item was moved"
    );
    for id in [&open, &sold, &withdrawn] {
        let relisting = events::AuctionId::relisting(AuctionId(Uuid::parse_str(id).unwrap()));
        assert_eq!(h.event_count(&relisting.to_string()), 0);
    }
}

#[tokio::test]
async fn given_two_auctions_when_a_bidder_watches_and_unwatches_them_then_the_watchlist_shows_them_as_they_stand()
 {
    // Given two auctions, one bid on
    let h = harness().await;
    let first = h.open_auction().await;
    let second = h.open_auction().await;
    h.bid("bidder-bob", &first, 1_000, "bob-1").await;
    for id in [&first, &second] {
        h.project(id).await;
    }

    // When cat watches both, the first twice
    for id in [&first, &second, &first] {
        let reply = h
            .put("bidder-cat", &format!("/me/watchlist/{id}"), json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    }

    // Then her watchlist holds each once, a page at a time, as the auction stands now
    let page = h.get("bidder-cat", "/me/watchlist?limit=1").await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned();
    let rest = h
        .get(
            "bidder-cat",
            &format!("/me/watchlist?limit=1&cursor={cursor}"),
        )
        .await;
    let items: Vec<Value> = [&page, &rest]
        .iter()
        .flat_map(|page| page.body["items"].as_array().unwrap().clone())
        .collect();
    let mut ids: Vec<&str> = items
        .iter()
        .map(|item| item["auction"]["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = [first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    let bid_on = items
        .iter()
        .find(|item| item["auction"]["id"] == first.as_str())
        .unwrap();
    assert_eq!(bid_on["auction"]["currentPrice"]["amountMinor"], 1_000);
    assert_eq!(bid_on["auction"]["bidCount"], 1);
    assert!(bid_on["watchedAt"].is_string());
    // And bob, who watches nothing, sees none of hers
    let bob = h.get("bidder-bob", "/me/watchlist").await;
    assert_eq!(bob.body["items"], json!([]));

    // When she unwatches the first, twice
    for _ in 0..2 {
        let reply = h
            .delete("bidder-cat", &format!("/me/watchlist/{first}"))
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    }
    // Then only the second is left
    let left = h.get("bidder-cat", "/me/watchlist").await;
    assert_eq!(left.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(left.body["items"][0]["auction"]["id"], second.as_str());

    // And an auction that does not exist, or a malformed id or cursor, is refused
    let missing = h
        .put(
            "bidder-cat",
            &format!("/me/watchlist/{}", Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_problem(&missing, StatusCode::NOT_FOUND, "AUCTION_NOT_FOUND");
    // An id that is not a uuid names no auction, as on every route
    let malformed = h
        .put("bidder-cat", "/me/watchlist/not-a-uuid", json!({}))
        .await;
    assert_problem(&malformed, StatusCode::NOT_FOUND, "AUCTION_NOT_FOUND");
    let garbled = h.get("bidder-cat", "/me/watchlist?cursor=%25%25").await;
    assert_problem(&garbled, StatusCode::BAD_REQUEST, "INVALID_CURSOR");
    assert_eq!(
        h.get("bidder-cat", "/me/watchlist").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn given_notifications_when_the_recipient_lists_them_then_only_theirs_come_newest_first() {
    use read_models::notifications::{Kind, Notification, StoreNotification, notification_id};
    let h = harness().await;
    let auction = AuctionId(Uuid::new_v4());
    for (version, recipient) in [(3, "bidder-bob"), (5, "bidder-bob"), (5, "bidder-cat")] {
        let occurred_at = start_of_test() + TimeDelta::seconds(version);
        h.inbox
            .store(&Notification {
                notification_id: notification_id(
                    occurred_at,
                    auction,
                    version as u64,
                    Kind::Outbid,
                ),
                // The inbox is keyed by the recipient's pseudonym, as the notifier finds it in
                // the events.
                recipient: h.pseudonym(recipient).await,
                kind: Kind::Outbid,
                auction_id: auction,
                auction_title: "Brass telescope".to_owned(),
                amount: None,
                occurred_at,
                aggregate_version: version as u64,
                event_id: Uuid::new_v4(),
                text: format!("outbid at version {version}"),
            })
            .await
            .unwrap();
    }

    let bob = h.get("bidder-bob", "/me/notifications").await;
    let bad = h
        .get("bidder-bob", "/me/notifications?cursor=garbage")
        .await;

    assert_eq!(bob.status, StatusCode::OK, "{:?}", bob.body);
    let versions: Vec<u64> = bob.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [5, 3]);
    assert_eq!(bob.body["items"][0]["kind"], "outbid");
    assert_problem(&bad, StatusCode::BAD_REQUEST, "INVALID_CURSOR");
}

#[tokio::test]
async fn given_no_token_when_a_read_route_is_called_then_401() {
    let h = harness().await;
    for path in [
        "/auctions",
        "/me/bids",
        "/me/auctions",
        "/me/watchlist",
        "/me/notifications",
    ] {
        let reply = h.get_anonymous(path).await;
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
}

// ------------------------------------------------------------------------------------ authz

#[tokio::test]
async fn given_no_token_when_a_protected_route_is_called_then_401() {
    let h = harness().await;
    let reply = h
        .send(
            Request::post("/auctions")
                .header("content-type", "application/json")
                .body(Body::from(auction_body().to_string()))
                .unwrap(),
        )
        .await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn given_a_token_signed_with_another_key_when_used_then_401() {
    let h = harness().await;
    let forged = LocalJwt::new(b"another key")
        .mint(
            &UserId::try_from("bidder-bob").unwrap(),
            &[],
            Utc::now(),
            TimeDelta::hours(1),
        )
        .unwrap();
    let reply = h
        .get_with_token(&forged, &format!("/auctions/{}", Uuid::new_v4()))
        .await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

#[tokio::test]
async fn given_an_expired_token_when_used_then_401() {
    let h = harness().await;
    let expired = h
        .jwt
        .mint(
            &UserId::try_from("bidder-bob").unwrap(),
            &[],
            Utc::now() - TimeDelta::hours(2),
            TimeDelta::hours(1),
        )
        .unwrap();
    let reply = h
        .get_with_token(&expired, &format!("/auctions/{}", Uuid::new_v4()))
        .await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    assert!(reply.body["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn given_the_seller_when_they_bid_on_their_own_auction_then_403_seller_cannot_bid() {
    let h = harness().await;
    let id = h.open_auction().await;
    let reply = h.bid("seller-ann", &id, 1_000, "own").await;
    assert_problem(&reply, StatusCode::FORBIDDEN, "SELLER_CANNOT_BID");
}

#[tokio::test]
async fn given_another_user_when_they_cancel_or_start_the_auction_then_403_not_seller() {
    let h = harness().await;
    let id = h.open_auction().await;
    let reply = h.cancel("bidder-bob", &id, json!({})).await;
    assert_problem(&reply, StatusCode::FORBIDDEN, "NOT_SELLER");
    let reply = h.start("bidder-bob", &id).await;
    assert_problem(&reply, StatusCode::FORBIDDEN, "NOT_SELLER");
}

// ------------------------------------------------------------------------------ correlation

#[tokio::test]
async fn given_a_correlation_id_when_a_bid_is_placed_then_it_is_echoed_and_stored_on_the_events() {
    let h = harness().await;
    let id = h.open_auction().await;
    let reply = h
        .send(
            Request::post(format!("/auctions/{id}/bids"))
                .header("authorization", format!("Bearer {}", h.token("bidder-bob")))
                .header("content-type", "application/json")
                .header("idempotency-key", "b-1")
                .header("x-correlation-id", "trace-abc-123")
                .body(Body::from(
                    json!({"amount": 1_000, "currency": "EUR"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.headers["x-correlation-id"], "trace-abc-123");
    let events = h
        .store
        .backend()
        .events(AuctionId(Uuid::parse_str(&id).unwrap()));
    let bid = events.last().unwrap();
    assert_eq!(bid.envelope.metadata.correlation_id, "trace-abc-123");
    assert!(Uuid::parse_str(&bid.envelope.metadata.causation_id).is_ok());
}

#[tokio::test]
async fn given_no_or_an_invalid_correlation_id_when_any_request_arrives_then_a_fresh_uuid_is_echoed()
 {
    let h = harness().await;
    let reply = h.get_anonymous("/health").await;
    let generated = reply.headers["x-correlation-id"].to_str().unwrap();
    assert!(Uuid::parse_str(generated).is_ok());

    let reply = h
        .send(
            Request::get("/nowhere")
                .header("x-correlation-id", "has spaces in it")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let replaced = reply.headers["x-correlation-id"].to_str().unwrap();
    assert!(Uuid::parse_str(replaced).is_ok(), "{replaced}");
}

// ----------------------------------------------------------------------------------- lambda

/// An HTTP API (payload v2) event as API Gateway sends it after its JWT authorizer accepted
/// the token: claims flattened to strings, groups rendered as `[a b]`.
fn lambda_event(method: &str, path: &str, body: &str, groups: &str) -> String {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "x-correlation-id": "lambda-trace-1"
        },
        "requestContext": {
            "routeKey": "$default",
            "accountId": "123456789012",
            "stage": "$default",
            "requestId": "id",
            "authorizer": {
                "jwt": {
                    "claims": {"sub": "seller-ann", "cognito:groups": groups, "token_use": "id"},
                    "scopes": null
                }
            },
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "time": "12/Mar/2020:19:03:58+0000",
            "timeEpoch": 1_583_348_638_390_u64,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "agent"
            }
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

#[test]
fn given_a_v2_request_context_with_jwt_claims_when_read_then_sub_and_groups_become_claims() {
    for groups in ["[admin seller]", "[\"admin\",\"seller\"]"] {
        let request =
            lambda_http::request::from_str(&lambda_event("GET", "/x", "", groups)).unwrap();
        let context = request
            .extensions()
            .get::<lambda_http::request::RequestContext>()
            .unwrap();
        let claims = api::identity::claims_from_request_context(context).unwrap();
        assert_eq!(claims.sub.as_str(), "seller-ann");
        assert_eq!(claims.groups, ["admin", "seller"]);
    }
}

#[tokio::test]
async fn given_the_lambda_router_when_an_authorized_v2_event_creates_an_auction_then_the_claims_seller_owns_it()
 {
    let h = TestApp::builder().behind_api_gateway().build();
    let (store, lambda_router) = (&h.store, h.router.clone());
    // The seller registers a payout account through the authorizer too.
    let account = h.provider.create_connected_account(true);
    let body = json!({"accountId": account.as_str()}).to_string();
    let event = lambda_event("PUT", "/me/payout-account", &body, "[seller]");
    let request = lambda_http::request::from_str(&event).unwrap();
    let response = lambda_router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let event = lambda_event("POST", "/auctions", &auction_body().to_string(), "[seller]");
    let request = lambda_http::request::from_str(&event).unwrap();
    let response = lambda_router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-correlation-id"], "lambda-trace-1");
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let id = AuctionId(Uuid::parse_str(body["auctionId"].as_str().unwrap()).unwrap());
    let events = store.backend().events(id);
    // The log holds the seller's pseudonym, never the authorizer's sub.
    assert_eq!(
        events[0].envelope.metadata.actor,
        events::Actor::User {
            id: h.pseudonym("seller-ann").await
        }
    );
    assert!(
        !serde_json::to_string(&events[0].envelope)
            .unwrap()
            .contains("seller-ann")
    );

    // A request that did not come through the authorizer has no identity, whatever it says.
    let request = Request::post("/auctions")
        .header("content-type", "application/json")
        .header("authorization", "Bearer anything")
        .body(Body::from(auction_body().to_string()))
        .unwrap();
    let response = lambda_router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

// ------------------------------------------------------------------------ exact idempotency

#[tokio::test]
async fn given_one_key_when_two_different_bids_race_for_one_version_in_fifty_rounds_then_one_is_accepted_and_the_other_refused()
 {
    // A hundred writes by bob and fifty by ann in well under a second: a test of the race, not
    // of their rate.
    let h = TestApp::builder()
        .write_rate(WriteRate {
            per_second: 1e6,
            burst: 1_000_000,
        })
        .build();
    h.with_identities(CAST).await;
    for round in 0..50 {
        // Given an open auction, and two bids by bob under one key, sent to two API processes
        // (in one they would take turns), that both decide before either appends (the store
        // holds each append until the other arrives)
        let id = h.open_auction().await;
        let other = h.another_process();
        h.store.backend().rendezvous_next_appends(2);
        let (small, large) = (1_500, 9_000);
        let key = format!("one-key-{round}");
        // When both race, the one sent first alternating between rounds
        let (small_reply, large_reply) = if round % 2 == 0 {
            tokio::join!(
                h.bid("bidder-bob", &id, small, &key),
                other.bid("bidder-bob", &id, large, &key)
            )
        } else {
            let (l, s) = tokio::join!(
                h.bid("bidder-bob", &id, large, &key),
                other.bid("bidder-bob", &id, small, &key)
            );
            (s, l)
        };
        // Then one is accepted with its own amount, the other refused, and one bid is logged
        let (accepted, amount, refused) = match (small_reply.status, large_reply.status) {
            (StatusCode::CREATED, _) => (small_reply, small, large_reply),
            (_, StatusCode::CREATED) => (large_reply, large, small_reply),
            other => panic!("round {round}: no bid accepted: {other:?}"),
        };
        assert_eq!(
            accepted.body["currentPrice"]["amountMinor"], amount,
            "round {round}: {:?}",
            accepted.body
        );
        assert_key_reused(&refused);
        assert_eq!(h.bid_amounts(&id), vec![amount], "round {round}");
    }
}

#[tokio::test]
async fn given_a_used_key_when_another_bid_reuses_it_then_422_and_the_log_is_unchanged() {
    // Given bob's accepted bid under "same"
    let h = harness().await;
    let id = h.open_auction().await;
    let first = h.bid("bidder-bob", &id, 1_500, "same").await;
    assert_eq!(first.status, StatusCode::CREATED);
    // When another bid, then a purchase, reuse the key
    let bid = h.bid("bidder-bob", &id, 9_000, "same").await;
    let buy = h.buy_now("bidder-bob", &id, "same").await;
    // Then both are refused and only the first bid is in the log
    assert_key_reused(&bid);
    assert_key_reused(&buy);
    assert_eq!(h.bid_amounts(&id), vec![1_500]);
    assert_eq!(h.event_count(&id), 3);
}

#[tokio::test]
async fn given_a_bid_whose_idempotency_record_was_deleted_when_its_key_is_reused_then_another_body_is_refused_and_the_same_body_replays()
 {
    // Given bob's accepted bid under "k", whose idempotency record is gone
    let h = harness().await;
    let id = h.open_auction().await;
    let first = h.bid("bidder-bob", &id, 1_500, "k").await;
    assert_created(&first);
    h.store.backend().forget_idempotency_records();
    // When another bid, and a purchase, come under the same key
    let other_bid = h.bid("bidder-bob", &id, 9_000, "k").await;
    let purchase = h.buy_now("bidder-bob", &id, "k").await;
    // Then both are refused and nothing is appended
    assert_key_reused(&other_bid);
    assert_key_reused(&purchase);
    assert_eq!(h.bid_amounts(&id), vec![1_500]);
    assert_eq!(h.event_count(&id), 3);
    // And the same bid again is the first answer, replayed
    h.store.backend().forget_idempotency_records();
    let retry = h.bid("bidder-bob", &id, 1_500, "k").await;
    assert_replays(&retry, &first);
    assert_eq!(h.event_count(&id), 3);
}

#[tokio::test]
async fn given_a_purchase_whose_idempotency_record_was_deleted_when_its_key_is_reused_for_a_bid_then_it_is_refused_and_the_purchase_replays()
 {
    // Given bob bought the item under "buy", and the idempotency record is gone
    let h = harness().await;
    let id = h.open_auction().await;
    let first = h.buy_now("bidder-bob", &id, "buy").await;
    assert_created(&first);
    h.store.backend().forget_idempotency_records();
    let events = h.event_count(&id);
    // When a bid comes under that key
    let bid = h.bid("bidder-bob", &id, 1_500, "buy").await;
    // Then it is refused (not answered with the purchase, nor as a bid on an ended auction)
    assert_key_reused(&bid);
    // And the purchase itself, retried, is replayed
    let retry = h.buy_now("bidder-bob", &id, "buy").await;
    assert_replays(&retry, &first);
    assert_eq!(h.event_count(&id), events);
}

#[tokio::test]
async fn given_an_auction_whose_idempotency_record_was_deleted_when_its_key_creates_another_then_it_is_refused_and_the_same_body_replays()
 {
    // Given ann created an auction under "create-1", and the idempotency record is gone
    let h = harness().await;
    let first = h.create(auction_body(), Some("create-1")).await;
    assert_created(&first);
    let id = first.body["auctionId"].as_str().unwrap().to_owned();
    h.store.backend().forget_idempotency_records();
    // When another title, or the same title with another description, comes under the key
    let mut other_title = auction_body();
    other_title["title"] = json!("Copper kettle");
    let mut other_description = auction_body();
    other_description["description"] = json!("Edwardian, dented");
    for body in [other_title, other_description] {
        let reply = h.create(body, Some("create-1")).await;
        // Then it is refused, not answered with the first auction
        assert_key_reused(&reply);
    }
    // And the first request again is its first answer, replayed
    let retry = h.create(auction_body(), Some("create-1")).await;
    assert_replays(&retry, &first);
    assert_eq!(h.event_count(&id), 2);
}

#[tokio::test]
async fn given_crafted_user_ids_whose_ids_and_keys_join_alike_when_each_bids_then_every_bid_is_its_own()
 {
    // Given users whose id and key join to the same text with `#` or `/`
    let h = harness().await;
    let id = h.open_auction().await;
    let pairs = [("a#b", "c"), ("a", "b#c"), ("x/y", "z"), ("x", "y/z")];
    // When each bids in turn with the same body shape, higher each time
    let mut bid_ids = Vec::new();
    for (turn, (user, key)) in pairs.into_iter().enumerate() {
        h.with_card(user).await;
        let amount = 1_500 + 1_000 * i64::try_from(turn).unwrap();
        let reply = h.bid(user, &id, amount, key).await;
        // Then each is a fresh bid of its own, not another user's answer
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{user}: {:?}",
            reply.body
        );
        assert!(reply.headers.get("idempotent-replayed").is_none(), "{user}");
        assert_eq!(reply.body["currentPrice"]["amountMinor"], amount, "{user}");
        assert_eq!(reply.body["leading"], true, "{user}");
        bid_ids.push(reply.body["bidId"].as_str().unwrap().to_owned());
    }
    assert_eq!(h.bid_amounts(&id), vec![1_500, 2_500, 3_500, 4_500]);
    bid_ids.sort();
    bid_ids.dedup();
    assert_eq!(bid_ids.len(), 4);
    // And their auctions, created under such keys, are distinct too
    // (under fresh keys: a key already used for a bid is refused for anything else)
    let mut auctions = Vec::new();
    for (user, key) in [("m#n", "o"), ("m", "n#o"), ("p/q", "r"), ("p", "q/r")] {
        h.with_payout_account(user).await;
        let reply = h.post(user, "/auctions", auction_body(), Some(key)).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{user}: {:?}",
            reply.body
        );
        assert!(reply.headers.get("idempotent-replayed").is_none(), "{user}");
        auctions.push(reply.body["auctionId"].as_str().unwrap().to_owned());
    }
    auctions.sort();
    auctions.dedup();
    assert_eq!(auctions.len(), 4);
}

// Forgetting a user (docs/privacy.md).

#[tokio::test]
async fn given_a_bidder_when_an_admin_forgets_them_then_every_answer_shows_them_erased_and_the_log_keeps_a_tombstone()
 {
    // Given bob's bid and cat's on ann's auction
    let h = harness().await;
    let id = h.open_auction().await;
    h.bid("bidder-bob", &id, 1_000, "bob-1").await;
    h.bid("bidder-cat", &id, 2_000, "cat-1").await;
    let bob = h.pseudonym("bidder-bob").await;
    let forget = |user: &str, groups: &'static [&'static str], body: Value| {
        let h = h.clone();
        let user = user.to_owned();
        async move {
            h.request_in(
                axum::http::Method::POST,
                Some((&user, groups)),
                "/admin/subjects/forget",
                Some(&body),
                None,
            )
            .await
        }
    };

    // A bidder may not forget anyone, and a user id must be one
    let refused = forget("bidder-cat", &[], json!({"userId": "bidder-bob"})).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "ADMIN_ONLY");
    let blank = forget("root", &["admin"], json!({"userId": ""})).await;
    assert_problem(&blank, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST");
    let bids = h.get("bidder-cat", &format!("/auctions/{id}/bids")).await;
    assert_eq!(bids.body["bids"][1]["bidderId"], "b***b");

    // When an admin forgets bob
    let forgotten = forget("root", &["admin"], json!({"userId": "bidder-bob"})).await;

    // Then bob reads as erased in every answer, cat as herself
    assert_eq!(forgotten.status, StatusCode::OK, "{}", forgotten.text());
    let erased = forgotten.body["erasedAs"].as_str().unwrap().to_owned();
    assert_eq!(erased, bob.as_str().replace("subject:", "erased:"));
    let bids = h.get("bidder-cat", &format!("/auctions/{id}/bids")).await;
    assert_eq!(bids.body["bids"][0]["bidderId"], "bidder-cat");
    assert_eq!(bids.body["bids"][1]["bidderId"], erased.as_str());
    assert!(!bids.text().contains("bidder-bob"), "{}", bids.text());
    // And the log keeps its tombstone, naming bob's pseudonym only
    let subject = Uuid::parse_str(forgotten.body["subjectId"].as_str().unwrap()).unwrap();
    let tombstone = h.store.backend().events(events::SubjectId(subject));
    assert_eq!(tombstone.len(), 1);
    assert_eq!(tombstone[0].envelope.payload["subject"], bob.as_str());
    // And there is nothing more to forget
    let again = forget("root", &["admin"], json!({"userId": "bidder-bob"})).await;
    assert_problem(&again, StatusCode::NOT_FOUND, "SUBJECT_NOT_FOUND");
}

#[tokio::test]
async fn given_a_token_whose_subject_is_shaped_like_a_pseudonym_then_it_is_refused_and_poses_as_no_one()
 {
    // Given bob's pseudonym, and tokens naming it and an erased marker as their subject
    let h = harness().await;
    let id = h.open_auction().await;
    h.bid("bidder-bob", &id, 1_000, "bob-1").await;
    let bob = h.pseudonym("bidder-bob").await;
    let erased = bob.as_str().replace("subject:", "erased:");

    for sub in [bob.as_str(), erased.as_str()] {
        // When either calls the API
        let reply = h.get(sub, "/me/bids").await;
        // Then it is refused: nobody gets bob's bids by naming his pseudonym
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
        assert!(!reply.text().contains(&id), "{}", reply.text());
    }
}
