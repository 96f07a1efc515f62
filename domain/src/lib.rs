//! The aggregates: the Auction ([`auction`], re-exported at the top), the Item it sells
//! ([`item`], the ownership ledger) and the Subject of personal data ([`subject`], forgotten). Each has its state, the commands it accepts, the decisions
//! that turn a command into events, and `evolve`, which folds events into state.
//!
//! Pure and synchronous: time and ids arrive as arguments, and nothing here performs I/O. Must not
//! depend on tokio, on any AWS crate, on HTTP or on storage; its only dependency of substance is
//! the event contract (`events`), whose payloads are these aggregates' events.

pub mod auction;
pub mod item;
pub mod subject;
// Given/when/then for deciders: cargo feature `testing` (and this crate's own tests).
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use auction::*;
