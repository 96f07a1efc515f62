//! The platform's commission: basis points of the price, in integer arithmetic.
//!
//! Rounding rule: the commission is `price * bps / 10_000` rounded half up to the minor unit
//! (an exact half goes to the platform), and the seller receives the rest, `price - commission`.
//! So commission and seller's share always add up to the price exactly, neither is ever
//! negative, 0 bps leaves everything to the seller and 10 000 bps everything to the platform.
//! The product is taken in `i128`: prices go up to 10^15 minor units (the domain's maximum) and
//! `10^15 * 10^4` overflows `i64`.

use serde::{Deserialize, Serialize};

/// 10 000 basis points are 100 %.
pub const BPS_DENOMINATOR: u32 = 10_000;

/// A commission rate in basis points (1 bp = 0.01 %), from 0 to 10 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct BasisPoints(u32);

/// The rate is above 10 000 basis points (100 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a commission rate is 0 to 10000 basis points, not {0}")]
pub struct InvalidRate(pub u32);

impl BasisPoints {
    pub const ZERO: Self = Self(0);
    pub const ALL: Self = Self(BPS_DENOMINATOR);

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for BasisPoints {
    type Error = InvalidRate;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        if value <= BPS_DENOMINATOR {
            Ok(Self(value))
        } else {
            Err(InvalidRate(value))
        }
    }
}

impl From<BasisPoints> for u32 {
    fn from(value: BasisPoints) -> Self {
        value.0
    }
}

/// How a price divides between the platform and the seller, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Split {
    pub commission: i64,
    pub seller: i64,
}

/// Splits a price (minor units, not negative) by the rule in the module docs; `None` for a
/// negative price, which no sale has.
pub fn split(price_minor: i64, rate: BasisPoints) -> Option<Split> {
    if price_minor < 0 {
        return None;
    }
    let denominator = i128::from(BPS_DENOMINATOR);
    let scaled = i128::from(price_minor) * i128::from(rate.get());
    // Half up: adding half the denominator before the (flooring, as both are non-negative)
    // division rounds .5 and above up.
    let commission = (scaled + denominator / 2) / denominator;
    // 0 <= commission <= price, because rate <= 10 000: it fits an i64.
    let commission = i64::try_from(commission).ok()?;
    Some(Split {
        commission,
        seller: price_minor - commission,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use domain::rules::MAX_AMOUNT_MINOR;

    fn bps(value: u32) -> BasisPoints {
        BasisPoints::try_from(value).unwrap()
    }

    #[test]
    fn given_five_percent_when_the_price_divides_evenly_then_the_commission_is_exact() {
        assert_eq!(
            split(10_000, bps(500)),
            Some(Split {
                commission: 500,
                seller: 9_500
            })
        );
    }

    #[test]
    fn given_an_exact_half_minor_unit_then_the_commission_rounds_up() {
        // 10 * 5 % = 0.5 -> 1; 30 * 5 % = 1.5 -> 2.
        assert_eq!(split(10, bps(500)).unwrap().commission, 1);
        assert_eq!(split(30, bps(500)).unwrap().commission, 2);
    }

    #[test]
    fn given_less_than_half_a_minor_unit_then_the_commission_rounds_down() {
        // 9 * 5 % = 0.45 -> 0; 1 * 49 bp = 0.0049 -> 0; 101 * 1 % = 1.01 -> 1.
        assert_eq!(split(9, bps(500)).unwrap().commission, 0);
        assert_eq!(split(1, bps(49)).unwrap().commission, 0);
        assert_eq!(split(101, bps(100)).unwrap().commission, 1);
    }

    #[test]
    fn given_more_than_half_a_minor_unit_then_the_commission_rounds_up() {
        // 11 * 5 % = 0.55 -> 1; 1 * 5000 bp = 0.5 -> 1; 1 * 5001 bp -> 1.
        assert_eq!(split(11, bps(500)).unwrap().commission, 1);
        assert_eq!(split(1, bps(5_000)).unwrap().commission, 1);
        assert_eq!(split(1, bps(5_001)).unwrap().commission, 1);
    }

    #[test]
    fn given_zero_basis_points_then_the_seller_receives_everything() {
        assert_eq!(
            split(12_345, BasisPoints::ZERO),
            Some(Split {
                commission: 0,
                seller: 12_345
            })
        );
    }

    #[test]
    fn given_ten_thousand_basis_points_then_the_platform_keeps_everything() {
        assert_eq!(
            split(12_345, BasisPoints::ALL),
            Some(Split {
                commission: 12_345,
                seller: 0
            })
        );
    }

    #[test]
    fn given_the_largest_price_then_nothing_overflows() {
        let price = MAX_AMOUNT_MINOR;
        let share = split(price, bps(9_999)).unwrap();
        // 10^15 * 0.9999 is exact; the product 10^19 does not fit an i64.
        assert!(i64::checked_mul(price, 9_999).is_none());
        assert_eq!(share.commission, 999_900_000_000_000);
        assert_eq!(share.commission + share.seller, price);
        let max = split(i64::MAX, BasisPoints::ALL).unwrap();
        assert_eq!(max.commission, i64::MAX);
        assert_eq!(max.seller, 0);
    }

    #[test]
    fn given_a_zero_price_then_both_shares_are_zero_and_a_negative_price_has_no_split() {
        assert_eq!(
            split(0, bps(500)),
            Some(Split {
                commission: 0,
                seller: 0
            })
        );
        assert_eq!(split(-1, bps(500)), None);
    }

    #[test]
    fn the_shares_always_add_up_to_the_price_and_are_never_negative() {
        for price in [
            0,
            1,
            2,
            3,
            7,
            99,
            100,
            101,
            9_999,
            10_000,
            10_001,
            123_456_789,
        ] {
            for rate in [0, 1, 49, 50, 51, 250, 333, 500, 4_999, 5_000, 9_999, 10_000] {
                let share = split(price, bps(rate)).unwrap();
                assert_eq!(share.commission + share.seller, price);
                assert!(share.commission >= 0 && share.seller >= 0);
                // Never more than half a minor unit away from the exact product.
                let exact_times_2 = 2 * i128::from(price) * i128::from(rate);
                let ours_times_2 = 2 * i128::from(share.commission) * 10_000;
                assert!(
                    (ours_times_2 - exact_times_2).abs() <= 10_000,
                    "{price} {rate}"
                );
            }
        }
    }

    #[test]
    fn a_rate_above_one_hundred_percent_is_refused() {
        assert_eq!(BasisPoints::try_from(10_001), Err(InvalidRate(10_001)));
        assert_eq!(BasisPoints::try_from(10_000), Ok(BasisPoints::ALL));
    }
}
