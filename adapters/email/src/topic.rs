//! What a user can ask to be emailed about, and their preferences.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use read_models::notifications::Kind;
use serde::{Deserialize, Serialize};

use crate::error::EmailError;

/// A family of notices a user turns on or off as one. Every in-app notification kind belongs to
/// exactly one, so nothing the inbox says is out of the preferences' reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Topic {
    /// Your bid no longer leads.
    Outbid,
    /// You won, or the item is offered to you after the winner did not pay.
    Won,
    /// An auction you bid on ended without you winning it, or was cancelled.
    Lost,
    /// Your payment, or your buyer's, went through or failed.
    Payment,
    /// (seller) Your item sold or did not.
    Selling,
    /// An auction on your watchlist ends soon.
    EndingSoon,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::Outbid,
        Topic::Won,
        Topic::Lost,
        Topic::Payment,
        Topic::Selling,
        Topic::EndingSoon,
    ];

    /// The topic a notification of `kind` belongs to.
    pub fn of(kind: Kind) -> Topic {
        match kind {
            Kind::Outbid => Topic::Outbid,
            Kind::Won | Kind::OfferedToYou => Topic::Won,
            Kind::Lost | Kind::Cancelled => Topic::Lost,
            Kind::PaymentConfirmed
            | Kind::PaymentFailed
            | Kind::PaymentReceived
            | Kind::BuyerPaymentFailed => Topic::Payment,
            Kind::Sold | Kind::Unsold => Topic::Selling,
            Kind::EndingSoon => Topic::EndingSoon,
        }
    }

    /// The name on the wire, in the table and in unsubscribe links.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Outbid => "outbid",
            Topic::Won => "won",
            Topic::Lost => "lost",
            Topic::Payment => "payment",
            Topic::Selling => "selling",
            Topic::EndingSoon => "endingSoon",
        }
    }

    pub fn parse(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|topic| topic.as_str() == name)
    }

    /// What the topic is, for people (the unsubscribe page and the email's footer).
    pub fn describe(self) -> &'static str {
        match self {
            Topic::Outbid => "when you are outbid",
            Topic::Won => "when you win an auction",
            Topic::Lost => "when an auction you bid on ends without you",
            Topic::Payment => "about payments",
            Topic::Selling => "when your items sell or do not",
            Topic::EndingSoon => "when an auction you watch ends soon",
        }
    }
}

/// What a user asked to be emailed about, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    /// The address notices go to: the verified address of the user's account when they last
    /// saved their preferences. `None`: no email at all.
    pub email: Option<String>,
    /// The topics the user wants emails about.
    pub topics: BTreeSet<Topic>,
    /// When they were last changed (by the user, or by an unsubscribe link).
    pub updated_at: DateTime<Utc>,
}

impl Preferences {
    /// Whether a notice of `topic` goes out by email.
    pub fn wants(&self, topic: Topic) -> bool {
        self.email.is_some() && self.topics.contains(&topic)
    }
}

/// The longest address SMTP carries (RFC 5321: 254 characters in a path).
const MAX_ADDRESS: usize = 254;

/// `address` if it can be an email's recipient: one `@` between a non-empty local part and a
/// domain with a dot, no spaces, controls or angle brackets (which would let an address carry
/// a header or a second recipient), at most 254 characters. Identity providers verify the
/// address itself; this keeps a malformed claim from reaching SES.
pub fn checked_address(address: &str) -> Result<String, EmailError> {
    let invalid = || EmailError::InvalidAddress(address.chars().take(80).collect());
    let address = address.trim();
    let (local, domain) = address.split_once('@').ok_or_else(invalid)?;
    let fine = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>@,;\"\\()[]".contains(c))
    };
    if address.len() > MAX_ADDRESS
        || !fine(local)
        || !fine(domain)
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(invalid());
    }
    Ok(address.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notification_kind_belongs_to_a_topic_that_reads_back() {
        for kind in Kind::ALL {
            let topic = Topic::of(kind);
            assert_eq!(Topic::parse(topic.as_str()), Some(topic));
        }
        assert_eq!(Topic::of(Kind::Outbid), Topic::Outbid);
        assert_eq!(Topic::of(Kind::PaymentReceived), Topic::Payment);
    }

    #[test]
    fn an_address_is_refused_when_it_could_carry_a_header_or_a_second_recipient() {
        assert_eq!(
            checked_address(" ann@example.com ").unwrap(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "ann@example.com\r\nBcc: eve@example.com",
            "ann <ann@example.com>",
            "ann@example.com, eve@example.com",
            "ann smith@example.com",
            "ann@.com",
        ] {
            assert!(checked_address(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(checked_address(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn preferences_without_an_address_want_nothing() {
        let preferences = Preferences {
            email: None,
            topics: Topic::ALL.into_iter().collect(),
            updated_at: Utc::now(),
        };
        assert!(!preferences.wants(Topic::Outbid));
        let with_address = Preferences {
            email: Some("ann@example.com".to_owned()),
            ..preferences
        };
        assert!(with_address.wants(Topic::Outbid));
    }
}
