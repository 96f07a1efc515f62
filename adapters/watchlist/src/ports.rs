//! The port, and the page and cursor both adapters share.

use std::future::Future;
use std::pin::Pin;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use events::{AuctionId, UserId};

use crate::error::WatchlistError;

pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, WatchlistError>> + Send + 'a>>;

/// One auction on a watchlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub auction_id: AuctionId,
    /// When the user first put it there.
    pub watched_at: DateTime<Utc>,
}

/// A page of a watchlist, ordered by auction id; `next_cursor` is set when there may be more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedPage {
    pub items: Vec<Watched>,
    pub next_cursor: Option<String>,
}

/// The auctions users watch.
pub trait Watchlist: Send + Sync {
    /// Puts the auction on the user's watchlist at `at`; whether it was not there yet (watching
    /// it again keeps the first time and changes nothing).
    fn watch<'a>(
        &'a self,
        user: &'a UserId,
        auction: AuctionId,
        at: DateTime<Utc>,
    ) -> Boxed<'a, bool>;

    /// Takes the auction off the user's watchlist; whether it was there.
    fn unwatch<'a>(&'a self, user: &'a UserId, auction: AuctionId) -> Boxed<'a, bool>;

    /// At most `limit` (1..=100) of the user's watched auctions after `cursor`.
    fn watched<'a>(
        &'a self,
        user: &'a UserId,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> Boxed<'a, WatchedPage>;

    /// Everyone who watches the auction, in user id order.
    fn watchers(&self, auction: AuctionId) -> Boxed<'_, Vec<UserId>>;
}

/// The cursor after `auction`: its id, opaque to clients. It only ever places a listing within
/// the caller's own watchlist, so it needs no binding to the user.
pub(crate) fn cursor_after(auction: AuctionId) -> String {
    URL_SAFE_NO_PAD.encode(auction.to_string())
}

/// The auction a cursor names.
pub(crate) fn cursor_position(cursor: &str) -> Result<AuctionId, WatchlistError> {
    let invalid = || WatchlistError::InvalidCursor("not a watchlist cursor".to_owned());
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.parse().map(AuctionId).map_err(|_| invalid())
}
