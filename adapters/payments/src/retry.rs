//! How long one invocation keeps retrying a step that failed transiently (the provider, the
//! registry or the event store unreachable), and how long it waits between attempts.
//!
//! The budget is the invocation's own: retries stop once the next wait would end within
//! `margin` of the deadline, so the last attempt still has time to get an answer and to write
//! the saga's state before Lambda stops the function. A step that still fails then fails the
//! message; the state is saved up to the last completed step, and the redelivery (or
//! [`crate::resume`]) goes on from there.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The retry budget and the waits. [`Retry::default`] suits the deployed function: a 10 s
/// timeout, 3 s kept for the last call and the state write, waits from 200 ms doubling to 2 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// How long an invocation may run when the caller names no deadline (the local runner, a
    /// reconciler's call): the function's timeout.
    pub timeout: Duration,
    /// Kept free before the deadline: no wait ends and no new step starts inside it.
    pub margin: Duration,
    /// The wait after the first failure of a step; it doubles after every further failure...
    pub first_backoff: Duration,
    /// ...up to this.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            margin: Duration::from_secs(3),
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl Retry {
    /// The deadline of an invocation that starts at `now` and is given no other.
    pub fn deadline_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + delta(self.timeout)
    }

    /// The last moment at which a new step may start or a wait may end.
    pub fn last_start(&self, deadline: DateTime<Utc>) -> DateTime<Utc> {
        deadline - delta(self.margin)
    }

    /// The wait after the `failures`-th consecutive failure of a step (1 for the first):
    /// exponential, capped, with "equal jitter" — half the step fixed, half random — so that
    /// consumers that failed together do not retry in step, and the wait still grows.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doubled = self
            .first_backoff
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)));
        let ceiling = doubled.min(self.max_backoff);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_micros()).unwrap_or(u64::MAX);
        half + Duration::from_micros(fastrand::u64(0..=spread))
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_the_first_to_the_cap_and_jitters_within_its_upper_half() {
        let retry = Retry::default();
        for _ in 0..200 {
            let first = retry.backoff(1);
            assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
            let third = retry.backoff(3);
            assert!(third >= Duration::from_millis(400) && third <= Duration::from_millis(800));
            let late = retry.backoff(40);
            assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2));
        }
    }

    #[test]
    fn the_last_start_keeps_the_margin_before_the_deadline() {
        let retry = Retry::default();
        let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();

        let deadline = retry.deadline_from(start);

        assert_eq!(deadline - start, TimeDelta::seconds(10));
        assert_eq!(deadline - retry.last_start(deadline), TimeDelta::seconds(3));
    }
}
