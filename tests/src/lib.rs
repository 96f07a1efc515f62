//! End-to-end test support: each test gets its own freshly provisioned tables and queues on the
//! running local stack.
//!
//! The stack itself is started outside the tests (`scripts/test`, or
//! `cargo run -p local-stack -- exec -- cargo test`), which hands its endpoints over in the
//! standard AWS variables; [`TestEnv`] reads them like any platform binary would.
//!
//! This crate may depend on every crate of the workspace, and nothing may depend on it.

pub mod fixtures;

use aws_sdk_dynamodb::Client as DynamodbClient;
use aws_sdk_sqs::Client as SqsClient;
use local_stack::{Clients, Endpoints, Provisioned, ProvisionedQueue, ResourceNames, provision};

/// Why a test environment could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TestEnvError {
    /// The endpoint variables are unset: the tests were run without the stack.
    #[error(
        "the end-to-end tests need the local stack ({reason}). Run them with `scripts/test`, \
         or `cargo run -p local-stack -- exec -- cargo test`"
    )]
    NoStack { reason: local_stack::Error },

    /// The stack is there but provisioning this test's resources failed.
    #[error("provisioning the test's tables and queues failed")]
    Provision(#[source] local_stack::Error),
}

/// An email as moto's SES kept it (moto keeps the HTML part when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub id: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// Every email moto at `endpoint` sent, from its model data.
pub async fn sent_emails(endpoint: &str) -> Result<Vec<SentEmail>, Box<dyn std::error::Error>> {
    use http_body_util::{BodyExt, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<hyper::body::Bytes>>();
    let uri = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/')).parse()?;
    let response = client.get(uri).await?;
    let body = response.into_body().collect().await?.to_bytes();
    let data: serde_json::Value = serde_json::from_slice(&body)?;
    let text =
        |value: &serde_json::Value, key: &str| value[key].as_str().unwrap_or_default().to_owned();
    Ok(data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|message| SentEmail {
            id: text(message, "id"),
            from: text(message, "source"),
            to: message["destinations"]["ToAddresses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|address| address.as_str().map(str::to_owned))
                .collect(),
            subject: text(message, "subject"),
            body: text(message, "body"),
        })
        .collect())
}

/// One test's view of the local stack: clients, and tables and queues no other test uses.
#[derive(Debug, Clone)]
pub struct TestEnv {
    pub endpoints: Endpoints,
    pub clients: Clients,
    pub resources: Provisioned,
}

impl TestEnv {
    /// Provisions a fresh copy of every table and queue under a unique prefix.
    ///
    /// # Panics
    ///
    /// When the stack is not running or provisioning fails, with a message saying what to do:
    /// this is test setup, and a panic is how a test reports it.
    pub async fn new() -> Self {
        match Self::try_new().await {
            Ok(env) => env,
            Err(error) => panic!("{}", error_chain(&error)),
        }
    }

    /// As [`TestEnv::new`], returning the error.
    pub async fn try_new() -> Result<Self, TestEnvError> {
        let endpoints = Endpoints::from_env().map_err(|reason| TestEnvError::NoStack { reason })?;
        let clients = Clients::connect(&endpoints).await;
        // Short, because SQS queue names are limited to 80 characters.
        let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
        let names = ResourceNames::with_prefix(&prefix);
        let resources = provision(&clients, &names)
            .await
            .map_err(TestEnvError::Provision)?;
        Ok(Self {
            endpoints,
            clients,
            resources,
        })
    }

    pub fn dynamodb(&self) -> &DynamodbClient {
        &self.clients.dynamodb
    }

    pub fn sqs(&self) -> &SqsClient {
        &self.clients.sqs
    }

    pub fn names(&self) -> &ResourceNames {
        &self.resources.names
    }

    /// The event store on this test's tables.
    pub fn event_store(&self) -> event_store::DynamoDbStore {
        event_store::DynamoDbStore::new(
            self.clients.dynamodb.clone(),
            fixtures::table_names(self.names()),
        )
    }

    /// The command side over this test's tables, snapshotting every 100 events.
    pub fn store(&self) -> event_store::Store<event_store::DynamoDbStore> {
        self.store_snapshotting(100)
    }

    /// The command side over this test's tables, a snapshot every `every` events (0: none),
    /// written before each command returns so that a test sees it at once.
    pub fn store_snapshotting(&self, every: u64) -> event_store::Store<event_store::DynamoDbStore> {
        event_store::Store::new(
            self.event_store(),
            event_store::SnapshotPolicy::inline(every),
        )
    }

    /// The read models (AuctionListView, UserBids) on this test's tables.
    pub fn views(&self) -> read_models::DynamoDbViews {
        read_models::DynamoDbViews::new(
            self.clients.dynamodb.clone(),
            read_models::ViewTables {
                auction_views: self.names().auction_views_table.clone(),
                user_bids: self.names().user_bids_table.clone(),
            },
        )
    }

    pub fn events_table(&self) -> &str {
        &self.resources.names.events_table
    }

    pub fn notifications_queue(&self) -> &ProvisionedQueue {
        &self.resources.notifications
    }

    pub fn payments_queue(&self) -> &ProvisionedQueue {
        &self.resources.payments
    }

    pub fn live_queue(&self) -> &ProvisionedQueue {
        &self.resources.live
    }

    /// A DynamoDB Streams client for this stack (DynamoDB Local serves its streams on the
    /// DynamoDB endpoint).
    pub async fn streams(&self) -> aws_sdk_dynamodbstreams::Client {
        let sdk = local_stack::sdk_config().await;
        aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
                .endpoint_url(&self.endpoints.dynamodb)
                .build(),
        )
    }

    /// This test's StreamHeads table: every stream's head, what the log's digests are made of.
    pub fn heads(&self) -> notary::HeadsTable {
        notary::HeadsTable::new(
            self.dynamodb().clone(),
            self.names().stream_heads_table.clone(),
        )
    }

    /// This test's digest bucket (Object Lock) in moto's S3.
    pub fn archive(&self) -> notary::S3Archive {
        notary::S3Archive::new(self.clients.s3.clone(), self.names().digest_bucket.clone())
    }

    /// This test's digest signing key in moto's KMS.
    pub async fn signer(&self) -> notary::KmsSigner {
        match notary::KmsSigner::resolve(self.clients.kms.clone(), &self.names().digest_key).await {
            Ok(signer) => signer,
            Err(error) => panic!("the test's signing key: {error}"),
        }
    }

    /// This test's key store of the subjects' keys, in DynamoDB Local and moto's KMS.
    pub fn subject_keys(&self) -> personal_data::KmsSubjectKeys {
        personal_data::KmsSubjectKeys::new(
            self.dynamodb().clone(),
            self.clients.kms.clone(),
            self.names().subject_keys_table.clone(),
            self.names().subject_key.clone(),
        )
    }

    /// `user`'s pseudonym in this test's key store: what the API turns their `sub` into, and so
    /// what the log, the views, the inbox and the payment identities hold for them.
    pub async fn pseudonym(&self, user: &str) -> events::UserId {
        use personal_data::Pseudonyms;
        let user = crate::fixtures::user(user);
        match self.subject_keys().pseudonym_of(&user).await {
            Ok(pseudonym) => pseudonym,
            Err(error) => panic!("no pseudonym for {user:?}: {error}"),
        }
    }

    /// Email notices as the notifier sends them, on this test's EmailNotices table and
    /// unsubscribe key, through moto's SES, with links to `http://web.test/`.
    pub fn mail(
        &self,
    ) -> email::EmailNotices<email::DynamoDbEmailNotices, email::SesMailer, email::KmsLinkKey> {
        email::EmailNotices::new(
            self.email_notices(),
            email::SesMailer::new(
                self.clients.ses.clone(),
                conventions::names::EMAIL_FROM.default,
            ),
            self.link_key(),
            email::Links::new("http://web.test/", "http://api.test"),
        )
    }

    /// This test's photos bucket in moto's S3, with the local stack's dummy credentials to sign
    /// grants.
    pub async fn photos(&self) -> photos::S3Photos {
        let sdk = local_stack::sdk_config().await;
        let credentials = match aws_config::SdkConfig::credentials_provider(&sdk) {
            Some(credentials) => credentials,
            None => panic!("the local stack's SDK configuration has no credentials"),
        };
        photos::S3Photos::new(
            self.clients.s3.clone(),
            self.names().photos_bucket.clone(),
            credentials,
        )
    }

    /// The photos bucket as the API serves it, thumbnails under `http://media.test`.
    pub async fn media(&self) -> api::item_photos::Media {
        api::item_photos::Media::new(
            std::sync::Arc::new(self.photos().await),
            "http://media.test",
        )
    }

    /// This test's EmailNotices table (preferences and sent marks).
    pub fn email_notices(&self) -> email::DynamoDbEmailNotices {
        email::DynamoDbEmailNotices::new(
            self.dynamodb().clone(),
            self.names().email_notices_table.clone(),
        )
    }

    /// This test's key for unsubscribe links, in moto's KMS.
    pub fn link_key(&self) -> email::KmsLinkKey {
        email::KmsLinkKey::new(
            self.clients.kms.clone(),
            self.names().unsubscribe_key.clone(),
        )
    }

    /// Every email moto's SES sent to `to` (tests give each user an address of their own), in
    /// the order sent: moto keeps them, and shows them at `/moto-api/data.json`.
    pub async fn emails_to(&self, to: &str) -> Vec<SentEmail> {
        sent_emails(&self.endpoints.sqs)
            .await
            .unwrap_or_else(|error| panic!("reading moto's sent emails: {error}"))
            .into_iter()
            .filter(|email| email.to.iter().any(|address| address == to))
            .collect()
    }

    /// This test's Parked table.
    pub fn parked(&self) -> parking::DynamoDbParked {
        parking::DynamoDbParked::new(self.dynamodb().clone(), self.names().parked_table.clone())
    }

    /// The real consumers on this test's tables and queues, as a replay or the reconciler
    /// redelivers to them (no broadcaster: tests have no live endpoint).
    pub fn consumers(&self) -> parking::Consumers {
        let names = self.names();
        let (notifications, payments, live) = (
            self.notifications_queue().url.clone(),
            self.payments_queue().url.clone(),
            self.live_queue().url.clone(),
        );
        parking::Consumers::new(
            self.event_store(),
            read_models::DynamoDbViews::aliased(
                self.dynamodb().clone(),
                read_models::ViewAliases::new(
                    self.dynamodb().clone(),
                    names.read_model_aliases_table.clone(),
                ),
                read_models::ViewTables {
                    auction_views: names.auction_views_table.clone(),
                    user_bids: names.user_bids_table.clone(),
                },
            ),
            self.heads(),
            fan_out::SqsQueues::new(self.sqs().clone()),
            fan_out::QueueUrls::from_fn(|queue| match queue {
                fan_out::Queue::Notifications => notifications.clone(),
                fan_out::Queue::Payments => payments.clone(),
                fan_out::Queue::Live => live.clone(),
            }),
        )
    }

    /// A stream event source mapping named `name` on this test's Events table, with its
    /// on-failure destination, and the clients to run it (`local_triggers::run_stream`).
    pub async fn stream_mapping(
        &self,
        name: &str,
    ) -> (local_triggers::StreamMapping, local_triggers::StreamClients) {
        let arn = match local_triggers::stream_arn(self.dynamodb(), self.events_table()).await {
            Ok(arn) => arn,
            Err(error) => panic!("the test's Events table has no stream: {error}"),
        };
        let clients = local_triggers::StreamClients {
            streams: self.streams().await,
            sqs: self.sqs().clone(),
            checkpoints: local_triggers::DynamoDbCheckpoints::new(
                self.dynamodb().clone(),
                self.names().trigger_checkpoints_table.clone(),
            ),
        };
        let mut mapping = local_triggers::StreamMapping::new(name, arn);
        mapping.on_failure_queue_url = Some(self.resources.stream_failures.url.clone());
        (mapping, clients)
    }
}

/// An error and its sources, one per line, so that a panic shows the root cause.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str("\n  caused by: ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
