//! The ownership registry the saga transfers in: the Item aggregate's ledger, kept in the same
//! event store as the auctions (its own streams, keyed by the auction's item: its creation's
//! `item()`, [`ItemId::for_auction`] unless it is a relisting, under the
//! aggregate type `Item`, with the same hash chain, snapshots and time travel).
//!
//! A transfer registers the item first when its stream is empty (an auction created before the
//! API registered items at creation has no `ItemRegistered`; the auction's seller and title
//! register it), then hands it from the seller to the buyer; a reversal hands it back. Both run
//! under the saga step's idempotency key as the command's key (actor `System{payment-saga}`),
//! and the Item's decisions take no second effect for a sale already transferred or reversed,
//! so a repeated step, a redelivery or a second consumer appends nothing twice and answers with
//! the first receipt.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::item::{
    ItemEvent, ItemRejection, ItemState, RegisterItem, ReverseTransfer, TransferOwnership,
    decide_register, decide_reverse_transfer, decide_transfer_ownership,
};
use event_store::{
    CommandContext, CommandError, EventLog, IdempotencyKey, IdempotencyRecords, Meter, Snapshots,
    Store, StoreError,
};
use events::{Actor, AuctionId, ItemId};

use crate::error::SagaError;
use crate::handler::ACTOR;
use crate::ports::{Clock, OwnershipRegistry, OwnershipReversal, OwnershipTransfer, Receipt};

/// The ownership registry over the event store: each sold item's owners as the Item
/// aggregate's events. Clones share the store.
///
/// Wiring (the Lambda's main, or anything that runs the saga): the saga's own store and clock,
/// `ItemLedger::new(store.clone(), clock.clone())`, as `Ports::ownership`.
pub struct ItemLedger<B> {
    store: Store<B>,
    clock: Arc<dyn Clock>,
}

impl<B> Clone for ItemLedger<B> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            clock: Arc::clone(&self.clock),
        }
    }
}

impl<B> std::fmt::Debug for ItemLedger<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemLedger").finish_non_exhaustive()
    }
}

impl<B> ItemLedger<B>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
{
    /// The ledger in `store` (the event store the auctions are in), stamping its events with
    /// `clock`'s time.
    pub fn new(store: Store<B>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The store the ledger writes to.
    pub fn store(&self) -> &Store<B> {
        &self.store
    }

    /// The item's state in the ledger, as of now (for tests and readers).
    pub async fn item(&self, item_id: ItemId) -> Result<ItemState, SagaError> {
        Ok(self
            .store
            .load::<ItemState>(item_id, &Meter::default())
            .await?
            .state)
    }

    /// Registers the auction's item, owned by its seller, unless its stream has events
    /// already. Without an idempotency key: registering the same auction's item again decides
    /// nothing, so a retry or a concurrent transfer appends nothing twice.
    async fn register_if_new(
        &self,
        item_id: ItemId,
        auction_id: AuctionId,
        trace: &Trace<'_>,
    ) -> Result<(), SagaError> {
        let meter = Meter::default();
        let item = self.store.load::<ItemState>(item_id, &meter).await?;
        if item.version > 0 {
            return Ok(());
        }
        let auction = self.store.load::<domain::State>(auction_id, &meter).await?;
        let Some(auction) = auction.state.auction else {
            return Err(SagaError::Declined {
                reason: format!(
                    "auction {auction_id} does not exist: there is no item to transfer"
                ),
            });
        };
        let command = RegisterItem {
            item_id,
            auction_id,
            owner: auction.seller_id,
            title: auction.title,
        };
        tracing::info!(%item_id, %auction_id, "registering the item of an auction created before the ledger");
        self.run(
            item_id,
            trace.context(None, self.clock.now()),
            |state, now| decide_register(state, &command, now),
        )
        .await
        .map(|_| ())
    }

    /// The item the auction sells, as its creation says (a relisting sells the item of the
    /// auction it relists); for an auction the log does not hold, the item its id names.
    async fn item_of(&self, auction_id: AuctionId) -> Result<ItemId, SagaError> {
        let auction = self
            .store
            .load::<domain::State>(auction_id, &Meter::default())
            .await?;
        Ok(auction.state.auction.map_or_else(
            || ItemId::for_auction(auction_id),
            |auction| auction.item_id,
        ))
    }

    /// Runs one command on the item; a refusal (the Item's rejection, or the key reused for
    /// another request) is a decline, a store failure an error (transient or not, as the
    /// store's).
    async fn run<F>(
        &self,
        item_id: ItemId,
        context: CommandContext,
        decide: F,
    ) -> Result<Receipt, SagaError>
    where
        F: Fn(&ItemState, DateTime<Utc>) -> Result<Vec<ItemEvent>, ItemRejection>,
    {
        match self.store.execute(item_id, &context, decide).await {
            Ok(outcome) => Ok(Receipt {
                reference: outcome.events.first().map_or_else(
                    || {
                        format!(
                            "item {item_id}: already recorded by version {}",
                            outcome.version
                        )
                    },
                    |event| format!("item {item_id} version {}", event.version),
                ),
            }),
            Err(CommandError::Rejected(rejection)) => Err(SagaError::Declined {
                reason: rejection.to_string(),
            }),
            Err(CommandError::Store(StoreError::IdempotencyKeyReused)) => {
                Err(SagaError::Declined {
                    reason: StoreError::IdempotencyKeyReused.to_string(),
                })
            }
            Err(CommandError::Store(error)) => Err(error.into()),
        }
    }
}

/// Where a command of the ledger comes from: the saga's sale.
struct Trace<'a> {
    correlation_id: &'a str,
    causation_id: &'a str,
}

impl Trace<'_> {
    fn context(&self, key: Option<IdempotencyKey>, now: DateTime<Utc>) -> CommandContext {
        CommandContext {
            command_id: self.causation_id.to_owned(),
            correlation_id: self.correlation_id.to_owned(),
            actor: Actor::System {
                name: ACTOR.to_owned(),
            },
            idempotency_key: key,
            now,
        }
    }
}

impl<B> OwnershipRegistry for ItemLedger<B>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
{
    async fn transfer(&self, transfer: &OwnershipTransfer) -> Result<Receipt, SagaError> {
        let item_id = self.item_of(transfer.auction_id).await?;
        let trace = Trace {
            correlation_id: &transfer.correlation_id,
            causation_id: &transfer.causation_id,
        };
        self.register_if_new(item_id, transfer.auction_id, &trace)
            .await?;
        let command = TransferOwnership {
            sale: transfer.sale.clone(),
            auction_id: transfer.auction_id,
            from: transfer.from.clone(),
            to: transfer.to.clone(),
            price: transfer.price.clone(),
        };
        let key = IdempotencyKey {
            key: transfer.idempotency_key.clone(),
            fingerprint: format!("{command:?}"),
        };
        self.run(
            item_id,
            trace.context(Some(key), self.clock.now()),
            |state, now| decide_transfer_ownership(state, &command, now),
        )
        .await
    }

    async fn reverse(&self, reversal: &OwnershipReversal) -> Result<Receipt, SagaError> {
        let item_id = self.item_of(reversal.auction_id).await?;
        let trace = Trace {
            correlation_id: &reversal.correlation_id,
            causation_id: &reversal.causation_id,
        };
        let command = ReverseTransfer {
            sale: reversal.sale.clone(),
            auction_id: reversal.auction_id,
            from: reversal.from.clone(),
            to: reversal.to.clone(),
            reason: reversal.reason.clone(),
        };
        let key = IdempotencyKey {
            key: reversal.idempotency_key.clone(),
            fingerprint: format!("{command:?}"),
        };
        self.run(
            item_id,
            trace.context(Some(key), self.clock.now()),
            |state, now| decide_reverse_transfer(state, &command, now),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::TimeDelta;
    use domain::item::Acquisition;
    use event_store::{InMemoryStore, SnapshotPolicy, history, verify};
    use events::{Currency, Money, UserId};
    use uuid::Uuid;

    use super::*;
    use crate::ports::FixedClock;
    use crate::testing::{SaleStep, sallys_lamp, sell};

    fn epoch() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    fn user(name: &str) -> UserId {
        UserId::try_from(name).unwrap()
    }

    fn eur(amount: i64) -> Money {
        Money::new(amount, Currency::try_from("EUR").unwrap())
    }

    fn context(now: DateTime<Utc>) -> CommandContext {
        CommandContext {
            command_id: Uuid::new_v4().to_string(),
            correlation_id: "corr-test".to_owned(),
            actor: Actor::System {
                name: "test".to_owned(),
            },
            idempotency_key: None,
            now,
        }
    }

    struct World {
        ledger: ItemLedger<InMemoryStore>,
        clock: Arc<FixedClock>,
        auction_id: AuctionId,
        item_id: ItemId,
    }

    /// Sally's lamp sold to bob (cat the runner-up), as an auction created before the ledger:
    /// the item is not registered.
    async fn world() -> World {
        let store = Store::new(InMemoryStore::new(), SnapshotPolicy::inline(2));
        let auction_id = AuctionId(Uuid::new_v4());
        let create = sallys_lamp(auction_id, None, epoch() + TimeDelta::days(1)).unwrap();
        sell(
            &store,
            &create,
            &[("bob", 5_000), ("cat", 3_000)],
            |step| match step {
                SaleStep::End => context(epoch() + TimeDelta::days(2)),
                _ => context(epoch()),
            },
        )
        .await
        .unwrap();
        let clock = Arc::new(FixedClock::new(epoch() + TimeDelta::days(2)));
        World {
            ledger: ItemLedger::new(store, clock.clone()),
            clock,
            auction_id,
            item_id: ItemId::for_auction(auction_id),
        }
    }

    impl World {
        fn sale(&self, buyer: &str) -> String {
            format!("{}#{buyer}", self.auction_id)
        }

        fn transfer(&self, key: &str, to: &str) -> OwnershipTransfer {
            OwnershipTransfer {
                idempotency_key: key.to_owned(),
                auction_id: self.auction_id,
                from: user("sally"),
                to: user(to),
                price: eur(3_001),
                sale: self.sale(to),
                correlation_id: "corr-sale".to_owned(),
                causation_id: "event-ended".to_owned(),
            }
        }

        fn reversal(&self, key: &str, from: &str) -> OwnershipReversal {
            OwnershipReversal {
                idempotency_key: key.to_owned(),
                auction_id: self.auction_id,
                from: user(from),
                to: user("sally"),
                sale: self.sale(from),
                reason: "payout refused: seller account closed".to_owned(),
                correlation_id: "corr-sale".to_owned(),
                causation_id: "event-ended".to_owned(),
            }
        }

        fn event_types(&self) -> Vec<String> {
            self.ledger
                .store()
                .backend()
                .events(self.item_id)
                .into_iter()
                .map(|e| e.envelope.event_type)
                .collect()
        }

        async fn owner(&self) -> UserId {
            self.ledger
                .item(self.item_id)
                .await
                .unwrap()
                .item
                .unwrap()
                .owner
        }
    }

    #[tokio::test]
    async fn given_an_auction_without_a_registered_item_when_it_is_transferred_then_it_is_registered_to_the_seller_first()
     {
        let world = world().await;

        let receipt = world
            .ledger
            .transfer(&world.transfer("k-transfer", "bob"))
            .await
            .unwrap();

        assert_eq!(
            world.event_types(),
            ["ItemRegistered", "OwnershipTransferred"]
        );
        assert_eq!(
            receipt.reference,
            format!("item {} version 2", world.item_id)
        );
        let item = world
            .ledger
            .item(world.item_id)
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(item.owner, user("bob"));
        assert_eq!(item.title, "A lamp");
        assert_eq!(item.owners[0].owner, user("sally"));
        assert!(matches!(
            &item.owners[1].acquired,
            Acquisition::Bought { price, sale, .. } if *price == eur(3_001) && *sale == world.sale("bob")
        ));
        // In the item's own stream, with the saga's trace and key, beside the auction's
        let stored = world.ledger.store().backend().events(world.item_id);
        assert_eq!(stored[1].envelope.aggregate_type, "Item");
        assert_eq!(stored[1].envelope.metadata.correlation_id, "corr-sale");
        assert_eq!(stored[1].envelope.metadata.causation_id, "event-ended");
        assert_eq!(
            stored[1].envelope.metadata.idempotency_key.as_deref(),
            Some("k-transfer")
        );
        assert_eq!(
            stored[1].envelope.metadata.actor,
            Actor::System {
                name: "payment-saga".to_owned()
            }
        );
        assert_eq!(
            world
                .ledger
                .store()
                .backend()
                .events(world.auction_id)
                .last()
                .unwrap()
                .envelope
                .event_type,
            "AuctionEnded"
        );
    }

    #[tokio::test]
    async fn given_a_registered_item_when_it_is_transferred_then_it_is_not_registered_again() {
        let world = world().await;
        world
            .ledger
            .store()
            .execute(world.item_id, &context(epoch()), |state, now| {
                decide_register(
                    state,
                    &RegisterItem {
                        item_id: world.item_id,
                        auction_id: world.auction_id,
                        owner: user("sally"),
                        title: "A lamp".to_owned(),
                    },
                    now,
                )
            })
            .await
            .unwrap();

        world
            .ledger
            .transfer(&world.transfer("k-transfer", "bob"))
            .await
            .unwrap();

        assert_eq!(
            world.event_types(),
            ["ItemRegistered", "OwnershipTransferred"]
        );
    }

    #[tokio::test]
    async fn a_transfer_repeated_under_its_key_or_by_another_key_takes_no_second_effect() {
        let world = world().await;
        let first = world
            .ledger
            .transfer(&world.transfer("k-transfer", "bob"))
            .await
            .unwrap();
        world.clock.advance(TimeDelta::minutes(5));

        // The same step again (a redelivery), and the same sale under a key whose record is gone
        let again = world
            .ledger
            .transfer(&world.transfer("k-transfer", "bob"))
            .await
            .unwrap();
        let other_key = world
            .ledger
            .transfer(&world.transfer("k-other", "bob"))
            .await
            .unwrap();

        assert_eq!(again, first);
        assert!(
            other_key.reference.contains("already recorded"),
            "{other_key:?}"
        );
        assert_eq!(
            world.event_types(),
            ["ItemRegistered", "OwnershipTransferred"]
        );
    }

    #[tokio::test]
    async fn concurrent_transfers_of_one_sale_append_one_transfer() {
        let world = world().await;
        let transfer = world.transfer("k-transfer", "bob");

        let (a, b) = tokio::join!(
            world.ledger.transfer(&transfer),
            world.ledger.transfer(&transfer)
        );

        assert_eq!(a.unwrap(), b.unwrap());
        assert_eq!(
            world.event_types(),
            ["ItemRegistered", "OwnershipTransferred"]
        );
    }

    #[tokio::test]
    async fn a_transfer_reversed_gives_the_item_back_once_and_the_runner_up_can_buy_it() {
        let world = world().await;
        world
            .ledger
            .transfer(&world.transfer("k-transfer-bob", "bob"))
            .await
            .unwrap();

        let reversed = world
            .ledger
            .reverse(&world.reversal("k-reverse-bob", "bob"))
            .await
            .unwrap();
        let again = world
            .ledger
            .reverse(&world.reversal("k-reverse-bob", "bob"))
            .await
            .unwrap();
        assert_eq!(reversed, again);
        assert_eq!(world.owner().await, user("sally"));

        world
            .ledger
            .transfer(&world.transfer("k-transfer-cat", "cat"))
            .await
            .unwrap();

        assert_eq!(
            world.event_types(),
            [
                "ItemRegistered",
                "OwnershipTransferred",
                "TransferReversed",
                "OwnershipTransferred"
            ]
        );
        assert_eq!(world.owner().await, user("cat"));
        // Bob's sale's transfer, redelivered after its reversal, takes no effect again
        world
            .ledger
            .transfer(&world.transfer("k-transfer-bob", "bob"))
            .await
            .unwrap();
        assert_eq!(world.owner().await, user("cat"));
        assert_eq!(world.event_types().len(), 4);
    }

    #[tokio::test]
    async fn refusals_are_declines_not_outages() {
        let world = world().await;

        // Nothing transferred yet: nothing to reverse (and no item registered by the attempt)
        let nothing = world
            .ledger
            .reverse(&world.reversal("k-reverse", "bob"))
            .await;
        // A seller who does not own the item
        let mut not_hers = world.transfer("k-mallory", "bob");
        not_hers.from = user("mallory");
        let not_hers = world.ledger.transfer(&not_hers).await;
        // A key reused for another request
        world
            .ledger
            .transfer(&world.transfer("k-transfer", "bob"))
            .await
            .unwrap();
        let reused = world
            .ledger
            .reverse(&world.reversal("k-transfer", "bob"))
            .await;
        // An auction that does not exist
        let mut unknown = world.transfer("k-unknown", "bob");
        unknown.auction_id = AuctionId(Uuid::new_v4());
        let unknown = world.ledger.transfer(&unknown).await;

        for (name, answer) in [
            ("nothing to reverse", nothing),
            ("not the owner", not_hers),
            ("key reused", reused),
            ("no auction", unknown),
        ] {
            assert!(
                matches!(answer, Err(SagaError::Declined { .. })),
                "{name}: {answer:?}"
            );
        }
        assert_eq!(world.owner().await, user("bob"));
    }

    #[tokio::test]
    async fn the_items_stream_verifies_snapshots_and_time_travels_through_the_generic_store() {
        let world = world().await;
        world
            .ledger
            .transfer(&world.transfer("k-transfer-bob", "bob"))
            .await
            .unwrap();
        world
            .ledger
            .reverse(&world.reversal("k-reverse-bob", "bob"))
            .await
            .unwrap();
        let backend = world.ledger.store().backend();

        let report = verify::verify::<ItemEvent, _>(backend, world.item_id)
            .await
            .unwrap();
        assert!(report.is_clean(), "{report}");
        assert!(report.to_string().starts_with("item "), "{report}");
        let steps = history::history::<ItemState, _>(backend, world.item_id)
            .await
            .unwrap();
        let owners: Vec<_> = steps
            .iter()
            .map(|step| step.state.item.as_ref().unwrap().owner.to_string())
            .collect();
        assert_eq!(owners, ["sally", "bob", "sally"]);
        let at_two =
            history::state_as_of::<ItemState, _>(backend, world.item_id, history::AsOf::Version(2))
                .await
                .unwrap();
        assert_eq!(at_two.state.item.unwrap().owner, user("bob"));
        // A snapshot every two events, in the Item's format
        let snapshot = backend
            .get_snapshot(world.item_id, &Meter::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(snapshot.version, 2);
        assert_eq!(
            snapshot.format,
            <ItemState as events::Aggregate>::SNAPSHOT_FORMAT
        );
    }
}
