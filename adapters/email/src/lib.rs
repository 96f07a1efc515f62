//! Email notices through Amazon SES (v2 API), beside the in-app inbox: who wants which notices
//! at which address, what a notice says (plain text and HTML), the signed and expiring link
//! that unsubscribes without signing in, and which notices were already sent.
//!
//! - [`Topic`] and [`Preferences`]: what a user asked to be emailed about, and where;
//! - [`PreferenceStore`]: the port over the EmailNotices table (pk `userId`, sk `sk`: the
//!   preferences item and one mark per sent notice), [`DynamoDbEmailNotices`] and its twin
//!   [`InMemoryEmailNotices`];
//! - [`links`]: unsubscribe tokens, MACed by a [`LinkKey`] (a KMS HMAC key in AWS,
//!   [`KmsLinkKey`]; [`LocalLinkKey`] for tests) so that no secret lives in a function;
//! - [`compose`]: a notification turned into an [`Email`];
//! - [`SendEmail`]: the port over SES ([`SesMailer`]; [`Outbox`] keeps what tests send);
//! - [`EmailNotices`]: the notifier's step, "email this notification if its recipient wants it,
//!   once" ([`MailNotification`]).
//!
//! The SES client is the cargo feature `ses`, on by default: the API builds without it.
//!
//! User ids here are pseudonyms (docs/privacy.md): the address is the only personal datum, kept
//! in the preferences item alone, which forgetting a user deletes.
//! Depends on the event contract, the read models' notifications and the conventions. Must not
//! depend on the API or any other function.

mod compose;
mod dynamodb;
mod error;
mod kms;
pub mod links;
mod memory;
mod notices;
mod ports;
#[cfg(feature = "ses")]
mod ses;
mod topic;

pub use compose::{Email, Links, compose};
pub use dynamodb::DynamoDbEmailNotices;
pub use error::EmailError;
pub use kms::KmsLinkKey;
pub use links::{LinkKey, LinkRefused, LocalLinkKey, Unsubscribe};
pub use memory::{InMemoryEmailNotices, Outbox};
pub use notices::{EmailNotices, MailNotification, Mailed};
pub use ports::{Boxed, PreferenceStore, SendEmail};
#[cfg(feature = "ses")]
pub use ses::SesMailer;
pub use topic::{Preferences, Topic, checked_address};
