//! Creating the platform's tables and queues, idempotently.

use std::time::Duration;

use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    StreamSpecification, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use tokio::time::Instant;

use crate::resources::{
    DLQ_RETENTION_SECS, IndexProjection, IndexSpec, KeyAttribute, LIVE_QUEUE, NOTIFICATIONS_QUEUE,
    PAYMENTS_QUEUE, QueueSpec, STREAM_FAILURES_QUEUE, StandardQueueSpec, TableSpec, dlq_name,
};
use crate::{Clients, Error, ResourceNames, Result};

/// CreateTable on DynamoDB Local is ACTIVE at once; in AWS it takes seconds.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);
const TABLE_POLL: Duration = Duration::from_millis(200);

/// A provisioned FIFO queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedQueue {
    pub name: String,
    pub url: String,
    pub arn: String,
    pub dlq_name: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

/// What [`provision`] created or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub names: ResourceNames,
    pub notifications: ProvisionedQueue,
    pub payments: ProvisionedQueue,
    pub live: ProvisionedQueue,
    /// The stream mappings' on-failure destination.
    pub stream_failures: ProvisionedStandardQueue,
    /// Where the photos bucket announces each original uploaded, with its DLQ.
    pub photo_uploads: ProvisionedQueue,
}

/// A provisioned standard queue (no DLQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedStandardQueue {
    pub name: String,
    pub url: String,
    pub arn: String,
}

impl Provisioned {
    /// Each queue spec with what was provisioned for it.
    pub fn queues(&self) -> Vec<(&'static QueueSpec, &ProvisionedQueue)> {
        vec![
            (&NOTIFICATIONS_QUEUE, &self.notifications),
            (&PAYMENTS_QUEUE, &self.payments),
            (&LIVE_QUEUE, &self.live),
        ]
    }

    /// The variables that tell a binary the resources' names and the queues' URLs.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.names.env();
        for (spec, queue) in self.queues() {
            env.push((spec.url_env, queue.url.clone()));
            env.push((spec.dlq_url_env, queue.dlq_url.clone()));
        }
        env.push((
            STREAM_FAILURES_QUEUE.url_env,
            self.stream_failures.url.clone(),
        ));
        env.push((
            conventions::names::PHOTO_UPLOADS_QUEUE_URL_ENV,
            self.photo_uploads.url.clone(),
        ));
        env
    }
}

/// Creates every table and queue under `names`, leaving existing ones in place (an existing
/// queue's attributes are brought back to the definition). Returns once every table is ACTIVE.
pub async fn provision(clients: &Clients, names: &ResourceNames) -> Result<Provisioned> {
    let tables = async {
        for (spec, name) in names.tables() {
            create_table(&clients.dynamodb, spec, name).await?;
        }
        Ok(())
    };
    let ((), notifications, payments, live, stream_failures, (), (), (), photo_uploads) = tokio::try_join!(
        tables,
        provision_queue(
            &clients.sqs,
            &NOTIFICATIONS_QUEUE,
            &names.notifications_queue
        ),
        provision_queue(&clients.sqs, &PAYMENTS_QUEUE, &names.payments_queue),
        provision_queue(&clients.sqs, &LIVE_QUEUE, &names.live_queue),
        provision_standard_queue(
            &clients.sqs,
            &STREAM_FAILURES_QUEUE,
            &names.stream_failures_queue
        ),
        provision_digests(clients, names),
        provision_subject_key(clients, names),
        provision_email(clients, names),
        provision_photos(clients, names),
    )?;
    Ok(Provisioned {
        names: names.clone(),
        notifications,
        payments,
        live,
        stream_failures,
        photo_uploads,
    })
}

async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    spec: &TableSpec,
    name: &str,
) -> Result<()> {
    let invalid = |e: BuildError| Error::InvalidDefinition {
        resource: format!("table {name}"),
        message: e.to_string(),
    };
    let key = |attribute: &KeyAttribute, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute.name)
            .key_type(key_type)
            .build()
            .map_err(invalid)
    };
    let mut request = dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(&spec.partition_key, KeyType::Hash)?);
    if let Some(sort_key) = &spec.sort_key {
        request = request.key_schema(key(sort_key, KeyType::Range)?);
    }
    request = request.set_attribute_definitions(Some(attribute_definitions(spec, name)?));
    if let Some(view) = &spec.stream {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(view.clone())
                .build()
                .map_err(invalid)?,
        );
    }
    for index in spec.indexes {
        request = request.global_secondary_indexes(index_definition(index, name)?);
    }
    match request.send().await {
        Ok(_) => tracing::info!(table = name, "created table"),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            tracing::debug!(table = name, "table exists");
            wait_until_active(dynamodb, name).await?;
            add_missing_indexes(dynamodb, spec, name).await?;
        }
        Err(error) => return Err(Error::dynamodb("CreateTable", name, error)),
    }
    wait_until_active(dynamodb, name).await?;
    if let Some(attribute) = spec.ttl_attribute {
        enable_ttl(dynamodb, name, attribute).await?;
    }
    Ok(())
}

/// Every key attribute of the table and its indexes, as CreateTable and UpdateTable take them.
fn attribute_definitions(spec: &TableSpec, table: &str) -> Result<Vec<AttributeDefinition>> {
    spec.key_attributes()
        .into_iter()
        .map(|attribute| {
            AttributeDefinition::builder()
                .attribute_name(attribute.name)
                .attribute_type(attribute.kind.clone())
                .build()
                .map_err(|e| Error::InvalidDefinition {
                    resource: format!("table {table}"),
                    message: e.to_string(),
                })
        })
        .collect()
}

fn index_definition(index: &IndexSpec, table: &str) -> Result<GlobalSecondaryIndex> {
    let invalid = |e: BuildError| Error::InvalidDefinition {
        resource: format!("index {} of table {table}", index.name),
        message: e.to_string(),
    };
    let key = |attribute: &KeyAttribute, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute.name)
            .key_type(key_type)
            .build()
            .map_err(invalid)
    };
    let projection = match index.projection {
        IndexProjection::All => ProjectionType::All,
        IndexProjection::KeysOnly => ProjectionType::KeysOnly,
    };
    let mut gsi = GlobalSecondaryIndex::builder()
        .index_name(index.name)
        .key_schema(key(&index.partition_key, KeyType::Hash)?)
        .projection(Projection::builder().projection_type(projection).build());
    if let Some(sort_key) = &index.sort_key {
        gsi = gsi.key_schema(key(sort_key, KeyType::Range)?);
    }
    gsi.build().map_err(invalid)
}

/// A table made by an older launcher (kept on disk with a data directory) gets the indexes it
/// lacks, one UpdateTable each (DynamoDB allows one index creation at a time), filled from the
/// items already there.
async fn add_missing_indexes(
    dynamodb: &aws_sdk_dynamodb::Client,
    spec: &TableSpec,
    name: &str,
) -> Result<()> {
    let output = dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| Error::dynamodb("DescribeTable", name, e))?;
    let existing: Vec<String> = output
        .table
        .iter()
        .flat_map(|table| table.global_secondary_indexes())
        .filter_map(|index| index.index_name().map(str::to_owned))
        .collect();
    for index in spec.indexes {
        if existing.iter().any(|e| e == index.name) {
            continue;
        }
        let invalid = |e: BuildError| Error::InvalidDefinition {
            resource: format!("index {} of table {name}", index.name),
            message: e.to_string(),
        };
        let definition = index_definition(index, name)?;
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.name)
            .set_key_schema(Some(definition.key_schema().to_vec()))
            .set_projection(definition.projection().cloned())
            .build()
            .map_err(invalid)?;
        dynamodb
            .update_table()
            .table_name(name)
            .set_attribute_definitions(Some(attribute_definitions(spec, name)?))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| Error::dynamodb("UpdateTable", name, e))?;
        tracing::info!(table = name, index = index.name, "added index");
        wait_until_active(dynamodb, name).await?;
    }
    Ok(())
}

async fn enable_ttl(
    dynamodb: &aws_sdk_dynamodb::Client,
    name: &str,
    attribute: &str,
) -> Result<()> {
    let current = dynamodb
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| Error::dynamodb("DescribeTimeToLive", name, e))?;
    let enabled = current.time_to_live_description().is_some_and(|ttl| {
        ttl.attribute_name() == Some(attribute)
            && matches!(
                ttl.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if enabled {
        return Ok(());
    }
    let specification = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(attribute)
        .build()
        .map_err(|e| Error::InvalidDefinition {
            resource: format!("table {name}"),
            message: e.to_string(),
        })?;
    dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|e| Error::dynamodb("UpdateTimeToLive", name, e))?;
    Ok(())
}

async fn wait_until_active(dynamodb: &aws_sdk_dynamodb::Client, name: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let output = dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| Error::dynamodb("DescribeTable", name, e))?;
        let table = output.table.ok_or_else(|| Error::UnexpectedResponse {
            operation: "DescribeTable",
            resource: name.to_owned(),
            missing: "Table",
        })?;
        let indexes_active = table
            .global_secondary_indexes()
            .iter()
            .all(|index| index.index_status() == Some(&IndexStatus::Active));
        if table.table_status() == Some(&TableStatus::Active) && indexes_active {
            return Ok(());
        }
        if started.elapsed() >= TABLE_ACTIVE_TIMEOUT {
            return Err(Error::TableNotActive {
                table: name.to_owned(),
                waited: TABLE_ACTIVE_TIMEOUT,
                status: format!(
                    "table {:?}, indexes {:?}",
                    table.table_status(),
                    table
                        .global_secondary_indexes()
                        .iter()
                        .map(|index| index.index_status())
                        .collect::<Vec<_>>()
                ),
            });
        }
        tokio::time::sleep(TABLE_POLL).await;
    }
}

async fn provision_queue(
    sqs: &aws_sdk_sqs::Client,
    spec: &QueueSpec,
    name: &str,
) -> Result<ProvisionedQueue> {
    // ContentBasedDeduplication is off: producers deduplicate on the event id, and two events
    // may legitimately have the same body.
    let dlq_name = dlq_name(name);
    let dlq_url = create_or_update_queue(
        sqs,
        &dlq_name,
        vec![
            (QueueAttributeName::FifoQueue, "true".to_owned()),
            (
                QueueAttributeName::ContentBasedDeduplication,
                "false".to_owned(),
            ),
            (
                QueueAttributeName::MessageRetentionPeriod,
                DLQ_RETENTION_SECS.to_string(),
            ),
        ],
    )
    .await?;
    let dlq_arn = queue_arn(sqs, &dlq_name, &dlq_url).await?;
    let redrive_policy = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": spec.max_receive_count,
    })
    .to_string();
    let url = create_or_update_queue(
        sqs,
        name,
        vec![
            (QueueAttributeName::FifoQueue, "true".to_owned()),
            (
                QueueAttributeName::ContentBasedDeduplication,
                "false".to_owned(),
            ),
            (
                QueueAttributeName::VisibilityTimeout,
                spec.visibility_timeout_secs.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive_policy),
        ],
    )
    .await?;
    let arn = queue_arn(sqs, name, &url).await?;
    Ok(ProvisionedQueue {
        name: name.to_owned(),
        url,
        arn,
        dlq_name,
        dlq_url,
        dlq_arn,
    })
}

async fn provision_standard_queue(
    sqs: &aws_sdk_sqs::Client,
    spec: &StandardQueueSpec,
    name: &str,
) -> Result<ProvisionedStandardQueue> {
    let url = create_or_update_queue(
        sqs,
        name,
        vec![(
            QueueAttributeName::MessageRetentionPeriod,
            spec.retention_secs.to_string(),
        )],
    )
    .await?;
    let arn = queue_arn(sqs, name, &url).await?;
    Ok(ProvisionedStandardQueue {
        name: name.to_owned(),
        url,
        arn,
    })
}

/// CreateQueue is idempotent only while the attributes match; for a queue that exists with other
/// attributes, this sets them instead (all but FifoQueue, which cannot change and which the
/// `.fifo` name already fixes).
async fn create_or_update_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: Vec<(QueueAttributeName, String)>,
) -> Result<String> {
    let mut create = sqs.create_queue().queue_name(name);
    for (attribute, value) in &attributes {
        create = create.attributes(attribute.clone(), value);
    }
    let url = match create.send().await {
        Ok(output) => {
            tracing::info!(queue = name, "created queue");
            output.queue_url
        }
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_queue_name_exists()) =>
        {
            tracing::info!(
                queue = name,
                "queue exists with other attributes; updating them"
            );
            let url = sqs
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| Error::sqs("GetQueueUrl", name, e))?
                .queue_url;
            let url = url.ok_or_else(|| missing("GetQueueUrl", name, "QueueUrl"))?;
            let mut update = sqs.set_queue_attributes().queue_url(&url);
            for (attribute, value) in attributes {
                if attribute != QueueAttributeName::FifoQueue {
                    update = update.attributes(attribute, value);
                }
            }
            update
                .send()
                .await
                .map_err(|e| Error::sqs("SetQueueAttributes", name, e))?;
            Some(url)
        }
        Err(error) => return Err(Error::sqs("CreateQueue", name, error)),
    };
    url.ok_or_else(|| missing("CreateQueue", name, "QueueUrl"))
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, name: &str, url: &str) -> Result<String> {
    let output = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| Error::sqs("GetQueueAttributes", name, e))?;
    output
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| missing("GetQueueAttributes", name, "QueueArn"))
}

fn missing(operation: &'static str, resource: &str, field: &'static str) -> Error {
    Error::UnexpectedResponse {
        operation,
        resource: resource.to_owned(),
        missing: field,
    }
}

/// How long each digest object is locked locally. In AWS the CDK app sets the retention of
/// record (docs/audit.md); a day keeps the emulator's objects from piling up in a test's
/// eyes while still refusing every deletion a test tries.
const LOCAL_DIGEST_RETENTION_DAYS: i32 = 1;

/// The log's digest bucket (versioned, Object Lock in compliance mode) and the RSA key that
/// signs its digests, under its alias. Existing ones are kept.
async fn provision_digests(clients: &Clients, names: &ResourceNames) -> Result<()> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule,
    };
    let failed = |resource: String| {
        move |message: String| Error::Provisioning {
            resource: resource.clone(),
            message,
        }
    };
    let bucket = &names.digest_bucket;
    let bucket_failed = failed(format!("bucket {bucket}"));
    let exists = clients.s3.head_bucket().bucket(bucket).send().await.is_ok();
    if !exists {
        clients
            .s3
            .create_bucket()
            .bucket(bucket)
            .object_lock_enabled_for_bucket(true)
            .send()
            .await
            .map_err(|e| bucket_failed(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    }
    clients
        .s3
        .put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Compliance)
                                .days(LOCAL_DIGEST_RETENTION_DAYS)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(|e| bucket_failed(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;

    provision_key(
        clients,
        &names.digest_key,
        KeySpec::Rsa2048,
        KeyUsageType::SignVerify,
        "Signs the auction log's digests (local stack)",
    )
    .await
}

/// The symmetric key that wraps the subjects' data keys (`adapters/personal-data`), under its
/// alias. An existing one is kept.
async fn provision_subject_key(clients: &Clients, names: &ResourceNames) -> Result<()> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    provision_key(
        clients,
        &names.subject_key,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
        "Wraps the subjects' data keys (local stack)",
    )
    .await
}

/// The thumbnailer's timeout is 30 s (infra/functions.json); AWS asks a queue's visibility
/// timeout to be six times its consumer's.
const PHOTO_UPLOADS_VISIBILITY_SECS: u32 = 180;

/// Item photos: the uploads queue with its DLQ, the bucket (CORS open to any origin here,
/// where the page's port varies; the CDK app allows only the site's origin), and the bucket's
/// notification of each object created under `originals/` to the queue, as in AWS. Existing
/// ones are kept (the notification and CORS are set again).
async fn provision_photos(clients: &Clients, names: &ResourceNames) -> Result<ProvisionedQueue> {
    use aws_sdk_s3::types::{
        CorsConfiguration, CorsRule, Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let name = &names.photo_uploads_queue;
    let dlq_name = format!("{name}-dlq");
    let dlq_url = create_or_update_queue(
        &clients.sqs,
        &dlq_name,
        vec![(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECS.to_string(),
        )],
    )
    .await?;
    let dlq_arn = queue_arn(&clients.sqs, &dlq_name, &dlq_url).await?;
    let redrive_policy = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": crate::resources::MAX_RECEIVE_COUNT,
    })
    .to_string();
    let url = create_or_update_queue(
        &clients.sqs,
        name,
        vec![
            (
                QueueAttributeName::VisibilityTimeout,
                PHOTO_UPLOADS_VISIBILITY_SECS.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive_policy),
        ],
    )
    .await?;
    let arn = queue_arn(&clients.sqs, name, &url).await?;

    let bucket = &names.photos_bucket;
    let failed = |message: String| Error::Provisioning {
        resource: format!("bucket {bucket}"),
        message,
    };
    let text = |e: &dyn std::fmt::Display| e.to_string();
    if clients
        .s3
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .is_err()
    {
        clients
            .s3
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| failed(text(&aws_sdk_s3::error::DisplayErrorContext(e))))?;
    }
    let cors = CorsRule::builder()
        .allowed_origins("*")
        .allowed_methods("POST")
        .allowed_headers("*")
        .max_age_seconds(3600)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    clients
        .s3
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(cors)
                .build()
                .map_err(|e| failed(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| failed(text(&aws_sdk_s3::error::DisplayErrorContext(e))))?;
    let originals = FilterRule::builder()
        .name(FilterRuleName::Prefix)
        .value("originals/")
        .build();
    let queue = QueueConfiguration::builder()
        .queue_arn(&arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().filter_rules(originals).build())
                .build(),
        )
        .build()
        .map_err(|e| failed(e.to_string()))?;
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await
        .map_err(|e| failed(text(&aws_sdk_s3::error::DisplayErrorContext(e))))?;
    Ok(ProvisionedQueue {
        name: name.clone(),
        url,
        arn,
        dlq_name,
        dlq_url,
        dlq_arn,
    })
}

/// What email notices need: the HMAC key that signs unsubscribe links, under its alias, and
/// the sender's domain as a verified SES identity (moto verifies identities at once; in AWS the
/// CDK app's identity is verified through DNS). Existing ones are kept.
async fn provision_email(clients: &Clients, names: &ResourceNames) -> Result<()> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    provision_key(
        clients,
        &names.unsubscribe_key,
        KeySpec::Hmac256,
        KeyUsageType::GenerateVerifyMac,
        "Signs unsubscribe links (local stack)",
    )
    .await?;
    let from = conventions::names::EMAIL_FROM.from_env();
    let domain = sender_domain(&from);
    clients
        .ses
        .create_email_identity()
        .email_identity(domain)
        .send()
        .await
        .map(|_| ())
        .or_else(|error| match error.as_service_error() {
            Some(e) if e.is_already_exists_exception() => Ok(()),
            _ => Err(Error::Provisioning {
                resource: format!("email identity {domain}"),
                message: aws_sdk_sesv2::error::DisplayErrorContext(error).to_string(),
            }),
        })
}

/// The domain of a sender like `Name <user@domain>` or `user@domain`.
fn sender_domain(from: &str) -> &str {
    from.rsplit_once('@')
        .map_or(from, |(_, domain)| domain)
        .trim_end_matches('>')
        .trim()
}

/// A KMS key of `spec` for `usage` under `alias`, unless the alias already names one.
async fn provision_key(
    clients: &Clients,
    alias: &str,
    spec: aws_sdk_kms::types::KeySpec,
    usage: aws_sdk_kms::types::KeyUsageType,
    description: &str,
) -> Result<()> {
    let key_failed = |message: String| Error::Provisioning {
        resource: format!("key {alias}"),
        message,
    };
    if clients
        .kms
        .describe_key()
        .key_id(alias)
        .send()
        .await
        .is_ok()
    {
        return Ok(());
    }
    let key = clients
        .kms
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .description(description)
        .send()
        .await
        .map_err(|e| key_failed(aws_sdk_kms::error::DisplayErrorContext(e).to_string()))?;
    let key_id = key
        .key_metadata
        .map(|metadata| metadata.key_id)
        .ok_or_else(|| key_failed("CreateKey answered no key".to_owned()))?;
    clients
        .kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await
        .map_err(|e| key_failed(aws_sdk_kms::error::DisplayErrorContext(e).to_string()))?;
    Ok(())
}
