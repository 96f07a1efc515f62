//! The saga as data: its state, the next thing to do, and the state after a step. Pure: the
//! handler performs the step and persists the state this module computes.
//!
//! Forward steps, in order, as the ADR has them: charge the buyer, transfer ownership in the
//! registry (the Item's ledger), pay the seller their share, record the settlement on the
//! Auction. A refusal of any of them compensates the steps done before it, in reverse of the
//! order they were done (reverse the payout, reverse the transfer, refund the charge), and
//! records the payment failure on the Auction. Only a refused compensation stops the saga for a
//! human.
//!
//! Sagas persisted under the earlier order (charge, payout, record-settlement,
//! transfer-ownership) resume under this one: the next step is the first of the current order
//! not yet done, whatever order the done ones ran in, and compensations follow the order the
//! steps were actually done. Step names and idempotency keys are unchanged, so a resumed step
//! reaches the answer of an attempt made under the old order.

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
    TransferOwnership,
    Payout,
    RecordSettlement,
    ReversePayout,
    ReverseTransfer,
    Refund,
    RecordFailure,
}

impl Step {
    /// The forward steps in the order they run. "Notify" is not among them: the
    /// `PaymentSucceeded` / `PaymentFailed` event the saga records reaches the notifications
    /// queue through the publisher.
    pub const FORWARD: [Step; 4] = [
        Step::Charge,
        Step::TransferOwnership,
        Step::Payout,
        Step::RecordSettlement,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Charge => "charge",
            Step::Payout => "payout",
            Step::RecordSettlement => "record-settlement",
            Step::TransferOwnership => "transfer-ownership",
            Step::ReversePayout => "reverse-payout",
            Step::ReverseTransfer => "reverse-transfer",
            Step::Refund => "refund",
            Step::RecordFailure => "record-failure",
        }
    }

    /// Whether a refusal of this step is answered by compensating the steps before it: every
    /// forward step. (A saga of the earlier order could have its ownership transfer refused
    /// after the settlement was recorded: it is unwound too, as the domain accepts a payment
    /// failure after a recorded payment for exactly that case.)
    fn compensable(self) -> bool {
        Self::FORWARD.contains(&self)
    }

    /// The step that undoes this one once it took effect: a refund for a charge, a reversal for
    /// a transfer or a payout. A recorded settlement has none of its own: `record-failure`
    /// records the failure after it.
    pub fn compensation(self) -> Option<Step> {
        match self {
            Step::Charge => Some(Step::Refund),
            Step::TransferOwnership => Some(Step::ReverseTransfer),
            Step::Payout => Some(Step::ReversePayout),
            Step::RecordSettlement
            | Step::ReversePayout
            | Step::ReverseTransfer
            | Step::Refund
            | Step::RecordFailure => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Going forward.
    Running,
    /// A forward step was refused: undoing the completed steps in reverse.
    Compensating,
    /// Charged, transferred, paid out and settled.
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

/// A step the provider answers later: a charge that needs the buyer to authenticate, or a
/// payment method that settles after days. The saga keeps the provider's reference and stops;
/// the provider's webhook (or the reconciler, for a lost one) redelivers the sale, and the step
/// then asks for the outcome instead of starting again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Awaiting {
    pub step: Step,
    /// The provider's name for the pending effect (a PaymentIntent id).
    pub reference: String,
    /// Since when: a charge awaited longer than the window is cancelled and refused.
    pub since: DateTime<Utc>,
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
    /// Taken up, but the provider answers later ([`Awaiting`]).
    Awaiting {
        reference: String,
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
    /// The step whose outcome the provider will tell later, if any (absent in states written
    /// before payments could wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Awaiting>,
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
            awaiting: None,
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

    /// The provider's reference of `step` if the saga waits for its outcome.
    pub fn awaited(&self, step: Step) -> Option<&Awaiting> {
        self.awaiting
            .as_ref()
            .filter(|awaiting| awaiting.step == step)
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
                // In reverse of the order the steps took effect (a saga of the earlier order
                // paid out before it transferred).
                let pending = self
                    .steps
                    .iter()
                    .rev()
                    .filter(|record| matches!(record.outcome, Outcome::Done { .. }))
                    .filter_map(|record| record.step.compensation())
                    .find(|undo| !self.is_done(*undo));
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
        if !matches!(result, StepResult::Awaiting { .. }) {
            next.awaiting = None;
        }
        match result {
            StepResult::Awaiting { reference } => {
                let since = match &self.awaiting {
                    Some(awaiting) if awaiting.step == step && awaiting.reference == reference => {
                        awaiting.since
                    }
                    _ => now,
                };
                next.awaiting = Some(Awaiting {
                    step,
                    reference,
                    since,
                });
            }
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
        assert_eq!(
            performed,
            [
                Step::Charge,
                Step::TransferOwnership,
                Step::Payout,
                Step::RecordSettlement
            ],
            "the ADR's order: charge, transfer in the registry, pay the seller, settle"
        );
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
    fn given_a_refused_ownership_transfer_then_the_charge_is_refunded_before_the_failure_is_recorded()
     {
        let (saga, performed, stuck) = run(saga(), |step| match step {
            Step::TransferOwnership => refused("the item belongs to mallory"),
            other => done(other.name()),
        });

        assert_eq!(
            performed,
            [
                Step::Charge,
                Step::TransferOwnership,
                Step::Refund,
                Step::RecordFailure
            ]
        );
        assert_eq!(stuck, None);
        assert_eq!(saga.status, Status::Failed);
        assert_eq!(saga.failure.unwrap().step, Step::TransferOwnership);
    }

    #[test]
    fn given_a_refused_payout_then_the_transfer_is_reversed_and_the_charge_refunded_in_reverse() {
        let (saga, performed, _) = run(saga(), |step| match step {
            Step::Payout => refused("seller account closed"),
            other => done(other.name()),
        });

        assert_eq!(
            performed,
            [
                Step::Charge,
                Step::TransferOwnership,
                Step::Payout,
                Step::ReverseTransfer,
                Step::Refund,
                Step::RecordFailure
            ]
        );
        assert_eq!(saga.status, Status::Failed);
        assert_eq!(saga.failure.unwrap().step, Step::Payout);
    }

    #[test]
    fn given_a_refused_settlement_then_payout_transfer_and_charge_are_undone_in_reverse() {
        let (saga, performed, _) = run(saga(), |step| match step {
            Step::RecordSettlement => refused("not awaiting payment"),
            other => done(other.name()),
        });

        assert_eq!(
            performed,
            [
                Step::Charge,
                Step::TransferOwnership,
                Step::Payout,
                Step::RecordSettlement,
                Step::ReversePayout,
                Step::ReverseTransfer,
                Step::Refund,
                Step::RecordFailure
            ]
        );
        assert_eq!(saga.status, Status::Failed);
        assert_eq!(saga.failure.unwrap().step, Step::RecordSettlement);
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
        // The transfer was reversed before the refund was refused, and is not reversed again.
        assert!(saga.reference(Step::ReverseTransfer).is_some());
    }

    #[test]
    fn given_a_refused_transfer_reversal_then_the_saga_is_stuck_before_the_refund() {
        let (saga, performed, stuck) = run(saga(), |step| match step {
            Step::Payout => refused("seller account closed"),
            Step::ReverseTransfer => refused("the item belongs to mallory"),
            other => done(other.name()),
        });

        assert_eq!(stuck.unwrap().step, Step::ReverseTransfer);
        assert_eq!(performed.last(), Some(&Step::ReverseTransfer));
        assert_eq!(saga.status, Status::Compensating);
        assert_eq!(saga.next(), Next::Perform(Step::ReverseTransfer));
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
                Step::TransferOwnership,
                Step::RecordSettlement
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
                Step::TransferOwnership,
                Step::RecordSettlement,
                Step::ReverseTransfer,
                Step::Refund,
                Step::RecordFailure
            ]
        );
    }

    /// A saga as the earlier order left it: charged, then paid out, and nothing else.
    fn charged_and_paid_out_under_the_old_order() -> Saga {
        saga()
            .after(Step::Charge, done("ch_1"), now())
            .unwrap()
            .after(Step::Payout, done("po_1"), now())
            .unwrap()
    }

    #[test]
    fn given_a_saga_of_the_old_order_charged_and_paid_out_then_it_transfers_and_settles_without_paying_again()
     {
        let (saga, performed, stuck) = run(charged_and_paid_out_under_the_old_order(), |step| {
            done(step.name())
        });

        assert_eq!(performed, [Step::TransferOwnership, Step::RecordSettlement]);
        assert_eq!(stuck, None);
        assert_eq!(saga.status, Status::Completed);
        assert_eq!(saga.reference(Step::Payout), Some("po_1"));
    }

    #[test]
    fn given_a_saga_of_the_old_order_whose_transfer_is_refused_then_it_undoes_payout_then_charge() {
        let (saga, performed, _) = run(
            charged_and_paid_out_under_the_old_order(),
            |step| match step {
                Step::TransferOwnership => refused("the item belongs to mallory"),
                other => done(other.name()),
            },
        );

        // Nothing was transferred, so nothing is reversed; the payout came after the charge.
        assert_eq!(
            performed,
            [
                Step::TransferOwnership,
                Step::ReversePayout,
                Step::Refund,
                Step::RecordFailure
            ]
        );
        assert_eq!(saga.status, Status::Failed);
    }

    #[test]
    fn a_saga_state_written_by_the_old_order_reads_and_resumes() {
        // As the earlier code persisted it: charged, paid out and settled, not transferred.
        let json = r#"{
            "id": "00000000-0000-0000-0000-000000000007#bob",
            "auctionId": "00000000-0000-0000-0000-000000000007",
            "buyerId": "bob", "sellerId": "sally",
            "price": {"amountMinor": 10000, "currency": "EUR"},
            "commissionRate": 500,
            "split": {"commission": 500, "seller": 9500},
            "correlationId": "corr-1", "causationId": "event-1",
            "status": "running",
            "steps": [
                {"step": "charge", "outcome": "done", "reference": "ch_1"},
                {"step": "payout", "outcome": "done", "reference": "po_1"},
                {"step": "recordSettlement", "outcome": "done", "reference": "event e (version 7)"}
            ],
            "failure": null,
            "revision": 4,
            "startedAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z"
        }"#;
        let old: Saga = serde_json::from_str(json).unwrap();
        assert_eq!(
            old.idempotency_key(Step::Charge),
            saga().idempotency_key(Step::Charge)
        );

        let (resumed, performed, _) = run(old, |step| done(step.name()));

        assert_eq!(performed, [Step::TransferOwnership]);
        assert_eq!(resumed.status, Status::Completed);
        assert_eq!(resumed.revision, 4 + 1 + 1);
    }

    #[test]
    fn given_a_charge_the_provider_answers_later_then_the_saga_waits_on_it_from_its_first_answer_and_goes_on_once_paid()
     {
        let awaiting = |reference: &str| StepResult::Awaiting {
            reference: reference.to_owned(),
        };
        let later = now() + chrono::TimeDelta::hours(5);

        // Given a charge taken up but not answered, asked again hours later, still open
        let waiting = saga().after(Step::Charge, awaiting("pi_1"), now()).unwrap();
        let still = waiting
            .after(Step::Charge, awaiting("pi_1"), later)
            .unwrap();

        // Then the saga waits on that charge since its first answer, and the charge is next
        assert_eq!(
            still.awaited(Step::Charge),
            Some(&Awaiting {
                step: Step::Charge,
                reference: "pi_1".to_owned(),
                since: now(),
            })
        );
        assert_eq!(still.next(), Next::Perform(Step::Charge));
        assert_eq!(still.status, Status::Running);
        assert!(still.steps.is_empty());

        // When it is paid, the wait is over and the saga goes on
        let paid = still.after(Step::Charge, done("pi_1"), later).unwrap();
        assert_eq!(paid.awaiting, None);
        assert_eq!(paid.reference(Step::Charge), Some("pi_1"));
        assert_eq!(paid.next(), Next::Perform(Step::TransferOwnership));

        // And when it is refused instead, nothing was done to undo: the failure is recorded
        let refused = still
            .after(Step::Charge, refused("authentication failed"), later)
            .unwrap();
        assert_eq!(refused.awaiting, None);
        assert_eq!(refused.status, Status::Compensating);
        assert_eq!(refused.next(), Next::Perform(Step::RecordFailure));
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
