//! The metric documents a Lambda binary writes, read back against the contract the CDK app's
//! dashboard and alarms are built from (infra/metrics.json). A test binary of its own: the
//! collector is the process's one global recorder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use conventions::lambda::Metrics;
use conventions::metrics::{Command, Consumer, SagaOutcome, parked, saga_outcome};
use lambda_runtime::{Context, LambdaEvent, Service, service_fn};
use serde_json::Value;

/// A metric as the contract states it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Contracted {
    unit: String,
    dimensions: Vec<String>,
}

struct Contract {
    namespace: String,
    metrics: BTreeMap<String, Contracted>,
}

fn contract() -> Contract {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/metrics.json");
    let text = std::fs::read_to_string(path).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let metrics = json["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|metric| {
            (
                metric["name"].as_str().unwrap().to_owned(),
                Contracted {
                    unit: metric["unit"].as_str().unwrap().to_owned(),
                    dimensions: metric["dimensions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_str().unwrap().to_owned())
                        .collect(),
                },
            )
        })
        .collect();
    Contract {
        namespace: json["namespace"].as_str().unwrap().to_owned(),
        metrics,
    }
}

#[derive(Clone, Default)]
struct Stdout(Arc<Mutex<Vec<u8>>>);

impl Write for Stdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Stdout {
    /// The documents written since the last call.
    fn take(&self) -> Vec<Value> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn invocation(request_id: &str, trace_id: Option<&str>) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context.xray_trace_id = trace_id.map(str::to_owned);
    LambdaEvent::new(Value::Null, context)
}

/// Everything the platform's code records, once each.
fn record_every_metric() {
    let command = Command("PlaceBid");
    command.accepted();
    command.rejected("BID_TOO_LOW");
    command.replayed();
    command.conflicts(2);
    command.latency(Duration::from_millis(7));
    command.capacity(1.5, 4.0);
    Consumer::PROJECTOR.handled(5, 2);
    Consumer::PROJECTOR.lag(Utc::now() - chrono::TimeDelta::milliseconds(250));
    parked("notifier", 1);
    saga_outcome(SagaOutcome::Compensated);
}

/// Checks one document against the contract; returns the metrics it holds, by name.
fn check(contract: &Contract, document: &Value) -> Vec<String> {
    let aws = &document["_aws"];
    assert!(aws["Timestamp"].is_u64(), "{document}");
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(directives.len(), 1, "{document}");
    let directive = &directives[0];
    assert_eq!(
        directive["Namespace"],
        contract.namespace.as_str(),
        "{document}"
    );
    let dimension_sets = directive["Dimensions"].as_array().unwrap();
    assert_eq!(dimension_sets.len(), 1, "{document}");
    let dimensions: Vec<String> = dimension_sets[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    for dimension in &dimensions {
        assert!(
            document[dimension].as_str().is_some_and(|v| !v.is_empty()),
            "dimension {dimension} has no value in {document}"
        );
    }
    let mut names = Vec::new();
    for metric in directive["Metrics"].as_array().unwrap() {
        let name = metric["Name"].as_str().unwrap();
        let contracted = contract
            .metrics
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in infra/metrics.json: {document}"));
        assert_eq!(
            metric["Unit"],
            contracted.unit.as_str(),
            "{name}: {document}"
        );
        assert_eq!(dimensions, contracted.dimensions, "{name}: {document}");
        assert!(
            document[name].is_number() || document[name].is_array(),
            "{name} has no value in {document}"
        );
        names.push(name.to_owned());
    }
    names
}

#[tokio::test]
async fn given_a_lambdas_collector_when_invocations_end_then_each_writes_the_contracts_metrics_with_its_request()
 {
    // Given the collector a binary installs, writing to a captured stdout
    let contract = contract();
    let stdout = Stdout::default();
    let out = stdout.clone();
    let metrics = Metrics::install_writing_to("projector-lambda", move || Box::new(out.clone()))
        .expect("the first recorder of this process");
    let mut handler = metrics.flushing(service_fn(|event: LambdaEvent<Value>| async move {
        if event.context.request_id == "first" {
            record_every_metric();
        } else {
            Consumer::PROJECTOR.handled(1, 0);
        }
        Ok::<(), lambda_runtime::Error>(())
    }));
    assert!(
        stdout.take().is_empty(),
        "nothing is written before an invocation"
    );

    // When a first invocation records every metric
    handler
        .call(invocation("first", Some("Root=1-abc")))
        .await
        .unwrap();

    // Then its documents hold exactly the contract's metrics, as the contract states them,
    // each document naming the invocation; the cold start among them under the binary's name
    let documents = stdout.take();
    let mut emitted = BTreeSet::new();
    for document in &documents {
        emitted.extend(check(&contract, document));
        assert_eq!(document["requestId"], "first", "{document}");
        assert_eq!(document["xrayTraceId"], "Root=1-abc", "{document}");
    }
    let contracted: BTreeSet<String> = contract.metrics.keys().cloned().collect();
    assert_eq!(emitted, contracted);
    let cold_start = documents
        .iter()
        .find(|d| d["ColdStarts"].is_number())
        .unwrap();
    assert_eq!(cold_start["Function"], "projector-lambda");
    assert_eq!(cold_start["ColdStarts"], 1);
    let rejection = documents
        .iter()
        .find(|d| d["CommandRejections"].is_number())
        .unwrap();
    assert_eq!(
        (&rejection["Command"], &rejection["Code"]),
        (&Value::from("PlaceBid"), &Value::from("BID_TOO_LOW"))
    );
    let records = documents
        .iter()
        .find(|d| d["RecordsProcessed"].is_number())
        .unwrap();
    assert_eq!(
        (&records["RecordsProcessed"], &records["RecordsFailed"]),
        (&Value::from(3), &Value::from(2))
    );

    // When a second invocation, without a trace, records one count
    handler.call(invocation("second", None)).await.unwrap();

    // Then only that count is written, under the second request, and no stale trace id
    let documents = stdout.take();
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(check(&contract, &documents[0]), ["RecordsProcessed"]);
    assert_eq!(documents[0]["RecordsProcessed"], 1);
    assert_eq!(documents[0]["requestId"], "second");
    assert!(
        documents[0].get("xrayTraceId").is_none(),
        "{}",
        documents[0]
    );
}
