//! Moving a dead-letter queue's messages back to the queue they came from.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use crate::error::ParkingError;

/// What a redrive did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Redriven {
    /// `StartMessageMoveTask` (SQS moves the messages itself) or `resend`.
    pub method: &'static str,
    /// Messages moved by this process (resend); SQS reports its own task's progress.
    pub moved: usize,
}

/// Moves every message of the DLQ at `dlq_url` back to `source_url`.
///
/// SQS's `StartMessageMoveTask` where the service has it; otherwise each message is received,
/// sent to the source with its group id and a deduplication id of its own
/// (`{dlq message id}#redrive`: stable, so a redrive that dies between send and delete sends
/// the same message again and SQS drops the copy, and unlike the original deduplication id it
/// is not dropped when the first send was less than five minutes ago), then deleted.
pub async fn redrive(
    sqs: &Client,
    dlq_url: &str,
    source_url: &str,
) -> Result<Redriven, ParkingError> {
    let arn = |url: &str| {
        let url = url.to_owned();
        async move {
            sqs.get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .map_err(|e| ParkingError::aws("GetQueueAttributes", &url, e))?
                .attributes
                .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
                .ok_or_else(|| ParkingError::BadInput(format!("{url} has no ARN: is it a queue?")))
        }
    };
    let (dlq_arn, source_arn) = (arn(dlq_url).await?, arn(source_url).await?);
    match sqs
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .destination_arn(&source_arn)
        .send()
        .await
    {
        Ok(_) => {
            return Ok(Redriven {
                method: "StartMessageMoveTask",
                moved: 0,
            });
        }
        Err(error) => tracing::info!(
            error = %aws_sdk_sqs::error::DisplayErrorContext(&error),
            "StartMessageMoveTask not available; receiving and resending"
        ),
    }
    let mut moved = 0;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| ParkingError::aws("ReceiveMessage", dlq_url, e))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(Redriven {
                method: "resend",
                moved,
            });
        }
        for message in messages {
            let id = message.message_id.clone().unwrap_or_default();
            let group = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned();
            let mut send = sqs
                .send_message()
                .queue_url(source_url)
                .message_body(message.body.clone().unwrap_or_default())
                .set_message_attributes(message.message_attributes.clone());
            if source_url.ends_with(".fifo") {
                send = send
                    .set_message_group_id(group.or_else(|| Some(id.clone())))
                    .message_deduplication_id(format!("{id}#redrive"));
            }
            send.send()
                .await
                .map_err(|e| ParkingError::aws("SendMessage", source_url, e))?;
            if let Some(handle) = &message.receipt_handle {
                sqs.delete_message()
                    .queue_url(dlq_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| ParkingError::aws("DeleteMessage", dlq_url, e))?;
            }
            moved += 1;
        }
    }
}
