use auction_domain::*;
use auction_events::{IncrementBand, IncrementPolicy, SoftClose};
use chrono::TimeDelta;

use crate::support::*;

fn rejected(command: CreateAuction) -> Rejection {
    decide_create(&State::default(), &command, t(0)).unwrap_err()
}

#[test]
fn auction_without_start_time_is_created_and_starts_at_once() {
    // Given no auction, when the seller creates one without a start time
    let events = decide_create(&State::default(), &create(), t(0)).unwrap();
    // Then it is created and started
    assert!(
        matches!(&events[..], [Event::AuctionCreated(c), Event::AuctionStarted(_)] if c.starts_at == t(0))
    );
    let state = fold(&events);
    assert_eq!(auction(&state).status, Status::Active);
    assert_eq!(state.version, 2);
}

#[test]
fn auction_with_future_start_is_created_scheduled() {
    let command = CreateAuction {
        starts_at: Some(t(600)),
        ..create()
    };
    let events = decide_create(&State::default(), &command, t(0)).unwrap();
    assert!(matches!(&events[..], [Event::AuctionCreated(_)]));
    assert_eq!(auction(&fold(&events)).status, Status::Scheduled);
}

#[test]
fn start_time_slightly_in_the_past_is_taken_as_now() {
    let command = CreateAuction {
        starts_at: Some(t(-60)),
        ..create()
    };
    let state = fold(&decide_create(&State::default(), &command, t(0)).unwrap());
    assert_eq!(auction(&state).starts_at, t(0));
    assert_eq!(auction(&state).status, Status::Active);
}

#[test]
fn start_time_far_in_the_past_is_rejected() {
    let command = CreateAuction {
        starts_at: Some(t(-3_600)),
        ..create()
    };
    assert_eq!(rejected(command), Rejection::StartInPast);
}

#[test]
fn start_time_beyond_ninety_days_is_rejected() {
    let command = CreateAuction {
        starts_at: Some(t(0) + TimeDelta::days(91)),
        ends_at: t(0) + TimeDelta::days(92),
        ..create()
    };
    assert!(matches!(
        rejected(command),
        Rejection::StartTooFarAhead { .. }
    ));
}

#[test]
fn title_of_200_characters_is_accepted() {
    let command = CreateAuction {
        title: "é".repeat(200),
        ..create()
    };
    assert!(decide_create(&State::default(), &command, t(0)).is_ok());
}

#[test]
fn title_of_201_characters_is_rejected() {
    let command = CreateAuction {
        title: "x".repeat(201),
        ..create()
    };
    assert_eq!(rejected(command).code(), "INVALID_TITLE");
}

#[test]
fn blank_title_is_rejected() {
    let command = CreateAuction {
        title: "   ".to_owned(),
        ..create()
    };
    assert_eq!(rejected(command), Rejection::InvalidTitle { max: 200 });
}

#[test]
fn title_is_stored_trimmed() {
    let command = CreateAuction {
        title: "  Leica M6 ".to_owned(),
        ..create()
    };
    let state = given_created(command);
    assert_eq!(auction(&state).title, "Leica M6");
}

#[test]
fn overlong_description_is_rejected() {
    let command = CreateAuction {
        description: Some("x".repeat(5_001)),
        ..create()
    };
    assert_eq!(rejected(command).code(), "INVALID_DESCRIPTION");
}

#[test]
fn zero_starting_price_is_rejected() {
    let command = CreateAuction {
        starting_price: eur(0),
        ..create()
    };
    assert_eq!(
        rejected(command),
        Rejection::AmountNotPositive {
            field: "startingPrice"
        }
    );
}

#[test]
fn negative_starting_price_is_rejected() {
    let command = CreateAuction {
        starting_price: eur(i64::MIN),
        ..create()
    };
    assert_eq!(rejected(command).code(), "INVALID_AMOUNT");
}

#[test]
fn starting_price_beyond_the_largest_amount_is_rejected() {
    let command = CreateAuction {
        starting_price: eur(i64::MAX),
        ..create()
    };
    assert!(matches!(
        rejected(command),
        Rejection::AmountTooLarge { .. }
    ));
}

#[test]
fn price_in_another_currency_is_rejected() {
    let command = CreateAuction {
        reserve_price: Some(usd(5_000)),
        ..create()
    };
    assert_eq!(rejected(command).code(), "CURRENCY_MISMATCH");
}

#[test]
fn reserve_equal_to_the_starting_price_is_accepted() {
    let command = CreateAuction {
        reserve_price: Some(eur(1_000)),
        ..create()
    };
    assert!(decide_create(&State::default(), &command, t(0)).is_ok());
}

#[test]
fn reserve_below_the_starting_price_is_rejected() {
    let command = CreateAuction {
        reserve_price: Some(eur(999)),
        ..create()
    };
    assert_eq!(rejected(command), Rejection::ReserveBelowStartingPrice);
}

#[test]
fn buy_now_above_the_starting_price_is_accepted() {
    let command = CreateAuction {
        buy_now_price: Some(eur(1_001)),
        ..create()
    };
    assert!(decide_create(&State::default(), &command, t(0)).is_ok());
}

#[test]
fn buy_now_at_the_starting_price_is_rejected() {
    let command = CreateAuction {
        buy_now_price: Some(eur(1_000)),
        ..create()
    };
    assert_eq!(rejected(command), Rejection::BuyNowNotAboveStartingPrice);
}

#[test]
fn buy_now_below_the_reserve_is_rejected() {
    let command = CreateAuction {
        reserve_price: Some(eur(5_000)),
        buy_now_price: Some(eur(4_000)),
        ..create()
    };
    assert_eq!(rejected(command), Rejection::BuyNowBelowReserve);
}

#[test]
fn tiered_increment_is_accepted() {
    let command = CreateAuction {
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
    };
    assert!(decide_create(&State::default(), &command, t(0)).is_ok());
}

#[test]
fn missing_increment_takes_the_default_tiers() {
    let command = CreateAuction {
        increment: None,
        ..create()
    };
    assert_eq!(
        auction(&given_created(command)).increment,
        rules::default_increment()
    );
}

#[test]
fn tiers_not_starting_at_zero_are_rejected() {
    let command = CreateAuction {
        increment: Some(IncrementPolicy::Tiered {
            bands: vec![IncrementBand {
                from_minor: 100,
                increment_minor: 50,
            }],
        }),
        ..create()
    };
    assert_eq!(rejected(command).code(), "INVALID_INCREMENT");
}

#[test]
fn tiers_out_of_order_are_rejected() {
    let band = |from_minor| IncrementBand {
        from_minor,
        increment_minor: 50,
    };
    let command = CreateAuction {
        increment: Some(IncrementPolicy::Tiered {
            bands: vec![band(0), band(500), band(500)],
        }),
        ..create()
    };
    assert_eq!(rejected(command).code(), "INVALID_INCREMENT");
}

#[test]
fn zero_fixed_increment_is_rejected() {
    let command = CreateAuction {
        increment: Some(IncrementPolicy::Fixed { amount_minor: 0 }),
        ..create()
    };
    assert_eq!(rejected(command).code(), "INVALID_INCREMENT");
}

#[test]
fn soft_close_window_without_extension_is_rejected() {
    let command = CreateAuction {
        soft_close: Some(SoftClose {
            window_seconds: 60,
            extension_seconds: 0,
        }),
        ..create()
    };
    assert_eq!(rejected(command).code(), "INVALID_SOFT_CLOSE");
}

#[test]
fn missing_soft_close_takes_the_default() {
    let command = CreateAuction {
        soft_close: None,
        ..create()
    };
    assert_eq!(
        auction(&given_created(command)).soft_close,
        rules::DEFAULT_SOFT_CLOSE
    );
}

#[test]
fn end_before_start_is_rejected() {
    let command = CreateAuction {
        starts_at: Some(t(600)),
        ends_at: t(300),
        ..create()
    };
    assert_eq!(rejected(command), Rejection::EndNotAfterStart);
}

#[test]
fn auction_shorter_than_the_minimum_is_rejected() {
    let command = CreateAuction {
        ends_at: t(4),
        ..create()
    };
    assert!(matches!(
        rejected(command),
        Rejection::DurationTooShort { .. }
    ));
}

#[test]
fn auction_of_exactly_thirty_days_is_accepted() {
    let command = CreateAuction {
        ends_at: t(0) + TimeDelta::days(30),
        ..create()
    };
    assert!(decide_create(&State::default(), &command, t(0)).is_ok());
}

#[test]
fn auction_longer_than_thirty_days_is_rejected() {
    let command = CreateAuction {
        ends_at: t(1) + TimeDelta::days(30),
        ..create()
    };
    assert!(matches!(
        rejected(command),
        Rejection::DurationTooLong { .. }
    ));
}

#[test]
fn creating_the_same_auction_again_emits_nothing() {
    let state = given_active();
    assert_eq!(decide_create(&state, &create(), t(5)), Ok(vec![]));
}

#[test]
fn creating_a_different_auction_under_a_taken_id_is_rejected() {
    let state = given_active();
    let command = CreateAuction {
        title: "Another camera".to_owned(),
        ..create()
    };
    assert_eq!(
        decide_create(&state, &command, t(5)),
        Err(Rejection::AuctionAlreadyExists)
    );
}

#[test]
fn scheduled_auction_starts_at_its_start_time() {
    let state = given_created(CreateAuction {
        starts_at: Some(t(600)),
        ..create()
    });
    let events = decide_start(&state, &StartAuction, t(600)).unwrap();
    assert!(matches!(&events[..], [Event::AuctionStarted(_)]));
}

#[test]
fn starting_before_the_start_time_is_rejected() {
    let state = given_created(CreateAuction {
        starts_at: Some(t(600)),
        ..create()
    });
    assert_eq!(
        decide_start(&state, &StartAuction, t(599)),
        Err(Rejection::TooEarlyToStart { starts_at: t(600) })
    );
}

#[test]
fn starting_a_started_auction_emits_nothing() {
    assert_eq!(
        decide_start(&given_active(), &StartAuction, t(10)),
        Ok(vec![])
    );
}

#[test]
fn starting_a_cancelled_auction_is_rejected() {
    let state = given_created(CreateAuction {
        starts_at: Some(t(600)),
        ..create()
    });
    let state = and(
        state.clone(),
        decide_cancel(
            &state,
            &CancelAuction {
                requested_by: seller(),
                reason: None,
            },
            t(1),
        ),
    );
    assert_eq!(
        decide_start(&state, &StartAuction, t(600)),
        Err(Rejection::AuctionCancelled)
    );
}

#[test]
fn commands_on_a_missing_auction_are_rejected() {
    assert_eq!(
        decide_place_bid(&State::default(), &bid(1, "bob", 1_000), t(0)),
        Err(Rejection::AuctionNotFound)
    );
    assert_eq!(
        decide_end(&State::default(), &EndAuction, t(0)),
        Err(Rejection::AuctionNotFound)
    );
}
