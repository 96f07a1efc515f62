//! Local emulation of AWS Lambda event source mappings: DynamoDB Streams and SQS.
//!
//! The runner polls DynamoDB Local's Streams API and moto's SQS and invokes handlers with the
//! same `aws_lambda_events` types (built from the JSON Lambda sends) and the same semantics: batch size and batching window, ReportBatchItemFailures,
//! retries, bisecting a failed batch, maximum record age, the on-failure destination, shard
//! lineage, and checkpoints that survive a restart. docs/local-triggers.md lists what it
//! emulates and every known difference from AWS.
//!
//! The binary's handlers are the deployed Lambda binaries ([`Function`]: started under
//! cargo-lambda's emulator, invoked through the Invoke API), so the crate links no function's
//! code (`tests/tests/layers.rs` checks it); a test or a benchmark may still pass any async
//! function as a handler. Scheduled rules invoke their binary at a rate ([`run_schedule`]).
//!
//! A local tool: it may depend on `local-stack` and on adapters, never on a function crate, and
//! nothing of the platform may depend on it.

mod checkpoint;
mod destination;
mod error;
pub mod faults;
mod function;
mod handler;
mod proxy;
mod queue;
mod stream;

pub use checkpoint::{Checkpoint, DynamoDbCheckpoints};
pub use destination::Condition;
pub use error::TriggerError;
pub use function::{Function, INVOCATION_SLACK, Schedule, run_schedule};
pub use handler::{HandlerError, InvocationFailure, QueueHandler, StreamHandler};
pub use proxy::{FaultProxy, Refusal};
pub use queue::{QueueMapping, lambda_message, run_queue};
pub use stream::{
    StartingPosition, StreamClients, StreamMapping, lambda_event_record, run_stream, stream_arn,
};
pub use tokio_util::sync::CancellationToken;

/// The function ARN failure records name: the mapping's name stands for the function.
fn function_arn(region: &str, mapping: &str) -> String {
    format!("arn:aws:lambda:{region}:000000000000:function:{mapping}")
}
