//! Properties over arbitrary command sequences, 1,000 cases each: given any auction and any
//! commands, when each is decided in turn (a rejected one changes nothing), then the property
//! holds at every step.

use chrono::{DateTime, TimeDelta, Utc};
use domain::testing::{AuctionAggregate, Given};
use domain::*;
use events::{Actor, EventEnvelope, IncrementPolicy, Metadata, SoftClose, UserId};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use uuid::Uuid;

use crate::support::*;

const PEOPLE: [&str; 5] = ["seller", "bob", "cat", "dan", "eve"];

#[derive(Debug, Clone)]
enum Op {
    Bid {
        bidder: usize,
        /// Added to the minimum acceptable bid; negative values make too-low bids.
        over_minimum: i64,
        max_above: Option<i64>,
    },
    BuyNow {
        buyer: usize,
    },
    Start,
    End,
    Cancel {
        by: usize,
    },
    PaymentSucceeded {
        buyer: Option<usize>,
    },
    PaymentFailed {
        buyer: Option<usize>,
    },
    /// Relist the unsold item as `as_` (0: the relisting's own id, else another).
    Relist {
        by: usize,
        as_: u128,
    },
    /// Re-issue the n-th earlier command (modulo their number), at a later time.
    Retry(usize),
}

#[derive(Debug, Clone)]
enum Command {
    Create(CreateAuction),
    Start,
    Bid(PlaceBid),
    BuyNow(BuyNow),
    End,
    Cancel(CancelAuction),
    Paid(RecordPaymentSucceeded),
    Failed(RecordPaymentFailed),
    Relist(RelistAuction),
}

fn decide(state: &State, command: &Command, now: DateTime<Utc>) -> Result<Vec<Event>, Rejection> {
    match command {
        Command::Create(c) => decide_create(state, c, now),
        Command::Start => decide_start(state, &StartAuction, now),
        Command::Bid(c) => decide_place_bid(state, c, now),
        Command::BuyNow(c) => decide_buy_now(state, c, now),
        Command::End => decide_end(state, &EndAuction, now),
        Command::Cancel(c) => decide_cancel(state, c, now),
        Command::Paid(c) => decide_record_payment_succeeded(state, c, now),
        Command::Failed(c) => decide_record_payment_failed(state, c, now),
        Command::Relist(c) => decide_relist(state, c, now),
    }
}

#[derive(Debug)]
struct Step {
    before: State,
    events_before: usize,
    events_after: usize,
    command: Command,
    now: DateTime<Utc>,
    result: Result<Vec<Event>, Rejection>,
    after: State,
}

#[derive(Debug)]
struct Trace {
    steps: Vec<Step>,
    events: Vec<Event>,
    state: State,
}

fn arb_create() -> impl Strategy<Value = CreateAuction> {
    (
        1i64..5_000,
        prop::option::of(0i64..10_000),
        prop::option::of(1i64..20_000),
        prop_oneof![
            (1i64..500).prop_map(|amount_minor| Some(IncrementPolicy::Fixed { amount_minor })),
            Just(None),
        ],
        0i64..300,
        60i64..7_200,
        (0u32..300, 1u32..300),
    )
        .prop_map(
            |(
                starting,
                reserve_above,
                buy_now_above,
                increment,
                start,
                duration,
                (window, extension),
            )| {
                let reserve = reserve_above.map(|above| starting + above);
                CreateAuction {
                    starting_price: eur(starting),
                    reserve_price: reserve.map(eur),
                    buy_now_price: buy_now_above
                        .map(|above| eur(reserve.unwrap_or(starting) + above)),
                    increment,
                    starts_at: (start > 0).then(|| t(start)),
                    ends_at: t(start + duration),
                    soft_close: Some(SoftClose {
                        window_seconds: window,
                        extension_seconds: extension,
                    }),
                    ..create()
                }
            },
        )
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..5, -300i64..3_000, prop::option::of(0i64..5_000)).prop_map(
            |(bidder, over_minimum, max_above)| Op::Bid { bidder, over_minimum, max_above }
        ),
        1 => (0usize..5).prop_map(|buyer| Op::BuyNow { buyer }),
        1 => Just(Op::Start),
        2 => Just(Op::End),
        1 => (0usize..2).prop_map(|by| Op::Cancel { by }),
        1 => prop::option::of(0usize..5).prop_map(|buyer| Op::PaymentSucceeded { buyer }),
        1 => prop::option::of(0usize..5).prop_map(|buyer| Op::PaymentFailed { buyer }),
        1 => (0usize..2, 0u128..2).prop_map(|(by, as_)| Op::Relist { by, as_ }),
        2 => (0usize..64).prop_map(Op::Retry),
    ]
}

fn arb_trace() -> impl Strategy<Value = Trace> {
    (
        arb_create(),
        prop::collection::vec((arb_op(), 0i64..900), 1..40),
    )
        .prop_map(|(create, ops)| run(create, ops))
}

fn person(i: usize) -> UserId {
    user(PEOPLE[i % PEOPLE.len()])
}

fn command_for(op: &Op, state: &State, n: u128, history: &[Command]) -> Command {
    let auction = state.auction.as_ref();
    match op {
        Op::Bid {
            bidder,
            over_minimum,
            max_above,
        } => {
            let minimum = auction.map_or(1, |a| match a.price {
                None => a.starting_price,
                Some(price) => price + rules::increment_at(&a.increment, price),
            });
            let amount = minimum + over_minimum;
            Command::Bid(PlaceBid {
                bid_id: bid_id(n),
                bidder_id: person(*bidder),
                amount: eur(amount),
                max_amount: max_above.map(|above| eur(amount + above)),
            })
        }
        Op::BuyNow { buyer } => Command::BuyNow(BuyNow {
            purchase_id: bid_id(n),
            buyer_id: person(*buyer),
        }),
        Op::Start => Command::Start,
        Op::End => Command::End,
        Op::Cancel { by } => Command::Cancel(CancelAuction {
            requested_by: person(*by),
            reason: None,
        }),
        Op::Relist { by, as_ } => Command::Relist(RelistAuction {
            seller_id: person(*by),
            relisted_as: match as_ {
                0 => events::AuctionId::relisting(AUCTION),
                other => events::AuctionId(Uuid::from_u128(*other)),
            },
            starts_at: None,
            ends_at: t(100_000),
        }),
        Op::PaymentSucceeded { buyer } | Op::PaymentFailed { buyer } => {
            let (awaited, amount) = match auction.and_then(|a| a.settlement.clone()) {
                Some(Settlement::AwaitingPayment { buyer, amount }) => (buyer, amount),
                _ => (person(1), 1_000),
            };
            let buyer_id = buyer.map_or(awaited, person);
            if matches!(op, Op::PaymentSucceeded { .. }) {
                Command::Paid(RecordPaymentSucceeded {
                    buyer_id,
                    amount: eur(amount),
                    payment_reference: format!("ref-{n}"),
                })
            } else {
                Command::Failed(RecordPaymentFailed {
                    buyer_id,
                    reason: "declined".to_owned(),
                })
            }
        }
        Op::Retry(k) => history[k % history.len()].clone(),
    }
}

fn run(create: CreateAuction, ops: Vec<(Op, i64)>) -> Trace {
    let mut trace = Trace {
        steps: Vec::new(),
        events: Vec::new(),
        state: State::default(),
    };
    let mut history = Vec::new();
    let mut now = t(0);
    let commands = std::iter::once((None, 0)).chain(ops.into_iter().map(|(op, dt)| (Some(op), dt)));
    for (n, (op, advance)) in commands.enumerate() {
        now += TimeDelta::seconds(advance);
        let command = match &op {
            None => Command::Create(create.clone()),
            Some(op) => command_for(op, &trace.state, n as u128 + 1, &history),
        };
        let result = decide(&trace.state, &command, now);
        let before = trace.state.clone();
        let events_before = trace.events.len();
        if let Ok(events) = &result {
            trace.state = events.iter().fold(trace.state, evolve);
            trace.events.extend(events.iter().cloned());
            history.push(command.clone());
        }
        trace.steps.push(Step {
            before,
            events_before,
            events_after: trace.events.len(),
            command,
            now,
            result,
            after: trace.state.clone(),
        });
    }
    trace
}

fn envelope(event: &Event, version: u64) -> EventEnvelope {
    EventEnvelope {
        event_id: Uuid::from_u128(version as u128),
        aggregate_id: AUCTION,
        version,
        occurred_at: t(version as i64),
        event: event.clone(),
        metadata: Metadata {
            correlation_id: "corr".to_owned(),
            causation_id: "cause".to_owned(),
            actor: Actor::System {
                name: "proptest".to_owned(),
            },
            idempotency_key: Some(format!("key-{version}")),
            request_fingerprint: None,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn given_any_commands_when_decided_in_turn_then_the_price_never_decreases(trace in arb_trace()) {
        let mut highest = None;
        for step in &trace.steps {
            let price = step.after.auction.as_ref().and_then(|a| a.price);
            prop_assert!(price >= highest, "price fell from {highest:?} to {price:?} at {:?}", step.command);
            highest = price;
        }
    }

    #[test]
    fn given_any_commands_when_decided_in_turn_then_the_version_equals_the_number_of_events(trace in arb_trace()) {
        for step in &trace.steps {
            prop_assert_eq!(step.before.version as usize, step.events_before);
        }
        prop_assert_eq!(trace.state.version as usize, trace.events.len());
    }

    #[test]
    fn given_any_commands_when_decided_in_turn_then_folding_the_events_gives_the_state_each_decision_saw(trace in arb_trace()) {
        for step in &trace.steps {
            prop_assert_eq!(&fold(&trace.events[..step.events_before]), &step.before);
        }
        prop_assert_eq!(fold(&trace.events), trace.state);
    }

    #[test]
    fn given_any_command_that_took_effect_when_it_is_issued_again_then_nothing_happens(trace in arb_trace()) {
        for step in trace.steps.iter().filter(|s| s.result.is_ok()) {
            Given::<AuctionAggregate>::events(trace.events[..step.events_after].iter().cloned())
                .and_state(|state| assert_eq!(state, &step.after))
                .at(step.now)
                .when(decide, &step.command)
                .then_expect_no_events();
        }
    }

    #[test]
    fn given_any_emitted_event_when_it_round_trips_through_json_then_it_is_unchanged(trace in arb_trace()) {
        let mut replayed = State::default();
        for (i, event) in trace.events.iter().enumerate() {
            let original = envelope(event, i as u64 + 1);
            let json = serde_json::to_string(&original).unwrap();
            let decoded = EventEnvelope::from_json(&json).unwrap();
            prop_assert_eq!(&decoded, &original);
            replayed = evolve(replayed, &decoded.event);
        }
        prop_assert_eq!(replayed, trace.state);
    }

    #[test]
    fn given_any_state_when_it_round_trips_through_json_for_a_snapshot_then_it_is_unchanged(trace in arb_trace()) {
        let json = serde_json::to_string(&trace.state).unwrap();
        let restored: State = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(restored, trace.state);
    }

    #[test]
    fn given_any_commands_when_bidding_is_open_then_the_leader_is_a_bidder_within_their_maximum(trace in arb_trace()) {
        for step in &trace.steps {
            let Some(auction) = step.after.auction.as_ref() else { continue };
            if auction.status != Status::Active {
                continue;
            }
            if let Some(leader) = &auction.leader {
                prop_assert_ne!(leader, &auction.seller_id);
                let price = auction.price.unwrap();
                prop_assert!(price <= auction.leader_max().unwrap());
                prop_assert!(auction.bidders.values().all(|s| s.max <= auction.leader_max().unwrap()));
            }
        }
    }
}

#[test]
fn given_the_trace_generator_when_it_draws_500_traces_then_they_exercise_every_kind_of_event() {
    // Guards the generator: properties over traces that never bid or settle would prove little.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..500 {
        let trace = arb_trace().new_tree(&mut runner).unwrap().current();
        seen.extend(trace.events.iter().map(Event::event_type));
    }
    let all: std::collections::BTreeSet<_> = events::AuctionEvent::TYPES
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(seen, all);
}
