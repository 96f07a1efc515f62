//! What the admin routes reach parking through: the parked items (list) and their replay from
//! the log through the consumers' own code (docs/parking.md), behind an object-safe port so
//! that the router stays generic over the event store backend only.
//!
//! [`Parking`] is the one implementation: a Parked table, the log a replay reads, and the
//! consumers it redelivers to ([`parking::Consumers`] in production; its in-memory ports in
//! tests). The consumers may be built on the first replay instead of at start-up
//! ([`Parking::connecting`]): resolving the queues' URLs calls SQS, and an API that cannot
//! reach SQS must still serve bids and the parked list.

use chrono::{DateTime, Utc};
use event_store::{EventLog, Meter, Store, StoreError, StoredEvent};
use fan_out::{InMemoryQueues, QueueUrls};
use notary::InMemoryHeads;
use parking::{Consumer, Consumers, InMemoryParked, Parked, ParkedItems, ParkingError, Redeliver};
use read_models::InMemoryViews;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::Backend;
use crate::reads::BoxFuture;

/// The parked items, as the admin routes use them.
pub trait ParkedAdmin: Send + Sync {
    /// Every parked item, or those of one consumer, ordered by consumer and id.
    fn list<'a>(
        &'a self,
        consumer: Option<Consumer>,
    ) -> BoxFuture<'a, Result<Vec<Parked>, ParkingError>>;

    /// [`parking::replay`]: the item's events from the log through its consumer, then the item
    /// removed; answers the item as it was. If the consumer fails again the item stays, with
    /// that error as its last and one more failed replay ([`ParkingError::ConsumerFailed`]).
    fn replay<'a>(
        &'a self,
        consumer: &'a str,
        parked_id: &'a str,
    ) -> BoxFuture<'a, Result<Parked, ParkingError>>;
}

/// Builds the consumers a replay redelivers to.
pub type Connect<R> = Box<dyn Fn() -> BoxFuture<'static, Result<R, ParkingError>> + Send + Sync>;

/// A Parked table, the log and the consumers: what [`parking::replay`] needs.
pub struct Parking<P, L, R> {
    parked: P,
    log: L,
    consumers: OnceCell<R>,
    /// How to build the consumers when they were not given; `None` when they were.
    connect: Option<Connect<R>>,
}

impl<P, L, R> Parking<P, L, R> {
    pub fn new(parked: P, log: L, consumers: R) -> Self {
        Self {
            parked,
            log,
            consumers: OnceCell::new_with(Some(consumers)),
            connect: None,
        }
    }

    /// The consumers are built by `connect` on the first replay that needs them; a failure is
    /// that replay's answer (the item is left as it was) and the next replay tries again.
    pub fn connecting(parked: P, log: L, connect: Connect<R>) -> Self {
        Self {
            parked,
            log,
            consumers: OnceCell::new(),
            connect: Some(connect),
        }
    }
}

impl<P, L, R> Parking<P, L, R>
where
    P: ParkedItems,
{
    async fn consumers(&self, consumer: &str, parked_id: &str) -> Result<&R, ParkingError> {
        if let Some(consumers) = self.consumers.get() {
            return Ok(consumers);
        }
        // Before building the consumers (SQS calls that may fail), so that a replay of nothing
        // answers that it is nothing rather than that the queues are out of reach.
        if self.parked.get(consumer, parked_id).await?.is_none() {
            return Err(ParkingError::NotParked {
                consumer: consumer.to_owned(),
                parked_id: parked_id.to_owned(),
            });
        }
        let connect = self
            .connect
            .as_ref()
            .ok_or_else(|| ParkingError::Unreachable {
                consumer: consumer.to_owned(),
                reason: "no consumers are configured".to_owned(),
            })?;
        self.consumers.get_or_try_init(connect).await
    }
}

impl<P, L, R> ParkedAdmin for Parking<P, L, R>
where
    P: ParkedItems,
    L: EventLog,
    R: Redeliver,
{
    fn list<'a>(
        &'a self,
        consumer: Option<Consumer>,
    ) -> BoxFuture<'a, Result<Vec<Parked>, ParkingError>> {
        Box::pin(self.parked.list(consumer.map(Consumer::name)))
    }

    fn replay<'a>(
        &'a self,
        consumer: &'a str,
        parked_id: &'a str,
    ) -> BoxFuture<'a, Result<Parked, ParkingError>> {
        Box::pin(async move {
            // An unknown consumer is bad input whether or not anything could be delivered.
            consumer.parse::<Consumer>()?;
            let consumers = self.consumers(consumer, parked_id).await?;
            parking::replay(&self.parked, &self.log, consumers, consumer, parked_id).await
        })
    }
}

/// The in-memory parking: for routers that run with no network.
pub type InMemoryParking<B> = Parking<
    InMemoryParked,
    StoreLog<B>,
    Consumers<StoreLog<B>, InMemoryViews, InMemoryQueues, InMemoryHeads>,
>;

impl<B: Backend> InMemoryParking<B> {
    /// An empty Parked table in memory, replaying from `store`'s log into in-memory views and
    /// queues of its own, which nothing reads: for the routers of tests and fuzz targets that
    /// do not look at what a replay delivered.
    pub fn in_memory(store: &Store<B>) -> Self {
        Self::new(
            InMemoryParked::new(),
            StoreLog::new(store.clone()),
            Consumers::new(
                StoreLog::new(store.clone()),
                InMemoryViews::new(),
                InMemoryHeads::new(),
                InMemoryQueues::new(),
                QueueUrls::from_fn(|queue| format!("memory://{}", queue.default_name())),
            ),
        )
    }
}

/// The log of an event [`Store`]'s backend, shared with the store: what a replay reads when the
/// backend is not itself shareable (the in-memory store).
pub struct StoreLog<B>(Store<B>);

impl<B> StoreLog<B> {
    pub fn new(store: Store<B>) -> Self {
        Self(store)
    }
}

impl<B: Backend> EventLog for StoreLog<B> {
    async fn read_after(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        after: u64,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.0
            .backend()
            .read_after(aggregate_id, after, meter)
            .await
    }

    async fn read_range(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        from: u64,
        to: u64,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.0
            .backend()
            .read_range(aggregate_id, from, to, meter)
            .await
    }

    async fn append(&self, events: &[StoredEvent], meter: &Meter) -> Result<(), StoreError> {
        self.0.backend().append(events, meter).await
    }

    async fn find_by_command_key(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        command_key: &str,
        not_before: DateTime<Utc>,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.0
            .backend()
            .find_by_command_key(aggregate_id, command_key, not_before, meter)
            .await
    }
}
