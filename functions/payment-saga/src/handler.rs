//! The consumer: a batch of payments-queue messages in, the failed ones out; and the loop that
//! drives one saga from whatever state it is in to its end.

use std::collections::HashSet;
use std::sync::Arc;

use auction_domain::{
    Event, RecordPaymentFailed, RecordPaymentSucceeded, Settlement, State,
    decide_record_payment_failed, decide_record_payment_succeeded, rules::REASON_MAX_CHARS,
};
use auction_events::Actor;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use event_store::{
    CommandContext, EventLog, IdempotencyKey, IdempotencyRecords, Meter, Snapshots, Store,
    StoreError,
};
use tracing::{Instrument, field};

use crate::commission::BasisPoints;
use crate::error::SagaError;
use crate::message::{
    CORRELATION_ID_ATTRIBUTE, EVENT_ID_ATTRIBUTE, EVENT_TYPE_ATTRIBUTE, Sale, Trigger, envelope,
    group_of, string_attribute, trigger,
};
use crate::ports::{
    Charge, Clock, OwnershipRegistry, OwnershipTransfer, PaymentProvider, Payout, PayoutReversal,
    Receipt, Refund, SagaStates,
};
use crate::saga::{Next, Saga, SagaId, Start, Step, StepResult};

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
}

/// Handles a batch from the payments queue (FIFO). Returns the messages to redeliver; once a
/// message of a group fails, the group's later messages in the batch are reported failed
/// unprocessed, so that they are retried after it, in order.
pub async fn handle<B, P, O, S>(
    ports: &Ports<B, P, O, S>,
    event: SqsEvent,
) -> Result<SqsBatchResponse, SagaError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    P: PaymentProvider,
    O: OwnershipRegistry,
    S: SagaStates,
{
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
        match handle_message(ports, message)
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

fn log_handled(handled: &Handled) {
    match handled {
        Handled::Finished(saga) => {
            tracing::info!(status = ?saga.status, revision = saga.revision, "saga finished")
        }
        Handled::Ignored(reason) => tracing::info!(reason, "nothing to do"),
    }
}

/// Handles one message: decodes it and settles the sale it announces.
pub async fn handle_message<B, P, O, S>(
    ports: &Ports<B, P, O, S>,
    message: &SqsMessage,
) -> Result<Handled, SagaError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    P: PaymentProvider,
    O: OwnershipRegistry,
    S: SagaStates,
{
    let envelope = envelope(message)?;
    let span = tracing::Span::current();
    span.record("correlation_id", envelope.metadata.correlation_id.as_str());
    span.record("causation_id", envelope.event_id.to_string());
    span.record("event_type", envelope.event_type());
    match trigger(&envelope) {
        Trigger::Ignore(reason) => Ok(Handled::Ignored(reason.to_owned())),
        Trigger::Settle(sale) => settle(ports, &sale).await,
    }
}

/// Drives the sale's saga from its stored state (or its start) to its end: perform the next
/// step, write the state conditionally, repeat. A lost write means another consumer advanced
/// the saga: re-read and go on from its state. Every step is idempotent by its key, so doing a
/// step again (after a crash, or beside another consumer) takes no second effect.
pub async fn settle<B, P, O, S>(
    ports: &Ports<B, P, O, S>,
    sale: &Sale,
) -> Result<Handled, SagaError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    P: PaymentProvider,
    O: OwnershipRegistry,
    S: SagaStates,
{
    let id = SagaId::new(sale.auction_id, &sale.buyer_id);
    tracing::Span::current().record("saga_id", id.as_str());
    let mut saga = match ports.sagas.get(&id).await? {
        Some(saga) => saga,
        None => match begin(ports, sale).await? {
            Ok(saga) => saga,
            Err(reason) => return Ok(Handled::Ignored(reason)),
        },
    };
    let mut conflicts = 0;
    loop {
        let now = ports.clock.now();
        let next = match saga.next() {
            Next::Nothing => return Ok(Handled::Finished(Box::new(saga))),
            Next::Finish => saga.finished(now),
            Next::Perform(step) => {
                let result = perform(ports, &saga, step).await?;
                tracing::info!(step = step.name(), ?result, "step performed");
                saga.after(step, result, now)
                    .map_err(|stuck| SagaError::Stuck {
                        saga_id: saga.id.clone(),
                        step: stuck.step,
                        reason: stuck.reason,
                    })?
            }
        };
        match ports.sagas.save(&next).await {
            Ok(()) => saga = next,
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
                saga = ports.sagas.get(&id).await?.ok_or_else(|| {
                    SagaError::StateRefused(format!("saga {id} vanished after a conflict"))
                })?;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Starts the sale's saga if the auction awaits exactly this payment; otherwise says why not
/// (a stale or duplicate announcement: the aggregate has moved on).
async fn begin<B, P, O, S>(
    ports: &Ports<B, P, O, S>,
    sale: &Sale,
) -> Result<Result<Saga, String>, SagaError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    S: SagaStates,
{
    let loaded = ports.store.load(sale.auction_id, &Meter::default()).await?;
    let seller_id = match awaited_seller(&loaded.state, sale) {
        Ok(seller_id) => seller_id,
        Err(reason) => return Ok(Err(reason)),
    };
    let start = Start {
        auction_id: sale.auction_id,
        buyer_id: sale.buyer_id.clone(),
        seller_id,
        price: sale.price.clone(),
        commission_rate: ports.commission,
        correlation_id: sale.correlation_id.clone(),
        causation_id: sale.causation_id.clone(),
    };
    let saga = match Saga::start(start, ports.clock.now()) {
        Ok(saga) => saga,
        Err(invalid) => return Ok(Err(format!("no sale at {}", invalid.0))),
    };
    match ports.sagas.save(&saga).await {
        Ok(()) => {
            tracing::info!(price = %saga.price, commission = saga.split.commission, "saga started");
            Ok(Ok(saga))
        }
        // Another consumer started it first: continue from its state.
        Err(SagaError::Conflict { .. }) => ports
            .sagas
            .get(&saga.id)
            .await?
            .map(Ok)
            .ok_or_else(|| SagaError::StateRefused(format!("saga {} vanished", saga.id))),
        Err(error) => Err(error),
    }
}

/// The seller, when the aggregate awaits this very payment.
fn awaited_seller(state: &State, sale: &Sale) -> Result<auction_events::UserId, String> {
    let auction = state
        .auction
        .as_ref()
        .ok_or_else(|| format!("auction {} does not exist", sale.auction_id))?;
    match &auction.settlement {
        Some(Settlement::AwaitingPayment { buyer, amount })
            if *buyer == sale.buyer_id
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
        Err(error) => Err(error),
    }
}

fn reference(saga: &Saga, step: Step) -> Result<String, SagaError> {
    saga.reference(step).map(str::to_owned).ok_or_else(|| {
        SagaError::StateRefused(format!("saga {} has no {} reference", saga.id, step.name()))
    })
}

async fn perform<B, P, O, S>(
    ports: &Ports<B, P, O, S>,
    saga: &Saga,
    step: Step,
) -> Result<StepResult, SagaError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    P: PaymentProvider,
    O: OwnershipRegistry,
{
    let idempotency_key = saga.idempotency_key(step);
    match step {
        Step::Charge => answered(
            ports
                .payments
                .charge(&Charge {
                    idempotency_key,
                    payer: saga.buyer_id.clone(),
                    amount: saga.price.clone(),
                    auction_id: saga.auction_id,
                })
                .await,
        ),
        Step::Payout => answered(
            ports
                .payments
                .payout(&Payout {
                    idempotency_key,
                    payee: saga.seller_id.clone(),
                    amount: saga.payout(),
                    auction_id: saga.auction_id,
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
            record(ports, saga, step, fingerprint, |state, now| {
                decide_record_payment_succeeded(state, &command, now)
            })
            .await
        }
        Step::TransferOwnership => answered(
            ports
                .ownership
                .transfer(&OwnershipTransfer {
                    idempotency_key,
                    auction_id: saga.auction_id,
                    from: saga.seller_id.clone(),
                    to: saga.buyer_id.clone(),
                })
                .await,
        ),
        Step::ReversePayout => answered(
            ports
                .payments
                .reverse_payout(&PayoutReversal {
                    idempotency_key,
                    payout_reference: reference(saga, Step::Payout)?,
                    amount: saga.payout(),
                })
                .await,
        ),
        Step::Refund => answered(
            ports
                .payments
                .refund(&Refund {
                    idempotency_key,
                    charge_reference: reference(saga, Step::Charge)?,
                    amount: saga.price.clone(),
                })
                .await,
        ),
        Step::RecordFailure => {
            let reason = saga.failure.as_ref().map_or_else(
                || "payment failed".to_owned(),
                |failure| format!("{} refused: {}", failure.step.name(), failure.reason),
            );
            let command = RecordPaymentFailed {
                buyer_id: saga.buyer_id.clone(),
                reason: reason.chars().take(REASON_MAX_CHARS).collect(),
            };
            let fingerprint = format!("{command:?}");
            record(ports, saga, step, fingerprint, |state, now| {
                decide_record_payment_failed(state, &command, now)
            })
            .await
        }
    }
}

/// Runs a command on the Auction under the step's idempotency key, with the saga's correlation
/// id and the announcing event as its cause. A domain rejection is a refused step.
async fn record<B, P, O, S, F>(
    ports: &Ports<B, P, O, S>,
    saga: &Saga,
    step: Step,
    fingerprint: String,
    decide: F,
) -> Result<StepResult, SagaError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    F: Fn(&State, DateTime<Utc>) -> Result<Vec<Event>, auction_domain::Rejection>,
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
        now: ports.clock.now(),
    };
    match ports.store.execute(saga.auction_id, &context, decide).await {
        Ok(outcome) => Ok(StepResult::Done {
            reference: outcome.events.first().map_or_else(
                || format!("already recorded by version {}", outcome.state.version),
                |event| format!("event {} (version {})", event.event_id, event.version),
            ),
        }),
        Err(StoreError::Rejected(rejection)) => Ok(StepResult::Refused {
            reason: rejection.to_string(),
        }),
        Err(error) => Err(error.into()),
    }
}
