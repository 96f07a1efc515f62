//! The read models: the Events stream projected into denormalized views, and the port the API
//! reads them through.
//!
//! - [`views`]: pure projections. [`project`] folds one event into an auction's
//!   [`AuctionProjection`] (the public [`AuctionView`] plus what must stay hidden), from which
//!   every bidder's [`UserBid`] row is derived.
//! - [`handle`]: the Lambda handler on the Events stream. Version-gated (a duplicate or older
//!   record changes nothing), gap-filling (missing events are read from the log), and reporting
//!   failed records per auction as partial batch failures.
//! - [`ReadModels`]: the query port (one auction, auctions by status ordered by end, a user's
//!   bids; limits and opaque cursors). [`DynamoDbViews`] implements both ports on DynamoDB and
//!   [`InMemoryViews`] is its twin for handler tests.
//!
//! Depends on the event contract, the event store (to read the log) and the stream record
//! decoding. Must not depend on the domain (the views follow the events, not the aggregate's
//! rules), HTTP or SQS.

mod aliases;
mod config;
mod dynamodb;
mod error;
mod handler;
mod memory;
pub mod notifications;
mod ports;
mod tables;
pub mod views;

pub use aliases::{ALIAS_TTL, AUCTION_VIEWS, Alias, TableSource, ViewAliases};
pub use config::{Projector, projector_from_env};
pub use dynamodb::{DynamoDbViews, projection_item, user_bid_item};
pub use error::ProjectorError;
pub use handler::{Applied, apply, handle};
pub use memory::InMemoryViews;
pub use ports::{Cursor, Limit, Page, PageRequest, Projections, ReadModels, Written};
pub use tables::{ViewTables, event_tables_from_env};
pub use views::{
    AuctionProjection, AuctionStatus, AuctionView, BidStatus, EndedBy, PaymentStatus, Replay,
    Settlement, UserBid, project,
};
