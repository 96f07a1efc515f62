use auction_domain::*;
use auction_events::ItemOfferedToRunnerUp;

use crate::support::*;

/// Reserve 40.00. Bob's maximum 60.00, cat's 45.00, dan's 30.00: bob wins at 46.00.
fn given_sold_to_bob() -> State {
    let state = given_created(CreateAuction {
        reserve_price: Some(eur(4_000)),
        ..create()
    });
    let steps = [
        proxy_bid(1, "dan", 1_000, 3_000),
        proxy_bid(2, "cat", 3_100, 4_500),
        proxy_bid(3, "bob", 4_600, 6_000),
    ];
    let state = steps.iter().enumerate().fold(state, |state, (i, command)| {
        and(
            state.clone(),
            decide_place_bid(&state, command, t(10 * (i as i64 + 1))),
        )
    });
    and(state.clone(), decide_end(&state, &EndAuction, t(3_600)))
}

fn paid(buyer: &str, amount: i64) -> RecordPaymentSucceeded {
    RecordPaymentSucceeded {
        buyer_id: user(buyer),
        amount: eur(amount),
        payment_reference: format!("pay-{buyer}"),
    }
}

fn failed(buyer: &str) -> RecordPaymentFailed {
    RecordPaymentFailed {
        buyer_id: user(buyer),
        reason: "card declined".to_owned(),
    }
}

#[test]
fn winner_pays_the_final_price() {
    let state = given_sold_to_bob();
    assert_eq!(
        auction(&state).settlement,
        Some(Settlement::AwaitingPayment {
            buyer: user("bob"),
            amount: 4_600
        })
    );
    let event =
        only(decide_record_payment_succeeded(&state, &paid("bob", 4_600), t(3_700)).unwrap());
    assert!(matches!(event, Event::PaymentSucceeded(p) if p.amount == eur(4_600)));
}

#[test]
fn recording_the_same_payment_twice_emits_nothing() {
    let state = given_sold_to_bob();
    let state = and(
        state.clone(),
        decide_record_payment_succeeded(&state, &paid("bob", 4_600), t(3_700)),
    );
    assert_eq!(
        decide_record_payment_succeeded(&state, &paid("bob", 4_600), t(3_800)),
        Ok(vec![])
    );
}

#[test]
fn payment_from_someone_else_is_rejected() {
    let state = given_sold_to_bob();
    assert_eq!(
        decide_record_payment_succeeded(&state, &paid("cat", 4_600), t(3_700)),
        Err(Rejection::BuyerMismatch)
    );
}

#[test]
fn payment_of_the_wrong_amount_is_rejected() {
    let state = given_sold_to_bob();
    assert_eq!(
        decide_record_payment_succeeded(&state, &paid("bob", 4_500), t(3_700)),
        Err(Rejection::PaymentAmountMismatch {
            expected: eur(4_600)
        })
    );
}

#[test]
fn payment_for_an_unsold_auction_is_rejected() {
    let state = given_active();
    let state = and(state.clone(), decide_end(&state, &EndAuction, t(3_600)));
    assert_eq!(
        decide_record_payment_succeeded(&state, &paid("bob", 1_000), t(3_700)),
        Err(Rejection::NotAwaitingPayment)
    );
}

#[test]
fn failed_payment_offers_the_item_to_the_runner_up_at_their_maximum() {
    // Given bob won, and cat's maximum of 45.00 meets the reserve
    let state = given_sold_to_bob();
    // When bob's payment fails
    let events = decide_record_payment_failed(&state, &failed("bob"), t(3_700)).unwrap();
    // Then the failure is recorded and cat is offered the item at 45.00
    let [
        Event::PaymentFailed(failure),
        Event::ItemOfferedToRunnerUp(offer),
    ] = &events[..]
    else {
        panic!("expected failure and offer, got {events:?}");
    };
    assert_eq!(failure.amount, eur(4_600));
    assert_eq!(
        offer,
        &ItemOfferedToRunnerUp {
            buyer_id: user("cat"),
            price: eur(4_500)
        }
    );
    // And cat's payment is what is awaited now
    let state = and(state, Ok(events));
    assert!(decide_record_payment_succeeded(&state, &paid("cat", 4_500), t(3_800)).is_ok());
}

#[test]
fn runner_up_below_the_reserve_is_not_offered_the_item() {
    // Given bob won over dan only, whose maximum (30.00) is below the reserve (40.00)
    let state = given_created(CreateAuction {
        reserve_price: Some(eur(4_000)),
        ..create()
    });
    let state = and(
        state.clone(),
        decide_place_bid(&state, &proxy_bid(1, "dan", 1_000, 3_000), t(10)),
    );
    let state = and(
        state.clone(),
        decide_place_bid(&state, &proxy_bid(2, "bob", 3_100, 6_000), t(20)),
    );
    let state = and(state.clone(), decide_end(&state, &EndAuction, t(3_600)));
    // When bob's payment fails
    let events = decide_record_payment_failed(&state, &failed("bob"), t(3_700)).unwrap();
    // Then nobody else is offered the item
    assert!(matches!(&events[..], [Event::PaymentFailed(_)]));
    assert_eq!(
        auction(&and(state, Ok(events))).settlement,
        Some(Settlement::NoBuyer)
    );
}

#[test]
fn the_item_is_offered_to_a_runner_up_only_once() {
    let state = given_sold_to_bob();
    let state = and(
        state.clone(),
        decide_record_payment_failed(&state, &failed("bob"), t(3_700)),
    );
    let events = decide_record_payment_failed(&state, &failed("cat"), t(3_800)).unwrap();
    assert!(matches!(&events[..], [Event::PaymentFailed(_)]));
    let state = and(state, Ok(events));
    assert_eq!(auction(&state).settlement, Some(Settlement::NoBuyer));
}

#[test]
fn recording_the_same_failure_twice_emits_nothing() {
    let state = given_sold_to_bob();
    let state = and(
        state.clone(),
        decide_record_payment_failed(&state, &failed("bob"), t(3_700)),
    );
    assert_eq!(
        decide_record_payment_failed(&state, &failed("bob"), t(3_800)),
        Ok(vec![])
    );
}

#[test]
fn failure_of_someone_who_owes_nothing_is_rejected() {
    let state = given_sold_to_bob();
    assert_eq!(
        decide_record_payment_failed(&state, &failed("dan"), t(3_700)),
        Err(Rejection::BuyerMismatch)
    );
}

#[test]
fn a_recorded_payment_that_fails_afterwards_unwinds_the_sale_and_offers_the_runner_up() {
    // Given bob's payment recorded, and cat's maximum above the reserve
    let state = given_sold_to_bob();
    let state = and(
        state.clone(),
        decide_record_payment_succeeded(&state, &paid("bob", 4_600), t(3_700)),
    );

    // When the sale cannot complete and the saga records bob's payment as failed
    let events = decide_record_payment_failed(&state, &failed("bob"), t(3_800)).unwrap();

    // Then the failure is recorded for what bob paid, and the item goes to the runner-up
    assert!(
        matches!(&events[..], [Event::PaymentFailed(failure), Event::ItemOfferedToRunnerUp(_)]
            if failure.amount.amount_minor == 4_600),
        "{events:?}"
    );
}

#[test]
fn a_recorded_payment_cannot_be_failed_for_someone_else() {
    let state = given_sold_to_bob();
    let state = and(
        state.clone(),
        decide_record_payment_succeeded(&state, &paid("bob", 4_600), t(3_700)),
    );
    assert_eq!(
        decide_record_payment_failed(&state, &failed("cat"), t(3_800)),
        Err(Rejection::NotAwaitingPayment)
    );
}
