//! The saga as data: its state, the next thing to do, and the state after a step. Pure: the
//! handler performs the step and persists the state this module computes.
//!
//! Forward steps, in order: charge the buyer, pay the seller their share, record the settlement
//! on the Auction, transfer ownership. A refusal of any of them compensates the steps done before
//! it in reverse (reverse the payout, refund the charge) and records the payment failure on the
//! Auction, even after the settlement was recorded: a sale whose item cannot be transferred is
//! unwound, not left half done. Only a refused compensation stops the saga for a human.

use chrono::{DateTime, Utc};
use events::{AuctionId, Money, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::commission::{BasisPoints, Split, split};

/// The namespace of the idempotency keys: a key is a UUID v5 of the saga id and the step, so it
/// is the same on every retry, after a crash and in every concurrent consumer.
const KEY_NAMESPACE: Uuid = Uuid::from_u128(0x8d4e_2a61_93f7_4c0b_b1a5_6e2d_0c9f_7a13);

/// One saga per auction and buyer: a runner-up offer is a new saga with its own keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SagaId(String);

impl SagaId {
    pub fn new(auction_id: AuctionId, buyer_id: &UserId) -> Self {
        Self(format!("{auction_id}#{buyer_id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SagaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    Charge,
    Payout,
    RecordSettlement,
    TransferOwnership,
    ReversePayout,
    Refund,
    RecordFailure,
}

impl Step {
    /// The forward steps in the order they run. "Notify" is not among them: the
    /// `PaymentSucceeded` / `PaymentFailed` event the saga records reaches the notifications
    /// queue through the publisher.
    pub const FORWARD: [Step; 4] = [
        Step::Charge,
        Step::Payout,
        Step::RecordSettlement,
        Step::TransferOwnership,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Charge => "charge",
            Step::Payout => "payout",
            Step::RecordSettlement => "record-settlement",
            Step::TransferOwnership => "transfer-ownership",
            Step::ReversePayout => "reverse-payout",
            Step::Refund => "refund",
            Step::RecordFailure => "record-failure",
        }
    }

    /// Whether a refusal of this step is answered by compensating the steps before it: every
    /// forward step. A refused ownership transfer after the settlement was recorded unwinds the
    /// sale too (reverse the payout, refund, record the failure): the domain accepts a payment
    /// failure after a recorded payment for exactly that case.
    fn compensable(self) -> bool {
        matches!(
            self,
            Step::Charge | Step::Payout | Step::RecordSettlement | Step::TransferOwnership
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Going forward.
    Running,
    /// A forward step was refused: undoing the completed steps in reverse.
    Compensating,
    /// Paid, settled and transferred.
    Completed,
    /// Compensated and recorded as failed on the aggregate.
    Failed,
}

/// How a step ended, as kept in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    /// It took effect; `reference` is the provider's (or the event store's) name for the effect.
    Done { reference: String },
    /// It had nothing to do (e.g. the aggregate refused to record a failure it cannot await).
    Skipped { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub step: Step,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The forward step that was refused, and why: the reason recorded on the aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub step: Step,
    pub reason: String,
}

/// What the saga should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Perform(Step),
    /// Every step is done: write the terminal status.
    Finish,
    /// The saga is over.
    Nothing,
}

/// What performing a step yielded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    Done {
        reference: String,
    },
    /// Refused for good (declined, rejected by the aggregate): retrying cannot help.
    Refused {
        reason: String,
    },
}

/// A step the saga cannot get past by itself: a refused compensation. Its state stays as it
/// was; the message fails and, after its retries, waits in the DLQ for a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck {
    pub step: Step,
    pub reason: String,
}

/// The saga's persisted state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Saga {
    pub id: SagaId,
    pub auction_id: AuctionId,
    pub buyer_id: UserId,
    pub seller_id: UserId,
    pub price: Money,
    pub commission_rate: BasisPoints,
    /// Fixed when the saga starts, so a changed rate never changes a saga under way.
    pub split: Split,
    /// Of the event that started the saga; carried into every command it issues.
    pub correlation_id: String,
    /// The id of the event that started the saga: the causation id of every command it issues.
    pub causation_id: String,
    pub status: Status,
    /// Completed steps in the order they completed.
    pub steps: Vec<StepRecord>,
    pub failure: Option<Failure>,
    /// 1 when created, +1 with every write: the condition of the next write.
    pub revision: u64,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What starts a saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub auction_id: AuctionId,
    pub buyer_id: UserId,
    pub seller_id: UserId,
    pub price: Money,
    pub commission_rate: BasisPoints,
    pub correlation_id: String,
    pub causation_id: String,
}

/// A price that no sale can have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPrice(pub Money);

impl Saga {
    pub fn start(start: Start, now: DateTime<Utc>) -> Result<Self, InvalidPrice> {
        let split = match split(start.price.amount_minor, start.commission_rate) {
            Some(split) if start.price.amount_minor > 0 => split,
            _ => return Err(InvalidPrice(start.price)),
        };
        Ok(Self {
            id: SagaId::new(start.auction_id, &start.buyer_id),
            auction_id: start.auction_id,
            buyer_id: start.buyer_id,
            seller_id: start.seller_id,
            price: start.price,
            commission_rate: start.commission_rate,
            split,
            correlation_id: start.correlation_id,
            causation_id: start.causation_id,
            status: Status::Running,
            steps: Vec::new(),
            failure: None,
            revision: 1,
            started_at: now,
            updated_at: now,
        })
    }

    /// The seller's share, in the price's currency.
    pub fn payout(&self) -> Money {
        Money::new(self.split.seller, self.price.currency.clone())
    }

    pub fn outcome(&self, step: Step) -> Option<&Outcome> {
        self.steps
            .iter()
            .find(|record| record.step == step)
            .map(|record| &record.outcome)
    }

    /// The reference of a step that took effect.
    pub fn reference(&self, step: Step) -> Option<&str> {
        match self.outcome(step) {
            Some(Outcome::Done { reference }) => Some(reference),
            _ => None,
        }
    }

    fn is_done(&self, step: Step) -> bool {
        self.outcome(step).is_some()
    }

    /// The idempotency key of a step of this saga, for the provider and the event store alike.
    /// It depends on nothing but the saga id and the step, so a retried step (after a timeout, a
    /// crash or in a concurrent consumer) presents the same key and cannot take effect twice.
    pub fn idempotency_key(&self, step: Step) -> String {
        let name = format!("{}:{}", self.id, step.name());
        format!(
            "saga-{}-{}",
            Uuid::new_v5(&KEY_NAMESPACE, name.as_bytes()),
            step.name()
        )
    }

    /// The forward steps this saga runs: no payout when the seller's share is zero (a
    /// 10 000 bp commission), as providers refuse zero transfers.
    fn plan(&self) -> impl Iterator<Item = Step> + '_ {
        Step::FORWARD
            .into_iter()
            .filter(|step| *step != Step::Payout || self.split.seller > 0)
    }

    pub fn next(&self) -> Next {
        match self.status {
            Status::Completed | Status::Failed => Next::Nothing,
            Status::Running => self
                .plan()
                .find(|step| !self.is_done(*step))
                .map_or(Next::Finish, Next::Perform),
            Status::Compensating => {
                let pending = [
                    (Step::ReversePayout, Step::Payout),
                    (Step::Refund, Step::Charge),
                ]
                .into_iter()
                .find(|(undo, done)| self.reference(*done).is_some() && !self.is_done(*undo))
                .map(|(undo, _)| undo);
                match pending {
                    Some(undo) => Next::Perform(undo),
                    None if !self.is_done(Step::RecordFailure) => {
                        Next::Perform(Step::RecordFailure)
                    }
                    None => Next::Finish,
                }
            }
        }
    }

    /// The state after `step` yielded `result`, one revision later.
    pub fn after(&self, step: Step, result: StepResult, now: DateTime<Utc>) -> Result<Self, Stuck> {
        let mut next = self.clone();
        next.revision += 1;
        next.updated_at = now;
        match result {
            StepResult::Done { reference } => next.steps.push(StepRecord {
                step,
                outcome: Outcome::Done { reference },
            }),
            StepResult::Refused { reason } if step == Step::RecordFailure => {
                // The aggregate is not awaiting this buyer's payment (another outcome was
                // recorded first): there is nothing left to record, and retrying cannot change it.
                next.steps.push(StepRecord {
                    step,
                    outcome: Outcome::Skipped { reason },
                });
            }
            StepResult::Refused { reason }
                if step.compensable() && self.status == Status::Running =>
            {
                next.status = Status::Compensating;
                next.failure = Some(Failure { step, reason });
            }
            StepResult::Refused { reason } => return Err(Stuck { step, reason }),
        }
        Ok(next)
    }

    /// The terminal state, once [`Saga::next`] says [`Next::Finish`].
    pub fn finished(&self, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        next.revision += 1;
        next.updated_at = now;
        next.status = match self.status {
            Status::Running | Status::Completed => Status::Completed,
            Status::Compensating | Status::Failed => Status::Failed,
        };
        next
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use events::Currency;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    fn eur(amount: i64) -> Money {
        Money::new(amount, Currency::try_from("EUR").unwrap())
    }

    fn saga_with_rate(bps: u32) -> Saga {
        Saga::start(
            Start {
                auction_id: AuctionId(Uuid::from_u128(7)),
                buyer_id: UserId::try_from("bob").unwrap(),
                seller_id: UserId::try_from("sally").unwrap(),
                price: eur(10_000),
                commission_rate: BasisPoints::try_from(bps).unwrap(),
                correlation_id: "corr-1".to_owned(),
                causation_id: "event-1".to_owned(),
            },
            now(),
        )
        .unwrap()
    }

    fn saga() -> Saga {
        saga_with_rate(500)
    }

    fn done(reference: &str) -> StepResult {
        StepResult::Done {
            reference: reference.to_owned(),
        }
    }

    fn refused(reason: &str) -> StepResult {
        StepResult::Refused {
            reason: reason.to_owned(),
        }
    }

    /// Runs the saga, answering each step from `answer`, until it is over or stuck; returns the
    /// steps performed in order.
    fn run(
        mut saga: Saga,
        answer: impl Fn(Step) -> StepResult,
    ) -> (Saga, Vec<Step>, Option<Stuck>) {
        let mut performed = Vec::new();
        loop {
            match saga.next() {
                Next::Nothing => return (saga, performed, None),
                Next::Finish => saga = saga.finished(now()),
                Next::Perform(step) => {
                    performed.push(step);
                    match saga.after(step, answer(step), now()) {
                        Ok(next) => saga = next,
                        Err(stuck) => return (saga, performed, Some(stuck)),
                    }
                }
            }
        }
    }

    #[test]
    fn given_a_new_saga_then_it_charges_first_and_splits_the_price_once() {
        let saga = saga();

        assert_eq!(saga.next(), Next::Perform(Step::Charge));
        assert_eq!(saga.revision, 1);
        assert_eq!(
            saga.split,
            Split {
                commission: 500,
                seller: 9_500
            }
        );
        assert_eq!(saga.payout(), eur(9_500));
    }

    #[test]
    fn given_every_step_succeeds_then_it_runs_forward_in_order_and_completes() {
        let (saga, performed, stuck) = run(saga(), |step| done(step.name()));

        assert_eq!(performed, Step::FORWARD);
        assert_eq!(stuck, None);
        assert_eq!(saga.status, Status::Completed);
        assert_eq!(saga.reference(Step::Charge), Some("charge"));
        // One write per step plus the terminal one.
        assert_eq!(saga.revision, 1 + 4 + 1);
    }

    #[test]
    fn given_a_declined_charge_then_nothing_is_undone_and_the_failure_is_recorded() {
        let (saga, performed, stuck) = run(saga(), |step| match step {
            Step::Charge => refused("card declined"),
            other => done(other.name()),
        });

        assert_eq!(performed, [Step::Charge, Step::RecordFailure]);
        assert_eq!(stuck, None);
        assert_eq!(saga.status, Status::Failed);
        assert_eq!(
            saga.failure,
            Some(Failure {
                step: Step::Charge,
                reason: "card declined".to_owned()
            })
        );
    }

    #[test]
    fn given_a_refused_payout_then_the_charge_is_refunded_before_the_failure_is_recorded() {
        let (saga, performed, _) = run(saga(), |step| match step {
            Step::Payout => refused("seller account closed"),
            other => done(other.name()),
        });

        assert_eq!(
            performed,
            [
                Step::Charge,
                Step::Payout,
                Step::Refund,
                Step::RecordFailure
            ]
        );
        assert_eq!(saga.status, Status::Failed);
    }

    #[test]
    fn given_a_refused_settlement_then_the_payout_is_reversed_before_the_charge_is_refunded() {
        let (saga, performed, _) = run(saga(), |step| match step {
            Step::RecordSettlement => refused("not awaiting payment"),
            other => done(other.name()),
        });

        assert_eq!(
            performed,
            [
                Step::Charge,
                Step::Payout,
                Step::RecordSettlement,
                Step::ReversePayout,
                Step::Refund,
                Step::RecordFailure
            ]
        );
        assert_eq!(saga.status, Status::Failed);
        assert_eq!(saga.failure.unwrap().step, Step::RecordSettlement);
    }

    #[test]
    fn given_a_refused_ownership_transfer_after_settlement_then_the_sale_is_unwound_in_reverse() {
        let (saga, performed, stuck) = run(saga(), |step| match step {
            Step::TransferOwnership => refused("registry refused"),
            other => done(other.name()),
        });

        assert_eq!(
            performed,
            [
                Step::Charge,
                Step::Payout,
                Step::RecordSettlement,
                Step::TransferOwnership,
                Step::ReversePayout,
                Step::Refund,
                Step::RecordFailure
            ]
        );
        assert_eq!(stuck, None);
        assert_eq!(saga.status, Status::Failed);
        assert_eq!(saga.failure.unwrap().step, Step::TransferOwnership);
    }

    #[test]
    fn given_a_refused_refund_then_the_saga_is_stuck_compensating() {
        let (saga, _, stuck) = run(saga(), |step| match step {
            Step::Payout => refused("seller account closed"),
            Step::Refund => refused("charge unknown"),
            other => done(other.name()),
        });

        assert_eq!(stuck.unwrap().step, Step::Refund);
        assert_eq!(saga.status, Status::Compensating);
        assert_eq!(saga.next(), Next::Perform(Step::Refund));
    }

    #[test]
    fn given_the_aggregate_refuses_the_failure_then_it_is_skipped_and_the_saga_fails() {
        let (saga, _, stuck) = run(saga(), |step| match step {
            Step::Charge => refused("declined"),
            Step::RecordFailure => refused("not awaiting payment"),
            other => done(other.name()),
        });

        assert_eq!(stuck, None);
        assert_eq!(saga.status, Status::Failed);
        assert_eq!(
            saga.outcome(Step::RecordFailure),
            Some(&Outcome::Skipped {
                reason: "not awaiting payment".to_owned()
            })
        );
    }

    #[test]
    fn given_a_full_commission_then_there_is_no_payout_to_make_or_reverse() {
        let (saga, performed, _) = run(saga_with_rate(10_000), |step| done(step.name()));
        assert_eq!(
            performed,
            [
                Step::Charge,
                Step::RecordSettlement,
                Step::TransferOwnership
            ]
        );
        assert_eq!(saga.status, Status::Completed);

        let (_, performed, _) = run(saga_with_rate(10_000), |step| match step {
            Step::RecordSettlement => refused("no"),
            other => done(other.name()),
        });
        assert_eq!(
            performed,
            [
                Step::Charge,
                Step::RecordSettlement,
                Step::Refund,
                Step::RecordFailure
            ]
        );
    }

    #[test]
    fn given_a_finished_saga_then_there_is_nothing_to_do() {
        let (saga, _, _) = run(saga(), |step| done(step.name()));
        assert_eq!(saga.next(), Next::Nothing);
    }

    #[test]
    fn idempotency_keys_are_stable_per_saga_and_step_and_differ_otherwise() {
        let saga = saga();
        let again = saga.after(Step::Charge, done("ch_1"), now()).unwrap();

        assert_eq!(
            saga.idempotency_key(Step::Charge),
            again.idempotency_key(Step::Charge)
        );
        assert_ne!(
            saga.idempotency_key(Step::Charge),
            saga.idempotency_key(Step::Refund)
        );
        let mut runner_up = saga.clone();
        runner_up.id = SagaId::new(saga.auction_id, &UserId::try_from("cat").unwrap());
        assert_ne!(
            saga.idempotency_key(Step::Charge),
            runner_up.idempotency_key(Step::Charge)
        );
        assert!(saga.idempotency_key(Step::Charge).len() <= 64);
    }

    #[test]
    fn a_price_that_is_not_positive_starts_no_saga() {
        let mut start = Start {
            auction_id: AuctionId(Uuid::from_u128(7)),
            buyer_id: UserId::try_from("bob").unwrap(),
            seller_id: UserId::try_from("sally").unwrap(),
            price: eur(0),
            commission_rate: BasisPoints::ZERO,
            correlation_id: String::new(),
            causation_id: String::new(),
        };
        assert!(Saga::start(start.clone(), now()).is_err());
        start.price = eur(-5);
        assert!(Saga::start(start, now()).is_err());
    }

    #[test]
    fn the_state_survives_a_round_trip_through_json() {
        let saga = saga().after(Step::Charge, done("ch_1"), now()).unwrap();
        let json = serde_json::to_string(&saga).unwrap();
        assert_eq!(serde_json::from_str::<Saga>(&json).unwrap(), saga);
    }
}
