//! The reconciler's own ports, each named for one capability. What it reads besides these is
//! behind the ports of the crates that own the data: the log's `EventLog`, `Snapshots` and
//! `EventsOfType`, the views' `Projections`, the sagas' `SagaStates`.

use std::collections::HashSet;
use std::future::Future;

use events::UserId;

use crate::error::ReconcilerError;

/// Redelivery is parking's: `parking::Consumers` hands events from the log to a consumer
/// through its normal idempotent path, as if its trigger had delivered them again.
pub use parking::{Consumer, Redeliver};

/// One notification's key in the inbox: the recipient and the notifier's deterministic id.
pub type NoticeKey = (UserId, String);

/// Which notifications the inbox holds.
pub trait StoredNotices: Send + Sync {
    /// Those of `keys` that are stored.
    fn present(
        &self,
        keys: &[NoticeKey],
    ) -> impl Future<Output = Result<HashSet<NoticeKey>, ReconcilerError>> + Send;
}

/// The notifier's in-memory inbox holds what its handler stored, so the detection can be tested
/// against the real notifier over memory.
impl StoredNotices for read_models::notifications::InMemoryNotifications {
    async fn present(&self, keys: &[NoticeKey]) -> Result<HashSet<NoticeKey>, ReconcilerError> {
        Ok(keys
            .iter()
            .filter(|(user, id)| {
                self.inbox(user)
                    .iter()
                    .any(|stored| stored.notification_id == *id)
            })
            .cloned()
            .collect())
    }
}

/// Everything a run reads and the way it repairs.
pub struct Ports<L, S, V, N, R, P> {
    /// The log and its audit index (`byTypeShard`).
    pub log: L,
    pub sagas: S,
    pub views: V,
    pub notices: N,
    pub consumers: R,
    /// What the consumers gave up on, replayed by each run (`parking::replay`).
    pub parked: P,
}
