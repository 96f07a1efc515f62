use std::error::Error as StdError;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use thiserror::Error;

/// Why a mapping could not go on. A stream shard worker that returns one of these is restarted
/// from its last checkpoint after a pause (at-least-once, as Lambda); the runner logs it once.
#[derive(Debug, Error)]
pub enum TriggerError {
    /// A call to DynamoDB, DynamoDB Streams or SQS failed. (transient or not, the worker is
    /// restarted from its checkpoint after a pause; nothing past the checkpoint was committed)
    #[error("{operation} on {resource} failed: {message}")]
    Aws {
        operation: &'static str,
        resource: String,
        message: String,
    },
    /// An AWS response lacked a field the runner needs. (the emulator misbehaves or the resource
    /// is misconfigured, e.g. a table without a stream: fix the configuration)
    #[error("{operation} on {resource} returned no {missing}")]
    UnexpectedResponse {
        operation: &'static str,
        resource: String,
        missing: &'static str,
    },
    /// A record or message could not be turned into the event Lambda would deliver. (a bug in
    /// the conversion: the worker is restarted, and the record is not handed on half-converted)
    #[error("{record} cannot be converted into the event Lambda delivers: {message}")]
    Conversion { record: String, message: String },
    /// A fault proxy could not start (`LOCAL_TRIGGERS_FAULTS_DIR` set). (the runner does not
    /// start: a fault suite without its faults would prove nothing; fix the endpoint named)
    #[error("the fault proxy for {fault} cannot start: {message}")]
    Proxy {
        fault: &'static str,
        message: String,
    },
    /// A Lambda binary could not be started or did not initialize (not built, a configuration
    /// its init rejects, the Lambda emulator missing). (the runner does not start: a mapping
    /// without its function would make a run look healthy while nothing is handled)
    #[error("starting {function}: {message}")]
    Function { function: String, message: String },
}

impl TriggerError {
    pub(crate) fn aws(
        operation: &'static str,
        resource: impl Into<String>,
        error: impl StdError,
    ) -> Self {
        Self::Aws {
            operation,
            resource: resource.into(),
            message: DisplayErrorContext(error).to_string(),
        }
    }
}
