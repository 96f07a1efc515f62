//! The provider check over Stripe's API ([`stripe_api::StripeClient`]): the same calls against
//! api.stripe.com and against the local stack's Stripe emulator.

use stripe_api::{StripeClient, StripeError};

use crate::error::IdentityError;
use crate::ids::{AccountId, CustomerId, PaymentMethodId};
use crate::ports::{CardOnFile, CheckWithProvider};

/// Checks ids with Stripe: a card must exist, be a card and be attached to the customer named
/// (which exists and is not deleted); an account must exist and have its `transfers`
/// capability active.
#[derive(Debug, Clone)]
pub struct StripeChecker {
    client: StripeClient,
}

impl StripeChecker {
    pub fn new(client: StripeClient) -> Self {
        Self { client }
    }

    /// Over [`StripeClient::from_env`]: `STRIPE_API_BASE`, and the key from
    /// `STRIPE_SECRET_KEY` or the Secrets Manager secret `STRIPE_SECRET_KEY_ID` names.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, StripeError> {
        StripeClient::from_env(sdk).await.map(Self::new)
    }
}

/// What a failed call means for the check: `not_found` when Stripe does not know the id,
/// unavailable when it may answer later, refused otherwise (the platform's key or request).
fn refusal(error: StripeError, not_found: impl FnOnce() -> IdentityError) -> IdentityError {
    match error {
        StripeError::NotFound { .. } => not_found(),
        StripeError::Unavailable { reason } => IdentityError::ProviderUnavailable(reason),
        other => IdentityError::ProviderRefused(other.to_string()),
    }
}

impl CheckWithProvider for StripeChecker {
    async fn check_payment_method(
        &self,
        customer: &CustomerId,
        payment_method: &PaymentMethodId,
    ) -> Result<CardOnFile, IdentityError> {
        let customer_not_found = || IdentityError::CustomerNotFound(customer.clone());
        let found = self
            .client
            .customer(customer.as_str())
            .await
            .map_err(|e| refusal(e, customer_not_found))?;
        if found.deleted {
            return Err(customer_not_found());
        }
        let method = self
            .client
            .payment_method(payment_method.as_str())
            .await
            .map_err(|e| {
                refusal(e, || {
                    IdentityError::PaymentMethodNotFound(payment_method.clone())
                })
            })?;
        if method.kind != "card" {
            return Err(IdentityError::NotACard {
                payment_method: payment_method.clone(),
                kind: method.kind,
            });
        }
        if method.customer.as_deref() != Some(customer.as_str()) {
            return Err(IdentityError::NotAttached {
                payment_method: payment_method.clone(),
                customer: customer.clone(),
            });
        }
        let card = method.card.ok_or_else(|| {
            IdentityError::ProviderRefused(format!(
                "payment method {payment_method} is a card without its card details"
            ))
        })?;
        Ok(CardOnFile {
            customer_id: customer.clone(),
            payment_method_id: payment_method.clone(),
            brand: card.brand,
            last4: card.last4,
        })
    }

    async fn check_payout_account(&self, account: &AccountId) -> Result<(), IdentityError> {
        let found = self
            .client
            .account(account.as_str())
            .await
            .map_err(|e| refusal(e, || IdentityError::AccountNotFound(account.clone())))?;
        if found.can_receive_transfers() {
            Ok(())
        } else {
            let status = found
                .capabilities
                .transfers
                .map_or("not requested".to_owned(), |s| {
                    format!("{s:?}").to_lowercase()
                });
            Err(IdentityError::AccountCannotReceiveTransfers {
                account: account.clone(),
                reason: format!("its transfers capability is {status}"),
            })
        }
    }
}
