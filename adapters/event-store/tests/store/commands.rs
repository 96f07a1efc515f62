use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use domain::*;
use event_store::{CommandError, Meter, StoreError, chain};
use events::{AuctionCancelled, AuctionEvent};

use crate::support::*;

#[test]
fn creating_an_auction_appends_versions_1_and_2() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        let events = store.backend().events(auction_id);
        assert_eq!(
            events.iter().map(|e| e.version()).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(events[0].envelope.event_type, "AuctionCreated");
        assert_eq!(
            events[0].envelope.metadata.correlation_id,
            "test-correlation"
        );
    });
}

#[test]
fn a_rejected_command_appends_nothing() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        let result = store
            .execute(auction_id, &context("seller", None), |state, now| {
                decide_place_bid(
                    state,
                    &PlaceBid {
                        bid_id: events::BidId(uuid::Uuid::new_v4()),
                        bidder_id: user("seller"),
                        amount: eur(500),
                        max_amount: None,
                    },
                    now,
                )
            })
            .await;
        assert!(matches!(
            result,
            Err(CommandError::Rejected(Rejection::SellerCannotBid))
        ));
        assert_eq!(store.backend().events(auction_id).len(), 2);
    });
}

#[test]
fn another_writer_winning_makes_the_command_decide_again_on_the_new_tail() {
    tokio_test(async {
        // Given an auction, and a rival in another process whose bid lands while our command is
        // deciding (a rival in this process would wait for our command's turn)
        let store = store();
        let auction_id = created(&store).await;
        let rival = store.clone().with_cache(100);
        let rival_done = AtomicBool::new(false);
        let decisions = AtomicU32::new(0);
        let ours = outbid("bob");
        let outcome = store
            .execute(auction_id, &context("bob", None), |state, now| {
                decisions.fetch_add(1, Ordering::SeqCst);
                if !rival_done.swap(true, Ordering::SeqCst) {
                    block_on(rival.execute(auction_id, &context("cat", None), outbid("cat")))
                        .unwrap();
                }
                ours(state, now)
            })
            .await
            .unwrap();
        // Then our bid lands after the rival's, decided again on a state that includes it
        assert_eq!(decisions.load(Ordering::SeqCst), 2);
        assert_eq!(outcome.events[0].version, 4);
        let AuctionEvent::BidPlaced(bid) = &outcome.events[0].event else {
            panic!("expected a bid");
        };
        assert_eq!(bid.previous_leader_id, Some(user("cat")));
        assert!(chain::verify(auction_id, &store.backend().events(auction_id)).is_ok());
    });
}

#[test]
fn given_bids_on_one_auction_at_once_in_one_process_then_they_take_turns_and_none_loses_a_race() {
    tokio_test(async {
        // Given an auction this process knows
        let store = store();
        let auction_id = created(&store).await;
        // When eight bids run at once on two threads, each taking a while to decide
        let bids: Vec<_> = (0..8)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let bidder = format!("bidder{n}");
                    let ours = outbid(&bidder);
                    let meter = Meter::default();
                    store
                        .execute_metered(
                            auction_id,
                            &context(&bidder, None),
                            |state, now| {
                                std::thread::sleep(std::time::Duration::from_millis(5));
                                ours(state, now)
                            },
                            &meter,
                        )
                        .await
                        .unwrap();
                    meter.conflicts()
                })
            })
            .collect();
        let mut conflicts = 0;
        for bid in bids {
            conflicts += bid.await.unwrap();
        }
        // Then each decided on the state the one before it committed: no race lost
        assert_eq!(conflicts, 0);
        assert_eq!(store.backend().events(auction_id).len(), 10);
    });
}

#[test]
fn given_a_rival_winning_the_version_when_the_command_is_metered_then_the_meter_counts_one_conflict()
 {
    tokio_test(async {
        // Given an auction, and a rival in another process whose bid lands while our command is
        // deciding
        let store = store();
        let auction_id = created(&store).await;
        let rival = store.clone().with_cache(100);
        let rival_done = AtomicBool::new(false);
        let ours = outbid("bob");
        let meter = Meter::default();

        // When our command runs on the meter
        store
            .execute_metered(
                auction_id,
                &context("bob", None),
                |state, now| {
                    if !rival_done.swap(true, Ordering::SeqCst) {
                        block_on(rival.execute(auction_id, &context("cat", None), outbid("cat")))
                            .unwrap();
                    }
                    ours(state, now)
                },
                &meter,
            )
            .await
            .unwrap();

        // Then the lost version is counted once (the rival's own command is metered apart)
        assert_eq!(meter.conflicts(), 1);
    });
}

#[test]
fn given_a_refused_command_when_it_is_metered_then_what_it_read_is_still_counted() {
    tokio_test(async {
        // Given an auction
        let store = store().with_cache(0);
        let auction_id = created(&store).await;
        let meter = Meter::default();

        // When the seller's bid on it is refused
        let result = store
            .execute_metered(
                auction_id,
                &context("seller", None),
                |state, now| {
                    decide_place_bid(
                        state,
                        &PlaceBid {
                            bid_id: events::BidId(uuid::Uuid::new_v4()),
                            bidder_id: user("seller"),
                            amount: eur(500),
                            max_amount: None,
                        },
                        now,
                    )
                },
                &meter,
            )
            .await;

        // Then the reads of its load are on the meter, and no conflict
        assert!(matches!(result, Err(CommandError::Rejected(_))));
        assert!(meter.cost().load.read_requests > 0, "{:?}", meter.cost());
        assert_eq!(meter.conflicts(), 0);
    });
}

#[test]
fn throttled_appends_are_retried_with_backoff() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        store.backend().contend_next_appends(2);
        let outcome = outbids(&store, auction_id, "bob", None).await;
        assert_eq!(outcome.events.len(), 1);
        assert_eq!(outcome.cost.append.write_requests, 3);
    });
}

#[test]
fn throttling_that_outlasts_the_retries_is_a_transient_error() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        store.backend().contend_next_appends(100);
        let error = store
            .execute(auction_id, &context("bob", None), outbid("bob"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, CommandError::Store(StoreError::Contention(_))),
            "{error:?}"
        );
        assert!(error.is_transient());
        assert_eq!(store.backend().events(auction_id).len(), 2);
    });
}

#[test]
fn an_event_above_the_item_size_limit_is_refused_before_writing() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        let error = store
            .execute(auction_id, &context("seller", None), |_: &State, _| {
                Ok(vec![AuctionEvent::AuctionCancelled(AuctionCancelled {
                    cancelled_by: user("seller"),
                    reason: Some("x".repeat(410 * 1024)),
                })])
            })
            .await
            .unwrap_err();
        assert!(
            matches!(error, CommandError::Store(StoreError::ItemTooLarge { version: 3, size, limit: 409_600 }) if size > 409_600),
            "{error:?}"
        );
        assert_eq!(store.backend().events(auction_id).len(), 2);
    });
}

#[test]
fn concurrent_writers_leave_contiguous_versions_and_every_success_exactly_once() {
    tokio_test(async {
        let store = store();
        let auction_id = created(&store).await;
        let mut tasks = Vec::new();
        for writer in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut succeeded = Vec::new();
                for _ in 0..20 {
                    let bidder = format!("bidder-{writer}");
                    if let Ok(outcome) = store
                        .execute(auction_id, &context(&bidder, None), outbid(&bidder))
                        .await
                    {
                        succeeded.extend(outcome.events.into_iter().map(|e| e.event_id));
                    }
                }
                succeeded
            }));
        }
        let mut succeeded = Vec::new();
        for task in tasks {
            succeeded.extend(task.await.unwrap());
        }
        let stored = store.backend().events(auction_id);
        let versions: Vec<u64> = stored.iter().map(|e| e.version()).collect();
        assert_eq!(versions, (1..=stored.len() as u64).collect::<Vec<_>>());
        for id in &succeeded {
            assert_eq!(
                stored.iter().filter(|e| e.envelope.event_id == *id).count(),
                1
            );
        }
        assert_eq!(stored.len(), 2 + succeeded.len());
    });
}

/// Runs a future to completion on a fresh runtime: these tests need a multi-threaded one.
pub fn tokio_test(future: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future);
}

/// Blocks on a future from inside a synchronous decision, as a rival writer on another
/// machine would act while we decide.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[test]
fn given_a_cached_aggregate_when_a_keyed_bid_is_accepted_then_it_cost_no_read_and_one_write() {
    tokio_test(async {
        // Given this process created the auction, so its state is cached and current
        let store = store();
        let auction_id = created(&store).await;
        // When bob's keyed bid is accepted
        let outcome = outbids(&store, auction_id, "bob", Some("bob-1")).await;
        // Then the only request was its append: no tail read, no idempotency record
        let total = outcome.cost.total();
        assert_eq!((total.read_requests, total.write_requests), (0, 1));
        assert_eq!(outcome.cost.idempotency.write_requests, 0);
    });
}

/// An auction this process created (its cached state: version 2), and cat's bid since from
/// another process with its own cache (version 3): this process's state is behind the log.
async fn cached_here_then_outbid_by_cat_elsewhere(
    store: &event_store::Store<event_store::InMemoryStore>,
) -> events::AuctionId {
    let auction_id = created(store).await;
    store
        .clone()
        .with_cache(100)
        .execute(auction_id, &context("cat", None), outbid("cat"))
        .await
        .unwrap();
    auction_id
}

#[test]
fn given_a_cached_state_behind_the_log_when_it_would_refuse_a_command_then_the_log_decides() {
    tokio_test(async {
        // Given this process cached the auction before another process's bid
        let store = store();
        let auction_id = cached_here_then_outbid_by_cat_elsewhere(&store).await;
        // When this process decides a command refused while the auction has no bid
        let dave_outbids = outbid("dave");
        let outcome = store
            .execute(
                auction_id,
                &context("dave", None),
                |state: &State, now| match &state.auction {
                    Some(auction) if auction.bid_count > 0 => dave_outbids(state, now),
                    _ => Err(Rejection::AuctionEnded),
                },
            )
            .await;
        // Then the refusal was checked against the tail, and the command decided on it
        let outcome = outcome.unwrap();
        assert_eq!(outcome.events[0].version, 4);
        assert_eq!(outcome.cost.load.read_requests, 1);
        // And a refusal on a state just read from the log stands
        let refused = store
            .execute(auction_id, &context("dave", None), |_: &State, _| {
                Err::<Vec<Event>, _>(Rejection::AuctionEnded)
            })
            .await;
        assert!(matches!(
            refused,
            Err(CommandError::Rejected(Rejection::AuctionEnded))
        ));
        assert_eq!(store.backend().events(auction_id).len(), 4);
    });
}

#[test]
fn a_cached_state_catches_up_with_what_other_processes_appended() {
    tokio_test(async {
        // Given this process cached the auction, and another process (its own cache) bid since
        let store = store();
        let auction_id = cached_here_then_outbid_by_cat_elsewhere(&store).await;
        // When this process places a bid
        let outcome = outbids(&store, auction_id, "bob", None).await;
        // Then it decided on the whole log, with one read after losing the race for version 3
        assert_eq!(outcome.events[0].version, 4);
        let AuctionEvent::BidPlaced(bid) = &outcome.events[0].event else {
            panic!("expected a bid");
        };
        assert_eq!(bid.previous_leader_id, Some(user("cat")));
        assert_eq!(outcome.cost.load.read_requests, 1);
    });
}

#[test]
fn an_append_whose_response_was_lost_is_recognised_as_our_own_by_event_id() {
    tokio_test(async {
        // Given the store commits our bid but the response never arrives
        let store = store();
        let auction_id = created(&store).await;
        store.backend().lose_next_append_responses(1);
        // When the command retries the append
        let outcome = outbids(&store, auction_id, "bob", None).await;
        // Then it answers with its own commit, which is in the log once
        assert_eq!(outcome.events.len(), 1);
        assert_eq!(outcome.events[0].version, 3);
        assert!(outcome.replayed);
        let stored = store.backend().events(auction_id);
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[2].envelope.event_id, outcome.events[0].event_id);
    });
}
