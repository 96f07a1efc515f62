//! The event store: where any aggregate's events are kept, and the command loop that uses it.
//!
//! Generic over the aggregate: an aggregate is an [`events::Aggregate`] (initial state,
//! `evolve`, snapshot format) with an [`events::EventCodec`] (its stream's name, its
//! events' types and schema versions, decoding with upcasting). The Auction is one; a new
//! aggregate costs one domain module and one codec, nothing here.
//!
//! - [`EventLog`] is the port: read an aggregate's events after a version, append a commit that
//!   must land exactly after the version its decision saw, find a command's events by its
//!   idempotency key. Keyed by the plain aggregate id (a UUID), so one backend holds every
//!   aggregate. [`DynamoDbStore`] implements it (one item per event, keyed
//!   `(aggregateId, version)`, each write conditional on its own key) and [`InMemoryStore`] is its
//!   twin for fast handler tests, with the same conflict behaviour.
//! - [`Snapshots`] and [`IdempotencyRecords`] are the two smaller ports that keep loads short and
//!   retries exact.
//! - [`EventsOfType`] reads the events of one type within a time range, a page at a time (the
//!   audit index (`byTypeShard`)), for audits and exports; [`NewestEvents`] reads one aggregate's
//!   events newest first, a page at a time (a bid history), at a cost that does not grow with
//!   its history.
//! - [`execute`] runs one command: the cached state (or snapshot + tail), decide, append,
//!   classify conflicts, retry, record the idempotency key where the aggregate needs one, and
//!   meter what it cost. The aggregate is inferred from the
//!   decision; a refusal is [`CommandError::Rejected`] with the aggregate's own rejection.
//! - [`chain`] is the tamper evidence: every event's hash covers the previous event's hash and
//!   its own canonical content; [`verify`] names the first bad event of a log.
//! - [`history`] is time travel (the state at a version or an instant, every step), and
//!   [`export`] the JSON Lines export and import of stored envelopes.
//!
//! Depends on the event contract (`events`) for the envelope and the two traits, and on
//! DynamoDB. Must not depend on the domain (`domain`) or name any aggregate's types, nor
//! on HTTP, Lambda or SQS: every function that handles a command uses this, whatever triggered
//! it. (The `testing` feature's histories are the Auction contract's, for tests only.)

pub mod chain;
mod command;
mod dynamodb;
mod error;
pub mod export;
mod group;
pub mod history;
mod log;
mod memory;
mod meter;
#[cfg(test)]
mod second_aggregate;
mod stored;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verify;

pub use command::{
    CommandContext, IdempotencyKey, Loaded, Outcome, SnapshotPolicy, Store, execute, load,
};
pub use dynamodb::{
    Backfill, DynamoDbStore, MAX_ITEM_BYTES, TableNames, event_from_image,
    item_from_event as event_item, item_size,
};
pub use error::{CommandError, StoreError};
pub use history::{HistoryError, state_at};
pub use log::{
    AUDIT_SHARDS, BY_EVENT_TYPE, EventLog, EventsOfType, IdempotencyRecord, IdempotencyRecords,
    NewestEvents, NewestPage, Snapshot, Snapshots, TypePage, TypePosition, TypeQuery,
};
pub use memory::InMemoryStore;
pub use meter::{Cost, Meter, Purpose, Usage};
pub use stored::StoredEvent;
