//! Given/when/then for deciders: the harness this crate's tests are written in, for tests of
//! other crates too (they enable the `testing` feature in their dev-dependencies).
//!
//! Modelled on cqrs-es's `TestFramework` (`given(events)`, `when(command)`,
//! `then_expect_events(..)`, `then_expect_error(..)`), made to fit pure deciders: the given
//! events are folded with the aggregate's `evolve`, the decision is a plain function
//! `(&State, &Command, now) -> Result<Vec<Event>, Rejection>` called at the time given by
//! [`At`], and the events of an accepted decision are folded on, so the test can check the
//! state after them.
//!
//! ```
//! use domain::testing::{AuctionAggregate, Given};
//! use domain::{EndAuction, Rejection, decide_end};
//!
//! Given::<AuctionAggregate>::no_events()
//!     .at(chrono::DateTime::UNIX_EPOCH)
//!     .when(decide_end, &EndAuction)
//!     .then_expect_rejection(Rejection::AuctionNotFound);
//! ```
//!
//! A failed expectation panics with the whole scenario: the given events, the time and the
//! command, what the decider decided, and what was expected. Pure like the rest of the crate:
//! no I/O, no async.

use std::any::{Any, type_name_of_val};
use std::fmt::{self, Debug, Display, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Utc};

/// What the harness needs to know of an aggregate: its state, events and rejections, and how
/// an event changes the state. Implement it on a marker type, one per aggregate (see
/// [`AuctionAggregate`]). Kept apart from the event store's aggregate trait: the harness needs
/// comparable rejections and a name for its messages, and nothing of ids, codecs or snapshots.
pub trait AggregateUnderTest {
    /// Names the aggregate in failure messages.
    const NAME: &'static str;
    /// The state before any event is `Default::default()`.
    type State: Clone + Debug + Default;
    type Event: Clone + Debug + PartialEq;
    type Rejection: Clone + Debug + PartialEq;

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;
}

/// What a decider returns: the events to append, or why the command was refused.
pub type Decision<A> =
    Result<Vec<<A as AggregateUnderTest>::Event>, <A as AggregateUnderTest>::Rejection>;

/// The history the command meets: events, folded into the state the decider sees.
#[must_use = "a given checks nothing until `.at(now).when(..)` and a `then_*` follow"]
pub struct Given<A: AggregateUnderTest> {
    events: Vec<A::Event>,
    state: A::State,
}

impl<A: AggregateUnderTest> Clone for Given<A> {
    fn clone(&self) -> Self {
        Self {
            events: self.events.clone(),
            state: self.state.clone(),
        }
    }
}

impl<A: AggregateUnderTest> Debug for Given<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Given")
            .field("events", &self.events)
            .field("state", &self.state)
            .finish()
    }
}

impl<A: AggregateUnderTest> Given<A> {
    /// No history: the aggregate does not exist yet.
    pub fn no_events() -> Self {
        Self {
            events: Vec::new(),
            state: A::State::default(),
        }
    }

    /// These events, in order, from the start.
    pub fn events(events: impl IntoIterator<Item = A::Event>) -> Self {
        Self::no_events().and(events)
    }

    /// And these events after the ones given so far.
    pub fn and(mut self, events: impl IntoIterator<Item = A::Event>) -> Self {
        for event in events {
            self.state = A::evolve(self.state, &event);
            self.events.push(event);
        }
        self
    }

    /// And the events of a command accepted at `now`: decided on the state given so far, so a
    /// history is written in commands instead of hand-made events. A rejection of the step is
    /// a broken test, and panics saying so.
    #[track_caller]
    pub fn and_accepted<C, D>(self, now: DateTime<Utc>, decide: D, command: &C) -> Self
    where
        C: Debug + ?Sized,
        D: FnOnce(&A::State, &C, DateTime<Utc>) -> Decision<A>,
    {
        let when = When::describe(now, &decide, command);
        match decide(&self.state, command, now) {
            Ok(events) => self.and(events),
            Err(rejection) => {
                let report = Report::<A> {
                    problem: "a given step was rejected, so the scenario never got to its `when`",
                    given: &self.events,
                    when: &when,
                    decided: &Err(rejection),
                };
                panic!("{report}");
            }
        }
    }

    /// And the state given so far passes `check` (which asserts). A failing check panics with
    /// the given events.
    #[track_caller]
    pub fn and_state(self, check: impl FnOnce(&A::State)) -> Self {
        if let Err(failure) = run_check(|| check(&self.state)) {
            panic!(
                "{}: a check of the given state failed: {failure}\n{}\nstate: {:#?}",
                A::NAME,
                Given::<A>::render(&self.events),
                self.state
            );
        }
        self
    }

    /// The state folded from the events given so far.
    pub fn state(&self) -> &A::State {
        &self.state
    }

    /// The events given so far.
    pub fn history(&self) -> &[A::Event] {
        &self.events
    }

    /// The time at which the command of the `when` is decided.
    pub fn at(self, now: DateTime<Utc>) -> At<A> {
        At { given: self, now }
    }

    fn render(events: &[A::Event]) -> String {
        format!("given: {}", EventList::<A>(events))
    }
}

/// A history and the time of the command; [`At::when`] decides it.
#[must_use = "nothing is decided until `.when(..)`"]
pub struct At<A: AggregateUnderTest> {
    given: Given<A>,
    now: DateTime<Utc>,
}

impl<A: AggregateUnderTest> At<A> {
    /// When `decide` decides `command` on the given state at the given time.
    ///
    /// `decide` is a decider such as `decide_place_bid`, or a closure `|state, command, now|`;
    /// failure messages name it and show the command.
    pub fn when<C, D>(self, decide: D, command: &C) -> Then<A>
    where
        C: Debug + ?Sized,
        D: FnOnce(&A::State, &C, DateTime<Utc>) -> Decision<A>,
    {
        let when = When::describe(self.now, &decide, command);
        let decision = decide(&self.given.state, command, self.now);
        Then {
            given: self.given,
            when,
            decision,
        }
    }
}

/// The time and the command, as failure messages show them.
struct When(String);

impl When {
    fn describe<D, C: Debug + ?Sized>(now: DateTime<Utc>, decide: &D, command: &C) -> Self {
        let path = type_name_of_val(decide);
        let decider = match path.rsplit("::").next() {
            Some(name) if !name.contains('{') => name,
            _ => path,
        };
        Self(format!("when: at {now}, {decider}({command:?})"))
    }
}

/// A decision, checked by one of the `then_*` methods.
#[must_use = "a decision is checked only by a `then_*` method"]
pub struct Then<A: AggregateUnderTest> {
    given: Given<A>,
    when: When,
    decision: Decision<A>,
}

impl<A: AggregateUnderTest> Then<A> {
    /// Then the command is accepted with exactly these events, in this order.
    #[track_caller]
    pub fn then_expect_events(self, expected: impl IntoIterator<Item = A::Event>) -> Accepted<A> {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match &self.decision {
            Ok(events) if *events == expected => self.accepted(),
            Ok(events) => {
                let difference = first_difference::<A>(events, &expected);
                self.fail(
                    "the decision emitted other events than expected",
                    &format!("expected: {}\n{difference}", EventList::<A>(&expected)),
                )
            }
            Err(_) => self.fail(
                "the command was rejected where events were expected",
                &format!("expected: {}", EventList::<A>(&expected)),
            ),
        }
    }

    /// Then the command is accepted with events for which `holds` is true.
    #[track_caller]
    pub fn then_expect_events_that(
        self,
        description: impl Display,
        holds: impl FnOnce(&[A::Event]) -> bool,
    ) -> Accepted<A> {
        match &self.decision {
            Ok(events) if holds(events) => self.accepted(),
            Ok(_) => self.fail(
                "the decision's events are not the ones expected",
                &format!("expected: events that are {description}"),
            ),
            Err(_) => self.fail(
                "the command was rejected where events were expected",
                &format!("expected: events that are {description}"),
            ),
        }
    }

    /// Then the command is accepted and takes effect: at least one event, whichever.
    #[track_caller]
    pub fn then_expect_accepted(self) -> Accepted<A> {
        match &self.decision {
            Ok(events) if !events.is_empty() => self.accepted(),
            Ok(_) => self.fail(
                "the command was accepted but changed nothing",
                "expected: at least one event",
            ),
            Err(_) => self.fail(
                "the command was rejected where it should be accepted",
                "expected: at least one event",
            ),
        }
    }

    /// Then the command is accepted and emits nothing: it already took effect, so a retry is
    /// safe.
    #[track_caller]
    pub fn then_expect_no_events(self) -> Accepted<A> {
        self.then_expect_events([])
    }

    /// Then the command is refused with exactly this rejection.
    #[track_caller]
    pub fn then_expect_rejection(self, expected: A::Rejection) {
        if self.decision.as_ref().err() != Some(&expected) {
            self.fail(
                "the decision is not the expected rejection",
                &format!("expected: rejected with {expected:?}"),
            );
        }
    }

    /// Then the command is refused with a rejection for which `holds` is true.
    #[track_caller]
    pub fn then_expect_rejection_that(
        self,
        description: impl Display,
        holds: impl FnOnce(&A::Rejection) -> bool,
    ) {
        if !self.decision.as_ref().err().is_some_and(holds) {
            self.fail(
                "the decision is not the expected rejection",
                &format!("expected: rejected with {description}"),
            );
        }
    }

    /// The decision itself, for checks the `then_*` methods do not cover.
    pub fn decision(&self) -> &Decision<A> {
        &self.decision
    }

    fn accepted(self) -> Accepted<A> {
        // Only called once the decision is known to be `Ok`.
        let events = self.decision.unwrap_or_default();
        let state = events.iter().fold(self.given.state.clone(), A::evolve);
        Accepted {
            given: self.given,
            when: self.when,
            events,
            state,
        }
    }

    #[track_caller]
    fn fail(&self, problem: &str, expected: &str) -> ! {
        let report = Report::<A> {
            problem,
            given: &self.given.events,
            when: &self.when,
            decided: &self.decision,
        };
        panic!("{report}\n{expected}");
    }
}

/// An accepted decision: its events, and the state after them.
pub struct Accepted<A: AggregateUnderTest> {
    given: Given<A>,
    when: When,
    events: Vec<A::Event>,
    state: A::State,
}

impl<A: AggregateUnderTest> Accepted<A> {
    /// Then the state after the decision's events passes `check` (which asserts). A failing
    /// check panics with the whole scenario.
    #[track_caller]
    pub fn then_state(self, check: impl FnOnce(&A::State)) -> Self {
        if let Err(failure) = run_check(|| check(&self.state)) {
            let report = Report::<A> {
                problem: "a check of the state after the decision failed",
                given: &self.given.events,
                when: &self.when,
                decided: &Ok(self.events.clone()),
            };
            panic!(
                "{report}\ncheck failed: {failure}\nstate after: {:#?}",
                self.state
            );
        }
        self
    }

    /// The decision's events.
    pub fn events(&self) -> &[A::Event] {
        &self.events
    }

    /// The state after the decision's events.
    pub fn state(&self) -> &A::State {
        &self.state
    }

    /// The given events followed by the decision's: the history for a next `when`.
    pub fn and_given(self) -> Given<A> {
        let mut given = self.given;
        given.events.extend(self.events);
        given.state = self.state;
        given
    }
}

/// The scenario as a failure message shows it.
struct Report<'a, A: AggregateUnderTest> {
    problem: &'a str,
    given: &'a [A::Event],
    when: &'a When,
    decided: &'a Decision<A>,
}

impl<A: AggregateUnderTest> Display for Report<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", A::NAME, self.problem)?;
        writeln!(f, "{}", Given::<A>::render(self.given))?;
        writeln!(f, "{}", self.when.0)?;
        match self.decided {
            Ok(events) => write!(f, "decided: {}", EventList::<A>(events)),
            Err(rejection) => write!(f, "decided: rejected with {rejection:?}"),
        }
    }
}

/// "no events", or the count and one numbered event per line.
struct EventList<'a, A: AggregateUnderTest>(&'a [A::Event]);

impl<A: AggregateUnderTest> Display for EventList<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            0 => write!(f, "no events"),
            1 => write!(f, "1 event"),
            n => write!(f, "{n} events"),
        }?;
        for (i, event) in self.0.iter().enumerate() {
            write!(f, "\n  {}. {event:?}", i + 1)?;
        }
        Ok(())
    }
}

/// Where two event lists first differ, field by field where the events' pretty `Debug` lines
/// differ.
fn first_difference<A: AggregateUnderTest>(decided: &[A::Event], expected: &[A::Event]) -> String {
    let Some(i) =
        (0..decided.len().max(expected.len())).find(|&i| decided.get(i) != expected.get(i))
    else {
        return String::new();
    };
    let mut text = format!("first difference: event {}", i + 1);
    match (decided.get(i), expected.get(i)) {
        (Some(decided), Some(expected)) => {
            let decided = qualified_lines(&format!("{decided:#?}"));
            let expected = qualified_lines(&format!("{expected:#?}"));
            for line in 0..decided.len().max(expected.len()) {
                let (d, e) = (decided.get(line), expected.get(line));
                if d != e {
                    let _ = write!(
                        text,
                        "\n  - expected: {}\n  + decided:  {}",
                        e.map_or("", String::as_str),
                        d.map_or("", String::as_str)
                    );
                }
            }
        }
        (Some(_), None) => text.push_str(": decided one event more than expected"),
        (None, _) => text.push_str(": expected one event more than decided"),
    }
    text
}

/// The lines of a pretty `Debug`, each prefixed with the fields it is nested in
/// (`new_price.amount_minor: 2100,`), so that a differing line says where it is.
fn qualified_lines(pretty: &str) -> Vec<String> {
    let mut open: Vec<(usize, Option<&str>)> = Vec::new();
    pretty
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            let text = line.trim();
            while open.last().is_some_and(|&(at, _)| at >= indent) {
                open.pop();
            }
            let path: Vec<&str> = open.iter().filter_map(|&(_, field)| field).collect();
            if text.ends_with(['{', '(', '[']) {
                open.push((indent, text.split_once(": ").map(|(field, _)| field)));
            }
            match path.as_slice() {
                [] => text.to_owned(),
                fields => format!("{}.{text}", fields.join(".")),
            }
        })
        .collect()
}

/// Runs an asserting check, returning its panic message instead of unwinding, so that the
/// caller can panic again with the scenario around it.
fn run_check(check: impl FnOnce()) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(check)).map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// The Auction aggregate, for the harness: `Given::<AuctionAggregate>::events(..)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuctionAggregate;

impl AggregateUnderTest for AuctionAggregate {
    const NAME: &'static str = "Auction";
    type State = crate::State;
    type Event = crate::Event;
    type Rejection = crate::Rejection;

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        crate::evolve(state, event)
    }
}

/// The Item aggregate (the ownership ledger), for the harness:
/// `Given::<ItemAggregate>::events(..)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemAggregate;

impl AggregateUnderTest for ItemAggregate {
    const NAME: &'static str = "Item";
    type State = crate::item::ItemState;
    type Event = crate::item::ItemEvent;
    type Rejection = crate::item::ItemRejection;

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        crate::item::evolve(state, event)
    }
}

/// The Subject aggregate under test: `Given::<SubjectAggregate>::no_events()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectAggregate;

impl AggregateUnderTest for SubjectAggregate {
    const NAME: &'static str = "Subject";
    type State = crate::subject::SubjectState;
    type Event = events::SubjectEvent;
    type Rejection = crate::subject::SubjectRejection;

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        crate::subject::evolve(state, event)
    }
}

impl Then<AuctionAggregate> {
    /// Then the command is refused with a rejection whose stable error code
    /// ([`crate::Rejection::code`]) is `code`.
    #[track_caller]
    pub fn then_expect_rejection_code(self, code: &str) {
        self.then_expect_rejection_that(format!("a rejection of code {code}"), |rejection| {
            rejection.code() == code
        });
    }
}

#[cfg(test)]
mod tests {
    //! The harness's own checks, on a counter: the second aggregate it serves, and proof that
    //! each expectation can fail and says why.

    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    enum Counted {
        Added(u32),
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Refused {
        OverLimit { limit: u32 },
    }

    struct Counter;

    impl AggregateUnderTest for Counter {
        const NAME: &'static str = "Counter";
        type State = u32;
        type Event = Counted;
        type Rejection = Refused;

        fn evolve(state: u32, event: &Counted) -> u32 {
            let Counted::Added(n) = event;
            state + n
        }
    }

    const LIMIT: u32 = 10;

    /// Adds `n`; adding nothing is a no-op, and the total stays at most `LIMIT`.
    fn add(state: &u32, n: &u32, _now: DateTime<Utc>) -> Decision<Counter> {
        match *n {
            0 => Ok(vec![]),
            n if state + n > LIMIT => Err(Refused::OverLimit { limit: LIMIT }),
            n => Ok(vec![Counted::Added(n)]),
        }
    }

    fn noon() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_268_800, 0).unwrap()
    }

    fn given_three() -> Given<Counter> {
        Given::events([Counted::Added(3)])
    }

    /// The message of the panic `scenario` must raise.
    fn failure(scenario: impl FnOnce()) -> String {
        let Err(payload) = catch_unwind(AssertUnwindSafe(scenario)) else {
            panic!("the scenario was expected to fail, and passed");
        };
        panic_message(payload.as_ref())
    }

    #[test]
    fn given_events_when_accepted_then_the_events_and_the_state_after_them_are_checked() {
        let accepted = given_three()
            .at(noon())
            .when(add, &4)
            .then_expect_events([Counted::Added(4)])
            .then_state(|total| assert_eq!(*total, 7));
        assert_eq!(accepted.events(), [Counted::Added(4)]);
        assert_eq!(*accepted.and_given().state(), 7);
    }

    #[test]
    fn given_a_history_in_commands_when_deciding_then_the_decider_sees_its_state() {
        Given::<Counter>::no_events()
            .and_accepted(noon(), add, &3)
            .and_accepted(noon(), add, &4)
            .and_state(|total| assert_eq!(*total, 7))
            .at(noon())
            .when(add, &4)
            .then_expect_rejection(Refused::OverLimit { limit: 10 });
    }

    #[test]
    fn when_other_events_are_decided_then_the_message_shows_given_when_decided_and_expected() {
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &4)
                .then_expect_events([Counted::Added(5)]);
        });
        for part in [
            "Counter: the decision emitted other events than expected",
            "given: 1 event\n  1. Added(3)",
            "when: at 2026-01-01 12:00:00 UTC, add(4)",
            "decided: 1 event\n  1. Added(4)",
            "expected: 1 event\n  1. Added(5)",
            "first difference: event 1",
            "- expected: 5,\n  + decided:  4,",
        ] {
            assert!(message.contains(part), "{part:?} missing from:\n{message}");
        }
    }

    #[test]
    fn a_differing_line_is_named_by_the_fields_it_is_nested_in() {
        #[derive(Debug)]
        #[allow(dead_code)] // Read through `Debug` only.
        struct Money {
            amount_minor: i64,
        }
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Bid {
            price: Money,
            leader: Option<Money>,
        }
        let bid = Bid {
            price: Money {
                amount_minor: 2_100,
            },
            leader: Some(Money { amount_minor: 1 }),
        };
        let lines = qualified_lines(&format!("{bid:#?}"));
        for line in ["price.amount_minor: 2100,", "leader.amount_minor: 1,", "}"] {
            assert!(
                lines.iter().any(|l| l == line),
                "{line:?} not in {lines:#?}"
            );
        }
    }

    #[test]
    fn when_fewer_events_are_decided_than_expected_then_it_fails() {
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &4)
                .then_expect_events([Counted::Added(4), Counted::Added(1)]);
        });
        assert!(
            message.contains("first difference: event 2: expected one event more than decided"),
            "{message}"
        );
    }

    #[test]
    fn when_rejected_where_events_were_expected_then_the_message_shows_the_rejection() {
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &8)
                .then_expect_events([Counted::Added(8)]);
        });
        assert!(
            message.contains("decided: rejected with OverLimit { limit: 10 }"),
            "{message}"
        );
        assert!(message.contains("expected: 1 event"), "{message}");
    }

    #[test]
    fn when_events_are_decided_where_a_rejection_was_expected_then_it_fails() {
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &4)
                .then_expect_rejection(Refused::OverLimit { limit: 10 });
        });
        assert!(message.contains("decided: 1 event"), "{message}");
        assert!(
            message.contains("expected: rejected with OverLimit { limit: 10 }"),
            "{message}"
        );
    }

    #[test]
    fn when_another_rejection_is_decided_then_it_fails() {
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &8)
                .then_expect_rejection(Refused::OverLimit { limit: 11 });
        });
        assert!(
            message.contains("the decision is not the expected rejection"),
            "{message}"
        );
    }

    #[test]
    fn predicates_pass_and_fail_with_their_description() {
        given_three()
            .at(noon())
            .when(add, &8)
            .then_expect_rejection_that("an over-limit", |r| {
                matches!(r, Refused::OverLimit { .. })
            });
        given_three()
            .at(noon())
            .when(add, &1)
            .then_expect_events_that("one addition", |e| matches!(e, [Counted::Added(_)]));
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &1)
                .then_expect_events_that("two additions", |e| e.len() == 2);
        });
        assert!(
            message.contains("expected: events that are two additions"),
            "{message}"
        );
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &1)
                .then_expect_rejection_that("an over-limit", |_| true);
        });
        assert!(
            message.contains("expected: rejected with an over-limit"),
            "{message}"
        );
    }

    #[test]
    fn no_events_and_accepted_tell_a_retry_from_an_effect() {
        given_three()
            .at(noon())
            .when(add, &0)
            .then_expect_no_events()
            .then_state(|total| assert_eq!(*total, 3));
        given_three()
            .at(noon())
            .when(add, &1)
            .then_expect_accepted();
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &1)
                .then_expect_no_events();
        });
        assert!(message.contains("expected: no events"), "{message}");
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &0)
                .then_expect_accepted();
        });
        assert!(
            message.contains("accepted but changed nothing"),
            "{message}"
        );
    }

    #[test]
    fn when_a_state_check_fails_then_the_message_has_the_scenario_and_the_check() {
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(add, &4)
                .then_expect_accepted()
                .then_state(|total| assert_eq!(*total, 8, "the total"));
        });
        for part in [
            "a check of the state after the decision failed",
            "given: 1 event",
            "when: at 2026-01-01 12:00:00 UTC, add(4)",
            "check failed: assertion `left == right` failed: the total",
            "state after: 7",
        ] {
            assert!(message.contains(part), "{part:?} missing from:\n{message}");
        }
    }

    #[test]
    fn when_a_given_step_is_rejected_then_the_message_says_so() {
        let message = failure(|| {
            let _ = given_three().and_accepted(noon(), add, &9);
        });
        assert!(message.contains("a given step was rejected"), "{message}");
        assert!(
            message.contains("decided: rejected with OverLimit"),
            "{message}"
        );
        let message = failure(|| {
            let _ = given_three().and_state(|total| assert_eq!(*total, 4));
        });
        assert!(
            message.contains("a check of the given state failed"),
            "{message}"
        );
    }

    #[test]
    fn a_closure_is_named_as_such_in_messages() {
        let message = failure(|| {
            given_three()
                .at(noon())
                .when(|s: &u32, n: &u32, now| add(s, n, now), &4)
                .then_expect_no_events();
        });
        assert!(message.contains("{{closure}}(4)"), "{message}");
    }
}
