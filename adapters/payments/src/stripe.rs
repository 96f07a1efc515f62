//! The saga's payment port over Stripe: a charge is a PaymentIntent confirmed off-session with
//! the buyer's saved card, a refund a Refund of that PaymentIntent, the seller's payout a Connect
//! Transfer to their connected account, and its reversal a Transfer Reversal.
//!
//! Every call carries the saga step's idempotency key as Stripe's `Idempotency-Key`, so a retry,
//! a redelivery or a second consumer gets the first call's result and no second effect. Amounts
//! go in minor units of the auction's currency, which is Stripe's unit too (cents; yen for the
//! zero-decimal currencies), the currency in Stripe's lower case.
//!
//! Who pays with what and who is paid where comes from the PaymentIdentities table (the
//! `payment-identities` adapter's lookup): the identities a
//! user registered through the API, checked against Stripe then. A buyer without a card or a
//! seller without an account at settlement time is a refusal (the API refuses bids and
//! auctions without them, so this is only a user who removed theirs since).

use std::collections::BTreeMap;

use events::{Money, UserId};
use payment_identities::{CardOnFile, PaymentIdentityLookup};
use stripe_api::{NewTransfer, OffSessionCharge, PaymentIntentStatus, StripeClient, StripeError};

use crate::error::SagaError;
use crate::ports::{Charge, PaymentProvider, Payout, PayoutReversal, Receipt, Refund};

/// [`PaymentProvider`] on Stripe's API.
#[derive(Clone)]
pub struct StripePayments<I> {
    client: StripeClient,
    identities: I,
}

impl<I> StripePayments<I> {
    pub fn new(client: StripeClient, identities: I) -> Self {
        Self { client, identities }
    }

    /// The client, for what the saga's tests and tools read back from Stripe.
    pub fn client(&self) -> &StripeClient {
        &self.client
    }
}

/// A PaymentIntent as the charge step's answer: paid, or open and awaited.
fn paid_or_awaited(intent: stripe_api::PaymentIntent) -> Result<Receipt, SagaError> {
    match intent.status {
        PaymentIntentStatus::Succeeded | PaymentIntentStatus::RequiresCapture => Ok(Receipt {
            reference: intent.id,
        }),
        PaymentIntentStatus::Processing
        | PaymentIntentStatus::RequiresAction
        | PaymentIntentStatus::RequiresConfirmation => Err(SagaError::AwaitingProvider {
            reason: format!("payment intent {} is {:?}", intent.id, intent.status),
            reference: intent.id,
        }),
        status => Err(SagaError::Unavailable {
            reason: format!("stripe charge: payment intent {} is {status:?}", intent.id),
        }),
    }
}

/// Stripe's name for the currency: the ISO code in lower case.
fn currency(money: &Money) -> String {
    money.currency.as_str().to_ascii_lowercase()
}

/// A Stripe failure as the saga handles it. A decline (card, funds, account) is a refusal the
/// saga compensates; an outage is retried under the same key. A bad key, a missing secret or a
/// request Stripe calls invalid are deployment or code faults: the saga must not decide a sale on
/// them, so they fail the message (redelivered, then parked, replayable once fixed) instead of
/// refunding the buyer and offering the item to the runner-up.
fn classify(step: &str, error: StripeError) -> SagaError {
    if error.is_declined() || matches!(error, StripeError::NotFound { .. }) {
        SagaError::Declined {
            reason: format!("stripe {step}: {error}"),
        }
    } else {
        SagaError::Unavailable {
            reason: format!("stripe {step}: {error}"),
        }
    }
}

impl<I: PaymentIdentityLookup> StripePayments<I> {
    async fn card_of(&self, user: &UserId) -> Result<Option<CardOnFile>, SagaError> {
        Ok(self.lookup(user).await?.and_then(|identity| identity.card))
    }

    async fn payout_account_of(&self, user: &UserId) -> Result<Option<String>, SagaError> {
        Ok(self
            .lookup(user)
            .await?
            .and_then(|identity| identity.payout_account_id)
            .map(|account| account.as_str().to_owned()))
    }

    async fn lookup(
        &self,
        user: &UserId,
    ) -> Result<Option<payment_identities::PaymentIdentity>, SagaError> {
        // The table being unreachable is an outage like Stripe's: retried under the same key.
        self.identities
            .get(user)
            .await
            .map_err(|e| SagaError::Unavailable {
                reason: format!("payment identities: {e}"),
            })
    }
}

impl<I: PaymentIdentityLookup> PaymentProvider for StripePayments<I> {
    async fn charge(&self, charge: &Charge) -> Result<Receipt, SagaError> {
        let Some(card) = self.card_of(&charge.payer).await? else {
            return Err(SagaError::Declined {
                reason: format!("buyer {} has no payment method on file", charge.payer),
            });
        };
        let auction = charge.auction_id.to_string();
        let intent = self
            .client
            .charge_off_session(
                &OffSessionCharge {
                    customer: card.customer_id.as_str().to_owned(),
                    payment_method: card.payment_method_id.as_str().to_owned(),
                    amount: charge.amount.amount_minor,
                    currency: currency(&charge.amount),
                    metadata: BTreeMap::from([
                        ("auction_id".to_owned(), auction),
                        ("buyer_id".to_owned(), charge.payer.to_string()),
                        ("saga_step_key".to_owned(), charge.idempotency_key.clone()),
                    ]),
                },
                &charge.idempotency_key,
            )
            .await;
        match intent {
            Ok(intent) => paid_or_awaited(intent),
            // A card that needs the buyer to authenticate leaves an intent they can still pay
            // (Stripe asks them to come back on-session); its outcome arrives by webhook.
            Err(StripeError::Declined {
                ref code,
                payment_intent: Some(ref reference),
                ..
            }) if code == "authentication_required" => Err(SagaError::AwaitingProvider {
                reference: reference.clone(),
                reason: "the buyer must authenticate the payment".to_owned(),
            }),
            Err(error) => Err(classify("charge", error)),
        }
    }

    async fn charge_outcome(&self, reference: &str) -> Result<Receipt, SagaError> {
        let intent = self
            .client
            .payment_intent(reference)
            .await
            .map_err(|e| classify("charge outcome", e))?;
        match intent.status {
            PaymentIntentStatus::RequiresPaymentMethod | PaymentIntentStatus::Canceled => {
                Err(SagaError::Declined {
                    reason: format!(
                        "stripe charge: payment intent {} is {:?}{}",
                        intent.id,
                        intent.status,
                        intent
                            .last_payment_error
                            .as_ref()
                            .and_then(|e| e.message.as_deref())
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    ),
                })
            }
            _ => paid_or_awaited(intent),
        }
    }

    async fn cancel_charge(&self, reference: &str, idempotency_key: &str) -> Result<(), SagaError> {
        match self
            .client
            .cancel_payment_intent(reference, idempotency_key)
            .await
        {
            Ok(_) => Ok(()),
            // Paid or refused meanwhile: Stripe refuses to cancel it. The saga reads the outcome
            // again on its next delivery; cancelling is only for an intent left open.
            Err(error) => Err(SagaError::Unavailable {
                reason: format!("stripe cancel: {error}"),
            }),
        }
    }

    async fn refund(&self, refund: &Refund) -> Result<Receipt, SagaError> {
        let refunded = self
            .client
            .refund_payment_intent(
                &refund.charge_reference,
                refund.amount.amount_minor,
                &[("saga_step_key", refund.idempotency_key.as_str())],
                &refund.idempotency_key,
            )
            .await
            .map_err(|e| classify("refund", e))?;
        Ok(Receipt {
            reference: refunded.id,
        })
    }

    async fn payout(&self, payout: &Payout) -> Result<Receipt, SagaError> {
        let Some(account) = self.payout_account_of(&payout.payee).await? else {
            return Err(SagaError::Declined {
                reason: format!("seller {} has no payout account on file", payout.payee),
            });
        };
        // Funded from the buyer's charge: a transfer drawn on the balance would wait for the
        // charge's funds to become available (Stripe refuses it with `balance_insufficient`
        // until then), and could pay one seller with another buyer's money.
        let source_transaction = self
            .client
            .payment_intent(&payout.charge_reference)
            .await
            .map_err(|e| classify("payout's charge", e))?
            .latest_charge;
        let auction = payout.auction_id.to_string();
        let transfer = self
            .client
            .transfer(
                &NewTransfer {
                    amount: payout.amount.amount_minor,
                    currency: currency(&payout.amount),
                    destination: account,
                    transfer_group: Some(format!("auction_{auction}")),
                    source_transaction,
                    metadata: BTreeMap::from([
                        ("auction_id".to_owned(), auction),
                        ("seller_id".to_owned(), payout.payee.to_string()),
                        ("saga_step_key".to_owned(), payout.idempotency_key.clone()),
                    ]),
                },
                &payout.idempotency_key,
            )
            .await
            .map_err(|e| classify("payout", e))?;
        Ok(Receipt {
            reference: transfer.id,
        })
    }

    async fn reverse_payout(&self, reversal: &PayoutReversal) -> Result<Receipt, SagaError> {
        let reversed = self
            .client
            .reverse_transfer(
                &reversal.payout_reference,
                reversal.amount.amount_minor,
                &[("saga_step_key", reversal.idempotency_key.as_str())],
                &reversal.idempotency_key,
            )
            .await
            .map_err(|e| classify("payout reversal", e))?;
        Ok(Receipt {
            reference: reversed.id,
        })
    }
}
