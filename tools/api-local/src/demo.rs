//! Demo data for `api-local --demo`: three auctions a newcomer can try every route on.
//!
//! They are made through the router itself, as requests from demo users, so that they pass the
//! same validation, produce the same events and idempotency records as a client's requests, and
//! can never drift from what the API can actually create.

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeDelta;
use events::UserId;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use api::{App, Backend, LocalJwt, router};

/// The demo seller; bids come from `bidder-bob` and `bidder-cat` (the users `scripts/run`
/// prints tokens for).
pub const SELLER: &str = "seller-ann";

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

/// Creates the three demo auctions through the API's routes, signing the requests with `jwt`.
pub async fn seed<B: Backend>(app: App<B>, jwt: &LocalJwt) -> Result<DemoAuctions> {
    let now = app.clock.now();
    let seeder = Seeder {
        router: router(app),
        jwt,
    };
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

struct Seeder<'a> {
    router: axum::Router,
    jwt: &'a LocalJwt,
}

impl Seeder<'_> {
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
        let token = self
            .jwt
            .mint(&user, &[], chrono::Utc::now(), TimeDelta::minutes(5))?;
        let request = Request::post(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("idempotency-key", Uuid::new_v4().to_string())
            .body(Body::from(serde_json::to_vec(&body)?))?;
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != StatusCode::CREATED {
            bail!("seeding POST {path} answered {status}: {answer}");
        }
        Ok(answer)
    }
}
