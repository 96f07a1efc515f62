//! What the fuzz targets share: the properties every decoded event must have, and the API
//! router over a counting in-memory store.
//!
//! A property that does not hold panics, which libFuzzer reports as a crash with the input that
//! caused it (see docs/fuzzing.md).

use std::sync::{Arc, OnceLock};

use api::{App, Authenticator, FixedClock, LocalJwt, router};
use events::{EventEnvelope, UserId};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{TimeDelta, TimeZone, Utc};
use event_store::{InMemoryStore, SnapshotPolicy, Store};
use http_body_util::BodyExt;
use payment_identities::InMemoryPaymentIdentities;
use payment_identities::testing::InMemoryProvider;
use read_models::notifications::InMemoryNotifications;
use read_models::InMemoryViews;
use serde_json::json;
use tower::ServiceExt;

/// A decoded event re-encodes, and decodes again to itself: decoding (with its upcasters)
/// yields only events the current code can write and read back. Folding it into an empty
/// aggregate must not panic either.
pub fn check_decoded(event: &EventEnvelope) {
    let raw = event
        .to_raw()
        .unwrap_or_else(|e| panic!("a decoded event does not encode: {e}: {event:?}"));
    let again = raw
        .clone()
        .decode()
        .unwrap_or_else(|e| panic!("a re-encoded event does not decode: {e}: {raw:?}"));
    assert_eq!(&again, event, "decode(encode(event)) differs from event");
    let json = serde_json::to_string(event).unwrap_or_else(|e| panic!("no JSON: {e}"));
    let parsed = EventEnvelope::from_json(&json)
        .unwrap_or_else(|e| panic!("the event's own JSON does not decode: {e}: {json}"));
    assert_eq!(
        &parsed, event,
        "from_json(to_json(event)) differs from event"
    );
    let _ = domain::fold([&event.event]);
}

/// A history of decoded events folds without panicking, whatever their order.
pub fn check_history(events: &[EventEnvelope]) {
    let _ = domain::fold(events.iter().map(|e| &e.event));
}

// ------------------------------------------------------------------------- the API harness

const SECRET: &[u8] = b"fuzzing-secret-of-the-local-verifier";

/// What a request got.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The router over a fresh counting store, with a payout account on file for `seller-ann` and a
/// card for `bidder-bob` and `bidder-cat`, holding two auctions by `seller-ann` (ids fixed by
/// their idempotency keys): `open`, where `bidder-bob` leads at 1 000 EUR (reserve 5 000,
/// increment 100), and `fresh`, without bids, with a buy-now price.
pub struct Api {
    router: Router,
    store: Store<InMemoryStore>,
    pub open: String,
    pub fresh: String,
    /// The writes of the seeding: while the count stays there, the store is as seeded and the
    /// harness can serve the next input.
    seeded: usize,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// Tokens for the users, minted once (valid for years: long runs must not see them expire).
fn token(sub: &str) -> String {
    static TOKENS: OnceLock<[String; 3]> = OnceLock::new();
    let tokens = TOKENS.get_or_init(|| {
        let jwt = LocalJwt::new(SECRET);
        ["seller-ann", "bidder-bob", "bidder-cat"].map(|user| {
            jwt.mint(
                &UserId::try_from(user).expect("a user id"),
                &[],
                Utc::now(),
                TimeDelta::days(3_650),
            )
            .expect("a token")
        })
    });
    match sub {
        "seller-ann" => tokens[0].clone(),
        "bidder-bob" => tokens[1].clone(),
        _ => tokens[2].clone(),
    }
}

impl Api {
    pub fn new() -> Self {
        let store = Store::new(InMemoryStore::new(), SnapshotPolicy::default());
        let provider = Arc::new(InMemoryProvider::new());
        let app = App {
            store: store.clone(),
            clock: Arc::new(FixedClock::new(
                Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
                    .single()
                    .expect("a time"),
            )),
            authenticator: Authenticator::LocalJwt(Arc::new(LocalJwt::new(SECRET))),
            views: Arc::new(InMemoryViews::new()),
            inbox: Arc::new(InMemoryNotifications::new()),
            parked: Arc::new(api::parked::Parking::in_memory(&store)),
            identities: Arc::new(InMemoryPaymentIdentities::new()),
            provider: provider.clone(),
            webhooks: api::webhooks::Webhooks::in_memory(api::webhooks::WebhookSecret::new(
                "whsec_fuzz",
            )),
            // One user sends every input, thousands a second: the fuzzing is about what the
            // requests hold, not their rate (the rule's tests are functions/api/tests/http.rs's).
            throttle: api::throttle::Throttle::new(api::throttle::WriteRate {
                per_second: 1e6,
                burst: 1_000_000,
            }),
            proofs: api::admin::proofs::in_memory(&store),
            pseudonyms: Arc::new(personal_data::InMemorySubjectKeys::default()),
            watchlist: Arc::new(watchlist::InMemoryWatchlist::new()),
            email_notices: Arc::new(email::InMemoryEmailNotices::default()),
            link_key: Arc::new(email::LocalLinkKey::new(b"fuzz".to_vec())),
            media: api::item_photos::Media::new(
                Arc::new(photos::InMemoryPhotos::new()),
                "http://media.fuzz",
            ),
        };
        let mut api = Self {
            router: router(app),
            store,
            open: String::new(),
            fresh: String::new(),
            seeded: 0,
        };
        // The seller's payout account and the bidders' cards, made in the provider's test
        // double and registered through the routes: the inputs meet the rules of the commands,
        // not a missing card.
        let account = provider.create_connected_account(true);
        api.register(
            "seller-ann",
            "/me/payout-account",
            json!({"accountId": account.as_str()}),
        );
        for bidder in ["bidder-bob", "bidder-cat"] {
            let (customer, card) = provider.create_card_on_file();
            api.register(
                bidder,
                "/me/payment-method",
                json!({"customerId": customer.as_str(), "paymentMethodId": card.as_str()}),
            );
        }
        api.open = api.seed(
            br#"{"title":"Brass telescope","currency":"EUR","startingPrice":1000,"reservePrice":5000,"increment":{"kind":"fixed","amountMinor":100},"endsAt":"2026-06-02T12:00:00Z"}"#,
            "seed-open",
        );
        let bid = api.post(
            "bidder-bob",
            &format!("/auctions/{}/bids", api.open),
            br#"{"amount":1000,"currency":"EUR"}"#.to_vec(),
            Some("seed-bid"),
        );
        assert_eq!(bid.status, StatusCode::CREATED, "seeding a bid");
        api.fresh = api.seed(
            br#"{"title":"Walnut writing desk","currency":"EUR","startingPrice":1000,"buyNowPrice":20000,"endsAt":"2026-06-02T12:00:00Z"}"#,
            "seed-fresh",
        );
        api.seeded = api.writes();
        api
    }

    /// Whether nothing was written since the seeding.
    pub fn as_seeded(&self) -> bool {
        self.writes() == self.seeded
    }

    fn seed(&self, body: &[u8], key: &str) -> String {
        let reply = self.post("seller-ann", "/auctions", body.to_vec(), Some(key));
        assert_eq!(reply.status, StatusCode::CREATED, "seeding an auction");
        let created: serde_json::Value =
            serde_json::from_slice(&reply.body).expect("a creation answer");
        created["auctionId"]
            .as_str()
            .expect("an auction id")
            .to_owned()
    }

    fn register(&self, user: &str, path: &str, body: serde_json::Value) {
        let reply = self.send(Method::PUT, user, path, body.to_string().into_bytes(), None);
        assert_eq!(reply.status, StatusCode::OK, "registering {user}'s {path}");
    }

    pub fn writes(&self) -> usize {
        self.store.backend().writes()
    }

    /// A JSON POST as `user`, with an idempotency key if given.
    pub fn post(&self, user: &str, path: &str, body: Vec<u8>, key: Option<&str>) -> Reply {
        self.send(Method::POST, user, path, body, key)
    }

    fn send(
        &self,
        method: Method,
        user: &str,
        path: &str,
        body: Vec<u8>,
        key: Option<&str>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", token(user)))
            .header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let request = request.body(Body::from(body)).expect("a request");
        runtime().block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response
                .into_body()
                .collect()
                .await
                .expect("a body")
                .to_bytes()
                .to_vec();
            Reply {
                status,
                content_type,
                body,
            }
        })
    }
}

impl Default for Api {
    fn default() -> Self {
        Self::new()
    }
}
