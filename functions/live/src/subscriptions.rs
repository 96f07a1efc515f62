//! Who watches what: the port, and the shapes both adapters share.

use std::future::Future;

use chrono::{DateTime, Utc};
use events::{AuctionId, UserId};

use crate::error::LiveError;

/// How many auctions one connection may watch: enough for a page of listings, few enough that
/// one client cannot make every push fan out to it.
pub const MAX_SUBSCRIPTIONS: usize = 50;

/// A WebSocket connection's id: API Gateway's `connectionId`, or the local server's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub String);

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a connection's item is about: the connection itself, or one auction it watches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    Connection,
    Auction(AuctionId),
}

impl Topic {
    pub fn key(&self) -> String {
        match self {
            Self::Connection => "connection".to_owned(),
            Self::Auction(auction_id) => format!("auction#{auction_id}"),
        }
    }
}

/// The connections table, as the sessions and the broadcaster use it.
pub trait Subscriptions: Send + Sync {
    /// Records a new connection of `user`.
    fn connected(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), LiveError>> + Send;

    /// Adds `auction_id` to what the connection watches (again is a no-op), or
    /// [`LiveError::TooManySubscriptions`].
    fn subscribe(
        &self,
        connection: &ConnectionId,
        auction_id: AuctionId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), LiveError>> + Send;

    fn unsubscribe(
        &self,
        connection: &ConnectionId,
        auction_id: AuctionId,
    ) -> impl Future<Output = Result<(), LiveError>> + Send;

    /// Every connection watching `auction_id`.
    fn watchers(
        &self,
        auction_id: AuctionId,
    ) -> impl Future<Output = Result<Vec<ConnectionId>, LiveError>> + Send;

    /// Forgets the connection and everything it watched.
    fn disconnected(
        &self,
        connection: &ConnectionId,
    ) -> impl Future<Output = Result<(), LiveError>> + Send;
}
