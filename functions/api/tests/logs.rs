//! Log lines carry the request's correlation id. A binary of its own, because tracing caches
//! per-callsite interest process-wide: a test that installs a subscriber while other tests log
//! without one would race them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use api::testing::{TestApp, start_of_test};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeDelta;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn given_a_correlation_id_when_a_bid_is_handled_then_every_log_line_of_the_request_carries_it()
 {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let h = TestApp::new();
    h.with_identities(&["seller-ann", "bidder-bob"]).await;
    let now = start_of_test();
    let post = |path: String, sub: &str, correlation: &str, body: Value| {
        Request::post(path)
            .header("authorization", h.bearer(sub))
            .header("content-type", "application/json")
            .header("idempotency-key", "log-1")
            .header("x-correlation-id", correlation)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let created = h
        .send(post(
            "/auctions".into(),
            "seller-ann",
            "create-trace",
            json!({"title": "Lamp", "currency": "EUR", "startingPrice": 100,
                "endsAt": (now + TimeDelta::days(1)).to_rfc3339()}),
        ))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["auctionId"].as_str().unwrap().to_owned();
    captured.0.lock().unwrap().clear();

    let reply = h
        .send(post(
            format!("/auctions/{id}/bids"),
            "bidder-bob",
            "log-trace-7",
            json!({"amount": 100, "currency": "EUR"}),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);

    let bob = h.pseudonym("bidder-bob").await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    for message in ["command done", "request done"] {
        assert!(
            lines
                .iter()
                .any(|line| line["fields"]["message"] == message),
            "no {message:?} line in {text}"
        );
    }
    for line in &lines {
        assert_eq!(line["span"]["correlation_id"], "log-trace-7", "{line}");
        // The caller's pseudonym: logs are kept, and hold no user id.
        assert_eq!(line["span"]["sub"], bob.as_str(), "{line}");
        assert!(!line.to_string().contains("bidder-bob"), "{line}");
    }
}
