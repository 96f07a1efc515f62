//! What the notifier needs to know about an auction beyond the event itself.

use std::collections::BTreeSet;
use std::future::Future;

use domain::State;
use event_store::{EventLog, Meter, Snapshots, state_at};
use events::{AuctionId, UserId};

use super::error::NotifierError;

/// The auction as it was at one event: who sells it, what it is called, who had bid on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuctionContext {
    pub seller_id: UserId,
    pub title: String,
    pub bidders: BTreeSet<UserId>,
}

impl AuctionContext {
    /// `None` before the auction was created.
    pub fn of(state: &State) -> Option<Self> {
        let auction = state.auction.as_ref()?;
        Some(Self {
            seller_id: auction.seller_id.clone(),
            title: auction.title.clone(),
            bidders: auction.bidders.keys().cloned().collect(),
        })
    }
}

/// Rebuilds an auction's context as of one version.
pub trait AuctionContexts: Send + Sync {
    /// The auction after exactly the events `1..=version`: a redelivery long after the event
    /// names the same recipients as the first delivery did.
    fn context_at(
        &self,
        aggregate_id: AuctionId,
        version: u64,
    ) -> impl Future<Output = Result<AuctionContext, NotifierError>> + Send;
}

/// [`AuctionContexts`] over the event store: the latest snapshot when it is not past the
/// version, then the events up to the version, folded by the domain's own `evolve`.
#[derive(Debug, Clone)]
pub struct LogContexts<B> {
    backend: B,
}

impl<B> LogContexts<B> {
    pub fn new(backend: B) -> Self {
        Self { backend }
    }
}

impl<B: EventLog + Snapshots> AuctionContexts for LogContexts<B> {
    async fn context_at(
        &self,
        aggregate_id: AuctionId,
        version: u64,
    ) -> Result<AuctionContext, NotifierError> {
        let state =
            state_at::<State, _>(&self.backend, aggregate_id, version, &Meter::default()).await?;
        if state.version != version {
            return Err(NotifierError::IncompleteHistory {
                aggregate_id,
                version,
            });
        }
        AuctionContext::of(&state).ok_or(NotifierError::IncompleteHistory {
            aggregate_id,
            version,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::TimeDelta;
    use domain::fixtures::lamp_auction;
    use domain::{CreateAuction, PlaceBid, decide_create, decide_place_bid, fold};
    use event_store::testing::{context, epoch, eur, user};
    use event_store::{CommandContext, InMemoryStore, Snapshot, SnapshotPolicy, Store};
    use events::BidId;
    use uuid::Uuid;

    use super::*;

    fn by(actor: &str) -> CommandContext {
        context(actor, epoch() + TimeDelta::seconds(1))
    }

    /// An auction by sam: created and started (v1, v2), bob bids (v3), cat outbids him (v4).
    /// Returned as a bare log, without snapshots.
    async fn bob_then_cat() -> (AuctionId, InMemoryStore) {
        let store = Store::new(InMemoryStore::new(), SnapshotPolicy::inline(0));
        let auction_id = AuctionId(Uuid::new_v4());
        let create = CreateAuction {
            seller_id: user("sam"),
            title: "Red bike".to_owned(),
            ..lamp_auction(auction_id, epoch() + TimeDelta::days(7))
        };
        store
            .execute(auction_id, &by("sam"), |s, now| {
                decide_create(s, &create, now)
            })
            .await
            .unwrap();
        for (bidder, amount) in [("bob", 100), ("cat", 200)] {
            let bid = PlaceBid {
                bid_id: BidId(Uuid::new_v4()),
                bidder_id: user(bidder),
                amount: eur(amount),
                max_amount: None,
            };
            store
                .execute(auction_id, &by(bidder), |s, now| {
                    decide_place_bid(s, &bid, now)
                })
                .await
                .unwrap();
        }
        let log = InMemoryStore::new();
        log.append(&store.backend().events(auction_id), &Meter::default())
            .await
            .unwrap();
        (auction_id, log)
    }

    async fn snapshot_at(log: &InMemoryStore, auction_id: AuctionId, version: u64, title: &str) {
        let events: Vec<_> = log
            .events(auction_id)
            .into_iter()
            .take(usize::try_from(version).unwrap())
            .map(|e| e.decode::<events::AuctionEvent>().unwrap().event)
            .collect();
        let mut state = fold(&events);
        if let Some(auction) = state.auction.as_mut() {
            auction.title = title.to_owned();
        }
        let snapshot = Snapshot {
            aggregate_id: auction_id.into(),
            version,
            format: domain::SNAPSHOT_FORMAT,
            head_hash: String::new(),
            state: serde_json::to_string(&state).unwrap(),
        };
        log.put_snapshot(&snapshot, &Meter::default())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_context_holds_the_bidders_up_to_the_events_version_only() {
        // Given bob's bid at v3 and cat's at v4
        let (auction_id, log) = bob_then_cat().await;
        let contexts = LogContexts::new(log);

        // When the context is rebuilt at each of the two versions
        let at_bob = contexts.context_at(auction_id, 3).await.unwrap();
        let at_cat = contexts.context_at(auction_id, 4).await.unwrap();

        // Then the earlier one does not know cat yet
        assert_eq!(at_bob.bidders, BTreeSet::from([user("bob")]));
        assert_eq!(at_cat.bidders, BTreeSet::from([user("bob"), user("cat")]));
        assert_eq!(at_cat.seller_id, user("sam"));
        assert_eq!(at_cat.title, "Red bike");
    }

    #[tokio::test]
    async fn a_snapshot_up_to_the_version_is_used_and_one_past_it_is_ignored() {
        // Given snapshots at v3 (marked by its title) and the log, and one at v4
        let (auction_id, log) = bob_then_cat().await;
        snapshot_at(&log, auction_id, 3, "From the v3 snapshot").await;
        let contexts = LogContexts::new(log);

        // When the context of v4 is rebuilt, then it starts from the snapshot and adds cat
        let at_cat = contexts.context_at(auction_id, 4).await.unwrap();
        assert_eq!(at_cat.title, "From the v3 snapshot");
        assert_eq!(at_cat.bidders, BTreeSet::from([user("bob"), user("cat")]));

        // And when the latest snapshot is past the version, the log alone is folded
        snapshot_at(&contexts.backend, auction_id, 4, "From the v4 snapshot").await;
        let at_bob = contexts.context_at(auction_id, 3).await.unwrap();
        assert_eq!(at_bob.title, "Red bike");
        assert_eq!(at_bob.bidders, BTreeSet::from([user("bob")]));
    }

    #[tokio::test]
    async fn a_version_the_log_does_not_hold_is_an_incomplete_history() {
        let (auction_id, log) = bob_then_cat().await;
        let contexts = LogContexts::new(log);

        let result = contexts.context_at(auction_id, 9).await;

        assert!(matches!(
            result,
            Err(NotifierError::IncompleteHistory { version: 9, .. })
        ));
    }
}
