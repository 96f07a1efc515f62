//! AWS SDK configuration for talking to the emulators.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;

use crate::{Error, Result};

/// The region the local stack pretends to be in. DynamoDB Local runs with `-sharedDb`, so the
/// region does not partition its data; moto puts it into queue ARNs.
pub const REGION: &str = "us-east-1";
/// Dummy credentials: both emulators accept any, and the SDK refuses to sign without some.
pub const ACCESS_KEY_ID: &str = "test";
pub const SECRET_ACCESS_KEY: &str = "test";

const DYNAMODB_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_DYNAMODB";
const DYNAMODB_STREAMS_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_DYNAMODB_STREAMS";
const SQS_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_SQS";
const S3_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_S3";
const KMS_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_KMS";
const SESV2_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_SESV2";
const GLOBAL_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL";

/// Where each emulated service listens. DynamoDB Streams is served by DynamoDB Local on the
/// DynamoDB endpoint, so it has no field of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub dynamodb: String,
    pub sqs: String,
}

impl Endpoints {
    /// Endpoints from the standard variables: the per-service one, else `AWS_ENDPOINT_URL`
    /// (a single LocalStack endpoint serves every service).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// As [`Endpoints::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let set = |var: &str| lookup(var).filter(|value| !value.trim().is_empty());
        let read = |var: &'static str| {
            set(var)
                .or_else(|| set(GLOBAL_ENDPOINT_VAR))
                .ok_or(Error::MissingEndpoint { service_var: var })
        };
        Ok(Self {
            dynamodb: read(DYNAMODB_ENDPOINT_VAR)?,
            sqs: read(SQS_ENDPOINT_VAR)?,
        })
    }

    /// The standard AWS variables that point an SDK (and so every platform binary) at these
    /// endpoints with the dummy credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (DYNAMODB_ENDPOINT_VAR, self.dynamodb.clone()),
            (DYNAMODB_STREAMS_ENDPOINT_VAR, self.dynamodb.clone()),
            (SQS_ENDPOINT_VAR, self.sqs.clone()),
            // moto serves S3 and KMS too (the log's digests), path-style, and SES (email
            // notices, which tests read back from moto).
            (S3_ENDPOINT_VAR, self.sqs.clone()),
            (KMS_ENDPOINT_VAR, self.sqs.clone()),
            (SESV2_ENDPOINT_VAR, self.sqs.clone()),
            ("AWS_REGION", REGION.to_owned()),
            // Python's boto3 and the AWS CLI read this one instead.
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
        ]
    }
}

/// An SDK configuration with the local region and the dummy credentials. It sets no endpoint:
/// [`Clients::connect`] sets one per service, which takes precedence over any endpoint variable
/// in the caller's environment.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::from_static(REGION))
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "local-stack",
        ))
        .load()
        .await
}

/// SDK clients for the emulated services.
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// moto's S3 (path-style: the endpoint is an address, not a domain) and KMS.
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    /// moto's SES (v2 API): the sender's identity, and the emails tests read back.
    pub ses: aws_sdk_sesv2::Client,
}

impl Clients {
    /// Clients for `endpoints`, with the SDK's standard retries.
    pub async fn connect(endpoints: &Endpoints) -> Self {
        let sdk = sdk_config().await;
        Self::from_sdk(&sdk, endpoints, None)
    }

    /// Clients that fail fast: one attempt, bounded by `timeout`. Readiness probes use them, so
    /// a probe against a starting emulator neither backs off nor hangs.
    pub(crate) fn probing(sdk: &SdkConfig, endpoints: &Endpoints, timeout: Duration) -> Self {
        Self::from_sdk(sdk, endpoints, Some(timeout))
    }

    fn from_sdk(sdk: &SdkConfig, endpoints: &Endpoints, fail_fast: Option<Duration>) -> Self {
        let mut dynamodb =
            aws_sdk_dynamodb::config::Builder::from(sdk).endpoint_url(&endpoints.dynamodb);
        let mut sqs = aws_sdk_sqs::config::Builder::from(sdk).endpoint_url(&endpoints.sqs);
        if let Some(timeout) = fail_fast {
            let timeouts = TimeoutConfig::builder()
                .connect_timeout(timeout)
                .operation_timeout(timeout)
                .build();
            dynamodb = dynamodb
                .retry_config(RetryConfig::disabled())
                .timeout_config(timeouts.clone());
            sqs = sqs
                .retry_config(RetryConfig::disabled())
                .timeout_config(timeouts);
        }
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .endpoint_url(&endpoints.sqs)
            .force_path_style(true);
        let kms = aws_sdk_kms::config::Builder::from(sdk).endpoint_url(&endpoints.sqs);
        let ses = aws_sdk_sesv2::config::Builder::from(sdk).endpoint_url(&endpoints.sqs);
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            kms: aws_sdk_kms::Client::from_conf(kms.build()),
            ses: aws_sdk_sesv2::Client::from_conf(ses.build()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_per_service_endpoint_wins_over_the_global_one() {
        let env = HashMap::from([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
        ]);

        let endpoints =
            Endpoints::from_lookup(|var| env.get(var).map(|v| (*v).to_owned())).unwrap();

        assert_eq!(endpoints.dynamodb, "http://127.0.0.1:8000");
        assert_eq!(endpoints.sqs, "http://127.0.0.1:4566");
    }

    #[test]
    fn a_missing_endpoint_names_the_variable_to_set() {
        let env = HashMap::from([("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:5000")]);

        let error =
            Endpoints::from_lookup(|var| env.get(var).map(|v| (*v).to_owned())).unwrap_err();

        assert!(matches!(
            error,
            Error::MissingEndpoint {
                service_var: "AWS_ENDPOINT_URL_DYNAMODB"
            }
        ));
    }

    #[test]
    fn streams_are_served_on_the_dynamodb_endpoint() {
        let endpoints = Endpoints {
            dynamodb: "http://127.0.0.1:1".to_owned(),
            sqs: "http://127.0.0.1:2".to_owned(),
        };

        let env: HashMap<_, _> = endpoints.env().into_iter().collect();

        assert_eq!(
            env["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"],
            "http://127.0.0.1:1"
        );
        assert_eq!(env["AWS_REGION"], "us-east-1");
    }
}
