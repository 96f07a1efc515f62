//! The bidder API's router over the real event store on DynamoDB Local: the same requests as
//! the in-memory tests of `functions/api`, so a difference between the two backends shows here.

use std::sync::Arc;

use api::{App, Authenticator, FixedClock, LocalJwt, router};
use auction_events::AuctionId;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeDelta, Utc};
use e2e::{TestEnv, fixtures};
use event_store::{EventLog, Meter, SnapshotPolicy, Store};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

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
    (status, replayed, serde_json::from_slice(&bytes).unwrap())
}

fn post(path: &str, user: &str, key: Option<&str>, body: &Value) -> Request<Body> {
    let mut request = Request::post(path)
        .header("authorization", format!("Bearer {}", token(user)))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

/// The API's tables on this test's resources.
fn api_tables(env: &TestEnv) -> api::config::Tables {
    let names = env.names();
    api::config::Tables {
        store: e2e::fixtures::table_names(names),
        auction_views: names.auction_views_table.clone(),
        user_bids: names.user_bids_table.clone(),
        notifications: names.notifications_table.clone(),
        read_model_aliases: names.read_model_aliases_table.clone(),
    }
}

#[tokio::test]
async fn given_dynamodb_local_when_an_auction_is_created_and_bid_on_through_the_api_then_retries_append_nothing()
 {
    let env = TestEnv::new().await;
    let store = Store::new(
        env.event_store(),
        SnapshotPolicy {
            every: 100,
            in_background: false,
        },
    );
    let now = Utc::now();
    let adapters = api::config::adapters(env.dynamodb().clone(), api_tables(&env));
    let router = router(App {
        store,
        clock: Arc::new(FixedClock::new(now)),
        authenticator: Authenticator::LocalJwt(Arc::new(LocalJwt::new(SECRET))),
        views: adapters.views,
        inbox: adapters.inbox,
    });
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
