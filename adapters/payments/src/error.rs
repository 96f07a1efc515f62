use event_store::StoreError;
use thiserror::Error;

use crate::saga::{SagaId, Step};

/// Everything that can go wrong while settling a sale. Each variant says how the caller handles
/// it; for a queue message, "fails" means it is reported in the batch's item failures, so SQS
/// redelivers it after the visibility timeout and moves it to the DLQ after 3 receives.
#[derive(Debug, Error)]
pub enum SagaError {
    /// The provider or the ownership registry refused the operation for good: a declined card,
    /// a closed account, an unknown reference, an idempotency key reused with other parameters,
    /// the ledger's rejection (not the seller's item, no transfer of this sale to reverse).
    /// A forward step compensates; a compensation leaves the saga [`SagaError::Stuck`].
    #[error("refused: {reason}")]
    Declined { reason: String },
    /// The provider took the operation up and answers later (a charge that needs the buyer to
    /// authenticate, a debit that settles in days): `reference` names it. The saga keeps the
    /// reference and ends the message; the provider's webhook or the reconciler brings the
    /// sale back, and the step then asks for the outcome ([`crate::PaymentProvider::charge_outcome`]).
    #[error("awaiting the provider's answer on {reference}: {reason}")]
    AwaitingProvider { reference: String, reason: String },
    /// The provider or the registry could not be reached or failed, perhaps after taking effect.
    /// The message fails; the redelivery repeats the step under the same idempotency key, which
    /// returns the first attempt's result if it took effect.
    #[error("unavailable: {reason}")]
    Unavailable { reason: String },
    /// Another consumer wrote the saga's state first. The saga re-reads its state and continues
    /// from there; it surfaces only from [`crate::SagaStates::save`].
    #[error("saga {saga_id} was advanced by another consumer")]
    Conflict { saga_id: SagaId },
    /// The invocation's retry budget ran out before the saga's next step could start: the
    /// state is saved up to the last completed step. The message fails and is redelivered (or
    /// the saga is resumed with [`crate::resume`]) and goes on from `step`.
    #[error("saga {saga_id}: no time left in this invocation to start {step:?}")]
    OutOfTime { saga_id: SagaId, step: Step },
    /// Other consumers kept advancing the saga while this one tried to. The message fails and is
    /// redelivered (by then the saga is usually finished, and the redelivery a no-op).
    #[error("saga {saga_id} is too busy: gave up after {attempts} conflicting writes")]
    Busy { saga_id: SagaId, attempts: u32 },
    /// The saga state table could not be reached or throttled. The message fails and is
    /// redelivered.
    #[error("the saga state store is unavailable: {0}")]
    StateUnavailable(String),
    /// The saga state table refused the request (missing table, bad expression) or holds an
    /// unreadable state: a deployment or code bug. The message fails and reaches the DLQ.
    #[error("the saga state store refused the request: {0}")]
    StateRefused(String),
    /// The event store failed. Transient errors ([`StoreError::is_transient`]) are redelivered
    /// and succeed later; the others reach the DLQ. A domain rejection never surfaces here: the
    /// saga treats it as a refused step.
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// A compensation (a refund, a payout reversal, a transfer reversal) was refused: the saga
    /// cannot go on by itself and keeps its state. The message fails and waits in the DLQ; after the
    /// cause is fixed, redriving it resumes the saga at this step.
    #[error("saga {saga_id} is stuck at {step:?}: {reason}")]
    Stuck {
        saga_id: SagaId,
        step: Step,
        reason: String,
    },
    /// The message is not a readable event. It fails and reaches the DLQ.
    #[error("the message is not a readable event: {0}")]
    Unreadable(String),
    /// A message that failed has no message id, so it cannot be reported on its own: the whole
    /// batch fails (Lambda redelivers every message of it, and the saga makes that harmless).
    #[error("a failed message has no message id")]
    UnidentifiedMessage,
}

/// A saga state table call's failure: worth retrying, or refused for good.
impl From<conventions::Failure> for SagaError {
    fn from(failure: conventions::Failure) -> Self {
        failure.sort(Self::StateUnavailable, Self::StateRefused)
    }
}

impl SagaError {
    /// Whether the same message may succeed when delivered again without anyone fixing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable { .. }
            | Self::OutOfTime { .. }
            | Self::Conflict { .. }
            | Self::Busy { .. }
            | Self::StateUnavailable(_) => true,
            Self::Store(error) => error.is_transient(),
            Self::Declined { .. }
            | Self::AwaitingProvider { .. }
            | Self::StateRefused(_)
            | Self::Stuck { .. }
            | Self::Unreadable(_)
            | Self::UnidentifiedMessage => false,
        }
    }
}
