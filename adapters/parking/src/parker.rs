//! The parker: a stream mapping's on-failure records and the queues' dead letters in, parked
//! items out.

use std::collections::{BTreeMap, HashMap};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use events::AuctionId;
use serde_json::Value;

use conventions::metrics::{Consumer as MetricConsumer, parked};

use crate::consumer::Consumer;
use crate::error::ParkingError;
use crate::parked::{Parked, ParkedItems};
use crate::stream::{StreamRange, StreamedEvent};

/// Which consumer a give-up belongs to, from the function (on-failure record) or the queue
/// (dead letter) it names.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// Function or queue name (the last segment of its ARN) -> consumer name.
    by_name: HashMap<String, String>,
}

impl Origins {
    /// Each consumer's own name stands for itself (the local runner names its mappings so),
    /// plus `pairs` (function or queue name, consumer name).
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut by_name: HashMap<String, String> = Consumer::ALL
            .iter()
            .map(|c| (c.name().to_owned(), c.name().to_owned()))
            .collect();
        by_name.extend(
            pairs
                .into_iter()
                .map(|(name, consumer)| (name.to_owned(), consumer.to_owned())),
        );
        Self { by_name }
    }

    /// From `PARKED_CONSUMERS`: `name=consumer` pairs separated by commas, where a name is a
    /// function's or a dead-letter queue's (the CDK app sets it to its generated names).
    pub fn from_env() -> Self {
        let pairs = std::env::var("PARKED_CONSUMERS").unwrap_or_default();
        Self::new(
            pairs
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(name, consumer)| (name.trim(), consumer.trim())),
        )
    }

    /// The consumer behind an ARN or a name. Dead-letter queues named as the local stack names
    /// them (`…notifications-dlq.fifo`, `…payments-dlq.fifo`, `…live-dlq.fifo`, with any test
    /// prefix) need no
    /// entry.
    pub fn consumer_of(&self, arn_or_name: &str) -> Option<String> {
        let name = arn_or_name.rsplit(':').next().unwrap_or(arn_or_name);
        if let Some(consumer) = self.by_name.get(name) {
            return Some(consumer.clone());
        }
        if name.ends_with("notifications-dlq.fifo") {
            Some(Consumer::Notifier.name().to_owned())
        } else if name.ends_with("payments-dlq.fifo") {
            Some(Consumer::PaymentSaga.name().to_owned())
        } else if name.ends_with("live-dlq.fifo") {
            Some(Consumer::Broadcaster.name().to_owned())
        } else {
            None
        }
    }
}

/// Parks what each message describes; the messages that could not be parked are reported
/// failed, so that they stay in their queue (whose age alarm calls a human) and are tried again.
/// A message is parked at most once per range: the same range parked again replaces its item.
///
/// Counted as the parker's records, processed or failed, and as each parked item's consumer's
/// parked records (the events the item holds).
pub async fn park<P, R>(
    parked: &P,
    stream: &R,
    origins: &Origins,
    event: SqsEvent,
    now: DateTime<Utc>,
) -> SqsBatchResponse
where
    P: ParkedItems,
    R: StreamRange,
{
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        match park_one(parked, stream, origins, message, now).await {
            Ok(items) => {
                for item in &items {
                    tracing::warn!(
                        consumer = %item.consumer,
                        aggregate_id = %item.aggregate_id,
                        from_version = item.from_version,
                        to_version = item.to_version,
                        event_types = ?item.event_types,
                        attempts = item.attempts,
                        last_error = %item.last_error,
                        "parked"
                    );
                }
                metric(&items);
            }
            Err(error) => {
                tracing::error!(message_id = %id, %error, "not parked; the message stays in its queue");
                response.add_failure(id);
            }
        }
    }
    MetricConsumer::PARKER.handled(event.records.len(), response.batch_item_failures.len());
    response
}

/// The records each item holds, counted under its consumer: what the parked-items alarms watch.
fn metric(items: &[Parked]) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for item in items {
        let events = item.to_version.saturating_sub(item.from_version) + 1;
        *counts.entry(&item.consumer).or_default() += usize::try_from(events).unwrap_or(1);
    }
    for (consumer, records) in counts {
        parked(consumer, records);
    }
}

async fn park_one<P, R>(
    parked: &P,
    stream: &R,
    origins: &Origins,
    message: &SqsMessage,
    now: DateTime<Utc>,
) -> Result<Vec<Parked>, ParkingError>
where
    P: ParkedItems,
    R: StreamRange,
{
    let id = message.message_id.clone().unwrap_or_default();
    let unparkable = |reason: String| ParkingError::Unparkable {
        message_id: id.clone(),
        reason,
    };
    let body: Value = serde_json::from_str(message.body.as_deref().unwrap_or_default())
        .map_err(|e| unparkable(format!("its body is not JSON: {e}")))?;
    let items = if let Some(batch) = body.get("DDBStreamBatchInfo") {
        from_failure_record(stream, origins, &body, batch, now)
            .await
            .map_err(|e| match e {
                ParkingError::Unparkable { reason, .. } => unparkable(reason),
                other => other,
            })?
    } else {
        vec![from_dead_letter(origins, &body, message, now).map_err(unparkable)?]
    };
    for item in &items {
        parked.put(item).await?;
    }
    Ok(items)
}

/// A stream mapping's on-failure record: the batch's records are read from the stream (which
/// holds them for 24 hours; the parker runs within a minute) and parked per aggregate.
async fn from_failure_record<R: StreamRange>(
    stream: &R,
    origins: &Origins,
    record: &Value,
    batch: &Value,
    now: DateTime<Utc>,
) -> Result<Vec<Parked>, ParkingError> {
    let unparkable = |reason: &str| ParkingError::Unparkable {
        message_id: String::new(),
        reason: reason.to_owned(),
    };
    let text = |value: &Value, field: &str| {
        value
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| unparkable(&format!("the failure record has no {field}")))
    };
    let context = record.get("requestContext").unwrap_or(&Value::Null);
    let function = text(context, "functionArn")?;
    let consumer = origins
        .consumer_of(&function)
        .ok_or_else(|| unparkable(&format!("no consumer is known for function {function}")))?;
    let (shard, start, end, stream_arn) = (
        text(batch, "shardId")?,
        text(batch, "startSequenceNumber")?,
        text(batch, "endSequenceNumber")?,
        text(batch, "streamArn")?,
    );
    let attempts = context
        .get("approximateInvokeCount")
        .and_then(Value::as_u64)
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let condition = context
        .get("condition")
        .and_then(Value::as_str)
        .unwrap_or("gave up");
    let function_error = record
        .get("responseContext")
        .and_then(|r| r.get("functionError"))
        .and_then(Value::as_str)
        .map(|e| format!(", the last invocation failed as a whole ({e})"))
        .unwrap_or_else(|| ", the last invocation reported these records failed".to_owned());
    let last_error = format!(
        "{condition} after {attempts} invocations{function_error}; the consumer's own error is \
         in its log at {}",
        record
            .get("timestamp")
            .and_then(Value::as_str)
            .unwrap_or("the time of the give-up")
    );
    let events = stream.read(&stream_arn, &shard, &start, &end).await?;
    if events.is_empty() {
        return Err(unparkable(&format!(
            "the stream holds no records {start}..{end} of shard {shard} any more"
        )));
    }
    let origin = format!("stream {stream_arn} shard {shard} sequence {start}..{end}");
    Ok(runs(events)
        .into_iter()
        .map(|(aggregate_id, run)| Parked {
            consumer: consumer.clone(),
            aggregate_id,
            from_version: run.first().map_or(0, |e| e.version),
            to_version: run.last().map_or(0, |e| e.version),
            event_types: distinct_types(&run),
            last_error: last_error.clone(),
            attempts,
            failed_replays: 0,
            parked_at: now,
            origin: origin.clone(),
        })
        .collect())
}

/// The records of each aggregate split into runs of consecutive versions (a batch holds each
/// aggregate's records in order, but a bisected batch can skip some).
fn runs(events: Vec<StreamedEvent>) -> Vec<(AuctionId, Vec<StreamedEvent>)> {
    let mut by_aggregate: BTreeMap<AuctionId, Vec<StreamedEvent>> = BTreeMap::new();
    for event in events {
        by_aggregate
            .entry(event.aggregate_id)
            .or_default()
            .push(event);
    }
    let mut runs = Vec::new();
    for (aggregate_id, mut events) in by_aggregate {
        events.sort_by_key(|e| e.version);
        events.dedup_by_key(|e| e.version);
        let mut current: Vec<StreamedEvent> = Vec::new();
        for event in events {
            if current
                .last()
                .is_some_and(|last| last.version + 1 != event.version)
            {
                runs.push((aggregate_id, std::mem::take(&mut current)));
            }
            current.push(event);
        }
        if !current.is_empty() {
            runs.push((aggregate_id, current));
        }
    }
    runs
}

fn distinct_types(events: &[StreamedEvent]) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for event in events {
        if !types.contains(&event.event_type) {
            types.push(event.event_type.clone());
        }
    }
    types
}

/// A dead letter: the publisher's message, whose body is the event's wire envelope.
fn from_dead_letter(
    origins: &Origins,
    body: &Value,
    message: &SqsMessage,
    now: DateTime<Utc>,
) -> Result<Parked, String> {
    let queue = message.event_source_arn.clone().unwrap_or_default();
    let consumer = origins
        .consumer_of(&queue)
        .ok_or_else(|| format!("no consumer is known for queue {queue}"))?;
    let aggregate_id = body
        .get("aggregateId")
        .and_then(Value::as_str)
        .and_then(|id| id.parse().ok())
        .map(AuctionId)
        .ok_or("its body is not an event envelope: no aggregateId")?;
    let version = body
        .get("version")
        .and_then(Value::as_u64)
        .ok_or("its body is not an event envelope: no version")?;
    let event_type = body
        .get("eventType")
        .and_then(Value::as_str)
        .unwrap_or("(unknown)")
        .to_owned();
    let receives: u32 = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // A replayed message that was dead-lettered again: its replays all failed so far.
    let failed_replays: u32 = message
        .message_attributes
        .get(crate::redeliver::REPLAYS_ATTRIBUTE)
        .and_then(|attribute| attribute.string_value.as_deref())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let queue_name = queue.rsplit(':').next().unwrap_or(&queue).to_owned();
    Ok(Parked {
        consumer,
        aggregate_id,
        from_version: version,
        to_version: version,
        event_types: vec![event_type],
        last_error: format!(
            "moved to {queue_name} after the consumer failed it on every receive; the \
             consumer's own error is in its log"
        ),
        attempts: receives,
        failed_replays,
        parked_at: now,
        origin: format!(
            "queue {queue_name} message {}",
            message.message_id.as_deref().unwrap_or("(no id)")
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::memory::InMemoryParked;

    /// A stream that holds the given records and remembers what was asked of it.
    #[derive(Default)]
    struct Stream {
        records: Vec<StreamedEvent>,
        asked: Mutex<Vec<(String, String, String)>>,
    }

    impl StreamRange for Stream {
        async fn read(
            &self,
            _stream_arn: &str,
            shard_id: &str,
            start: &str,
            end: &str,
        ) -> Result<Vec<StreamedEvent>, ParkingError> {
            self.asked.lock().unwrap().push((
                shard_id.to_owned(),
                start.to_owned(),
                end.to_owned(),
            ));
            Ok(self.records.clone())
        }
    }

    fn auction(n: u128) -> AuctionId {
        AuctionId(uuid::Uuid::from_u128(n))
    }

    fn event(aggregate: u128, version: u64, event_type: &str) -> StreamedEvent {
        StreamedEvent {
            aggregate_id: auction(aggregate),
            version,
            event_type: event_type.to_owned(),
        }
    }

    fn message(id: &str, body: Value, queue_arn: &str, receives: u32) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.body = Some(body.to_string());
        message.event_source_arn = Some(queue_arn.to_owned());
        message
            .attributes
            .insert("ApproximateReceiveCount".to_owned(), receives.to_string());
        message
    }

    fn failure_record(function: &str) -> Value {
        json!({
            "requestContext": {"requestId": "r", "functionArn": format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": "2026-12-04T10:00:00.000Z",
            "DDBStreamBatchInfo": {"shardId": "shard-1", "startSequenceNumber": "100", "endSequenceNumber": "400",
                                   "approximateArrivalOfFirstRecord": "2026-12-04T09:59:00.000Z",
                                   "approximateArrivalOfLastRecord": "2026-12-04T09:59:01.000Z",
                                   "batchSize": 4, "streamArn": "arn:stream"}
        })
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[tokio::test]
    async fn given_a_failure_record_when_parked_then_each_aggregates_run_is_one_item_with_its_event_types()
     {
        let stream = Stream {
            records: vec![
                event(1, 4, "BidPlaced"),
                event(2, 7, "AuctionEnded"),
                event(1, 5, "BidPlaced"),
                event(1, 6, "AuctionEnded"),
            ],
            ..Stream::default()
        };
        let parked = InMemoryParked::new();
        let mut batch = SqsEvent::default();
        batch.records = vec![message(
            "m1",
            failure_record("projector"),
            "arn:aws:sqs:us-east-1:000000000000:stream-failures",
            1,
        )];

        let response = park(&parked, &stream, &Origins::new([]), batch, now()).await;

        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            stream.asked.lock().unwrap().as_slice(),
            [("shard-1".to_owned(), "100".to_owned(), "400".to_owned())]
        );
        let items = parked.list(Some("projector")).await.unwrap();
        let ranges: Vec<_> = items
            .iter()
            .map(|i| {
                (
                    i.aggregate_id,
                    i.from_version,
                    i.to_version,
                    i.event_types.clone(),
                )
            })
            .collect();
        assert_eq!(
            ranges,
            [
                (
                    auction(1),
                    4,
                    6,
                    vec!["BidPlaced".to_owned(), "AuctionEnded".to_owned()]
                ),
                (auction(2), 7, 7, vec!["AuctionEnded".to_owned()]),
            ]
        );
        assert!(
            items
                .iter()
                .all(|i| i.attempts == 4 && i.parked_at == now())
        );
        assert!(
            items[0]
                .last_error
                .starts_with("RetryAttemptsExhausted after 4 invocations")
        );
    }

    #[test]
    fn given_give_ups_and_an_unreadable_message_when_parked_then_the_records_count_under_their_consumers()
     {
        let (response, recorded) = conventions::metrics::testing::recorded_async(async {
            // Given the projector's failure record over four events, a dead letter of the
            // payment saga, and a message that is not JSON
            let stream = Stream {
                records: vec![
                    event(1, 4, "BidPlaced"),
                    event(2, 7, "AuctionEnded"),
                    event(1, 5, "BidPlaced"),
                    event(1, 6, "AuctionEnded"),
                ],
                ..Stream::default()
            };
            let dead_letter = json!({"eventId": "e", "aggregateId": auction(3).to_string(),
                                     "version": 9, "eventType": "AuctionEnded"});
            let mut unreadable = message("m3", Value::Null, "arn:aws:sqs:r:1:live-dlq.fifo", 3);
            unreadable.body = Some("{not json".to_owned());
            let mut batch = SqsEvent::default();
            batch.records = vec![
                message(
                    "m1",
                    failure_record("projector"),
                    "arn:aws:sqs:r:1:stream-failures",
                    1,
                ),
                message("m2", dead_letter, "arn:aws:sqs:r:1:payments-dlq.fifo", 3),
                unreadable,
            ];

            // When the batch is parked
            park(
                &InMemoryParked::new(),
                &stream,
                &Origins::new([]),
                batch,
                now(),
            )
            .await
        });

        // Then the four events count as the projector's parked records and the dead letter as
        // the saga's; the parker processed two messages and failed the unreadable one
        assert_eq!(response.batch_item_failures.len(), 1);
        let parked = |consumer| recorded.counter("RecordsParked", &[("Consumer", consumer)]);
        assert_eq!(parked("projector"), 4);
        assert_eq!(parked("payment-saga"), 1);
        let parker = [("Consumer", "parker")];
        assert_eq!(recorded.counter("RecordsProcessed", &parker), 2);
        assert_eq!(recorded.counter("RecordsFailed", &parker), 1);
    }

    #[tokio::test]
    async fn given_a_dead_letter_when_parked_then_its_event_is_parked_for_the_queues_consumer() {
        let parked = InMemoryParked::new();
        let body = json!({"eventId": "e", "aggregateId": auction(3).to_string(), "version": 9,
                          "eventType": "AuctionEnded", "payload": {}});
        let mut batch = SqsEvent::default();
        batch.records = vec![message(
            "m2",
            body,
            "arn:aws:sqs:us-east-1:000000000000:t1-payments-dlq.fifo",
            3,
        )];

        let response = park(&parked, &Stream::default(), &Origins::new([]), batch, now()).await;

        assert!(response.batch_item_failures.is_empty());
        let items = parked.list(None).await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].consumer, "payment-saga");
        assert_eq!((items[0].from_version, items[0].to_version), (9, 9));
        assert_eq!(items[0].attempts, 3);
        assert!(items[0].origin.contains("t1-payments-dlq.fifo"));
    }

    #[tokio::test]
    async fn given_a_replayed_message_dead_lettered_again_when_parked_then_its_failed_replays_are_kept()
     {
        let parked = InMemoryParked::new();
        let body = json!({"eventId": "e", "aggregateId": auction(4).to_string(), "version": 2,
                          "eventType": "AuctionEnded"});
        let mut replayed = message("m3", body, "arn:aws:sqs:r:1:notifications-dlq.fifo", 3);
        let mut attribute = aws_lambda_events::event::sqs::SqsMessageAttribute::default();
        attribute.string_value = Some("2".to_owned());
        attribute.data_type = Some("Number".to_owned());
        replayed
            .message_attributes
            .insert(crate::redeliver::REPLAYS_ATTRIBUTE.to_owned(), attribute);
        let mut batch = SqsEvent::default();
        batch.records = vec![replayed];

        park(&parked, &Stream::default(), &Origins::new([]), batch, now()).await;

        let items = parked.list(Some("notifier")).await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].failed_replays, 2);
    }

    #[tokio::test]
    async fn given_a_message_the_parker_cannot_place_when_parked_then_it_stays_in_its_queue_and_nothing_is_parked()
     {
        let parked = InMemoryParked::new();
        let mut batch = SqsEvent::default();
        batch.records = vec![
            message(
                "not-json",
                Value::String("x".into()),
                "arn:aws:sqs:r:1:payments-dlq.fifo",
                3,
            ),
            message(
                "unknown-queue",
                json!({"aggregateId": auction(1).to_string(), "version": 1}),
                "arn:aws:sqs:r:1:mystery",
                3,
            ),
            message(
                "unknown-function",
                failure_record("mystery-fn"),
                "arn:aws:sqs:r:1:stream-failures",
                1,
            ),
            message(
                "empty-range",
                failure_record("publisher"),
                "arn:aws:sqs:r:1:stream-failures",
                1,
            ),
        ];

        let response = park(&parked, &Stream::default(), &Origins::new([]), batch, now()).await;

        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "not-json",
                "unknown-queue",
                "unknown-function",
                "empty-range"
            ]
        );
        assert!(parked.list(None).await.unwrap().is_empty());
    }

    #[test]
    fn origins_map_generated_names_to_consumers() {
        let origins = Origins::new([
            ("Platform-ProjectorFn-AB12", "projector"),
            ("Platform-PaymentsDlq-XY.fifo", "payment-saga"),
        ]);

        assert_eq!(
            origins
                .consumer_of("arn:aws:lambda:r:1:function:Platform-ProjectorFn-AB12")
                .as_deref(),
            Some("projector")
        );
        assert_eq!(
            origins
                .consumer_of("arn:aws:sqs:r:1:Platform-PaymentsDlq-XY.fifo")
                .as_deref(),
            Some("payment-saga")
        );
        assert_eq!(
            origins
                .consumer_of("arn:aws:lambda:r:1:function:publisher")
                .as_deref(),
            Some("publisher")
        );
        assert_eq!(origins.consumer_of("arn:aws:sqs:r:1:other"), None);
    }
}
