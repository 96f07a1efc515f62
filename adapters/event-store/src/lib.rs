//! The event store: where the Auction's events are kept, and the command loop that uses it.
//!
//! - [`EventLog`] is the port: read an aggregate's events after a version, append a commit that
//!   must land exactly after the version its decision saw, find a command's events by its
//!   idempotency key. [`DynamoDbStore`] implements it (one item per event, keyed
//!   `(aggregateId, version)`, each write conditional on its own key) and [`InMemoryStore`] is its
//!   twin for fast handler tests, with the same conflict behaviour.
//! - [`Snapshots`] and [`IdempotencyRecords`] are the two smaller ports that keep loads short and
//!   retries exact.
//! - [`EventsOfType`] reads the events of one type within a time range, a page at a time (the
//!   `byEventType` index), for audits and exports.
//! - [`execute`] runs one command: load (snapshot + tail), decide, append, classify conflicts,
//!   retry, record the idempotency key, and meter what it cost.
//! - [`chain`] is the tamper evidence: every event's hash covers the previous event's hash and
//!   its own canonical content; [`chain::verify`] names the first bad event.
//!
//! Depends on the domain and the event contract. Must not depend on HTTP, Lambda or SQS: every
//! function that handles a command uses this, whatever triggered it.

pub mod chain;
mod command;
mod dynamodb;
mod error;
mod log;
mod memory;
mod meter;
mod size;
#[cfg(feature = "testing")]
pub mod testing;

pub use command::{CommandContext, IdempotencyKey, Outcome, SnapshotPolicy, Store, execute, load};
pub use dynamodb::{DynamoDbStore, TableNames, event_from_image, item_from_event as event_item};
pub use error::StoreError;
pub use log::{
    BY_EVENT_TYPE, EventLog, EventsOfType, IdempotencyRecord, IdempotencyRecords, Snapshot,
    Snapshots, StoredEvent, TypePage, TypePosition, TypeQuery, state_at,
};
pub use memory::InMemoryStore;
pub use meter::{Cost, Meter, Purpose, Usage};
pub use size::{MAX_ITEM_BYTES, item_size};
