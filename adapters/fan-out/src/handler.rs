//! One invocation: a batch of stream records in, messages out, the records to retry reported.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use conventions::metrics::Consumer;
use events::AuctionId;
use stream_records::{Failures, aggregate_of, stored_event};

use crate::config::QueueUrls;
use crate::error::PublishError;
use crate::message::{QueueMessage, batches};
use crate::routes::{Queue, destinations};
use crate::sender::QueueSender;

/// Publishes a batch of the Events table's stream records to the queues their routes name.
///
/// Each queue gets its messages in record order, in SendMessageBatch requests of at most ten.
/// A record is reported failed (for Lambda to retry from) when it cannot be decoded or routed,
/// when a send of it fails, or when an earlier record of the same auction in this batch failed;
/// from the first failure of an auction on, nothing more of that auction is sent in this
/// invocation, so that the queues never see its events out of order. Other auctions keep
/// flowing. Resends of what did go out are dropped by FIFO de-duplication on
/// `{aggregateId}#{version}`.
///
/// Returns [`PublishError::SendFailed`] only when requests failed as a whole and nothing at all
/// was sent: Lambda then retries the whole batch and counts a function error.
///
/// Counted as the publisher's records, processed or failed, with each readable record's lag.
pub async fn handle<S: QueueSender>(
    sender: &S,
    queues: &QueueUrls,
    event: Event,
) -> Result<DynamoDbEventResponse, PublishError> {
    let records = event.records.len();
    let result = publish_batch(sender, queues, event).await;
    let failed = result
        .as_ref()
        .map_or(records, |response| response.batch_item_failures.len());
    Consumer::PUBLISHER.handled(records, failed);
    result
}

async fn publish_batch<S: QueueSender>(
    sender: &S,
    queues: &QueueUrls,
    event: Event,
) -> Result<DynamoDbEventResponse, PublishError> {
    let records = event.records;
    let mut plan = Plan::new(&records);
    let mut sent_any = false;
    let mut request_error = None;

    for queue in Queue::ALL {
        let outgoing = std::mem::take(plan.outgoing.entry(queue).or_default());
        let grouped = batches(outgoing, |(_, message)| message.size());
        for (record, message) in grouped.oversized {
            plan.fail(
                record,
                format!(
                    "its {queue} message is {} bytes, more than SQS accepts",
                    message.size()
                ),
            );
        }
        for request in grouped.batches {
            // Filtering only shrinks a request, so it stays within SQS's limits.
            let (positions, messages): (Vec<usize>, Vec<QueueMessage>) = request
                .into_iter()
                .filter(|(record, _)| !plan.withheld(*record))
                .unzip();
            if messages.is_empty() {
                continue;
            }
            match sender.send_batch(queues.url(queue), &messages).await {
                Ok(results) => {
                    let mut results = results.into_iter();
                    for record in positions {
                        match results.next() {
                            Some(Ok(())) => sent_any = true,
                            Some(Err(failure)) => {
                                plan.fail(record, format!("{queue} refused it: {failure}"));
                            }
                            None => plan.fail(record, format!("{queue} gave no result for it")),
                        }
                    }
                }
                Err(error) => {
                    for record in positions {
                        plan.fail(record, error.to_string());
                    }
                    request_error.get_or_insert(error);
                }
            }
        }
    }

    // Logged record by record (with correlation ids) whichever way the batch is answered.
    let failures = plan.report(&records);
    if let Some(error) = request_error
        && !sent_any
    {
        tracing::error!(
            %error,
            records = records.len(),
            "nothing could be published; the whole batch is retried"
        );
        return Err(error);
    }
    Ok(failures.into_response())
}

/// What the handler knows about one record.
struct RecordState {
    aggregate: Option<AuctionId>,
    version: Option<u64>,
    event_type: Option<String>,
    correlation_id: Option<String>,
    queues: &'static [Queue],
    failure: Option<String>,
}

/// The batch in flight: each record's state, the messages still to send per queue, and the first
/// failed record of each auction.
struct Plan {
    records: Vec<RecordState>,
    outgoing: HashMap<Queue, Vec<(usize, QueueMessage)>>,
    first_failure: HashMap<AuctionId, usize>,
}

impl Plan {
    /// Decodes and routes every record; a record of an auction that already failed is not even
    /// routed.
    fn new(records: &[EventRecord]) -> Self {
        let mut plan = Self {
            records: Vec::with_capacity(records.len()),
            outgoing: HashMap::new(),
            first_failure: HashMap::new(),
        };
        for (position, record) in records.iter().enumerate() {
            let (state, messages) = match stored_event(record) {
                Err(error) => (
                    RecordState {
                        aggregate: aggregate_of(record),
                        version: None,
                        event_type: None,
                        correlation_id: None,
                        queues: &[],
                        failure: Some(error.to_string()),
                    },
                    Vec::new(),
                ),
                Ok(stored) => {
                    let envelope = &stored.envelope;
                    Consumer::PUBLISHER.lag(envelope.occurred_at);
                    let mut state = RecordState {
                        aggregate: Some(envelope.aggregate_id.into()),
                        version: Some(envelope.version),
                        event_type: Some(envelope.event_type.clone()),
                        correlation_id: Some(envelope.metadata.correlation_id.clone()),
                        queues: &[],
                        failure: None,
                    };
                    let mut messages = Vec::new();
                    match destinations(&envelope.event_type) {
                        None => {
                            state.failure = Some(format!(
                                "event type {:?} has no route in this build; deploy the \
                                 publisher that knows it",
                                envelope.event_type
                            ));
                        }
                        Some([]) => {}
                        Some(queues) => match QueueMessage::for_event(&stored) {
                            Ok(message) => {
                                state.queues = queues;
                                messages = queues.iter().map(|q| (*q, message.clone())).collect();
                            }
                            Err(error) => {
                                state.failure =
                                    Some(format!("cannot encode the envelope: {error}"));
                            }
                        },
                    }
                    (state, messages)
                }
            };
            plan.records.push(state);
            if plan.records[position].failure.is_some() {
                plan.note_failure(position);
            } else if !plan.withheld(position) {
                for (queue, message) in messages {
                    plan.outgoing
                        .entry(queue)
                        .or_default()
                        .push((position, message));
                }
            }
        }
        plan
    }

    fn note_failure(&mut self, record: usize) {
        if let Some(aggregate) = self.records.get(record).and_then(|r| r.aggregate) {
            let first = self.first_failure.entry(aggregate).or_insert(record);
            *first = (*first).min(record);
        }
    }

    fn fail(&mut self, record: usize, reason: String) {
        if let Some(state) = self.records.get_mut(record) {
            state.failure.get_or_insert(reason);
        }
        self.note_failure(record);
    }

    /// Whether this record, or an earlier one of its auction, has failed: then it is not sent.
    fn withheld(&self, record: usize) -> bool {
        let own = self
            .records
            .get(record)
            .is_some_and(|r| r.failure.is_some());
        let earlier = self
            .records
            .get(record)
            .and_then(|r| r.aggregate)
            .and_then(|aggregate| self.first_failure.get(&aggregate))
            .is_some_and(|first| *first <= record);
        own || earlier
    }

    /// The records to report, each logged with its correlation id.
    fn report(&self, records: &[EventRecord]) -> Failures {
        let mut failures = Failures::new();
        for (position, (record, state)) in records.iter().zip(&self.records).enumerate() {
            let correlation_id = state.correlation_id.as_deref().unwrap_or_default();
            let aggregate_id = state.aggregate.map(|a| a.to_string()).unwrap_or_default();
            let event_type = state.event_type.as_deref().unwrap_or_default();
            let sequence_number = record.change.sequence_number.as_deref().unwrap_or_default();
            if self.withheld(position) {
                let reason = state.failure.as_deref().unwrap_or(
                    "an earlier record of this auction failed; retried after it, in order",
                );
                tracing::warn!(
                    correlation_id,
                    aggregate_id,
                    version = state.version,
                    event_type,
                    sequence_number,
                    reason,
                    "record not published; reported for retry"
                );
                failures.fail(record);
            } else {
                let queues: Vec<String> = state.queues.iter().map(Queue::to_string).collect();
                tracing::info!(
                    correlation_id,
                    aggregate_id,
                    version = state.version,
                    event_type,
                    sequence_number,
                    queues = ?queues,
                    "published"
                );
            }
        }
        failures
    }
}

#[cfg(test)]
mod tests;
