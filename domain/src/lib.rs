//! The Auction aggregate.
