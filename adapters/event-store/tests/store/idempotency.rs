use domain::{Rejection, State};
use event_store::{CommandError, InMemoryStore, Outcome, Store, StoreError};
use events::{AuctionId, BidId};
use uuid::Uuid;

use crate::commands::tokio_test;
use crate::support::*;

/// Bob bids 1.50 under his key k1: the first request of most scenarios here.
async fn bob_bids_under_k1(
    store: &Store<InMemoryStore>,
    auction_id: AuctionId,
    bid_id: BidId,
) -> Outcome<State> {
    store
        .execute(
            auction_id,
            &context("bob", Some("k1")),
            bid(bid_id, "bob", 150),
        )
        .await
        .unwrap()
}

/// The command was refused because its key was used for another request.
fn assert_key_reused(error: &CommandError<Rejection>) {
    assert!(
        matches!(error, CommandError::Store(StoreError::IdempotencyKeyReused)),
        "{error:?}"
    );
}

#[test]
fn a_retried_command_appends_nothing_and_returns_the_first_outcome() {
    tokio_test(async {
        // Given bob's bid with key k1 was accepted
        let store = store();
        let auction_id = created(&store).await;
        let bid_id = BidId(Uuid::new_v4());
        let first = bob_bids_under_k1(&store, auction_id, bid_id).await;
        // And other bids landed since
        outbids(&store, auction_id, "cat", None).await;
        // When bob's client retries with the same key
        let retry = bob_bids_under_k1(&store, auction_id, bid_id).await;
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
        let first = bob_bids_under_k1(&store, auction_id, bid_id).await;
        // The process died between the append and the record
        store.backend().forget_idempotency_records();
        let retry = bob_bids_under_k1(&store, auction_id, bid_id).await;
        assert!(retry.replayed);
        assert_eq!(retry.events, first.events);
        assert_eq!(store.backend().events(auction_id).len(), 3);
    });
}

#[test]
fn the_same_key_on_a_different_request_is_refused() {
    tokio_test(async {
        // Given bob's bid under k1 (its id derives from the key, as the API derives it)
        let store = store();
        let auction_id = created(&store).await;
        let bid_id = BidId(Uuid::new_v5(&Uuid::NAMESPACE_OID, b"bob#k1"));
        bob_bids_under_k1(&store, auction_id, bid_id).await;
        // When another body comes under k1, with other cats' bids in between
        outbids(&store, auction_id, "cat", None).await;
        let mut other_request = context("bob", Some("k1"));
        other_request.idempotency_key.as_mut().unwrap().fingerprint = "another body".to_owned();
        let error = store
            .execute(auction_id, &other_request, bid(bid_id, "bob", 900))
            .await
            .unwrap_err();
        // Then it is refused, and nothing was appended
        assert_key_reused(&error);
        assert_eq!(store.backend().events(auction_id).len(), 4);
    });
}

#[test]
fn given_a_bidders_latest_bid_when_it_is_retried_after_more_bids_than_the_recent_window_then_it_is_replayed()
 {
    tokio_test(async {
        // Given bob's bid under k1, then more bids by others than the state's recent ids hold
        let store = store();
        let auction_id = created(&store).await;
        let bid_id = BidId(Uuid::new_v4());
        let first = bob_bids_under_k1(&store, auction_id, bid_id).await;
        for _ in 0..domain::rules::RECENT_COMMAND_IDS + 1 {
            outbids(&store, auction_id, "cat", None).await;
        }
        let appended = store.backend().events(auction_id).len();
        // When bob's client retries it
        let retry = bob_bids_under_k1(&store, auction_id, bid_id).await;
        // Then it is recognised as bob's latest and answered from the log
        assert!(retry.replayed);
        assert_eq!(retry.events, first.events);
        assert_eq!(store.backend().events(auction_id).len(), appended);
    });
}

#[test]
fn keys_are_scoped_to_their_actor() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        outbids(&store, auction_id, "bob", Some("k1")).await;
        let cats = outbids(&store, auction_id, "cat", Some("k1")).await;
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

/// `context` with the same key but the fingerprint of another request body.
fn other_body(actor: &str, key: &str) -> event_store::CommandContext {
    let mut context = context(actor, Some(key));
    if let Some(key) = context.idempotency_key.as_mut() {
        key.fingerprint = "fingerprint-of-another-body".to_owned();
    }
    context
}

#[test]
fn given_a_committed_bid_whose_record_was_lost_when_its_key_comes_with_another_body_then_it_is_refused()
 {
    tokio_test(async {
        // Given bob's bid under k1 was appended, and its idempotency record is gone
        let store = store();
        let auction_id = created(&store).await;
        let bid_id = BidId(Uuid::new_v4());
        bob_bids_under_k1(&store, auction_id, bid_id).await;
        store.backend().forget_idempotency_records();
        // When another request comes under k1 (the domain sees the bid id taken: no events)
        let error = store
            .execute(
                auction_id,
                &other_body("bob", "k1"),
                bid(bid_id, "bob", 900),
            )
            .await
            .unwrap_err();
        // Then the commit found by the key in the log does not answer it
        assert_key_reused(&error);
        assert_eq!(store.backend().events(auction_id).len(), 3);
    });
}

#[test]
fn given_two_requests_under_one_key_racing_for_one_version_when_the_other_wins_then_the_loser_is_refused()
 {
    tokio_test(async {
        // Given two different requests under bob's k1, in two processes (in one they would take
        // turns), that both decided before either appended
        let store = store();
        let other_process = store.clone().with_cache(100);
        let auction_id = created(&store).await;
        let bid_id = BidId(Uuid::new_v4());
        store.backend().rendezvous_next_appends(2);
        let first_context = context("bob", Some("k1"));
        let second_context = other_body("bob", "k1");
        // When both append at once
        let (first, second) = tokio::join!(
            store.execute(auction_id, &first_context, bid(bid_id, "bob", 150)),
            other_process.execute(auction_id, &second_context, bid(bid_id, "bob", 900)),
        );
        // Then exactly one was appended, and the other is refused rather than answered with it
        let (accepted, refused) = match (first, second) {
            (Ok(accepted), Err(refused)) | (Err(refused), Ok(accepted)) => (accepted, refused),
            other => panic!("expected one success and one refusal, got {other:?}"),
        };
        assert!(!accepted.replayed);
        assert_key_reused(&refused);
        assert_eq!(store.backend().events(auction_id).len(), 3);
    });
}

#[test]
fn given_a_commit_written_before_fingerprints_were_stored_when_its_key_is_retried_then_it_is_replayed()
 {
    tokio_test(async {
        // Given bob's bid under k1 whose events carry no fingerprint (written by the previous
        // release), and whose record is gone
        let store = store();
        let auction_id = created(&store).await;
        let bid_id = BidId(Uuid::new_v4());
        let first = bob_bids_under_k1(&store, auction_id, bid_id).await;
        for mut event in store.backend().events(auction_id) {
            event.envelope.metadata.request_fingerprint = None;
            store.backend().overwrite(event);
        }
        store.backend().forget_idempotency_records();
        // When a request comes under k1 (its body cannot be compared with anything)
        let retry = store
            .execute(
                auction_id,
                &other_body("bob", "k1"),
                bid(bid_id, "bob", 150),
            )
            .await
            .unwrap();
        // Then it is answered as before this change: the commit replayed, nothing appended
        assert!(retry.replayed);
        assert_eq!(retry.events.len(), 1);
        assert_eq!(retry.events[0].event_id, first.events[0].event_id);
        assert_eq!(store.backend().events(auction_id).len(), 3);
    });
}

#[test]
fn given_a_keyed_command_when_it_is_appended_then_its_events_carry_the_request_fingerprint() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        outbids(&store, auction_id, "bob", Some("k1")).await;
        let events = store.backend().events(auction_id);
        let bid = events.last().unwrap();
        assert_eq!(
            bid.envelope.metadata.request_fingerprint.as_deref(),
            Some("fingerprint-of-k1")
        );
        // And a command without a key carries none
        assert_eq!(events[0].envelope.metadata.request_fingerprint, None);
    });
}
