//! The deployed Lambda binaries as the mappings' and the schedules' targets: each a process of
//! its own under cargo-lambda's emulator (`local_stack::lambda`), invoked through the Invoke API
//! with the JSON Lambda sends, its response read as Lambda reads it.
//!
//! One execution environment per function, one invocation at a time: the mappings that share a
//! function (the parker's four) take turns. When an invocation ends without an answer (the
//! binary exited, timed out, or failed its init), the environment is stopped and the invocation
//! fails, as in Lambda; the next invocation starts a fresh one, as Lambda would.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use local_stack::Tools;
use local_stack::lambda::{FunctionSpec, Invocation, LambdaFunction, RuntimeEmulator};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::error::TriggerError;
use crate::handler::{HandlerError, QueueHandler, StreamHandler};

/// How long a binary may take to ask for its first invocation at start-up: a debug build on a
/// busy 2-core machine, as `local_stack::lambda` allows it.
const INIT_LIMIT: Duration = Duration::from_secs(30);
/// What a mapping allows an invocation beyond the function's own timeout, which the function
/// enforces itself (`LambdaFunction::invoke`): a cold start after a crash, and waiting for a
/// mapping sharing the function. A mapping's own timeout must never be the one that fires: it
/// would drop an invocation the emulator still holds.
pub const INVOCATION_SLACK: Duration = Duration::from_secs(45);

/// One deployed binary and its current execution environment.
pub struct Function {
    tools: Tools,
    emulator: Arc<RuntimeEmulator>,
    spec: FunctionSpec,
    /// Taken out while an invocation is in flight: if that invocation is dropped (the runner
    /// stops), the environment is dropped with it, which kills the process, and the next
    /// invocation starts a fresh one.
    instance: Mutex<Option<LambdaFunction>>,
    log: std::sync::Mutex<Option<PathBuf>>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("binary", &self.spec.binary)
            .finish_non_exhaustive()
    }
}

impl Function {
    /// Starts `spec`'s binary and waits until it asks for its first invocation, so that a
    /// binary that is not built or whose configuration fails stops the runner at once.
    pub async fn start(
        tools: &Tools,
        emulator: &Arc<RuntimeEmulator>,
        spec: FunctionSpec,
    ) -> Result<Arc<Self>, TriggerError> {
        let function = Arc::new(Self {
            tools: tools.clone(),
            emulator: Arc::clone(emulator),
            spec,
            instance: Mutex::new(None),
            log: std::sync::Mutex::new(None),
        });
        let mut instance = function.launch().await.map_err(|e| function.failed(&e))?;
        if let Err(error) = instance.initialized(INIT_LIMIT).await {
            let failed = function.failed(&error);
            if let Err(error) = instance.stop().await {
                tracing::warn!(%error, "stopping a binary that failed to start");
            }
            return Err(failed);
        }
        tracing::info!(
            function = %function.spec.binary,
            pid = instance.pid(),
            log = %instance.log().display(),
            "Lambda binary started"
        );
        *function.instance.lock().await = Some(instance);
        Ok(function)
    }

    pub fn binary(&self) -> &str {
        &self.spec.binary
    }

    /// The function's timeout, as deployed (or as the runner was told).
    pub fn timeout(&self) -> Duration {
        self.spec.timeout
    }

    /// The log file of its current (or last) execution environment.
    pub fn log(&self) -> Option<PathBuf> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn launch(&self) -> Result<LambdaFunction, local_stack::Error> {
        let instance = LambdaFunction::start(&self.tools, &self.emulator, &self.spec).await?;
        *self
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(instance.log().to_owned());
        Ok(instance)
    }

    fn failed(&self, error: &local_stack::Error) -> TriggerError {
        TriggerError::Function {
            function: self.spec.binary.clone(),
            message: error.to_string(),
        }
    }

    /// One invocation with `payload`: the handler's response, or why the invocation failed as
    /// a whole (a function error, a crash, a timeout), which the mapping treats as Lambda does.
    pub async fn invoke(&self, payload: &Value) -> Result<Value, HandlerError> {
        let mut slot = self.instance.lock().await;
        let mut instance = match slot.take() {
            Some(instance) => instance,
            None => {
                let instance = self.launch().await?;
                tracing::info!(
                    function = %self.spec.binary,
                    pid = instance.pid(),
                    log = %instance.log().display(),
                    "started a new execution environment"
                );
                instance
            }
        };
        match instance.invoke(payload).await {
            Ok(Invocation::Response(response)) => {
                *slot = Some(instance);
                Ok(response)
            }
            Ok(Invocation::FunctionError {
                error_type,
                error_message,
            }) => {
                *slot = Some(instance);
                Err(format!("{error_type}: {error_message}").into())
            }
            Err(error) => {
                // Lambda discards an environment that crashed or timed out; so do we. Whatever
                // it still held in the emulator is answered to nobody.
                tracing::warn!(
                    function = %self.spec.binary,
                    error = %error,
                    log = %instance.log().display(),
                    "the invocation ended without an answer; replacing the execution environment"
                );
                if let Err(stop) = instance.stop().await {
                    tracing::warn!(function = %self.spec.binary, error = %stop, "stopping it failed");
                }
                Err(error.into())
            }
        }
    }

    /// Stops the execution environment (SIGTERM, as Lambda shuts one down), if one is idle.
    pub async fn stop(&self) {
        let Some(instance) = self.instance.lock().await.take() else {
            return;
        };
        match instance.stop().await {
            Ok(stopped) if stopped.is_clean() => {}
            Ok(stopped) => tracing::warn!(
                function = %self.spec.binary,
                status = %stopped.status,
                "the binary did not end cleanly on SIGTERM"
            ),
            Err(error) => tracing::warn!(function = %self.spec.binary, %error, "stopping failed"),
        }
    }

    /// The function as a stream mapping's handler: the event serialized as Lambda sends it, the
    /// response read as a `DynamoDbEventResponse` (`null` is no failures).
    pub fn stream_handler(function: Arc<Self>) -> impl StreamHandler {
        move |event: Event| {
            let function = Arc::clone(&function);
            async move {
                let payload = serde_json::to_value(&event)?;
                let response = function.invoke(&payload).await?;
                batch_response::<DynamoDbEventResponse>(response)
            }
        }
    }

    /// The function as an SQS mapping's handler, read as an `SqsBatchResponse`.
    pub fn queue_handler(function: Arc<Self>) -> impl QueueHandler {
        move |event: SqsEvent| {
            let function = Arc::clone(&function);
            async move {
                let payload = serde_json::to_value(&event)?;
                let response = function.invoke(&payload).await?;
                batch_response::<SqsBatchResponse>(response)
            }
        }
    }
}

/// A handler that returns nothing (`null`) reported no failures; anything else must be the
/// batch response, or the invocation failed (Lambda fails a batch whose response it cannot
/// read).
fn batch_response<R: DeserializeOwned + Default>(response: Value) -> Result<R, HandlerError> {
    if response.is_null() {
        return Ok(R::default());
    }
    serde_json::from_value(response.clone())
        .map_err(|e| format!("the response is not a batch response ({e}): {response}").into())
}

/// An EventBridge rule invoking a function at a fixed rate.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The rule's name, as the CDK app calls it (`SchedulerEveryMinute`).
    pub rule: String,
    pub every: Duration,
    pub region: String,
}

impl Schedule {
    /// The event EventBridge sends a target of a scheduled rule.
    pub fn event(&self, at: chrono::DateTime<chrono::Utc>) -> Value {
        json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "000000000000",
            "time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "region": self.region,
            "resources": [format!("arn:aws:events:{}:000000000000:rule/{}", self.region, self.rule)],
            "detail": {}
        })
    }
}

/// Invokes `function` with `schedule`'s event at once and then every `schedule.every`, until
/// `stop`. An invocation still running when the next is due delays it (one environment; the
/// deployed rules' functions finish within their rate). An invocation in flight at `stop` is
/// ended with its environment, as a redeployment would end it: every scheduled job here is
/// safe to cut short (docs/scheduler.md, docs/reconciler.md).
pub async fn run_schedule(schedule: Schedule, function: Arc<Function>, stop: CancellationToken) {
    tracing::info!(
        rule = %schedule.rule,
        function = function.binary(),
        every = ?schedule.every,
        "schedule running"
    );
    let mut ticks = tokio::time::interval(schedule.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let event = schedule.event(chrono::Utc::now());
        tokio::select! {
            () = stop.cancelled() => return,
            outcome = function.invoke(&event) => match outcome {
                Ok(response) => tracing::debug!(rule = %schedule.rule, %response, "scheduled invocation done"),
                Err(error) => tracing::warn!(
                    rule = %schedule.rule,
                    function = function.binary(),
                    error = %conventions::error_chain(error.as_ref()),
                    "scheduled invocation failed (the next one is the retry)"
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn given_a_null_response_when_read_as_a_batch_response_then_nothing_failed() {
        let response: SqsBatchResponse = batch_response(Value::Null).unwrap();
        assert!(response.batch_item_failures.is_empty());
    }

    #[test]
    fn given_reported_failures_when_read_then_they_are_the_batch_items() {
        let response: DynamoDbEventResponse = batch_response(json!({
            "batchItemFailures": [{"itemIdentifier": "42"}]
        }))
        .unwrap();
        assert_eq!(response.batch_item_failures.len(), 1);
    }

    #[test]
    fn given_a_response_that_is_no_batch_response_when_read_then_the_invocation_failed() {
        let result = batch_response::<SqsBatchResponse>(json!("ok"));
        assert!(result.is_err());
    }

    #[test]
    fn given_a_schedule_when_it_fires_then_the_event_is_eventbridges_scheduled_event() {
        let schedule = Schedule {
            rule: "SchedulerEveryMinute".to_owned(),
            every: Duration::from_secs(60),
            region: "us-east-1".to_owned(),
        };
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let event = schedule.event(at);
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["time"], "2026-01-02T03:04:05Z");
        assert_eq!(event["account"], "000000000000");
        assert_eq!(event["detail"], json!({}));
        assert_eq!(
            event["resources"][0],
            "arn:aws:events:us-east-1:000000000000:rule/SchedulerEveryMinute"
        );
    }
}
