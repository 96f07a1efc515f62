use domain::*;
use events::{
    AuctionCancelled, AuctionEnded, AuctionExtended, AuctionResult, AuctionStarted, BidPlaced,
    EndTrigger, IncrementBand, IncrementPolicy, SoftClose,
};

use crate::support::*;

/// Like [`an_open_auction`], with a buy-now price of 100.00.
fn an_auction_with_buy_now(reserve: Option<i64>) -> History {
    an_auction(CreateAuction {
        reserve_price: reserve.map(eur),
        buy_now_price: Some(eur(10_000)),
        ..create()
    })
}

/// Tiers of 0.50 below 20.00 and 2.00 from 20.00, and bob's bid of 20.00.
fn a_tiered_auction_at_20() -> History {
    an_auction(CreateAuction {
        increment: Some(IncrementPolicy::Tiered {
            bands: vec![
                IncrementBand {
                    from_minor: 0,
                    increment_minor: 50,
                },
                IncrementBand {
                    from_minor: 2_000,
                    increment_minor: 200,
                },
            ],
        }),
        ..create()
    })
    .with_bid(t(10), bid(1, "bob", 2_000))
}

// Bids and the price.

#[test]
fn given_an_open_auction_when_the_first_bid_is_at_the_starting_price_then_the_bidder_leads_at_it() {
    let bob = bid(1, "bob", 1_000);
    an_open_auction()
        .at(t(10))
        .when(decide_place_bid, &bob)
        .then_expect_events([Event::BidPlaced(BidPlaced {
            bid_id: bid_id(1),
            bidder_id: user("bob"),
            amount: eur(1_000),
            max_amount: eur(1_000),
            previous_price: None,
            new_price: eur(1_000),
            previous_leader_id: None,
            leader_id: user("bob"),
        })]);
}

#[test]
fn given_an_open_auction_when_the_first_bid_is_below_the_starting_price_then_it_is_rejected() {
    an_open_auction()
        .at(t(10))
        .when(decide_place_bid, &bid(1, "bob", 999))
        .then_expect_rejection(Rejection::BidTooLow {
            minimum: eur(1_000),
        });
}

#[test]
fn given_a_bid_when_another_bidder_bids_the_price_plus_the_increment_then_they_lead() {
    let cat = bid(2, "cat", 1_100);
    an_open_auction()
        .with_bid(t(10), bid(1, "bob", 1_000))
        .at(t(20))
        .when(decide_place_bid, &cat)
        .then_expect_events([Event::BidPlaced(BidPlaced {
            previous_price: Some(eur(1_000)),
            previous_leader_id: Some(user("bob")),
            ..placed(&cat)
        })]);
}

#[test]
fn given_a_bid_when_a_bid_below_the_increment_then_it_is_rejected() {
    an_open_auction()
        .with_bid(t(10), bid(1, "bob", 1_000))
        .at(t(20))
        .when(decide_place_bid, &bid(2, "cat", 1_099))
        .then_expect_rejection(Rejection::BidTooLow {
            minimum: eur(1_100),
        });
}

#[test]
fn given_tiers_and_a_price_of_20_when_a_bid_of_the_lower_band_then_it_is_rejected() {
    // The next bid must be 22.00, not 20.50.
    a_tiered_auction_at_20()
        .at(t(20))
        .when(decide_place_bid, &bid(2, "cat", 2_050))
        .then_expect_rejection(Rejection::BidTooLow {
            minimum: eur(2_200),
        });
}

#[test]
fn given_tiers_and_a_price_of_20_when_a_bid_of_the_band_of_the_price_then_it_is_accepted() {
    a_tiered_auction_at_20()
        .at(t(20))
        .when(decide_place_bid, &bid(2, "cat", 2_200))
        .then_expect_accepted();
}

// Who may bid, and with what.

#[test]
fn given_an_open_auction_when_the_seller_bids_then_it_is_rejected() {
    let command = PlaceBid {
        bidder_id: seller(),
        ..bid(1, "x", 1_000)
    };
    an_open_auction()
        .at(t(10))
        .when(decide_place_bid, &command)
        .then_expect_rejection_code("SELLER_CANNOT_BID");
}

#[test]
fn given_a_euro_auction_when_a_bid_in_dollars_then_it_is_rejected() {
    let command = PlaceBid {
        amount: usd(1_000),
        ..bid(1, "bob", 0)
    };
    an_open_auction()
        .at(t(10))
        .when(decide_place_bid, &command)
        .then_expect_rejection_code("CURRENCY_MISMATCH");
}

#[test]
fn given_a_euro_auction_when_a_maximum_in_dollars_then_it_is_rejected() {
    let command = PlaceBid {
        max_amount: Some(usd(5_000)),
        ..bid(1, "bob", 1_000)
    };
    an_open_auction()
        .at(t(10))
        .when(decide_place_bid, &command)
        .then_expect_rejection_code("CURRENCY_MISMATCH");
}

#[test]
fn given_an_open_auction_when_a_bid_of_zero_then_it_is_rejected() {
    an_open_auction()
        .at(t(10))
        .when(decide_place_bid, &bid(1, "bob", 0))
        .then_expect_rejection(Rejection::AmountNotPositive { field: "amount" });
}

#[test]
fn given_an_open_auction_when_a_maximum_below_the_bid_then_it_is_rejected() {
    an_open_auction()
        .at(t(10))
        .when(decide_place_bid, &proxy_bid(1, "bob", 2_000, 1_500))
        .then_expect_rejection(Rejection::MaxBelowAmount);
}

// When bidding is open.

#[test]
fn given_a_scheduled_auction_when_a_bid_before_the_start_time_then_it_is_rejected() {
    a_scheduled_auction()
        .at(t(599))
        .when(decide_place_bid, &bid(1, "bob", 1_000))
        .then_expect_rejection(Rejection::AuctionNotStarted { starts_at: t(600) });
}

#[test]
fn given_a_scheduled_auction_not_yet_started_when_a_bid_after_the_start_time_then_it_starts_and_takes_the_bid()
 {
    // The scheduler has not processed the start yet: the one command starts the auction and
    // places the bid.
    let bob = bid(1, "bob", 1_000);
    a_scheduled_auction()
        .at(t(601))
        .when(decide_place_bid, &bob)
        .then_expect_events([
            Event::AuctionStarted(AuctionStarted {}),
            Event::BidPlaced(placed(&bob)),
        ])
        .then_state(|state| assert_eq!(auction(state).status, Status::Active));
}

#[test]
fn given_an_open_auction_when_a_bid_at_the_end_time_then_it_is_rejected() {
    an_open_auction()
        .at(t(3_600))
        .when(decide_place_bid, &bid(1, "bob", 1_000))
        .then_expect_rejection(Rejection::AuctionEnded);
}

#[test]
fn given_an_ended_auction_when_a_bid_then_it_is_rejected() {
    an_open_auction()
        .ended_at(t(3_600))
        .at(t(3_601))
        .when(decide_place_bid, &bid(1, "bob", 1_000))
        .then_expect_rejection(Rejection::AuctionEnded);
}

#[test]
fn given_a_bid_outbid_since_when_it_is_retried_then_nothing_happens() {
    // A new bid of that amount would be too low: the retry is recognised by its id.
    an_open_auction()
        .with_bid(t(10), bid(1, "bob", 1_000))
        .with_bid(t(20), bid(2, "cat", 1_500))
        .at(t(30))
        .when(decide_place_bid, &bid(1, "bob", 1_000))
        .then_expect_no_events();
}

/// Bob's bid 1 (and his bid 2 when `bob_bids_again`), then more bids by cat and dan than the
/// state's recent ids hold.
fn more_bids_since_than_ids_are_remembered(bob_bids_again: bool) -> History {
    let mut history = an_auction(CreateAuction {
        ends_at: t(86_400),
        ..create()
    })
    .with_bid(t(10), bid(1, "bob", 1_000));
    if bob_bids_again {
        history = history
            .with_bid(t(11), bid(50, "cat", 1_100))
            .with_bid(t(12), bid(2, "bob", 1_200));
    }
    (0..rules::RECENT_COMMAND_IDS as u128).fold(history, |history, i| {
        let bidder = if i % 2 == 0 { "cat" } else { "dan" };
        history.with_bid(t(20), bid(100 + i, bidder, 2_000 + 100 * i as i64))
    })
}

#[test]
fn given_more_bids_since_than_ids_are_remembered_when_a_bidders_latest_bid_is_retried_then_nothing_happens()
 {
    // A client retries its last request: that one is remembered beside its bidder.
    more_bids_since_than_ids_are_remembered(false)
        .and_state(|state| assert!(!auction(state).recent_commands.contains(&bid_id(1))))
        .and_state(|state| assert!(auction(state).took_effect(&bid_id(1))))
        .at(t(30))
        .when(decide_place_bid, &bid(1, "bob", 1_000))
        .then_expect_no_events();
}

#[test]
fn given_more_bids_since_than_ids_are_remembered_when_a_superseded_bid_is_retried_then_the_price_rule_refuses_it()
 {
    more_bids_since_than_ids_are_remembered(true)
        .and_state(|state| assert!(!auction(state).took_effect(&bid_id(1))))
        .at(t(30))
        .when(decide_place_bid, &bid(1, "bob", 1_000))
        .then_expect_rejection_that("BidTooLow: nothing is appended", |rejection| {
            matches!(rejection, Rejection::BidTooLow { .. })
        });
}

// Soft close.

#[test]
fn given_a_120s_soft_close_when_a_bid_60s_before_the_end_then_the_end_moves_120s_later() {
    let bob = bid(1, "bob", 1_000);
    an_open_auction()
        .at(t(3_540))
        .when(decide_place_bid, &bob)
        .then_expect_events([
            Event::BidPlaced(placed(&bob)),
            Event::AuctionExtended(AuctionExtended {
                triggered_by_bid_id: bid_id(1),
                previous_ends_at: t(3_600),
                new_ends_at: t(3_720),
            }),
        ])
        // And a bid after the original end but before the new one is accepted.
        .and_given()
        .at(t(3_650))
        .when(decide_place_bid, &bid(2, "cat", 1_100))
        .then_expect_accepted();
}

#[test]
fn given_a_120s_soft_close_when_a_bid_before_the_window_then_the_end_stays() {
    let bob = bid(1, "bob", 1_000);
    an_open_auction()
        .at(t(3_480))
        .when(decide_place_bid, &bob)
        .then_expect_events([Event::BidPlaced(placed(&bob))]);
}

#[test]
fn given_soft_close_disabled_when_a_bid_a_second_before_the_end_then_the_end_stays() {
    let bob = bid(1, "bob", 1_000);
    an_auction(CreateAuction {
        soft_close: Some(SoftClose {
            window_seconds: 0,
            extension_seconds: 0,
        }),
        ..create()
    })
    .at(t(3_599))
    .when(decide_place_bid, &bob)
    .then_expect_events([Event::BidPlaced(placed(&bob))]);
}

// Buy-now.

#[test]
fn given_a_buy_now_price_when_someone_buys_now_then_the_auction_ends_sold_at_that_price() {
    an_auction_with_buy_now(None)
        .at(t(10))
        .when(decide_buy_now, &buy(9, "dan"))
        .then_expect_events([Event::AuctionEnded(AuctionEnded {
            result: AuctionResult::Sold {
                winner_id: user("dan"),
                final_price: eur(10_000),
            },
            trigger: EndTrigger::BoughtNow {
                purchase_id: bid_id(9),
            },
        })]);
}

#[test]
fn given_a_purchase_when_it_is_retried_then_nothing_happens() {
    an_auction_with_buy_now(None)
        .with_purchase(t(10), buy(9, "dan"))
        .at(t(11))
        .when(decide_buy_now, &buy(9, "dan"))
        .then_expect_no_events();
}

#[test]
fn given_a_purchase_when_another_purchase_then_it_is_rejected_as_ended() {
    an_auction_with_buy_now(None)
        .with_purchase(t(10), buy(9, "dan"))
        .at(t(11))
        .when(decide_buy_now, &buy(10, "eve"))
        .then_expect_rejection(Rejection::AuctionEnded);
}

#[test]
fn given_no_buy_now_price_when_someone_buys_now_then_it_is_rejected() {
    an_open_auction()
        .at(t(10))
        .when(decide_buy_now, &buy(9, "dan"))
        .then_expect_rejection(Rejection::BuyNowNotOffered);
}

#[test]
fn given_buy_now_without_reserve_and_a_first_bid_when_someone_buys_now_then_it_is_rejected() {
    an_auction_with_buy_now(None)
        .with_bid(t(10), bid(1, "bob", 1_000))
        .at(t(20))
        .when(decide_buy_now, &buy(9, "dan"))
        .then_expect_rejection(Rejection::BuyNowNoLongerAvailable);
}

#[test]
fn given_buy_now_and_bids_below_the_reserve_when_someone_buys_now_then_it_is_accepted() {
    an_auction_with_buy_now(Some(5_000))
        .with_bid(t(10), bid(1, "bob", 1_000))
        .at(t(20))
        .when(decide_buy_now, &buy(9, "dan"))
        .then_expect_accepted();
}

#[test]
fn given_buy_now_and_a_bid_meeting_the_reserve_when_someone_buys_now_then_it_is_rejected() {
    an_auction_with_buy_now(Some(5_000))
        .with_bid(t(10), bid(1, "bob", 5_000))
        .at(t(20))
        .when(decide_buy_now, &buy(9, "dan"))
        .then_expect_rejection(Rejection::BuyNowNoLongerAvailable);
}

#[test]
fn given_a_buy_now_price_when_the_seller_buys_now_then_it_is_rejected() {
    an_auction_with_buy_now(None)
        .at(t(10))
        .when(decide_buy_now, &buy(9, "seller"))
        .then_expect_rejection(Rejection::SellerCannotBid);
}

// Cancelling.

#[test]
fn given_no_bids_when_the_seller_cancels_then_the_auction_is_cancelled() {
    an_open_auction()
        .at(t(10))
        .when(decide_cancel, &cancel("seller"))
        .then_expect_events([Event::AuctionCancelled(AuctionCancelled {
            cancelled_by: seller(),
            reason: Some("changed my mind".to_owned()),
        })]);
}

#[test]
fn given_an_open_auction_when_someone_else_cancels_then_it_is_rejected() {
    an_open_auction()
        .at(t(10))
        .when(decide_cancel, &cancel("bob"))
        .then_expect_rejection(Rejection::NotSeller);
}

#[test]
fn given_a_bid_when_the_seller_cancels_then_it_is_rejected() {
    an_open_auction()
        .with_bid(t(10), bid(1, "bob", 1_000))
        .at(t(20))
        .when(decide_cancel, &cancel("seller"))
        .then_expect_rejection(Rejection::AuctionHasBids);
}

#[test]
fn given_a_cancelled_auction_when_the_seller_cancels_again_then_nothing_happens() {
    a_cancelled_auction()
        .at(t(20))
        .when(decide_cancel, &cancel("seller"))
        .then_expect_no_events();
}

#[test]
fn given_a_cancelled_auction_when_a_bid_then_it_is_rejected() {
    a_cancelled_auction()
        .at(t(20))
        .when(decide_place_bid, &bid(1, "bob", 1_000))
        .then_expect_rejection(Rejection::AuctionCancelled);
}

#[test]
fn given_an_open_auction_when_the_seller_cancels_with_an_overlong_reason_then_it_is_rejected() {
    let command = CancelAuction {
        requested_by: seller(),
        reason: Some("x".repeat(501)),
    };
    an_open_auction()
        .at(t(10))
        .when(decide_cancel, &command)
        .then_expect_rejection_code("INVALID_REASON");
}
