//! The platform's limits and defaults. Every number a rule depends on is here, named.

use chrono::TimeDelta;
use events::{IncrementBand, IncrementPolicy, SoftClose};

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 5_000;
/// Cancellation and payment-failure reasons.
pub const REASON_MAX_CHARS: usize = 500;
pub const PAYMENT_REFERENCE_MAX_CHARS: usize = 200;

/// The largest amount accepted anywhere, in minor units (10^15: ten trillion in a two-decimal
/// currency). Keeping every amount this far below `i64::MAX` means no sum of two amounts or of an
/// amount and an increment can overflow.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;

/// Short enough for demos and end-to-end tests, long enough to be an auction.
pub const MIN_DURATION: TimeDelta = TimeDelta::seconds(5);
pub const MAX_DURATION: TimeDelta = TimeDelta::days(30);
/// How far ahead an auction may be scheduled to start.
pub const MAX_START_DELAY: TimeDelta = TimeDelta::days(90);
/// A start time up to this far in the past is taken as "now" (client clocks drift); further back
/// is a mistake and rejected.
pub const START_TIME_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// A bid less than 2 minutes before the end moves the end 2 minutes later.
pub const DEFAULT_SOFT_CLOSE: SoftClose = SoftClose {
    window_seconds: 120,
    extension_seconds: 120,
};
pub const MAX_SOFT_CLOSE_SECONDS: u32 = 3_600;
pub const MAX_INCREMENT_BANDS: usize = 20;

/// How many recent bid and purchase ids the state remembers for recognising retries. Every id
/// costs about 40 bytes of snapshot, and every load reads the snapshot, so this stays small:
/// each bidder's latest bid is remembered beside them (`Standing::last_bid`) whatever happened
/// since, which is the request a client retries, and an older one cannot take effect twice
/// anyway (see `Auction::recent_commands`).
pub const RECENT_COMMAND_IDS: usize = 64;

/// The increment when the seller gives none: tiered by price band like the large auction sites,
/// in minor units of a two-decimal currency (from 0.00: 0.05; from 1.00: 0.25; ...).
pub fn default_increment() -> IncrementPolicy {
    const BANDS: [(i64, i64); 10] = [
        (0, 5),
        (100, 25),
        (500, 50),
        (2_500, 100),
        (10_000, 250),
        (25_000, 500),
        (50_000, 1_000),
        (100_000, 2_500),
        (250_000, 5_000),
        (500_000, 10_000),
    ];
    IncrementPolicy::Tiered {
        bands: BANDS
            .iter()
            .map(|&(from_minor, increment_minor)| IncrementBand {
                from_minor,
                increment_minor,
            })
            .collect(),
    }
}

/// The increment that applies at `price`: the fixed one, or that of the highest band starting
/// at or below `price`.
pub fn increment_at(policy: &IncrementPolicy, price: i64) -> i64 {
    match policy {
        IncrementPolicy::Fixed { amount_minor } => *amount_minor,
        IncrementPolicy::Tiered { bands } => bands
            .iter()
            .take_while(|band| band.from_minor <= price)
            .last()
            .or(bands.first())
            .map_or(1, |band| band.increment_minor),
    }
}

/// Why an increment policy is unusable, or `None` when it is fine.
pub(crate) fn increment_problem(policy: &IncrementPolicy) -> Option<&'static str> {
    let valid_increment = |amount: i64| (1..=MAX_AMOUNT_MINOR).contains(&amount);
    match policy {
        IncrementPolicy::Fixed { amount_minor } if !valid_increment(*amount_minor) => {
            Some("the increment must be positive and at most the largest amount")
        }
        IncrementPolicy::Fixed { .. } => None,
        IncrementPolicy::Tiered { bands } => {
            if bands.is_empty() || bands.len() > MAX_INCREMENT_BANDS {
                Some("a tiered increment has 1 to 20 bands")
            } else if bands[0].from_minor != 0 {
                Some("the first band starts at 0")
            } else if bands.windows(2).any(|w| w[0].from_minor >= w[1].from_minor) {
                Some("bands start at strictly increasing prices")
            } else if bands
                .iter()
                .any(|band| !valid_increment(band.increment_minor))
            {
                Some("every band's increment must be positive and at most the largest amount")
            } else if bands.iter().any(|band| band.from_minor > MAX_AMOUNT_MINOR) {
                Some("a band starts above the largest amount")
            } else {
                None
            }
        }
    }
}

pub(crate) fn soft_close_problem(soft_close: &SoftClose) -> Option<&'static str> {
    if soft_close.window_seconds > MAX_SOFT_CLOSE_SECONDS
        || soft_close.extension_seconds > MAX_SOFT_CLOSE_SECONDS
    {
        Some("window and extension are at most 3600 seconds")
    } else if soft_close.window_seconds > 0 && soft_close.extension_seconds == 0 {
        Some("a soft-close window needs a positive extension")
    } else {
        None
    }
}
