//! The Stripe check over Stripe's HTTP API, against a small local server that answers the three
//! reads as Stripe does (objects, `resource_missing` 404s, a deleted customer, a 503, a 401), so
//! that each answer's meaning for a registration is pinned without the network. The same check
//! runs against the local stack's Stripe emulator in the end-to-end suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use payment_identities::{
    AccountId, CheckWithProvider, CustomerId, IdentityError, PaymentMethodId, StripeChecker,
};
use serde_json::{Value, json};
use stripe_api::{SecretKey, StripeClient, StripeConfig};

const KEY: &str = "sk_test_payment_identities";

fn missing(what: &str, id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(
            json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
            "param": "id", "message": format!("No such {what}: '{id}'")}}),
        ),
    )
        .into_response()
}

/// Stripe's 401 unless the request carries the test's key.
fn refused_key(headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bearer {KEY}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str()) {
        None
    } else {
        Some(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": {"type": "invalid_request_error",
                    "message": "Invalid API Key provided"}})),
            )
                .into_response(),
        )
    }
}

fn card(id: &str, customer: Value, kind: &str) -> Value {
    let mut method = json!({"id": id, "object": "payment_method", "type": kind,
        "customer": customer});
    if kind == "card" {
        method["card"] = json!({"brand": "mastercard", "last4": "4444", "exp_month": 12,
            "exp_year": 2030});
    }
    method
}

async fn customer(headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refused) = refused_key(&headers) {
        return refused;
    }
    match id.as_str() {
        "cus_bob" | "cus_ann" => {
            axum::Json(json!({"id": id, "object": "customer"})).into_response()
        }
        "cus_gone" => {
            axum::Json(json!({"id": id, "object": "customer", "deleted": true})).into_response()
        }
        "cus_down" => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": {"type": "api_error", "message": "try again"}})),
        )
            .into_response(),
        _ => missing("customer", &id),
    }
}

async fn payment_method(headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refused) = refused_key(&headers) {
        return refused;
    }
    let found = match id.as_str() {
        "pm_bob" => card(&id, json!("cus_bob"), "card"),
        // Expanded, as Stripe answers with `expand[]=customer`.
        "pm_bob_expanded" => card(&id, json!({"id": "cus_bob", "object": "customer"}), "card"),
        "pm_ann" => card(&id, json!("cus_ann"), "card"),
        "pm_loose" => card(&id, Value::Null, "card"),
        "pm_sepa" => card(&id, json!("cus_bob"), "sepa_debit"),
        _ => return missing("PaymentMethod", &id),
    };
    axum::Json(found).into_response()
}

async fn account(headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refused) = refused_key(&headers) {
        return refused;
    }
    let transfers = match id.as_str() {
        "acct_ready" => json!("active"),
        "acct_pending" => json!("pending"),
        "acct_bare" => Value::Null,
        _ => return missing("account", &id),
    };
    axum::Json(
        json!({"id": id, "object": "account", "charges_enabled": true,
        "payouts_enabled": true, "capabilities": {"transfers": transfers}}),
    )
    .into_response()
}

/// A checker over a fresh local server, authenticating with `key`.
async fn checker(key: &str) -> StripeChecker {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/v1/customers/{id}", get(customer))
        .route("/v1/payment_methods/{id}", get(payment_method))
        .route("/v1/accounts/{id}", get(account));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = StripeClient::new(StripeConfig {
        api_base: format!("http://{address}"),
        secret_key: SecretKey::new(key),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    StripeChecker::new(client)
}

async fn check_card(
    checker: &StripeChecker,
    customer: &str,
    payment_method: &str,
) -> Result<payment_identities::CardOnFile, IdentityError> {
    checker
        .check_payment_method(
            &CustomerId::parse(customer).unwrap(),
            &PaymentMethodId::parse(payment_method).unwrap(),
        )
        .await
}

async fn check_account(checker: &StripeChecker, account: &str) -> Result<(), IdentityError> {
    checker
        .check_payout_account(&AccountId::parse(account).unwrap())
        .await
}

#[tokio::test]
async fn given_a_card_attached_to_its_customer_when_checked_then_its_brand_and_last4_come_from_stripe()
 {
    let checker = checker(KEY).await;

    for payment_method in ["pm_bob", "pm_bob_expanded"] {
        let card = check_card(&checker, "cus_bob", payment_method)
            .await
            .unwrap();

        assert_eq!(card.customer_id.as_str(), "cus_bob");
        assert_eq!(card.payment_method_id.as_str(), payment_method);
        assert_eq!(
            (card.brand.as_str(), card.last4.as_str()),
            ("mastercard", "4444")
        );
    }
}

#[tokio::test]
async fn given_ids_stripe_does_not_know_when_checked_then_each_is_not_found() {
    let checker = checker(KEY).await;

    for customer in ["cus_nobody", "cus_gone"] {
        let error = check_card(&checker, customer, "pm_bob").await.unwrap_err();
        assert!(
            matches!(error, IdentityError::CustomerNotFound(_)),
            "{customer}: {error:?}"
        );
    }
    let error = check_card(&checker, "cus_bob", "pm_nothing")
        .await
        .unwrap_err();
    assert!(
        matches!(error, IdentityError::PaymentMethodNotFound(_)),
        "{error:?}"
    );
    let error = check_account(&checker, "acct_nobody").await.unwrap_err();
    assert!(
        matches!(error, IdentityError::AccountNotFound(_)),
        "{error:?}"
    );
}

#[tokio::test]
async fn given_a_card_of_another_customer_or_of_none_or_no_card_when_checked_then_it_is_refused() {
    let checker = checker(KEY).await;

    for payment_method in ["pm_ann", "pm_loose"] {
        let error = check_card(&checker, "cus_bob", payment_method)
            .await
            .unwrap_err();
        assert!(
            matches!(error, IdentityError::NotAttached { .. }),
            "{payment_method}: {error:?}"
        );
    }
    let error = check_card(&checker, "cus_bob", "pm_sepa")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, IdentityError::NotACard { kind, .. } if kind == "sepa_debit"),
        "{error:?}"
    );
}

#[tokio::test]
async fn given_accounts_with_and_without_active_transfers_when_checked_then_only_the_active_one_passes()
 {
    let checker = checker(KEY).await;

    check_account(&checker, "acct_ready").await.unwrap();
    for account in ["acct_pending", "acct_bare"] {
        let error = check_account(&checker, account).await.unwrap_err();
        assert!(
            matches!(error, IdentityError::AccountCannotReceiveTransfers { .. }),
            "{account}: {error:?}"
        );
    }
}

#[tokio::test]
async fn given_stripe_down_or_unreachable_when_checked_then_it_is_transient() {
    let checker_ = checker(KEY).await;
    let error = check_card(&checker_, "cus_down", "pm_bob")
        .await
        .unwrap_err();
    assert!(
        matches!(error, IdentityError::ProviderUnavailable(_)),
        "{error:?}"
    );

    // Nothing listens on this port once the listener is dropped.
    let port = {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let unreachable = StripeChecker::new(
        StripeClient::new(StripeConfig {
            api_base: format!("http://127.0.0.1:{port}"),
            secret_key: SecretKey::new(KEY),
            timeout: Duration::from_secs(5),
        })
        .unwrap(),
    );
    let error = check_account(&unreachable, "acct_ready").await.unwrap_err();
    assert!(
        matches!(error, IdentityError::ProviderUnavailable(_)) && error.is_transient(),
        "{error:?}"
    );
}

#[tokio::test]
async fn given_a_key_stripe_refuses_when_checked_then_it_is_the_platforms_fault_not_the_users() {
    let checker = checker("sk_test_revoked").await;

    let error = check_card(&checker, "cus_bob", "pm_bob").await.unwrap_err();

    assert!(
        matches!(error, IdentityError::ProviderRefused(_)),
        "{error:?}"
    );
    assert!(!error.is_bad_input() && !error.is_transient());
}
