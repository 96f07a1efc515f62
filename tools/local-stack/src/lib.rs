//! The local stack: installs, starts, provisions and stops the emulators the platform runs
//! against on one machine, without Docker.
//!
//! - DynamoDB and DynamoDB Streams: Amazon's DynamoDB Local, taken from the npm package
//!   `amplify-dynamodb-simulator` and run with the machine's Java.
//! - SQS: moto's server, installed from PyPI into a virtualenv.
//! - Lambda: cargo-lambda, installed from PyPI into its own virtualenv: it builds the Lambda
//!   artifacts, and its emulator runs the real `*-lambda` binaries ([`lambda`]).
//! - Stripe: localstripe, installed from PyPI into its own virtualenv and run through
//!   `localstripe_launcher.py`, which binds it to 127.0.0.1, keeps its state to this stack, and
//!   adds what it lacks and the platform needs: Connect (accounts, transfers, reversals),
//!   Stripe's `Idempotency-Key` semantics, and Stripe's parameter checks from the OpenAPI
//!   document vendored in `adapters/stripe-api/openapi/` (read as a file, not as a crate).
//!
//! The binary `local-stack` (`install`, `up`, `exec -- CMD`) and the end-to-end tests both use
//! this library, so the resource definitions in [`resources`] are the single source of truth.
//!
//! This crate is tooling: it must not depend on the platform's crates (`domain`,
//! `events`, the functions), and nothing in the platform may depend on it except tests
//! and local tools. The platform's binaries find the emulators through the standard AWS
//! environment variables this crate prints, never through this crate.

mod emulator;
mod error;
mod install;
pub mod lambda;
mod launch;
mod provision;
pub mod resources;
mod sdk;

pub use error::Error;
pub use install::{
    CARGO_LAMBDA_VERSION, DYNAMODB_SIMULATOR_VERSION, LOCALSTRIPE_VERSION, MOTO_VERSION, Tools,
};
pub use launch::{
    DEFAULT_READY_TIMEOUT, LOCALSTRIPE_SECRET_KEY, LocalStack, LocalStripe, Service, StartOptions,
};
pub use provision::{Provisioned, ProvisionedQueue, ProvisionedStandardQueue, provision};
pub use resources::ResourceNames;
pub use sdk::{ACCESS_KEY_ID, Clients, Endpoints, REGION, SECRET_ACCESS_KEY, sdk_config};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
