//! The inbox's ports: storing a notification once, and listing a user's notifications.

use std::future::Future;

use events::UserId;

use super::error::NotifierError;
use super::notification::Notification;

/// The most notifications one page holds.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Whether a write stored something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    /// The recipient already had this notification (a redelivery, or a concurrent duplicate).
    AlreadyThere,
}

/// Puts a notification into its recipient's inbox, at most once.
pub trait StoreNotification: Send + Sync {
    /// Stores `notification` unless the recipient's inbox already holds its id; either way the
    /// notification is there afterwards, so both are success.
    fn store(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<Stored, NotifierError>> + Send;
}

/// One page of a user's notifications, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    /// Where the next page starts; `None` on the last page. The last page may also be reached
    /// through a cursor that then lists nothing.
    pub next_cursor: Option<String>,
}

/// Reads a user's inbox (GET /me/notifications).
pub trait ListNotifications: Send + Sync {
    /// Up to `limit` (1..=[`MAX_PAGE_SIZE`]) of `user`'s notifications, newest first, starting
    /// after `cursor` (a `next_cursor` this inbox returned to the same user).
    ///
    /// Errors: [`NotifierError::InvalidLimit`] and [`NotifierError::InvalidCursor`] (400);
    /// [`NotifierError::Unavailable`] (503); others (500).
    fn list(
        &self,
        user: &UserId,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<NotificationPage, NotifierError>> + Send;
}

pub(crate) fn check_limit(limit: u32) -> Result<(), NotifierError> {
    if (1..=MAX_PAGE_SIZE).contains(&limit) {
        Ok(())
    } else {
        Err(NotifierError::InvalidLimit {
            limit,
            max: MAX_PAGE_SIZE,
        })
    }
}
