//! The payment saga: a process manager on the payments queue that settles every sale.
//!
//! For an auction that ended sold (and for an item offered to the runner-up) it charges the
//! buyer, pays the seller the price minus the platform's commission, records the settlement on
//! the Auction through the event store, and transfers ownership; when a step before the
//! settlement is refused, it undoes the completed steps in reverse (reverse the payout, refund
//! the charge) and records the payment failure, which offers the item to the runner-up when
//! their maximum meets the reserve. docs/payment-saga.md has the steps, keys and failure classes.
//!
//! - [`saga`] and [`commission`]: the saga as pure data and decisions, no I/O.
//! - [`ports`]: the payment provider, the ownership registry, the saga state store, the clock.
//! - [`Ports::handle`] / [`Ports::handle_until`]: the SQS batch handler the Lambda main and the local runner
//!   call; transient failures are retried inside the invocation ([`Retry`]).
//! - [`Ports::resume`] and [`StalledSagas`]: advancing one saga from its persisted state, and finding
//!   the sagas nobody advances, for a reconciler.
//! - [`DynamoDbSagaStates`], [`InMemorySagaStates`]: adapters of the saga's state.
//! - `simulated` (cargo feature `simulated`): a stateful fake of the provider and the registry,
//!   a test double. The payment-saga Lambda still wires it through [`config`] until a real
//!   provider adapter replaces it (issue 19); nothing else deployed may enable the feature.
//! - `testing` (cargo feature `testing`): the ended auction every saga test starts from.
//!
//! Depends on the domain, the event contract and the event store. Must not depend on HTTP or on
//! the other functions; the saga's state is its own table, never the event log.

pub mod commission;
#[cfg(feature = "simulated")]
pub mod config;
mod dynamodb;
mod error;
mod handler;
mod memory;
pub mod message;
pub mod ports;
pub mod retry;
pub mod saga;
#[cfg(feature = "simulated")]
pub mod simulated;
#[cfg(feature = "testing")]
pub mod testing;

pub use commission::{BasisPoints, Split, split};
pub use dynamodb::DynamoDbSagaStates;
pub use error::SagaError;
pub use handler::{ACTOR, Handled, Ports};
pub use memory::InMemorySagaStates;
pub use ports::{
    AdvanceClock, Clock, FixedClock, OwnershipRegistry, PaymentProvider, SagaStates, Sleep,
    StalledSagas, SystemClock, TokioSleep,
};
pub use retry::Retry;
pub use saga::{Next, Outcome, Saga, SagaId, Status, Step};
#[cfg(feature = "simulated")]
pub use simulated::{Fault, Operation, SimulatedProvider, SimulatedRegistry};
