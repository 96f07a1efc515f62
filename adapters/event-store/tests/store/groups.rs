//! Group commit: commands of one aggregate queued while another commits are decided in order
//! and appended in one request, each answered with its own outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::*;
use event_store::{CommandError, InMemoryStore, Meter, Outcome, Store, chain};
use events::{AuctionEvent, AuctionId, BidId};
use tokio::task::JoinHandle;

use crate::commands::{block_on, tokio_test};
use crate::support::*;

/// A command's answer, and the conflicts its meter counted.
type Answered = (Result<Outcome<State>, CommandError<Rejection>>, u32);

type Decide = Box<dyn Fn(&State, DateTime<Utc>) -> Result<Vec<Event>, Rejection> + Send + Sync>;

/// Runs `decide` as `bidder`'s grouped command in a task of its own.
fn grouped(
    store: &Store<InMemoryStore>,
    auction_id: AuctionId,
    bidder: &str,
    decide: Decide,
) -> JoinHandle<Answered> {
    let store = store.clone();
    let context = context(bidder, None);
    tokio::spawn(async move {
        let meter = Meter::default();
        let result = store
            .execute_grouped(auction_id, &context, decide, &meter)
            .await;
        (result, meter.conflicts())
    })
}

/// A bid that holds its turn for a while the first time it is decided, so that the commands
/// started after it queue up behind it.
fn slow(bidder: &str) -> Decide {
    let bid = outbid(bidder);
    let slept = AtomicBool::new(false);
    Box::new(move |state, now| {
        if !slept.swap(true, Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(150));
        }
        bid(state, now)
    })
}

/// Starts the commands one after another, each queued before the next starts.
async fn queue_behind_a_slow_bid(
    store: &Store<InMemoryStore>,
    auction_id: AuctionId,
    commands: Vec<(&str, Decide)>,
) -> Vec<Answered> {
    let mut tasks = vec![grouped(store, auction_id, "first", slow("first"))];
    tokio::time::sleep(Duration::from_millis(30)).await;
    for (bidder, decide) in commands {
        tasks.push(grouped(store, auction_id, bidder, decide));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// The first bid (100), two outbids queued behind it (101, 102), then a bid of 101 by `late`:
/// every answer, and how many times the late bid was decided.
async fn a_late_bid_behind_two_outbids(
    store: &Store<InMemoryStore>,
    auction_id: AuctionId,
) -> (Vec<Answered>, u32) {
    let decisions = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&decisions);
    let late = bid(BidId(uuid::Uuid::new_v4()), "late", 101);
    let late: Decide = Box::new(move |state, now| {
        counted.fetch_add(1, Ordering::SeqCst);
        late(state, now)
    });
    let results = queue_behind_a_slow_bid(
        store,
        auction_id,
        vec![
            ("amy", Box::new(outbid("amy"))),
            ("ben", Box::new(outbid("ben"))),
            ("late", late),
        ],
    )
    .await;
    (results, decisions.load(Ordering::SeqCst))
}

/// `amy` (a decision that does something on the side) and ben's and cat's outbids, queued
/// behind the first bid.
async fn amy_ben_and_cat_behind_a_slow_bid(
    store: &Store<InMemoryStore>,
    auction_id: AuctionId,
    amy: Decide,
) -> Vec<Answered> {
    queue_behind_a_slow_bid(
        store,
        auction_id,
        vec![
            ("amy", amy),
            ("ben", Box::new(outbid("ben"))),
            ("cat", Box::new(outbid("cat"))),
        ],
    )
    .await
}

fn bidder_of(outcome: &Outcome<State>) -> String {
    match &outcome.events[..] {
        [envelope] => match &envelope.event {
            AuctionEvent::BidPlaced(bid) => bid.bidder_id.to_string(),
            other => panic!("expected a bid, got {other:?}"),
        },
        other => panic!("expected one event, got {other:?}"),
    }
}

#[test]
fn given_two_bids_queued_while_one_commits_then_they_append_one_after_the_other() {
    tokio_test(async {
        // Given an auction, and a bid holding its turn
        let store = store();
        let auction_id = created(&store).await;

        // When two bids arrive meanwhile
        let results = queue_behind_a_slow_bid(
            &store,
            auction_id,
            vec![
                ("amy", Box::new(outbid("amy"))),
                ("ben", Box::new(outbid("ben"))),
            ],
        )
        .await;

        // Then each appends alone (a transaction of two would gain the second nothing)
        for (result, _) in &results {
            assert_eq!(result.as_ref().unwrap().cost.append.write_requests, 1);
        }
        assert_eq!(bidder_of(results[2].0.as_ref().unwrap()), "ben");
    });
}

#[test]
fn given_bids_queued_while_one_commits_when_grouped_then_they_land_in_one_append_each_answered_alone()
 {
    tokio_test(async {
        // Given an auction, and a bid holding its turn
        let store = store();
        let auction_id = created(&store).await;
        let bidders: Vec<String> = (0..7).map(|n| format!("bidder{n}")).collect();

        // When seven bids arrive meanwhile
        let commands = bidders
            .iter()
            .map(|b| (b.as_str(), Box::new(outbid(b)) as Decide))
            .collect();
        let results = queue_behind_a_slow_bid(&store, auction_id, commands).await;

        // Then the first appended alone and the seven in one request, with no race lost
        let outcomes: Vec<Outcome<State>> = results.into_iter().map(|(r, _)| r.unwrap()).collect();
        let appends: u32 = outcomes.iter().map(|o| o.cost.append.write_requests).sum();
        assert_eq!(appends, 2, "one append for the first, one for the group");
        assert!(outcomes.iter().all(|o| o.cost.total().read_requests == 0));
        // And each answer is its own command's: its bid, at its version, and the state after it
        for (outcome, bidder) in outcomes[1..].iter().zip(&bidders) {
            assert_eq!(&bidder_of(outcome), bidder);
            assert_eq!(outcome.events[0].version, outcome.version);
            let leader = outcome.state.auction.as_ref().unwrap().leader.clone();
            assert_eq!(leader, Some(user(bidder)));
        }
        let versions: Vec<u64> = outcomes.iter().map(|o| o.version).collect();
        assert_eq!(versions, (3..=10).collect::<Vec<_>>());
        // And the log holds them in that order, its chain intact
        let log = store.backend().events(auction_id);
        assert_eq!(log.len(), 10);
        assert!(chain::verify(auction_id, &log).is_ok());
    });
}

#[test]
fn given_a_bid_refused_on_a_cached_state_in_a_group_then_it_is_decided_again_on_the_tail_after_it()
{
    tokio_test(async {
        // Given an auction at 100 after the first bid, and two outbids queued (101, 102)
        let store = store();
        let auction_id = created(&store).await;

        // When a bid of 101 queues behind them
        let (results, decisions) = a_late_bid_behind_two_outbids(&store, auction_id).await;

        // Then it was refused on the group's cached state, decided again on the log's tail once
        // the group had committed, and refused there too: the log's price is 102
        assert_eq!(decisions, 2);
        assert!(matches!(
            results[3].0,
            Err(CommandError::Rejected(Rejection::BidTooLow { .. }))
        ));
        assert_eq!(bidder_of(results[2].0.as_ref().unwrap()), "ben");
        assert_eq!(store.backend().events(auction_id).len(), 5);
    });
}

#[test]
fn given_a_group_decided_on_the_log_just_read_then_a_refusal_after_its_members_stands_when_they_commit()
 {
    tokio_test(async {
        // Given a process that keeps no state (each group reads the log), an auction at 100
        // after the first bid, and two outbids queued (101, 102)
        let store = store().with_cache(0);
        let auction_id = created(&store).await;

        // When a bid of 101 queues behind them
        let (results, decisions) = a_late_bid_behind_two_outbids(&store, auction_id).await;

        // Then it is refused once, on the log's state plus the group that committed before it
        assert_eq!(decisions, 1);
        assert!(matches!(
            results[3].0,
            Err(CommandError::Rejected(Rejection::BidTooLow { .. }))
        ));
        assert_eq!(store.backend().events(auction_id).len(), 5);
    });
}

#[test]
fn given_another_process_taking_the_groups_version_then_every_member_is_decided_again_after_it() {
    tokio_test(async {
        // Given an auction, and a rival in another process that bids while the group decides
        let store = store();
        let auction_id = created(&store).await;
        let rival = store.clone().with_cache(100);
        let amy = outbid("amy");
        let rival_done = Arc::new(AtomicBool::new(false));
        let amy: Decide = Box::new(move |state, now| {
            if !rival_done.swap(true, Ordering::SeqCst) {
                block_on(rival.execute(auction_id, &context("rival", None), outbid("rival")))
                    .unwrap();
            }
            amy(state, now)
        });

        // When amy's, ben's and cat's bids are grouped
        let results = amy_ben_and_cat_behind_a_slow_bid(&store, auction_id, amy).await;

        // Then all land after the rival's bid, decided again on it, one conflict counted
        let conflicts: u32 = results.iter().map(|(_, c)| c).sum();
        assert_eq!(conflicts, 1);
        let amy = results[1].0.as_ref().unwrap();
        assert_eq!(amy.version, 5);
        let AuctionEvent::BidPlaced(bid) = &amy.events[0].event else {
            panic!("expected a bid");
        };
        assert_eq!(bid.previous_leader_id, Some(user("rival")));
        assert_eq!(results[2].0.as_ref().unwrap().version, 6);
        assert_eq!(results[3].0.as_ref().unwrap().version, 7);
        let appends: u32 = results
            .iter()
            .map(|(r, _)| r.as_ref().unwrap().cost.append.write_requests)
            .sum();
        assert_eq!(appends, 3, "the first's, the group's lost try, the group's");
        let log = store.backend().events(auction_id);
        assert_eq!(log.len(), 7);
        assert!(chain::verify(auction_id, &log).is_ok());
    });
}

#[test]
fn given_a_groups_append_committed_but_its_answer_lost_then_the_members_are_answered_once() {
    tokio_test(async {
        // Given an auction, and the group's append landing with its response lost
        let store = store();
        let auction_id = created(&store).await;
        let backend = store.clone();
        let amy = outbid("amy");
        let amy: Decide = Box::new(move |state, now| {
            backend.backend().lose_next_append_responses(1);
            amy(state, now)
        });

        // When amy's, ben's and cat's bids are grouped
        let results = amy_ben_and_cat_behind_a_slow_bid(&store, auction_id, amy).await;

        // Then each is answered with its own bid, and each bid is in the log once
        assert_eq!(bidder_of(results[1].0.as_ref().unwrap()), "amy");
        assert_eq!(bidder_of(results[2].0.as_ref().unwrap()), "ben");
        assert_eq!(bidder_of(results[3].0.as_ref().unwrap()), "cat");
        let log = store.backend().events(auction_id);
        assert_eq!(log.len(), 6);
        assert!(chain::verify(auction_id, &log).is_ok());
    });
}
