//! Registering a payment identity: the ids' shape, then the provider's word, then the record.
//! A refusal at any step records nothing, and a malformed id never reaches the provider.

use chrono::{DateTime, Utc};
use events::UserId;

use crate::error::IdentityError;
use crate::ids::{AccountId, CustomerId, PaymentMethodId};
use crate::ports::{CheckWithProvider, PaymentIdentity, RecordPaymentIdentity};

/// Registers `payment_method` of `customer` (both as the client sent them) as `user`'s card.
pub async fn register_payment_method(
    provider: &impl CheckWithProvider,
    store: &impl RecordPaymentIdentity,
    user: &UserId,
    customer: &str,
    payment_method: &str,
    now: DateTime<Utc>,
) -> Result<PaymentIdentity, IdentityError> {
    let customer = CustomerId::parse(customer)?;
    let payment_method = PaymentMethodId::parse(payment_method)?;
    let card = provider
        .check_payment_method(&customer, &payment_method)
        .await?;
    store.put_payment_method(user, &card, now).await
}

/// Registers `account` (as the client sent it) as `user`'s payout account.
pub async fn register_payout_account(
    provider: &impl CheckWithProvider,
    store: &impl RecordPaymentIdentity,
    user: &UserId,
    account: &str,
    now: DateTime<Utc>,
) -> Result<PaymentIdentity, IdentityError> {
    let account = AccountId::parse(account)?;
    provider.check_payout_account(&account).await?;
    store.put_payout_account(user, &account, now).await
}
