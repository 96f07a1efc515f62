//! Stripe's ids as the platform takes them: a customer (`cus_`), a payment method (`pm_`) and a
//! connected account (`acct_`). Their shape is checked before anything calls Stripe, so that a
//! malformed id is refused as bad input and never reaches the provider.

use std::fmt;

/// An id without Stripe's shape for its kind, and the request field it came in. Bad input:
/// [`crate::IdentityError::MalformedId`] carries it to the caller, who fixes that field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedId {
    /// The request field the id came in (`customerId`, `paymentMethodId`, `accountId`).
    pub field: &'static str,
    /// The shape an id of its kind has.
    pub expected: &'static str,
}

impl fmt::Display for MalformedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} must be {}", self.field, self.expected)
    }
}

impl std::error::Error for MalformedId {}

/// The longest id Stripe issues (its documented bound for object ids).
pub const MAX_ID_LEN: usize = 255;

/// Whether `text` is `prefix` followed by 1 or more ASCII letters, digits or underscores, at
/// most [`MAX_ID_LEN`] characters in all.
fn well_formed(text: &str, prefix: &str) -> bool {
    text.len() <= MAX_ID_LEN
        && text.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

macro_rules! stripe_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// The id, if `text` has its shape; else [`MalformedId`] naming the request field
            /// it comes in.
            pub fn parse(text: &str) -> Result<Self, MalformedId> {
                if well_formed(text, $prefix) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(MalformedId {
                        field: $field,
                        expected: concat!(
                            "`", $prefix, "` followed by letters, digits or underscores"
                        ),
                    })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

stripe_id!(
    /// A Stripe customer: who a card is attached to.
    CustomerId,
    "cus_",
    "customerId"
);
stripe_id!(
    /// A Stripe payment method (here always a card) attached to a customer.
    PaymentMethodId,
    "pm_",
    "paymentMethodId"
);
stripe_id!(
    /// A Stripe connected account: where a seller's payouts go.
    AccountId,
    "acct_",
    "accountId"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_ids_of_stripes_shape_when_parsed_then_they_are_kept_verbatim() {
        assert_eq!(
            CustomerId::parse("cus_Nffrfe3TqN2Lp1").unwrap().as_str(),
            "cus_Nffrfe3TqN2Lp1"
        );
        assert!(PaymentMethodId::parse("pm_card_visa").is_ok());
        assert!(AccountId::parse("acct_1032D82eZvKYlo2C").is_ok());
    }

    #[test]
    fn given_ids_of_another_kind_or_shape_when_parsed_then_each_names_its_field() {
        for bad in [
            "", "cus_", "pm_123", "cus_a b", "cus_é", "CUS_123", "cus_1/2",
        ] {
            assert!(
                matches!(
                    CustomerId::parse(bad),
                    Err(MalformedId {
                        field: "customerId",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            PaymentMethodId::parse("cus_123"),
            Err(MalformedId {
                field: "paymentMethodId",
                ..
            })
        ));
        assert!(matches!(
            AccountId::parse("acct"),
            Err(MalformedId {
                field: "accountId",
                ..
            })
        ));
    }

    #[test]
    fn given_an_id_longer_than_stripe_issues_when_parsed_then_it_is_refused() {
        let long = format!("acct_{}", "a".repeat(MAX_ID_LEN - 5));
        assert!(AccountId::parse(&long).is_ok());
        assert!(AccountId::parse(&format!("{long}a")).is_err());
    }
}
