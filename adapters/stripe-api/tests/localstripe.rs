//! The client against the local stack's localstripe, including the Connect endpoints, the
//! idempotency and the parameter checks its launcher adds (tools/local-stack/localstripe_launcher.py).
//! Run with `cargo run -q -p local-stack -- exec -- cargo test -p stripe-api`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use stripe_api::{
    CapabilityStatus, NewTransfer, OffSessionCharge, PaymentIntentStatus, StripeClient, StripeError,
};
use support::{client, localstripe, raw_call};

const VISA: &str = "4242424242424242";
/// Attaches, then every charge is declined (Stripe's "charge customer fail" test card).
const DECLINES_ON_CHARGE: &str = "4000000000000341";
/// Needs 3-D Secure on every charge, which an off-session charge cannot do.
const NEEDS_AUTHENTICATION: &str = "4000002500003155";

fn stripe() -> StripeClient {
    let (base, key) = localstripe();
    client(&base, &key, Duration::from_secs(10))
}

/// A key no other test or run uses.
fn key(what: &str) -> String {
    format!("test-{what}-{}", uuid::Uuid::new_v4().simple())
}

/// A customer with a card of `number` attached: (customer, payment method).
async fn customer_with_card(stripe: &StripeClient, number: &str) -> (String, String) {
    let customer = stripe
        .create_customer("Ada Lovelace", &key("customer"))
        .await
        .unwrap();
    let card = stripe
        .create_card_payment_method(number, &key("card"))
        .await
        .unwrap();
    let attached = stripe
        .attach_payment_method(&card.id, &customer.id, &key("attach"))
        .await
        .unwrap();
    assert_eq!(attached.customer.as_deref(), Some(customer.id.as_str()));
    (customer.id, card.id)
}

fn charge(customer: &str, payment_method: &str, amount: i64) -> OffSessionCharge {
    OffSessionCharge {
        customer: customer.to_owned(),
        payment_method: payment_method.to_owned(),
        amount,
        currency: "eur".to_owned(),
        metadata: BTreeMap::from([("auction_id".to_owned(), "a-1".to_owned())]),
    }
}

/// A connected account that can receive transfers.
async fn seller(stripe: &StripeClient) -> String {
    stripe
        .create_connected_account("seller@example.com", &key("account"))
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn given_a_customer_with_a_visa_card_when_charged_off_session_then_it_succeeds_and_reads_back()
 {
    // Given a customer with the 4242 card attached
    let stripe = stripe();
    let (customer, card) = customer_with_card(&stripe, VISA).await;

    // When it is charged off-session
    let intent = stripe
        .charge_off_session(&charge(&customer, &card, 2500), &key("charge"))
        .await
        .unwrap();

    // Then the intent succeeded, with a charge, and every read agrees
    assert_eq!(intent.status, PaymentIntentStatus::Succeeded);
    assert_eq!((intent.amount, intent.currency.as_str()), (2500, "eur"));
    assert_eq!(intent.customer.as_deref(), Some(customer.as_str()));
    assert_eq!(intent.payment_method.as_deref(), Some(card.as_str()));
    assert!(
        intent
            .latest_charge
            .as_deref()
            .is_some_and(|c| c.starts_with("ch_"))
    );
    assert_eq!(intent.metadata["auction_id"], "a-1");
    assert_eq!(stripe.payment_intent(&intent.id).await.unwrap(), intent);
    let of_customer = stripe.payment_intents_of_customer(&customer).await.unwrap();
    assert_eq!(of_customer, vec![intent.clone()]);
    let read_customer = stripe.customer(&customer).await.unwrap();
    assert_eq!(read_customer.name.as_deref(), Some("Ada Lovelace"));
    assert!(!read_customer.deleted);
    let method = stripe.payment_method(&card).await.unwrap();
    assert_eq!(method.kind, "card");
    assert_eq!(method.customer.as_deref(), Some(customer.as_str()));
    let card_details = method.card.unwrap();
    assert_eq!(card_details.last4, "4242");
    assert!(!card_details.brand.is_empty());
}

#[tokio::test]
async fn given_a_card_that_declines_on_charge_when_charged_then_it_is_declined() {
    let stripe = stripe();
    let (customer, card) = customer_with_card(&stripe, DECLINES_ON_CHARGE).await;

    let error = stripe
        .charge_off_session(&charge(&customer, &card, 2500), &key("charge"))
        .await
        .unwrap_err();

    assert!(error.is_declined(), "{error:?}");
    assert!(matches!(error, StripeError::Declined { ref code, .. } if code == "card_declined"));
}

#[tokio::test]
async fn given_a_card_that_needs_authentication_when_charged_off_session_then_it_is_declined() {
    let stripe = stripe();
    let (customer, card) = customer_with_card(&stripe, NEEDS_AUTHENTICATION).await;

    let error = stripe
        .charge_off_session(&charge(&customer, &card, 2500), &key("charge"))
        .await
        .unwrap_err();

    assert!(
        matches!(error, StripeError::Declined { ref code, .. } if code == "authentication_required"),
        "{error:?}"
    );
}

#[tokio::test]
async fn given_a_paid_intent_when_part_is_refunded_then_the_refund_names_it() {
    let stripe = stripe();
    let (customer, card) = customer_with_card(&stripe, VISA).await;
    let intent = stripe
        .charge_off_session(&charge(&customer, &card, 2500), &key("charge"))
        .await
        .unwrap();

    let refund = stripe
        .refund_payment_intent(
            &intent.id,
            1000,
            &[("reason_code", "reserve_not_met")],
            &key("refund"),
        )
        .await
        .unwrap();

    assert!(refund.id.starts_with("re_"));
    assert_eq!((refund.amount, refund.currency.as_str()), (1000, "eur"));
    assert_eq!(refund.payment_intent.as_deref(), Some(intent.id.as_str()));
    assert_eq!(refund.status.as_deref(), Some("succeeded"));
    assert_eq!(refund.metadata["reason_code"], "reserve_not_met");
}

#[tokio::test]
async fn given_a_paid_intent_when_the_seller_is_paid_and_part_reversed_then_transfers_read_back() {
    // Given a paid intent and a seller who can receive transfers
    let stripe = stripe();
    let (customer, card) = customer_with_card(&stripe, VISA).await;
    let intent = stripe
        .charge_off_session(&charge(&customer, &card, 2500), &key("charge"))
        .await
        .unwrap();
    let seller = seller(&stripe).await;
    let account = stripe.account(&seller).await.unwrap();
    assert_eq!(
        account.capabilities.transfers,
        Some(CapabilityStatus::Active)
    );
    assert!(account.can_receive_transfers() && account.payouts_enabled);

    // When the seller is paid from the charge and part of it is taken back
    let transfer = stripe
        .transfer(
            &NewTransfer {
                amount: 2200,
                currency: "eur".to_owned(),
                destination: seller.clone(),
                transfer_group: Some("auction-a-1".to_owned()),
                source_transaction: intent.latest_charge.clone(),
                metadata: BTreeMap::from([("auction_id".to_owned(), "a-1".to_owned())]),
            },
            &key("transfer"),
        )
        .await
        .unwrap();
    let reversal = stripe
        .reverse_transfer(
            &transfer.id,
            700,
            &[("reason_code", "refund")],
            &key("reversal"),
        )
        .await
        .unwrap();

    // Then the reversal names the transfer, and the transfer shows what was reversed
    assert_eq!(
        (reversal.amount, reversal.transfer.as_str()),
        (700, transfer.id.as_str())
    );
    assert_eq!(reversal.metadata["reason_code"], "refund");
    let transfers = stripe.transfers_to(&seller).await.unwrap();
    assert_eq!(transfers.len(), 1);
    let read = &transfers[0];
    assert_eq!(read.id, transfer.id);
    assert_eq!(
        (read.amount, read.amount_reversed, read.reversed),
        (2200, 700, false)
    );
    assert_eq!(read.destination.as_deref(), Some(seller.as_str()));
    assert_eq!(read.transfer_group.as_deref(), Some("auction-a-1"));
    assert_eq!(read.metadata["auction_id"], "a-1");

    // And reversing more than is left is refused, as Stripe refuses it
    let error = stripe
        .reverse_transfer(&transfer.id, 1501, &[], &key("reversal"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StripeError::Invalid { ref param, .. } if param.as_deref() == Some("amount")),
        "{error:?}"
    );
    let rest = stripe
        .reverse_transfer(&transfer.id, 1500, &[], &key("reversal"))
        .await
        .unwrap();
    assert_eq!(rest.amount, 1500);
    assert!(stripe.transfers_to(&seller).await.unwrap()[0].reversed);
}

#[tokio::test]
async fn given_a_destination_that_cannot_be_paid_then_the_transfer_is_declined() {
    let stripe = stripe();
    let (base, secret) = localstripe();
    // An account that requested no capability (the client always requests transfers)
    let (status, body) =
        raw_call(&base, &secret, "POST", "/v1/accounts", "type=express", None).await;
    assert_eq!(status, 200);
    let unpayable: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let unpayable = unpayable["id"].as_str().unwrap();
    let transfer = |destination: &str, amount: i64| NewTransfer {
        amount,
        currency: "eur".to_owned(),
        destination: destination.to_owned(),
        transfer_group: None,
        source_transaction: None,
        metadata: BTreeMap::new(),
    };

    let no_capability = stripe
        .transfer(&transfer(unpayable, 100), &key("transfer"))
        .await
        .unwrap_err();
    let no_funds = stripe
        .transfer(
            &transfer(&seller(&stripe).await, 1_000_000_000_000),
            &key("transfer"),
        )
        .await
        .unwrap_err();
    let no_account = stripe
        .transfer(&transfer("acct_nobody", 100), &key("transfer"))
        .await
        .unwrap_err();

    assert!(
        matches!(no_capability, StripeError::Declined { ref code, .. } if code == "insufficient_capabilities_for_transfer"),
        "{no_capability:?}"
    );
    assert!(
        matches!(no_funds, StripeError::Declined { ref code, .. } if code == "balance_insufficient"),
        "{no_funds:?}"
    );
    assert!(
        matches!(no_account, StripeError::NotFound { .. }),
        "{no_account:?}"
    );
}

#[tokio::test]
async fn given_the_same_idempotency_key_then_the_first_result_is_returned_and_other_params_are_refused()
 {
    let stripe = stripe();
    let (customer, card) = customer_with_card(&stripe, VISA).await;
    let charge_key = key("charge");

    // When the same charge is sent twice with one key (a retry after a lost answer)
    let first = stripe
        .charge_off_session(&charge(&customer, &card, 1200), &charge_key)
        .await
        .unwrap();
    let again = stripe
        .charge_off_session(&charge(&customer, &card, 1200), &charge_key)
        .await
        .unwrap();
    // And then with another amount under the same key
    let other = stripe
        .charge_off_session(&charge(&customer, &card, 9900), &charge_key)
        .await
        .unwrap_err();

    // Then the money moved once, and the reuse is refused
    assert_eq!(again, first);
    assert_eq!(
        stripe
            .payment_intents_of_customer(&customer)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        matches!(other, StripeError::IdempotencyConflict { .. }),
        "{other:?}"
    );
    // The same for the Connect endpoints the launcher adds
    let seller_key = key("account");
    let account = stripe
        .create_connected_account("Ada's Cameras", &seller_key)
        .await
        .unwrap();
    let same = stripe
        .create_connected_account("Ada's Cameras", &seller_key)
        .await
        .unwrap();
    assert_eq!(same, account);
}

#[tokio::test]
async fn given_unknown_ids_then_every_read_and_reversal_is_not_found() {
    let stripe = stripe();

    let errors = [
        stripe.customer("cus_nobody").await.map(drop),
        stripe.payment_method("pm_nobody").await.map(drop),
        stripe.account("acct_nobody").await.map(drop),
        stripe.payment_intent("pi_nobody").await.map(drop),
        stripe
            .reverse_transfer("tr_nobody", 1, &[], &key("reversal"))
            .await
            .map(drop),
        stripe.customer("cus_1/../../v1/balance").await.map(drop),
    ];

    for error in errors {
        assert!(
            matches!(error, Err(StripeError::NotFound { .. })),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn given_a_key_localstripe_refuses_then_the_call_is_unauthorized() {
    let (base, _) = localstripe();
    let stripe = client(&base, "pk_test_not_a_secret_key", Duration::from_secs(10));

    let error = stripe.customer("cus_nobody").await.unwrap_err();

    assert!(
        matches!(error, StripeError::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn given_a_port_nobody_listens_on_then_the_call_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let stripe = client(
        &format!("http://127.0.0.1:{port}"),
        "sk_test_x",
        Duration::from_secs(5),
    );

    let error = stripe
        .create_customer("Ada", &key("customer"))
        .await
        .unwrap_err();

    assert!(error.is_unavailable(), "{error:?}");
}

#[tokio::test]
async fn given_a_parameter_stripe_does_not_know_then_localstripe_refuses_it_as_stripe_does() {
    // The launcher checks every request to a vendored operation against Stripe's document
    let (base, secret) = localstripe();

    let (status, body) = raw_call(
        &base,
        &secret,
        "POST",
        "/v1/transfers",
        "amount=100&currency=eur&destinaton=acct_1",
        None,
    )
    .await;
    let (typed_status, typed_body) = raw_call(
        &base,
        &secret,
        "POST",
        "/v1/payment_intents",
        "amount=ten&currency=eur",
        None,
    )
    .await;

    assert_eq!(
        StripeError::from_response(status, &body),
        StripeError::Invalid {
            status: Some(400),
            code: Some("parameter_unknown".to_owned()),
            param: Some("destinaton".to_owned()),
            message: "Received unknown parameter: destinaton".to_owned(),
        }
    );
    assert!(matches!(
        StripeError::from_response(typed_status, &typed_body),
        StripeError::Invalid { code: Some(ref code), .. } if code == "parameter_invalid_integer"
    ));
}

/// The SDK configuration of the local stack, pointed at moto's server (behind the SQS endpoint
/// it serves every service it emulates, Secrets Manager included).
async fn moto_sdk() -> aws_config::SdkConfig {
    let moto = std::env::var("AWS_ENDPOINT_URL_SQS")
        .expect("AWS_ENDPOINT_URL_SQS: run under `cargo run -q -p local-stack -- exec`");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto)
        .load()
        .await
}

#[tokio::test]
async fn given_only_a_secret_id_then_the_keys_are_read_from_secrets_manager() {
    // Given the key and the webhook secret in Secrets Manager, and only their names in the
    // environment (as in AWS)
    let (base, secret) = localstripe();
    let sdk = moto_sdk().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let (key_name, webhook_name) = (key("stripe-key"), key("stripe-webhook"));
    for (name, value) in [
        (&key_name, secret.as_str()),
        (&webhook_name, "whsec_from_aws"),
    ] {
        secrets
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    let env = BTreeMap::from([
        ("STRIPE_API_BASE", base.clone()),
        ("STRIPE_SECRET_KEY_ID", key_name.clone()),
        ("STRIPE_WEBHOOK_SECRET_ID", webhook_name.clone()),
    ]);
    let lookup = |name: &str| env.get(name).cloned();

    // When the configuration is read
    let config = stripe_api::StripeConfig::from_lookup(&sdk, lookup)
        .await
        .unwrap();
    let webhook = stripe_api::webhook::WebhookSecret::from_lookup(&sdk, lookup)
        .await
        .unwrap();

    // Then the client works with the key from the secret, and the webhook secret is the stored one
    assert_eq!(config.api_base, base);
    let stripe = StripeClient::new(config).unwrap();
    stripe
        .create_customer("Ada", &key("customer"))
        .await
        .unwrap();
    assert_eq!(
        webhook,
        stripe_api::webhook::WebhookSecret::new("whsec_from_aws")
    );
    // And a name that is not in Secrets Manager, or no name at all, is a configuration error
    let missing = BTreeMap::from([("STRIPE_SECRET_KEY_ID", key("no-such-secret"))]);
    let error = stripe_api::StripeConfig::from_lookup(&sdk, |name| missing.get(name).cloned())
        .await
        .unwrap_err();
    assert!(matches!(error, StripeError::Config { .. }), "{error:?}");
    let error = stripe_api::StripeConfig::from_lookup(&sdk, |_| None)
        .await
        .unwrap_err();
    assert!(matches!(error, StripeError::Config { .. }), "{error:?}");
}
