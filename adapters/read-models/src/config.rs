//! What the projector Lambda builds once per execution environment.

use aws_config::BehaviorVersion;
use event_store::DynamoDbStore;

use crate::aliases::ViewAliases;
use crate::dynamodb::DynamoDbViews;
use crate::tables::{ViewTables, event_tables_from_env};

/// The projector's ports: the views it writes and the log it fills gaps from.
pub struct Projector {
    pub views: DynamoDbViews,
    pub log: DynamoDbStore,
    /// Every stream's head (`STREAM_HEADS_TABLE`), for the log's digests.
    pub heads: notary::HeadsTable,
}

/// The views through the alias in `READ_MODEL_ALIASES_TABLE`, so that a rebuild can switch the
/// tables under a running function (falling back to `AUCTION_VIEWS_TABLE`, `USER_BIDS_TABLE`),
/// and the log from the event store's variables.
pub async fn projector_from_env() -> Projector {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    Projector {
        views: DynamoDbViews::aliased(
            client.clone(),
            ViewAliases::from_env(client.clone()),
            ViewTables::from_env(),
        ),
        log: DynamoDbStore::new(client.clone(), event_tables_from_env()),
        heads: notary::config::heads_from_env(client),
    }
}
