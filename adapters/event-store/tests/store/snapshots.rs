use domain::State;
use event_store::{InMemoryStore, Meter, SnapshotPolicy, Snapshots, Store};

use crate::commands::tokio_test;
use crate::support::*;

fn snapshotting_store(every: u64) -> Store<InMemoryStore> {
    Store::new(InMemoryStore::new(), SnapshotPolicy::inline(every))
}

async fn with_bids(store: &Store<InMemoryStore>, bids: usize) -> events::AuctionId {
    let auction_id = created(store).await;
    for i in 0..bids {
        let bidder = if i % 2 == 0 { "bob" } else { "cat" };
        store
            .execute(auction_id, &context(bidder, None), outbid(bidder))
            .await
            .unwrap();
    }
    auction_id
}

#[test]
fn a_snapshot_is_written_each_time_the_log_crosses_a_multiple_of_the_interval() {
    tokio_test(async {
        let store = snapshotting_store(10);
        let auction_id = with_bids(&store, 23).await;
        let snapshot = store
            .backend()
            .get_snapshot(auction_id, &Meter::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(snapshot.version, 20);
    });
}

#[test]
fn loading_reads_the_snapshot_and_only_the_events_after_it() {
    tokio_test(async {
        let store = snapshotting_store(10);
        let auction_id = with_bids(&store, 23).await;
        let meter = Meter::default();
        let loaded = store.load::<State>(auction_id, &meter).await.unwrap();
        assert_eq!(loaded.snapshot_version, Some(20));
        assert_eq!(loaded.state.version, 25);
        assert_eq!(meter.cost().load.read_requests, 2);
        // And the state is the one a full replay gives
        let replayed = snapshotting_store(0);
        let events = store.backend().events(auction_id);
        for event in &events {
            replayed.backend().overwrite(event.clone());
        }
        let full = replayed
            .load::<State>(auction_id, &Meter::default())
            .await
            .unwrap();
        assert_eq!(full.state, loaded.state);
        assert_eq!(full.head_hash, loaded.head_hash);
    });
}

#[test]
fn a_snapshot_of_another_format_is_ignored_and_the_events_replayed() {
    tokio_test(async {
        let store = snapshotting_store(10);
        let auction_id = with_bids(&store, 12).await;
        let meter = Meter::default();
        let mut snapshot = store
            .backend()
            .get_snapshot(auction_id, &meter)
            .await
            .unwrap()
            .unwrap();
        let good = store.load::<State>(auction_id, &meter).await.unwrap();
        // A future format, and one that no longer deserializes
        for (format, state) in [
            (domain::SNAPSHOT_FORMAT + 1, snapshot.state.clone()),
            (
                domain::SNAPSHOT_FORMAT,
                "{\"version\": \"twelve\"}".to_owned(),
            ),
        ] {
            snapshot.version += 1;
            snapshot.format = format;
            snapshot.state = state;
            store
                .backend()
                .put_snapshot(&snapshot, &meter)
                .await
                .unwrap();
            let loaded = store
                .load::<State>(auction_id, &Meter::default())
                .await
                .unwrap();
            assert_eq!(loaded.snapshot_version, None);
            assert_eq!(loaded.state, good.state);
        }
    });
}
