//! End-to-end tests against the running local stack, as one test binary so that the workspace
//! links it once. Run with `scripts/test` (which starts the stack around `cargo test`).

// Everything in this binary is test code, helpers included: a panic is a failed assertion.
// (clippy.toml's allow-*-in-tests only covers the #[test] functions themselves.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod audit;
mod digests;
mod dynamodb_local;
mod event_store;
mod faults;
mod item_photos;
mod lambdas;
mod notifier;
mod parking;
mod payment_identities;
mod payment_saga;
mod personal_data;

mod projector;
mod provisioning;
mod publisher;
mod rebuild;
mod reconciler;
mod scheduler;
mod sqs;
mod stripe_sale;
mod support;
mod triggers;
mod webhooks;
