use auction_domain::*;
use auction_events::{BidPlaced, MaxBidRaised};

use crate::support::*;

fn placed(events: Vec<Event>) -> BidPlaced {
    match only(events) {
        Event::BidPlaced(bid) => bid,
        other => panic!("expected BidPlaced, got {other:?}"),
    }
}

/// Bob leads at 10.00 with a maximum of 50.00 (increment 1.00).
fn given_bob_leads_with_max_50() -> State {
    let state = given_active();
    and(
        state.clone(),
        decide_place_bid(&state, &proxy_bid(1, "bob", 1_000, 5_000), t(10)),
    )
}

#[test]
fn a_maximum_does_not_raise_the_opening_price() {
    let state = given_bob_leads_with_max_50();
    assert_eq!(auction(&state).price, Some(1_000));
    assert_eq!(auction(&state).leader_max(), Some(5_000));
}

#[test]
fn bid_below_the_leaders_maximum_is_answered_by_the_proxy() {
    // Given bob leads with a maximum of 50.00
    let state = given_bob_leads_with_max_50();
    // When cat bids 20.00
    let bid = placed(decide_place_bid(&state, &bid(2, "cat", 2_000), t(20)).unwrap());
    // Then bob still leads, one increment above cat's bid
    assert_eq!(bid.leader_id, user("bob"));
    assert_eq!(bid.new_price, eur(2_100));
    assert_eq!(bid.bidder_id, user("cat"));
}

#[test]
fn proxy_answer_is_capped_at_the_leaders_maximum() {
    let state = given_bob_leads_with_max_50();
    let bid = placed(decide_place_bid(&state, &bid(2, "cat", 4_950), t(20)).unwrap());
    assert_eq!(bid.leader_id, user("bob"));
    assert_eq!(bid.new_price, eur(5_000));
}

#[test]
fn equal_maximums_go_to_the_earlier_bid() {
    let state = given_bob_leads_with_max_50();
    let bid = placed(decide_place_bid(&state, &bid(2, "cat", 5_000), t(20)).unwrap());
    assert_eq!(bid.leader_id, user("bob"));
    assert_eq!(bid.new_price, eur(5_000));
}

#[test]
fn bid_above_the_leaders_maximum_leads_one_increment_above_it() {
    // Given bob leads with a maximum of 50.00
    let state = given_bob_leads_with_max_50();
    // When cat bids 11.00 with a maximum of 80.00
    let bid = placed(decide_place_bid(&state, &proxy_bid(2, "cat", 1_100, 8_000), t(20)).unwrap());
    // Then cat leads at 51.00: the lowest price that beats bob's maximum
    assert_eq!(bid.leader_id, user("cat"));
    assert_eq!(bid.previous_leader_id, Some(user("bob")));
    assert_eq!(bid.new_price, eur(5_100));
}

#[test]
fn a_new_leaders_price_is_capped_at_their_maximum() {
    let state = given_bob_leads_with_max_50();
    let bid = placed(decide_place_bid(&state, &proxy_bid(2, "cat", 1_100, 5_050), t(20)).unwrap());
    assert_eq!(bid.leader_id, user("cat"));
    assert_eq!(bid.new_price, eur(5_050));
}

#[test]
fn the_amount_bid_now_is_a_floor_for_the_price() {
    // Cat chose to bid 70.00 now, above what beating bob requires.
    let state = given_bob_leads_with_max_50();
    let bid = placed(decide_place_bid(&state, &proxy_bid(2, "cat", 7_000, 9_000), t(20)).unwrap());
    assert_eq!(bid.new_price, eur(7_000));
}

#[test]
fn leader_raising_their_maximum_does_not_bid_against_themselves() {
    // Given bob leads at 10.00 with a maximum of 50.00
    let state = given_bob_leads_with_max_50();
    // When bob bids again with a maximum of 90.00
    let event = only(decide_place_bid(&state, &proxy_bid(2, "bob", 1_100, 9_000), t(20)).unwrap());
    // Then his maximum rises and the price stays
    assert_eq!(
        event,
        Event::MaxBidRaised(MaxBidRaised {
            bid_id: bid_id(2),
            bidder_id: user("bob"),
            previous_max_amount: eur(5_000),
            new_max_amount: eur(9_000),
            previous_price: eur(1_000),
            new_price: eur(1_000),
        })
    );
    let state = and(state, Ok(vec![event]));
    assert_eq!(auction(&state).leader_max(), Some(9_000));
}

#[test]
fn leader_lowering_or_repeating_their_maximum_is_rejected() {
    let state = given_bob_leads_with_max_50();
    assert_eq!(
        decide_place_bid(&state, &proxy_bid(2, "bob", 1_100, 5_000), t(20)),
        Err(Rejection::MaxNotAboveCurrentMax {
            current_max: eur(5_000)
        })
    );
}

#[test]
fn outbid_bidder_can_come_back_above_the_new_price() {
    let state = given_bob_leads_with_max_50();
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(2, "cat", 2_000), t(20)),
    );
    // bob leads at 21.00; cat tries again at 60.00 and takes the lead at 51.00
    let bid = placed(decide_place_bid(&state, &proxy_bid(3, "cat", 2_200, 6_000), t(30)).unwrap());
    assert_eq!(bid.leader_id, user("cat"));
    assert_eq!(bid.new_price, eur(5_100));
}

fn with_reserve(reserve: i64) -> State {
    given_created(CreateAuction {
        reserve_price: Some(eur(reserve)),
        ..create()
    })
}

#[test]
fn a_maximum_meeting_the_reserve_lifts_the_price_to_the_reserve() {
    let state = with_reserve(4_000);
    let bid = placed(decide_place_bid(&state, &proxy_bid(1, "bob", 1_000, 5_000), t(10)).unwrap());
    assert_eq!(bid.new_price, eur(4_000));
}

#[test]
fn a_maximum_below_the_reserve_leaves_the_price() {
    let state = with_reserve(4_000);
    let bid = placed(decide_place_bid(&state, &proxy_bid(1, "bob", 1_000, 3_999), t(10)).unwrap());
    assert_eq!(bid.new_price, eur(1_000));
}

#[test]
fn leader_raising_their_maximum_to_the_reserve_lifts_the_price() {
    let state = with_reserve(4_000);
    let state = and(
        state.clone(),
        decide_place_bid(&state, &proxy_bid(1, "bob", 1_000, 2_000), t(10)),
    );
    let event = only(decide_place_bid(&state, &proxy_bid(2, "bob", 1_000, 4_500), t(20)).unwrap());
    let Event::MaxBidRaised(raise) = event else {
        panic!("expected MaxBidRaised");
    };
    assert_eq!(raise.new_price, eur(4_000));
}
