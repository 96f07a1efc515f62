//! One auction, from creation through bidding and its end to settlement.
//!
//! Shape (after Equinox's aggregate modules): [`State`] and [`evolve`], then one `decide_*`
//! function per command with the signature `(&State, &Command, now) -> Result<Vec<Event>,
//! Rejection>`. A command that already took effect decides to no events, so retries are safe.

mod commands;
mod decide;
mod rejection;
pub mod rules;
mod state;

pub use auction_events::AuctionEvent as Event;
pub use commands::*;
pub use decide::*;
pub use rejection::Rejection;
pub use state::{Auction, SNAPSHOT_FORMAT, Settlement, Standing, State, Status, evolve, fold};
