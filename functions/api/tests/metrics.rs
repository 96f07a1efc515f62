//! What the command path records: each command's outcome under its name (accepted, replayed,
//! rejected by code), its latency and its capacity, through a recorder of the test's own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::testing::{TestApp, start_of_test};
use axum::http::StatusCode;
use chrono::TimeDelta;
use conventions::metrics::testing::{Recorded, recorded_async};
use serde_json::{Value, json};

const CAST: &[&str] = &["seller-ann", "bidder-bob"];

fn auction_body() -> Value {
    json!({
        "title": "Brass telescope",
        "description": "Victorian, working",
        "currency": "EUR",
        "startingPrice": 1_000,
        "increment": {"kind": "fixed", "amountMinor": 100},
        "endsAt": (start_of_test() + TimeDelta::days(1)).to_rfc3339(),
    })
}

/// An open auction by seller-ann, then `bids` by bidder-bob as (amount, idempotency key), each
/// answered with the expected status; returns what was recorded.
fn auction_with_bids(bids: &[(i64, &str, StatusCode)]) -> Recorded {
    let bids: Vec<(i64, String, StatusCode)> = bids
        .iter()
        .map(|(amount, key, status)| (*amount, (*key).to_owned(), *status))
        .collect();
    let ((), recorded) = recorded_async(async move {
        let app = TestApp::new();
        app.with_identities(CAST).await;
        let created = app
            .post("seller-ann", "/auctions", auction_body(), None)
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let id = created.body["auctionId"].as_str().unwrap().to_owned();
        for (amount, key, status) in bids {
            let reply = app
                .post(
                    "bidder-bob",
                    &format!("/auctions/{id}/bids"),
                    json!({"amount": amount, "currency": "EUR"}),
                    Some(&key),
                )
                .await;
            assert_eq!(reply.status, status, "{}", reply.text());
        }
    });
    recorded
}

const PLACE_BID: [(&str, &str); 1] = [("Command", "PlaceBid")];

#[test]
fn given_an_open_auction_when_a_bid_below_the_price_arrives_then_it_counts_as_a_rejection_by_its_code()
 {
    // Given an open auction at 10.00, when bob bids 9.99
    let recorded = auction_with_bids(&[(999, "low-1", StatusCode::UNPROCESSABLE_ENTITY)]);

    // Then PlaceBid counts one BID_TOO_LOW, nothing accepted, and its latency and cost
    assert_eq!(
        recorded.counter(
            "CommandRejections",
            &[("Command", "PlaceBid"), ("Code", "BID_TOO_LOW")]
        ),
        1
    );
    assert_eq!(recorded.counter("CommandsAccepted", &PLACE_BID), 0);
    assert_eq!(recorded.histogram("CommandLatency", &PLACE_BID).len(), 1);
    assert_eq!(recorded.histogram("CommandReadUnits", &PLACE_BID).len(), 1);
    assert_eq!(recorded.histogram("CommandWriteUnits", &PLACE_BID).len(), 1);
    // And the creation before it counts as accepted under its own name
    assert_eq!(
        recorded.counter("CommandsAccepted", &[("Command", "CreateAuction")]),
        1
    );
}

#[test]
fn given_an_accepted_bid_when_it_is_retried_with_its_key_then_the_retry_counts_as_a_replay() {
    // Given bob's accepted bid, when he sends it again under the same key
    let recorded = auction_with_bids(&[
        (1_000, "bid-1", StatusCode::CREATED),
        (1_000, "bid-1", StatusCode::CREATED),
    ]);

    // Then one acceptance, one replay, no rejection; each answer timed
    assert_eq!(recorded.counter("CommandsAccepted", &PLACE_BID), 1);
    assert_eq!(recorded.counter("CommandReplays", &PLACE_BID), 1);
    assert!(
        recorded
            .keys()
            .iter()
            .all(|(name, _)| name != "CommandRejections"),
        "{recorded:?}"
    );
    let latencies = recorded.histogram("CommandLatency", &PLACE_BID);
    assert_eq!(latencies.len(), 2);
    assert!(latencies.iter().all(|ms| *ms >= 0.0), "{latencies:?}");
}
