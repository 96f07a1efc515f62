//! Parking: nothing a consumer gives up on is lost.
//!
//! When a stream mapping spends its retries on a batch, Lambda sends only a description of the
//! batch (shard and sequence numbers, which expire with the stream's 24 h retention) to its
//! on-failure queue; when a queue consumer fails a message `maxReceiveCount` times, SQS moves
//! it to the queue's DLQ. The parker ([`park`], Lambda `parker-lambda` on both kinds of queue;
//! locally the trigger runner runs the same function) turns each into [`Parked`] items in the
//! durable `Parked` table, within a minute: the consumer, the aggregate, the version range, the
//! event types, the last error and the attempts. From then on nothing depends on the stream:
//! the events are in the log.
//!
//! [`replay`] re-drives a parked item's events from the log through the same consumer code
//! ([`Consumers::redeliver`]), idempotently, and removes the item; [`discard`] removes it with
//! a reason; [`redrive`] moves a DLQ's messages back to their queue. The reconciler redelivers
//! through [`Consumers`] too.
//!
//! Depends on the event store, the stream records and the stream consumers' own crates
//! (projector, publisher), whose handlers it calls; queue consumers are reached through their
//! queues. Must not depend on the API, the domain's
//! decisions or another Lambda's main.

mod config;
mod consumer;
mod dynamodb;
mod error;
mod memory;
mod parked;
mod parker;
mod redeliver;
mod redrive;
mod replay;
mod stream;

pub use config::{Parker, parker_from_env};
pub use consumer::Consumer;
pub use dynamodb::DynamoDbParked;
pub use error::ParkingError;
pub use memory::InMemoryParked;
pub use parked::{Parked, ParkedItems};
pub use parker::{Origins, park};
pub use redeliver::{Consumers, REPLAYS_ATTRIBUTE, Redeliver};
pub use redrive::{Redriven, redrive};
pub use replay::{discard, replay};
pub use stream::{DynamoDbStreamRange, StreamRange, StreamedEvent};
