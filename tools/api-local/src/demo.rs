//! Demo data for `api-local --demo`: three auctions a newcomer can try every route on, and the
//! payment identities the demo users need first; and, for the web page, two local-only routes
//! that give the signed-in demo user a card or a payout account ([`payments_router`]).
//!
//! Everything goes through the router itself, as requests from demo users, so that it passes
//! the same validation, produces the same events and idempotency records as a client's
//! requests, and can never drift from what the API can actually create. The Stripe objects
//! (a customer with the test card 4242 4242 4242 4242 attached, a connected account) are made
//! in the payment provider first ([`DemoPayments`]: the local stack's Stripe emulator), then
//! registered through `PUT /me/payment-method` and `PUT /me/payout-account`, which check them
//! with the provider as for any client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::TimeDelta;
use events::UserId;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use stripe_api::{StripeClient, StripeError};
use tower::ServiceExt;
use uuid::Uuid;

use api::error::ApiError;
use api::{App, Backend, LocalJwt, router};
use payment_identities::IdentityError;

/// The demo seller; bids come from `bidder-bob` and `bidder-cat` (the users `scripts/run`
/// prints tokens for).
pub const SELLER: &str = "seller-ann";

/// The demo bidders.
pub const BIDDERS: [&str; 2] = ["bidder-bob", "bidder-cat"];

/// The test card the demo attaches: Stripe's (and localstripe's) Visa that always succeeds.
pub const TEST_CARD: &str = "4242424242424242";

/// The ids of the seeded auctions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoAuctions {
    /// Runs for a day and already has two bids, one by each demo bidder.
    pub with_bids: Uuid,
    /// Ends ten minutes after seeding, no bids yet.
    pub ending_soon: Uuid,
    /// Offers buy-now at 250.00 EUR.
    pub buy_now: Uuid,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Makes the payment provider's objects a demo user registers: in the local stack, Stripe's
/// emulator through the platform's own Stripe client.
pub trait DemoPayments: Send + Sync {
    /// A new customer named after `user` with the test card attached: `(customer id, payment
    /// method id)`.
    fn create_card_on_file<'a>(
        &'a self,
        user: &'a UserId,
    ) -> BoxFuture<'a, Result<(String, String)>>;

    /// A new connected account for `user` that can receive transfers: its id.
    fn create_payout_account<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<String>>;
}

/// Every create under a fresh idempotency key: each call makes new objects.
fn key() -> String {
    Uuid::new_v4().to_string()
}

impl DemoPayments for StripeClient {
    fn create_card_on_file<'a>(
        &'a self,
        user: &'a UserId,
    ) -> BoxFuture<'a, Result<(String, String)>> {
        Box::pin(async move {
            let customer = self.create_customer(user.as_str(), &key()).await?;
            let card = self.create_card_payment_method(TEST_CARD, &key()).await?;
            self.attach_payment_method(&card.id, &customer.id, &key())
                .await?;
            Ok((customer.id, card.id))
        })
    }

    fn create_payout_account<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let account = self.create_connected_account(user.as_str(), &key()).await?;
            Ok(account.id)
        })
    }
}

/// Registers a card and a payout account for the demo users, then creates the three demo
/// auctions through the API's routes, signing the requests with `jwt`.
pub async fn seed<B: Backend>(
    app: App<B>,
    jwt: &LocalJwt,
    payments: &dyn DemoPayments,
) -> Result<DemoAuctions> {
    let now = app.clock.now();
    let seeder = Seeder {
        router: router(app),
        jwt,
    };
    for user in [SELLER].into_iter().chain(BIDDERS) {
        let user = UserId::try_from(user).context("demo user id")?;
        register_card(&seeder.router, &seeder.token(&user)?, payments, &user).await?;
        register_payout_account(&seeder.router, &seeder.token(&user)?, payments, &user).await?;
    }
    let with_bids = seeder
        .create(json!({
            "title": "Brass telescope",
            "description": "A 19th-century brass telescope with its leather case.",
            "currency": "EUR",
            "startingPrice": 10_000,
            "endsAt": now + TimeDelta::days(1),
        }))
        .await?;
    seeder
        .bid(
            "bidder-bob",
            with_bids,
            json!({"amount": 10_000, "currency": "EUR"}),
        )
        .await?;
    seeder
        .bid(
            "bidder-cat",
            with_bids,
            json!({"amount": 12_500, "currency": "EUR"}),
        )
        .await?;
    let ending_soon = seeder
        .create(json!({
            "title": "Pocket watch (ending soon)",
            "currency": "EUR",
            "startingPrice": 2_000,
            "endsAt": now + TimeDelta::minutes(10),
        }))
        .await?;
    let buy_now = seeder
        .create(json!({
            "title": "Oak writing desk (buy it now)",
            "currency": "EUR",
            "startingPrice": 15_000,
            "buyNowPrice": 25_000,
            "endsAt": now + TimeDelta::days(3),
        }))
        .await?;
    Ok(DemoAuctions {
        with_bids,
        ending_soon,
        buy_now,
    })
}

/// A request through the router; the status and the JSON body (`null` when there is none).
async fn send(
    router: &Router,
    method: Method,
    path: &str,
    authorization: &str,
    key: Option<&str>,
    body: &Value,
) -> Result<(StatusCode, Value)> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, authorization)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let request = request.body(Body::from(serde_json::to_vec(body)?))?;
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// A card made in the provider for `user`, registered with `PUT /me/payment-method`; the
/// route's answer (anything but 200 is an error).
async fn register_card(
    router: &Router,
    authorization: &str,
    payments: &dyn DemoPayments,
    user: &UserId,
) -> Result<Value> {
    let (customer, card) = payments.create_card_on_file(user).await?;
    let body = json!({"customerId": customer, "paymentMethodId": card});
    registered(
        send(
            router,
            Method::PUT,
            "/me/payment-method",
            authorization,
            None,
            &body,
        )
        .await?,
        "PUT /me/payment-method",
    )
}

/// A connected account made in the provider for `user`, registered with
/// `PUT /me/payout-account`; the route's answer.
async fn register_payout_account(
    router: &Router,
    authorization: &str,
    payments: &dyn DemoPayments,
    user: &UserId,
) -> Result<Value> {
    let account = payments.create_payout_account(user).await?;
    let body = json!({"accountId": account});
    registered(
        send(
            router,
            Method::PUT,
            "/me/payout-account",
            authorization,
            None,
            &body,
        )
        .await?,
        "PUT /me/payout-account",
    )
}

fn registered((status, answer): (StatusCode, Value), route: &str) -> Result<Value> {
    if status != StatusCode::OK {
        bail!("{route} answered {status}: {answer}");
    }
    Ok(answer)
}

struct Seeder<'a> {
    router: axum::Router,
    jwt: &'a LocalJwt,
}

impl Seeder<'_> {
    /// `Bearer <a token for user, valid for five minutes>`.
    fn token(&self, user: &UserId) -> Result<String> {
        let token = self
            .jwt
            .mint(user, &[], chrono::Utc::now(), TimeDelta::minutes(5))?;
        Ok(format!("Bearer {token}"))
    }

    async fn create(&self, body: Value) -> Result<Uuid> {
        let answer = self.post(SELLER, "/auctions", body).await?;
        answer["auctionId"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .context("the creation answer has no auctionId")
    }

    async fn bid(&self, bidder: &str, auction: Uuid, body: Value) -> Result<()> {
        self.post(bidder, &format!("/auctions/{auction}/bids"), body)
            .await
            .map(drop)
    }

    /// One POST as `sub` with a fresh Idempotency-Key; anything but 201 is an error.
    async fn post(&self, sub: &str, path: &str, body: Value) -> Result<Value> {
        let user = UserId::try_from(sub.to_owned()).context("demo user id")?;
        let (status, answer) = send(
            &self.router,
            Method::POST,
            path,
            &self.token(&user)?,
            Some(&Uuid::new_v4().to_string()),
            &body,
        )
        .await?;
        if status != StatusCode::CREATED {
            bail!("seeding POST {path} answered {status}: {answer}");
        }
        Ok(answer)
    }
}

// ------------------------------------------------------------------ local-only demo routes

/// What the demo routes share: the API's router (the registration goes through its PUT
/// routes), the token check, and the provider the objects are made in.
#[derive(Clone)]
struct DemoRoutes {
    api: Router,
    jwt: Arc<LocalJwt>,
    payments: Arc<dyn DemoPayments>,
}

/// `POST /demo/payment-method` and `POST /demo/payout-account`: for the signed-in user (the
/// bearer token, as on every API route), make a customer with the test card attached, or a
/// connected account, in the local Stripe emulator, and register it through the API's own
/// `PUT /me/payment-method` or `PUT /me/payout-account`; the answer is that route's. Served
/// only by `api-local --dev`, never by the deployed API: in AWS a client creates its Stripe
/// objects with Stripe itself (Stripe.js, Connect onboarding).
pub fn payments_router(api: Router, jwt: Arc<LocalJwt>, payments: Arc<dyn DemoPayments>) -> Router {
    Router::new()
        .route("/demo/payment-method", post(demo_payment_method))
        .route("/demo/payout-account", post(demo_payout_account))
        .with_state(DemoRoutes { api, jwt, payments })
}

/// The caller, from `Authorization: Bearer <token>`, and that header to pass on.
fn caller(routes: &DemoRoutes, headers: &HeaderMap) -> Result<(UserId, String), ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::Unauthenticated("a bearer token is required"))?;
    let token = authorization
        .strip_prefix("Bearer ")
        .ok_or(ApiError::Unauthenticated("a bearer token is required"))?;
    let claims = routes.jwt.verify(token)?;
    Ok((claims.sub, authorization.to_owned()))
}

/// The provider failed to make the demo objects: unreachable (503) or refused (500).
fn provider_failed(error: &anyhow::Error) -> ApiError {
    let reason = format!("{error:#}");
    match error.downcast_ref::<StripeError>() {
        Some(stripe) if stripe.is_unavailable() => {
            ApiError::Identity(IdentityError::ProviderUnavailable(reason))
        }
        _ => ApiError::Identity(IdentityError::ProviderRefused(reason)),
    }
}

/// The registration route's answer as the demo route's.
fn answered(result: Result<(StatusCode, Value)>) -> Result<Response, ApiError> {
    let (status, body) = result.map_err(|e| ApiError::ReadFailed(format!("{e:#}")))?;
    let mut response = (status, axum::Json(body)).into_response();
    if !status.is_success() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
    }
    Ok(response)
}

async fn demo_payment_method(
    State(routes): State<DemoRoutes>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (user, authorization) = caller(&routes, &headers)?;
    let (customer, card) = routes
        .payments
        .create_card_on_file(&user)
        .await
        .map_err(|e| provider_failed(&e))?;
    let body = json!({"customerId": customer, "paymentMethodId": card});
    answered(
        send(
            &routes.api,
            Method::PUT,
            "/me/payment-method",
            &authorization,
            None,
            &body,
        )
        .await,
    )
}

async fn demo_payout_account(
    State(routes): State<DemoRoutes>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (user, authorization) = caller(&routes, &headers)?;
    let account = routes
        .payments
        .create_payout_account(&user)
        .await
        .map_err(|e| provider_failed(&e))?;
    let body = json!({"accountId": account});
    answered(
        send(
            &routes.api,
            Method::PUT,
            "/me/payout-account",
            &authorization,
            None,
            &body,
        )
        .await,
    )
}
