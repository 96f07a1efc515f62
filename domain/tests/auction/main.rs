//! The Auction's rules, each accepted and rejected, in given/when/then form.
// In tests a panic is a failed assertion; clippy's in-test allowance does not reach helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bidding;
mod creating;
mod ending;
mod properties;
mod proxy;
mod relisting;
mod settlement;
mod support;
