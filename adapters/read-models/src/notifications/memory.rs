//! The inbox in memory: the twin of the DynamoDB inbox for handler and API tests, with the same
//! ordering, page limits and cursor checks.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use events::UserId;

use super::cursor;
use super::error::NotifierError;
use super::inbox::{ListNotifications, NotificationPage, StoreNotification, Stored, check_limit};
use super::notification::Notification;

#[derive(Debug, Default)]
pub struct InMemoryNotifications {
    inboxes: Mutex<HashMap<UserId, BTreeMap<String, Notification>>>,
}

impl InMemoryNotifications {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every notification of `user`, oldest first.
    pub fn inbox(&self, user: &UserId) -> Vec<Notification> {
        self.lock()
            .get(user)
            .map(|inbox| inbox.values().cloned().collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, BTreeMap<String, Notification>>> {
        // A poisoned lock still holds whole notifications.
        self.inboxes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StoreNotification for InMemoryNotifications {
    async fn store(&self, notification: &Notification) -> Result<Stored, NotifierError> {
        let mut inboxes = self.lock();
        let inbox = inboxes.entry(notification.recipient.clone()).or_default();
        if inbox.contains_key(&notification.notification_id) {
            return Ok(Stored::AlreadyThere);
        }
        inbox.insert(notification.notification_id.clone(), notification.clone());
        Ok(Stored::New)
    }
}

impl ListNotifications for InMemoryNotifications {
    async fn list(
        &self,
        user: &UserId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<NotificationPage, NotifierError> {
        check_limit(limit)?;
        let after = cursor.map(|c| cursor::decode(user, c)).transpose()?;
        let inboxes = self.lock();
        let mut newest_first = inboxes
            .get(user)
            .into_iter()
            .flat_map(|inbox| inbox.values().rev())
            .filter(|n| {
                after
                    .as_ref()
                    .is_none_or(|after| n.notification_id < *after)
            });
        let notifications: Vec<Notification> = newest_first
            .by_ref()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        let more = newest_first.next().is_some();
        let next_cursor = notifications
            .last()
            .filter(|_| more)
            .map(|last| cursor::encode(user, &last.notification_id));
        Ok(NotificationPage {
            notifications,
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::{TimeDelta, TimeZone, Utc};
    use events::AuctionId;
    use uuid::Uuid;

    use super::*;
    use crate::notifications::{Kind, notification_id};

    fn user(name: &str) -> UserId {
        UserId::try_from(name).unwrap()
    }

    fn outbid(recipient: &str, minute: i64) -> Notification {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap() + TimeDelta::minutes(minute);
        let version = u64::try_from(minute).unwrap() + 3;
        Notification {
            notification_id: notification_id(
                at,
                AuctionId(Uuid::from_u128(7)),
                version,
                Kind::Outbid,
            ),
            recipient: user(recipient),
            kind: Kind::Outbid,
            auction_id: AuctionId(Uuid::from_u128(7)),
            auction_title: "Red bike".to_owned(),
            amount: None,
            occurred_at: at,
            aggregate_version: version,
            event_id: Uuid::new_v4(),
            text: "You were outbid.".to_owned(),
        }
    }

    #[tokio::test]
    async fn pages_follow_each_other_newest_first_until_the_last() {
        // Given five notifications for bob and one for cat
        let inbox = InMemoryNotifications::new();
        for minute in 0..5 {
            inbox.store(&outbid("bob", minute)).await.unwrap();
        }
        inbox.store(&outbid("cat", 9)).await.unwrap();

        // When bob lists two at a time
        let first = inbox.list(&user("bob"), 2, None).await.unwrap();
        let second = inbox
            .list(&user("bob"), 2, first.next_cursor.as_deref())
            .await
            .unwrap();
        let third = inbox
            .list(&user("bob"), 2, second.next_cursor.as_deref())
            .await
            .unwrap();

        // Then he sees his own five, newest first, each once, and the last page has no cursor
        let versions: Vec<u64> = [&first, &second, &third]
            .iter()
            .flat_map(|page| page.notifications.iter().map(|n| n.aggregate_version))
            .collect();
        assert_eq!(versions, [7, 6, 5, 4, 3]);
        assert!(third.next_cursor.is_none());
    }

    #[tokio::test]
    async fn a_page_size_outside_one_to_a_hundred_is_refused() {
        let inbox = InMemoryNotifications::new();

        for limit in [0, 101] {
            assert!(matches!(
                inbox.list(&user("bob"), limit, None).await,
                Err(NotifierError::InvalidLimit { .. })
            ));
        }
    }

    #[tokio::test]
    async fn storing_the_same_notification_twice_keeps_one() {
        let inbox = InMemoryNotifications::new();

        assert_eq!(inbox.store(&outbid("bob", 1)).await.unwrap(), Stored::New);
        assert_eq!(
            inbox.store(&outbid("bob", 1)).await.unwrap(),
            Stored::AlreadyThere
        );
        assert_eq!(inbox.inbox(&user("bob")).len(), 1);
    }
}
