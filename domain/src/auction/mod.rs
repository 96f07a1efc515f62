//! One auction, from creation through bidding and its end to settlement.
//!
//! Shape (after Equinox's aggregate modules): [`State`] and [`evolve`], then one `decide_*`
//! function per command with the signature `(&State, &Command, now) -> Result<Vec<Event>,
//! Rejection>`. A command that already took effect decides to no events, so retries are safe.
//! [`State`] implements the store's [`events::Aggregate`] (in `aggregate.rs`).

mod aggregate;
mod commands;
mod decide;
/// Auctions for tests (cargo feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod fixtures;
mod rejection;
pub mod rules;
mod state;

pub use commands::*;
pub use decide::*;
pub use events::AuctionEvent as Event;
pub use rejection::Rejection;
pub use state::{Auction, SNAPSHOT_FORMAT, Settlement, Standing, State, Status, evolve, fold};
