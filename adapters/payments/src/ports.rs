//! The ports the saga drives, each named for one capability. Every operation that moves money or
//! ownership carries an idempotency key: the same key must return the first result and take no
//! second effect, which is what makes retries, redeliveries and concurrent consumers safe.
//!
//! Errors: [`SagaError::Declined`] for a refusal that a retry would meet again, and
//! [`SagaError::Unavailable`] for a failure after which the operation may or may not have taken
//! effect (retry with the same key).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use events::{AuctionId, Money, UserId};

use crate::error::SagaError;
use crate::saga::{Saga, SagaId};

/// The provider's name for an effect (a charge id, a transfer id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub reference: String,
}

/// Take `amount` from the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub idempotency_key: String,
    pub payer: UserId,
    pub amount: Money,
    pub auction_id: AuctionId,
}

/// Give back `amount` of an earlier charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub idempotency_key: String,
    pub charge_reference: String,
    pub amount: Money,
}

/// Send `amount` to the seller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub idempotency_key: String,
    pub payee: UserId,
    pub amount: Money,
    pub auction_id: AuctionId,
    /// The provider's reference of the buyer's charge for this sale: the payout is funded from
    /// it (Stripe's `source_transaction`), so it never waits for, or draws on, other balance.
    pub charge_reference: String,
}

/// Take back `amount` of an earlier payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutReversal {
    pub idempotency_key: String,
    pub payout_reference: String,
    pub amount: Money,
}

/// Moves money. A real implementation talks to a payment provider; [`crate::SimulatedProvider`]
/// stands in for one locally and in tests.
pub trait PaymentProvider: Send + Sync {
    fn charge(&self, charge: &Charge) -> impl Future<Output = Result<Receipt, SagaError>> + Send;

    /// The outcome of a charge the provider answered with [`SagaError::AwaitingProvider`]: the
    /// receipt once paid, [`SagaError::Declined`] once refused, `AwaitingProvider` while open.
    fn charge_outcome(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<Receipt, SagaError>> + Send;

    /// Gives up on a charge still awaited, so that it can no longer be paid.
    fn cancel_charge(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<(), SagaError>> + Send;

    fn refund(&self, refund: &Refund) -> impl Future<Output = Result<Receipt, SagaError>> + Send;

    fn payout(&self, payout: &Payout) -> impl Future<Output = Result<Receipt, SagaError>> + Send;

    fn reverse_payout(
        &self,
        reversal: &PayoutReversal,
    ) -> impl Future<Output = Result<Receipt, SagaError>> + Send;
}

/// Hand the sold item over to its buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipTransfer {
    pub idempotency_key: String,
    pub auction_id: AuctionId,
    /// The seller.
    pub from: UserId,
    /// The buyer.
    pub to: UserId,
    /// What the buyer paid.
    pub price: Money,
    /// The sale: the saga's id, which names the transfer for its reversal.
    pub sale: String,
    /// The sale's correlation id and the id of the event that announced it, for the record the
    /// registry keeps.
    pub correlation_id: String,
    pub causation_id: String,
}

/// Give the item back: undo the transfer of the sale `sale`, from its buyer to its seller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipReversal {
    pub idempotency_key: String,
    pub auction_id: AuctionId,
    /// The buyer, who holds the item by the sale.
    pub from: UserId,
    /// The seller, who gets it back.
    pub to: UserId,
    /// The sale whose transfer to undo (the saga's id, as in its [`OwnershipTransfer`]).
    pub sale: String,
    /// Why the sale could not complete.
    pub reason: String,
    pub correlation_id: String,
    pub causation_id: String,
}

/// Who owns what was sold. Transfers and reversals are idempotent by key: the same key returns
/// the first answer and takes no second effect. [`crate::ItemLedger`] keeps it in the event
/// store (the Item aggregate); [`crate::SimulatedRegistry`] is its test double.
pub trait OwnershipRegistry: Send + Sync {
    fn transfer(
        &self,
        transfer: &OwnershipTransfer,
    ) -> impl Future<Output = Result<Receipt, SagaError>> + Send;

    /// Undoes an earlier transfer; refused when that transfer is not in effect.
    fn reverse(
        &self,
        reversal: &OwnershipReversal,
    ) -> impl Future<Output = Result<Receipt, SagaError>> + Send;
}

/// Where each saga's state is kept between steps.
pub trait SagaStates: Send + Sync {
    /// The saga's latest state, strongly consistent.
    fn get(&self, id: &SagaId) -> impl Future<Output = Result<Option<Saga>, SagaError>> + Send;

    /// Writes `saga` if the stored state is the revision before it (or, for revision 1, if there
    /// is none): of two consumers advancing the same revision exactly one succeeds, and the
    /// other gets [`SagaError::Conflict`].
    fn save(&self, saga: &Saga) -> impl Future<Output = Result<(), SagaError>> + Send;
}

/// Finds the sagas that nobody is advancing: for a reconciler, which resumes each with
/// [`crate::resume`].
pub trait StalledSagas: Send + Sync {
    /// Up to `limit` sagas still `running` or `compensating` whose last write
    /// (`updated_at`) is before `before`, oldest first. A saga whose message is in the DLQ, or
    /// was lost, is one of them once `before` is past its last step; choose `before` well
    /// behind the handler's timeout so a saga under way is not among them (resuming it would
    /// be safe, only wasted).
    fn stalled(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Saga>, SagaError>> + Send;
}

/// Waits between retries. The handler waits only through this port, so that tests can let time
/// pass on their clock instead of waiting.
pub trait Sleep: Send + Sync + 'static {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Waits for real, on tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// For tests: sleeping moves a [`FixedClock`] forward by the duration and returns at once, so a
/// provider outage of minutes passes in no time, measured by the same clock as the deadline.
#[derive(Debug, Clone)]
pub struct AdvanceClock(pub Arc<FixedClock>);

impl Sleep for AdvanceClock {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.0
            .advance(TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX));
        // Still a suspension point, as a real sleep is: other tasks get to run.
        Box::pin(tokio::task::yield_now())
    }
}

pub use conventions::clock::{Clock, FixedClock, SystemClock};
