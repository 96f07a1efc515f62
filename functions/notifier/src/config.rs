//! What the Lambda main builds once at start-up from the standard AWS environment.

use aws_config::BehaviorVersion;
use event_store::{DynamoDbStore, TableNames};
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

use crate::context::LogContexts;
use crate::dynamodb::DynamoDbNotifications;

/// The variable naming the Notifications table, and the table's name when it is unset (the
/// same as the stack's `NOTIFICATIONS_TABLE` spec).
pub const TABLE_ENV: &str = "NOTIFICATIONS_TABLE";
pub const DEFAULT_TABLE: &str = "Notifications";

/// The handler's two ports over DynamoDB: the event store's tables from `EVENTS_TABLE`,
/// `SNAPSHOTS_TABLE`, `IDEMPOTENCY_TABLE`, the inbox from `NOTIFICATIONS_TABLE`.
pub async fn from_env() -> (LogContexts<DynamoDbStore>, DynamoDbNotifications) {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let tables = TableNames::from_env();
    (
        LogContexts::new(DynamoDbStore::new(client.clone(), tables)),
        DynamoDbNotifications::new(client, conventions::name_from_env(TABLE_ENV, DEFAULT_TABLE)),
    )
}

/// JSON log lines filtered by `RUST_LOG` (default `info`); each line carries the fields of the
/// message span it was logged in (message, correlation and causation ids, event id).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    json_logs(std::io::stderr, filter).init();
}

/// The log format of [`init_logging`], writing to `writer`.
pub fn json_logs<W>(writer: W, filter: EnvFilter) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}
