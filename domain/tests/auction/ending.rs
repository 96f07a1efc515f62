use auction_domain::*;
use auction_events::{AuctionResult, UnsoldReason};

use crate::support::*;

fn ended(state: &State, now: i64) -> AuctionResult {
    match only(decide_end(state, &EndAuction, t(now)).unwrap()) {
        Event::AuctionEnded(ended) => ended.result,
        other => panic!("expected AuctionEnded, got {other:?}"),
    }
}

#[test]
fn ending_before_the_end_time_is_rejected() {
    assert_eq!(
        decide_end(&given_active(), &EndAuction, t(3_599)),
        Err(Rejection::AuctionNotOver { ends_at: t(3_600) })
    );
}

#[test]
fn auction_with_a_leader_ends_sold_at_the_current_price() {
    let state = given_active();
    let state = and(
        state.clone(),
        decide_place_bid(&state, &proxy_bid(1, "bob", 1_000, 5_000), t(10)),
    );
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(2, "cat", 2_000), t(20)),
    );
    assert_eq!(
        ended(&state, 3_600),
        AuctionResult::Sold {
            winner_id: user("bob"),
            final_price: eur(2_100)
        }
    );
}

#[test]
fn auction_without_bids_ends_unsold() {
    assert_eq!(
        ended(&given_active(), 3_600),
        AuctionResult::Unsold {
            reason: UnsoldReason::NoBids
        }
    );
}

#[test]
fn auction_below_its_reserve_ends_unsold() {
    let state = given_created(CreateAuction {
        reserve_price: Some(eur(4_000)),
        ..create()
    });
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 3_000), t(10)),
    );
    assert_eq!(
        ended(&state, 3_600),
        AuctionResult::Unsold {
            reason: UnsoldReason::ReserveNotMet
        }
    );
}

#[test]
fn auction_at_its_reserve_ends_sold() {
    let state = given_created(CreateAuction {
        reserve_price: Some(eur(4_000)),
        ..create()
    });
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 4_000), t(10)),
    );
    assert!(matches!(ended(&state, 3_600), AuctionResult::Sold { .. }));
}

#[test]
fn ending_twice_emits_nothing() {
    let state = given_active();
    let state = and(state.clone(), decide_end(&state, &EndAuction, t(3_600)));
    assert_eq!(decide_end(&state, &EndAuction, t(3_700)), Ok(vec![]));
    assert_eq!(state.version, 3);
}

#[test]
fn extended_auction_does_not_end_at_its_original_end() {
    let state = given_active();
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(3_550)),
    );
    assert_eq!(
        decide_end(&state, &EndAuction, t(3_600)),
        Err(Rejection::AuctionNotOver { ends_at: t(3_720) })
    );
    assert!(decide_end(&state, &EndAuction, t(3_720)).is_ok());
}

#[test]
fn ending_a_cancelled_auction_is_rejected() {
    let state = given_active();
    let cancel = CancelAuction {
        requested_by: seller(),
        reason: None,
    };
    let state = and(state.clone(), decide_cancel(&state, &cancel, t(10)));
    assert_eq!(
        decide_end(&state, &EndAuction, t(3_600)),
        Err(Rejection::AuctionCancelled)
    );
}

#[test]
fn cancelling_after_the_end_time_is_rejected() {
    let state = given_active();
    let cancel = CancelAuction {
        requested_by: seller(),
        reason: None,
    };
    assert_eq!(
        decide_cancel(&state, &cancel, t(3_600)),
        Err(Rejection::AuctionEnded)
    );
}
