//! Local emulation of AWS Lambda event source mappings: DynamoDB Streams and SQS.
//!
//! The runner polls DynamoDB Local's Streams API and moto's SQS and calls the very handler
//! functions the Lambda mains call, with the same `aws_lambda_events` types (built from the JSON
//! Lambda sends) and the same semantics: batch size and batching window, ReportBatchItemFailures,
//! retries, bisecting a failed batch, maximum record age, the on-failure destination, shard
//! lineage, and checkpoints that survive a restart. docs/local-triggers.md lists what it
//! emulates and every known difference from AWS.
//!
//! A local tool: it may depend on `local-stack` (resource names) and on the functions whose
//! handlers it drives, and nothing of the platform may depend on it.

mod checkpoint;
mod destination;
mod error;
pub mod faults;
mod handler;
mod queue;
mod stream;

pub use checkpoint::{Checkpoint, DynamoDbCheckpoints};
pub use destination::Condition;
pub use error::TriggerError;
pub use handler::{HandlerError, InvocationFailure, QueueHandler, StreamHandler};
pub use queue::{QueueMapping, run_queue};
pub use stream::{StartingPosition, StreamClients, StreamMapping, run_stream, stream_arn};
pub use tokio_util::sync::CancellationToken;

/// The function ARN failure records name: the mapping's name stands for the function.
fn function_arn(region: &str, mapping: &str) -> String {
    format!("arn:aws:lambda:{region}:000000000000:function:{mapping}")
}
