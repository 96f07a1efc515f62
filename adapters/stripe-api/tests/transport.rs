//! The client's transport against a scripted server: the timeout, paging through lists, and
//! Stripe's error answers reaching the caller classified.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use stripe_api::StripeError;
use support::{Captured, FakeStripe, client};

fn transfer(id: &str) -> serde_json::Value {
    json!({
        "id": id, "object": "transfer", "amount": 100, "amount_reversed": 0, "currency": "eur",
        "destination": "acct_1", "reversed": false, "transfer_group": null, "metadata": {},
        "created": 1, "livemode": false, "reversals": {"object": "list", "data": [], "has_more": false, "url": "/"}
    })
}

#[tokio::test]
async fn given_a_server_that_never_answers_then_the_call_is_unavailable_after_the_timeout() {
    // Given a listener that accepts connections and says nothing
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let stripe = client(&base, "sk_test_x", Duration::from_millis(300));

    // When a charge is sent
    let started = Instant::now();
    let error = stripe.create_customer("Ada", "key-1").await.unwrap_err();

    // Then it gives up at the timeout, as unavailable: retry with the same key
    assert!(error.is_unavailable(), "{error:?}");
    assert!(error.to_string().contains("no answer within"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn given_a_list_of_several_pages_then_every_page_is_read_in_order() {
    // Given three pages of transfers, served after the id given as starting_after
    let fake = FakeStripe::start(Arc::new(|request: &Captured| {
        let after = request
            .query
            .iter()
            .find(|(name, _)| name == "starting_after")
            .map(|(_, value)| value.as_str());
        let (data, has_more) = match after {
            None => (vec![transfer("tr_1"), transfer("tr_2")], true),
            Some("tr_2") => (vec![transfer("tr_3"), transfer("tr_4")], true),
            Some("tr_4") => (vec![transfer("tr_5")], false),
            Some(other) => panic!("unexpected starting_after {other}"),
        };
        (
            200,
            json!({"object": "list", "url": "/v1/transfers", "has_more": has_more, "data": data})
                .to_string(),
        )
    }))
    .await;
    let stripe = fake.client("sk_test_x", Duration::from_secs(5));

    // When the seller's transfers are read
    let transfers = stripe.transfers_to("acct_1").await.unwrap();

    // Then all five come back, from three requests filtered by destination at Stripe's page size
    let ids: Vec<&str> = transfers.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["tr_1", "tr_2", "tr_3", "tr_4", "tr_5"]);
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert!(
            request
                .query
                .contains(&("destination".to_owned(), "acct_1".to_owned()))
        );
        assert!(
            request
                .query
                .contains(&("limit".to_owned(), "100".to_owned()))
        );
    }
}

#[tokio::test]
async fn given_stripe_s_error_answers_then_the_caller_gets_them_classified() {
    // Given a server answering each path with one of Stripe's documented errors
    let fake = FakeStripe::start(Arc::new(|request: &Captured| {
        let (status, error) = match request.path.as_str() {
            "/v1/customers/cus_declined" => (402, json!({"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."})),
            "/v1/customers/cus_limited" => (429, json!({"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"})),
            "/v1/customers/cus_broken" => (500, json!({"type": "api_error", "message": "Something went wrong"})),
            _ => (404, json!({"type": "invalid_request_error", "code": "resource_missing", "message": "No such customer"})),
        };
        (status, json!({ "error": error }).to_string())
    }))
    .await;
    let stripe = fake.client("sk_test_x", Duration::from_secs(5));

    let declined = stripe.customer("cus_declined").await.unwrap_err();
    let limited = stripe.customer("cus_limited").await.unwrap_err();
    let broken = stripe.customer("cus_broken").await.unwrap_err();
    let missing = stripe.customer("cus_missing").await.unwrap_err();

    assert!(
        matches!(declined, StripeError::Declined { ref decline_code, .. } if decline_code.as_deref() == Some("insufficient_funds"))
    );
    assert!(limited.is_unavailable() && broken.is_unavailable());
    assert!(matches!(missing, StripeError::NotFound { .. }));
}

#[tokio::test]
async fn given_a_success_without_the_fields_stripe_always_sends_then_it_is_an_unexpected_response()
{
    let fake = FakeStripe::start(Arc::new(|_: &Captured| {
        (
            200,
            json!({"id": "cus_1", "object": "customer", "name": 7}).to_string(),
        )
    }))
    .await;
    let stripe = fake.client("sk_test_x", Duration::from_secs(5));

    let error = stripe.customer("cus_1").await.unwrap_err();

    assert!(
        matches!(error, StripeError::UnexpectedResponse { status: 200, .. }),
        "{error:?}"
    );
}
