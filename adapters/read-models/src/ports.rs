//! The two ports: [`Projections`], where the projector keeps its state and writes the views
//! (version-gated), and [`ReadModels`], what the API reads. Plus the paging types they share.

use std::collections::BTreeMap;
use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use events::{AuctionId, UserId};

use crate::error::ProjectorError;
use crate::views::{AuctionProjection, AuctionStatus, AuctionView, UserBid, fixed_time};

/// What a version-gated write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Stored,
    /// The stored item already reflects this version or a later one: nothing changed, and that
    /// is success (the event was applied before).
    AlreadyApplied,
}

/// The projector's own storage: each auction's projection and the users' rows.
pub trait Projections: Send + Sync {
    /// The auction's projection as last stored, read strongly consistent.
    fn load(
        &self,
        auction_id: AuctionId,
    ) -> impl Future<Output = Result<Option<AuctionProjection>, ProjectorError>> + Send;

    /// Stores the projection unless the stored one is at its version or later.
    fn put_projection(
        &self,
        projection: &AuctionProjection,
    ) -> impl Future<Output = Result<Written, ProjectorError>> + Send;

    /// Stores the row unless the stored row is at its version or later.
    fn put_user_bid(
        &self,
        row: &UserBid,
    ) -> impl Future<Output = Result<Written, ProjectorError>> + Send;
}

/// The read side, for the API.
pub trait ReadModels: Send + Sync {
    /// One auction, read strongly consistent (a client that just bid sees its bid once the
    /// projector has applied it).
    fn auction(
        &self,
        auction_id: AuctionId,
    ) -> impl Future<Output = Result<Option<AuctionView>, ProjectorError>> + Send;

    /// The views of `ids` (at most 100), read strongly consistent, in no particular order; an
    /// auction without a view is left out.
    fn auctions(
        &self,
        ids: &[AuctionId],
    ) -> impl Future<Output = Result<Vec<AuctionView>, ProjectorError>> + Send;

    /// Auctions of a status, soonest end first (then by id). Eventually consistent: it reads
    /// an index.
    fn auctions_by_status(
        &self,
        status: AuctionStatus,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<AuctionView>, ProjectorError>> + Send;

    /// A seller's auctions, every status, latest end first (then by id, descending). Reads an
    /// index that lags the views by moments (a just-created auction may be missing), then the
    /// views themselves, so each listed auction is as current as `auction` answers it.
    fn auctions_by_seller(
        &self,
        seller_id: &UserId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<AuctionView>, ProjectorError>> + Send;

    /// A user's rows, ordered by auction id.
    fn user_bids(
        &self,
        user_id: &UserId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<UserBid>, ProjectorError>> + Send;
}

/// A page size, 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub const MAX: u32 = 100;
    pub const DEFAULT: Limit = Limit(20);

    pub fn new(limit: u32) -> Result<Self, ProjectorError> {
        if (1..=Self::MAX).contains(&limit) {
            Ok(Self(limit))
        } else {
            Err(ProjectorError::InvalidLimit {
                given: limit,
                max: Self::MAX,
            })
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where a listing continues: opaque to clients (base64url text), checked against the query it
/// is used with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// Takes a client's cursor text. Its content is checked when it is used, against the query.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Encodes the last key of a page (every attribute of it is a string).
    pub(crate) fn encode(key: &BTreeMap<String, String>) -> Result<Self, ProjectorError> {
        let json = serde_json::to_vec(key)
            .map_err(|e| ProjectorError::Corrupt(format!("a page key does not encode: {e}")))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(json)))
    }

    /// The key this cursor encodes, if it has exactly the `expected` attributes.
    fn decode(&self, expected: &[&str]) -> Result<BTreeMap<String, String>, ProjectorError> {
        let invalid = |why: &str| ProjectorError::InvalidCursor(why.to_owned());
        let bytes = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .map_err(|_| invalid("not base64url"))?;
        let key: BTreeMap<String, String> =
            serde_json::from_slice(&bytes).map_err(|_| invalid("not a page key"))?;
        let mut names: Vec<&str> = key.keys().map(String::as_str).collect();
        let mut wanted = expected.to_vec();
        names.sort_unstable();
        wanted.sort_unstable();
        if names != wanted {
            return Err(invalid("not a key of this listing"));
        }
        Ok(key)
    }

    /// The position in a status listing: `(endsAt, auctionId)`, for `status` only.
    pub(crate) fn status_position(
        &self,
        status: AuctionStatus,
    ) -> Result<BTreeMap<String, String>, ProjectorError> {
        let key = self.decode(&["auctionId", "status", "endsAt"])?;
        let field = |name: &str| key.get(name).map(String::as_str).unwrap_or_default();
        if field("status") != status.as_str() {
            return Err(ProjectorError::InvalidCursor(
                "the cursor belongs to another status".to_owned(),
            ));
        }
        if fixed_time::parse(field("endsAt")).is_none() {
            return Err(ProjectorError::InvalidCursor("bad end time".to_owned()));
        }
        parse_auction_id(field("auctionId"))?;
        Ok(key)
    }

    /// The position in a seller's listing: `(endsAt, auctionId)`, for `seller_id` only.
    pub(crate) fn seller_position(
        &self,
        seller_id: &UserId,
    ) -> Result<BTreeMap<String, String>, ProjectorError> {
        let key = self.decode(&["auctionId", "sellerId", "endsAt"])?;
        let field = |name: &str| key.get(name).map(String::as_str).unwrap_or_default();
        if field("sellerId") != seller_id.as_str() {
            return Err(ProjectorError::InvalidCursor(
                "the cursor belongs to another seller".to_owned(),
            ));
        }
        if fixed_time::parse(field("endsAt")).is_none() {
            return Err(ProjectorError::InvalidCursor("bad end time".to_owned()));
        }
        parse_auction_id(field("auctionId"))?;
        Ok(key)
    }

    /// The position in a user's rows: the auction id, for `user_id` only.
    pub(crate) fn user_bids_position(
        &self,
        user_id: &UserId,
    ) -> Result<BTreeMap<String, String>, ProjectorError> {
        let key = self.decode(&["userId", "auctionId"])?;
        let field = |name: &str| key.get(name).map(String::as_str).unwrap_or_default();
        if field("userId") != user_id.as_str() {
            return Err(ProjectorError::InvalidCursor(
                "the cursor belongs to another user".to_owned(),
            ));
        }
        parse_auction_id(field("auctionId"))?;
        Ok(key)
    }
}

fn parse_auction_id(text: &str) -> Result<AuctionId, ProjectorError> {
    text.parse()
        .map(AuctionId)
        .map_err(|_| ProjectorError::InvalidCursor("bad auction id".to_owned()))
}

/// Which page of a listing to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: Limit,
    /// `None` for the first page; then the previous page's `next`.
    pub cursor: Option<Cursor>,
}

/// One page of a listing. `next` is set when the page is full: there may be more (the last
/// page of a listing can then be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// The key of an auction in the status listing, as a cursor encodes it.
pub(crate) fn status_key(view: &AuctionView) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("auctionId".to_owned(), view.auction_id.to_string()),
        ("status".to_owned(), view.status.as_str().to_owned()),
        ("endsAt".to_owned(), fixed_time::format(&view.ends_at)),
    ])
}

/// The key of an auction in its seller's listing, as a cursor encodes it.
pub(crate) fn seller_key(view: &AuctionView) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("auctionId".to_owned(), view.auction_id.to_string()),
        ("sellerId".to_owned(), view.seller_id.as_str().to_owned()),
        ("endsAt".to_owned(), fixed_time::format(&view.ends_at)),
    ])
}

/// The key of a user's row, as a cursor encodes it.
pub(crate) fn user_bid_key(row: &UserBid) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("userId".to_owned(), row.user_id.as_str().to_owned()),
        ("auctionId".to_owned(), row.auction_id.to_string()),
    ])
}
