//! The broadcaster behind the live queue's (`live.fifo`) SQS event source mapping
//! (ReportBatchItemFailures on): each update pushed to its auction's watchers through the
//! WebSocket stage's management API (`LIVE_ENDPOINT_URL`). See `live::broadcast`.

use aws_config::BehaviorVersion;
use aws_lambda_events::event::sqs::SqsEvent;
use event_store::{DynamoDbStore, TableNames};
use lambda_runtime::{LambdaEvent, service_fn};
use live::{DynamoDbSubscriptions, ManagementApi, config, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    conventions::init_json_logging();
    let endpoint = config::endpoint().ok_or(
        "LIVE_ENDPOINT_URL is not set: the broadcaster pushes through the WebSocket stage's \
         management endpoint, https://{api-id}.execute-api.{region}.amazonaws.com/{stage}",
    )?;
    // Built once per execution environment, shared by every invocation.
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let subscriptions = DynamoDbSubscriptions::new(client.clone(), config::connections_table());
    let push = ManagementApi::new(&sdk, &endpoint);
    let log = DynamoDbStore::new(client, TableNames::from_env());
    let (subscriptions, push, log) = (&subscriptions, &push, &log);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        handle(subscriptions, push, log, event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
