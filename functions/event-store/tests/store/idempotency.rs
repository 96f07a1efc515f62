use auction_events::BidId;
use event_store::StoreError;
use uuid::Uuid;

use crate::commands::tokio_test;
use crate::support::*;

#[test]
fn a_retried_command_appends_nothing_and_returns_the_first_outcome() {
    tokio_test(async {
        // Given bob's bid with key k1 was accepted
        let store = store();
        let auction_id = created(&store).await;
        let bid_id = BidId(Uuid::new_v4());
        let first = store
            .execute(
                auction_id,
                &context("bob", Some("k1")),
                bid(bid_id, "bob", 150),
            )
            .await
            .unwrap();
        // And other bids landed since
        store
            .execute(auction_id, &context("cat", None), outbid("cat"))
            .await
            .unwrap();
        // When bob's client retries with the same key
        let retry = store
            .execute(
                auction_id,
                &context("bob", Some("k1")),
                bid(bid_id, "bob", 150),
            )
            .await
            .unwrap();
        // Then nothing is appended and the first outcome comes back
        assert!(retry.replayed);
        assert_eq!(retry.events, first.events);
        assert_eq!(store.backend().events(auction_id).len(), 4);
        assert_eq!(retry.cost.append.write_requests, 0);
    });
}

#[test]
fn a_retry_whose_record_was_lost_is_found_in_the_log() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        let bid_id = BidId(Uuid::new_v4());
        let first = store
            .execute(
                auction_id,
                &context("bob", Some("k1")),
                bid(bid_id, "bob", 150),
            )
            .await
            .unwrap();
        // The process died between the append and the record
        store.backend().forget_idempotency_records();
        let retry = store
            .execute(
                auction_id,
                &context("bob", Some("k1")),
                bid(bid_id, "bob", 150),
            )
            .await
            .unwrap();
        assert!(retry.replayed);
        assert_eq!(retry.events, first.events);
        assert_eq!(store.backend().events(auction_id).len(), 3);
    });
}

#[test]
fn the_same_key_on_a_different_request_is_refused() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        store
            .execute(auction_id, &context("bob", Some("k1")), outbid("bob"))
            .await
            .unwrap();
        let mut other_request = context("bob", Some("k1"));
        other_request.idempotency_key.as_mut().unwrap().fingerprint = "another body".to_owned();
        let error = store
            .execute(auction_id, &other_request, outbid("bob"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::IdempotencyKeyReused),
            "{error:?}"
        );
    });
}

#[test]
fn keys_are_scoped_to_their_actor() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        store
            .execute(auction_id, &context("bob", Some("k1")), outbid("bob"))
            .await
            .unwrap();
        let cats = store
            .execute(auction_id, &context("cat", Some("k1")), outbid("cat"))
            .await
            .unwrap();
        assert!(!cats.replayed);
        assert_eq!(cats.events.len(), 1);
    });
}

#[test]
fn concurrent_duplicates_append_once_and_both_get_the_same_outcome() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        let bid_id = BidId(Uuid::new_v4());
        // Collected before any is awaited, so that all of them run at once.
        let attempts: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .execute(
                            auction_id,
                            &context("bob", Some("k1")),
                            bid(bid_id, "bob", 150),
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for attempt in attempts {
            outcomes.push(attempt.await.unwrap());
        }
        assert_eq!(store.backend().events(auction_id).len(), 3);
        for outcome in &outcomes {
            assert_eq!(outcome.events, outcomes[0].events);
            assert_eq!(outcome.events.len(), 1);
        }
    });
}
