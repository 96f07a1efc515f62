//! What every function of the platform does the same way, so that each does it once:
//!
//! - [`names`]: every table, queue and index name with its variable and default, spelled once;
//! - [`name_from_env`]: a table or queue name from its variable, or the default the local stack
//!   and the CDK app use;
//! - [`lambda::init`]: a Lambda binary's logs and metrics, set up by one call in its `main`;
//! - [`logging`]: the one logging set-up of every binary, honouring Lambda's log format and
//!   level controls (the local tools' [`init_json_logging`] and [`init_tool_logging`] use it);
//! - [`metrics`]: the platform's metrics (infra/metrics.json), recorded through the `metrics`
//!   facade and written in CloudWatch's Embedded Metric Format by the Lambdas;
//! - [`Failure::of`]: an AWS SDK error sorted by what the caller can do about it;
//! - [`clock`]: the injected clock every decision's time comes from.
//!
//! Depends on the AWS SDK's error types, the Lambda runtime, tracing and metrics only. Must not
//! depend on any crate of the platform: they all depend on this.

pub mod clock;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod names;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use thiserror::Error;

pub use logging::json_logs;

/// Why a binary could not set up its logs or metrics: each is set once per process.
#[derive(Debug, Error)]
pub enum SetupError {
    #[error("logging is already set up in this process: {0}")]
    Logging(String),
    #[error("a metrics recorder is already installed in this process: {0}")]
    Metrics(String),
}

/// The value of `var`, or `default` when it is unset or blank.
pub fn name_from_env(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The logs of a local binary that stands in for a Lambda (api-local, the scheduler's and the
/// reconciler's local loops): the Lambdas' own set-up on stderr, so JSON lines unless
/// `AWS_LAMBDA_LOG_FORMAT` says `Text`. A second call changes nothing.
pub fn init_json_logging() {
    // Already set up means set up: nothing to report.
    let _ = logging::LogSettings::from_env().init();
}

/// A local tool's logs on stderr, filtered by its own variable `filter_env` (default `info`):
/// JSON lines as the Lambdas write them, or text for people. A second call changes nothing.
pub fn init_tool_logging(filter_env: &str, json: bool) {
    let _ = logging::LogSettings::for_tool(filter_env, json).init();
}

/// A failed AWS call, by what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Throttled, or a concurrent transaction held the items: back off and retry.
    Throttled(String),
    /// The service could not be reached, timed out, or failed internally: retry later.
    Unavailable(String),
    /// The service refused the request as it is (a missing table, a bad expression, a failed
    /// condition the caller did not expect): retrying the same request cannot help.
    Refused(String),
}

impl Failure {
    pub fn of<E, R>(error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match error {
            SdkError::ServiceError(context) => {
                let code = context.err().code().unwrap_or("Unknown");
                let text = format!("{code}: {}", context.err().message().unwrap_or_default());
                if is_throttling(code) {
                    Self::Throttled(text)
                } else if matches!(code, "InternalServerError" | "ServiceUnavailable") {
                    Self::Unavailable(text)
                } else {
                    Self::Refused(text)
                }
            }
            SdkError::ConstructionFailure(_) => Self::Refused(format!("{error:?}")),
            // Dispatch failures, timeouts, unreadable responses: the service is unreachable or
            // sick.
            _ => Self::Unavailable(error_chain(error)),
        }
    }

    /// The message, given to `transient` when retrying later may succeed and to `refused` when
    /// it cannot: how each crate maps a failure into its own error, once.
    pub fn sort<T>(
        self,
        transient: impl FnOnce(String) -> T,
        refused: impl FnOnce(String) -> T,
    ) -> T {
        match self {
            Self::Throttled(text) | Self::Unavailable(text) => transient(text),
            Self::Refused(text) => refused(text),
        }
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Throttled(text) | Self::Unavailable(text) | Self::Refused(text) => text,
        }
    }
}

/// Whether `code` is one DynamoDB (or SQS) answers when a request was throttled or ran into a
/// concurrent transaction, in the spellings the services and the SDK use, in exceptions and in
/// transaction cancellation reasons alike.
pub fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "ProvisionedThroughputExceeded"
            | "RequestLimitExceeded"
            | "ThrottlingException"
            | "ThrottlingError"
            | "Throttling"
            | "TransactionConflictException"
            | "TransactionConflict"
            | "TransactionInProgressException"
    )
}

/// Whether S3 is reached at an address rather than AWS's host names (`AWS_ENDPOINT_URL_S3` or
/// `AWS_ENDPOINT_URL` set: moto's server or LocalStack), where a bucket cannot be a host name:
/// an S3 client then needs path-style addressing. AWS prefers virtual-hosted otherwise.
pub fn s3_path_style() -> bool {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|value| !value.trim().is_empty()))
}

/// An error and its sources on one line, so that a log line or a message shows the root cause.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("request failed")
        }
    }
    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection refused")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    impl std::error::Error for Inner {}

    #[test]
    fn an_error_chain_names_every_cause() {
        assert_eq!(
            error_chain(&Outer(Inner)),
            "request failed: connection refused"
        );
    }

    #[test]
    fn throttling_codes_are_throttling_in_every_spelling() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "TransactionConflictException",
        ] {
            assert!(is_throttling(code), "{code}");
        }
        assert!(!is_throttling("ValidationException"));
        assert!(!is_throttling("ResourceNotFoundException"));
    }

    #[test]
    fn sorting_sends_throttled_and_unavailable_one_way_and_refused_the_other() {
        let sorted = |failure: Failure| failure.sort(|m| ("retry", m), |m| ("refused", m));
        assert_eq!(
            sorted(Failure::Throttled("t".into())),
            ("retry", "t".into())
        );
        assert_eq!(
            sorted(Failure::Unavailable("u".into())),
            ("retry", "u".into())
        );
        assert_eq!(
            sorted(Failure::Refused("r".into())),
            ("refused", "r".into())
        );
    }

    #[test]
    fn refused_is_the_only_failure_not_worth_retrying() {
        assert!(Failure::Throttled(String::new()).is_transient());
        assert!(Failure::Unavailable(String::new()).is_transient());
        assert!(!Failure::Refused(String::new()).is_transient());
    }
}
