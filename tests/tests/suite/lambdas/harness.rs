//! Running one deployed Lambda binary under cargo-lambda's emulator on this test's resources,
//! and the events Lambda would send it, built from what the local stack really holds: stream
//! records read back through the Streams API, messages received from the queues, both turned
//! into Lambda's JSON by the trigger runner's own conversions.

use std::time::Duration;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use e2e::TestEnv;
use event_store::StoredEvent;
use fan_out::{QueueMessage, QueueSender, SqsQueues};
use local_stack::Tools;
use local_stack::lambda::{
    FunctionSpec, Invocation, LambdaFunction, RuntimeEmulator, Stopped, artifact, target_dir_of,
};
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

/// Upper bound for a wait on the stack: a broken emulator fails the test instead of hanging it.
const BUDGET: Duration = Duration::from_secs(30);
/// The variables `local-stack exec` exports for Stripe, passed on to the binaries that read
/// them (the list decides which).
const STRIPE_VARIABLES: [&str; 3] = [
    "STRIPE_API_BASE",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
];

/// One binary under its own emulator.
pub struct Lambda {
    emulator: RuntimeEmulator,
    function: LambdaFunction,
}

impl Lambda {
    /// `binary`'s artifact started with the environment Lambda would give it on this test's
    /// tables and queues (plus `settings`, what its deployment sets beyond the stack).
    pub async fn start(binary: &str, env: &TestEnv, settings: &[(&str, &str)]) -> Self {
        let tools = Tools::from_env();
        let mut spec = FunctionSpec::deployed(binary, artifact_of(binary), stack_env(env))
            .unwrap_or_else(|error| panic!("{binary}: {error}"));
        for (name, value) in settings {
            spec = spec.with_env(*name, *value);
        }
        let emulator = RuntimeEmulator::start(&tools).await.unwrap();
        let function = LambdaFunction::start(&tools, &emulator, &spec)
            .await
            .unwrap_or_else(|error| panic!("{binary}: {error}"));
        Self { emulator, function }
    }

    /// One invocation with `payload`, the function's answer (response or function error).
    pub async fn invoke(&mut self, payload: &Value) -> Invocation {
        let name = self.function.name().to_owned();
        self.function
            .invoke(payload)
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"))
    }

    /// The handler's response; panics on a function error.
    pub async fn respond(&mut self, payload: &Value) -> Value {
        match self.invoke(payload).await {
            Invocation::Response(response) => response,
            Invocation::FunctionError {
                error_type,
                error_message,
            } => panic!(
                "{} failed the invocation: {error_type}: {error_message}\nstderr:\n{}",
                self.function.name(),
                self.function.stderr().join("\n")
            ),
        }
    }

    pub fn function(&mut self) -> &mut LambdaFunction {
        &mut self.function
    }

    /// Stops the binary (SIGTERM) and the emulator; checks the binary ended because it was
    /// told to, not by a crash; prints its cold start for the record.
    pub async fn stop(self) -> Stopped {
        let name = self.function.name().to_owned();
        let init = self.function.init_duration();
        let stopped = self.function.stop().await.unwrap();
        self.emulator.stop().await.unwrap();
        assert!(
            stopped.is_clean(),
            "{name} ended with {} instead of by its stop; stderr:\n{}",
            stopped.status,
            stopped.stderr.join("\n")
        );
        let init = init.unwrap_or_else(|| panic!("{name} never asked for an invocation"));
        // A figure for the benchmark report, not a check: speed is measured by benchmarks.
        eprintln!(
            "lambda cold start: {name} {:.1} ms (process start to first `next`)",
            init.as_secs_f64() * 1_000.0
        );
        stopped
    }
}

/// The artifact `cargo lambda build` wrote for `binary`, in the target directory this test
/// binary was built in.
fn artifact_of(binary: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = target_dir_of(&exe)
        .unwrap_or_else(|| panic!("no cargo target directory above {}", exe.display()));
    artifact(&target, binary)
}

/// The stack's environment for this test: its endpoints, its freshly provisioned tables and
/// queues, and the stack's Stripe.
fn stack_env(env: &TestEnv) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = env
        .endpoints
        .env()
        .into_iter()
        .chain(env.resources.env())
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    for name in STRIPE_VARIABLES {
        if let Ok(value) = std::env::var(name) {
            vars.push((name.to_owned(), value));
        }
    }
    vars
}

// ----------------------------------------------------------------------------- stream events

/// The records of this test's Events stream, as Lambda puts them into an invocation, once at
/// least `count` are there (read from the start of every shard).
pub async fn stream_records(env: &TestEnv, count: usize) -> Vec<Value> {
    let arn = local_triggers::stream_arn(env.dynamodb(), env.events_table())
        .await
        .unwrap();
    let streams = env.streams().await;
    let started = Instant::now();
    loop {
        let mut records = Vec::new();
        let shards = streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .unwrap()
            .stream_description
            .unwrap()
            .shards
            .unwrap_or_default();
        for shard in shards {
            let mut iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id().unwrap())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator;
            while let Some(current) = iterator {
                let page = streams
                    .get_records()
                    .shard_iterator(current)
                    .send()
                    .await
                    .unwrap();
                let got = page.records.unwrap_or_default();
                if got.is_empty() {
                    break;
                }
                for record in &got {
                    let lambda =
                        local_triggers::lambda_event_record(record, &arn, "us-east-1").unwrap();
                    records.push(serde_json::to_value(lambda).unwrap());
                }
                iterator = page.next_shard_iterator;
            }
        }
        if records.len() >= count {
            return records;
        }
        assert!(
            started.elapsed() < BUDGET,
            "the stream holds {} records, not {count}",
            records.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A copy of `record` that no projector or publisher can read (its payload is not an event):
/// a record of another auction, later in the shard, with its own sequence number.
pub fn unreadable_stream_record(record: &Value) -> Value {
    let mut bad = record.clone();
    let aggregate = json!({"S": Uuid::new_v4().to_string()});
    bad["eventID"] = json!(Uuid::new_v4().simple().to_string());
    bad["dynamodb"]["Keys"]["aggregateId"] = aggregate.clone();
    bad["dynamodb"]["NewImage"]["aggregateId"] = aggregate;
    bad["dynamodb"]["NewImage"]["payload"] = json!({"S": "not an event"});
    bad["dynamodb"]["SequenceNumber"] = json!("9".repeat(21));
    bad
}

/// A DynamoDB Streams invocation: `{"Records": [...]}`.
pub fn stream_event(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

// -------------------------------------------------------------------------------- SQS events

/// Sends each stored event to `queue_url` as the publisher does (its message format and sender).
pub async fn publish(env: &TestEnv, queue_url: &str, events: &[&StoredEvent]) {
    let messages: Vec<QueueMessage> = events
        .iter()
        .map(|stored| QueueMessage::for_event(stored).unwrap())
        .collect();
    let results = SqsQueues::new(env.sqs().clone())
        .send_batch(queue_url, &messages)
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

/// Receives `count` messages from the queue (with every attribute, as Lambda's poller does)
/// and returns them as Lambda puts them into an invocation. They stay in flight, unacknowledged.
pub async fn queue_records(
    env: &TestEnv,
    queue_url: &str,
    queue_arn: &str,
    count: usize,
) -> Vec<Value> {
    let started = Instant::now();
    let mut records = Vec::new();
    while records.len() < count {
        assert!(
            started.elapsed() < BUDGET,
            "received {} messages of {count}",
            records.len()
        );
        let received = crate::support::receive(env, queue_url).await;
        for message in &received {
            let lambda = local_triggers::lambda_message(message, queue_arn, "us-east-1");
            records.push(serde_json::to_value(lambda).unwrap());
        }
    }
    records
}

/// A copy of `record` whose body is not an envelope: another message, of its own group.
pub fn unreadable_queue_record(record: &Value) -> Value {
    let mut bad = record.clone();
    let id = Uuid::new_v4().to_string();
    bad["messageId"] = json!(id);
    bad["receiptHandle"] = json!(format!("{id}-receipt"));
    bad["body"] = json!("not an event");
    bad["md5OfBody"] = json!("0f2c4fd3b6e6c1d5a0f0d6b1b2c3d4e5");
    bad["attributes"]["MessageGroupId"] = json!(Uuid::new_v4().to_string());
    bad["messageAttributes"]["aggregateId"]["stringValue"] = json!(Uuid::new_v4().to_string());
    bad
}

/// An SQS invocation: `{"Records": [...]}`.
pub fn queue_event(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

/// The identifiers a batch response reports failed.
pub fn failed_items(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch response: {response}"))
        .iter()
        .map(|failure| failure["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

// ------------------------------------------------------------------------ API Gateway events

/// An HTTP API (payload 2.0) request as API Gateway sends it to its integration; with `caller`,
/// the JWT authorizer accepted the caller's Cognito ID token and its claims ride along
/// (flattened to strings, as API Gateway does).
pub fn http_api_request(
    method: &str,
    path: &str,
    body: Option<&Value>,
    caller: Option<&str>,
) -> Value {
    let now = chrono::Utc::now();
    let mut request_context = json!({
        "accountId": "000000000000",
        "apiId": "e2eapi",
        "domainName": "e2eapi.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "e2eapi",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.10",
            "userAgent": "e2e"
        },
        "requestId": Uuid::new_v4().to_string(),
        "routeKey": "$default",
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis()
    });
    let mut headers = json!({
        "content-type": "application/json",
        "host": "e2eapi.execute-api.us-east-1.amazonaws.com",
        "x-correlation-id": format!("e2e-{}", Uuid::new_v4().simple())
    });
    if let Some(caller) = caller {
        let issued = now.timestamp();
        headers["authorization"] = json!("Bearer eyJraWQiOiJlMmUifQ.eyJzdWIiOiJlMmUifQ.c2ln");
        request_context["authorizer"] = json!({
            "jwt": {
                "claims": {
                    "sub": caller,
                    "cognito:username": caller,
                    "cognito:groups": "[bidders]",
                    "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_e2e",
                    "aud": "e2e-client",
                    "token_use": "id",
                    "iat": issued.to_string(),
                    "exp": (issued + 3_600).to_string()
                },
                "scopes": null
            }
        });
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": request_context,
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
}

/// A WebSocket API event for `route` (`$connect`, `$default`, `$disconnect`) of `connection`.
pub fn websocket_event(
    route: &str,
    connection: &str,
    query: Option<Value>,
    body: Option<&str>,
) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    let event_type = match route {
        "$connect" => "CONNECT",
        "$disconnect" => "DISCONNECT",
        _ => "MESSAGE",
    };
    let mut event = json!({
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": Uuid::new_v4().simple().to_string(),
            "requestTime": chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "messageDirection": "IN",
            "stage": "live",
            "connectedAt": now - 1_000,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": "192.0.2.20"},
            "requestId": Uuid::new_v4().simple().to_string(),
            "domainName": "e2ews.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection,
            "apiId": "e2ews"
        },
        "isBase64Encoded": false
    });
    if let Some(query) = query {
        event["queryStringParameters"] = query;
    }
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

/// An EventBridge schedule's invocation (`Scheduled Event`) of the rule `rule`.
pub fn scheduled_event(rule: &str) -> Value {
    json!({
        "version": "0",
        "id": Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:000000000000:rule/{rule}")],
        "detail": {}
    })
}

/// Waits (at most the budget) until `check` holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < BUDGET, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
