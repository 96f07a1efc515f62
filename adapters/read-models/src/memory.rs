//! The in-memory twin of the DynamoDB adapter: the same gating, ordering and cursors, for
//! handler tests (the projector's and the API's) without DynamoDB.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use events::{AuctionId, UserId};

use crate::error::ProjectorError;
use crate::ports::{
    Cursor, Page, PageRequest, Projections, ReadModels, Written, seller_key, status_key,
    user_bid_key,
};
use crate::views::{AuctionProjection, AuctionStatus, AuctionView, UserBid, fixed_time};

#[derive(Debug, Default)]
struct Tables {
    projections: BTreeMap<AuctionId, AuctionProjection>,
    /// Keyed like the table: user, then auction id as text (the sort key's order).
    user_bids: BTreeMap<(UserId, String), UserBid>,
    failing_writes: u32,
}

#[derive(Debug, Default)]
pub struct InMemoryViews {
    tables: Mutex<Tables>,
}

impl InMemoryViews {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `writes` writes fail as if DynamoDB were unreachable.
    pub fn fail_next_writes(&self, writes: u32) {
        self.lock().failing_writes = writes;
    }

    /// Every stored row, for assertions.
    pub fn all_user_bids(&self) -> Vec<UserBid> {
        self.lock().user_bids.values().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A poisoned lock only means another test thread panicked; the data is still whole.
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_allowed(tables: &mut Tables) -> Result<(), ProjectorError> {
        if tables.failing_writes > 0 {
            tables.failing_writes -= 1;
            return Err(ProjectorError::Unavailable("simulated outage".to_owned()));
        }
        Ok(())
    }
}

impl Projections for InMemoryViews {
    async fn load(
        &self,
        auction_id: AuctionId,
    ) -> Result<Option<AuctionProjection>, ProjectorError> {
        Ok(self.lock().projections.get(&auction_id).cloned())
    }

    async fn put_projection(
        &self,
        projection: &AuctionProjection,
    ) -> Result<Written, ProjectorError> {
        let mut tables = self.lock();
        Self::write_allowed(&mut tables)?;
        let id = projection.view.auction_id;
        if tables
            .projections
            .get(&id)
            .is_some_and(|stored| stored.version() >= projection.version())
        {
            return Ok(Written::AlreadyApplied);
        }
        tables.projections.insert(id, projection.clone());
        Ok(Written::Stored)
    }

    async fn put_user_bid(&self, row: &UserBid) -> Result<Written, ProjectorError> {
        let mut tables = self.lock();
        Self::write_allowed(&mut tables)?;
        let key = (row.user_id.clone(), row.auction_id.to_string());
        if tables
            .user_bids
            .get(&key)
            .is_some_and(|stored| stored.version >= row.version)
        {
            return Ok(Written::AlreadyApplied);
        }
        tables.user_bids.insert(key, row.clone());
        Ok(Written::Stored)
    }
}

/// Which way an index of views sorts on (`endsAt`, `auctionId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    SoonestEndFirst,
    LatestEndFirst,
}

impl InMemoryViews {
    /// A page of the views `keep` selects, as an index on (`endsAt`, `auctionId`) answers it:
    /// in `order`, after the position a cursor decoded to, its next cursor made by `key`.
    fn listing(
        &self,
        keep: impl Fn(&AuctionView) -> bool,
        order: Order,
        after: Option<BTreeMap<String, String>>,
        page: &PageRequest,
        key: impl Fn(&AuctionView) -> BTreeMap<String, String>,
    ) -> Result<Page<AuctionView>, ProjectorError> {
        let after = after.map(|key| {
            let field = |name: &str| key.get(name).cloned().unwrap_or_default();
            (field("endsAt"), field("auctionId"))
        });
        let mut listed: Vec<((String, String), AuctionView)> = self
            .lock()
            .projections
            .values()
            .filter(|projection| keep(&projection.view))
            .map(|projection| {
                let view = projection.view.clone();
                let position = (
                    fixed_time::format(&view.ends_at),
                    view.auction_id.to_string(),
                );
                (position, view)
            })
            .collect();
        listed.sort_by(|a, b| match order {
            Order::SoonestEndFirst => a.0.cmp(&b.0),
            Order::LatestEndFirst => b.0.cmp(&a.0),
        });
        let items: Vec<AuctionView> = listed
            .into_iter()
            .filter(|(position, _)| {
                after.as_ref().is_none_or(|after| match order {
                    Order::SoonestEndFirst => position > after,
                    Order::LatestEndFirst => position < after,
                })
            })
            .map(|(_, view)| view)
            .take(page.limit.get() as usize)
            .collect();
        let next = match items.last() {
            Some(last) if items.len() == page.limit.get() as usize => {
                Some(Cursor::encode(&key(last))?)
            }
            _ => None,
        };
        Ok(Page { items, next })
    }
}

impl ReadModels for InMemoryViews {
    async fn auction(&self, auction_id: AuctionId) -> Result<Option<AuctionView>, ProjectorError> {
        Ok(self
            .lock()
            .projections
            .get(&auction_id)
            .map(|projection| projection.view.clone()))
    }

    async fn auctions(&self, ids: &[AuctionId]) -> Result<Vec<AuctionView>, ProjectorError> {
        let tables = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| tables.projections.get(id))
            .map(|projection| projection.view.clone())
            .collect())
    }

    async fn auctions_by_status(
        &self,
        status: AuctionStatus,
        page: &PageRequest,
    ) -> Result<Page<AuctionView>, ProjectorError> {
        let after = match &page.cursor {
            Some(cursor) => Some(cursor.status_position(status)?),
            None => None,
        };
        self.listing(
            |view| view.status == status,
            Order::SoonestEndFirst,
            after,
            page,
            status_key,
        )
    }

    async fn auctions_by_seller(
        &self,
        seller_id: &UserId,
        page: &PageRequest,
    ) -> Result<Page<AuctionView>, ProjectorError> {
        let after = match &page.cursor {
            Some(cursor) => Some(cursor.seller_position(seller_id)?),
            None => None,
        };
        self.listing(
            |view| &view.seller_id == seller_id,
            Order::LatestEndFirst,
            after,
            page,
            seller_key,
        )
    }

    async fn user_bids(
        &self,
        user_id: &UserId,
        page: &PageRequest,
    ) -> Result<Page<UserBid>, ProjectorError> {
        let after = match &page.cursor {
            Some(cursor) => cursor
                .user_bids_position(user_id)?
                .get("auctionId")
                .cloned(),
            None => None,
        };
        let items: Vec<UserBid> = self
            .lock()
            .user_bids
            .iter()
            .filter(|((user, auction), _)| {
                user == user_id && after.as_ref().is_none_or(|after| auction > after)
            })
            .map(|(_, row)| row.clone())
            .take(page.limit.get() as usize)
            .collect();
        let items = {
            let tables = self.lock();
            items
                .into_iter()
                .map(|row| match tables.projections.get(&row.auction_id) {
                    Some(projection) => row.with_live(
                        projection.view.current_price.as_ref(),
                        projection.view.ends_at,
                    ),
                    None => row,
                })
                .collect::<Vec<_>>()
        };
        let next = match items.last() {
            Some(last) if items.len() == page.limit.get() as usize => {
                Some(Cursor::encode(&user_bid_key(last))?)
            }
            _ => None,
        };
        Ok(Page { items, next })
    }
}
