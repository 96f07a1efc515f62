use event_store::chain::{self, Tampered};
use event_store::{InMemoryStore, Store};
use serde_json::json;

use crate::commands::tokio_test;
use crate::support::*;

async fn history() -> (Store<InMemoryStore>, events::AuctionId) {
    let store = store();
    let auction_id = created(&store).await;
    for bidder in ["bob", "cat", "bob", "cat"] {
        store
            .execute(auction_id, &context(bidder, None), outbid(bidder))
            .await
            .unwrap();
    }
    (store, auction_id)
}

#[test]
fn an_untouched_history_verifies() {
    tokio_test(async {
        let (store, auction_id) = history().await;
        let verified = chain::verify(auction_id, &store.backend().events(auction_id)).unwrap();
        assert_eq!(verified.events, 6);
    });
}

#[test]
fn an_edited_payload_is_found_at_its_version() {
    tokio_test(async {
        let (store, auction_id) = history().await;
        let mut events = store.backend().events(auction_id);
        events[3].envelope.payload["newPrice"] = json!({"amountMinor": 1, "currency": "EUR"});
        assert_eq!(
            chain::verify(auction_id, &events),
            Err(Tampered::Modified { version: 4 })
        );
    });
}

#[test]
fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    tokio_test(async {
        let (store, auction_id) = history().await;
        let mut events = store.backend().events(auction_id);
        events[3].envelope.payload["newPrice"] = json!({"amountMinor": 1, "currency": "EUR"});
        events[3].hash = chain::hash(&events[2].hash, &events[3].envelope);
        assert_eq!(
            chain::verify(auction_id, &events),
            Err(Tampered::Modified { version: 5 })
        );
    });
}

#[test]
fn a_deleted_event_is_found_at_its_version() {
    tokio_test(async {
        let (store, auction_id) = history().await;
        let mut events = store.backend().events(auction_id);
        events.remove(2);
        assert_eq!(
            chain::verify(auction_id, &events),
            Err(Tampered::Missing { version: 3 })
        );
    });
}

#[test]
fn swapped_events_are_found_at_the_first_of_them() {
    tokio_test(async {
        let (store, auction_id) = history().await;
        let mut events = store.backend().events(auction_id);
        // Swap the contents of versions 4 and 5, keeping each item's key
        let (fourth, fifth) = (events[3].clone(), events[4].clone());
        events[3] = event_store::StoredEvent {
            envelope: events::RawEnvelope {
                version: 4,
                ..fifth.envelope.clone()
            },
            hash: fifth.hash.clone(),
        };
        events[4] = event_store::StoredEvent {
            envelope: events::RawEnvelope {
                version: 5,
                ..fourth.envelope
            },
            hash: fourth.hash,
        };
        assert_eq!(
            chain::verify(auction_id, &events),
            Err(Tampered::Modified { version: 4 })
        );
    });
}
