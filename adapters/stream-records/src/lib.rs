//! Events as they arrive on the Events table's DynamoDB stream.
//!
//! Lambda hands a stream consumer an [`aws_lambda_events`] DynamoDB event whose records carry
//! the item's new image. [`stored_event`] turns one record into the event store's
//! [`StoredEvent`], through the very parser the store uses to read its own items, so a record
//! means exactly what the log says. [`Failures`] collects the records a handler could not
//! process into the partial batch response that lets Lambda (or the local runner) retry only
//! those.
//!
//! Depends on the event store and Lambda's event types. Must not do I/O: handlers do.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use event_store::{StoreError, StoredEvent, event_from_image};
use events::AuctionId;
use thiserror::Error;

/// Why a stream record is not an event the consumers can use. Each variant says how a consumer
/// handles it.
#[derive(Debug, Error)]
pub enum RecordError {
    /// The record is not an insert. Events are never modified or deleted, so a MODIFY or REMOVE
    /// means someone rewrote the log: report the record as failed so that it reaches the
    /// on-failure destination and a human, and never project it.
    #[error("record {record_id} is a {event_name}: events are only ever inserted")]
    NotAnInsert {
        record_id: String,
        event_name: String,
    },
    /// The record has no new image: the stream is not configured with NEW_IMAGE. (a deployment
    /// bug: fail the record so that it is retried after the fix, then reaches the destination)
    #[error("record {record_id} carries no new image; the stream must be NEW_IMAGE")]
    NoNewImage { record_id: String },
    /// The image is not a readable event. (fail the record; it reaches the on-failure
    /// destination after the configured retries)
    #[error("record {record_id} is not a readable event: {source}")]
    Unreadable {
        record_id: String,
        #[source]
        source: StoreError,
    },
}

/// The event a stream record carries.
pub fn stored_event(record: &EventRecord) -> Result<StoredEvent, RecordError> {
    if record.event_name != "INSERT" {
        return Err(RecordError::NotAnInsert {
            record_id: record.event_id.clone(),
            event_name: record.event_name.clone(),
        });
    }
    let image: HashMap<String, AttributeValue> = record
        .change
        .new_image
        .clone()
        .into_inner()
        .into_iter()
        .map(|(name, value)| (name, value.into()))
        .collect();
    if image.is_empty() {
        return Err(RecordError::NoNewImage {
            record_id: record.event_id.clone(),
        });
    }
    event_from_image(&image).map_err(|source| RecordError::Unreadable {
        record_id: record.event_id.clone(),
        source,
    })
}

/// The INSERT record DynamoDB Streams delivers for an event item (NEW_IMAGE), with
/// `sequence` as its sequence number (zero-padded, so text order is number order): what local
/// tools and tests hand a stream consumer in place of a real stream.
pub fn insert_record(stored: &StoredEvent, sequence: u64) -> Result<EventRecord, StoreError> {
    let item = event_store::event_item(stored)?;
    let keys: HashMap<String, AttributeValue> = ["aggregateId", "version"]
        .into_iter()
        .filter_map(|name| item.get(name).map(|value| (name.to_owned(), value.clone())))
        .collect();
    let mut record = EventRecord::default();
    record.event_id = format!("record-{sequence}");
    record.event_name = "INSERT".to_owned();
    record.change.keys = keys.into();
    record.change.new_image = item.into();
    record.change.sequence_number = Some(format!("{sequence:021}"));
    Ok(record)
}

/// The aggregate a record belongs to, read from its keys: a consumer that fails one record of an
/// aggregate must not process that aggregate's later records in the same batch, or it would
/// apply them out of order.
pub fn aggregate_of(record: &EventRecord) -> Option<AuctionId> {
    let keys = record.change.keys.clone().into_inner();
    match keys.get("aggregateId") {
        Some(serde_dynamo::AttributeValue::S(id)) => id.parse().ok().map(AuctionId),
        _ => None,
    }
}

/// The records of a batch that a handler could not process, as the partial batch response.
///
/// Lambda's contract for streams: it retries from the *lowest* sequence number reported, so a
/// handler reports a failed record and everything after it for the same shard. Handlers that
/// process records of different aggregates independently still report every failure; Lambda
/// then resumes at the earliest.
#[derive(Debug, Default)]
pub struct Failures {
    sequence_numbers: Vec<String>,
}

impl Failures {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks `record` as failed. A record without a sequence number cannot be reported
    /// individually, so it fails the whole batch instead (an empty identifier does, per the
    /// Lambda contract).
    pub fn fail(&mut self, record: &EventRecord) {
        self.sequence_numbers
            .push(record.change.sequence_number.clone().unwrap_or_default());
    }

    pub fn is_empty(&self) -> bool {
        self.sequence_numbers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.sequence_numbers.len()
    }

    pub fn into_response(self) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = self
            .sequence_numbers
            .into_iter()
            .map(|sequence_number| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence_number);
                failure
            })
            .collect();
        response
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use aws_lambda_events::event::dynamodb::Event;

    fn record(event_name: &str, new_image: serde_json::Value) -> EventRecord {
        let event: Event = serde_json::from_value(serde_json::json!({
            "Records": [{
                "eventID": "1",
                "eventName": event_name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": {
                        "aggregateId": {"S": "0194b7a0-0000-7000-8000-000000000001"},
                        "version": {"N": "1"}
                    },
                    "NewImage": new_image,
                    "SequenceNumber": "111",
                    "SizeBytes": 26,
                    "StreamViewType": "NEW_IMAGE"
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/Events/stream/x"
            }]
        }))
        .unwrap();
        event.records.into_iter().next().unwrap()
    }

    fn started_image() -> serde_json::Value {
        serde_json::json!({
            "aggregateId": {"S": "0194b7a0-0000-7000-8000-000000000001"},
            "version": {"N": "1"},
            "eventId": {"S": "0194b7a0-0000-7000-8000-0000000000aa"},
            "aggregateType": {"S": "Auction"},
            "eventType": {"S": "AuctionStarted"},
            "schemaVersion": {"N": "1"},
            "occurredAt": {"S": "2026-11-27T10:00:00.000Z"},
            "payload": {"S": "{\"startedAt\":\"2026-11-27T10:00:00Z\",\"endsAt\":\"2026-11-28T10:00:00Z\"}"},
            "metadata": {"S": "{\"correlationId\":\"c-1\",\"causationId\":\"cmd-1\",\"actor\":{\"kind\":\"system\",\"name\":\"test\"}}"},
            "hash": {"S": "00"}
        })
    }

    #[test]
    fn an_insert_record_decodes_into_the_stored_event() {
        let event = stored_event(&record("INSERT", started_image())).unwrap();
        assert_eq!(event.envelope.version, 1);
        assert_eq!(event.envelope.event_type, "AuctionStarted");
        assert_eq!(event.envelope.metadata.correlation_id, "c-1");
    }

    #[test]
    fn a_modify_record_is_refused_because_events_are_never_rewritten() {
        let error = stored_event(&record("MODIFY", started_image())).unwrap_err();
        assert!(matches!(error, RecordError::NotAnInsert { .. }), "{error}");
    }

    #[test]
    fn a_record_without_a_new_image_is_refused() {
        let error = stored_event(&record("INSERT", serde_json::json!({}))).unwrap_err();
        assert!(matches!(error, RecordError::NoNewImage { .. }), "{error}");
    }

    #[test]
    fn a_record_whose_payload_is_not_json_is_unreadable() {
        let mut image = started_image();
        image["payload"] = serde_json::json!({"S": "{not json"});
        let error = stored_event(&record("INSERT", image)).unwrap_err();
        assert!(matches!(error, RecordError::Unreadable { .. }), "{error}");
    }

    #[test]
    fn the_aggregate_is_read_from_the_keys() {
        let aggregate = aggregate_of(&record("INSERT", started_image())).unwrap();
        assert_eq!(
            aggregate.0.to_string(),
            "0194b7a0-0000-7000-8000-000000000001"
        );
    }

    #[test]
    fn failures_report_each_failed_sequence_number() {
        let mut failures = Failures::new();
        failures.fail(&record("INSERT", started_image()));
        let response = failures.into_response();
        assert_eq!(response.batch_item_failures.len(), 1);
        assert_eq!(
            response.batch_item_failures[0].item_identifier.as_deref(),
            Some("111")
        );
    }
}
