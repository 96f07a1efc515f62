//! The SQS fan-out: a Lambda on the Events table's DynamoDB stream (NEW_IMAGE) that sends each
//! event to the FIFO queues its routing rules name.
//!
//! - [`handle`] is the whole function: decode each record ([`stream_records::stored_event`]),
//!   route it ([`ROUTES`]), send the messages batched per queue through a [`QueueSender`], and
//!   report the records to retry as a partial batch response. The Lambda main
//!   (`publisher-lambda`) and the local runner both call it.
//! - [`QueueSender`] is the port; [`SqsQueues`] implements it over SendMessageBatch and
//!   [`InMemoryQueues`] is its twin for tests, with FIFO de-duplication and injectable failures.
//! - [`QueueUrls`] says where each queue is: from `NOTIFICATIONS_QUEUE_URL` / `PAYMENTS_QUEUE_URL`,
//!   or looked up by queue name ([`QueueDirectory`]) when a URL variable is unset.
//!
//! # Routing
//!
//! | event type              | notifications | payments |
//! |-------------------------|:-------------:|:--------:|
//! | `AuctionCreated`        |               |          |
//! | `AuctionStarted`        |               |          |
//! | `BidPlaced`             | yes           |          |
//! | `MaxBidRaised`          |               |          |
//! | `AuctionExtended`       |               |          |
//! | `AuctionEnded`          | yes           | yes      |
//! | `AuctionCancelled`      | yes           |          |
//! | `PaymentSucceeded`      | yes           | yes      |
//! | `PaymentFailed`         | yes           | yes      |
//! | `ItemOfferedToRunnerUp` | yes           | yes      |
//!
//! Routing is by event type alone: the payment saga gets every `AuctionEnded` and decides
//! sold/unsold from the payload itself. Reasons per line: docs/fan-out.md.
//!
//! # Messages
//!
//! Body: the event's wire envelope exactly as stored (schema version as written, not upcast:
//! consumers run the upcasters of `events`). MessageGroupId: the aggregate id.
//! MessageDeduplicationId: `{aggregateId}#{version}`. String attributes `eventType`, `eventId`,
//! `aggregateId`, `correlationId`, `causationId`, and `version` as a Number.
//!
//! Depends on the event contract, the event store's item format and stream records. Must not
//! depend on the domain (routing is by event type, not by auction rules) or on DynamoDB clients:
//! it only reads what the stream hands it.

mod config;
mod error;
mod handler;
mod memory;
mod message;
mod routes;
mod sender;
mod sqs;

pub use config::{Publisher, QueueUrls, from_env};
pub use error::PublishError;
pub use handler::handle;
pub use memory::InMemoryQueues;
pub use message::{
    AttributeValue, Batches, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, QueueMessage, attribute, batches,
    deduplication_id,
};
pub use routes::{Queue, ROUTES, destinations};
pub use sender::{EntryFailure, QueueDirectory, QueueSender};
pub use sqs::SqsQueues;
