//! The notifier: the consumer of the notifications queue that fills every user's inbox.
//!
//! [`handle`] is the SQS handler the Lambda main and the local runner call: partial batch
//! failures, FIFO groups kept in order, correlation and causation ids on every log line. What
//! an event tells whom, and the inbox itself, are the read models'
//! ([`read_models::notifications`]).
//!
//! Depends on the event contract, the event store's ports and the read models. Must not depend
//! on HTTP, the API or another function.

pub mod config;
mod handler;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use handler::{handle, handle_with};
