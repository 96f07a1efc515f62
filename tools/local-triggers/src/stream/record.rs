//! Stream records as Lambda delivers them. Pure: no I/O.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record as SdkRecord};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::TriggerError;

/// One stream record: what the handler sees, plus what the runner needs to checkpoint it and to
/// describe it to the on-failure destination.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub sequence_number: String,
    pub arrived: DateTime<Utc>,
    pub lambda: EventRecord,
}

/// The record Lambda would put into its event for `record`: the JSON Lambda sends, deserialized
/// into aws_lambda_events' type, so the handler gets exactly what the Lambda main gets.
pub(crate) fn lambda_record(
    record: &SdkRecord,
    stream_arn: &str,
    region: &str,
) -> Result<Record, TriggerError> {
    let conversion = |message: String| TriggerError::Conversion {
        record: format!(
            "stream record {}",
            record.event_id().unwrap_or("(no event id)")
        ),
        message,
    };
    let change = record
        .dynamodb()
        .ok_or_else(|| conversion("no dynamodb section".to_owned()))?;
    let sequence_number = change
        .sequence_number()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| conversion("no sequence number".to_owned()))?
        .to_owned();
    let arrived = change
        .approximate_creation_date_time()
        .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_else(Utc::now);
    let mut dynamodb = serde_json::Map::new();
    // Lambda sends whole epoch seconds for DynamoDB streams.
    dynamodb.insert(
        "ApproximateCreationDateTime".to_owned(),
        json!(arrived.timestamp()),
    );
    for (name, image) in [
        ("Keys", change.keys()),
        ("NewImage", change.new_image()),
        ("OldImage", change.old_image()),
    ] {
        if let Some(image) = image {
            dynamodb.insert(name.to_owned(), item_json(image).map_err(conversion)?);
        }
    }
    dynamodb.insert("SequenceNumber".to_owned(), json!(sequence_number));
    dynamodb.insert(
        "SizeBytes".to_owned(),
        json!(change.size_bytes().unwrap_or(0)),
    );
    if let Some(view) = change.stream_view_type() {
        dynamodb.insert("StreamViewType".to_owned(), json!(view.as_str()));
    }
    let mut lambda = json!({
        "eventID": record.event_id().unwrap_or_default(),
        "eventName": record.event_name().map(|name| name.as_str()).unwrap_or_default(),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": record.event_source().unwrap_or("aws:dynamodb"),
        // The stream's region, as in AWS; DynamoDB Local names its own ("ddblocal").
        "awsRegion": region,
        "dynamodb": Value::Object(dynamodb),
        "eventSourceARN": stream_arn,
    });
    if let Some(identity) = record.user_identity() {
        lambda["userIdentity"] = json!({
            "type": identity.r#type().unwrap_or_default(),
            "principalId": identity.principal_id().unwrap_or_default(),
        });
    }
    let lambda: EventRecord =
        serde_json::from_value(lambda).map_err(|e| conversion(e.to_string()))?;
    Ok(Record {
        sequence_number,
        arrived,
        lambda,
    })
}

/// The record Lambda puts into a DynamoDB stream event for `record` (read through the Streams
/// API of the stream `stream_arn`, in `region`): what an invocation's `Records` holds.
pub fn lambda_event_record(
    record: &SdkRecord,
    stream_arn: &str,
    region: &str,
) -> Result<EventRecord, TriggerError> {
    lambda_record(record, stream_arn, region).map(|record| record.lambda)
}

fn item_json(image: &HashMap<String, AttributeValue>) -> Result<Value, String> {
    let item = serde_dynamo::Item::from(image.clone());
    serde_json::to_value(item).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use aws_sdk_dynamodbstreams::primitives::DateTime as SdkDateTime;
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord, StreamViewType};

    fn sdk_record() -> SdkRecord {
        SdkRecord::builder()
            .event_id("e-1")
            .event_name(OperationType::Insert)
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("ddblocal")
            .dynamodb(
                StreamRecord::builder()
                    .approximate_creation_date_time(SdkDateTime::from_secs(1_700_000_000))
                    .keys("aggregateId", AttributeValue::S("a-1".to_owned()))
                    .keys("version", AttributeValue::N("2".to_owned()))
                    .new_image("aggregateId", AttributeValue::S("a-1".to_owned()))
                    .new_image("version", AttributeValue::N("2".to_owned()))
                    .new_image("payload", AttributeValue::S("{}".to_owned()))
                    .new_image("flag", AttributeValue::Bool(true))
                    .sequence_number("000000000000000000042")
                    .size_bytes(64)
                    .stream_view_type(StreamViewType::NewImage)
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_stream_record_becomes_the_record_lambda_delivers() {
        let record = lambda_record(&sdk_record(), "arn:stream", "us-east-1").unwrap();

        assert_eq!(record.sequence_number, "000000000000000000042");
        assert_eq!(record.arrived.timestamp(), 1_700_000_000);
        let lambda = serde_json::to_value(&record.lambda).unwrap();
        assert_eq!(lambda["eventID"], "e-1");
        assert_eq!(lambda["eventName"], "INSERT");
        assert_eq!(lambda["eventSource"], "aws:dynamodb");
        assert_eq!(lambda["eventSourceARN"], "arn:stream");
        assert_eq!(lambda["dynamodb"]["Keys"]["version"], json!({"N": "2"}));
        assert_eq!(
            lambda["dynamodb"]["NewImage"]["flag"],
            json!({"BOOL": true})
        );
        assert_eq!(
            lambda["dynamodb"]["SequenceNumber"],
            "000000000000000000042"
        );
        assert_eq!(lambda["dynamodb"]["SizeBytes"], 64);
        assert_eq!(lambda["dynamodb"]["StreamViewType"], "NEW_IMAGE");
    }

    #[test]
    fn the_record_names_the_mappings_region_not_the_emulators() {
        let record = lambda_record(&sdk_record(), "arn", "us-east-1").unwrap();
        assert_eq!(record.lambda.aws_region, "us-east-1");
    }

    #[test]
    fn a_record_without_a_sequence_number_is_refused() {
        let mut record = sdk_record();
        record.dynamodb = Some(StreamRecord::builder().build());
        let error = lambda_record(&record, "arn", "us-east-1").unwrap_err();
        assert!(matches!(error, TriggerError::Conversion { .. }), "{error}");
    }
}
