//! Every client the CLI's commands use: the rebuild's (the log, the views' alias and tables,
//! the stream), and the parked items' and redrives' (the Parked table, SQS, the consumers a
//! replay redelivers to).

use std::sync::Arc;

/// What the commands read and write.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The log, the views and their alias, the stream: what audits and rebuilds read.
    pub rebuild: audit::rebuild::Sources,
    /// What the consumers gave up on, for `auction-admin parked`.
    pub parked: parking::DynamoDbParked,
    /// For `auction-admin redrive`.
    pub sqs: aws_sdk_sqs::Client,
    /// Where `auction-admin parked replay` redelivers: `None` builds them from the environment
    /// on first use, so that audits need no queue.
    pub consumers: Option<Arc<parking::Consumers>>,
    /// The streams' heads and the digests' bucket, for `prove` and `digest`.
    pub heads: notary::HeadsTable,
    pub archive: notary::S3Archive,
    /// The signing key's id (`DIGEST_KEY_ID`), resolved when a command signs or shows it.
    pub digest_key: String,
    /// KMS: the digests' signing key.
    pub kms: aws_sdk_kms::Client,
    /// The subjects' key store, for `forget` (`SUBJECT_KEYS_TABLE`, `SUBJECT_KEY_ID`).
    pub subject_keys: personal_data::KmsSubjectKeys,
    /// The users' email addresses and preferences, deleted by `forget` (`EMAIL_NOTICES_TABLE`).
    pub email_notices: email::DynamoDbEmailNotices,
    pub sdk: aws_config::SdkConfig,
}

impl Sources {
    /// Clients from `config`; the tables from their variables (see
    /// [`audit::rebuild::Sources::from_env`]), the Parked table from `PARKED_TABLE`.
    pub fn from_env(config: &aws_config::SdkConfig) -> Self {
        let rebuild = audit::rebuild::Sources::from_env(config);
        Self {
            parked: parking::DynamoDbParked::from_env(rebuild.dynamodb.clone()),
            sqs: aws_sdk_sqs::Client::new(config),
            consumers: None,
            heads: notary::config::heads_from_env(rebuild.dynamodb.clone()),
            archive: notary::config::archive_from_env(config),
            digest_key: conventions::names::DIGEST_KEY_ID.from_env(),
            kms: aws_sdk_kms::Client::new(config),
            subject_keys: personal_data::KmsSubjectKeys::from_env(
                rebuild.dynamodb.clone(),
                aws_sdk_kms::Client::new(config),
            ),
            email_notices: email::DynamoDbEmailNotices::from_env(rebuild.dynamodb.clone()),
            sdk: config.clone(),
            rebuild,
        }
    }

    /// The key that signs digests.
    pub async fn signer(&self) -> Result<notary::KmsSigner, notary::NotaryError> {
        notary::KmsSigner::resolve(self.kms.clone(), &self.digest_key).await
    }

    /// The consumers a replay redelivers to.
    pub async fn consumers(&self) -> Result<Arc<parking::Consumers>, parking::ParkingError> {
        match &self.consumers {
            Some(consumers) => Ok(Arc::clone(consumers)),
            None => Ok(Arc::new(parking::Consumers::from_env(&self.sdk).await?)),
        }
    }
}
