//! Payment identities: how the caller pays (a Stripe customer and its card) and how they are
//! paid (a Stripe connected account). `GET /me/payment-identity` says what is on file and what
//! is missing; `PUT /me/payment-method` and `PUT /me/payout-account` register ids after Stripe
//! confirmed them (`payment_identities::register_*`: the ids' shape first, then the provider,
//! then the PaymentIdentities table, so a refusal stores nothing).
//!
//! The preconditions of the commands are here too ([`require_payment_method`],
//! [`require_payout_account`]): one lookup, before the command reaches the event store, so a
//! refused bid, purchase or creation writes nothing.
//!
//! The table and the provider are behind object-safe ports ([`Identities`], [`ProviderCheck`])
//! so that the router stays generic over the event store backend only.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use events::UserId;
use payment_identities::{
    AccountId, CardOnFile, CheckWithProvider, CustomerId, IdentityError, Missing, PaymentIdentity,
    PaymentIdentityLookup, PaymentMethodId, RecordPaymentIdentity,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::identity::Claims;
use crate::problems::{IdentityRefused, Problems};
use crate::reads::BoxFuture;
use crate::{App, Backend};

// ---------------------------------------------------------------------------------- ports

/// The PaymentIdentities table, as the routes use it: read, and each part recorded.
pub trait Identities: Send + Sync {
    fn get<'a>(
        &'a self,
        user: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<PaymentIdentity>, IdentityError>>;

    fn put_payment_method<'a>(
        &'a self,
        user: &'a UserId,
        card: &'a CardOnFile,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<PaymentIdentity, IdentityError>>;

    fn put_payout_account<'a>(
        &'a self,
        user: &'a UserId,
        account: &'a AccountId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<PaymentIdentity, IdentityError>>;
}

impl<T: PaymentIdentityLookup + RecordPaymentIdentity> Identities for T {
    fn get<'a>(
        &'a self,
        user: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<PaymentIdentity>, IdentityError>> {
        Box::pin(PaymentIdentityLookup::get(self, user))
    }

    fn put_payment_method<'a>(
        &'a self,
        user: &'a UserId,
        card: &'a CardOnFile,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<PaymentIdentity, IdentityError>> {
        Box::pin(RecordPaymentIdentity::put_payment_method(
            self, user, card, at,
        ))
    }

    fn put_payout_account<'a>(
        &'a self,
        user: &'a UserId,
        account: &'a AccountId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<PaymentIdentity, IdentityError>> {
        Box::pin(RecordPaymentIdentity::put_payout_account(
            self, user, account, at,
        ))
    }
}

/// The payment provider's checks (Stripe in the binaries, its test double in tests).
pub trait ProviderCheck: Send + Sync {
    fn check_payment_method<'a>(
        &'a self,
        customer: &'a CustomerId,
        payment_method: &'a PaymentMethodId,
    ) -> BoxFuture<'a, Result<CardOnFile, IdentityError>>;

    fn check_payout_account<'a>(
        &'a self,
        account: &'a AccountId,
    ) -> BoxFuture<'a, Result<(), IdentityError>>;
}

impl<T: CheckWithProvider> ProviderCheck for T {
    fn check_payment_method<'a>(
        &'a self,
        customer: &'a CustomerId,
        payment_method: &'a PaymentMethodId,
    ) -> BoxFuture<'a, Result<CardOnFile, IdentityError>> {
        Box::pin(CheckWithProvider::check_payment_method(
            self,
            customer,
            payment_method,
        ))
    }

    fn check_payout_account<'a>(
        &'a self,
        account: &'a AccountId,
    ) -> BoxFuture<'a, Result<(), IdentityError>> {
        Box::pin(CheckWithProvider::check_payout_account(self, account))
    }
}

/// The boxed ports as the adapter crate's, for its registration steps.
struct Ports<'a> {
    identities: &'a dyn Identities,
    provider: &'a dyn ProviderCheck,
}

impl RecordPaymentIdentity for Ports<'_> {
    async fn put_payment_method(
        &self,
        user: &UserId,
        card: &CardOnFile,
        at: DateTime<Utc>,
    ) -> Result<PaymentIdentity, IdentityError> {
        self.identities.put_payment_method(user, card, at).await
    }

    async fn put_payout_account(
        &self,
        user: &UserId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> Result<PaymentIdentity, IdentityError> {
        self.identities.put_payout_account(user, account, at).await
    }
}

impl CheckWithProvider for Ports<'_> {
    async fn check_payment_method(
        &self,
        customer: &CustomerId,
        payment_method: &PaymentMethodId,
    ) -> Result<CardOnFile, IdentityError> {
        self.provider
            .check_payment_method(customer, payment_method)
            .await
    }

    async fn check_payout_account(&self, account: &AccountId) -> Result<(), IdentityError> {
        self.provider.check_payout_account(account).await
    }
}

impl<B> App<B> {
    fn ports(&self) -> Ports<'_> {
        Ports {
            identities: self.identities.as_ref(),
            provider: self.provider.as_ref(),
        }
    }
}

// --------------------------------------------------------------------------------- bodies

/// A card to charge purchases to: a Stripe customer and a card payment method attached to it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutPaymentMethodRequest {
    /// The Stripe customer, `cus_...`.
    #[schema(
        example = "cus_NffrFeUfNV2Hib",
        pattern = "^cus_[A-Za-z0-9_]+$",
        max_length = 255
    )]
    pub customer_id: String,
    /// A card payment method attached to that customer, `pm_...`.
    #[schema(
        example = "pm_1MqLiJLkdIwHu7ixUEgbFdYF",
        pattern = "^pm_[A-Za-z0-9_]+$",
        max_length = 255
    )]
    pub payment_method_id: String,
}

/// Where a seller's payouts go: a Stripe connected account that can receive transfers.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutPayoutAccountRequest {
    /// The Stripe connected account, `acct_...`.
    #[schema(
        example = "acct_1032D82eZvKYlo2C",
        pattern = "^acct_[A-Za-z0-9_]+$",
        max_length = 255
    )]
    pub account_id: String,
}

/// The card on file, as the owner may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardBody {
    pub customer_id: String,
    pub payment_method_id: String,
    /// The card network, e.g. `visa`.
    pub brand: String,
    pub last4: String,
}

/// What the caller still has to register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MissingIdentity {
    /// No card on file: bidding and buying are refused (PAYMENT_METHOD_REQUIRED).
    PaymentMethod,
    /// No payout account: creating auctions is refused (PAYOUT_ACCOUNT_REQUIRED).
    PayoutAccount,
}

impl From<Missing> for MissingIdentity {
    fn from(missing: Missing) -> Self {
        match missing {
            Missing::PaymentMethod => Self::PaymentMethod,
            Missing::PayoutAccount => Self::PayoutAccount,
        }
    }
}

/// What is on file for the caller, and what is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentIdentityBody {
    /// The card purchases are charged to; `null` until one is registered.
    pub payment_method: Option<CardBody>,
    /// The connected account sales are paid out to; `null` until one is registered.
    pub payout_account_id: Option<String>,
    /// May the caller bid and buy (a card is on file)?
    pub can_bid: bool,
    /// May the caller create auctions (a payout account is on file)?
    pub can_sell: bool,
    /// What is missing, in a stable order; empty when nothing is.
    pub missing: Vec<MissingIdentity>,
    /// When it last changed; `null` when nothing was ever registered.
    pub updated_at: Option<DateTime<Utc>>,
}

impl PaymentIdentityBody {
    fn of(identity: Option<&PaymentIdentity>) -> Self {
        let card = identity.and_then(|i| i.card.as_ref());
        let account = identity.and_then(|i| i.payout_account_id.as_ref());
        Self {
            payment_method: card.map(|card| CardBody {
                customer_id: card.customer_id.to_string(),
                payment_method_id: card.payment_method_id.to_string(),
                brand: card.brand.clone(),
                last4: card.last4.clone(),
            }),
            payout_account_id: account.map(ToString::to_string),
            can_bid: card.is_some(),
            can_sell: account.is_some(),
            missing: payment_identities::missing(identity)
                .into_iter()
                .map(MissingIdentity::from)
                .collect(),
            updated_at: identity.map(|i| i.updated_at),
        }
    }
}

// --------------------------------------------------------------------------------- routes

/// What is on file for the caller (card, payout account) and what is missing before they may
/// bid and buy (a card) or sell (a payout account).
#[utoipa::path(get, path = "/me/payment-identity", tag = "me",
    responses(
        (status = 200, body = PaymentIdentityBody),
        Problems<401, 503>,
    ),
    security(("bearer" = [])))]
pub async fn get_payment_identity<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
) -> Result<Json<PaymentIdentityBody>, ApiError> {
    let found = app.identities.get(&claims.sub).await?;
    Ok(Json(PaymentIdentityBody::of(found.as_ref())))
}

/// Registers the caller's card: a Stripe customer and a card payment method attached to it,
/// checked with Stripe first. Replaces an earlier card; a refusal stores nothing.
#[utoipa::path(put, path = "/me/payment-method", tag = "me",
    request_body = PutPaymentMethodRequest,
    responses(
        (status = 200, description = "On file", body = PaymentIdentityBody),
        IdentityRefused,
        Problems<400, 401, 413, 415, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn put_payment_method<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    body: JsonBody<PutPaymentMethodRequest>,
) -> Result<Json<PaymentIdentityBody>, ApiError> {
    let ports = app.ports();
    let identity = payment_identities::register_payment_method(
        &ports,
        &ports,
        &claims.sub,
        &body.value.customer_id,
        &body.value.payment_method_id,
        app.clock.now(),
    )
    .await?;
    Ok(Json(PaymentIdentityBody::of(Some(&identity))))
}

/// Registers the caller's payout account: a Stripe connected account that can receive
/// transfers, checked with Stripe first. Replaces an earlier one; a refusal stores nothing.
#[utoipa::path(put, path = "/me/payout-account", tag = "me",
    request_body = PutPayoutAccountRequest,
    responses(
        (status = 200, description = "On file", body = PaymentIdentityBody),
        IdentityRefused,
        Problems<400, 401, 413, 415, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn put_payout_account<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    body: JsonBody<PutPayoutAccountRequest>,
) -> Result<Json<PaymentIdentityBody>, ApiError> {
    let ports = app.ports();
    let identity = payment_identities::register_payout_account(
        &ports,
        &ports,
        &claims.sub,
        &body.value.account_id,
        app.clock.now(),
    )
    .await?;
    Ok(Json(PaymentIdentityBody::of(Some(&identity))))
}

// -------------------------------------------------------------------------- preconditions

/// A bid or a purchase by `user` needs a card on file: 409 PAYMENT_METHOD_REQUIRED otherwise.
pub async fn require_payment_method<B>(app: &App<B>, user: &UserId) -> Result<(), ApiError> {
    match app.identities.get(user).await? {
        Some(identity) if identity.can_pay() => Ok(()),
        _ => Err(ApiError::PaymentMethodRequired),
    }
}

/// An auction by `seller` needs a payout account on file: 409 PAYOUT_ACCOUNT_REQUIRED
/// otherwise.
pub async fn require_payout_account<B>(app: &App<B>, seller: &UserId) -> Result<(), ApiError> {
    match app.identities.get(seller).await? {
        Some(identity) if identity.can_be_paid() => Ok(()),
        _ => Err(ApiError::PayoutAccountRequired),
    }
}
