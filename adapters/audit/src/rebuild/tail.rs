//! Phase 3: the catch-up, the Events stream tailed from where it stood when the rebuild began
//! and applied through the projector's version-gated path.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use event_store::{DynamoDbStore, StoredEvent, event_from_image};
use events::{AuctionEvent, EventCodec, EventEnvelope};
use read_models::{DynamoDbViews, Projections};

use super::progress::Progress;
use super::retry::with_retries;
use crate::error::AuditError;

type Item = HashMap<String, AttributeValue>;

/// Phase 3: the Events stream, tailed from where it stood when the rebuild began: every shard
/// open then from its latest record, every shard that appears later (a rollover's children)
/// from its trim horizon, each child after its parent.
pub(super) struct Tail<'a> {
    streams: &'a StreamsClient,
    stream_arn: &'a str,
    /// Shards seen so far (also the closed ones at the start, which are never read).
    known: HashSet<String>,
    /// Each shard to read and its next iterator; `None` once a closed shard ended.
    shards: Vec<(String, Option<String>)>,
}

impl<'a> Tail<'a> {
    pub(super) async fn start(
        streams: &'a StreamsClient,
        stream_arn: &'a str,
    ) -> Result<Self, AuditError> {
        let mut tail = Self {
            streams,
            stream_arn,
            known: HashSet::new(),
            shards: Vec::new(),
        };
        for shard in tail.list().await? {
            if shard.open {
                tail.add(&shard.id, ShardIteratorType::Latest).await?;
            }
            tail.known.insert(shard.id);
        }
        Ok(tail)
    }

    /// Reads every shard until it is empty (open) or ended (closed): the events that arrived
    /// since the last poll, in order within each shard.
    pub(super) async fn poll(&mut self) -> Result<Vec<EventEnvelope>, AuditError> {
        self.discover().await?;
        let mut events = Vec::new();
        for index in 0..self.shards.len() {
            while let Some(iterator) = self.shards[index].1.clone() {
                let output =
                    with_retries(|| self.streams.get_records().shard_iterator(&iterator).send())
                        .await?;
                let records = output.records();
                for record in records {
                    events.extend(event_of(record)?);
                }
                self.shards[index].1 = output.next_shard_iterator().map(str::to_owned);
                if records.is_empty() {
                    break;
                }
            }
        }
        Ok(events)
    }

    /// Polls and applies until a poll finds nothing; returns how many events were applied.
    pub(super) async fn until_caught_up(
        &mut self,
        views: &DynamoDbViews,
        log: &DynamoDbStore,
        progress: &Progress,
    ) -> Result<u64, AuditError> {
        let mut applied = 0;
        loop {
            let events = self.poll().await?;
            if events.is_empty() {
                return Ok(applied);
            }
            for event in &events {
                apply_one(views, log, event).await?;
                applied += 1;
                progress.caught_up.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn list(&self) -> Result<Vec<Shard>, AuditError> {
        let mut listed = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let output = with_retries(|| {
                self.streams
                    .describe_stream()
                    .stream_arn(self.stream_arn)
                    .set_exclusive_start_shard_id(start.clone())
                    .send()
            })
            .await?;
            let Some(description) = output.stream_description else {
                return Err(AuditError::Rebuild(
                    "DescribeStream returned nothing".into(),
                ));
            };
            for shard in description.shards.unwrap_or_default() {
                let open = shard
                    .sequence_number_range()
                    .is_none_or(|range| range.ending_sequence_number().is_none());
                if let Some(id) = shard.shard_id {
                    listed.push(Shard {
                        id,
                        parent: shard.parent_shard_id,
                        open,
                    });
                }
            }
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => return Ok(listed),
            }
        }
    }

    /// Adds the shards not seen yet, each after its parent, read from their trim horizon.
    async fn discover(&mut self) -> Result<(), AuditError> {
        let listed = self.list().await?;
        let ids: HashSet<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        let mut pending: Vec<&Shard> = listed
            .iter()
            .filter(|s| !self.known.contains(&s.id))
            .collect();
        while !pending.is_empty() {
            let (ready, rest): (Vec<&Shard>, Vec<&Shard>) = pending.into_iter().partition(|s| {
                s.parent
                    .as_deref()
                    .is_none_or(|p| !ids.contains(p) || self.known.contains(p))
            });
            // A cycle cannot happen; should one appear, take the rest as listed.
            let (ready, rest) = if ready.is_empty() {
                (rest, Vec::new())
            } else {
                (ready, rest)
            };
            for shard in ready {
                self.add(&shard.id, ShardIteratorType::TrimHorizon).await?;
                self.known.insert(shard.id.clone());
            }
            pending = rest;
        }
        Ok(())
    }

    async fn add(&mut self, shard_id: &str, position: ShardIteratorType) -> Result<(), AuditError> {
        let output = with_retries(|| {
            self.streams
                .get_shard_iterator()
                .stream_arn(self.stream_arn)
                .shard_id(shard_id)
                .shard_iterator_type(position.clone())
                .send()
        })
        .await?;
        self.shards.push((
            shard_id.to_owned(),
            output.shard_iterator().map(str::to_owned),
        ));
        Ok(())
    }
}

struct Shard {
    id: String,
    parent: Option<String>,
    open: bool,
}

/// The record's event, if it is an append of an Auction's event (the Events table is
/// append-only, so anything else is not an event; the Items' ledger events are in the same table
/// and no view shows them).
fn event_of(
    record: &aws_sdk_dynamodbstreams::types::Record,
) -> Result<Option<EventEnvelope>, AuditError> {
    let Some(image) = record.dynamodb().and_then(|change| change.new_image()) else {
        return Ok(None);
    };
    let item: Item = image
        .iter()
        .map(|(name, value)| (name.clone(), from_stream(value)))
        .collect();
    let stored: StoredEvent = event_from_image(&item)?;
    if stored.envelope.aggregate_type != <AuctionEvent as EventCodec>::AGGREGATE_TYPE {
        return Ok(None);
    }
    Ok(Some(stored.decode()?))
}

/// The version-gated path of the projector: loads what the fresh tables hold and applies the
/// event (filling any gap from the log).
pub(super) async fn apply_one(
    views: &DynamoDbViews,
    log: &DynamoDbStore,
    event: &EventEnvelope,
) -> Result<(), AuditError> {
    let current = views.load(event.aggregate_id).await?;
    read_models::apply(views, log, current, event).await?;
    Ok(())
}

/// A stream image's value as the DynamoDB client's own type, so the store's item parser reads
/// it.
fn from_stream(value: &aws_sdk_dynamodbstreams::types::AttributeValue) -> AttributeValue {
    use aws_sdk_dynamodbstreams::types::AttributeValue as S;
    match value {
        S::S(text) => AttributeValue::S(text.clone()),
        S::N(number) => AttributeValue::N(number.clone()),
        S::B(blob) => AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
            blob.as_ref().to_vec(),
        )),
        S::Bool(flag) => AttributeValue::Bool(*flag),
        S::Null(flag) => AttributeValue::Null(*flag),
        S::Ss(texts) => AttributeValue::Ss(texts.clone()),
        S::Ns(numbers) => AttributeValue::Ns(numbers.clone()),
        S::Bs(blobs) => AttributeValue::Bs(
            blobs
                .iter()
                .map(|b| aws_sdk_dynamodb::primitives::Blob::new(b.as_ref().to_vec()))
                .collect(),
        ),
        S::L(values) => AttributeValue::L(values.iter().map(from_stream).collect()),
        S::M(map) => AttributeValue::M(
            map.iter()
                .map(|(name, value)| (name.clone(), from_stream(value)))
                .collect(),
        ),
        // An attribute type newer than this code: keep it visible as unreadable rather than
        // silently dropping it.
        _ => AttributeValue::Null(true),
    }
}
