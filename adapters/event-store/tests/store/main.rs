//! The command loop and the tamper check against the in-memory twin of the DynamoDB store.
//! (The same behaviour against DynamoDB Local is tested in tests/, the end-to-end suite.)
// In tests a panic is a failed assertion; clippy's in-test allowance does not reach helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod commands;
mod groups;
mod idempotency;
mod of_type;
mod snapshots;
mod support;
mod tampering;
