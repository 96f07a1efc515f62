//! Webhook signatures: what `verify` accepts and what it refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use stripe_api::webhook::{self, DEFAULT_TOLERANCE, WebhookRefusal, WebhookSecret};

const PAYLOAD: &[u8] = br#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1767225600,"data":{"object":{"id":"pi_1","object":"payment_intent","amount":1500}}}"#;
const SIGNED_AT: i64 = 1_767_225_600;

fn secret() -> WebhookSecret {
    WebhookSecret::new("whsec_test_secret")
}

fn at(seconds_after_signing: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(SIGNED_AT, 0).unwrap() + TimeDelta::seconds(seconds_after_signing)
}

fn verify(
    payload: &[u8],
    header: &str,
    now: DateTime<Utc>,
) -> Result<webhook::Event, WebhookRefusal> {
    webhook::verify(payload, header, &secret(), now, DEFAULT_TOLERANCE)
}

#[test]
fn given_a_payload_signed_with_the_secret_then_the_event_is_returned() {
    let header = webhook::sign(PAYLOAD, &secret(), SIGNED_AT);

    let event = verify(PAYLOAD, &header, at(10)).unwrap();

    assert_eq!(event.id, "evt_1");
    assert_eq!(event.event_type, "payment_intent.succeeded");
    assert_eq!(event.created, SIGNED_AT);
    assert_eq!(event.data.object["id"], "pi_1");
}

#[test]
fn given_the_signature_stripe_computes_then_sign_produces_the_same_header() {
    // Stripe's scheme spelled out independently: HMAC-SHA256 over "{t}.{payload}", hex.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_test_secret").unwrap();
    mac.update(format!("{SIGNED_AT}.").as_bytes());
    mac.update(PAYLOAD);
    let expected = format!(
        "t={SIGNED_AT},v1={}",
        hex::encode(mac.finalize().into_bytes())
    );

    assert_eq!(webhook::sign(PAYLOAD, &secret(), SIGNED_AT), expected);
}

#[test]
fn given_a_tampered_payload_then_it_is_refused() {
    let header = webhook::sign(PAYLOAD, &secret(), SIGNED_AT);
    let tampered = String::from_utf8(PAYLOAD.to_vec())
        .unwrap()
        .replace("1500", "15000");

    let refusal = verify(tampered.as_bytes(), &header, at(10)).unwrap_err();

    assert_eq!(refusal, WebhookRefusal::SignatureMismatch);
}

#[test]
fn given_a_signature_made_with_another_secret_then_it_is_refused() {
    let header = webhook::sign(PAYLOAD, &WebhookSecret::new("whsec_other"), SIGNED_AT);

    let refusal = verify(PAYLOAD, &header, at(10)).unwrap_err();

    assert_eq!(refusal, WebhookRefusal::SignatureMismatch);
}

#[test]
fn given_an_old_timestamp_then_it_is_refused_as_a_possible_replay() {
    let header = webhook::sign(PAYLOAD, &secret(), SIGNED_AT);

    let refusal = verify(PAYLOAD, &header, at(301)).unwrap_err();
    let within = verify(PAYLOAD, &header, at(300));

    assert!(matches!(
        refusal,
        WebhookRefusal::OutsideTolerance {
            timestamp: SIGNED_AT,
            ..
        }
    ));
    assert!(within.is_ok(), "exactly at the tolerance is accepted");
}

#[test]
fn given_a_timestamp_in_the_future_beyond_the_tolerance_then_it_is_refused() {
    let header = webhook::sign(PAYLOAD, &secret(), SIGNED_AT);

    let refusal = verify(PAYLOAD, &header, at(-301)).unwrap_err();

    assert!(matches!(refusal, WebhookRefusal::OutsideTolerance { .. }));
}

#[test]
fn given_a_custom_tolerance_then_it_is_the_one_applied() {
    let header = webhook::sign(PAYLOAD, &secret(), SIGNED_AT);

    let strict = webhook::verify(PAYLOAD, &header, &secret(), at(11), Duration::from_secs(10));

    assert!(matches!(
        strict,
        Err(WebhookRefusal::OutsideTolerance { .. })
    ));
}

#[test]
fn given_a_missing_or_malformed_header_then_it_is_refused() {
    let only_timestamp = format!("t={SIGNED_AT}");
    let only_v0 = format!("t={SIGNED_AT},v0=abcdef");
    let cases = [
        ("", WebhookRefusal::MissingHeader),
        ("   ", WebhookRefusal::MissingHeader),
        ("v1=abcdef", WebhookRefusal::MissingTimestamp),
        ("t=yesterday,v1=abcdef", WebhookRefusal::MissingTimestamp),
        (only_timestamp.as_str(), WebhookRefusal::MissingSignature),
        (only_v0.as_str(), WebhookRefusal::MissingSignature),
    ];
    for (header, expected) in cases {
        assert_eq!(
            verify(PAYLOAD, header, at(10)).unwrap_err(),
            expected,
            "{header:?}"
        );
    }
}

#[test]
fn given_several_v1_signatures_then_one_matching_is_enough() {
    // While a secret is rolled Stripe signs with both; the old one may come first.
    let old = webhook::sign(PAYLOAD, &WebhookSecret::new("whsec_old"), SIGNED_AT);
    let current = webhook::sign(PAYLOAD, &secret(), SIGNED_AT);
    let v1 = |header: &str| header.split_once(",v1=").unwrap().1.to_owned();
    let header = format!(
        "t={SIGNED_AT},v1={},v0=ignored,v1={}",
        v1(&old),
        v1(&current)
    );
    let none_matching = format!("t={SIGNED_AT},v1={},v1=00ff", v1(&old));

    assert_eq!(verify(PAYLOAD, &header, at(10)).unwrap().id, "evt_1");
    assert_eq!(
        verify(PAYLOAD, &none_matching, at(10)).unwrap_err(),
        WebhookRefusal::SignatureMismatch
    );
}

#[test]
fn given_a_signed_payload_that_is_not_an_event_then_it_is_refused_after_the_signature() {
    let payload = br#"{"hello":"world"}"#;
    let header = webhook::sign(payload, &secret(), SIGNED_AT);

    let refusal = verify(payload, &header, at(10)).unwrap_err();

    assert!(matches!(refusal, WebhookRefusal::InvalidPayload(_)));
}

#[test]
fn given_a_webhook_secret_then_debug_does_not_show_it() {
    assert!(!format!("{:?}", secret()).contains("test_secret"));
}
