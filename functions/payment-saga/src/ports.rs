//! The ports the saga drives, each named for one capability. Every operation that moves money or
//! ownership carries an idempotency key: the same key must return the first result and take no
//! second effect, which is what makes retries, redeliveries and concurrent consumers safe.
//!
//! Errors: [`SagaError::Declined`] for a refusal that a retry would meet again, and
//! [`SagaError::Unavailable`] for a failure after which the operation may or may not have taken
//! effect (retry with the same key).

use std::future::Future;

use auction_events::{AuctionId, Money, UserId};

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
    pub from: UserId,
    pub to: UserId,
}

/// Who owns what was sold. Transfers are idempotent by key.
pub trait OwnershipRegistry: Send + Sync {
    fn transfer(
        &self,
        transfer: &OwnershipTransfer,
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

pub use conventions::clock::{Clock, FixedClock, SystemClock};
