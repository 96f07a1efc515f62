//! The in-memory twins: a preference store and an outbox that keeps what was sent.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use events::UserId;

use crate::compose::Email;
use crate::error::EmailError;
use crate::ports::{Boxed, PreferenceStore, SendEmail};
use crate::topic::{Preferences, Topic};

#[derive(Debug, Default)]
pub struct InMemoryEmailNotices {
    preferences: Mutex<HashMap<UserId, Preferences>>,
    sent: Mutex<HashSet<(UserId, String)>>,
}

impl PreferenceStore for InMemoryEmailNotices {
    fn preferences<'a>(&'a self, user: &'a UserId) -> Boxed<'a, Option<Preferences>> {
        let found = self
            .preferences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user)
            .cloned();
        Box::pin(async move { Ok(found) })
    }

    fn save<'a>(&'a self, user: &'a UserId, preferences: &'a Preferences) -> Boxed<'a, ()> {
        self.preferences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.clone(), preferences.clone());
        Box::pin(async { Ok(()) })
    }

    fn unsubscribe<'a>(
        &'a self,
        user: &'a UserId,
        topic: Option<Topic>,
        at: DateTime<Utc>,
    ) -> Boxed<'a, bool> {
        let mut all = self
            .preferences
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let changed = match all.get_mut(user) {
            Some(preferences) => {
                match topic {
                    Some(topic) => {
                        preferences.topics.remove(&topic);
                    }
                    None => preferences.topics.clear(),
                }
                preferences.updated_at = at;
                true
            }
            None => false,
        };
        Box::pin(async move { Ok(changed) })
    }

    fn was_sent<'a>(&'a self, user: &'a UserId, notification_id: &'a str) -> Boxed<'a, bool> {
        let sent = self
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(user.clone(), notification_id.to_owned()));
        Box::pin(async move { Ok(sent) })
    }

    fn mark_sent<'a>(
        &'a self,
        user: &'a UserId,
        notification_id: &'a str,
        _at: DateTime<Utc>,
    ) -> Boxed<'a, ()> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((user.clone(), notification_id.to_owned()));
        Box::pin(async { Ok(()) })
    }

    fn forget<'a>(&'a self, user: &'a UserId) -> Boxed<'a, ()> {
        self.preferences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(user);
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(owner, _)| owner != user);
        Box::pin(async { Ok(()) })
    }
}

/// A mail service that keeps every email it is given, in order.
#[derive(Debug, Default)]
pub struct Outbox {
    sent: Mutex<Vec<Email>>,
}

impl Outbox {
    /// Every email sent so far.
    pub fn sent(&self) -> Vec<Email> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SendEmail for Outbox {
    async fn send(&self, email: &Email) -> Result<String, EmailError> {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        sent.push(email.clone());
        Ok(format!("outbox-{}", sent.len()))
    }
}
