//! What both binaries build once at start-up from the standard AWS environment.

use event_store::{DynamoDbStore, TableNames};
use parking::DynamoDbParked;
use payments::DynamoDbSagaStates;
use read_models::{DynamoDbViews, ViewAliases, ViewTables};

use crate::dynamodb::DynamoDbNotices;
use crate::error::ReconcilerError;
use crate::reconcile::Ports;

/// The ports as the deployed reconciler runs them.
pub type DeployedPorts = Ports<
    DynamoDbStore,
    DynamoDbSagaStates,
    DynamoDbViews,
    DynamoDbNotices,
    parking::Consumers,
    DynamoDbParked,
>;

/// The log from `EVENTS_TABLE`, `SNAPSHOTS_TABLE`, `IDEMPOTENCY_TABLE`; the sagas from
/// `PAYMENT_SAGAS_TABLE`; the views through the alias in `READ_MODEL_ALIASES_TABLE` (falling
/// back to `AUCTION_VIEWS_TABLE`, `USER_BIDS_TABLE`), as the projector finds them; the inbox from
/// `NOTIFICATIONS_TABLE`; the consumers as parking builds them (the queues' URLs among them);
/// the parked items from `PARKED_TABLE`, as the parker writes them.
pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<DeployedPorts, ReconcilerError> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    Ok(Ports {
        log: DynamoDbStore::new(client.clone(), TableNames::from_env()),
        sagas: DynamoDbSagaStates::new(
            client.clone(),
            conventions::name_from_env(payments::TABLE_ENV, payments::DEFAULT_TABLE),
        ),
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
