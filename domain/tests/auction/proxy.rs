use domain::*;
use events::{BidPlaced, MaxBidRaised};

use crate::support::*;

/// Bob leads at 10.00 with a maximum of 50.00 (increment 1.00).
fn bob_leading_with_a_maximum_of_50() -> History {
    an_open_auction().with_bid(t(10), proxy_bid(1, "bob", 1_000, 5_000))
}

/// Cat's `command` after bob's opening bid of 10.00, leaving `leader` ahead at `new_price`.
fn cat_bid_on_bob(command: &PlaceBid, leader: &str, new_price: i64) -> Event {
    Event::BidPlaced(BidPlaced {
        previous_price: Some(eur(1_000)),
        previous_leader_id: Some(user("bob")),
        leader_id: user(leader),
        new_price: eur(new_price),
        ..placed(command)
    })
}

#[test]
fn given_an_open_auction_when_a_first_bid_with_a_maximum_then_the_price_stays_at_the_bid() {
    let bob = proxy_bid(1, "bob", 1_000, 5_000);
    an_open_auction()
        .at(t(10))
        .when(decide_place_bid, &bob)
        .then_expect_events([Event::BidPlaced(placed(&bob))])
        .then_state(|state| {
            assert_eq!(auction(state).price, Some(1_000));
            assert_eq!(auction(state).leader_max(), Some(5_000));
        });
}

#[test]
fn given_bob_leads_with_a_maximum_of_50_when_cat_bids_20_then_bob_leads_one_increment_above() {
    // The proxy answers for bob: cat's bid is placed, and bob keeps the lead at 21.00.
    let cat = bid(2, "cat", 2_000);
    bob_leading_with_a_maximum_of_50()
        .at(t(20))
        .when(decide_place_bid, &cat)
        .then_expect_events([cat_bid_on_bob(&cat, "bob", 2_100)]);
}

#[test]
fn given_bob_leads_with_a_maximum_of_50_when_cat_bids_49_50_then_bob_leads_at_his_maximum() {
    let cat = bid(2, "cat", 4_950);
    bob_leading_with_a_maximum_of_50()
        .at(t(20))
        .when(decide_place_bid, &cat)
        .then_expect_events([cat_bid_on_bob(&cat, "bob", 5_000)]);
}

#[test]
fn given_bob_leads_with_a_maximum_of_50_when_cat_bids_50_then_the_earlier_bob_keeps_the_lead() {
    let cat = bid(2, "cat", 5_000);
    bob_leading_with_a_maximum_of_50()
        .at(t(20))
        .when(decide_place_bid, &cat)
        .then_expect_events([cat_bid_on_bob(&cat, "bob", 5_000)]);
}

#[test]
fn given_bob_leads_with_a_maximum_of_50_when_cat_bids_up_to_80_then_cat_leads_at_51() {
    // 51.00 is the lowest price that beats bob's maximum.
    let cat = proxy_bid(2, "cat", 1_100, 8_000);
    bob_leading_with_a_maximum_of_50()
        .at(t(20))
        .when(decide_place_bid, &cat)
        .then_expect_events([cat_bid_on_bob(&cat, "cat", 5_100)]);
}

#[test]
fn given_bob_leads_with_a_maximum_of_50_when_cat_bids_up_to_50_50_then_cat_leads_at_her_maximum() {
    let cat = proxy_bid(2, "cat", 1_100, 5_050);
    bob_leading_with_a_maximum_of_50()
        .at(t(20))
        .when(decide_place_bid, &cat)
        .then_expect_events([cat_bid_on_bob(&cat, "cat", 5_050)]);
}

#[test]
fn given_bob_leads_with_a_maximum_of_50_when_cat_bids_70_now_then_the_price_is_70() {
    // Cat chose to bid 70.00 now, above what beating bob requires.
    let cat = proxy_bid(2, "cat", 7_000, 9_000);
    bob_leading_with_a_maximum_of_50()
        .at(t(20))
        .when(decide_place_bid, &cat)
        .then_expect_events([cat_bid_on_bob(&cat, "cat", 7_000)]);
}

#[test]
fn given_bob_leads_with_a_maximum_of_50_when_bob_raises_it_to_90_then_the_price_stays() {
    // A leader does not bid against themselves: only the maximum rises.
    bob_leading_with_a_maximum_of_50()
        .at(t(20))
        .when(decide_place_bid, &proxy_bid(2, "bob", 1_100, 9_000))
        .then_expect_events([Event::MaxBidRaised(MaxBidRaised {
            bid_id: bid_id(2),
            bidder_id: user("bob"),
            previous_max_amount: eur(5_000),
            new_max_amount: eur(9_000),
            previous_price: eur(1_000),
            new_price: eur(1_000),
        })])
        .then_state(|state| assert_eq!(auction(state).leader_max(), Some(9_000)));
}

#[test]
fn given_bob_leads_with_a_maximum_of_50_when_bob_repeats_it_then_it_is_rejected() {
    bob_leading_with_a_maximum_of_50()
        .at(t(20))
        .when(decide_place_bid, &proxy_bid(2, "bob", 1_100, 5_000))
        .then_expect_rejection(Rejection::MaxNotAboveCurrentMax {
            current_max: eur(5_000),
        });
}

#[test]
fn given_cat_was_outbid_by_the_proxy_when_she_comes_back_up_to_60_then_she_leads_at_51() {
    // Bob leads at 21.00; cat tries again with a maximum of 60.00.
    let cat = proxy_bid(3, "cat", 2_200, 6_000);
    bob_leading_with_a_maximum_of_50()
        .with_bid(t(20), bid(2, "cat", 2_000))
        .at(t(30))
        .when(decide_place_bid, &cat)
        .then_expect_events([Event::BidPlaced(BidPlaced {
            previous_price: Some(eur(2_100)),
            previous_leader_id: Some(user("bob")),
            new_price: eur(5_100),
            ..placed(&cat)
        })]);
}

// The reserve.

#[test]
fn given_a_reserve_of_40_when_a_first_bid_up_to_50_then_the_price_is_the_reserve() {
    let bob = proxy_bid(1, "bob", 1_000, 5_000);
    an_auction_with_reserve(4_000)
        .at(t(10))
        .when(decide_place_bid, &bob)
        .then_expect_events([Event::BidPlaced(BidPlaced {
            new_price: eur(4_000),
            ..placed(&bob)
        })]);
}

#[test]
fn given_a_reserve_of_40_when_a_first_bid_up_to_39_99_then_the_price_is_the_bid() {
    let bob = proxy_bid(1, "bob", 1_000, 3_999);
    an_auction_with_reserve(4_000)
        .at(t(10))
        .when(decide_place_bid, &bob)
        .then_expect_events([Event::BidPlaced(BidPlaced {
            new_price: eur(1_000),
            ..placed(&bob)
        })]);
}

#[test]
fn given_a_reserve_of_40_and_bob_leading_up_to_20_when_he_raises_to_45_then_the_price_is_the_reserve()
 {
    an_auction_with_reserve(4_000)
        .with_bid(t(10), proxy_bid(1, "bob", 1_000, 2_000))
        .at(t(20))
        .when(decide_place_bid, &proxy_bid(2, "bob", 1_000, 4_500))
        .then_expect_events([Event::MaxBidRaised(MaxBidRaised {
            bid_id: bid_id(2),
            bidder_id: user("bob"),
            previous_max_amount: eur(2_000),
            new_max_amount: eur(4_500),
            previous_price: eur(1_000),
            new_price: eur(4_000),
        })]);
}
