//! What is on file for a user, and the ports that read it, record it and check it with the
//! provider: each named for its one capability, so that a caller asks for only what it uses
//! (the bid path only looks up; the registration routes check, then record).

use std::future::Future;

use chrono::{DateTime, Utc};
use events::UserId;

use crate::error::IdentityError;
use crate::ids::{AccountId, CustomerId, PaymentMethodId};

/// A card a buyer can be charged on: the Stripe customer, the card payment method attached to
/// it, and what the buyer recognises it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardOnFile {
    pub customer_id: CustomerId,
    pub payment_method_id: PaymentMethodId,
    /// The card network as Stripe names it (`visa`, `mastercard`, ...).
    pub brand: String,
    /// The card number's last four digits.
    pub last4: String,
}

/// One user's item of the PaymentIdentities table: how they pay and how they are paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIdentity {
    pub user_id: UserId,
    /// The default payment method a purchase is charged to; `None` until one is registered.
    pub card: Option<CardOnFile>,
    /// The connected account a sale's payout goes to; `None` until one is registered.
    pub payout_account_id: Option<AccountId>,
    /// When the item last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a user still has to register before they may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Missing {
    /// No card on file: they may not bid or buy.
    PaymentMethod,
    /// No payout account: they may not sell.
    PayoutAccount,
}

impl PaymentIdentity {
    /// Whether a bid or a purchase by this user can be paid for.
    pub fn can_pay(&self) -> bool {
        self.card.is_some()
    }

    /// Whether a sale by this user can be paid out.
    pub fn can_be_paid(&self) -> bool {
        self.payout_account_id.is_some()
    }

    /// What is missing, in a stable order.
    pub fn missing(&self) -> Vec<Missing> {
        let mut missing = Vec::new();
        if !self.can_pay() {
            missing.push(Missing::PaymentMethod);
        }
        if !self.can_be_paid() {
            missing.push(Missing::PayoutAccount);
        }
        missing
    }
}

/// What is missing for a user of whom nothing is on file, or what their item lacks.
pub fn missing(identity: Option<&PaymentIdentity>) -> Vec<Missing> {
    identity.map_or_else(
        || vec![Missing::PaymentMethod, Missing::PayoutAccount],
        PaymentIdentity::missing,
    )
}

/// Reads what is on file for a user.
pub trait PaymentIdentityLookup: Send + Sync {
    /// The user's item, read strongly consistent (a registration is seen by the next request);
    /// `None` when nothing was ever registered for them.
    fn get(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<PaymentIdentity>, IdentityError>> + Send;
}

/// Records what a user registered, one part at a time: a card never overwrites the payout
/// account, nor the reverse.
pub trait RecordPaymentIdentity: Send + Sync {
    /// Sets the user's card (replacing an earlier one); answers the item as it now is.
    fn put_payment_method(
        &self,
        user: &UserId,
        card: &CardOnFile,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentIdentity, IdentityError>> + Send;

    /// Sets the user's payout account (replacing an earlier one); answers the item as it now is.
    fn put_payout_account(
        &self,
        user: &UserId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentIdentity, IdentityError>> + Send;
}

/// Checks ids against the payment provider before anything is recorded.
pub trait CheckWithProvider: Send + Sync {
    /// The card on file if `payment_method` exists, is a card, and is attached to `customer`
    /// (which exists); else the refusal saying which of those fails.
    fn check_payment_method(
        &self,
        customer: &CustomerId,
        payment_method: &PaymentMethodId,
    ) -> impl Future<Output = Result<CardOnFile, IdentityError>> + Send;

    /// `Ok` if `account` exists and can receive transfers; else the refusal.
    fn check_payout_account(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;
}

impl<T: PaymentIdentityLookup> PaymentIdentityLookup for std::sync::Arc<T> {
    fn get(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<PaymentIdentity>, IdentityError>> + Send {
        (**self).get(user)
    }
}

impl<T: RecordPaymentIdentity> RecordPaymentIdentity for std::sync::Arc<T> {
    fn put_payment_method(
        &self,
        user: &UserId,
        card: &CardOnFile,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentIdentity, IdentityError>> + Send {
        (**self).put_payment_method(user, card, at)
    }

    fn put_payout_account(
        &self,
        user: &UserId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentIdentity, IdentityError>> + Send {
        (**self).put_payout_account(user, account, at)
    }
}

impl<T: CheckWithProvider> CheckWithProvider for std::sync::Arc<T> {
    fn check_payment_method(
        &self,
        customer: &CustomerId,
        payment_method: &PaymentMethodId,
    ) -> impl Future<Output = Result<CardOnFile, IdentityError>> + Send {
        (**self).check_payment_method(customer, payment_method)
    }

    fn check_payout_account(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send {
        (**self).check_payout_account(account)
    }
}
