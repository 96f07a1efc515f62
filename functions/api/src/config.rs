//! What both binaries build once at start-up from the standard AWS environment.

use conventions::names;
use std::sync::Arc;

use personal_data::{KmsSubjectKeys, Pseudonyms};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use event_store::{DynamoDbStore, SnapshotPolicy, Store, TableNames};
use fan_out::{QueueUrls, SqsQueues};
use parking::{Consumers, DynamoDbParked, ParkingError};
use payment_identities::{DynamoDbPaymentIdentities, StripeChecker};
use read_models::notifications::DynamoDbNotifications;
use read_models::{DynamoDbViews, ViewAliases, ViewTables};
use stripe_api::webhook::WebhookSecret;
use webhook_deliveries::DynamoDbWebhookDeliveries;

use crate::parked::{Connect, ParkedAdmin, Parking};
use crate::payment_identity::{Identities, ProviderCheck};
use crate::reads::{Inbox, Views};
use crate::webhooks::{QueueForwarder, QueueUrl, Webhooks};

/// Every adapter the router needs: over one DynamoDB client in the binaries, in memory in
/// tests.
pub struct Adapters<B = DynamoDbStore> {
    pub store: Store<B>,
    pub views: Arc<dyn Views>,
    pub inbox: Arc<dyn Inbox>,
    pub parked: Arc<dyn ParkedAdmin>,
    /// The PaymentIdentities table.
    pub identities: Arc<dyn Identities>,
    /// The payment provider's checks (Stripe's API in the binaries).
    pub provider: Arc<dyn ProviderCheck>,
    /// Stripe's webhook: its signing secret, the StripeWebhookDeliveries table and the
    /// payments queue.
    pub webhooks: Webhooks,
    /// Proofs against the log's digests: the StreamHeads table, the digests' bucket, the log.
    pub proofs: Arc<dyn crate::admin::Proofs>,
    /// The subjects' key store: the caller's pseudonym, pseudonyms revealed (docs/privacy.md).
    pub pseudonyms: Arc<dyn Pseudonyms>,
    /// The auctions each user watches (the Watchlist table).
    pub watchlist: Arc<dyn watchlist::Watchlist>,
    /// Each user's email preferences (the EmailNotices table).
    pub email_notices: Arc<dyn email::PreferenceStore>,
    /// The key that checks unsubscribe links (a KMS HMAC key in AWS).
    pub link_key: Arc<dyn email::LinkKey>,
    /// Item photos: the bucket, and where thumbnails are served.
    pub media: crate::item_photos::Media,
}

/// The API's two buckets.
pub struct Buckets {
    /// The log's digests (`DIGEST_BUCKET`), for the proofs.
    pub digests: notary::S3Archive,
    /// Item photos (`PHOTOS_BUCKET`) and where their thumbnails are served (`MEDIA_URL`).
    pub photos: crate::item_photos::Media,
}

/// The API's two uses of KMS keys.
pub struct Keys {
    /// The subjects' key store: pseudonyms made and revealed (docs/privacy.md).
    pub subjects: KmsSubjectKeys,
    /// The key that checks unsubscribe links.
    pub links: email::KmsLinkKey,
}

/// The names of every table the API reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub store: TableNames,
    pub auction_views: String,
    pub user_bids: String,
    pub notifications: String,
    /// Where the views' alias lives: the view tables above are used until a rebuild switches
    /// the alias to fresh ones.
    pub read_model_aliases: String,
    /// What the consumers gave up on, for the admin routes.
    pub parked: String,
    /// Who pays and who is paid.
    pub payment_identities: String,
    /// Which deliveries of Stripe's webhook events arrived, and which events were handled.
    pub stripe_webhook_deliveries: String,
    /// Every stream's head: the projector moves it when a replay redelivers to it, and the
    /// proofs of the log's digests read the last digest's sequence from it.
    pub stream_heads: String,
    /// The auctions each user watches.
    pub watchlist: String,
    /// Each user's email preferences, and the notices emailed to them.
    pub email_notices: String,
}

impl Tables {
    /// From `EVENTS_TABLE`, `SNAPSHOTS_TABLE`, `IDEMPOTENCY_TABLE`, `AUCTION_VIEWS_TABLE`,
    /// `USER_BIDS_TABLE`, `NOTIFICATIONS_TABLE`, `READ_MODEL_ALIASES_TABLE`, `PARKED_TABLE`,
    /// `PAYMENT_IDENTITIES_TABLE`, `STRIPE_WEBHOOK_DELIVERIES_TABLE`, `STREAM_HEADS_TABLE`,
    /// `WATCHLIST_TABLE` and `EMAIL_NOTICES_TABLE`, each defaulting to the stack's name.
    pub fn from_env() -> Self {
        let views = ViewTables::from_env();
        Self {
            store: TableNames::from_env(),
            auction_views: views.auction_views,
            user_bids: views.user_bids,
            notifications: names::NOTIFICATIONS_TABLE.from_env(),
            read_model_aliases: names::READ_MODEL_ALIASES_TABLE.from_env(),
            parked: names::PARKED_TABLE.from_env(),
            payment_identities: names::PAYMENT_IDENTITIES_TABLE.from_env(),
            stripe_webhook_deliveries: names::STRIPE_WEBHOOK_DELIVERIES_TABLE.from_env(),
            stream_heads: names::STREAM_HEADS_TABLE.from_env(),
            watchlist: names::WATCHLIST_TABLE.from_env(),
            email_notices: names::EMAIL_NOTICES_TABLE.from_env(),
        }
    }
}

/// Every adapter over one DynamoDB client and these tables, with `provider` checking the ids
/// users register, and Stripe's webhook verified with `webhook_secret` and forwarded to the
/// payments queue over `sqs` (its URL from `PAYMENTS_QUEUE_URL`, or looked up by
/// `PAYMENTS_QUEUE`, on the first forward).
///
/// A replay of a parked item redelivers to the production consumers over the same tables (the
/// projector's handler writing these views, the queues for the others), whose queue URLs come
/// from the environment (`NOTIFICATIONS_QUEUE_URL`, `PAYMENTS_QUEUE_URL`, `LIVE_QUEUE_URL`, or
/// found by the queues' names): they are resolved on the first replay, not here, because that
/// calls SQS and the API must start, and serve bids, whether or not SQS answers.
pub fn adapters(
    client: aws_sdk_dynamodb::Client,
    tables: Tables,
    provider: Arc<dyn ProviderCheck>,
    webhook_secret: WebhookSecret,
    sqs: aws_sdk_sqs::Client,
    buckets: Buckets,
    keys: Keys,
) -> Adapters {
    let log = DynamoDbStore::new(client.clone(), tables.store);
    let views = DynamoDbViews::aliased(
        client.clone(),
        ViewAliases::new(client.clone(), tables.read_model_aliases),
        ViewTables {
            auction_views: tables.auction_views,
            user_bids: tables.user_bids,
        },
    );
    let heads = notary::HeadsTable::new(client.clone(), tables.stream_heads.clone());
    let connect: Connect<Consumers> = {
        let (log, views, heads) = (log.clone(), views.clone(), heads.clone());
        Box::new(move || {
            let (log, views, heads) = (log.clone(), views.clone(), heads.clone());
            Box::pin(async move {
                let queues = SqsQueues::new(aws_sdk_sqs::Client::new(&sdk_config().await));
                let urls =
                    QueueUrls::from_env(&queues)
                        .await
                        .map_err(|e| ParkingError::Unreachable {
                            consumer: "the queues".to_owned(),
                            reason: e.to_string(),
                        })?;
                Ok(Consumers::new(log, views, heads, queues, urls))
            })
        })
    };
    let proofs = Arc::new(notary::Prover::new(heads, buckets.digests, log.clone()));
    Adapters {
        proofs,
        pseudonyms: Arc::new(keys.subjects),
        store: Store::new(log.clone(), SnapshotPolicy::default()),
        views: Arc::new(views),
        inbox: Arc::new(DynamoDbNotifications::new(
            client.clone(),
            tables.notifications,
        )),
        parked: Arc::new(Parking::connecting(
            DynamoDbParked::new(client.clone(), tables.parked),
            log,
            connect,
        )),
        identities: Arc::new(DynamoDbPaymentIdentities::new(
            client.clone(),
            tables.payment_identities,
        )),
        watchlist: Arc::new(watchlist::DynamoDbWatchlist::new(
            client.clone(),
            tables.watchlist,
        )),
        email_notices: Arc::new(email::DynamoDbEmailNotices::new(
            client.clone(),
            tables.email_notices,
        )),
        link_key: Arc::new(keys.links),
        media: buckets.photos,
        provider,
        webhooks: Webhooks::new(
            webhook_secret,
            Arc::new(DynamoDbWebhookDeliveries::new(
                client,
                tables.stripe_webhook_deliveries,
            )),
            Arc::new(QueueForwarder::new(
                Arc::new(SqsQueues::new(sqs)),
                QueueUrl::FromEnv,
            )),
        ),
    }
}

/// The adapters over DynamoDB: endpoint, region and credentials from the standard AWS
/// environment, table names from [`Tables::from_env`]; ids checked with Stripe
/// ([`StripeChecker::from_env`]: `STRIPE_API_BASE`, and the key from `STRIPE_SECRET_KEY` or the
/// Secrets Manager secret `STRIPE_SECRET_KEY_ID` names); the webhook's signing secret from
/// `STRIPE_WEBHOOK_SECRET`, or the Secrets Manager secret `STRIPE_WEBHOOK_SECRET_ID` names. Fails
/// when Stripe's client or the webhook's secret cannot be configured: an API that cannot check
/// ids, or cannot tell Stripe's webhooks from forgeries, must not start.
pub async fn dynamodb() -> anyhow::Result<Adapters> {
    let sdk = sdk_config().await;
    let provider = StripeChecker::from_env(&sdk).await?;
    let webhook_secret = WebhookSecret::from_env(&sdk).await?;
    Ok(adapters(
        aws_sdk_dynamodb::Client::new(&sdk),
        Tables::from_env(),
        Arc::new(provider),
        webhook_secret,
        aws_sdk_sqs::Client::new(&sdk),
        Buckets {
            digests: notary::config::archive_from_env(&sdk),
            photos: crate::item_photos::Media::new(
                Arc::new(photos::S3Photos::from_env(&sdk)?),
                &conventions::names::MEDIA_URL.from_env(),
            ),
        },
        Keys {
            subjects: KmsSubjectKeys::from_env(
                aws_sdk_dynamodb::Client::new(&sdk),
                aws_sdk_kms::Client::new(&sdk),
            ),
            links: email::KmsLinkKey::from_env(aws_sdk_kms::Client::new(&sdk)),
        },
    ))
}

/// The DynamoDB client every adapter of the API shares, with the API's time budget.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

/// The standard AWS environment with the API's time budget, for every client the API makes.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .retry_config(retries())
        .load()
        .await
}

/// A bidder waits on DynamoDB, so an unreachable or hung table must turn into a 503 within
/// seconds rather than hold the request until API Gateway (30 s) or the Lambda (10 s) gives
/// up: a connection gets 1 s, an attempt 2 s, the whole call with its retries 5 s.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build()
}

/// The SDK's standard retries (3 attempts, jittered exponential backoff), with the backoff
/// capped at 1 s (the default cap, 20 s, is beyond a request's budget).
pub fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_max_backoff(Duration::from_secs(1))
}
