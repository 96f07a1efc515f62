//! The queue ports over Amazon SQS (or any endpoint speaking its JSON protocol: moto, LocalStack).

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use crate::error::PublishError;
use crate::message::QueueMessage;
use crate::sender::{EntryFailure, QueueDirectory, QueueSender};

/// SQS through the AWS SDK, whose standard retries already ride out throttling and 5xx
/// responses before a request counts as failed.
#[derive(Debug, Clone)]
pub struct SqsQueues {
    client: Client,
}

impl SqsQueues {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl QueueSender for SqsQueues {
    async fn send_batch(
        &self,
        queue_url: &str,
        messages: &[QueueMessage],
    ) -> Result<Vec<Result<(), EntryFailure>>, PublishError> {
        let failed = |reason: String| PublishError::SendFailed {
            queue_url: queue_url.to_owned(),
            reason,
        };
        // Entry ids are positions: unique within the request, and they map the response back.
        let entries = messages
            .iter()
            .enumerate()
            .map(|(position, message)| entry(position, message))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(format!("cannot build the request: {e}")))?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| failed(DisplayErrorContext(&e).to_string()))?;

        Ok(entry_results(messages.len(), &output))
    }
}

impl QueueDirectory for SqsQueues {
    async fn queue_url(&self, name: &str) -> Result<String, String> {
        let output = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?;
        output
            .queue_url
            .ok_or_else(|| "GetQueueUrl answered without a URL".to_owned())
    }
}

/// One result per entry of a request of `count` entries, by the positions used as entry ids.
fn entry_results(count: usize, output: &SendMessageBatchOutput) -> Vec<Result<(), EntryFailure>> {
    // SQS reports every entry as either successful or failed; one it leaves out is not known
    // to be sent, so it counts as failed and is retried (de-duplication absorbs a resend).
    let mut results: Vec<Result<(), EntryFailure>> = vec![
        Err(EntryFailure {
            code: "NoResult".to_owned(),
            message: Some("SQS reported neither success nor failure".to_owned()),
            sender_fault: false,
        });
        count
    ];
    let position = |id: &str| id.parse::<usize>().ok().filter(|i| *i < count);
    for sent in output.successful() {
        if let Some(i) = position(sent.id()) {
            results[i] = Ok(());
        }
    }
    for refused in output.failed() {
        if let Some(i) = position(refused.id()) {
            results[i] = Err(EntryFailure {
                code: refused.code().to_owned(),
                message: refused.message().map(str::to_owned),
                sender_fault: refused.sender_fault(),
            });
        }
    }
    results
}

fn entry(
    position: usize,
    message: &QueueMessage,
) -> Result<SendMessageBatchRequestEntry, aws_sdk_sqs::error::BuildError> {
    let attributes = message
        .attributes
        .iter()
        .map(|(name, value)| {
            let value = MessageAttributeValue::builder()
                .data_type(value.data_type())
                .string_value(value.as_str())
                .build()?;
            Ok(((*name).to_owned(), value))
        })
        .collect::<Result<HashMap<_, _>, aws_sdk_sqs::error::BuildError>>()?;
    SendMessageBatchRequestEntry::builder()
        .id(position.to_string())
        .message_body(&message.body)
        .message_group_id(&message.group_id)
        .message_deduplication_id(&message.deduplication_id)
        .set_message_attributes(Some(attributes))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchResultEntry};

    fn sent(id: &str) -> SendMessageBatchResultEntry {
        SendMessageBatchResultEntry::builder()
            .id(id)
            .message_id(format!("m-{id}"))
            .md5_of_message_body("0")
            .build()
            .unwrap()
    }

    fn refused(id: &str, code: &str) -> BatchResultErrorEntry {
        BatchResultErrorEntry::builder()
            .id(id)
            .code(code)
            .sender_fault(true)
            .message("bad")
            .build()
            .unwrap()
    }

    #[test]
    fn failed_entries_are_reported_at_their_positions_and_the_rest_as_sent() {
        let output = SendMessageBatchOutput::builder()
            .successful(sent("0"))
            .successful(sent("2"))
            .failed(refused("1", "InvalidParameterValue"))
            .build()
            .unwrap();

        let results = entry_results(3, &output);

        assert_eq!(results[0], Ok(()));
        assert_eq!(
            results[1],
            Err(EntryFailure {
                code: "InvalidParameterValue".to_owned(),
                message: Some("bad".to_owned()),
                sender_fault: true,
            })
        );
        assert_eq!(results[2], Ok(()));
    }

    #[test]
    fn an_entry_sqs_does_not_mention_counts_as_failed() {
        let output = SendMessageBatchOutput::builder()
            .successful(sent("0"))
            .successful(sent("7"))
            .set_failed(Some(Vec::new()))
            .build()
            .unwrap();

        let results = entry_results(2, &output);

        assert_eq!(results[0], Ok(()));
        assert!(matches!(&results[1], Err(failure) if failure.code == "NoResult"));
    }

    #[test]
    fn each_message_becomes_an_entry_with_its_group_deduplication_id_and_attributes() {
        let message = QueueMessage {
            body: "{}".to_owned(),
            group_id: "g".to_owned(),
            deduplication_id: "g#1".to_owned(),
            attributes: vec![
                ("version", crate::AttributeValue::Number("1".to_owned())),
                (
                    "eventType",
                    crate::AttributeValue::String("BidPlaced".to_owned()),
                ),
            ],
        };

        let built = entry(4, &message).unwrap();

        assert_eq!(built.id(), "4");
        assert_eq!(built.message_body(), "{}");
        assert_eq!(built.message_group_id(), Some("g"));
        assert_eq!(built.message_deduplication_id(), Some("g#1"));
        let attributes = built.message_attributes().unwrap();
        assert_eq!(attributes["version"].data_type(), "Number");
        assert_eq!(attributes["version"].string_value(), Some("1"));
        assert_eq!(attributes["eventType"].string_value(), Some("BidPlaced"));
    }
}
