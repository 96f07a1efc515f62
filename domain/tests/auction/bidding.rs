use auction_domain::*;
use auction_events::{AuctionResult, BidPlaced, EndTrigger, IncrementPolicy, SoftClose};

use crate::support::*;

fn placed(events: Vec<Event>) -> BidPlaced {
    match only(events) {
        Event::BidPlaced(bid) => bid,
        other => panic!("expected BidPlaced, got {other:?}"),
    }
}

#[test]
fn first_bid_at_the_starting_price_is_accepted() {
    // Given an active auction starting at 10.00
    let state = given_active();
    // When bob bids 10.00
    let bid = placed(decide_place_bid(&state, &bid(1, "bob", 1_000), t(10)).unwrap());
    // Then he leads at 10.00
    assert_eq!(bid.new_price, eur(1_000));
    assert_eq!(bid.leader_id, user("bob"));
    assert_eq!(bid.previous_price, None);
    assert_eq!(bid.previous_leader_id, None);
}

#[test]
fn first_bid_below_the_starting_price_is_rejected() {
    let state = given_active();
    assert_eq!(
        decide_place_bid(&state, &bid(1, "bob", 999), t(10)),
        Err(Rejection::BidTooLow {
            minimum: eur(1_000)
        })
    );
}

#[test]
fn later_bid_of_price_plus_increment_is_accepted() {
    let state = given_active();
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(10)),
    );
    let bid = placed(decide_place_bid(&state, &bid(2, "cat", 1_100), t(20)).unwrap());
    assert_eq!(bid.new_price, eur(1_100));
    assert_eq!(bid.leader_id, user("cat"));
    assert_eq!(bid.previous_leader_id, Some(user("bob")));
    assert_eq!(bid.previous_price, Some(eur(1_000)));
}

#[test]
fn bid_below_increment_is_rejected() {
    let state = given_active();
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(10)),
    );
    assert_eq!(
        decide_place_bid(&state, &bid(2, "cat", 1_099), t(20)),
        Err(Rejection::BidTooLow {
            minimum: eur(1_100)
        })
    );
}

#[test]
fn tiered_increment_applies_the_band_of_the_current_price() {
    // Given tiers of 0.50 below 20.00 and 2.00 from 20.00, and a price of 20.00
    let state = given_created(CreateAuction {
        increment: Some(IncrementPolicy::Tiered {
            bands: vec![
                auction_events::IncrementBand {
                    from_minor: 0,
                    increment_minor: 50,
                },
                auction_events::IncrementBand {
                    from_minor: 2_000,
                    increment_minor: 200,
                },
            ],
        }),
        ..create()
    });
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 2_000), t(10)),
    );
    // Then the next bid must be 22.00, not 20.50
    assert_eq!(
        decide_place_bid(&state, &bid(2, "cat", 2_050), t(20)),
        Err(Rejection::BidTooLow {
            minimum: eur(2_200)
        })
    );
    assert!(decide_place_bid(&state, &bid(2, "cat", 2_200), t(20)).is_ok());
}

#[test]
fn seller_cannot_bid() {
    let state = given_active();
    let command = PlaceBid {
        bidder_id: seller(),
        ..bid(1, "x", 1_000)
    };
    let rejection = decide_place_bid(&state, &command, t(10)).unwrap_err();
    assert_eq!(rejection.code(), "SELLER_CANNOT_BID");
}

#[test]
fn bid_in_another_currency_is_rejected() {
    let state = given_active();
    let command = PlaceBid {
        amount: usd(1_000),
        ..bid(1, "bob", 0)
    };
    assert_eq!(
        decide_place_bid(&state, &command, t(10))
            .unwrap_err()
            .code(),
        "CURRENCY_MISMATCH"
    );
}

#[test]
fn maximum_in_another_currency_is_rejected() {
    let state = given_active();
    let command = PlaceBid {
        max_amount: Some(usd(5_000)),
        ..bid(1, "bob", 1_000)
    };
    assert_eq!(
        decide_place_bid(&state, &command, t(10))
            .unwrap_err()
            .code(),
        "CURRENCY_MISMATCH"
    );
}

#[test]
fn zero_bid_is_rejected() {
    let state = given_active();
    assert_eq!(
        decide_place_bid(&state, &bid(1, "bob", 0), t(10)),
        Err(Rejection::AmountNotPositive { field: "amount" })
    );
}

#[test]
fn maximum_below_the_bid_is_rejected() {
    let state = given_active();
    assert_eq!(
        decide_place_bid(&state, &proxy_bid(1, "bob", 2_000, 1_500), t(10)),
        Err(Rejection::MaxBelowAmount)
    );
}

#[test]
fn bid_before_the_start_time_is_rejected() {
    let state = given_created(CreateAuction {
        starts_at: Some(t(600)),
        ..create()
    });
    assert_eq!(
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(599)),
        Err(Rejection::AuctionNotStarted { starts_at: t(600) })
    );
}

#[test]
fn bid_after_the_start_time_opens_a_scheduled_auction() {
    // Given a scheduled auction whose start the scheduler has not processed yet
    let state = given_created(CreateAuction {
        starts_at: Some(t(600)),
        ..create()
    });
    // When a bid arrives after the start time
    let events = decide_place_bid(&state, &bid(1, "bob", 1_000), t(601)).unwrap();
    // Then the one command starts the auction and places the bid
    assert!(matches!(
        &events[..],
        [Event::AuctionStarted(_), Event::BidPlaced(_)]
    ));
    assert_eq!(auction(&and(state, Ok(events))).status, Status::Active);
}

#[test]
fn bid_at_the_end_time_is_rejected() {
    let state = given_active();
    assert_eq!(
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(3_600)),
        Err(Rejection::AuctionEnded)
    );
}

#[test]
fn bid_on_an_ended_auction_is_rejected() {
    let state = given_active();
    let state = and(state.clone(), decide_end(&state, &EndAuction, t(3_600)));
    assert_eq!(
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(3_601)),
        Err(Rejection::AuctionEnded)
    );
}

#[test]
fn retried_bid_emits_nothing_even_after_other_bids() {
    // Given bob's bid was accepted and cat outbid him since
    let state = given_active();
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(10)),
    );
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(2, "cat", 1_500), t(20)),
    );
    // When bob's client retries his first bid
    let decision = decide_place_bid(&state, &bid(1, "bob", 1_000), t(30));
    // Then nothing happens, where a new bid of that amount would have been too low
    assert_eq!(decision, Ok(vec![]));
}

#[test]
fn bid_inside_the_soft_close_window_extends_the_end() {
    // Given an auction ending at t(3600) with a 120 s window and 120 s extension
    let state = given_active();
    // When bob bids 60 s before the end
    let events = decide_place_bid(&state, &bid(1, "bob", 1_000), t(3_540)).unwrap();
    // Then the end moves 120 s later
    let [Event::BidPlaced(_), Event::AuctionExtended(extended)] = &events[..] else {
        panic!("expected a bid and an extension, got {events:?}");
    };
    assert_eq!(extended.previous_ends_at, t(3_600));
    assert_eq!(extended.new_ends_at, t(3_720));
    assert_eq!(extended.triggered_by_bid_id, bid_id(1));
    // And a bid after the original end but before the new one is accepted
    let state = and(state, Ok(events));
    assert!(decide_place_bid(&state, &bid(2, "cat", 1_100), t(3_650)).is_ok());
}

#[test]
fn bid_before_the_soft_close_window_does_not_extend() {
    let state = given_active();
    let events = decide_place_bid(&state, &bid(1, "bob", 1_000), t(3_480)).unwrap();
    assert!(matches!(&events[..], [Event::BidPlaced(_)]));
}

#[test]
fn disabled_soft_close_never_extends() {
    let state = given_created(CreateAuction {
        soft_close: Some(SoftClose {
            window_seconds: 0,
            extension_seconds: 0,
        }),
        ..create()
    });
    let events = decide_place_bid(&state, &bid(1, "bob", 1_000), t(3_599)).unwrap();
    assert!(matches!(&events[..], [Event::BidPlaced(_)]));
}

fn with_buy_now(reserve: Option<i64>) -> State {
    given_created(CreateAuction {
        reserve_price: reserve.map(eur),
        buy_now_price: Some(eur(10_000)),
        ..create()
    })
}

fn buy(n: u128, buyer: &str) -> BuyNow {
    BuyNow {
        purchase_id: bid_id(n),
        buyer_id: user(buyer),
    }
}

#[test]
fn buy_now_ends_the_auction_sold_at_the_buy_now_price() {
    let state = with_buy_now(None);
    let event = only(decide_buy_now(&state, &buy(9, "dan"), t(10)).unwrap());
    let Event::AuctionEnded(ended) = event else {
        panic!("expected AuctionEnded");
    };
    assert_eq!(
        ended.result,
        AuctionResult::Sold {
            winner_id: user("dan"),
            final_price: eur(10_000)
        }
    );
    assert_eq!(
        ended.trigger,
        EndTrigger::BoughtNow {
            purchase_id: bid_id(9)
        }
    );
}

#[test]
fn retried_buy_now_emits_nothing() {
    let state = with_buy_now(None);
    let state = and(state.clone(), decide_buy_now(&state, &buy(9, "dan"), t(10)));
    assert_eq!(decide_buy_now(&state, &buy(9, "dan"), t(11)), Ok(vec![]));
    assert_eq!(
        decide_buy_now(&state, &buy(10, "eve"), t(11)),
        Err(Rejection::AuctionEnded)
    );
}

#[test]
fn buy_now_without_a_buy_now_price_is_rejected() {
    let state = given_active();
    assert_eq!(
        decide_buy_now(&state, &buy(9, "dan"), t(10)),
        Err(Rejection::BuyNowNotOffered)
    );
}

#[test]
fn buy_now_after_the_first_bid_without_reserve_is_rejected() {
    let state = with_buy_now(None);
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(10)),
    );
    assert_eq!(
        decide_buy_now(&state, &buy(9, "dan"), t(20)),
        Err(Rejection::BuyNowNoLongerAvailable)
    );
}

#[test]
fn buy_now_stays_open_while_bids_are_below_the_reserve() {
    let state = with_buy_now(Some(5_000));
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(10)),
    );
    assert!(decide_buy_now(&state, &buy(9, "dan"), t(20)).is_ok());
}

#[test]
fn buy_now_closes_once_a_bid_meets_the_reserve() {
    let state = with_buy_now(Some(5_000));
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 5_000), t(10)),
    );
    assert_eq!(
        decide_buy_now(&state, &buy(9, "dan"), t(20)),
        Err(Rejection::BuyNowNoLongerAvailable)
    );
}

#[test]
fn seller_cannot_buy_now() {
    let state = with_buy_now(None);
    assert_eq!(
        decide_buy_now(&state, &buy(9, "seller"), t(10)),
        Err(Rejection::SellerCannotBid)
    );
}

fn cancel(by: &str) -> CancelAuction {
    CancelAuction {
        requested_by: user(by),
        reason: Some("changed my mind".to_owned()),
    }
}

#[test]
fn seller_cancels_before_the_first_bid() {
    let state = given_active();
    let event = only(decide_cancel(&state, &cancel("seller"), t(10)).unwrap());
    assert!(matches!(event, Event::AuctionCancelled(c) if c.cancelled_by == seller()));
}

#[test]
fn someone_else_cannot_cancel() {
    let state = given_active();
    assert_eq!(
        decide_cancel(&state, &cancel("bob"), t(10)),
        Err(Rejection::NotSeller)
    );
}

#[test]
fn auction_with_bids_cannot_be_cancelled() {
    let state = given_active();
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(10)),
    );
    assert_eq!(
        decide_cancel(&state, &cancel("seller"), t(20)),
        Err(Rejection::AuctionHasBids)
    );
}

#[test]
fn cancelling_twice_emits_nothing() {
    let state = given_active();
    let state = and(
        state.clone(),
        decide_cancel(&state, &cancel("seller"), t(10)),
    );
    assert_eq!(decide_cancel(&state, &cancel("seller"), t(20)), Ok(vec![]));
}

#[test]
fn bid_on_a_cancelled_auction_is_rejected() {
    let state = given_active();
    let state = and(
        state.clone(),
        decide_cancel(&state, &cancel("seller"), t(10)),
    );
    assert_eq!(
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(20)),
        Err(Rejection::AuctionCancelled)
    );
}

#[test]
fn overlong_cancel_reason_is_rejected() {
    let state = given_active();
    let command = CancelAuction {
        requested_by: seller(),
        reason: Some("x".repeat(501)),
    };
    assert_eq!(
        decide_cancel(&state, &command, t(10)).unwrap_err().code(),
        "INVALID_REASON"
    );
}

#[test]
fn a_bid_retried_after_its_id_was_forgotten_cannot_take_effect_twice() {
    // Given bob's bid, followed by more bids than the state remembers ids for
    let state = given_created(CreateAuction {
        ends_at: t(86_400),
        ..create()
    });
    let state = and(
        state.clone(),
        decide_place_bid(&state, &bid(1, "bob", 1_000), t(10)),
    );
    let state = (0..rules::RECENT_COMMAND_IDS as u128).fold(state, |state, i| {
        let bidder = if i % 2 == 0 { "cat" } else { "dan" };
        let amount = 1_100 + 100 * i as i64;
        and(
            state.clone(),
            decide_place_bid(&state, &bid(100 + i, bidder, amount), t(20)),
        )
    });
    assert!(!auction(&state).took_effect(&bid_id(1)));
    // When bob's client retries the first bid
    let decision = decide_place_bid(&state, &bid(1, "bob", 1_000), t(30));
    // Then it is refused by the price rule: nothing is appended
    assert!(
        matches!(decision, Err(Rejection::BidTooLow { .. })),
        "{decision:?}"
    );
}
