//! The ports: the preferences and sent marks of each user, and the mail service.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use events::UserId;

use crate::compose::Email;
use crate::error::EmailError;
use crate::topic::{Preferences, Topic};

pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, EmailError>> + Send + 'a>>;

/// Each user's email preferences, and which notices were already emailed to them. Object-safe:
/// the API holds one behind an `Arc<dyn>`.
pub trait PreferenceStore: Send + Sync {
    /// The user's preferences; `None` when they never saved any.
    fn preferences<'a>(&'a self, user: &'a UserId) -> Boxed<'a, Option<Preferences>>;

    /// Replaces the user's preferences.
    fn save<'a>(&'a self, user: &'a UserId, preferences: &'a Preferences) -> Boxed<'a, ()>;

    /// Turns `topic` off (every topic when `None`) at `at`, as an unsubscribe link asks; whether
    /// the user had preferences to change (a link outlives a forgotten user's preferences).
    fn unsubscribe<'a>(
        &'a self,
        user: &'a UserId,
        topic: Option<Topic>,
        at: DateTime<Utc>,
    ) -> Boxed<'a, bool>;

    /// Whether the notification `notification_id` was already emailed to `user`.
    fn was_sent<'a>(&'a self, user: &'a UserId, notification_id: &'a str) -> Boxed<'a, bool>;

    /// Records that the notification was emailed at `at` (kept for a while: a redelivery comes
    /// within days, not months).
    fn mark_sent<'a>(
        &'a self,
        user: &'a UserId,
        notification_id: &'a str,
        at: DateTime<Utc>,
    ) -> Boxed<'a, ()>;

    /// Deletes everything of the user's (their address included): forgetting a user.
    fn forget<'a>(&'a self, user: &'a UserId) -> Boxed<'a, ()>;
}

/// Sends one email.
pub trait SendEmail: Send + Sync {
    /// Sends `email`; the mail service's message id.
    fn send(&self, email: &Email) -> impl Future<Output = Result<String, EmailError>> + Send;
}
