//! Audits of the event log: replay one auction event by event ([`history`]), its state at a
//! version or an instant ([`state_at`]), tamper checks of one auction or of every auction
//! ([`verify`], [`verify_all`]), and JSON Lines export and import of the stored envelopes
//! ([`export`]); the same for the Items' ownership ledger, whose streams share the table
//! ([`item_history`], [`item_state_at`], [`verify_item`], [`verify_items`]). The
//! `auction-admin` CLI (tools/auction-admin) runs them against DynamoDB.
//!
//! The core (time travel, verification, export) is the event store's own, generic over the
//! aggregate ([`event_store::history`], [`event_store::verify`], [`event_store::export`]); this
//! crate applies it to the Auction and the Item and names them in its errors, so it runs over
//! the in-memory twin in tests; only [`dynamodb`] (a Scan for every stream) and the rebuild
//! touch DynamoDB directly. Must not depend on HTTP or Lambda. Audits only read; the one writer,
//! [`export::import`], goes through the store's conditional append and never overwrites.
//!
//! The rebuild drives the read models' own apply over a bulk scan and the stream's tail.

pub mod dynamodb;
mod error;
pub mod export;
mod items;
pub mod rebuild;
mod replay;
mod subjects;
mod verify;

pub use error::AuditError;
pub use event_store::history::AsOf;
pub use items::{
    ItemReport, ItemStateAt, ItemStep, item_history, item_history_events, item_state_at,
    verify_item, verify_items,
};
pub use replay::{StateAt, Step, history, history_events, state_at};
pub use subjects::{SubjectReport, verify_subjects};
pub use verify::{Finding, Report, verify, verify_all, verify_events};
