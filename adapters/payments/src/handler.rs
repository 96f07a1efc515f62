//! The consumer: a batch of payments-queue messages in, the failed ones out; and the loop that
//! drives one saga from whatever state it is in to its end.

use std::collections::HashSet;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, TimeDelta, Utc};
use conventions::metrics::{Consumer, SagaOutcome, saga_outcome};
use domain::{
    Event, RecordPaymentFailed, RecordPaymentSucceeded, Settlement, State,
    decide_record_payment_failed, decide_record_payment_succeeded, rules::REASON_MAX_CHARS,
};
use event_store::{
    CommandContext, CommandError, EventLog, IdempotencyKey, IdempotencyRecords, Meter, Snapshots,
    Store,
};
use events::Actor;
use tracing::{Instrument, field};

use crate::commission::BasisPoints;
use crate::error::SagaError;
use crate::message::{
    CORRELATION_ID_ATTRIBUTE, EVENT_ID_ATTRIBUTE, EVENT_TYPE_ATTRIBUTE, Sale, Trigger, envelope,
    group_of, string_attribute, trigger,
};
use crate::ports::{
    Charge, Clock, OwnershipRegistry, OwnershipReversal, OwnershipTransfer, PaymentProvider,
    Payout, PayoutReversal, Receipt, Refund, SagaStates, Sleep,
};
use crate::retry::Retry;
use crate::saga::{Next, Saga, SagaId, Start, Status, Step, StepResult};

/// The actor of every command the saga issues.
pub const ACTOR: &str = "payment-saga";

/// Conflicting state writes one message rides out before it gives up (and is redelivered).
const MAX_CONFLICTS: u32 = 16;

/// Everything the saga talks to.
pub struct Ports<B, P, O, S> {
    pub store: Store<B>,
    pub payments: P,
    pub ownership: O,
    pub sagas: S,
    pub clock: Arc<dyn Clock>,
    /// How the handler waits between retries of a transiently failed step.
    pub sleep: Arc<dyn Sleep>,
    /// How long it keeps retrying within one invocation.
    pub retry: Retry,
    /// The platform's commission on new sagas.
    pub commission: BasisPoints,
}

/// What one message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The saga is over (completed or failed); this is its final state.
    Finished(Box<Saga>),
    /// Nothing to do, and why.
    Ignored(String),
    /// The provider answers a step later ([`crate::saga::Awaiting`]): the state is saved and the
    /// message is done; the provider's webhook, or the reconciler, redelivers the sale.
    Awaiting(Box<Saga>),
}

/// How long a charge may wait for the buyer (to authenticate, or for a debit to settle) before
/// the saga cancels it and offers the item to the runner-up: three days, the time large auction
/// sites give a winner to pay.
pub const AWAIT_CHARGE_FOR: TimeDelta = TimeDelta::days(3);

impl<B, P, O, S> Ports<B, P, O, S>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    P: PaymentProvider,
    O: OwnershipRegistry,
    S: SagaStates,
{
    /// The deadline of a caller that knows none of its own: `retry.timeout` from now.
    fn deadline_from_now(&self) -> DateTime<Utc> {
        self.retry.deadline_from(self.clock.now())
    }

    /// [`Self::handle_until`] with the deadline `retry.timeout` from now: for callers that know
    /// no deadline of their own (the local runner).
    pub async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, SagaError> {
        let deadline = self.deadline_from_now();
        self.handle_until(event, deadline).await
    }

    /// Handles a batch from the payments queue (FIFO) within an invocation that ends at
    /// `deadline` (Lambda's: the context's deadline). Returns the messages to redeliver; once a
    /// message of a group fails, the group's later messages in the batch are reported failed
    /// unprocessed, so that they are retried after it, in order.
    ///
    /// A step that fails transiently is retried with backoff until the retry budget
    /// ([`Retry::last_start`]) is spent; the messages not begun by then are reported failed
    /// unprocessed, and redelivered.
    ///
    /// Counted as the saga's records, processed or failed, with each readable message's lag.
    pub async fn handle_until(
        &self,
        event: SqsEvent,
        deadline: DateTime<Utc>,
    ) -> Result<SqsBatchResponse, SagaError> {
        let records = event.records.len();
        let result = self.handle_batch(event, deadline).await;
        let failed = result
            .as_ref()
            .map_or(records, |response| response.batch_item_failures.len());
        Consumer::PAYMENT_SAGA.handled(records, failed);
        result
    }

    async fn handle_batch(
        &self,
        event: SqsEvent,
        deadline: DateTime<Utc>,
    ) -> Result<SqsBatchResponse, SagaError> {
        let mut failed_groups: HashSet<String> = HashSet::new();
        let mut failed: Vec<String> = Vec::new();
        for message in &event.records {
            let message_id = message.message_id.clone().unwrap_or_default();
            let group = group_of(message);
            let span = tracing::info_span!(
                "payment_message",
                message_id = %message_id,
                correlation_id = string_attribute(message, CORRELATION_ID_ATTRIBUTE),
                causation_id = string_attribute(message, EVENT_ID_ATTRIBUTE),
                event_type = string_attribute(message, EVENT_TYPE_ATTRIBUTE),
                saga_id = field::Empty,
            );
            if let Some(group) = group.as_ref().filter(|g| failed_groups.contains(*g)) {
                span.in_scope(|| {
                    tracing::warn!(
                        group,
                        "an earlier message of this group failed; retrying later"
                    )
                });
                failed.push(message_id);
                continue;
            }
            if self.clock.now() >= self.retry.last_start(deadline) {
                span.in_scope(|| {
                    tracing::warn!(
                        "the invocation's time is spent; not begun, it will be redelivered"
                    )
                });
                failed_groups.extend(group);
                failed.push(message_id);
                continue;
            }
            match self
                .handle_message_until(message, deadline)
                .instrument(span.clone())
                .await
            {
                Ok(handled) => span.in_scope(|| log_handled(&handled)),
                Err(error) => {
                    span.in_scope(|| {
                        if error.is_transient() {
                            tracing::warn!(%error, "message failed; it will be redelivered");
                        } else {
                            tracing::error!(%error, "message failed; it will reach the DLQ");
                        }
                    });
                    failed_groups.extend(group);
                    failed.push(message_id);
                }
            }
        }
        if failed.iter().any(String::is_empty) {
            return Err(SagaError::UnidentifiedMessage);
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failed
            .into_iter()
            .map(|message_id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id;
                failure
            })
            .collect();
        Ok(response)
    }

    /// Handles one message: decodes it and settles the sale it announces, within
    /// `retry.timeout` from now.
    pub async fn handle_message(&self, message: &SqsMessage) -> Result<Handled, SagaError> {
        let deadline = self.deadline_from_now();
        self.handle_message_until(message, deadline).await
    }

    async fn handle_message_until(
        &self,
        message: &SqsMessage,
        deadline: DateTime<Utc>,
    ) -> Result<Handled, SagaError> {
        let envelope = envelope(message)?;
        Consumer::PAYMENT_SAGA.lag(envelope.occurred_at);
        let span = tracing::Span::current();
        span.record("correlation_id", envelope.metadata.correlation_id.as_str());
        span.record("causation_id", envelope.event_id.to_string());
        span.record("event_type", envelope.event_type());
        match trigger(&envelope) {
            Trigger::Ignore(reason) => Ok(Handled::Ignored(reason.to_owned())),
            Trigger::Settle(sale) => self.settle_until(&sale, deadline).await,
        }
    }

    /// Drives the sale's saga from its stored state (or its start) to its end, within
    /// `retry.timeout` from now: perform the next step, write the state conditionally,
    /// repeat. A lost write means another consumer advanced the saga: re-read and go on from its
    /// state. Every step is idempotent by its key, so doing a step again (after a crash, or beside
    /// another consumer) takes no second effect.
    pub async fn settle(&self, sale: &Sale) -> Result<Handled, SagaError> {
        let deadline = self.deadline_from_now();
        self.settle_until(sale, deadline).await
    }

    async fn settle_until(
        &self,
        sale: &Sale,
        deadline: DateTime<Utc>,
    ) -> Result<Handled, SagaError> {
        let id = SagaId::new(sale.auction_id, &sale.buyer_id);
        tracing::Span::current().record("saga_id", id.as_str());
        let saga = match self.sagas.get(&id).await? {
            Some(saga) => saga,
            None => match self.begin(sale).await? {
                Ok(saga) => saga,
                Err(reason) => return Ok(Handled::Ignored(reason)),
            },
        };
        self.drive(saga, deadline).await
    }

    /// Advances the saga `id` from its persisted state as far as it goes, within
    /// `retry.timeout` from now, exactly as a redelivery of its message would: for a
    /// reconciler (with [`crate::StalledSagas`]) or an operator, once the saga's message reached
    /// the DLQ or was lost. Safe at any time, even beside a consumer handling its message: every
    /// step presents its idempotency key (no second charge), and state writes are conditional.
    ///
    /// `Ok(Handled::Finished)` when the saga is over (also when it already was);
    /// `Ok(Handled::Ignored)` when there is no such saga (a sale without a saga is started from
    /// its announcing event instead: [`crate::message::trigger`] and [`Self::settle`]). Errors as
    /// the handler's: a transient one ([`SagaError::is_transient`]) means try again later, the
    /// saga saved up to its last completed step; [`SagaError::Stuck`] needs a human.
    pub async fn resume(&self, id: &SagaId) -> Result<Handled, SagaError> {
        let deadline = self.deadline_from_now();
        let span = tracing::info_span!(
            "saga_resume",
            saga_id = id.as_str(),
            correlation_id = field::Empty,
            causation_id = field::Empty,
        );
        async {
            let Some(saga) = self.sagas.get(id).await? else {
                return Ok(Handled::Ignored(format!("there is no saga {id}")));
            };
            let span = tracing::Span::current();
            span.record("correlation_id", saga.correlation_id.as_str());
            span.record("causation_id", saga.causation_id.as_str());
            tracing::info!(status = ?saga.status, revision = saga.revision, "resuming the saga");
            self.drive(saga, deadline).await
        }
        .instrument(span)
        .await
    }

    /// The loop of [`Self::settle`] and [`Self::resume`], from `saga` as read.
    async fn drive(&self, mut saga: Saga, deadline: DateTime<Utc>) -> Result<Handled, SagaError> {
        let id = saga.id.clone();
        let mut conflicts = 0;
        loop {
            let next = match saga.next() {
                Next::Nothing => return Ok(Handled::Finished(Box::new(saga))),
                Next::Finish => saga.finished(self.clock.now()),
                Next::Perform(step) => {
                    if self.clock.now() >= self.retry.last_start(deadline) {
                        return Err(SagaError::OutOfTime { saga_id: id, step });
                    }
                    let result = self.perform_retrying(&saga, step, deadline).await?;
                    tracing::info!(step = step.name(), ?result, "step performed");
                    saga.after(step, result, self.clock.now())
                        .map_err(|stuck| {
                            saga_outcome(SagaOutcome::Failed);
                            SagaError::Stuck {
                                saga_id: saga.id.clone(),
                                step: stuck.step,
                                reason: stuck.reason,
                            }
                        })?
                }
            };
            match self.sagas.save(&next).await {
                Ok(()) if next.awaiting.is_some() => {
                    saga_outcome(SagaOutcome::Awaiting);
                    return Ok(Handled::Awaiting(Box::new(next)));
                }
                Ok(()) => {
                    // A terminal status is written once: a finished saga has nothing next, so a
                    // redelivery finds it done and writes (and counts) nothing.
                    match next.status {
                        Status::Completed => saga_outcome(SagaOutcome::Settled),
                        Status::Failed => saga_outcome(SagaOutcome::Compensated),
                        Status::Running | Status::Compensating => {}
                    }
                    saga = next;
                }
                Err(SagaError::Conflict { .. }) => {
                    conflicts += 1;
                    if conflicts > MAX_CONFLICTS {
                        return Err(SagaError::Busy {
                            saga_id: id,
                            attempts: conflicts,
                        });
                    }
                    tracing::debug!(
                        revision = next.revision,
                        "another consumer advanced the saga"
                    );
                    saga = self.sagas.get(&id).await?.ok_or_else(|| {
                        SagaError::StateRefused(format!("saga {id} vanished after a conflict"))
                    })?;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Performs `step`, retrying transient failures (the provider, the registry or the event
    /// store unreachable) with backoff while a wait still ends before the retry budget does. Every
    /// attempt presents the step's idempotency key, so an attempt whose answer was lost is answered
    /// by its first result. A refusal is a result and is never retried.
    async fn perform_retrying(
        &self,
        saga: &Saga,
        step: Step,
        deadline: DateTime<Utc>,
    ) -> Result<StepResult, SagaError> {
        let last_start = self.retry.last_start(deadline);
        let mut failures = 0;
        loop {
            let error = match self.perform(saga, step).await {
                Err(error) if error.is_transient() => error,
                answer => return answer,
            };
            failures += 1;
            let wait = self.retry.backoff(failures);
            let resumes_at = self.clock.now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX);
            if resumes_at >= last_start {
                tracing::warn!(
                    step = step.name(),
                    attempts = failures,
                    %error,
                    "still failing with no time left to retry; the saga waits for its redelivery"
                );
                return Err(error);
            }
            tracing::warn!(
                step = step.name(),
                attempt = failures,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                %error,
                "transient failure; retrying"
            );
            self.sleep.sleep(wait).await;
        }
    }

    /// Starts the sale's saga if the auction awaits exactly this payment; otherwise says why not
    /// (a stale or duplicate announcement: the aggregate has moved on).
    async fn begin(&self, sale: &Sale) -> Result<Result<Saga, String>, SagaError> {
        let loaded = self.store.load(sale.auction_id, &Meter::default()).await?;
        let seller_id = match awaited_seller(&loaded.state, sale) {
            Ok(seller_id) => seller_id,
            Err(reason) => return Ok(Err(reason)),
        };
        let start = Start {
            auction_id: sale.auction_id,
            buyer_id: sale.buyer_id.clone(),
            seller_id,
            price: sale.price.clone(),
            commission_rate: self.commission,
            correlation_id: sale.correlation_id.clone(),
            causation_id: sale.causation_id.clone(),
        };
        let saga = match Saga::start(start, self.clock.now()) {
            Ok(saga) => saga,
            Err(invalid) => return Ok(Err(format!("no sale at {}", invalid.0))),
        };
        match self.sagas.save(&saga).await {
            Ok(()) => {
                tracing::info!(
                    price = %saga.price,
                    commission = saga.split.commission,
                    "saga started"
                );
                Ok(Ok(saga))
            }
            // Another consumer started it first: continue from its state.
            Err(SagaError::Conflict { .. }) => self
                .sagas
                .get(&saga.id)
                .await?
                .map(Ok)
                .ok_or_else(|| SagaError::StateRefused(format!("saga {} vanished", saga.id))),
            Err(error) => Err(error),
        }
    }

    async fn perform(&self, saga: &Saga, step: Step) -> Result<StepResult, SagaError> {
        let idempotency_key = saga.idempotency_key(step);
        match step {
            Step::Charge => match saga.awaited(Step::Charge) {
                // Taken up earlier and answered later: ask for the outcome, never charge anew.
                Some(awaiting) if self.clock.now() - awaiting.since >= AWAIT_CHARGE_FOR => {
                    self.payments
                        .cancel_charge(&awaiting.reference, &format!("{idempotency_key}-cancel"))
                        .await?;
                    Ok(StepResult::Refused {
                        reason: format!(
                            "the charge {} was not completed within {} hours",
                            awaiting.reference,
                            AWAIT_CHARGE_FOR.num_hours()
                        ),
                    })
                }
                Some(awaiting) => answered(self.payments.charge_outcome(&awaiting.reference).await),
                None => answered(
                    self.payments
                        .charge(&Charge {
                            idempotency_key,
                            payer: saga.buyer_id.clone(),
                            amount: saga.price.clone(),
                            auction_id: saga.auction_id,
                        })
                        .await,
                ),
            },
            Step::Payout => answered(
                self.payments
                    .payout(&Payout {
                        idempotency_key,
                        payee: saga.seller_id.clone(),
                        amount: saga.payout(),
                        auction_id: saga.auction_id,
                        charge_reference: reference(saga, Step::Charge)?,
                    })
                    .await,
            ),
            Step::RecordSettlement => {
                let command = RecordPaymentSucceeded {
                    buyer_id: saga.buyer_id.clone(),
                    amount: saga.price.clone(),
                    payment_reference: reference(saga, Step::Charge)?,
                };
                let fingerprint = format!("{command:?}");
                self.record(saga, step, fingerprint, |state, now| {
                    decide_record_payment_succeeded(state, &command, now)
                })
                .await
            }
            Step::TransferOwnership => answered(
                self.ownership
                    .transfer(&OwnershipTransfer {
                        idempotency_key,
                        auction_id: saga.auction_id,
                        from: saga.seller_id.clone(),
                        to: saga.buyer_id.clone(),
                        price: saga.price.clone(),
                        sale: saga.id.to_string(),
                        correlation_id: saga.correlation_id.clone(),
                        causation_id: saga.causation_id.clone(),
                    })
                    .await,
            ),
            Step::ReverseTransfer => answered(
                self.ownership
                    .reverse(&OwnershipReversal {
                        idempotency_key,
                        auction_id: saga.auction_id,
                        from: saga.buyer_id.clone(),
                        to: saga.seller_id.clone(),
                        sale: saga.id.to_string(),
                        reason: failure_reason(saga),
                        correlation_id: saga.correlation_id.clone(),
                        causation_id: saga.causation_id.clone(),
                    })
                    .await,
            ),
            Step::ReversePayout => answered(
                self.payments
                    .reverse_payout(&PayoutReversal {
                        idempotency_key,
                        payout_reference: reference(saga, Step::Payout)?,
                        amount: saga.payout(),
                    })
                    .await,
            ),
            Step::Refund => answered(
                self.payments
                    .refund(&Refund {
                        idempotency_key,
                        charge_reference: reference(saga, Step::Charge)?,
                        amount: saga.price.clone(),
                    })
                    .await,
            ),
            Step::RecordFailure => {
                let command = RecordPaymentFailed {
                    buyer_id: saga.buyer_id.clone(),
                    reason: failure_reason(saga),
                };
                let fingerprint = format!("{command:?}");
                self.record(saga, step, fingerprint, |state, now| {
                    decide_record_payment_failed(state, &command, now)
                })
                .await
            }
        }
    }

    /// Runs a command on the Auction under the step's idempotency key, with the saga's correlation
    /// id and the announcing event as its cause. A domain rejection is a refused step.
    async fn record<F>(
        &self,
        saga: &Saga,
        step: Step,
        fingerprint: String,
        decide: F,
    ) -> Result<StepResult, SagaError>
    where
        F: Fn(&State, DateTime<Utc>) -> Result<Vec<Event>, domain::Rejection>,
    {
        let context = CommandContext {
            command_id: saga.causation_id.clone(),
            correlation_id: saga.correlation_id.clone(),
            actor: Actor::System {
                name: ACTOR.to_owned(),
            },
            idempotency_key: Some(IdempotencyKey {
                key: saga.idempotency_key(step),
                fingerprint,
            }),
            now: self.clock.now(),
        };
        match self.store.execute(saga.auction_id, &context, decide).await {
            Ok(outcome) => Ok(StepResult::Done {
                reference: outcome.events.first().map_or_else(
                    || format!("already recorded by version {}", outcome.state.version),
                    |event| format!("event {} (version {})", event.event_id, event.version),
                ),
            }),
            Err(CommandError::Rejected(rejection)) => Ok(StepResult::Refused {
                reason: rejection.to_string(),
            }),
            Err(CommandError::Store(error)) => Err(error.into()),
        }
    }
}

fn log_handled(handled: &Handled) {
    match handled {
        Handled::Finished(saga) => {
            tracing::info!(status = ?saga.status, revision = saga.revision, "saga finished")
        }
        Handled::Ignored(reason) => tracing::info!(reason, "nothing to do"),
        Handled::Awaiting(saga) => tracing::info!(
            revision = saga.revision,
            awaiting = ?saga.awaiting,
            "the provider answers later; the saga waits for its webhook or the reconciler"
        ),
    }
}

/// The seller, when the aggregate awaits this very payment, or has recorded it from this buyer
/// at this price. The second case is a saga whose state was lost after it recorded the payment
/// (the reconciler finds the sale without a saga and announces it again): the saga starts over
/// and every step runs again under the key it had the first time, so the provider, the
/// registry and the event store answer with what they did then and nothing takes effect twice.
fn awaited_seller(state: &State, sale: &Sale) -> Result<events::UserId, String> {
    let auction = state
        .auction
        .as_ref()
        .ok_or_else(|| format!("auction {} does not exist", sale.auction_id))?;
    match &auction.settlement {
        Some(
            Settlement::AwaitingPayment { buyer, amount } | Settlement::Paid { buyer, amount, .. },
        ) if *buyer == sale.buyer_id
            && *amount == sale.price.amount_minor
            && auction.currency == sale.price.currency =>
        {
            Ok(auction.seller_id.clone())
        }
        other => Err(format!(
            "the auction does not await {} from {} (settlement: {other:?})",
            sale.price, sale.buyer_id
        )),
    }
}

/// A provider's answer as a step result: a refusal is a result, an outage an error.
fn answered(answer: Result<Receipt, SagaError>) -> Result<StepResult, SagaError> {
    match answer {
        Ok(receipt) => Ok(StepResult::Done {
            reference: receipt.reference,
        }),
        Err(SagaError::Declined { reason }) => Ok(StepResult::Refused { reason }),
        Err(SagaError::AwaitingProvider { reference, .. }) => {
            Ok(StepResult::Awaiting { reference })
        }
        Err(error) => Err(error),
    }
}

/// Why the sale failed, as the aggregate and the registry record it: the refused step and its
/// reason, cut to the length a reason may have.
fn failure_reason(saga: &Saga) -> String {
    let reason = saga.failure.as_ref().map_or_else(
        || "payment failed".to_owned(),
        |failure| format!("{} refused: {}", failure.step.name(), failure.reason),
    );
    reason.chars().take(REASON_MAX_CHARS).collect()
}

fn reference(saga: &Saga, step: Step) -> Result<String, SagaError> {
    saga.reference(step).map(str::to_owned).ok_or_else(|| {
        SagaError::StateRefused(format!("saga {} has no {} reference", saga.id, step.name()))
    })
}
