use domain::*;
use events::{AuctionEnded, AuctionResult, EndTrigger, UnsoldReason};

use crate::support::*;

/// The auction ends at its end time with `result`.
fn ended_with(result: AuctionResult) -> Event {
    Event::AuctionEnded(AuctionEnded {
        result,
        trigger: EndTrigger::EndTimeReached,
    })
}

#[test]
fn given_an_open_auction_when_ended_before_its_end_time_then_it_is_rejected() {
    an_open_auction()
        .at(t(3_599))
        .when(decide_end, &EndAuction)
        .then_expect_rejection(Rejection::AuctionNotOver { ends_at: t(3_600) });
}

#[test]
fn given_a_leader_when_the_end_time_comes_then_it_ends_sold_to_them_at_the_current_price() {
    an_open_auction()
        .with_bid(t(10), proxy_bid(1, "bob", 1_000, 5_000))
        .with_bid(t(20), bid(2, "cat", 2_000))
        .at(t(3_600))
        .when(decide_end, &EndAuction)
        .then_expect_events([ended_with(AuctionResult::Sold {
            winner_id: user("bob"),
            final_price: eur(2_100),
        })]);
}

#[test]
fn given_no_bids_when_the_end_time_comes_then_it_ends_unsold() {
    an_open_auction()
        .at(t(3_600))
        .when(decide_end, &EndAuction)
        .then_expect_events([ended_with(AuctionResult::Unsold {
            reason: UnsoldReason::NoBids,
        })]);
}

#[test]
fn given_bids_below_the_reserve_when_the_end_time_comes_then_it_ends_unsold() {
    an_auction_with_reserve(4_000)
        .with_bid(t(10), bid(1, "bob", 3_000))
        .at(t(3_600))
        .when(decide_end, &EndAuction)
        .then_expect_events([ended_with(AuctionResult::Unsold {
            reason: UnsoldReason::ReserveNotMet,
        })]);
}

#[test]
fn given_a_bid_at_the_reserve_when_the_end_time_comes_then_it_ends_sold() {
    an_auction_with_reserve(4_000)
        .with_bid(t(10), bid(1, "bob", 4_000))
        .at(t(3_600))
        .when(decide_end, &EndAuction)
        .then_expect_events([ended_with(AuctionResult::Sold {
            winner_id: user("bob"),
            final_price: eur(4_000),
        })]);
}

#[test]
fn given_an_ended_auction_when_ended_again_then_nothing_happens() {
    an_open_auction()
        .ended_at(t(3_600))
        .at(t(3_700))
        .when(decide_end, &EndAuction)
        .then_expect_no_events()
        .then_state(|state| assert_eq!(state.version, 3));
}

#[test]
fn given_a_bid_that_extended_the_end_when_ended_at_the_original_end_then_it_is_rejected() {
    an_open_auction()
        .with_bid(t(3_550), bid(1, "bob", 1_000))
        .at(t(3_600))
        .when(decide_end, &EndAuction)
        .then_expect_rejection(Rejection::AuctionNotOver { ends_at: t(3_720) });
}

#[test]
fn given_a_bid_that_extended_the_end_when_ended_at_the_new_end_then_it_ends() {
    an_open_auction()
        .with_bid(t(3_550), bid(1, "bob", 1_000))
        .at(t(3_720))
        .when(decide_end, &EndAuction)
        .then_expect_accepted();
}

#[test]
fn given_a_cancelled_auction_when_the_end_time_comes_then_ending_is_rejected() {
    a_cancelled_auction()
        .at(t(3_600))
        .when(decide_end, &EndAuction)
        .then_expect_rejection(Rejection::AuctionCancelled);
}

#[test]
fn given_an_open_auction_when_the_seller_cancels_at_the_end_time_then_it_is_rejected() {
    let command = CancelAuction {
        requested_by: seller(),
        reason: None,
    };
    an_open_auction()
        .at(t(3_600))
        .when(decide_cancel, &command)
        .then_expect_rejection(Rejection::AuctionEnded);
}
