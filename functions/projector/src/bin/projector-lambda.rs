//! The projector Lambda: the Events table's stream (NEW_IMAGE, ReportBatchItemFailures) in,
//! the read models out.

use aws_config::BehaviorVersion;
use aws_lambda_events::event::dynamodb::Event;
use event_store::DynamoDbStore;
use lambda_runtime::{LambdaEvent, service_fn};
use read_models::{DynamoDbViews, ViewAliases, ViewTables, event_tables_from_env, handle};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .init();
    // Built once per execution environment, shared by every invocation.
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    // Through the alias, so that a rebuild can switch the tables under a running function.
    let views = DynamoDbViews::aliased(
        client.clone(),
        ViewAliases::from_env(client.clone()),
        ViewTables::from_env(),
    );
    let log = DynamoDbStore::new(client, event_tables_from_env());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async {
        handle(&views, &log, event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
