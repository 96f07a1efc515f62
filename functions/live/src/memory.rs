//! In-memory twins of the ports, for tests and for reasoning about the protocol without AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use events::{AuctionId, UserId};

use crate::error::LiveError;
use crate::push::{Push, PushError};
use crate::subscriptions::{ConnectionId, MAX_SUBSCRIPTIONS, Subscriptions};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread leaves plain data behind, still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct Connection {
    user: Option<UserId>,
    watched: BTreeSet<AuctionId>,
}

#[derive(Debug, Default)]
pub struct InMemorySubscriptions {
    connections: Mutex<BTreeMap<ConnectionId, Connection>>,
}

impl InMemorySubscriptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// The user of a connection, if it is known.
    pub fn user_of(&self, connection: &ConnectionId) -> Option<UserId> {
        lock(&self.connections)
            .get(connection)
            .and_then(|c| c.user.clone())
    }

    pub fn is_connected(&self, connection: &ConnectionId) -> bool {
        lock(&self.connections).contains_key(connection)
    }
}

impl Subscriptions for InMemorySubscriptions {
    async fn connected(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        _now: DateTime<Utc>,
    ) -> Result<(), LiveError> {
        lock(&self.connections)
            .entry(connection.clone())
            .or_default()
            .user = Some(user.clone());
        Ok(())
    }

    async fn subscribe(
        &self,
        connection: &ConnectionId,
        auction_id: AuctionId,
        _now: DateTime<Utc>,
    ) -> Result<(), LiveError> {
        let mut connections = lock(&self.connections);
        let watched = &mut connections.entry(connection.clone()).or_default().watched;
        if !watched.contains(&auction_id) && watched.len() >= MAX_SUBSCRIPTIONS {
            return Err(LiveError::TooManySubscriptions(MAX_SUBSCRIPTIONS));
        }
        watched.insert(auction_id);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        connection: &ConnectionId,
        auction_id: AuctionId,
    ) -> Result<(), LiveError> {
        if let Some(c) = lock(&self.connections).get_mut(connection) {
            c.watched.remove(&auction_id);
        }
        Ok(())
    }

    async fn watchers(&self, auction_id: AuctionId) -> Result<Vec<ConnectionId>, LiveError> {
        Ok(lock(&self.connections)
            .iter()
            .filter(|(_, c)| c.watched.contains(&auction_id))
            .map(|(connection, _)| connection.clone())
            .collect())
    }

    async fn disconnected(&self, connection: &ConnectionId) -> Result<(), LiveError> {
        lock(&self.connections).remove(connection);
        Ok(())
    }
}

/// Records every push; connections can be made gone or to fail a number of times, and the whole
/// port unavailable.
#[derive(Debug, Default)]
pub struct InMemoryPush {
    sent: Mutex<Vec<(ConnectionId, String)>>,
    gone: Mutex<BTreeSet<ConnectionId>>,
    failing: Mutex<BTreeMap<ConnectionId, u32>>,
    attempts: Mutex<BTreeMap<ConnectionId, u32>>,
    unavailable: Mutex<bool>,
}

impl InMemoryPush {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message pushed to `connection`, in order.
    pub fn sent_to(&self, connection: &ConnectionId) -> Vec<String> {
        lock(&self.sent)
            .iter()
            .filter(|(to, _)| to == connection)
            .map(|(_, message)| message.clone())
            .collect()
    }

    /// From now on, pushes to `connection` answer 410 Gone.
    pub fn close(&self, connection: &ConnectionId) {
        lock(&self.gone).insert(connection.clone());
    }

    /// The next `times` pushes to `connection` fail as unavailable; `u32::MAX`: all of them.
    pub fn fail(&self, connection: &ConnectionId, times: u32) {
        lock(&self.failing).insert(connection.clone(), times);
    }

    /// How many pushes to `connection` were tried, failed ones included.
    pub fn attempts(&self, connection: &ConnectionId) -> u32 {
        lock(&self.attempts).get(connection).copied().unwrap_or(0)
    }

    pub fn set_unavailable(&self, unavailable: bool) {
        *lock(&self.unavailable) = unavailable;
    }
}

impl Push for InMemoryPush {
    async fn push(&self, connection: &ConnectionId, message: &str) -> Result<(), PushError> {
        *lock(&self.attempts).entry(connection.clone()).or_default() += 1;
        if let Some(left) = lock(&self.failing).get_mut(connection).filter(|n| **n > 0) {
            *left = left.saturating_sub(u32::from(*left != u32::MAX));
            return Err(PushError::Unavailable(format!("{connection} is failing")));
        }
        if *lock(&self.unavailable) {
            return Err(PushError::Unavailable("the push port is down".to_owned()));
        }
        if lock(&self.gone).contains(connection) {
            return Err(PushError::Gone);
        }
        lock(&self.sent).push((connection.clone(), message.to_owned()));
        Ok(())
    }
}
