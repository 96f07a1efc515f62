//! Everything that can go wrong registering or reading a payment identity, in one enum.

use thiserror::Error;

use crate::ids::{AccountId, CustomerId, MalformedId, PaymentMethodId};

/// Why a payment identity was not registered or read. Each variant says how the caller handles
/// it; a refusal stores nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// An id does not have Stripe's shape for its kind (`cus_`, `pm_`, `acct_` followed by
    /// letters, digits or underscores). Bad input, found before Stripe is asked: the caller
    /// fixes the field named (the API answers 422 INVALID_REQUEST).
    #[error("{field} must be {expected}")]
    MalformedId {
        field: &'static str,
        expected: &'static str,
    },
    /// Stripe has no such customer, or it was deleted. Bad input: the caller sends the id of
    /// a customer of this platform's Stripe account (422 CUSTOMER_NOT_FOUND).
    #[error("Stripe has no customer {0}")]
    CustomerNotFound(CustomerId),
    /// Stripe has no such payment method. Bad input: the caller creates the payment method
    /// first, or sends its id as Stripe issued it (422 PAYMENT_METHOD_NOT_FOUND).
    #[error("Stripe has no payment method {0}")]
    PaymentMethodNotFound(PaymentMethodId),
    /// The payment method exists but is not a card (e.g. a SEPA debit), and the platform
    /// charges cards only. Bad input: the caller registers a card (422
    /// PAYMENT_METHOD_NOT_A_CARD).
    #[error("payment method {payment_method} is a {kind}, not a card")]
    NotACard {
        payment_method: PaymentMethodId,
        kind: String,
    },
    /// The payment method is attached to no customer, or to another customer than the one
    /// named: the two do not belong together. Bad input: the caller attaches the payment
    /// method to that customer first (422 PAYMENT_METHOD_NOT_ATTACHED).
    #[error("payment method {payment_method} is not attached to customer {customer}")]
    NotAttached {
        payment_method: PaymentMethodId,
        customer: CustomerId,
    },
    /// Stripe has no such connected account. Bad input: the caller sends the id of an
    /// account connected to this platform (422 PAYOUT_ACCOUNT_NOT_FOUND).
    #[error("Stripe has no connected account {0}")]
    AccountNotFound(AccountId),
    /// The connected account exists but cannot receive transfers (its `transfers` capability
    /// is not active). The caller finishes the account's onboarding at Stripe and registers it
    /// again (422 PAYOUT_ACCOUNT_NOT_READY).
    #[error("connected account {account} cannot receive transfers yet: {reason}")]
    AccountCannotReceiveTransfers { account: AccountId, reason: String },
    /// Stripe could not be reached, timed out, throttled or failed (a 5xx). Transient: nothing
    /// was stored; the caller retries shortly (503 SERVICE_UNAVAILABLE).
    #[error("Stripe is unavailable: {0}")]
    ProviderUnavailable(String),
    /// Stripe refused the platform's own request in a way the caller cannot fix (a bad API
    /// key, a request it does not understand). Nothing was stored; the platform's
    /// configuration needs a human (500 INTERNAL, logged).
    #[error("Stripe refused the request: {0}")]
    ProviderRefused(String),
    /// The PaymentIdentities table could not be reached or was throttled. Transient: the
    /// caller retries shortly (503 SERVICE_UNAVAILABLE).
    #[error("the payment identities are unavailable: {0}")]
    StoreUnavailable(String),
    /// The PaymentIdentities table refused the request (a missing table) or holds an item
    /// this code cannot read. Retrying cannot help: a human looks at the log (500 INTERNAL).
    #[error("the payment identities failed: {0}")]
    StoreFailed(String),
}

impl From<MalformedId> for IdentityError {
    fn from(MalformedId { field, expected }: MalformedId) -> Self {
        Self::MalformedId { field, expected }
    }
}

impl IdentityError {
    /// Whether the caller's input is at fault: it should change the request, not retry it.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::MalformedId { .. }
                | Self::CustomerNotFound(_)
                | Self::PaymentMethodNotFound(_)
                | Self::NotACard { .. }
                | Self::NotAttached { .. }
                | Self::AccountNotFound(_)
                | Self::AccountCannotReceiveTransfers { .. }
        )
    }

    /// Whether the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::ProviderUnavailable(_) | Self::StoreUnavailable(_)
        )
    }

    /// A failed DynamoDB call, sorted by what the caller can do about it.
    pub(crate) fn from_dynamodb<E, R>(
        operation: &str,
        table: &str,
        error: &aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> Self
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        conventions::Failure::of(error).sort(
            |text| Self::StoreUnavailable(format!("{operation} {table}: {text}")),
            |text| Self::StoreFailed(format!("{operation} {table}: {text}")),
        )
    }
}
