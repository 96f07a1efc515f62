//! Stripe's HTTP API as the platform uses it: off-session PaymentIntents, Refunds, Connect
//! Transfers and Transfer Reversals, the reads that check who pays and who is paid, the set-up
//! calls a demo and the tests need, and webhook signatures ([`webhook`]).
//!
//! # What it is
//!
//! A thin, typed client over Stripe's REST API: form-encoded requests (`a[b]=c` for nested
//! parameters such as metadata), `Authorization: Bearer <secret key>`, a pinned
//! `Stripe-Version` ([`STRIPE_VERSION`], the version of the OpenAPI document vendored in
//! `openapi/`), an `Idempotency-Key` on every call that creates something, and one request
//! timeout. Responses are deserialised into small types holding only the fields the platform
//! relies on; every failure is one [`StripeError`] whose variant says what the caller does.
//! The same client talks to api.stripe.com over HTTPS and to localstripe (the local stack's
//! Stripe emulator) over plain HTTP: only [`StripeConfig::api_base`] differs.
//!
//! The HTTP client is hyper 1 with hyper-util's pooled client and hyper-rustls (rustls with the
//! aws-lc-rs provider and the system's root certificates), which the AWS SDK and
//! `functions/live` already build: no second HTTP or TLS stack is compiled in. reqwest would save
//! a few lines but bring its own dependency tree for nothing we need.
//!
//! The request each call sends is checked against Stripe's published OpenAPI document by
//! `tests/openapi.rs` (localstripe lacks Connect and ignores `Idempotency-Key`, so running
//! against it alone would not show a wrong parameter there), and run against localstripe by
//! `tests/localstripe.rs` under `cargo run -q -p local-stack -- exec -- cargo test -p stripe-api`.
//!
//! # What it must not depend on
//!
//! Nothing of ours: not `domain`, not `events`, no other adapter. It speaks Stripe's vocabulary
//! (customers, payment intents, transfers, minor units and lower-case currency codes); mapping
//! the platform's money and identities to it is the caller's job (the payment saga's adapter).
//! Nothing in it knows about the auction, the saga or DynamoDB.

mod client;
mod config;
mod error;
mod form;
mod types;
pub mod webhook;

pub use client::StripeClient;
pub use config::{
    API_BASE_VAR, DEFAULT_API_BASE, DEFAULT_TIMEOUT, SECRET_KEY_ID_VAR, SECRET_KEY_VAR, SecretKey,
    StripeConfig,
};
pub use error::{DECLINE_CODES, StripeError};
pub use types::{
    Account, AccountCapabilities, CapabilityStatus, Card, Customer, NewTransfer, OffSessionCharge,
    PaymentError, PaymentIntent, PaymentIntentStatus, PaymentMethod, Refund, Transfer,
    TransferReversal,
};

/// The API version every request pins with the `Stripe-Version` header: the version of the
/// OpenAPI document in `openapi/stripe-openapi.json` (`info.version`), which `tests/openapi.rs`
/// checks the requests against. Bump both together (`openapi/extract.py`).
pub const STRIPE_VERSION: &str = "2023-08-16";
