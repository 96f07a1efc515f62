use domain::*;
use events::{ItemOfferedToRunnerUp, PaymentFailed, PaymentSucceeded};

use crate::support::*;

/// Reserve 40.00. Bob's maximum 60.00, cat's 45.00, dan's 30.00: bob wins at 46.00.
fn sold_to_bob() -> History {
    an_auction_with_reserve(4_000)
        .with_bid(t(10), proxy_bid(1, "dan", 1_000, 3_000))
        .with_bid(t(20), proxy_bid(2, "cat", 3_100, 4_500))
        .with_bid(t(30), proxy_bid(3, "bob", 4_600, 6_000))
        .ended_at(t(3_600))
}

/// Reserve 40.00; bob won over dan only, whose maximum (30.00) is below the reserve.
fn sold_to_bob_over_dan_below_the_reserve() -> History {
    an_auction_with_reserve(4_000)
        .with_bid(t(10), proxy_bid(1, "dan", 1_000, 3_000))
        .with_bid(t(20), proxy_bid(2, "bob", 3_100, 6_000))
        .ended_at(t(3_600))
}

fn payment_failed(buyer: &str, amount: i64) -> Event {
    Event::PaymentFailed(PaymentFailed {
        buyer_id: user(buyer),
        amount: eur(amount),
        reason: "card declined".to_owned(),
    })
}

fn offered_to(buyer: &str, price: i64) -> Event {
    Event::ItemOfferedToRunnerUp(ItemOfferedToRunnerUp {
        buyer_id: user(buyer),
        price: eur(price),
    })
}

// Payments.

#[test]
fn given_sold_to_bob_at_46_when_bob_pays_46_then_the_payment_is_recorded() {
    sold_to_bob()
        .and_state(|state| {
            assert_eq!(
                auction(state).settlement,
                Some(Settlement::AwaitingPayment {
                    buyer: user("bob"),
                    amount: 4_600
                })
            );
        })
        .at(t(3_700))
        .when(decide_record_payment_succeeded, &paid("bob", 4_600))
        .then_expect_events([Event::PaymentSucceeded(PaymentSucceeded {
            buyer_id: user("bob"),
            amount: eur(4_600),
            payment_reference: "pay-bob".to_owned(),
        })]);
}

#[test]
fn given_bobs_payment_recorded_when_it_is_recorded_again_then_nothing_happens() {
    sold_to_bob()
        .with_payment(t(3_700), paid("bob", 4_600))
        .at(t(3_800))
        .when(decide_record_payment_succeeded, &paid("bob", 4_600))
        .then_expect_no_events();
}

#[test]
fn given_sold_to_bob_when_cat_pays_then_it_is_rejected() {
    sold_to_bob()
        .at(t(3_700))
        .when(decide_record_payment_succeeded, &paid("cat", 4_600))
        .then_expect_rejection(Rejection::BuyerMismatch);
}

#[test]
fn given_sold_to_bob_at_46_when_bob_pays_45_then_it_is_rejected() {
    sold_to_bob()
        .at(t(3_700))
        .when(decide_record_payment_succeeded, &paid("bob", 4_500))
        .then_expect_rejection(Rejection::PaymentAmountMismatch {
            expected: eur(4_600),
        });
}

#[test]
fn given_an_auction_ended_unsold_when_a_payment_then_it_is_rejected() {
    an_open_auction()
        .ended_at(t(3_600))
        .at(t(3_700))
        .when(decide_record_payment_succeeded, &paid("bob", 1_000))
        .then_expect_rejection(Rejection::NotAwaitingPayment);
}

// Failed payments and the runner-up.

#[test]
fn given_sold_to_bob_and_cats_maximum_meets_the_reserve_when_bobs_payment_fails_then_cat_is_offered_the_item_at_her_maximum()
 {
    sold_to_bob()
        .at(t(3_700))
        .when(decide_record_payment_failed, &failed("bob"))
        .then_expect_events([payment_failed("bob", 4_600), offered_to("cat", 4_500)])
        // And cat's payment is what is awaited now.
        .and_given()
        .at(t(3_800))
        .when(decide_record_payment_succeeded, &paid("cat", 4_500))
        .then_expect_accepted();
}

#[test]
fn given_sold_to_bob_over_a_runner_up_below_the_reserve_when_bobs_payment_fails_then_nobody_is_offered_the_item()
 {
    sold_to_bob_over_dan_below_the_reserve()
        .at(t(3_700))
        .when(decide_record_payment_failed, &failed("bob"))
        .then_expect_events([payment_failed("bob", 4_000)])
        .then_state(|state| assert_eq!(auction(state).settlement, Some(Settlement::NoBuyer)));
}

#[test]
fn given_the_item_was_offered_to_the_runner_up_when_their_payment_fails_then_nobody_else_is_offered_it()
 {
    sold_to_bob()
        .with_payment_failure(t(3_700), failed("bob"))
        .at(t(3_800))
        .when(decide_record_payment_failed, &failed("cat"))
        .then_expect_events([payment_failed("cat", 4_500)])
        .then_state(|state| assert_eq!(auction(state).settlement, Some(Settlement::NoBuyer)));
}

#[test]
fn given_bobs_payment_failed_when_the_failure_is_recorded_again_then_nothing_happens() {
    sold_to_bob()
        .with_payment_failure(t(3_700), failed("bob"))
        .at(t(3_800))
        .when(decide_record_payment_failed, &failed("bob"))
        .then_expect_no_events();
}

#[test]
fn given_sold_to_bob_when_a_payment_of_dan_who_owes_nothing_fails_then_it_is_rejected() {
    sold_to_bob()
        .at(t(3_700))
        .when(decide_record_payment_failed, &failed("dan"))
        .then_expect_rejection(Rejection::BuyerMismatch);
}

#[test]
fn given_bobs_payment_recorded_when_it_fails_afterwards_then_the_sale_unwinds_and_the_runner_up_is_offered_the_item()
 {
    // The sale could not complete, and the saga records bob's payment as failed: for what bob
    // paid.
    sold_to_bob()
        .with_payment(t(3_700), paid("bob", 4_600))
        .at(t(3_800))
        .when(decide_record_payment_failed, &failed("bob"))
        .then_expect_events([payment_failed("bob", 4_600), offered_to("cat", 4_500)]);
}

#[test]
fn given_bobs_payment_recorded_when_a_failure_for_cat_then_it_is_rejected() {
    sold_to_bob()
        .with_payment(t(3_700), paid("bob", 4_600))
        .at(t(3_800))
        .when(decide_record_payment_failed, &failed("cat"))
        .then_expect_rejection(Rejection::NotAwaitingPayment);
}
