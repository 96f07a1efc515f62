//! The pure projections, one event type at a time: given a history, when an event arrives,
//! then the auction view and the bidders' rows say...

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeDelta, Utc};
use events::{
    Actor, AuctionCancelled, AuctionCreated, AuctionEnded, AuctionEvent, AuctionExtended,
    AuctionId, AuctionResult, AuctionStarted, BidId, BidPlaced, Currency, EndTrigger,
    EventEnvelope, IncrementPolicy, ItemOfferedToRunnerUp, MaxBidRaised, Metadata, Money,
    PaymentFailed, PaymentSucceeded, RawEnvelope, SoftClose, UnsoldReason, UserId,
};
use read_models::views::fixed_time;
use read_models::{
    AuctionProjection, AuctionStatus, BidStatus, EndedBy, PaymentStatus, UserBid, project,
};
use uuid::Uuid;

const AUCTION: AuctionId = AuctionId(Uuid::from_u128(0x0194_b7a0_0000_7000_8000_0000_0000_0001));

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::try_from("EUR").unwrap())
}

fn created(reserve: Option<i64>, buy_now: Option<i64>) -> AuctionEvent {
    AuctionCreated {
        auction_id: AUCTION,
        seller_id: user("seller"),
        title: "Lamp".to_owned(),
        description: Some("A lamp".to_owned()),
        currency: Currency::try_from("EUR").unwrap(),
        starting_price: eur(100),
        reserve_price: reserve.map(eur),
        buy_now_price: buy_now.map(eur),
        increment: IncrementPolicy::Fixed { amount_minor: 10 },
        starts_at: t0(),
        ends_at: t0() + TimeDelta::days(1),
        soft_close: SoftClose {
            window_seconds: 120,
            extension_seconds: 120,
        },
        item_id: None,
        relisted_from: None,
    }
    .into()
}

fn started() -> AuctionEvent {
    AuctionStarted {}.into()
}

/// A bid by `bidder` of `amount` with maximum `max`, after which `leader` leads at `price`.
fn bid(
    bidder: &str,
    amount: i64,
    max: i64,
    price: i64,
    leader: &str,
    previous: Option<&str>,
) -> AuctionEvent {
    BidPlaced {
        bid_id: BidId(Uuid::new_v4()),
        bidder_id: user(bidder),
        amount: eur(amount),
        max_amount: eur(max),
        previous_price: None,
        new_price: eur(price),
        previous_leader_id: previous.map(user),
        leader_id: user(leader),
    }
    .into()
}

fn ended(result: AuctionResult, trigger: EndTrigger) -> AuctionEvent {
    AuctionEnded { result, trigger }.into()
}

fn sold(winner: &str, price: i64) -> AuctionResult {
    AuctionResult::Sold {
        winner_id: user(winner),
        final_price: eur(price),
    }
}

fn envelope(version: u64, event: AuctionEvent) -> EventEnvelope {
    EventEnvelope {
        event_id: Uuid::new_v4(),
        aggregate_id: AUCTION,
        version,
        occurred_at: t0() + TimeDelta::seconds(i64::try_from(version).unwrap()),
        event,
        metadata: Metadata {
            correlation_id: format!("corr-{version}"),
            causation_id: "cause".to_owned(),
            actor: Actor::System {
                name: "test".to_owned(),
            },
            idempotency_key: None,
            request_fingerprint: None,
        },
    }
}

/// The projection after `events`, numbered from version 1.
fn given(events: Vec<AuctionEvent>) -> AuctionProjection {
    events
        .into_iter()
        .enumerate()
        .fold(None, |projection, (i, event)| {
            project(projection, &envelope(i as u64 + 1, event))
        })
        .expect("the history creates the auction")
}

/// The projection of an auction without reserve or buy-now price, opened, after `bids`.
fn given_open(bids: Vec<AuctionEvent>) -> AuctionProjection {
    let mut events = vec![created(None, None), started()];
    events.extend(bids);
    given(events)
}

/// The projection after one more event.
fn when(projection: &AuctionProjection, event: AuctionEvent) -> AuctionProjection {
    project(
        Some(projection.clone()),
        &envelope(projection.version() + 1, event),
    )
    .expect("a created auction stays projected")
}

fn row(projection: &AuctionProjection, name: &str) -> UserBid {
    projection
        .user_bids()
        .into_iter()
        .find(|row| row.user_id == user(name))
        .unwrap_or_else(|| panic!("no row for {name}"))
}

/// An active auction where ann leads at 1.00 with a maximum of 5.00.
fn ann_leads() -> Vec<AuctionEvent> {
    vec![
        created(None, None),
        started(),
        bid("ann", 100, 500, 100, "ann", None),
    ]
}

#[test]
fn a_created_auction_is_scheduled_at_its_starting_price_with_no_bids() {
    let view = given(vec![created(None, Some(900))]).view;

    assert_eq!(view.status, AuctionStatus::Scheduled);
    assert_eq!(view.title, "Lamp");
    assert_eq!(view.seller_id, user("seller"));
    assert_eq!(view.starting_price, eur(100));
    assert_eq!(view.current_price, None);
    assert_eq!(view.bid_count, 0);
    assert!(!view.has_reserve && !view.reserve_met);
    assert!(view.buy_now_available);
    assert_eq!(view.ends_at, t0() + TimeDelta::days(1));
    assert_eq!(view.version, 1);
}

#[test]
fn the_reserve_amount_never_appears_in_the_view_only_whether_it_exists() {
    let projection = given(vec![created(Some(77_777), None)]);

    let json = serde_json::to_string(&projection.view).unwrap();

    assert!(projection.view.has_reserve);
    assert!(!json.contains("77777"), "{json}");
}

#[test]
fn a_started_auction_is_active() {
    let projection = given(vec![created(None, None)]);

    let view = when(&projection, started()).view;

    assert_eq!(view.status, AuctionStatus::Active);
    assert_eq!(view.version, 2);
}

#[test]
fn a_first_bid_sets_the_price_the_leader_and_the_bidders_row() {
    let projection = given(vec![created(None, None), started()]);

    let after = when(&projection, bid("ann", 100, 500, 100, "ann", None));

    assert_eq!(after.view.current_price, Some(eur(100)));
    assert_eq!(after.view.leader_id, Some(user("ann")));
    assert_eq!(after.view.bid_count, 1);
    assert!(after.view.reserve_met, "without a reserve any bid sells");
    let ann = row(&after, "ann");
    assert_eq!(ann.status, BidStatus::Leading);
    assert_eq!(ann.my_highest_bid, eur(100));
    assert_eq!(ann.my_max_bid, eur(500));
    assert_eq!(ann.current_price, Some(eur(100)));
    assert_eq!(ann.title, "Lamp");
    assert_eq!(ann.version, 3);
}

#[test]
fn a_bid_under_the_leaders_maximum_leaves_the_leader_leading_at_the_raised_price() {
    let projection = given(ann_leads());

    let after = when(&projection, bid("bob", 200, 200, 210, "ann", Some("ann")));

    assert_eq!(after.view.leader_id, Some(user("ann")));
    assert_eq!(after.view.current_price, Some(eur(210)));
    assert_eq!(after.view.bid_count, 2);
    let ann = row(&after, "ann");
    assert_eq!(ann.status, BidStatus::Leading);
    assert_eq!(ann.my_highest_bid, eur(210), "the proxy bid for ann");
    assert_eq!(ann.my_max_bid, eur(500));
    let bob = row(&after, "bob");
    assert_eq!(bob.status, BidStatus::Outbid);
    assert_eq!(bob.my_highest_bid, eur(200));
    assert_eq!(bob.current_price, Some(eur(210)));
}

#[test]
fn a_bid_over_the_leaders_maximum_takes_the_lead_and_outbids_the_previous_leader() {
    let projection = given(ann_leads());

    let after = when(&projection, bid("bob", 600, 800, 510, "bob", Some("ann")));

    assert_eq!(after.view.leader_id, Some(user("bob")));
    assert_eq!(row(&after, "bob").status, BidStatus::Leading);
    assert_eq!(row(&after, "bob").my_highest_bid, eur(600));
    assert_eq!(row(&after, "ann").status, BidStatus::Outbid);
    assert_eq!(row(&after, "ann").current_price, Some(eur(510)));
}

#[test]
fn a_raised_maximum_is_the_bidders_private_figure_and_moves_the_price_when_it_meets_the_reserve() {
    let projection = given(vec![
        created(Some(700), None),
        started(),
        bid("ann", 100, 500, 100, "ann", None),
    ]);
    assert!(!projection.view.reserve_met);

    let after = when(
        &projection,
        MaxBidRaised {
            bid_id: BidId(Uuid::new_v4()),
            bidder_id: user("ann"),
            previous_max_amount: eur(500),
            new_max_amount: eur(900),
            previous_price: eur(100),
            new_price: eur(700),
        }
        .into(),
    );

    assert_eq!(after.view.current_price, Some(eur(700)));
    assert!(after.view.reserve_met);
    assert_eq!(after.view.bid_count, 1, "raising a maximum is not a bid");
    let ann = row(&after, "ann");
    assert_eq!(ann.my_max_bid, eur(900));
    assert_eq!(ann.my_highest_bid, eur(700));
    assert_eq!(ann.status, BidStatus::Leading);
}

#[test]
fn a_raised_maximum_that_leaves_the_price_changes_only_the_bidders_row() {
    let projection = given_open(vec![
        bid("ann", 100, 500, 100, "ann", None),
        bid("bob", 200, 200, 210, "ann", Some("ann")),
    ]);

    let after = when(
        &projection,
        MaxBidRaised {
            bid_id: BidId(Uuid::new_v4()),
            bidder_id: user("ann"),
            previous_max_amount: eur(500),
            new_max_amount: eur(900),
            previous_price: eur(210),
            new_price: eur(210),
        }
        .into(),
    );

    let changed = after.changed_user_bids(Some(&projection));
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].user_id, user("ann"));
    assert_eq!(changed[0].version, 5);
}

#[test]
fn an_extension_moves_the_end_in_the_view_and_rewrites_no_row() {
    let projection = given_open(vec![
        bid("ann", 100, 100, 100, "ann", None),
        bid("bob", 110, 110, 110, "bob", Some("ann")),
    ]);
    let new_end = t0() + TimeDelta::days(1) + TimeDelta::seconds(120);

    let after = when(
        &projection,
        AuctionExtended {
            triggered_by_bid_id: BidId(Uuid::new_v4()),
            previous_ends_at: t0() + TimeDelta::days(1),
            new_ends_at: new_end,
        }
        .into(),
    );

    // Rows show the end live (readers overlay it from the view), so no row is rewritten.
    assert_eq!(after.view.ends_at, new_end);
    assert!(after.user_bids().iter().all(|row| row.ends_at == new_end));
    assert!(after.changed_user_bids(Some(&projection)).is_empty());
}

#[test]
fn a_bid_rewrites_only_the_bidders_and_the_previous_leaders_rows() {
    // Given three bidders, cat leading
    let projection = given_open(vec![
        bid("ann", 100, 100, 100, "ann", None),
        bid("bob", 110, 110, 110, "bob", Some("ann")),
        bid("cat", 120, 120, 120, "cat", Some("bob")),
    ]);

    // When dan outbids cat
    let after = when(&projection, bid("dan", 130, 130, 130, "dan", Some("cat")));

    // Then only dan's and cat's rows change; ann's and bob's standing did not, and the new
    // price reaches them through the view
    let mut changed: Vec<String> = after
        .changed_user_bids(Some(&projection))
        .iter()
        .map(|row| row.user_id.as_str().to_owned())
        .collect();
    changed.sort();
    assert_eq!(changed, ["cat", "dan"]);
}

#[test]
fn a_sold_auction_makes_the_winner_won_owing_the_price_and_everyone_else_lost() {
    let projection = given_open(vec![
        bid("ann", 100, 100, 100, "ann", None),
        bid("bob", 110, 300, 110, "bob", Some("ann")),
    ]);

    let after = when(
        &projection,
        ended(sold("bob", 110), EndTrigger::EndTimeReached),
    );

    assert_eq!(after.view.status, AuctionStatus::Ended);
    assert_eq!(after.view.result, Some(sold("bob", 110)));
    assert_eq!(after.view.ended_by, Some(EndedBy::EndTime));
    let settlement = after.view.settlement.clone().unwrap();
    assert_eq!(settlement.buyer_id, user("bob"));
    assert_eq!(settlement.status, PaymentStatus::AwaitingPayment);
    let bob = row(&after, "bob");
    assert_eq!(bob.status, BidStatus::Won);
    assert_eq!(bob.amount_due, Some(eur(110)));
    assert_eq!(bob.payment, Some(PaymentStatus::AwaitingPayment));
    let ann = row(&after, "ann");
    assert_eq!(ann.status, BidStatus::Lost);
    assert_eq!(ann.amount_due, None);
    assert_eq!(ann.auction_status, AuctionStatus::Ended);
}

#[test]
fn an_unsold_auction_makes_every_bidder_lost() {
    let projection = given(vec![
        created(Some(10_000), None),
        started(),
        bid("ann", 100, 100, 100, "ann", None),
    ]);

    let after = when(
        &projection,
        ended(
            AuctionResult::Unsold {
                reason: UnsoldReason::ReserveNotMet,
            },
            EndTrigger::EndTimeReached,
        ),
    );

    assert_eq!(
        after.view.result,
        Some(AuctionResult::Unsold {
            reason: UnsoldReason::ReserveNotMet
        })
    );
    assert_eq!(after.view.settlement, None);
    assert_eq!(row(&after, "ann").status, BidStatus::Lost);
}

#[test]
fn buying_now_ends_the_auction_and_gives_the_buyer_a_won_row_without_a_bid() {
    let projection = given(vec![created(None, Some(900)), started()]);

    let after = when(
        &projection,
        ended(
            sold("cat", 900),
            EndTrigger::BoughtNow {
                purchase_id: BidId(Uuid::new_v4()),
            },
        ),
    );

    assert_eq!(after.view.ended_by, Some(EndedBy::BuyNow));
    assert!(!after.view.buy_now_available);
    assert_eq!(after.view.current_price, Some(eur(900)));
    let cat = row(&after, "cat");
    assert_eq!(cat.status, BidStatus::Won);
    assert_eq!(cat.amount_due, Some(eur(900)));
}

#[test]
fn buy_now_is_withdrawn_by_the_first_bid_without_a_reserve() {
    let projection = given(vec![created(None, Some(900)), started()]);
    assert!(projection.view.buy_now_available);

    let after = when(&projection, bid("ann", 100, 100, 100, "ann", None));

    assert!(!after.view.buy_now_available);
}

#[test]
fn a_cancelled_auction_shows_the_reason() {
    let projection = given(vec![created(None, None), started()]);

    let after = when(
        &projection,
        AuctionCancelled {
            cancelled_by: user("seller"),
            reason: Some("broken".to_owned()),
        }
        .into(),
    );

    assert_eq!(after.view.status, AuctionStatus::Cancelled);
    assert_eq!(after.view.cancel_reason.as_deref(), Some("broken"));
    assert!(after.user_bids().is_empty());
}

fn sold_to_bob_with_ann_runner_up() -> AuctionProjection {
    given_open(vec![
        bid("ann", 100, 150, 100, "ann", None),
        bid("bob", 200, 300, 200, "bob", Some("ann")),
        ended(sold("bob", 200), EndTrigger::EndTimeReached),
    ])
}

#[test]
fn a_successful_payment_marks_the_sale_paid() {
    let projection = sold_to_bob_with_ann_runner_up();

    let after = when(
        &projection,
        PaymentSucceeded {
            buyer_id: user("bob"),
            amount: eur(200),
            payment_reference: "ch_1".to_owned(),
        }
        .into(),
    );

    let settlement = after.view.settlement.clone().unwrap();
    assert_eq!(settlement.status, PaymentStatus::Paid);
    assert_eq!(row(&after, "bob").status, BidStatus::Won);
    assert_eq!(row(&after, "bob").payment, Some(PaymentStatus::Paid));
    assert_eq!(row(&after, "ann").payment, None);
}

#[test]
fn a_failed_payment_loses_the_winner_the_item() {
    let projection = sold_to_bob_with_ann_runner_up();

    let after = when(
        &projection,
        PaymentFailed {
            buyer_id: user("bob"),
            amount: eur(200),
            reason: "card declined".to_owned(),
        }
        .into(),
    );

    assert_eq!(
        after.view.settlement.clone().unwrap().status,
        PaymentStatus::Failed
    );
    let bob = row(&after, "bob");
    assert_eq!(bob.status, BidStatus::Lost);
    assert_eq!(bob.payment, Some(PaymentStatus::Failed));
    assert_eq!(bob.amount_due, None);
}

#[test]
fn an_offer_to_the_runner_up_makes_them_the_buyer_at_their_maximum() {
    let projection = when(
        &sold_to_bob_with_ann_runner_up(),
        PaymentFailed {
            buyer_id: user("bob"),
            amount: eur(200),
            reason: "card declined".to_owned(),
        }
        .into(),
    );

    let after = when(
        &projection,
        ItemOfferedToRunnerUp {
            buyer_id: user("ann"),
            price: eur(150),
        }
        .into(),
    );

    let settlement = after.view.settlement.clone().unwrap();
    assert_eq!(settlement.buyer_id, user("ann"));
    assert_eq!(settlement.amount, eur(150));
    assert!(settlement.offered_to_runner_up);
    let ann = row(&after, "ann");
    assert_eq!(ann.status, BidStatus::Won);
    assert_eq!(ann.amount_due, Some(eur(150)));
    assert_eq!(row(&after, "bob").status, BidStatus::Lost);
}

#[test]
fn the_same_event_twice_leaves_the_projection_unchanged() {
    let history = ann_leads();
    let projection = given(history.clone());
    let last = envelope(3, history[2].clone());

    let after = project(Some(projection.clone()), &last);

    assert_eq!(after, Some(projection));
}

#[test]
fn an_older_event_after_a_newer_one_leaves_the_projection_unchanged() {
    let projection = given(ann_leads());

    let after = project(Some(projection.clone()), &envelope(2, started()));

    assert_eq!(after, Some(projection));
}

#[test]
fn an_event_after_a_gap_is_not_applied_until_the_gap_is_filled() {
    let projection = given(ann_leads());

    let after = project(
        Some(projection.clone()),
        &envelope(5, bid("bob", 600, 600, 600, "bob", Some("ann"))),
    );

    assert_eq!(after, Some(projection));
}

#[test]
fn an_event_of_an_auction_never_created_projects_nothing() {
    assert_eq!(project(None, &envelope(2, started())), None);
}

#[test]
fn a_version_1_bid_is_upcast_and_projected_as_a_bid_that_leads_at_its_amount() {
    let projection = given(vec![created(None, None), started()]);
    let raw: RawEnvelope = serde_json::from_value(serde_json::json!({
        "eventId": Uuid::new_v4(),
        "aggregateId": AUCTION,
        "aggregateType": "Auction",
        "eventType": "BidPlaced",
        "version": 3,
        "schemaVersion": 1,
        "occurredAt": "2026-01-01T00:00:03Z",
        "payload": {"bidId": Uuid::new_v4(), "bidderId": "ann",
                    "amount": {"amountMinor": 250, "currency": "EUR"}},
        "metadata": {"correlationId": "c", "causationId": "x",
                     "actor": {"kind": "user", "id": "ann"}}
    }))
    .unwrap();

    let after = project(Some(projection), &raw.decode().unwrap()).unwrap();

    assert_eq!(after.view.current_price, Some(eur(250)));
    let ann = row(&after, "ann");
    assert_eq!(ann.status, BidStatus::Leading);
    assert_eq!(ann.my_max_bid, eur(250));
}

#[test]
fn stored_times_are_fixed_width_so_text_order_is_time_order() {
    let whole = t0();
    let fraction = t0() + TimeDelta::milliseconds(5);

    assert_eq!(fixed_time::format(&whole), "2026-01-01T00:00:00.000Z");
    assert_eq!(fixed_time::format(&fraction), "2026-01-01T00:00:00.005Z");
    assert!(fixed_time::format(&whole) < fixed_time::format(&fraction));
    assert_eq!(fixed_time::parse("2026-01-01T00:00:00Z"), None);
}
