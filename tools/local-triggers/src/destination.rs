//! The on-failure destination of a stream mapping: an SQS queue that receives, for each batch
//! the mapping gave up on, the record Lambda sends (the records themselves stay in the stream).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::TriggerError;

/// Why the mapping gave up on a batch, in Lambda's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Self::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// The batch a failure record describes.
#[derive(Debug, Clone)]
pub(crate) struct FailedBatch<'a> {
    pub function_arn: &'a str,
    pub stream_arn: &'a str,
    pub shard_id: &'a str,
    pub start_sequence_number: &'a str,
    pub end_sequence_number: &'a str,
    pub first_arrival: DateTime<Utc>,
    pub last_arrival: DateTime<Utc>,
    pub batch_size: usize,
    pub condition: Condition,
    pub invoke_count: u32,
    /// Whether the last invocation failed as a whole ("Unhandled" in Lambda's record), rather
    /// than reporting item failures.
    pub function_error: bool,
}

/// The JSON Lambda sends to a stream mapping's on-failure destination.
pub(crate) fn failure_record(
    batch: &FailedBatch<'_>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Value {
    let mut response_context = json!({"statusCode": 200, "executedVersion": "$LATEST"});
    if batch.function_error {
        response_context["functionError"] = json!("Unhandled");
    }
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({
        "requestContext": {
            "requestId": request_id,
            "functionArn": batch.function_arn,
            "condition": batch.condition.as_str(),
            "approximateInvokeCount": batch.invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": time(now),
        "DDBStreamBatchInfo": {
            "shardId": batch.shard_id,
            "startSequenceNumber": batch.start_sequence_number,
            "endSequenceNumber": batch.end_sequence_number,
            "approximateArrivalOfFirstRecord": time(batch.first_arrival),
            "approximateArrivalOfLastRecord": time(batch.last_arrival),
            "batchSize": batch.batch_size,
            "streamArn": batch.stream_arn,
        }
    })
}

pub(crate) async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    record: &Value,
) -> Result<(), TriggerError> {
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(record.to_string())
        .send()
        .await
        .map_err(|e| TriggerError::aws("SendMessage", queue_url, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_failure_record_describes_the_batch_as_lambda_does() {
        let at = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        let batch = FailedBatch {
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:projector",
            stream_arn: "arn:stream",
            shard_id: "shard-1",
            start_sequence_number: "100",
            end_sequence_number: "300",
            first_arrival: at(1_700_000_000),
            last_arrival: at(1_700_000_002),
            batch_size: 3,
            condition: Condition::RetryAttemptsExhausted,
            invoke_count: 4,
            function_error: true,
        };

        let record = failure_record(&batch, "req-1", at(1_700_000_010));

        assert_eq!(
            record["requestContext"]["condition"],
            "RetryAttemptsExhausted"
        );
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 4);
        assert_eq!(record["responseContext"]["functionError"], "Unhandled");
        let info = &record["DDBStreamBatchInfo"];
        assert_eq!(info["shardId"], "shard-1");
        assert_eq!(info["startSequenceNumber"], "100");
        assert_eq!(info["endSequenceNumber"], "300");
        assert_eq!(info["batchSize"], 3);
        assert_eq!(
            info["approximateArrivalOfFirstRecord"],
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(info["streamArn"], "arn:stream");
    }

    #[test]
    fn a_batch_given_up_after_item_failures_reports_no_function_error() {
        let at = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        let batch = FailedBatch {
            function_arn: "f",
            stream_arn: "s",
            shard_id: "x",
            start_sequence_number: "1",
            end_sequence_number: "1",
            first_arrival: at(0),
            last_arrival: at(0),
            batch_size: 1,
            condition: Condition::RetryAttemptsExhausted,
            invoke_count: 1,
            function_error: false,
        };
        let record = failure_record(&batch, "r", at(0));
        assert!(record["responseContext"].get("functionError").is_none());
    }
}
