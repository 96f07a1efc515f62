//! What both binaries build once at start-up from the standard AWS environment.

use event_store::{DynamoDbStore, TableNames};
use parking::DynamoDbParked;
use payments::DynamoDbSagaStates;
use read_models::{DynamoDbViews, ViewAliases, ViewTables};

use crate::dynamodb::DynamoDbNotices;
use crate::error::ReconcilerError;
use crate::ports::Ports;
use crate::settings::Settings;

/// The ports as the deployed reconciler runs them.
pub type DeployedPorts = Ports<
    DynamoDbStore,
    DynamoDbSagaStates,
    DynamoDbViews,
    DynamoDbNotices,
    parking::Consumers,
    DynamoDbParked,
>;

/// What both binaries build once: the ports over the standard AWS environment, and the
/// settings (`RECONCILE_*`).
pub struct Deployed {
    pub ports: DeployedPorts,
    pub settings: Settings,
}

/// The settings first (a bad one refuses to start before any client is built), then the ports
/// (see [`ports_from_env`]).
pub async fn from_env() -> Result<Deployed, ReconcilerError> {
    let settings = Settings::from_env()?;
    let sdk = aws_config::load_from_env().await;
    Ok(Deployed {
        ports: ports_from_env(&sdk).await?,
        settings,
    })
}

/// The log from `EVENTS_TABLE`, `SNAPSHOTS_TABLE`, `IDEMPOTENCY_TABLE`; the sagas from
/// `PAYMENT_SAGAS_TABLE`; the views through the alias in `READ_MODEL_ALIASES_TABLE` (falling
/// back to `AUCTION_VIEWS_TABLE`, `USER_BIDS_TABLE`), as the projector finds them; the inbox from
/// `NOTIFICATIONS_TABLE`; the consumers as parking builds them (the queues' URLs among them);
/// the parked items from `PARKED_TABLE`, as the parker writes them.
pub async fn ports_from_env(sdk: &aws_config::SdkConfig) -> Result<DeployedPorts, ReconcilerError> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    Ok(Ports {
        log: DynamoDbStore::new(client.clone(), TableNames::from_env()),
        sagas: DynamoDbSagaStates::from_env(client.clone()),
        views: DynamoDbViews::aliased(
            client.clone(),
            ViewAliases::from_env(client.clone()),
            ViewTables::from_env(),
        ),
        notices: DynamoDbNotices::from_env(client.clone()),
        consumers: parking::Consumers::from_env(sdk).await?,
        parked: DynamoDbParked::from_env(client),
    })
}
