//! Reading the records a stream mapping gave up on, while the stream still holds them.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use events::AuctionId;

use crate::error::ParkingError;

/// What the parker needs of one record: which event it is. Taken from the keys and the image's
/// `eventType` alone, so that a record whose payload cannot be read is parked too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedEvent {
    pub aggregate_id: AuctionId,
    pub version: u64,
    pub event_type: String,
}

/// Reads one shard's records from `start` to `end` (sequence numbers, inclusive).
pub trait StreamRange: Send + Sync {
    fn read(
        &self,
        stream_arn: &str,
        shard_id: &str,
        start: &str,
        end: &str,
    ) -> impl Future<Output = Result<Vec<StreamedEvent>, ParkingError>> + Send;
}

/// Sequence numbers are decimal strings of up to 40 digits: compared as numbers, not as text.
pub(crate) fn compare_sequence(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// DynamoDB Streams: GetShardIterator at the first sequence number, then GetRecords until the
/// last one is passed.
#[derive(Debug, Clone)]
pub struct DynamoDbStreamRange {
    client: Client,
    /// GetRecords calls per range before giving up: an open shard answers empty pages while
    /// it waits for writes, and the range's end has been written long before.
    max_pages: usize,
}

impl DynamoDbStreamRange {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            max_pages: 1_000,
        }
    }
}

fn streamed(image: &HashMap<String, AttributeValue>) -> Option<StreamedEvent> {
    let aggregate_id = image.get("aggregateId")?.as_s().ok()?.parse().ok()?;
    let version = image.get("version")?.as_n().ok()?.parse().ok()?;
    let event_type = image
        .get("eventType")
        .and_then(|t| t.as_s().ok())
        .cloned()
        .unwrap_or_else(|| "(unknown)".to_owned());
    Some(StreamedEvent {
        aggregate_id: AuctionId(aggregate_id),
        version,
        event_type,
    })
}

impl StreamRange for DynamoDbStreamRange {
    async fn read(
        &self,
        stream_arn: &str,
        shard_id: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<StreamedEvent>, ParkingError> {
        let target = format!("{stream_arn} {shard_id}");
        let mut iterator = self
            .client
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard_id)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(start)
            .send()
            .await
            .map_err(|e| ParkingError::aws("GetShardIterator", &target, e))?
            .shard_iterator;
        let mut events = Vec::new();
        let mut pages = 0;
        while let Some(current) = iterator.take() {
            pages += 1;
            if pages > self.max_pages {
                return Err(ParkingError::Aws {
                    operation: format!("GetRecords {target}"),
                    reason: format!(
                        "sequence number {end} not reached in {} pages",
                        self.max_pages
                    ),
                });
            }
            let page = self
                .client
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .map_err(|e| ParkingError::aws("GetRecords", &target, e))?;
            for record in page.records() {
                let Some(change) = record.dynamodb() else {
                    continue;
                };
                let sequence = change.sequence_number().unwrap_or_default();
                if compare_sequence(sequence, end) == Ordering::Greater {
                    return Ok(events);
                }
                let image = change.new_image().or(change.keys());
                if let Some(event) = image.and_then(streamed) {
                    events.push(event);
                }
                if compare_sequence(sequence, end) == Ordering::Equal {
                    return Ok(events);
                }
            }
            iterator = page.next_shard_iterator;
        }
        // The shard closed before `end`: everything it had is here.
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert_eq!(compare_sequence("900", "1000"), Ordering::Less);
        assert_eq!(compare_sequence("000100", "100"), Ordering::Equal);
        assert_eq!(compare_sequence("21", "20"), Ordering::Greater);
    }
}
