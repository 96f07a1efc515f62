//! The in-memory twin of [`crate::DynamoDbWatchlist`]: the same order and cursors, for the
//! API's tests.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use events::{AuctionId, UserId};

use crate::ports::{Boxed, Watched, WatchedPage, Watchlist, cursor_after, cursor_position};

#[derive(Debug, Default)]
pub struct InMemoryWatchlist {
    /// Keyed like the table: user, then the auction id as text (the sort key's order).
    items: Mutex<BTreeMap<(UserId, String), Watched>>,
}

impl InMemoryWatchlist {
    pub fn new() -> Self {
        Self::default()
    }

    fn items(&self) -> MutexGuard<'_, BTreeMap<(UserId, String), Watched>> {
        // A poisoned lock only means another test thread panicked; the data is still whole.
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Watchlist for InMemoryWatchlist {
    fn watch<'a>(
        &'a self,
        user: &'a UserId,
        auction: AuctionId,
        at: DateTime<Utc>,
    ) -> Boxed<'a, bool> {
        Box::pin(async move {
            let mut items = self.items();
            let key = (user.clone(), auction.to_string());
            if items.contains_key(&key) {
                return Ok(false);
            }
            items.insert(
                key,
                Watched {
                    auction_id: auction,
                    watched_at: at,
                },
            );
            Ok(true)
        })
    }

    fn unwatch<'a>(&'a self, user: &'a UserId, auction: AuctionId) -> Boxed<'a, bool> {
        Box::pin(async move {
            Ok(self
                .items()
                .remove(&(user.clone(), auction.to_string()))
                .is_some())
        })
    }

    fn watched<'a>(
        &'a self,
        user: &'a UserId,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> Boxed<'a, WatchedPage> {
        Box::pin(async move {
            let after = cursor
                .map(cursor_position)
                .transpose()?
                .map(|id| id.to_string());
            let limit = limit as usize;
            let items: Vec<Watched> = self
                .items()
                .iter()
                .filter(|((owner, auction), _)| {
                    owner == user && after.as_ref().is_none_or(|after| auction > after)
                })
                .map(|(_, watched)| watched.clone())
                .take(limit)
                .collect();
            let next_cursor = match items.last() {
                Some(last) if items.len() == limit => Some(cursor_after(last.auction_id)),
                _ => None,
            };
            Ok(WatchedPage { items, next_cursor })
        })
    }

    fn watchers(&self, auction: AuctionId) -> Boxed<'_, Vec<UserId>> {
        let auction = auction.to_string();
        // The map is ordered by user, then auction: the watchers come out in user order.
        let watchers = self
            .items()
            .keys()
            .filter(|(_, watched)| *watched == auction)
            .map(|(user, _)| user.clone())
            .collect();
        Box::pin(async move { Ok(watchers) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use uuid::Uuid;

    use super::*;
    use crate::WatchlistError;

    fn user(name: &str) -> UserId {
        UserId::try_from(name).unwrap()
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    #[tokio::test]
    async fn given_three_watched_auctions_when_paged_two_at_a_time_then_each_comes_once_and_only_the_owners()
     {
        let list = InMemoryWatchlist::new();
        let ids: Vec<AuctionId> = (1..=3).map(|n| AuctionId(Uuid::from_u128(n))).collect();
        for id in &ids {
            assert!(list.watch(&user("ann"), *id, at()).await.unwrap());
        }
        list.watch(&user("bob"), AuctionId(Uuid::from_u128(9)), at())
            .await
            .unwrap();
        // Watching again changes nothing
        assert!(!list.watch(&user("ann"), ids[0], at()).await.unwrap());

        let first = list.watched(&user("ann"), 2, None).await.unwrap();
        let second = list
            .watched(&user("ann"), 2, first.next_cursor.as_deref())
            .await
            .unwrap();

        let listed: Vec<AuctionId> = first
            .items
            .iter()
            .chain(&second.items)
            .map(|w| w.auction_id)
            .collect();
        assert_eq!(listed, ids);
        assert_eq!(second.next_cursor, None);
        assert!(list.unwatch(&user("ann"), ids[1]).await.unwrap());
        assert!(!list.unwatch(&user("ann"), ids[1]).await.unwrap());
        assert_eq!(
            list.watched(&user("ann"), 10, Some("%%")).await,
            Err(WatchlistError::InvalidCursor(
                "not a watchlist cursor".to_owned()
            ))
        );
    }
}
