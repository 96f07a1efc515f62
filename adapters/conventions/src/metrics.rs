//! The platform's custom metrics, as infra/metrics.json names them (the contract the CDK app's
//! dashboard and alarms read too; `tests/emf.rs` checks the two agree).
//!
//! Code records through the small types here ([`Command`], [`Consumer`], [`saga_outcome`],
//! [`cold_start`]), which call the `metrics` facade: a counter or histogram update is an
//! atomic add or a channel send, no I/O. What records them is the process's recorder: in a
//! Lambda, the CloudWatch Embedded Metric Format collector that [`crate::lambda`] installs and
//! flushes to stdout after each invocation; in a local tool none, and the facade does nothing.
//!
//! Dimension values are `&'static str` where they can be, so that labelling a metric does not
//! allocate on the hot path.

use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::Unit;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "AuctionPlatform";

/// How a metric is recorded: a counter adds up within a flush, a histogram keeps each value
/// (CloudWatch computes its percentiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Histogram,
}

/// One metric of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub unit: Unit,
    /// In the order the EMF document lists them.
    pub dimensions: &'static [&'static str],
    pub kind: Kind,
}

const fn counter(name: &'static str, dimensions: &'static [&'static str]) -> Spec {
    Spec {
        name,
        unit: Unit::Count,
        dimensions,
        kind: Kind::Counter,
    }
}

const fn histogram(name: &'static str, unit: Unit, dimensions: &'static [&'static str]) -> Spec {
    Spec {
        name,
        unit,
        dimensions,
        kind: Kind::Histogram,
    }
}

pub const COMMANDS_ACCEPTED: Spec = counter("CommandsAccepted", &["Command"]);
pub const COMMAND_REJECTIONS: Spec = counter("CommandRejections", &["Command", "Code"]);
pub const COMMAND_REPLAYS: Spec = counter("CommandReplays", &["Command"]);
pub const COMMAND_CONFLICTS: Spec = counter("CommandConflicts", &["Command"]);
pub const COMMAND_LATENCY: Spec = histogram("CommandLatency", Unit::Milliseconds, &["Command"]);
// Capacity units come in halves (an eventually consistent read), so they are histogram values,
// not counter increments: CloudWatch's Sum and Average of them are the cost and the cost per
// command.
pub const COMMAND_READ_UNITS: Spec = histogram("CommandReadUnits", Unit::Count, &["Command"]);
pub const COMMAND_WRITE_UNITS: Spec = histogram("CommandWriteUnits", Unit::Count, &["Command"]);
pub const RECORDS_PROCESSED: Spec = counter("RecordsProcessed", &["Consumer"]);
pub const RECORDS_FAILED: Spec = counter("RecordsFailed", &["Consumer"]);
pub const RECORDS_PARKED: Spec = counter("RecordsParked", &["Consumer"]);
pub const CONSUMER_LAG: Spec = histogram("ConsumerLag", Unit::Milliseconds, &["Consumer"]);
pub const SAGA_OUTCOMES: Spec = counter("SagaOutcomes", &["Outcome"]);
pub const COLD_STARTS: Spec = counter("ColdStarts", &["Function"]);

/// Every metric the platform emits, and nothing else.
pub const ALL: [Spec; 13] = [
    COMMANDS_ACCEPTED,
    COMMAND_REJECTIONS,
    COMMAND_REPLAYS,
    COMMAND_CONFLICTS,
    COMMAND_LATENCY,
    COMMAND_READ_UNITS,
    COMMAND_WRITE_UNITS,
    RECORDS_PROCESSED,
    RECORDS_FAILED,
    RECORDS_PARKED,
    CONSUMER_LAG,
    SAGA_OUTCOMES,
    COLD_STARTS,
];

/// Tells the installed recorder each metric's unit: the EMF collector writes the unit it was
/// told, and none otherwise.
pub fn describe_all() {
    for spec in ALL {
        match spec.kind {
            Kind::Counter => metrics::describe_counter!(spec.name, spec.unit, ""),
            Kind::Histogram => metrics::describe_histogram!(spec.name, spec.unit, ""),
        }
    }
}

/// One command of the API's command path, by its name (the `Command` dimension: `PlaceBid`,
/// `CreateAuction`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command(pub &'static str);

impl Command {
    /// It took effect: events were appended.
    pub fn accepted(self) {
        metrics::counter!(COMMANDS_ACCEPTED.name, "Command" => self.0).increment(1);
    }

    /// The aggregate refused it, with the rejection's stable code.
    pub fn rejected(self, code: &'static str) {
        metrics::counter!(COMMAND_REJECTIONS.name, "Command" => self.0, "Code" => code)
            .increment(1);
    }

    /// Answered as done without appending anything.
    pub fn replayed(self) {
        metrics::counter!(COMMAND_REPLAYS.name, "Command" => self.0).increment(1);
    }

    /// It lost the race for the stream's version `times` times and was decided again.
    pub fn conflicts(self, times: u32) {
        if times > 0 {
            metrics::counter!(COMMAND_CONFLICTS.name, "Command" => self.0)
                .increment(u64::from(times));
        }
    }

    /// From its receipt to its answer.
    pub fn latency(self, elapsed: Duration) {
        metrics::histogram!(COMMAND_LATENCY.name, "Command" => self.0)
            .record(elapsed.as_secs_f64() * 1000.0);
    }

    /// The DynamoDB capacity it consumed: read units, and write units of the table and its
    /// indexes.
    pub fn capacity(self, read_units: f64, write_units: f64) {
        metrics::histogram!(COMMAND_READ_UNITS.name, "Command" => self.0).record(read_units);
        metrics::histogram!(COMMAND_WRITE_UNITS.name, "Command" => self.0).record(write_units);
    }
}

/// A consumer of the log or of a queue fed from it (the `Consumer` dimension). The names are
/// the ones the parked items, the local runner's checkpoints and the parked-items alarms use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumer(&'static str);

impl Consumer {
    /// The read models, on the Events stream.
    pub const PROJECTOR: Self = Self("projector");
    /// The fan-out to the queues, on the Events stream.
    pub const PUBLISHER: Self = Self("publisher");
    /// Notices, on the notifications queue.
    pub const NOTIFIER: Self = Self("notifier");
    /// The payment saga, on the payments queue.
    pub const PAYMENT_SAGA: Self = Self("payment-saga");
    /// Live updates over WebSockets, on the live queue (the `live-broadcaster-lambda` binary).
    pub const BROADCASTER: Self = Self("broadcaster");
    /// The parker, on the on-failure queue and the dead-letter queues.
    pub const PARKER: Self = Self("parker");

    pub const ALL: [Self; 6] = [
        Self::PROJECTOR,
        Self::PUBLISHER,
        Self::NOTIFIER,
        Self::PAYMENT_SAGA,
        Self::BROADCASTER,
        Self::PARKER,
    ];

    pub const fn name(self) -> &'static str {
        self.0
    }

    /// A batch of `records` was handled and `failed` of them reported as batch item failures
    /// (all of them when the invocation failed as a whole).
    pub fn handled(self, records: usize, failed: usize) {
        let failed = failed.min(records);
        let processed = records - failed;
        if processed > 0 {
            metrics::counter!(RECORDS_PROCESSED.name, "Consumer" => self.0)
                .increment(count(processed));
        }
        if failed > 0 {
            metrics::counter!(RECORDS_FAILED.name, "Consumer" => self.0).increment(count(failed));
        }
    }

    /// Handling an event committed at `committed_at`, now.
    pub fn lag(self, committed_at: DateTime<Utc>) {
        let lag = (Utc::now() - committed_at).num_milliseconds().max(0);
        // Milliseconds far below 2^53: exact as f64.
        #[allow(clippy::cast_precision_loss)]
        metrics::histogram!(CONSUMER_LAG.name, "Consumer" => self.0).record(lag as f64);
    }
}

/// `records` of `consumer` (a parked item's consumer, by name) set aside for an operator.
pub fn parked(consumer: &str, records: usize) {
    let label: metrics::SharedString = match Consumer::ALL
        .into_iter()
        .find(|known| known.name() == consumer)
    {
        Some(known) => known.name().into(),
        None => consumer.to_owned().into(),
    };
    metrics::counter!(RECORDS_PARKED.name, "Consumer" => label).increment(count(records));
}

/// How a payment saga finished or paused (the `Outcome` dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaOutcome {
    /// Charged, transferred, paid out and recorded.
    Settled,
    /// A forward step was refused; what was done is undone and the failure recorded.
    Compensated,
    /// It cannot go on by itself (a compensation was refused): a person must step in.
    Failed,
    /// The provider answers later; the saga waits for its webhook or the reconciler.
    Awaiting,
}

impl SagaOutcome {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Settled => "settled",
            Self::Compensated => "compensated",
            Self::Failed => "failed",
            Self::Awaiting => "awaiting",
        }
    }
}

pub fn saga_outcome(outcome: SagaOutcome) {
    metrics::counter!(SAGA_OUTCOMES.name, "Outcome" => outcome.name()).increment(1);
}

/// An execution environment of `function` (the binary's name, e.g. `projector-lambda`) started.
pub fn cold_start(function: &'static str) {
    metrics::counter!(COLD_STARTS.name, "Function" => function).increment(1);
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// What code under test recorded, through metrics-util's debugging recorder, scoped to the
/// calling thread so that tests running beside each other do not see each other's metrics.
#[cfg(feature = "testing")]
pub mod testing {
    use std::future::Future;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
    use metrics_util::{CompositeKey, MetricKind};

    /// Everything recorded, by metric and labels.
    #[derive(Debug)]
    pub struct Recorded {
        metrics: Vec<(CompositeKey, DebugValue)>,
    }

    impl Recorded {
        fn of(snapshotter: &Snapshotter) -> Self {
            Self {
                metrics: snapshotter
                    .snapshot()
                    .into_vec()
                    .into_iter()
                    .map(|(key, _, _, value)| (key, value))
                    .collect(),
            }
        }

        fn find(&self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Vec<&DebugValue> {
            self.metrics
                .iter()
                .filter(|(key, _)| {
                    let key_labels: Vec<(&str, &str)> =
                        key.key().labels().map(|l| (l.key(), l.value())).collect();
                    key.kind() == kind && key.key().name() == name && key_labels == labels
                })
                .map(|(_, value)| value)
                .collect()
        }

        /// The counter's total with exactly these labels, in this order (0 if never counted).
        pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
            self.find(MetricKind::Counter, name, labels)
                .into_iter()
                .map(|value| match value {
                    DebugValue::Counter(n) => *n,
                    _ => 0,
                })
                .sum()
        }

        /// The histogram's values with exactly these labels, in this order.
        pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
            self.find(MetricKind::Histogram, name, labels)
                .into_iter()
                .flat_map(|value| match value {
                    DebugValue::Histogram(values) => {
                        values.iter().map(|v| v.into_inner()).collect()
                    }
                    _ => Vec::new(),
                })
                .collect()
        }

        /// Every metric recorded, as (name, labels).
        pub fn keys(&self) -> Vec<(String, Vec<(String, String)>)> {
            self.metrics
                .iter()
                .map(|(key, _)| {
                    (
                        key.key().name().to_owned(),
                        key.key()
                            .labels()
                            .map(|l| (l.key().to_owned(), l.value().to_owned()))
                            .collect(),
                    )
                })
                .collect()
        }
    }

    /// Runs `run` with a recorder of its own and returns what it recorded.
    pub fn recorded<T>(run: impl FnOnce() -> T) -> (T, Recorded) {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let output = metrics::with_local_recorder(&recorder, run);
        (output, Recorded::of(&snapshotter))
    }

    /// Runs `future` to completion on a current-thread runtime (so that every task it polls
    /// sees the thread's recorder) and returns what it recorded.
    ///
    /// # Panics
    ///
    /// When the runtime cannot be built: a broken test environment.
    #[allow(clippy::expect_used)]
    pub fn recorded_async<F: Future>(future: F) -> (F::Output, Recorded) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime");
        recorded(|| runtime.block_on(future))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::recorded;
    use super::*;

    #[test]
    fn a_batch_counts_what_failed_apart_from_what_was_processed() {
        let ((), recorded) = recorded(|| Consumer::NOTIFIER.handled(10, 3));
        let consumer = [("Consumer", "notifier")];
        assert_eq!(recorded.counter("RecordsProcessed", &consumer), 7);
        assert_eq!(recorded.counter("RecordsFailed", &consumer), 3);
    }

    #[test]
    fn a_failed_invocation_counts_every_record_failed_and_none_processed() {
        let ((), recorded) = recorded(|| Consumer::PROJECTOR.handled(4, 4));
        let consumer = [("Consumer", "projector")];
        assert_eq!(recorded.counter("RecordsFailed", &consumer), 4);
        assert_eq!(recorded.counter("RecordsProcessed", &consumer), 0);
        assert!(
            recorded
                .keys()
                .iter()
                .all(|(name, _)| name != "RecordsProcessed"),
            "a zero is not written: {recorded:?}"
        );
    }

    #[test]
    fn a_parked_items_consumer_is_its_dimension_known_or_not() {
        let ((), recorded) = recorded(|| {
            parked("payment-saga", 2);
            parked("someone-new", 1);
        });
        assert_eq!(
            recorded.counter("RecordsParked", &[("Consumer", "payment-saga")]),
            2
        );
        assert_eq!(
            recorded.counter("RecordsParked", &[("Consumer", "someone-new")]),
            1
        );
    }

    #[test]
    fn a_rejection_is_counted_by_command_then_code() {
        let ((), recorded) = recorded(|| Command("PlaceBid").rejected("BID_TOO_LOW"));
        assert_eq!(
            recorded.counter(
                "CommandRejections",
                &[("Command", "PlaceBid"), ("Code", "BID_TOO_LOW")]
            ),
            1
        );
    }

    #[test]
    fn no_conflict_writes_nothing() {
        let ((), recorded) = recorded(|| Command("PlaceBid").conflicts(0));
        assert!(recorded.keys().is_empty(), "{recorded:?}");
    }

    #[test]
    fn every_metric_is_labelled_by_its_specs_dimensions_in_order() {
        let ((), recorded) = recorded(|| {
            let command = Command("PlaceBid");
            command.accepted();
            command.rejected("BID_TOO_LOW");
            command.replayed();
            command.conflicts(2);
            command.latency(Duration::from_millis(12));
            command.capacity(1.5, 3.0);
            Consumer::PUBLISHER.handled(3, 1);
            Consumer::PUBLISHER.lag(Utc::now());
            parked("projector", 1);
            saga_outcome(SagaOutcome::Settled);
            cold_start("api-lambda");
        });
        for spec in ALL {
            let labels: Vec<Vec<String>> = recorded
                .keys()
                .into_iter()
                .filter(|(name, _)| name == spec.name)
                .map(|(_, labels)| labels.into_iter().map(|(key, _)| key).collect())
                .collect();
            assert!(!labels.is_empty(), "{} was not recorded", spec.name);
            for keys in labels {
                assert_eq!(keys, spec.dimensions, "{}", spec.name);
            }
        }
    }
}
