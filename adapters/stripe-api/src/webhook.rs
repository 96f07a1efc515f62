//! Stripe's webhook signatures: verifying the `Stripe-Signature` header of an event Stripe (or
//! localstripe) posts, and signing payloads the same way for tests and local tools.
//!
//! Stripe signs `"{t}.{payload}"` with HMAC-SHA256 under the endpoint's secret (`whsec_...`, used
//! as the key as it is) and sends `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`
//! (several `v1` while a secret is being rolled; `v0` and unknown schemes are ignored).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::StripeError;
use crate::config::secret_from;

/// The endpoint's signing secret itself (`whsec_...`): local runs and tests.
pub const WEBHOOK_SECRET_VAR: &str = "STRIPE_WEBHOOK_SECRET";
/// In AWS: the Secrets Manager secret whose string is the signing secret.
pub const WEBHOOK_SECRET_ID_VAR: &str = "STRIPE_WEBHOOK_SECRET_ID";
/// How far an event's timestamp may be from now (Stripe's libraries use five minutes): an older
/// (or a future) signed payload is refused as a possible replay.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

/// A webhook endpoint's signing secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// From `STRIPE_WEBHOOK_SECRET`, or in AWS the Secrets Manager secret named by
    /// `STRIPE_WEBHOOK_SECRET_ID` (read once, here). [`StripeError::Config`] when neither works.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, StripeError> {
        Self::from_lookup(sdk, |name| std::env::var(name).ok()).await
    }

    /// As [`WebhookSecret::from_env`], reading the variables through `lookup`.
    pub async fn from_lookup(
        sdk: &aws_config::SdkConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StripeError> {
        secret_from(sdk, &lookup, WEBHOOK_SECRET_VAR, WEBHOOK_SECRET_ID_VAR)
            .await
            .map(Self)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(self.0.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A verified event: its id, type, creation time and the object it is about.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    /// `evt_...`: what a consumer de-duplicates on (Stripe may deliver an event more than once).
    pub id: String,
    /// `payment_intent.succeeded`, `charge.refunded`, `transfer.reversed`, ...
    #[serde(rename = "type")]
    pub event_type: String,
    /// Unix seconds.
    pub created: i64,
    pub data: EventData,
}

/// An event's `data`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventData {
    /// The object as it was when the event happened (a payment intent, a transfer, ...).
    pub object: serde_json::Value,
}

/// Why a webhook was refused. The receiver answers 400 and does nothing: Stripe retries a failed
/// delivery, and a forged or replayed one must change nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRefusal {
    #[error("no Stripe-Signature header")]
    MissingHeader,
    #[error("the Stripe-Signature header has no valid timestamp (t=)")]
    MissingTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    MissingSignature,
    #[error("the event was signed at {timestamp}, more than {tolerance:?} from now ({now})")]
    OutsideTolerance {
        timestamp: i64,
        now: i64,
        tolerance: Duration,
    },
    #[error("no v1 signature matches the payload")]
    SignatureMismatch,
    #[error("the signed payload is not a Stripe event: {0}")]
    InvalidPayload(String),
}

/// Verifies `signature_header` over the raw `payload` (the request body exactly as received)
/// and returns the parsed event. Refuses a missing or malformed header, a timestamp further than
/// `tolerance` from `now` either way, and a payload no `v1` signature matches.
pub fn verify(
    payload: &[u8],
    signature_header: &str,
    secret: &WebhookSecret,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<Event, WebhookRefusal> {
    if signature_header.trim().is_empty() {
        return Err(WebhookRefusal::MissingHeader);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in signature_header.split(',') {
        let Some((scheme, value)) = item.trim().split_once('=') else {
            continue;
        };
        match scheme {
            "t" => timestamp = value.parse::<i64>().ok(),
            "v1" => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookRefusal::MissingTimestamp)?;
    if signatures.is_empty() {
        return Err(WebhookRefusal::MissingSignature);
    }
    let now_secs = now.timestamp();
    let tolerance_secs = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now_secs.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(WebhookRefusal::OutsideTolerance {
            timestamp,
            now: now_secs,
            tolerance,
        });
    }
    let signed = signed_payload(payload, timestamp);
    let matches = signatures.iter().any(|signature| {
        let mut mac = secret.mac();
        mac.update(&signed);
        // Constant-time comparison.
        mac.verify_slice(signature).is_ok()
    });
    if !matches {
        return Err(WebhookRefusal::SignatureMismatch);
    }
    serde_json::from_slice(payload).map_err(|e| WebhookRefusal::InvalidPayload(e.to_string()))
}

/// The `Stripe-Signature` header Stripe would send for `payload` at `timestamp`:
/// `t=<timestamp>,v1=<hex>`.
pub fn sign(payload: &[u8], secret: &WebhookSecret, timestamp: i64) -> String {
    let mut mac = secret.mac();
    mac.update(&signed_payload(payload, timestamp));
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn signed_payload(payload: &[u8], timestamp: i64) -> Vec<u8> {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(payload);
    signed
}
