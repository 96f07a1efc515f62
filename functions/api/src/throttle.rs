//! Fairness between users: each user's writes (a bid, and every other POST and PUT behind the
//! authenticator) take a token from a bucket of that user's own, so that one account sending
//! as fast as it can is answered 429 RATE_LIMITED while everyone else's bids go through and
//! are decided. Reads are not counted: they touch no aggregate and cost no write.
//!
//! The buckets live in the process (one per Lambda execution environment, one for `api-local`):
//! a shared bucket in DynamoDB would cost a write per command, which is the cost a bid no
//! longer pays (docs/cost-model.md, "Fairness", says what that bounds and what it does not).
//! Time is the process's monotonic clock, never the API's injected [`Clock`](crate::Clock):
//! the rule is about how fast requests arrive, not about auction time.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use events::UserId;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::identity::Claims;

/// How many writes a user may make: `per_second` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteRate {
    pub per_second: f64,
    pub burst: u32,
}

/// The variables that override [`WriteRate::DEFAULT`].
pub const PER_SECOND_ENV: &str = "WRITES_PER_USER_PER_SECOND";
pub const BURST_ENV: &str = "WRITES_PER_USER_BURST";

impl WriteRate {
    /// Ten writes a second, twenty at once: well above a person bidding by hand (proxy bids
    /// exist so that nobody needs to bid fast), and each of the ten at the most a client a
    /// single auction's partition sustains without throttling others (about 1,000 writes/s).
    pub const DEFAULT: Self = Self {
        per_second: 10.0,
        burst: 20,
    };

    /// From `WRITES_PER_USER_PER_SECOND` (a positive number) and `WRITES_PER_USER_BURST` (a
    /// positive integer), each defaulting to [`WriteRate::DEFAULT`]'s when unset or blank.
    /// A value that is set but not valid is an error: the API must not start with a rule
    /// other than the one its operator wrote.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(
            std::env::var(PER_SECOND_ENV).ok().as_deref(),
            std::env::var(BURST_ENV).ok().as_deref(),
        )
    }

    fn from_vars(per_second: Option<&str>, burst: Option<&str>) -> Result<Self, String> {
        let per_second = match set(per_second) {
            None => Self::DEFAULT.per_second,
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|rate| rate.is_finite() && *rate > 0.0)
                .ok_or_else(|| {
                    format!("{PER_SECOND_ENV} must be a positive number, not {text:?}")
                })?,
        };
        let burst = match set(burst) {
            None => Self::DEFAULT.burst,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|burst| *burst > 0)
                .ok_or_else(|| format!("{BURST_ENV} must be a positive integer, not {text:?}"))?,
        };
        Ok(Self { per_second, burst })
    }
}

/// A variable's value, unless unset or blank.
fn set(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

impl Default for WriteRate {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One user's bucket: the tokens it held at `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn tokens_at(&self, rate: WriteRate, now: Instant) -> f64 {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * rate.per_second;
        (self.tokens + refill).min(f64::from(rate.burst))
    }
}

/// Stripes of buckets, so that users' writes seldom wait on one another's lock.
const STRIPES: usize = 64;
/// Buckets a stripe holds before it forgets the full ones (65,536 users writing at once in
/// all): a full bucket is the same as none, so forgetting it changes no answer.
const BUCKETS_PER_STRIPE: usize = 1_024;

/// Every user's bucket in this process. Cloning shares the buckets.
#[derive(Clone)]
pub struct Throttle {
    rate: WriteRate,
    hasher: RandomState,
    per_stripe: usize,
    stripes: Arc<[Mutex<HashMap<UserId, Bucket>>]>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("rate", &self.rate)
            .finish()
    }
}

impl Throttle {
    pub fn new(rate: WriteRate) -> Self {
        Self::holding(rate, BUCKETS_PER_STRIPE)
    }

    fn holding(rate: WriteRate, per_stripe: usize) -> Self {
        Self {
            rate,
            hasher: RandomState::new(),
            per_stripe,
            stripes: (0..STRIPES).map(|_| Mutex::default()).collect(),
        }
    }

    pub fn rate(&self) -> WriteRate {
        self.rate
    }

    /// Takes one of `user`'s tokens at `now`; when none is left, how long until one is.
    pub fn take(&self, user: &UserId, now: Instant) -> Result<(), Duration> {
        // usize from u64: the stripe count is far below either's range.
        let stripe = (self.hasher.hash_one(user) % STRIPES as u64) as usize;
        let mut buckets = self.stripes[stripe]
            .lock()
            // A panic while holding the lock leaves at worst one bucket a token off.
            .unwrap_or_else(PoisonError::into_inner);
        let rate = self.rate;
        let tokens = match buckets.get(user) {
            Some(bucket) => bucket.tokens_at(rate, now),
            None => {
                if buckets.len() >= self.per_stripe {
                    forget_full(&mut buckets, rate, now, self.per_stripe);
                }
                f64::from(rate.burst)
            }
        };
        if tokens >= 1.0 {
            buckets.insert(
                user.clone(),
                Bucket {
                    tokens: tokens - 1.0,
                    at: now,
                },
            );
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / rate.per_second))
        }
    }
}

/// Forgets the buckets that have refilled; when every one is still draining (as many users
/// writing flat out as the stripe holds), the fullest: that user gets a full burst again,
/// which bounds the memory at the price of that much unfairness.
fn forget_full(
    buckets: &mut HashMap<UserId, Bucket>,
    rate: WriteRate,
    now: Instant,
    per_stripe: usize,
) {
    let full = f64::from(rate.burst);
    buckets.retain(|_, bucket| bucket.tokens_at(rate, now) < full);
    if buckets.len() >= per_stripe {
        let fullest = buckets
            .iter()
            .max_by(|(_, a), (_, b)| a.tokens_at(rate, now).total_cmp(&b.tokens_at(rate, now)))
            .map(|(user, _)| user.clone());
        if let Some(user) = fullest {
            buckets.remove(&user);
        }
    }
}

/// The middleware: a write by an authenticated caller takes a token or is answered 429
/// RATE_LIMITED with `Retry-After`, before its body is read and before anything is decided.
/// Runs inside the authenticator (it needs the caller's [`Claims`]).
pub async fn limit_writes(
    State(throttle): State<Throttle>,
    request: Request,
    next: Next,
) -> Response {
    let reads = [Method::GET, Method::HEAD, Method::OPTIONS];
    if reads.contains(request.method()) {
        return next.run(request).await;
    }
    let Some(claims) = request.extensions().get::<Claims>() else {
        // Unreachable behind the authenticator, which answers 401 without claims.
        return ApiError::Unauthenticated("no identity").into_response();
    };
    match throttle.take(&claims.sub, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::info!(
                sub = claims.sub.as_str(),
                wait_ms = wait.as_millis() as u64,
                "write refused: over the user's rate"
            );
            let rate = throttle.rate();
            ApiError::RateLimited {
                per_second: rate.per_second,
                burst: rate.burst,
                retry_after: wait,
            }
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn user(name: &str) -> UserId {
        UserId::try_from(name.to_owned()).unwrap()
    }

    const RATE: WriteRate = WriteRate {
        per_second: 2.0,
        burst: 3,
    };

    #[test]
    fn given_a_fresh_user_when_they_write_a_burst_then_the_burst_passes_and_the_next_waits_for_one_token()
     {
        let throttle = Throttle::new(RATE);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(throttle.take(&user("ann"), now), Ok(()));
        }
        let wait = throttle.take(&user("ann"), now).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
    }

    #[test]
    fn given_an_empty_bucket_when_time_passes_then_it_refills_at_the_rate_up_to_the_burst() {
        let throttle = Throttle::new(RATE);
        let start = Instant::now();
        for _ in 0..3 {
            throttle.take(&user("ann"), start).unwrap();
        }
        let later = start + Duration::from_millis(500);
        assert_eq!(throttle.take(&user("ann"), later), Ok(()));
        assert!(throttle.take(&user("ann"), later).is_err());
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(throttle.take(&user("ann"), much_later), Ok(()));
        }
        assert!(throttle.take(&user("ann"), much_later).is_err());
    }

    #[test]
    fn given_one_user_out_of_tokens_when_another_writes_then_the_other_is_not_held_back() {
        let throttle = Throttle::new(RATE);
        let now = Instant::now();
        while throttle.take(&user("flooder"), now).is_ok() {}
        assert_eq!(throttle.take(&user("bob"), now), Ok(()));
    }

    #[test]
    fn given_more_users_than_the_buckets_hold_when_they_write_then_memory_stays_bounded_and_a_drained_bucket_is_kept()
     {
        let per_stripe = 4;
        let throttle = Throttle::holding(RATE, per_stripe);
        let now = Instant::now();
        while throttle.take(&user("flooder"), now).is_ok() {}
        for n in 0..(STRIPES * per_stripe * 4) {
            throttle.take(&user(&format!("u{n}")), now).unwrap();
        }
        let held: usize = throttle
            .stripes
            .iter()
            .map(|s| s.lock().unwrap().len())
            .sum();
        assert!(held <= STRIPES * per_stripe, "{held} buckets held");
        assert!(throttle.take(&user("flooder"), now).is_err());
    }

    #[test]
    fn given_idle_users_when_new_ones_arrive_then_the_refilled_buckets_are_forgotten_first() {
        let per_stripe = 4;
        let throttle = Throttle::holding(RATE, per_stripe);
        let now = Instant::now();
        for n in 0..(STRIPES * per_stripe) {
            throttle.take(&user(&format!("idle{n}")), now).unwrap();
        }
        let later = now + Duration::from_secs(10);
        while throttle.take(&user("flooder"), later).is_ok() {}
        for n in 0..(STRIPES * per_stripe) {
            throttle.take(&user(&format!("new{n}")), later).unwrap();
        }
        assert!(throttle.take(&user("flooder"), later).is_err());
    }

    #[test]
    fn given_rate_variables_when_read_then_blank_is_the_default_and_nonsense_is_an_error() {
        assert_eq!(
            WriteRate::from_vars(None, Some(" ")),
            Ok(WriteRate::DEFAULT)
        );
        assert_eq!(
            WriteRate::from_vars(Some("2.5"), Some("4")),
            Ok(WriteRate {
                per_second: 2.5,
                burst: 4
            })
        );
        for (rate, burst) in [
            (Some("0"), None),
            (Some("-1"), None),
            (Some("NaN"), None),
            (Some("fast"), None),
            (None, Some("0")),
            (None, Some("1.5")),
        ] {
            let error = WriteRate::from_vars(rate, burst).unwrap_err();
            assert!(error.contains("WRITES_PER_USER"), "{error}");
        }
    }
}
