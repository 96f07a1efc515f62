//! An SQS event source mapping: batches of messages handed to a [`QueueHandler`] as Lambda's
//! `SqsEvent`, succeeded messages deleted, failed ones left to reappear after the visibility
//! timeout (and to reach the queue's DLQ after its maxReceiveCount), and, on FIFO queues,
//! message group order kept across failures.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName, QueueAttributeName,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::TriggerError;
use crate::handler::{InvocationFailure, QueueHandler, invoke};

/// One SQS event source mapping, with Lambda's parameters.
#[derive(Debug, Clone)]
pub struct QueueMapping {
    pub name: String,
    pub queue_url: String,
    /// At most this many messages per invocation (Lambda's default: 10).
    pub batch_size: usize,
    /// How long to gather messages before invoking with fewer than `batch_size`.
    pub maximum_batching_window: Duration,
    /// Honour the handler's `batchItemFailures` (Lambda's `ReportBatchItemFailures`).
    pub report_batch_item_failures: bool,
    pub function_timeout: Duration,
    /// Long-poll time of each ReceiveMessage (whole seconds, at most 20).
    pub receive_wait: Duration,
    pub region: String,
}

impl QueueMapping {
    pub fn new(name: impl Into<String>, queue_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            queue_url: queue_url.into(),
            batch_size: 10,
            maximum_batching_window: Duration::ZERO,
            report_batch_item_failures: false,
            function_timeout: Duration::from_secs(10),
            receive_wait: Duration::from_secs(1),
            region: local_stack::REGION.to_owned(),
        }
    }
}

/// What the runner needs to know about the queue.
#[derive(Debug, Clone)]
struct QueueInfo {
    arn: String,
    fifo: bool,
    visibility_timeout: Duration,
    max_receive_count: Option<u32>,
}

/// How long to pause after a failed SQS call.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Runs the mapping until `stop` is cancelled; the batch in hand is finished first (its
/// succeeded messages deleted). Returns an error only if the queue cannot be described.
pub async fn run_queue<H: QueueHandler>(
    mapping: QueueMapping,
    sqs: aws_sdk_sqs::Client,
    handler: Arc<H>,
    stop: CancellationToken,
) -> Result<(), TriggerError> {
    // An unreachable queue at start (its emulator down, as in the SQS outage of the fault
    // suite) is waited for, as Lambda's poller keeps polling through an SQS outage; a queue
    // that answers with an error (it does not exist) ends the mapping.
    let info = loop {
        match queue_info(&sqs, &mapping.queue_url).await {
            Ok(info) => break info,
            Err(QueueInfoError::Unreachable(error)) => {
                tracing::warn!(mapping = %mapping.name, error = %error, "the queue is unreachable; polling starts when it answers");
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(ERROR_PAUSE) => {}
                }
            }
            Err(QueueInfoError::Refused(error)) => return Err(error),
        }
    };
    let mut gate = GroupGate::default();
    while !stop.is_cancelled() {
        let messages = match receive_batch(&sqs, &mapping, &stop).await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(mapping = %mapping.name, error = %error, "receiving failed");
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = tokio::time::sleep(ERROR_PAUSE) => {}
                }
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let keys: Vec<MessageKey> = messages.iter().map(MessageKey::of).collect();
        let admitted = if info.fifo {
            gate.admit(&keys, Instant::now())
        } else {
            vec![true; keys.len()]
        };
        let mut batch = Vec::new();
        let mut held_back = Vec::new();
        for ((message, key), admitted) in messages.iter().zip(&keys).zip(admitted) {
            if admitted {
                batch.push((message, key));
            } else {
                held_back.push(message);
                tracing::warn!(
                    mapping = %mapping.name,
                    message = %key.id,
                    group = key.group.as_deref().unwrap_or_default(),
                    "holding back a message whose group has an earlier message pending redelivery"
                );
            }
        }
        release(&sqs, &mapping, &held_back).await;
        if batch.is_empty() {
            continue;
        }
        let mut event = SqsEvent::default();
        event.records = batch
            .iter()
            .map(|(message, _)| lambda_message(message, &info.arn, &mapping.region))
            .collect();
        let handler = Arc::clone(&handler);
        let result = invoke(
            async move { handler.handle(event).await },
            mapping.function_timeout,
        )
        .await;
        let batch_keys: Vec<&MessageKey> = batch.iter().map(|(_, key)| *key).collect();
        let failed = failed_messages(&result, &batch_keys, mapping.report_batch_item_failures);
        let failed = if info.fifo {
            with_later_messages_of_failed_groups(&batch_keys, failed)
        } else {
            failed
        };
        if let Err(reason) = &result {
            tracing::warn!(mapping = %mapping.name, messages = batch.len(), reason = %reason, "batch failed");
        } else if !failed.is_empty() {
            tracing::warn!(mapping = %mapping.name, failed = failed.len(), messages = batch.len(), "messages failed");
        }
        let now = Instant::now();
        let mut succeeded = Vec::new();
        let mut followers = Vec::new();
        let mut failed_groups = HashSet::new();
        for (message, key) in &batch {
            if failed.contains(&key.id) {
                if let Some(group) = &key.group
                    && !failed_groups.insert(group.clone())
                {
                    followers.push(*message);
                }
                let doomed = info
                    .max_receive_count
                    .is_some_and(|max| key.receive_count >= max);
                gate.failed(key, doomed.then(|| now + info.visibility_timeout));
            } else {
                gate.succeeded(key);
                succeeded.push(*message);
            }
        }
        if info.fifo {
            release(&sqs, &mapping, &followers).await;
        }
        if let Err(error) = delete(&sqs, &mapping.queue_url, &succeeded).await {
            // Not deleted means redelivered: at-least-once, as with Lambda.
            tracing::warn!(mapping = %mapping.name, error = %error, "deleting processed messages failed");
        }
    }
    Ok(())
}

/// Why a queue's attributes could not be read.
enum QueueInfoError {
    /// No answer (connection refused, timed out, a broken response): worth waiting for.
    Unreachable(TriggerError),
    /// The queue answered with an error, or with attributes the runner cannot use.
    Refused(TriggerError),
}

async fn queue_info(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<QueueInfo, QueueInfoError> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| {
            let unreachable = matches!(
                e,
                SdkError::DispatchFailure(_)
                    | SdkError::TimeoutError(_)
                    | SdkError::ResponseError(_)
            );
            let error = TriggerError::aws("GetQueueAttributes", url, e);
            if unreachable {
                QueueInfoError::Unreachable(error)
            } else {
                QueueInfoError::Refused(error)
            }
        })?;
    let attributes = output.attributes.unwrap_or_default();
    let get = |name: QueueAttributeName| attributes.get(&name).cloned();
    let arn = get(QueueAttributeName::QueueArn)
        .ok_or_else(|| TriggerError::UnexpectedResponse {
            operation: "GetQueueAttributes",
            resource: url.to_owned(),
            missing: "QueueArn",
        })
        .map_err(QueueInfoError::Refused)?;
    let max_receive_count = get(QueueAttributeName::RedrivePolicy)
        .and_then(|policy| serde_json::from_str::<serde_json::Value>(&policy).ok())
        .and_then(|policy| match &policy["maxReceiveCount"] {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        })
        .and_then(|n| u32::try_from(n).ok());
    Ok(QueueInfo {
        arn,
        fifo: get(QueueAttributeName::FifoQueue).is_some_and(|v| v == "true"),
        visibility_timeout: Duration::from_secs(
            get(QueueAttributeName::VisibilityTimeout)
                .and_then(|v| v.parse().ok())
                .unwrap_or(30),
        ),
        max_receive_count,
    })
}

/// Up to `batch_size` messages: one long poll, then, within the batching window, more.
async fn receive_batch(
    sqs: &aws_sdk_sqs::Client,
    mapping: &QueueMapping,
    stop: &CancellationToken,
) -> Result<Vec<Message>, TriggerError> {
    let wait = i32::try_from(mapping.receive_wait.as_secs().min(20)).unwrap_or(20);
    let mut messages = tokio::select! {
        () = stop.cancelled() => return Ok(Vec::new()),
        received = receive(sqs, mapping, mapping.batch_size, wait) => received?,
    };
    let deadline = Instant::now() + mapping.maximum_batching_window;
    while !messages.is_empty() && messages.len() < mapping.batch_size && Instant::now() < deadline {
        let more = receive(sqs, mapping, mapping.batch_size - messages.len(), 0).await?;
        if more.is_empty() {
            tokio::time::sleep(Duration::from_millis(50).min(deadline - Instant::now())).await;
        }
        messages.extend(more);
    }
    Ok(messages)
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    mapping: &QueueMapping,
    up_to: usize,
    wait_secs: i32,
) -> Result<Vec<Message>, TriggerError> {
    let output = sqs
        .receive_message()
        .queue_url(&mapping.queue_url)
        .max_number_of_messages(i32::try_from(up_to.clamp(1, 10)).unwrap_or(10))
        .wait_time_seconds(wait_secs)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| TriggerError::aws("ReceiveMessage", &mapping.queue_url, e))?;
    Ok(output.messages.unwrap_or_default())
}

/// Makes messages visible again at once. On a FIFO queue the group stays blocked behind its
/// failed (in-flight) message anyway; what this prevents is moto's quirk of delivering a later
/// message of the group ahead of the earlier one when both become visible in the same instant.
async fn release(sqs: &aws_sdk_sqs::Client, mapping: &QueueMapping, messages: &[&Message]) {
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, message)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(message.receipt_handle.clone())
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect::<Vec<_>>();
        if entries.is_empty() {
            continue;
        }
        let sent = sqs
            .change_message_visibility_batch()
            .queue_url(&mapping.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        if let Err(error) = sent {
            // They reappear after the visibility timeout instead.
            tracing::warn!(
                mapping = %mapping.name,
                error = %aws_sdk_sqs::error::DisplayErrorContext(error),
                "releasing held-back messages failed"
            );
        }
    }
}

async fn delete(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    messages: &[&Message],
) -> Result<(), TriggerError> {
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, message)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(message.receipt_handle.clone())
                    .build()
                    .ok()
            })
            .collect::<Vec<_>>();
        if entries.is_empty() {
            continue;
        }
        let output = sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| TriggerError::aws("DeleteMessageBatch", queue_url, e))?;
        if let Some(failure) = output.failed.first() {
            return Err(TriggerError::Aws {
                operation: "DeleteMessageBatch",
                resource: queue_url.to_owned(),
                message: format!(
                    "{} of the messages not deleted: {failure:?}",
                    output.failed.len()
                ),
            });
        }
    }
    Ok(())
}

/// The message (received with every system and message attribute) as Lambda puts it into an
/// `SqsEvent` for the queue `queue_arn` in `region`.
pub fn lambda_message(message: &Message, queue_arn: &str, region: &str) -> SqsMessage {
    let mut lambda = SqsMessage::default();
    lambda.message_id = message.message_id.clone();
    lambda.receipt_handle = message.receipt_handle.clone();
    lambda.body = message.body.clone();
    lambda.md5_of_body = message.md5_of_body.clone();
    lambda.md5_of_message_attributes = message.md5_of_message_attributes.clone();
    lambda.attributes = message
        .attributes
        .iter()
        .flatten()
        .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
        .collect();
    lambda.message_attributes = message
        .message_attributes
        .iter()
        .flatten()
        .map(|(name, value)| {
            let mut attribute = SqsMessageAttribute::default();
            attribute.string_value = value.string_value.clone();
            attribute.binary_value = value
                .binary_value
                .as_ref()
                .map(|blob| base64_data(blob.as_ref()));
            attribute.string_list_values = value.string_list_values.clone().unwrap_or_default();
            attribute.binary_list_values = value
                .binary_list_values
                .iter()
                .flatten()
                .map(|blob| base64_data(blob.as_ref()))
                .collect();
            attribute.data_type = Some(value.data_type.clone());
            (name.clone(), attribute)
        })
        .collect();
    lambda.event_source = Some("aws:sqs".to_owned());
    lambda.event_source_arn = Some(queue_arn.to_owned());
    lambda.aws_region = Some(region.to_owned());
    lambda
}

fn base64_data(bytes: &[u8]) -> Base64Data {
    // Non-exhaustive: built through its Default and DerefMut.
    let mut data = Base64Data::default();
    data.extend_from_slice(bytes);
    data
}

/// What the gate and the failure rules need of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageKey {
    pub id: String,
    pub group: Option<String>,
    pub receive_count: u32,
}

impl MessageKey {
    fn of(message: &Message) -> Self {
        let attribute = |name: MessageSystemAttributeName| {
            message
                .attributes
                .as_ref()
                .and_then(|attributes| attributes.get(&name))
                .cloned()
        };
        Self {
            id: message.message_id.clone().unwrap_or_default(),
            group: attribute(MessageSystemAttributeName::MessageGroupId),
            receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                .and_then(|count| count.parse().ok())
                .unwrap_or(1),
        }
    }
}

/// The ids of the messages that failed, as Lambda reads the handler's result: an invocation
/// failure fails all; without ReportBatchItemFailures a response is a success; an empty or
/// unknown identifier fails all.
pub(crate) fn failed_messages(
    result: &Result<SqsBatchResponse, InvocationFailure>,
    batch: &[&MessageKey],
    report_batch_item_failures: bool,
) -> HashSet<String> {
    let all = || batch.iter().map(|key| key.id.clone()).collect();
    let response = match result {
        Err(_) => return all(),
        Ok(response) => response,
    };
    if !report_batch_item_failures {
        return HashSet::new();
    }
    let mut failed = HashSet::new();
    for failure in &response.batch_item_failures {
        if !batch.iter().any(|key| key.id == failure.item_identifier) {
            return all();
        }
        failed.insert(failure.item_identifier.clone());
    }
    failed
}

/// On a FIFO queue Lambda stops processing a message group at its first failed message: the
/// group's later messages in the batch count as failed too, so that they are redelivered after
/// it, in order.
pub(crate) fn with_later_messages_of_failed_groups(
    batch: &[&MessageKey],
    mut failed: HashSet<String>,
) -> HashSet<String> {
    let mut failed_groups: HashSet<&str> = HashSet::new();
    for key in batch {
        let Some(group) = key.group.as_deref() else {
            continue;
        };
        if failed_groups.contains(group) {
            failed.insert(key.id.clone());
        } else if failed.contains(&key.id) {
            failed_groups.insert(group);
        }
    }
    failed
}

/// Keeps FIFO message groups in order across batches: once a message of a group fails, no
/// later message of that group reaches the handler before that message is redelivered (and
/// then only behind it in the same batch), succeeds, or is bound for the DLQ (its receive count
/// reached maxReceiveCount) and its visibility timeout has passed.
#[derive(Debug, Default)]
pub(crate) struct GroupGate {
    blocked: HashMap<String, Blocked>,
}

#[derive(Debug)]
struct Blocked {
    head: String,
    released_at: Option<Instant>,
}

impl GroupGate {
    /// Which messages of a received batch (in the queue's order) may go to the handler.
    pub(crate) fn admit(&mut self, batch: &[MessageKey], now: Instant) -> Vec<bool> {
        self.blocked
            .retain(|_, blocked| blocked.released_at.is_none_or(|at| now < at));
        let mut head_seen: HashSet<&str> = HashSet::new();
        batch
            .iter()
            .map(|key| {
                let Some(group) = key.group.as_deref() else {
                    return true;
                };
                match self.blocked.get(group) {
                    None => true,
                    Some(blocked) if blocked.head == key.id => {
                        head_seen.insert(group);
                        true
                    }
                    Some(_) => head_seen.contains(group),
                }
            })
            .collect()
    }

    /// `key` failed; `released_at` is when the group may go on without it (it is bound for the
    /// DLQ), if ever.
    pub(crate) fn failed(&mut self, key: &MessageKey, released_at: Option<Instant>) {
        let Some(group) = &key.group else {
            return;
        };
        let blocked = self
            .blocked
            .entry(group.clone())
            .or_insert_with(|| Blocked {
                head: key.id.clone(),
                released_at: None,
            });
        if blocked.head == key.id {
            blocked.released_at = released_at;
        }
    }

    pub(crate) fn succeeded(&mut self, key: &MessageKey) {
        if let Some(group) = &key.group
            && self.blocked.get(group).is_some_and(|b| b.head == key.id)
        {
            self.blocked.remove(group);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use aws_lambda_events::event::sqs::BatchItemFailure;

    fn key(id: &str, group: &str) -> MessageKey {
        MessageKey {
            id: id.to_owned(),
            group: Some(group.to_owned()),
            receive_count: 1,
        }
    }

    fn response(ids: &[&str]) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = ids
            .iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = (*id).to_owned();
                failure
            })
            .collect();
        response
    }

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn reported_item_failures_fail_only_those_messages() {
        let (a, b) = (key("a", "g"), key("b", "h"));
        let failed = failed_messages(&Ok(response(&["b"])), &[&a, &b], true);
        assert_eq!(failed, set(&["b"]));
    }

    #[test]
    fn an_empty_or_unknown_identifier_or_an_error_fails_every_message() {
        let (a, b) = (key("a", "g"), key("b", "h"));
        for result in [
            Ok(response(&[""])),
            Ok(response(&["zzz"])),
            Err(InvocationFailure::Error("boom".to_owned())),
        ] {
            assert_eq!(failed_messages(&result, &[&a, &b], true), set(&["a", "b"]));
        }
    }

    #[test]
    fn without_report_batch_item_failures_a_response_is_a_success() {
        let a = key("a", "g");
        assert!(failed_messages(&Ok(response(&["a"])), &[&a], false).is_empty());
    }

    #[test]
    fn in_a_fifo_batch_the_messages_after_a_failed_one_of_its_group_fail_too() {
        let batch = [
            key("a1", "a"),
            key("b1", "b"),
            key("a2", "a"),
            key("b2", "b"),
        ];
        let refs: Vec<&MessageKey> = batch.iter().collect();
        let failed = with_later_messages_of_failed_groups(&refs, set(&["a1"]));
        assert_eq!(failed, set(&["a1", "a2"]));
    }

    #[test]
    fn a_group_is_held_back_until_its_failed_message_comes_back_and_succeeds() {
        let mut gate = GroupGate::default();
        let now = Instant::now();
        gate.failed(&key("a1", "a"), None);

        // an overtaking message of the group is held back, other groups flow
        assert_eq!(
            gate.admit(&[key("a2", "a"), key("b1", "b")], now),
            [false, true]
        );
        // the failed message comes back first, with its followers behind it
        assert_eq!(
            gate.admit(&[key("a1", "a"), key("a2", "a")], now),
            [true, true]
        );
        gate.succeeded(&key("a1", "a"));
        assert_eq!(gate.admit(&[key("a3", "a")], now), [true]);
    }

    #[test]
    fn a_group_whose_failed_message_is_bound_for_the_dlq_goes_on_after_its_visibility_timeout() {
        let mut gate = GroupGate::default();
        let now = Instant::now();
        gate.failed(&key("a1", "a"), Some(now + Duration::from_secs(2)));

        assert_eq!(gate.admit(&[key("a2", "a")], now), [false]);
        assert_eq!(
            gate.admit(&[key("a2", "a")], now + Duration::from_secs(3)),
            [true]
        );
    }
}
