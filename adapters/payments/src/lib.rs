//! The payment saga: a process manager on the payments queue that settles every sale.
//!
//! For an auction that ended sold (and for an item offered to the runner-up) it charges the
//! buyer, transfers ownership of the item in the Items' ledger, pays the seller the price minus
//! the platform's commission, and records the settlement on the Auction through the event
//! store; when a step is refused, it undoes the completed steps in reverse (reverse the payout,
//! reverse the transfer, refund the charge) and records the payment failure, which offers the
//! item to the runner-up when their maximum meets the reserve. A charge the provider answers
//! later (the buyer must authenticate) is awaited, not retried. docs/payment-saga.md has the
//! steps, keys and failure classes; docs/payments-stripe.md the Stripe calls.
//!
//! - [`saga`] and [`commission`]: the saga as pure data and decisions, no I/O.
//! - [`ports`]: the payment provider, the ownership registry, the saga state store, the clock.
//! - [`Ports::handle`] / [`Ports::handle_until`]: the SQS batch handler the Lambda main and the local runner
//!   call; transient failures are retried inside the invocation ([`Retry`]).
//! - [`Ports::resume`] and [`StalledSagas`]: advancing one saga from its persisted state, and finding
//!   the sagas nobody advances, for a reconciler.
//! - [`DynamoDbSagaStates`], [`InMemorySagaStates`]: adapters of the saga's state.
//! - [`stripe::StripePayments`]: the payment port on Stripe's API; [`ItemLedger`]: the ownership
//!   port on the Items' streams in the event store. [`config`] wires both, as the Lambda runs.
//! - `simulated` (cargo feature `simulated`): a stateful fake of the provider and the registry,
//!   a test double only; no deployed crate may turn the feature on (tests/tests/layers.rs).
//! - `testing` (cargo feature `testing`): the ended auction every saga test starts from.
//!
//! Depends on the domain, the event contract, the event store, the payment identities and the
//! Stripe client. Must not depend on the other functions; the saga's state is its own table, never the event log.

pub mod commission;
pub mod config;
mod dynamodb;
mod error;
mod handler;
mod ledger;
mod memory;
pub mod message;
pub mod ports;
pub mod retry;
pub mod saga;
#[cfg(feature = "simulated")]
pub mod simulated;
pub mod stripe;
#[cfg(feature = "testing")]
pub mod testing;

pub use commission::{BasisPoints, Split, split};
pub use dynamodb::DynamoDbSagaStates;
pub use error::SagaError;
pub use handler::{ACTOR, AWAIT_CHARGE_FOR, Handled, Ports};
pub use ledger::ItemLedger;
pub use memory::InMemorySagaStates;
pub use ports::{
    AdvanceClock, Clock, FixedClock, OwnershipRegistry, PaymentProvider, SagaStates, Sleep,
    StalledSagas, SystemClock, TokioSleep,
};
pub use retry::Retry;
pub use saga::{Awaiting, Next, Outcome, Saga, SagaId, Status, Step};
#[cfg(feature = "simulated")]
pub use simulated::{Fault, Operation, SimulatedProvider, SimulatedRegistry};
