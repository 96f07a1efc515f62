//! A DynamoDB stream event source mapping: one ordered worker per shard, parents before
//! children, batches handed to a [`StreamHandler`] with Lambda's retry, bisect, partial batch
//! response and on-failure semantics, and a checkpoint after every processed batch.

mod batch;
mod record;

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{Checkpoint, DynamoDbCheckpoints};
use crate::destination::{self, Condition, FailedBatch};
use crate::handler::{StreamHandler, invoke};
use crate::{TriggerError, function_arn};
use batch::{Decision, Outcome, RetryPolicy, decide, expired_prefix, outcome_of};
pub use record::lambda_event_record;
use record::{Record, lambda_record};

/// Where a mapping without a checkpoint starts reading a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest record still in the stream.
    TrimHorizon,
    /// Only records written after the mapping started.
    Latest,
}

/// One DynamoDB stream event source mapping, with Lambda's parameters.
#[derive(Debug, Clone)]
pub struct StreamMapping {
    /// Names the mapping's checkpoints, and the function in failure records: two mappings on
    /// one stream need two names.
    pub name: String,
    pub stream_arn: String,
    /// At most this many records per invocation (Lambda's default: 100).
    pub batch_size: usize,
    /// How long to gather records before invoking with fewer than `batch_size` (Lambda's
    /// default: 0).
    pub maximum_batching_window: Duration,
    /// Applies only to shards that exist when the mapping starts and have no checkpoint.
    pub starting_position: StartingPosition,
    /// Retries of a failed batch before it goes to the on-failure destination. Lambda's default
    /// is -1 (until the record expires); locally it is finite (3) so that a poison record shows.
    pub maximum_retry_attempts: u32,
    pub bisect_batch_on_function_error: bool,
    /// Honour the handler's `batchItemFailures` (Lambda's `ReportBatchItemFailures`).
    pub report_batch_item_failures: bool,
    /// Records older than this are not sent to the function but to the destination.
    pub maximum_record_age: Option<Duration>,
    /// SQS queue URL receiving a failure record for each batch given up on. Without one, the
    /// batch is skipped with only a log line, as Lambda discards it.
    pub on_failure_queue_url: Option<String>,
    /// An invocation running longer fails the batch (as the Lambda function's timeout).
    pub function_timeout: Duration,
    /// Pause between GetRecords calls that returned nothing.
    pub idle_poll: Duration,
    /// Pause before the first retry of a failed batch; it doubles with each further failed
    /// invocation, up to `maximum_retry_delay`, so that the retries outlast an outage of a few
    /// seconds (a restarting DynamoDB or SQS) instead of being spent within one.
    pub retry_delay: Duration,
    pub maximum_retry_delay: Duration,
    /// Pause between DescribeStream calls looking for new shards.
    pub discovery_interval: Duration,
    /// The region named in the records and failure records.
    pub region: String,
}

impl StreamMapping {
    /// A mapping with Lambda's defaults, the local runner's finite retries, and polling tuned
    /// for a commit-to-handler lag well under the 250 ms the platform aims at.
    pub fn new(name: impl Into<String>, stream_arn: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            stream_arn: stream_arn.into(),
            batch_size: 100,
            maximum_batching_window: Duration::ZERO,
            starting_position: StartingPosition::TrimHorizon,
            maximum_retry_attempts: 3,
            bisect_batch_on_function_error: false,
            report_batch_item_failures: false,
            maximum_record_age: None,
            on_failure_queue_url: None,
            function_timeout: Duration::from_secs(10),
            idle_poll: Duration::from_millis(50),
            retry_delay: Duration::from_millis(500),
            maximum_retry_delay: Duration::from_secs(10),
            discovery_interval: Duration::from_millis(250),
            region: local_stack::REGION.to_owned(),
        }
    }
}

/// The pause before the next invocation after `failed` failed ones in a row: `retry_delay`,
/// doubled for each further failure, at most `maximum_retry_delay`.
fn retry_pause(mapping: &StreamMapping, failed: u32) -> Duration {
    let doublings = failed.saturating_sub(1).min(16);
    mapping
        .retry_delay
        .saturating_mul(1 << doublings)
        .min(mapping.maximum_retry_delay)
}

/// The clients a stream mapping uses.
#[derive(Debug, Clone)]
pub struct StreamClients {
    pub streams: aws_sdk_dynamodbstreams::Client,
    /// For the on-failure destination.
    pub sqs: aws_sdk_sqs::Client,
    pub checkpoints: DynamoDbCheckpoints,
}

/// The stream of `table` (its latest), as Lambda's event source ARN.
pub async fn stream_arn(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<String, TriggerError> {
    let output = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| TriggerError::aws("DescribeTable", table, e))?;
    output
        .table
        .and_then(|t| t.latest_stream_arn)
        .ok_or_else(|| TriggerError::UnexpectedResponse {
            operation: "DescribeTable",
            resource: table.to_owned(),
            missing: "LatestStreamArn (is the table's stream enabled?)",
        })
}

/// How long a failed shard worker waits before it restarts from its checkpoint.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// Runs the mapping until `stop` is cancelled, then lets every shard worker finish the batch it
/// is handling (and checkpoint it) before returning. Errors of a worker are logged and the
/// worker restarts from its checkpoint; this returns an error only if it cannot start.
pub async fn run_stream<H: StreamHandler>(
    mapping: StreamMapping,
    clients: StreamClients,
    handler: Arc<H>,
    stop: CancellationToken,
) -> Result<(), TriggerError> {
    let shared = Arc::new(Shared {
        function_arn: function_arn(&mapping.region, &mapping.name),
        mapping,
        clients,
        handler,
        stop: stop.clone(),
    });
    let mut initial: Option<HashSet<String>> = None;
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut restart_after: HashMap<String, Instant> = HashMap::new();
    let mut workers = JoinSet::new();
    loop {
        if stop.is_cancelled() {
            break;
        }
        match shared.shards().await {
            Ok(shards) => {
                let initial =
                    initial.get_or_insert_with(|| shards.iter().map(|s| s.id.clone()).collect());
                let now = Instant::now();
                let mut unavailable: HashSet<&str> = running.values().map(String::as_str).collect();
                unavailable.extend(
                    restart_after
                        .iter()
                        .filter(|(_, at)| now < **at)
                        .map(|(id, _)| id.as_str()),
                );
                let ready = startable(&shards, &unavailable, &finished);
                for shard in ready {
                    let position = if initial.contains(&shard.id) {
                        shared.mapping.starting_position
                    } else {
                        StartingPosition::TrimHorizon
                    };
                    let worker = Arc::clone(&shared);
                    let shard_id = shard.id.clone();
                    let handle =
                        workers.spawn(async move { worker.run_shard(&shard_id, position).await });
                    running.insert(handle.id(), shard.id.clone());
                }
            }
            Err(error) => tracing::warn!(
                mapping = %shared.mapping.name,
                error = %error,
                "listing the stream's shards failed; trying again"
            ),
        }
        tokio::select! {
            () = stop.cancelled() => break,
            Some(joined) = workers.join_next_with_id() => {
                let (task, result) = match joined {
                    Ok((task, result)) => (task, result),
                    Err(join_error) => (join_error.id(), Err(TriggerError::Aws {
                        operation: "shard worker",
                        resource: shared.mapping.name.clone(),
                        message: join_error.to_string(),
                    })),
                };
                let shard_id = running.remove(&task).unwrap_or_default();
                match result {
                    Ok(ShardEnd::Finished) => {
                        tracing::debug!(mapping = %shared.mapping.name, shard = %shard_id, "shard finished");
                        finished.insert(shard_id);
                    }
                    Ok(ShardEnd::Stopped) => {}
                    Err(error) => {
                        tracing::error!(
                            mapping = %shared.mapping.name,
                            shard = %shard_id,
                            error = %error,
                            "shard worker failed; restarting it from its checkpoint"
                        );
                        restart_after.insert(shard_id, Instant::now() + RESTART_PAUSE);
                    }
                }
            }
            () = tokio::time::sleep(shared.mapping.discovery_interval) => {}
        }
    }
    while workers.join_next().await.is_some() {}
    Ok(())
}

struct Shared<H> {
    mapping: StreamMapping,
    clients: StreamClients,
    handler: Arc<H>,
    stop: CancellationToken,
    function_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Shard {
    id: String,
    parent: Option<String>,
}

/// The shards a worker may start on now: not finished, not `unavailable` (running, or pausing
/// after a failure), and whose parent is finished or no longer listed (trimmed), so that an
/// item's records are processed in order across a shard rollover.
fn startable<'a>(
    shards: &'a [Shard],
    unavailable: &HashSet<&str>,
    finished: &HashSet<String>,
) -> Vec<&'a Shard> {
    let listed: HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
    shards
        .iter()
        .filter(|shard| !finished.contains(&shard.id) && !unavailable.contains(shard.id.as_str()))
        .filter(|shard| {
            shard
                .parent
                .as_deref()
                .is_none_or(|parent| !listed.contains(parent) || finished.contains(parent))
        })
        .collect()
}

enum ShardEnd {
    /// Closed and fully processed.
    Finished,
    /// The mapping is stopping.
    Stopped,
}

impl<H: StreamHandler> Shared<H> {
    async fn shards(&self) -> Result<Vec<Shard>, TriggerError> {
        let arn = &self.mapping.stream_arn;
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let output = self
                .clients
                .streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|e| TriggerError::aws("DescribeStream", arn, e))?;
            let Some(description) = output.stream_description else {
                return Err(TriggerError::UnexpectedResponse {
                    operation: "DescribeStream",
                    resource: arn.clone(),
                    missing: "StreamDescription",
                });
            };
            for shard in description.shards.unwrap_or_default() {
                if let Some(id) = shard.shard_id {
                    shards.push(Shard {
                        id,
                        parent: shard.parent_shard_id,
                    });
                }
            }
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => return Ok(shards),
            }
        }
    }

    async fn iterator(
        &self,
        shard_id: &str,
        kind: ShardIteratorType,
        after: Option<&str>,
    ) -> Result<
        Option<String>,
        aws_sdk_dynamodbstreams::error::SdkError<
            aws_sdk_dynamodbstreams::operation::get_shard_iterator::GetShardIteratorError,
        >,
    > {
        let output = self
            .clients
            .streams
            .get_shard_iterator()
            .stream_arn(&self.mapping.stream_arn)
            .shard_id(shard_id)
            .shard_iterator_type(kind)
            .set_sequence_number(after.map(str::to_owned))
            .send()
            .await?;
        Ok(output.shard_iterator)
    }

    /// Where to read `shard_id` from: after its checkpoint, else at `position`. A checkpoint
    /// older than the stream's retention restarts at the oldest record (those in between are
    /// gone, as they would be for Lambda).
    async fn first_iterator(
        &self,
        shard_id: &str,
        checkpoint: &Checkpoint,
        position: StartingPosition,
    ) -> Result<Option<String>, TriggerError> {
        let arn = &self.mapping.stream_arn;
        if let Some(after) = &checkpoint.sequence_number {
            match self
                .iterator(
                    shard_id,
                    ShardIteratorType::AfterSequenceNumber,
                    Some(after),
                )
                .await
            {
                Ok(iterator) => return Ok(iterator),
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_trimmed_data_access_exception()) =>
                {
                    tracing::warn!(
                        mapping = %self.mapping.name,
                        shard = shard_id,
                        checkpoint = %after,
                        "the checkpoint is older than the stream's retention; records were lost"
                    );
                }
                Err(error) => return Err(TriggerError::aws("GetShardIterator", arn, error)),
            }
        }
        let kind = match position {
            StartingPosition::TrimHorizon => ShardIteratorType::TrimHorizon,
            StartingPosition::Latest => ShardIteratorType::Latest,
        };
        self.iterator(shard_id, kind, None)
            .await
            .map_err(|e| TriggerError::aws("GetShardIterator", arn, e))
    }

    async fn run_shard(
        &self,
        shard_id: &str,
        position: StartingPosition,
    ) -> Result<ShardEnd, TriggerError> {
        let mapping = &self.mapping;
        let mut checkpoint = self
            .clients
            .checkpoints
            .load(&mapping.name, shard_id)
            .await?;
        if checkpoint.finished {
            return Ok(ShardEnd::Finished);
        }
        let mut iterator = self.first_iterator(shard_id, &checkpoint, position).await?;
        let mut buffer: Vec<Record> = Vec::new();
        let mut gathering_since: Option<Instant> = None;
        loop {
            if self.stop.is_cancelled() {
                // Buffered records are past the checkpoint: the next run reads them again.
                return Ok(ShardEnd::Stopped);
            }
            let Some(current) = iterator.take() else {
                // The shard is closed and every record of it has been handed on.
                checkpoint.finished = true;
                self.clients
                    .checkpoints
                    .save(&mapping.name, shard_id, &checkpoint)
                    .await?;
                return Ok(ShardEnd::Finished);
            };
            let room = mapping
                .batch_size
                .saturating_sub(buffer.len())
                .clamp(1, 1000);
            let output = self
                .clients
                .streams
                .get_records()
                .shard_iterator(current)
                .limit(i32::try_from(room).unwrap_or(1000))
                .send()
                .await
                .map_err(|e| TriggerError::aws("GetRecords", &mapping.stream_arn, e))?;
            iterator = output.next_shard_iterator;
            let records = output.records.unwrap_or_default();
            let received = records.len();
            for record in &records {
                buffer.push(lambda_record(record, &mapping.stream_arn, &mapping.region)?);
            }
            if !buffer.is_empty() && gathering_since.is_none() {
                gathering_since = Some(Instant::now());
            }
            loop {
                let window_over = gathering_since
                    .is_some_and(|since| since.elapsed() >= mapping.maximum_batching_window);
                let ready = buffer.len() >= mapping.batch_size
                    || (!buffer.is_empty() && (window_over || iterator.is_none()));
                if !ready {
                    break;
                }
                let take = buffer.len().min(mapping.batch_size.max(1));
                let batch: Vec<Record> = buffer.drain(..take).collect();
                if !self.deliver(shard_id, &batch, &mut checkpoint).await? {
                    return Ok(ShardEnd::Stopped);
                }
                gathering_since = (!buffer.is_empty()).then(Instant::now);
            }
            if received == 0 && iterator.is_some() {
                tokio::select! {
                    () = self.stop.cancelled() => {}
                    () = tokio::time::sleep(mapping.idle_poll) => {}
                }
            }
        }
    }

    /// Hands `batch` to the handler until every record of it is processed or given up on,
    /// checkpointing as it goes. Returns false if the mapping stopped before that.
    async fn deliver(
        &self,
        shard_id: &str,
        batch: &[Record],
        checkpoint: &mut Checkpoint,
    ) -> Result<bool, TriggerError> {
        let mapping = &self.mapping;
        let policy = RetryPolicy {
            maximum_retry_attempts: mapping.maximum_retry_attempts,
            bisect_batch_on_function_error: mapping.bisect_batch_on_function_error,
        };
        let mut pending: VecDeque<(Range<usize>, u32)> = VecDeque::from([(0..batch.len(), 0)]);
        let mut invocations_since_success = 0_u32;
        while let Some((mut range, retries)) = pending.pop_front() {
            if let Some(maximum_age) = mapping.maximum_record_age {
                let arrivals: Vec<_> = batch[range.clone()].iter().map(|r| r.arrived).collect();
                let expired = expired_prefix(&arrivals, chrono::Utc::now(), maximum_age);
                if expired > 0 {
                    let old = range.start..range.start + expired;
                    self.give_up(
                        shard_id,
                        &batch[old],
                        Condition::RecordAgeExceeded,
                        retries,
                        false,
                    )
                    .await?;
                    self.advance(shard_id, checkpoint, &batch[range.start + expired - 1])
                        .await?;
                    range.start += expired;
                    if range.is_empty() {
                        continue;
                    }
                }
            }
            if invocations_since_success > 0 {
                tokio::select! {
                    () = self.stop.cancelled() => return Ok(false),
                    () = tokio::time::sleep(retry_pause(mapping, invocations_since_success)) => {}
                }
            }
            let records = &batch[range.clone()];
            let mut event = aws_lambda_events::event::dynamodb::Event::default();
            event.records = records.iter().map(|r| r.lambda.clone()).collect();
            let handler = Arc::clone(&self.handler);
            let result = invoke(
                async move { handler.handle(event).await },
                mapping.function_timeout,
            )
            .await;
            let sequence_numbers: Vec<&str> =
                records.iter().map(|r| r.sequence_number.as_str()).collect();
            let outcome = outcome_of(
                &result,
                &sequence_numbers,
                mapping.report_batch_item_failures,
            );
            let function_error = matches!(
                outcome,
                Outcome::Failed {
                    function_error: true,
                    ..
                }
            );
            if let Outcome::Failed { reason, .. } = &outcome {
                tracing::warn!(
                    mapping = %mapping.name,
                    shard = shard_id,
                    records = records.len(),
                    retries,
                    reason = %reason,
                    "batch failed"
                );
            }
            match decide(policy, records.len(), retries, &outcome) {
                Decision::Done => {
                    invocations_since_success = 0;
                    if let Some(last) = records.last() {
                        self.advance(shard_id, checkpoint, last).await?;
                    }
                }
                Decision::Retry { from, retries } => {
                    invocations_since_success += 1;
                    if from > 0 {
                        self.advance(shard_id, checkpoint, &records[from - 1])
                            .await?;
                    }
                    pending.push_front((range.start + from..range.end, retries));
                }
                Decision::Bisect => {
                    invocations_since_success += 1;
                    let middle = range.start + records.len() / 2;
                    pending.push_front((middle..range.end, retries));
                    pending.push_front((range.start..middle, retries));
                }
                Decision::GiveUp { from } => {
                    invocations_since_success = 0;
                    if from > 0 {
                        self.advance(shard_id, checkpoint, &records[from - 1])
                            .await?;
                    }
                    self.give_up(
                        shard_id,
                        &records[from..],
                        Condition::RetryAttemptsExhausted,
                        retries + 1,
                        function_error,
                    )
                    .await?;
                    if let Some(last) = records.last() {
                        self.advance(shard_id, checkpoint, last).await?;
                    }
                }
            }
        }
        Ok(true)
    }

    async fn advance(
        &self,
        shard_id: &str,
        checkpoint: &mut Checkpoint,
        record: &Record,
    ) -> Result<(), TriggerError> {
        checkpoint.sequence_number = Some(record.sequence_number.clone());
        self.clients
            .checkpoints
            .save(&self.mapping.name, shard_id, checkpoint)
            .await
    }

    async fn give_up(
        &self,
        shard_id: &str,
        records: &[Record],
        condition: Condition,
        invoke_count: u32,
        function_error: bool,
    ) -> Result<(), TriggerError> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(());
        };
        tracing::error!(
            mapping = %self.mapping.name,
            shard = shard_id,
            condition = condition.as_str(),
            first = %first.sequence_number,
            last = %last.sequence_number,
            records = records.len(),
            "giving up on records"
        );
        let Some(queue_url) = &self.mapping.on_failure_queue_url else {
            return Ok(());
        };
        let record = destination::failure_record(
            &FailedBatch {
                function_arn: &self.function_arn,
                stream_arn: &self.mapping.stream_arn,
                shard_id,
                start_sequence_number: &first.sequence_number,
                end_sequence_number: &last.sequence_number,
                first_arrival: first.arrived,
                last_arrival: last.arrived,
                batch_size: records.len(),
                condition,
                invoke_count,
                function_error,
            },
            &uuid::Uuid::new_v4().to_string(),
            chrono::Utc::now(),
        );
        destination::send(&self.clients.sqs, queue_url, &record).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>) -> Shard {
        Shard {
            id: id.to_owned(),
            parent: parent.map(str::to_owned),
        }
    }

    fn ids(shards: Vec<&Shard>) -> Vec<&str> {
        shards.into_iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn a_child_shard_waits_until_its_parent_is_finished() {
        let shards = [shard("parent", None), shard("child", Some("parent"))];
        let none = HashSet::new();

        assert_eq!(ids(startable(&shards, &none, &HashSet::new())), ["parent"]);
        let finished = HashSet::from(["parent".to_owned()]);
        assert_eq!(ids(startable(&shards, &none, &finished)), ["child"]);
    }

    #[test]
    fn a_child_whose_parent_was_trimmed_starts_at_once() {
        let shards = [shard("child", Some("gone"))];
        let started = startable(&shards, &HashSet::new(), &HashSet::new());
        assert_eq!(ids(started), ["child"]);
    }

    #[test]
    fn a_running_or_pausing_shard_is_not_started_twice() {
        let shards = [shard("a", None), shard("b", None)];
        let unavailable = HashSet::from(["a"]);
        let started = startable(&shards, &unavailable, &HashSet::new());
        assert_eq!(ids(started), ["b"]);
    }

    #[test]
    fn the_retry_pause_doubles_with_each_failure_up_to_its_maximum() {
        let mapping = StreamMapping::new("m", "arn");
        let pauses: Vec<u64> = (1..=7)
            .map(|failed| retry_pause(&mapping, failed).as_millis() as u64)
            .collect();
        assert_eq!(pauses, [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
        assert_eq!(retry_pause(&mapping, u32::MAX), Duration::from_secs(10));
    }
}
