//! Who pays and who is paid: each user's Stripe customer and default card, and each seller's
//! connected account, in the PaymentIdentities table (pk `userId`).
//!
//! - [`ports`]: what is on file ([`PaymentIdentity`], [`CardOnFile`], what is [`Missing`]) and
//!   one port per capability: [`PaymentIdentityLookup`] (the bid, buy-now and create paths
//!   read it), [`RecordPaymentIdentity`] (the registration routes write it) and
//!   [`CheckWithProvider`] (ids checked with the payment provider before anything is
//!   recorded);
//! - [`register_payment_method`] and [`register_payout_account`]: shape, provider, record, in
//!   that order, so that a refusal stores nothing and a malformed id never reaches Stripe;
//! - [`DynamoDbPaymentIdentities`] and its in-memory twin [`InMemoryPaymentIdentities`];
//! - [`StripeChecker`]: the check over Stripe's API (`stripe-api`); with the cargo feature
//!   `testing`, [`testing::InMemoryProvider`], a test double that knows the ids a test created.
//!
//! Depends on the event contract (user ids), the conventions and the Stripe client. Must not
//! depend on the API or another function: the API, the local tools and (to charge the card
//! on file) the payment saga depend on this.

mod dynamodb;
mod error;
mod ids;
mod memory;
mod ports;
mod register;
mod stripe;
#[cfg(feature = "testing")]
pub mod testing;

pub use dynamodb::DynamoDbPaymentIdentities;
pub use error::IdentityError;
pub use ids::{AccountId, CustomerId, MAX_ID_LEN, MalformedId, PaymentMethodId};
pub use memory::InMemoryPaymentIdentities;
pub use ports::{
    CardOnFile, CheckWithProvider, Missing, PaymentIdentity, PaymentIdentityLookup,
    RecordPaymentIdentity, missing,
};
pub use register::{register_payment_method, register_payout_account};
pub use stripe::StripeChecker;
