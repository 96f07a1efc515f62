//! Shared measuring tools for the benchmarks: latency percentiles, plain-text tables, and the
//! raw conditional PutItem baseline every benchmark prints its figures beside.
//!
//! Benchmarks run against the local stack only (loopback), bounded in count, and print their
//! figures next to a baseline measured in the same run. Nothing here asserts on speed.
//!
//! With BENCH_FIGURES=<path> set, every benchmark also appends each figure (with its baseline)
//! and each knob it read to that file as JSON Lines, which `scripts/bench report` turns into
//! docs/benchmarks.md (see [`report`]).

pub mod report;
pub mod rounds;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The variable naming the file figures are appended to; unset, nothing is recorded.
pub const FIGURES_VARIABLE: &str = "BENCH_FIGURES";

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
}

/// What a figure is compared with: measured in the same run, on the same emulators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// One line of the figures file. The baseline is not optional: a figure alone says little on a
/// 2-core machine whose emulators set the pace, so the type cannot be built without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    pub bench: String,
    pub figure: String,
    pub value: f64,
    pub unit: String,
    pub baseline: Baseline,
    pub better: Better,
}

/// A knob a benchmark read, with the value it ran with, so the report states the exact run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knob {
    pub bench: String,
    pub knob: String,
    pub value: usize,
    /// Whether the value came from the environment rather than the benchmark's default.
    pub set: bool,
}

/// A figure waiting for its baseline; only [`Measurement::beside`] makes it recordable.
#[derive(Debug, Clone)]
pub struct Measurement {
    figure: String,
    value: f64,
    unit: String,
}

impl Measurement {
    pub fn new(figure: impl Into<String>, value: f64, unit: &str) -> Self {
        Self {
            figure: figure.into(),
            value,
            unit: unit.to_owned(),
        }
    }

    /// The figure beside its baseline, in the same unit.
    pub fn beside(self, better: Better, baseline: impl Into<String>, value: f64) -> Figure {
        Figure {
            bench: bench_name(),
            baseline: Baseline {
                name: baseline.into(),
                value,
                unit: self.unit.clone(),
            },
            figure: self.figure,
            value: self.value,
            unit: self.unit,
            better,
        }
    }
}

/// Milliseconds, the unit of every latency figure.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// The benchmark's name: its binary's, so that a figure cannot be filed under another bench.
fn bench_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Appends `figure` to the BENCH_FIGURES file, if there is one. An error here fails the
/// benchmark: a report silently missing a figure would look complete.
pub fn record(figure: &Figure) -> Result<()> {
    match std::env::var_os(FIGURES_VARIABLE) {
        Some(path) => record_to(Path::new(&path), figure),
        None => Ok(()),
    }
}

/// Appends one figure to `path` as a JSON line.
pub fn record_to(path: &Path, figure: &Figure) -> Result<()> {
    if !figure.value.is_finite() || !figure.baseline.value.is_finite() {
        bail!(
            "{}: {} or its baseline is not a finite number ({} / {})",
            figure.bench,
            figure.figure,
            figure.value,
            figure.baseline.value
        );
    }
    append_line(path, &serde_json::to_string(figure)?)
}

fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    // One write per line: the file is opened in append mode, so a line lands whole.
    file.write_all(format!("{line}\n").as_bytes())
        .with_context(|| format!("appending to {}", path.display()))
}

/// Latency percentiles of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// Nearest-rank percentiles; `None` for no samples.
    pub fn of(samples: &mut [Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let rank = |p: usize| samples[(samples.len() * p).div_ceil(100).saturating_sub(1)];
        Some(Self {
            p50: rank(50),
            p95: rank(95),
            p99: rank(99),
            max: samples[samples.len() - 1],
        })
    }
}

/// The build the figures come from: `scripts/bench` builds in release, because a debug build's
/// request signing and serialization take CPU that the emulators on the same cores then lack.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    }
}

/// A numeric knob from the environment, or its default when unset or unreadable. With
/// BENCH_FIGURES set, the value is also recorded, so the report names every knob of the run.
pub fn setting(name: &str, default: usize) -> usize {
    let set = std::env::var(name).ok().and_then(|v| v.parse().ok());
    let value = set.unwrap_or(default);
    if let Some(path) = std::env::var_os(FIGURES_VARIABLE) {
        let knob = Knob {
            bench: bench_name(),
            knob: name.to_owned(),
            value,
            set: set.is_some(),
        };
        // The knobs only describe the run; a write that fails here fails again, loudly, at the
        // first figure, so a warning is enough.
        if let Err(error) = serde_json::to_string(&knob)
            .map_err(anyhow::Error::from)
            .and_then(|line| append_line(Path::new(&path), &line))
        {
            eprintln!("warning: knob {name} not recorded: {error:#}");
        }
    }
    value
}

pub fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1_000.0)
}

/// Prints rows as an aligned Markdown table.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|row| row.get(i).map_or(0, String::len))
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header.to_vec());
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// How a load driver's clients send: each as fast as its answers come back (closed loop: the
/// throughput ceiling, where latency is mostly queueing), or each on a fixed schedule (open
/// loop: latency at a known offered rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    FlatOut,
    /// The whole driver offers this many requests per second, spread evenly over its clients.
    Rate(f64),
}

impl Pace {
    /// The schedule of client `client` of `clients`.
    pub fn schedule(self, client: usize, clients: usize) -> Schedule {
        match self {
            Self::FlatOut => Schedule {
                interval: None,
                next: Instant::now(),
            },
            Self::Rate(per_second) => {
                let interval = Duration::from_secs_f64(clients as f64 / per_second.max(0.001));
                // Staggered starts, so that the clients do not send in lockstep.
                let offset = interval.mul_f64(client as f64 / clients.max(1) as f64);
                Schedule {
                    interval: Some(interval),
                    next: Instant::now() + offset,
                }
            }
        }
    }
}

/// One client's send times.
#[derive(Debug)]
pub struct Schedule {
    interval: Option<Duration>,
    next: Instant,
}

impl Schedule {
    /// Waits for the next send slot and returns the instant latency is measured from. On a
    /// schedule that is the *planned* send time, not the actual one: a request that had to wait
    /// for its predecessor counts that wait, so a stall cannot hide (no coordinated omission).
    pub async fn next(&mut self) -> Instant {
        match self.interval {
            None => Instant::now(),
            Some(interval) => {
                let planned = self.next;
                tokio::time::sleep_until(planned.into()).await;
                self.next = planned + interval;
                planned
            }
        }
    }
}

/// A timed batch of writes: how long it took, latency percentiles, and capacity consumed.
pub struct Run {
    pub elapsed: Duration,
    pub latency: Percentiles,
    pub write_units: f64,
    pub index_write_units: f64,
}

/// The baseline of every benchmark: conditional PutItems of event-sized items, with no load, no
/// decision and no idempotency, from the same number of writers.
pub async fn raw_conditional_puts(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    count: usize,
    writers: usize,
    pace: Pace,
) -> Result<Run> {
    let payload = "x".repeat(560);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let dynamodb = dynamodb.clone();
        let table = table.to_owned();
        let payload = payload.clone();
        let share = count / writers + usize::from(writer < count % writers);
        let mut schedule = pace.schedule(writer, writers);
        tasks.push(tokio::spawn(async move {
            let aggregate = Uuid::new_v4().to_string();
            let mut samples = Vec::with_capacity(share);
            let (mut wcu, mut gsi) = (0.0, 0.0);
            for version in 1..=share {
                let item = HashMap::from([
                    (
                        "aggregateId".to_owned(),
                        AttributeValue::S(aggregate.clone()),
                    ),
                    ("version".to_owned(), AttributeValue::N(version.to_string())),
                    (
                        "eventType".to_owned(),
                        AttributeValue::S("Baseline".to_owned()),
                    ),
                    (
                        "occurredAt".to_owned(),
                        AttributeValue::S("2026-01-01T00:00:00.000Z".to_owned()),
                    ),
                    // The audit index's keys, as an event has them, so that the put writes
                    // the index too.
                    (
                        "typeShard".to_owned(),
                        AttributeValue::S(format!("Baseline#{}", &aggregate[35..])),
                    ),
                    (
                        "typeOrder".to_owned(),
                        AttributeValue::S(format!(
                            "2026-01-01T00:00:00.000Z#{aggregate}#{version:020}"
                        )),
                    ),
                    ("payload".to_owned(), AttributeValue::S(payload.clone())),
                ]);
                let start = schedule.next().await;
                let output = dynamodb
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(version)")
                    .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                    .send()
                    .await?;
                samples.push(start.elapsed());
                if let Some(consumed) = output.consumed_capacity() {
                    wcu += consumed
                        .table()
                        .and_then(|t| t.capacity_units())
                        .unwrap_or(0.0);
                    gsi += consumed
                        .global_secondary_indexes()
                        .map(|i| i.values().filter_map(|c| c.capacity_units()).sum::<f64>())
                        .unwrap_or(0.0);
                }
            }
            anyhow::Ok((samples, wcu, gsi))
        }));
    }
    let (mut samples, mut write_units, mut index_write_units) = (Vec::new(), 0.0, 0.0);
    for task in tasks {
        let (s, w, g) = task.await??;
        samples.extend(s);
        write_units += w;
        index_write_units += g;
    }
    let elapsed = started.elapsed();
    Ok(Run {
        elapsed,
        latency: Percentiles::of(&mut samples).context("no samples")?,
        write_units,
        index_write_units,
    })
}

/// Writes `items` to `table` in one BatchWriteItem (at most 25), sending again what DynamoDB
/// leaves unprocessed until nothing is left. For loading benchmark data, outside any timing.
pub async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<HashMap<String, AttributeValue>>,
) -> Result<()> {
    let mut requests: Vec<aws_sdk_dynamodb::types::WriteRequest> = items
        .into_iter()
        .map(|item| {
            aws_sdk_dynamodb::types::PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map(|put| {
                    aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(put)
                        .build()
                })
        })
        .collect::<Result<_, _>>()?;
    while !requests.is_empty() {
        let output = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .context("loading")?;
        requests = output
            .unprocessed_items
            .and_then(|mut left| left.remove(table))
            .unwrap_or_default();
    }
    Ok(())
}

/// Writes `items` with BatchWriteItem, 25 to a request, `writers` requests in flight.
pub async fn write_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    writers: usize,
    items: Vec<HashMap<String, AttributeValue>>,
) -> Result<()> {
    let chunks: Vec<Vec<_>> = items.chunks(25).map(<[_]>::to_vec).collect();
    let chunks = std::sync::Arc::new(tokio::sync::Mutex::new(chunks));
    futures_util::future::try_join_all((0..writers.max(1)).map(|_| {
        let (client, table, chunks) = (
            client.clone(),
            table.to_owned(),
            std::sync::Arc::clone(&chunks),
        );
        async move {
            loop {
                let Some(chunk) = chunks.lock().await.pop() else {
                    return anyhow::Ok(());
                };
                write_batch(&client, &table, chunk).await?;
            }
        }
    }))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut samples).unwrap();
        assert_eq!(p.p50, Duration::from_millis(50));
        assert_eq!(p.p95, Duration::from_millis(95));
        assert_eq!(p.p99, Duration::from_millis(99));
        assert_eq!(p.max, Duration::from_millis(100));
    }

    #[test]
    fn no_samples_have_no_percentiles() {
        assert_eq!(Percentiles::of(&mut []), None);
    }
}
