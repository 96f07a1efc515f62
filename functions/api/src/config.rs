//! What both binaries build once at start-up from the standard AWS environment.

use aws_config::BehaviorVersion;
use event_store::{DynamoDbStore, SnapshotPolicy, Store, TableNames};

/// The event store over DynamoDB: endpoint, region and credentials from the standard AWS
/// environment; table names from `EVENTS_TABLE`, `SNAPSHOTS_TABLE`, `IDEMPOTENCY_TABLE`.
pub async fn dynamodb_store() -> Store<DynamoDbStore> {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    Store::new(
        DynamoDbStore::new(client, TableNames::from_env()),
        SnapshotPolicy::default(),
    )
}

/// JSON log lines (one object per line, with the request span's correlation id), filtered by
/// `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
