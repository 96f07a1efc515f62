//! The bidder API's router over the real event store on DynamoDB Local: the same requests as
//! the in-memory tests of `functions/api`, so a difference between the two backends shows here.
//! Its payment identities are in the PaymentIdentities table and checked with the stack's
//! Stripe: every seller and bidder registers theirs through the routes first ([`register`]).

use std::sync::Arc;

use api::throttle::WriteRate;
use api::{App, Authenticator, FixedClock, LocalJwt, router};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeDelta, Utc};
use e2e::{TestEnv, fixtures};
use event_store::{EventLog, Meter, SnapshotPolicy, Store};
use events::AuctionId;
use http_body_util::BodyExt;
use payment_identities::StripeChecker;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use crate::support;

const SECRET: &[u8] = b"e2e-local-jwt-secret";

fn token(sub: &str) -> String {
    LocalJwt::new(SECRET)
        .mint(&fixtures::user(sub), &[], Utc::now(), TimeDelta::hours(1))
        .unwrap()
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    // A 204 has no body at all.
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, replayed, body)
}

fn read(path: &str, user: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {}", token(user)))
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, user: &str, key: Option<&str>, body: &Value) -> Request<Body> {
    send(axum::http::Method::POST, path, user, key, body)
}

fn send(
    method: axum::http::Method,
    path: &str,
    user: &str,
    key: Option<&str>,
    body: &Value,
) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", token(user)))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

/// The API's tables on this test's resources.
/// The API's adapters as `config::dynamodb` builds them, on this test's tables, buckets and keys,
/// checking ids with `stripe`.
pub(crate) async fn api_adapters(
    env: &TestEnv,
    stripe: stripe_api::StripeClient,
) -> api::config::Adapters {
    api::config::adapters(
        env.dynamodb().clone(),
        api_tables(env),
        Arc::new(StripeChecker::new(stripe)),
        // No webhook is posted here (tests/tests/suite/webhooks.rs posts them).
        api::webhooks::WebhookSecret::new("whsec_unused-by-these-tests"),
        env.sqs().clone(),
        api::config::Buckets {
            digests: env.archive(),
            photos: env.media().await,
        },
        api::config::Keys {
            subjects: env.subject_keys(),
            links: env.link_key(),
        },
    )
}

fn api_tables(env: &TestEnv) -> api::config::Tables {
    let names = env.names();
    api::config::Tables {
        store: e2e::fixtures::table_names(names),
        auction_views: names.auction_views_table.clone(),
        user_bids: names.user_bids_table.clone(),
        notifications: names.notifications_table.clone(),
        read_model_aliases: names.read_model_aliases_table.clone(),
        parked: names.parked_table.clone(),
        payment_identities: names.payment_identities_table.clone(),
        stripe_webhook_deliveries: names.stripe_webhook_deliveries_table.clone(),
        stream_heads: names.stream_heads_table.clone(),
        watchlist: names.watchlist_table.clone(),
        email_notices: names.email_notices_table.clone(),
    }
}

/// A card and a payout account for each of `users`, made in the stack's Stripe and registered
/// through `PUT /me/payment-method` and `PUT /me/payout-account`.
async fn register(router: &Router, users: &[&str]) {
    let stripe = support::stripe().await;
    for user in users {
        let (card, account) = support::stripe_identity(&stripe, user).await;
        for (path, body) in [
            ("/me/payment-method", card),
            ("/me/payout-account", account),
        ] {
            let (status, _, reply) = call(
                router,
                send(axum::http::Method::PUT, path, user, None, &body),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{user} {path}: {reply}");
        }
    }
}

/// The API as one process serves it, over this test's tables: its own store (and cache), and
/// ids checked with the stack's Stripe.
async fn api_process(env: &TestEnv, now: chrono::DateTime<Utc>) -> Router {
    api_process_writing_at(env, now, WriteRate::DEFAULT).await
}

/// [`api_process`] with each user's writes limited to `rate`.
async fn api_process_writing_at(
    env: &TestEnv,
    now: chrono::DateTime<Utc>,
    rate: WriteRate,
) -> Router {
    let store = Store::new(env.event_store(), SnapshotPolicy::inline(100));
    let adapters = api_adapters(env, support::stripe().await).await;
    router(App {
        store,
        clock: Arc::new(FixedClock::new(now)),
        authenticator: Authenticator::LocalJwt(Arc::new(LocalJwt::new(SECRET))),
        views: adapters.views,
        inbox: adapters.inbox,
        // This test's Parked table, replayed to this test's views and queues.
        parked: Arc::new(api::parked::Parking::new(
            env.parked(),
            env.event_store(),
            env.consumers(),
        )),
        identities: adapters.identities,
        provider: adapters.provider,
        webhooks: adapters.webhooks,
        // Each process its own buckets, as each Lambda environment has.
        throttle: api::throttle::Throttle::new(rate),
        proofs: adapters.proofs,
        pseudonyms: adapters.pseudonyms,
        watchlist: adapters.watchlist,
        email_notices: adapters.email_notices,
        link_key: adapters.link_key,
        media: adapters.media,
    })
}

#[tokio::test]
async fn given_dynamodb_local_when_an_auction_is_created_and_bid_on_through_the_api_then_retries_append_nothing()
 {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let router = api_process(&env, now).await;
    register(&router, &["seller-ann", "bidder-bob"]).await;
    let auction = json!({
        "title": "Brass telescope",
        "currency": "EUR",
        "startingPrice": 1_000,
        "endsAt": (now + TimeDelta::days(1)).to_rfc3339(),
    });

    let (status, _, created) = call(
        &router,
        post("/auctions", "seller-ann", Some("create-1"), &auction),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, replayed, again) = call(
        &router,
        post("/auctions", "seller-ann", Some("create-1"), &auction),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(created, again);
    let id = created["auctionId"].as_str().unwrap().to_owned();

    let bid = json!({"amount": 1_500, "currency": "EUR"});
    let path = format!("/auctions/{id}/bids");
    let (status, _, first) = call(&router, post(&path, "bidder-bob", Some("bid-1"), &bid)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["leading"], true);
    let (status, replayed, retry) =
        call(&router, post(&path, "bidder-bob", Some("bid-1"), &bid)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(first, retry);

    let auction_id = AuctionId(Uuid::parse_str(&id).unwrap());
    let events = env
        .event_store()
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "created, started, one bid");

    let view = Request::get(format!("/auctions/{id}"))
        .header("authorization", format!("Bearer {}", token("bidder-cat")))
        .body(Body::empty())
        .unwrap();
    let (status, _, view) = call(&router, view).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["currentPrice"]["amountMinor"], 1_500);
    assert_eq!(view["leading"], false);
    assert_eq!(view["version"], 3);
}

// ------------------------------------------------------------------------ exact idempotency

/// An auction open for bids now, created by seller-ann without a key; its id.
async fn open_auction(router: &Router, now: chrono::DateTime<Utc>) -> String {
    let auction = json!({
        "title": "Brass telescope",
        "currency": "EUR",
        "startingPrice": 1_000,
        "endsAt": (now + TimeDelta::days(1)).to_rfc3339(),
    });
    let (status, _, created) = call(router, post("/auctions", "seller-ann", None, &auction)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["auctionId"].as_str().unwrap().to_owned()
}

fn bid_request(auction: &str, user: &str, key: &str, amount: i64) -> Request<Body> {
    post(
        &format!("/auctions/{auction}/bids"),
        user,
        Some(key),
        &json!({"amount": amount, "currency": "EUR"}),
    )
}

/// The amounts of the auction's bids in the log, in order.
async fn bid_amounts(env: &TestEnv, auction: &str) -> Vec<i64> {
    let id = AuctionId(Uuid::parse_str(auction).unwrap());
    env.event_store()
        .read_after(id, 0, &Meter::default())
        .await
        .unwrap()
        .iter()
        .filter_map(
            |e| match e.decode::<events::AuctionEvent>().unwrap().event {
                events::AuctionEvent::BidPlaced(bid) => Some(bid.amount.amount_minor),
                _ => None,
            },
        )
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn given_dynamodb_local_when_two_different_bids_race_under_one_key_in_fifty_rounds_then_one_is_accepted_and_the_other_refused()
 {
    // Given two API processes (each with its own cache) over the same tables
    let env = TestEnv::new().await;
    let now = Utc::now();
    // A hundred writes by bob and fifty by seller-ann in seconds: a test of the race, not of
    // their rate.
    let any_rate = WriteRate {
        per_second: 1e6,
        burst: 1_000_000,
    };
    let (one, two) = (
        api_process_writing_at(&env, now, any_rate).await,
        api_process_writing_at(&env, now, any_rate).await,
    );
    register(&one, &["seller-ann", "bidder-bob"]).await;
    for round in 0..50 {
        let id = open_auction(&one, now).await;
        let key = format!("race-{round}");
        let (small, large) = (1_500, 9_000);
        // When bob sends a bid of 1500 to one and a bid of 9000 to the other under one key,
        // both at once
        let small_call = tokio::spawn({
            let (one, request) = (one.clone(), bid_request(&id, "bidder-bob", &key, small));
            async move { call(&one, request).await }
        });
        let large_call = tokio::spawn({
            let (two, request) = (two.clone(), bid_request(&id, "bidder-bob", &key, large));
            async move { call(&two, request).await }
        });
        let small_reply = small_call.await.unwrap();
        let large_reply = large_call.await.unwrap();
        // Then exactly one is accepted, answered with its own amount; the other is refused
        let (accepted, amount, refused) = match (small_reply.0, large_reply.0) {
            (StatusCode::CREATED, _) => (small_reply, small, large_reply),
            (_, StatusCode::CREATED) => (large_reply, large, small_reply),
            other => panic!("round {round}: no bid accepted: {other:?}"),
        };
        assert_eq!(
            accepted.2["currentPrice"]["amountMinor"], amount,
            "round {round}: {}",
            accepted.2
        );
        assert_eq!(refused.0, StatusCode::UNPROCESSABLE_ENTITY, "round {round}");
        assert_eq!(refused.2["code"], "IDEMPOTENCY_KEY_REUSED", "round {round}");
        // And the log holds that one bid only
        assert_eq!(bid_amounts(&env, &id).await, vec![amount], "round {round}");
    }
}

#[tokio::test]
async fn given_dynamodb_local_when_a_key_is_reused_after_its_idempotency_record_was_deleted_then_another_body_is_refused_and_the_same_body_replays()
 {
    // Given bob's accepted bid under "k"
    let env = TestEnv::new().await;
    let now = Utc::now();
    let router = api_process(&env, now).await;
    register(&router, &["seller-ann", "bidder-bob"]).await;
    let id = open_auction(&router, now).await;
    let (status, _, first) = call(&router, bid_request(&id, "bidder-bob", "k", 1_500)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // And a sequential reuse with another body is refused while the record exists
    let (status, _, reused) = call(&router, bid_request(&id, "bidder-bob", "k", 9_000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reused}");
    // When the idempotency record is deleted (its key in the form records have always had)
    env.dynamodb()
        .delete_item()
        .table_name(&env.names().idempotency_table)
        .key(
            "commandKey",
            aws_sdk_dynamodb::types::AttributeValue::S("user:bidder-bob#k".to_owned()),
        )
        .send()
        .await
        .unwrap();
    // Then another body under the key is still refused, in a fresh process too
    let fresh = api_process(&env, now).await;
    for router in [&router, &fresh] {
        let (status, _, reused) = call(router, bid_request(&id, "bidder-bob", "k", 9_000)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reused}");
        assert_eq!(reused["code"], "IDEMPOTENCY_KEY_REUSED");
    }
    assert_eq!(bid_amounts(&env, &id).await, vec![1_500]);
    // And the same body replays the first answer
    let (status, replayed, retry) = call(&fresh, bid_request(&id, "bidder-bob", "k", 1_500)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(retry, first);
    assert_eq!(bid_amounts(&env, &id).await, vec![1_500]);
}

#[tokio::test]
async fn given_dynamodb_local_when_crafted_user_ids_join_with_their_keys_alike_then_each_bid_is_its_own()
 {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let router = api_process(&env, now).await;
    register(&router, &["seller-ann", "bidder-bob"]).await;
    let id = open_auction(&router, now).await;
    // Given users whose id and key join to the same text with `#` or `/`
    let pairs = [("a#b", "c"), ("a", "b#c"), ("x/y", "z"), ("x", "y/z")];
    // When each bids in turn, higher each time
    register(&router, &pairs.map(|(user, _)| user)).await;
    for (turn, (user, key)) in pairs.into_iter().enumerate() {
        let amount = 1_500 + 1_000 * i64::try_from(turn).unwrap();
        let (status, replayed, reply) = call(&router, bid_request(&id, user, key, amount)).await;
        // Then each is a fresh bid of its own
        assert_eq!(status, StatusCode::CREATED, "{user}: {reply}");
        assert_eq!(replayed, None, "{user}");
        assert_eq!(reply["currentPrice"]["amountMinor"], amount, "{user}");
    }
    assert_eq!(
        bid_amounts(&env, &id).await,
        vec![1_500, 2_500, 3_500, 4_500]
    );
}

#[tokio::test]
async fn given_dynamodb_local_when_a_bidder_watches_an_auction_twice_and_unwatches_it_then_the_watchlist_keeps_the_first_time_and_empties()
 {
    // Given an auction, and two API processes an hour apart
    let env = TestEnv::new().await;
    let now = Utc::now();
    let router = api_process(&env, now).await;
    let later = api_process(&env, now + TimeDelta::hours(1)).await;
    register(&router, &["seller-ann"]).await;
    let auction = json!({
        "title": "Brass telescope",
        "currency": "EUR",
        "startingPrice": 1_000,
        "endsAt": (now + TimeDelta::days(1)).to_rfc3339(),
    });
    let (status, _, created) = call(&router, post("/auctions", "seller-ann", None, &auction)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["auctionId"].as_str().unwrap().to_owned();
    let path = format!("/me/watchlist/{id}");

    // When bob watches it, then again through the later process
    for process in [&router, &later] {
        let (status, _, reply) = call(
            process,
            send(
                axum::http::Method::PUT,
                &path,
                "bidder-bob",
                None,
                &json!({}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{reply}");
    }
    // The view is written by the projector, which does not run here: project it.
    let log = env.event_store();
    let views = env.views();
    let mut current = None;
    let auction_id = AuctionId(Uuid::parse_str(&id).unwrap());
    for stored in log
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap()
    {
        let event = stored.decode().unwrap();
        current = read_models::apply(&views, &log, current, &event)
            .await
            .unwrap()
            .1;
    }

    // Then his watchlist holds it once, watched at the first time
    let (status, _, list) = call(&router, read("/me/watchlist", "bidder-bob")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["auction"]["id"], id.as_str());
    let watched_at: chrono::DateTime<Utc> = list["items"][0]["watchedAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (watched_at - now).num_seconds().abs() < 1,
        "{watched_at} vs {now}"
    );

    // When he unwatches it, then it is gone
    let (status, _, _) = call(
        &router,
        send(
            axum::http::Method::DELETE,
            &path,
            "bidder-bob",
            None,
            &json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, list) = call(&router, read("/me/watchlist", "bidder-bob")).await;
    assert_eq!(list["items"], json!([]));
}
