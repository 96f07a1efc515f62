//! The demo data, seeded through the API's own routes into the API as the binaries wire it
//! (over in-memory adapters).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::testing::{TestApp, start_of_test};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};

#[tokio::test]
async fn demo_seeding_creates_an_auction_with_bids_one_ending_soon_and_one_with_buy_now() {
    let h = TestApp::new();
    let demo = api_local::demo::seed(h.app.clone(), &h.jwt).await.unwrap();

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
