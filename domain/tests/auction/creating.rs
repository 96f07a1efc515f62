use chrono::{DateTime, TimeDelta, Utc};
use domain::testing::{AuctionAggregate, Then};
use domain::*;
use events::{AuctionCreated, AuctionStarted, Currency, IncrementBand, IncrementPolicy, SoftClose};

use crate::support::*;

/// Given no auction, when the seller creates one with `command` at t(0).
fn creating(command: CreateAuction) -> Then<AuctionAggregate> {
    no_auction().at(t(0)).when(decide_create, &command)
}

/// The `AuctionCreated` of [`create`], starting at `starts_at`.
fn created(starts_at: DateTime<Utc>) -> Event {
    Event::AuctionCreated(AuctionCreated {
        auction_id: AUCTION,
        seller_id: seller(),
        title: "Leica M6".to_owned(),
        description: None,
        currency: Currency::try_from("EUR").unwrap(),
        starting_price: eur(1_000),
        reserve_price: None,
        buy_now_price: None,
        increment: IncrementPolicy::Fixed { amount_minor: 100 },
        starts_at,
        ends_at: t(3_600),
        soft_close: SoftClose {
            window_seconds: 120,
            extension_seconds: 120,
        },
        item_id: None,
        relisted_from: None,
    })
}

// The schedule.

#[test]
fn given_no_auction_when_one_is_created_without_a_start_time_then_it_is_created_and_starts_at_once()
{
    creating(create())
        .then_expect_events([created(t(0)), Event::AuctionStarted(AuctionStarted {})])
        .then_state(|state| {
            assert_eq!(auction(state).status, Status::Active);
            assert_eq!(state.version, 2);
        });
}

#[test]
fn given_no_auction_when_one_is_created_to_start_later_then_it_is_created_scheduled() {
    creating(CreateAuction {
        starts_at: Some(t(600)),
        ..create()
    })
    .then_expect_events([created(t(600))])
    .then_state(|state| assert_eq!(auction(state).status, Status::Scheduled));
}

#[test]
fn given_no_auction_when_one_is_created_to_start_a_minute_ago_then_it_starts_now() {
    creating(CreateAuction {
        starts_at: Some(t(-60)),
        ..create()
    })
    .then_expect_accepted()
    .then_state(|state| {
        assert_eq!(auction(state).starts_at, t(0));
        assert_eq!(auction(state).status, Status::Active);
    });
}

#[test]
fn given_no_auction_when_one_is_created_to_start_an_hour_ago_then_it_is_rejected() {
    creating(CreateAuction {
        starts_at: Some(t(-3_600)),
        ..create()
    })
    .then_expect_rejection(Rejection::StartInPast);
}

#[test]
fn given_no_auction_when_one_is_created_to_start_in_91_days_then_it_is_rejected() {
    creating(CreateAuction {
        starts_at: Some(t(0) + TimeDelta::days(91)),
        ends_at: t(0) + TimeDelta::days(92),
        ..create()
    })
    .then_expect_rejection_that("StartTooFarAhead", |rejection| {
        matches!(rejection, Rejection::StartTooFarAhead { .. })
    });
}

#[test]
fn given_no_auction_when_one_ends_before_it_starts_then_it_is_rejected() {
    creating(CreateAuction {
        starts_at: Some(t(600)),
        ends_at: t(300),
        ..create()
    })
    .then_expect_rejection(Rejection::EndNotAfterStart);
}

#[test]
fn given_no_auction_when_one_is_shorter_than_the_minimum_then_it_is_rejected() {
    creating(CreateAuction {
        ends_at: t(4),
        ..create()
    })
    .then_expect_rejection_that("DurationTooShort", |rejection| {
        matches!(rejection, Rejection::DurationTooShort { .. })
    });
}

#[test]
fn given_no_auction_when_one_runs_exactly_thirty_days_then_it_is_accepted() {
    creating(CreateAuction {
        ends_at: t(0) + TimeDelta::days(30),
        ..create()
    })
    .then_expect_accepted();
}

#[test]
fn given_no_auction_when_one_runs_longer_than_thirty_days_then_it_is_rejected() {
    creating(CreateAuction {
        ends_at: t(1) + TimeDelta::days(30),
        ..create()
    })
    .then_expect_rejection_that("DurationTooLong", |rejection| {
        matches!(rejection, Rejection::DurationTooLong { .. })
    });
}

// Title and description.

#[test]
fn given_no_auction_when_one_is_titled_with_200_characters_then_it_is_accepted() {
    creating(CreateAuction {
        title: "é".repeat(200),
        ..create()
    })
    .then_expect_accepted();
}

#[test]
fn given_no_auction_when_one_is_titled_with_201_characters_then_it_is_rejected() {
    creating(CreateAuction {
        title: "x".repeat(201),
        ..create()
    })
    .then_expect_rejection_code("INVALID_TITLE");
}

#[test]
fn given_no_auction_when_one_has_a_blank_title_then_it_is_rejected() {
    creating(CreateAuction {
        title: "   ".to_owned(),
        ..create()
    })
    .then_expect_rejection(Rejection::InvalidTitle { max: 200 });
}

#[test]
fn given_no_auction_when_one_is_titled_with_spaces_around_then_the_title_is_stored_trimmed() {
    creating(CreateAuction {
        title: "  Leica M6 ".to_owned(),
        ..create()
    })
    .then_expect_accepted()
    .then_state(|state| assert_eq!(auction(state).title, "Leica M6"));
}

#[test]
fn given_no_auction_when_one_has_an_overlong_description_then_it_is_rejected() {
    creating(CreateAuction {
        description: Some("x".repeat(5_001)),
        ..create()
    })
    .then_expect_rejection_code("INVALID_DESCRIPTION");
}

// Prices.

#[test]
fn given_no_auction_when_one_starts_at_zero_then_it_is_rejected() {
    creating(CreateAuction {
        starting_price: eur(0),
        ..create()
    })
    .then_expect_rejection(Rejection::AmountNotPositive {
        field: "startingPrice",
    });
}

#[test]
fn given_no_auction_when_one_starts_at_a_negative_price_then_it_is_rejected() {
    creating(CreateAuction {
        starting_price: eur(i64::MIN),
        ..create()
    })
    .then_expect_rejection_code("INVALID_AMOUNT");
}

#[test]
fn given_no_auction_when_one_starts_beyond_the_largest_amount_then_it_is_rejected() {
    creating(CreateAuction {
        starting_price: eur(i64::MAX),
        ..create()
    })
    .then_expect_rejection_that("AmountTooLarge", |rejection| {
        matches!(rejection, Rejection::AmountTooLarge { .. })
    });
}

#[test]
fn given_no_auction_when_one_has_a_price_in_another_currency_then_it_is_rejected() {
    creating(CreateAuction {
        reserve_price: Some(usd(5_000)),
        ..create()
    })
    .then_expect_rejection_code("CURRENCY_MISMATCH");
}

#[test]
fn given_no_auction_when_one_has_a_reserve_equal_to_the_starting_price_then_it_is_accepted() {
    creating(CreateAuction {
        reserve_price: Some(eur(1_000)),
        ..create()
    })
    .then_expect_accepted();
}

#[test]
fn given_no_auction_when_one_has_a_reserve_below_the_starting_price_then_it_is_rejected() {
    creating(CreateAuction {
        reserve_price: Some(eur(999)),
        ..create()
    })
    .then_expect_rejection(Rejection::ReserveBelowStartingPrice);
}

#[test]
fn given_no_auction_when_one_has_a_buy_now_above_the_starting_price_then_it_is_accepted() {
    creating(CreateAuction {
        buy_now_price: Some(eur(1_001)),
        ..create()
    })
    .then_expect_accepted();
}

#[test]
fn given_no_auction_when_one_has_a_buy_now_at_the_starting_price_then_it_is_rejected() {
    creating(CreateAuction {
        buy_now_price: Some(eur(1_000)),
        ..create()
    })
    .then_expect_rejection(Rejection::BuyNowNotAboveStartingPrice);
}

#[test]
fn given_no_auction_when_one_has_a_buy_now_below_the_reserve_then_it_is_rejected() {
    creating(CreateAuction {
        reserve_price: Some(eur(5_000)),
        buy_now_price: Some(eur(4_000)),
        ..create()
    })
    .then_expect_rejection(Rejection::BuyNowBelowReserve);
}

// Increments and soft close.

#[test]
fn given_no_auction_when_one_has_a_tiered_increment_then_it_is_accepted() {
    creating(CreateAuction {
        increment: Some(IncrementPolicy::Tiered {
            bands: vec![
                IncrementBand {
                    from_minor: 0,
                    increment_minor: 50,
                },
                IncrementBand {
                    from_minor: 10_000,
                    increment_minor: 500,
                },
            ],
        }),
        ..create()
    })
    .then_expect_accepted();
}

#[test]
fn given_no_auction_when_one_has_no_increment_then_it_takes_the_default_tiers() {
    creating(CreateAuction {
        increment: None,
        ..create()
    })
    .then_expect_accepted()
    .then_state(|state| assert_eq!(auction(state).increment, rules::default_increment()));
}

#[test]
fn given_no_auction_when_its_tiers_do_not_start_at_zero_then_it_is_rejected() {
    creating(CreateAuction {
        increment: Some(IncrementPolicy::Tiered {
            bands: vec![IncrementBand {
                from_minor: 100,
                increment_minor: 50,
            }],
        }),
        ..create()
    })
    .then_expect_rejection_code("INVALID_INCREMENT");
}

#[test]
fn given_no_auction_when_its_tiers_are_out_of_order_then_it_is_rejected() {
    let band = |from_minor| IncrementBand {
        from_minor,
        increment_minor: 50,
    };
    creating(CreateAuction {
        increment: Some(IncrementPolicy::Tiered {
            bands: vec![band(0), band(500), band(500)],
        }),
        ..create()
    })
    .then_expect_rejection_code("INVALID_INCREMENT");
}

#[test]
fn given_no_auction_when_its_fixed_increment_is_zero_then_it_is_rejected() {
    creating(CreateAuction {
        increment: Some(IncrementPolicy::Fixed { amount_minor: 0 }),
        ..create()
    })
    .then_expect_rejection_code("INVALID_INCREMENT");
}

#[test]
fn given_no_auction_when_its_soft_close_window_has_no_extension_then_it_is_rejected() {
    creating(CreateAuction {
        soft_close: Some(SoftClose {
            window_seconds: 60,
            extension_seconds: 0,
        }),
        ..create()
    })
    .then_expect_rejection_code("INVALID_SOFT_CLOSE");
}

#[test]
fn given_no_auction_when_one_has_no_soft_close_then_it_takes_the_default() {
    creating(CreateAuction {
        soft_close: None,
        ..create()
    })
    .then_expect_accepted()
    .then_state(|state| assert_eq!(auction(state).soft_close, rules::DEFAULT_SOFT_CLOSE));
}

// The id.

#[test]
fn given_an_auction_when_the_same_auction_is_created_again_then_nothing_happens() {
    an_open_auction()
        .at(t(5))
        .when(decide_create, &create())
        .then_expect_no_events();
}

#[test]
fn given_an_auction_when_a_different_one_is_created_under_its_id_then_it_is_rejected() {
    let command = CreateAuction {
        title: "Another camera".to_owned(),
        ..create()
    };
    an_open_auction()
        .at(t(5))
        .when(decide_create, &command)
        .then_expect_rejection(Rejection::AuctionAlreadyExists);
}

#[test]
fn given_no_auction_when_a_bid_then_it_is_rejected_as_not_found() {
    no_auction()
        .at(t(0))
        .when(decide_place_bid, &bid(1, "bob", 1_000))
        .then_expect_rejection(Rejection::AuctionNotFound);
}

#[test]
fn given_no_auction_when_it_is_ended_then_it_is_rejected_as_not_found() {
    no_auction()
        .at(t(0))
        .when(decide_end, &EndAuction)
        .then_expect_rejection(Rejection::AuctionNotFound);
}

// Starting.

#[test]
fn given_a_scheduled_auction_when_started_at_its_start_time_then_it_starts() {
    a_scheduled_auction()
        .at(t(600))
        .when(decide_start, &StartAuction)
        .then_expect_events([Event::AuctionStarted(AuctionStarted {})]);
}

#[test]
fn given_a_scheduled_auction_when_started_before_its_start_time_then_it_is_rejected() {
    a_scheduled_auction()
        .at(t(599))
        .when(decide_start, &StartAuction)
        .then_expect_rejection(Rejection::TooEarlyToStart { starts_at: t(600) });
}

#[test]
fn given_a_started_auction_when_started_again_then_nothing_happens() {
    an_open_auction()
        .at(t(10))
        .when(decide_start, &StartAuction)
        .then_expect_no_events();
}

#[test]
fn given_a_scheduled_auction_cancelled_when_its_start_time_comes_then_starting_is_rejected() {
    a_scheduled_auction()
        .cancelled_at(
            t(1),
            CancelAuction {
                requested_by: seller(),
                reason: None,
            },
        )
        .at(t(600))
        .when(decide_start, &StartAuction)
        .then_expect_rejection(Rejection::AuctionCancelled);
}
