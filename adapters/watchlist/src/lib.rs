//! The auctions each user watches: the Watchlist table (pk `userId`, sk `auctionId`), one item
//! per watched auction with when it was put there.
//!
//! - [`Watchlist`]: the port (watch, unwatch, a page of what a user watches), object-safe for
//!   the API;
//! - [`DynamoDbWatchlist`] and its in-memory twin [`InMemoryWatchlist`], which keep the same
//!   order and cursors.
//!
//! A user's watchlist is theirs alone, not a fact of any auction's log: a plain table, written
//! by the API. Its user ids are whatever the API hands in (pseudonyms, docs/privacy.md).
//! Depends on the event contract (ids) and the conventions. Must not depend on the API or any
//! other function.

mod dynamodb;
mod error;
mod memory;
mod ports;

pub use dynamodb::DynamoDbWatchlist;
pub use error::WatchlistError;
pub use memory::InMemoryWatchlist;
pub use ports::{Watched, WatchedPage, Watchlist};
