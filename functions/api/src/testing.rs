//! One way to run the API in a test: [`TestApp`], the router as the binaries build it
//! ([`App::new`] over [`Adapters`], then [`router`]) over the in-memory event store, read
//! models, inbox, parking and payment identities, with the payment provider's test double, a
//! fixed clock and the local JWT verifier, and helpers to sign in, register payment
//! identities through the routes ([`TestApp::with_card`], [`TestApp::with_payout_account`],
//! [`TestApp::with_identities`]) and send requests; Stripe's webhook over the in-memory
//! deliveries table and payments queue, with helpers to sign and post deliveries
//! ([`TestApp::sign_webhook`], [`TestApp::post_webhook`]). Built only with the cargo feature `testing`, which only
//! dev-dependencies enable: nothing deployed runs over these twins.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use event_store::{InMemoryStore, SnapshotPolicy, Store};
use events::UserId;
use fan_out::{InMemoryQueues, QueueMessage};
use http_body_util::BodyExt;
use payment_identities::testing::InMemoryProvider;
use payment_identities::{AccountId, CustomerId, InMemoryPaymentIdentities, PaymentMethodId};
use read_models::InMemoryViews;
use read_models::notifications::InMemoryNotifications;
use serde_json::{Value, json};
use tower::ServiceExt;
use webhook_deliveries::InMemoryWebhookDeliveries;

use crate::config::Adapters;
use crate::parked::{InMemoryParking, ParkedAdmin, StoreLog};
use crate::throttle::WriteRate;
use crate::webhooks::{QueueForwarder, QueueUrl, WebhookSecret, Webhooks};
use crate::{App, Authenticator, FixedClock, LocalJwt, router};

/// The local verifier's key in tests.
pub const SECRET: &[u8] = b"test-secret-of-the-local-verifier";

/// The signing secret of the test's webhook endpoint.
pub const WEBHOOK_SECRET: &str = "whsec_test-secret-of-the-webhook-endpoint";

/// The key of the test's unsubscribe links.
pub const LINK_KEY: &[u8] = b"test-key-of-the-unsubscribe-links";

/// Where the test's thumbnails are served.
pub const MEDIA_URL: &str = "http://media.test";

/// The URL of the test's payments queue.
pub const PAYMENTS_QUEUE_URL: &str = "memory://queues/payments.fifo";

/// Where every test's clock starts: 2026-06-01T12:00:00Z.
pub fn start_of_test() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// How the parked items are reached, given the app's store and views; by default,
/// [`InMemoryParking::in_memory`] over the store.
pub type ParkedFor =
    Box<dyn FnOnce(&Store<InMemoryStore>, &Arc<InMemoryViews>) -> Arc<dyn ParkedAdmin>>;

/// How to build a [`TestApp`]: [`TestApp::new`] takes every default.
pub struct TestAppBuilder {
    authenticator: Option<Authenticator>,
    parked: Option<ParkedFor>,
    write_rate: WriteRate,
}

impl TestAppBuilder {
    /// Identity from API Gateway's authorizer, as the Lambda has it, instead of the local JWT.
    pub fn behind_api_gateway(mut self) -> Self {
        self.authenticator = Some(Authenticator::ApiGateway);
        self
    }

    /// Each user's writes limited to `rate` instead of [`WriteRate::DEFAULT`] (e.g. for a
    /// battery of requests that is about their bodies, not their rate).
    pub fn write_rate(mut self, rate: WriteRate) -> Self {
        self.write_rate = rate;
        self
    }

    /// Parking of one's own (e.g. over ports the test shares with the consumers).
    pub fn parked(
        mut self,
        parked: impl FnOnce(&Store<InMemoryStore>, &Arc<InMemoryViews>) -> Arc<dyn ParkedAdmin>
        + 'static,
    ) -> Self {
        self.parked = Some(Box::new(parked));
        self
    }

    pub fn build(self) -> TestApp {
        let store = Store::new(InMemoryStore::new(), SnapshotPolicy::default());
        let views = Arc::new(InMemoryViews::new());
        let inbox = Arc::new(InMemoryNotifications::new());
        let clock = Arc::new(FixedClock::new(start_of_test()));
        let jwt = Arc::new(LocalJwt::new(SECRET));
        let parked = match self.parked {
            Some(parked) => parked(&store, &views),
            None => Arc::new(InMemoryParking::in_memory(&store)),
        };
        let identities = Arc::new(InMemoryPaymentIdentities::new());
        let provider = Arc::new(InMemoryProvider::new());
        let deliveries = Arc::new(InMemoryWebhookDeliveries::new());
        let queues = Arc::new(InMemoryQueues::new());
        let webhook_secret = WebhookSecret::new(WEBHOOK_SECRET);
        let heads = Arc::new(notary::InMemoryHeads::new());
        let archive = Arc::new(notary::InMemoryArchive::new());
        let email_notices = Arc::new(email::InMemoryEmailNotices::default());
        let photos = Arc::new(photos::InMemoryPhotos::new());
        let adapters = Adapters {
            media: crate::item_photos::Media::new(photos.clone(), MEDIA_URL),
            email_notices: email_notices.clone(),
            link_key: Arc::new(email::LocalLinkKey::new(LINK_KEY.to_vec())),
            pseudonyms: Arc::new(personal_data::InMemorySubjectKeys::default()),
            watchlist: Arc::new(watchlist::InMemoryWatchlist::new()),
            proofs: Arc::new(notary::Prover::new(
                Arc::clone(&heads),
                Arc::clone(&archive),
                StoreLog::new(store.clone()),
            )),
            store: store.clone(),
            views: views.clone(),
            inbox: inbox.clone(),
            parked,
            identities: identities.clone(),
            provider: provider.clone(),
            webhooks: Webhooks::new(
                webhook_secret.clone(),
                deliveries.clone(),
                Arc::new(QueueForwarder::new(
                    queues.clone(),
                    QueueUrl::Known(PAYMENTS_QUEUE_URL.to_owned()),
                )),
            ),
        };
        let authenticator = self
            .authenticator
            .unwrap_or_else(|| Authenticator::LocalJwt(Arc::clone(&jwt)));
        let app = App::new(adapters, clock.clone(), authenticator).with_write_rate(self.write_rate);
        TestApp {
            router: router(app.clone()),
            app,
            store,
            views,
            inbox,
            identities,
            provider,
            deliveries,
            queues,
            webhook_secret,
            clock,
            jwt,
            heads,
            archive,
            email_notices,
            photos,
        }
    }
}

/// The API as the binaries wire it, over in-memory adapters the test can look into.
#[derive(Clone)]
pub struct TestApp {
    /// The streams' heads and the digests' archive the proof routes read: a test moves heads
    /// and writes digests into them (`notary::publish`).
    pub heads: Arc<notary::InMemoryHeads>,
    pub archive: Arc<notary::InMemoryArchive>,
    /// What the router was built from, for code that builds a router of its own.
    pub app: App<InMemoryStore>,
    pub router: Router,
    pub store: Store<InMemoryStore>,
    pub views: Arc<InMemoryViews>,
    pub inbox: Arc<InMemoryNotifications>,
    /// The PaymentIdentities table.
    pub identities: Arc<InMemoryPaymentIdentities>,
    /// The payment provider: create customers, cards and accounts in it to register them.
    pub provider: Arc<InMemoryProvider>,
    /// The StripeWebhookDeliveries table.
    pub deliveries: Arc<InMemoryWebhookDeliveries>,
    /// The queues the webhook forwards to (the payments queue at [`PAYMENTS_QUEUE_URL`]).
    pub queues: Arc<InMemoryQueues>,
    /// The webhook endpoint's signing secret ([`WEBHOOK_SECRET`]).
    pub webhook_secret: WebhookSecret,
    /// The API's clock, at [`start_of_test`] until advanced.
    pub clock: Arc<FixedClock>,
    /// The verifier the router trusts, to sign tokens with.
    pub jwt: Arc<LocalJwt>,
    /// The EmailNotices table (preferences and sent marks).
    pub email_notices: Arc<email::InMemoryEmailNotices>,
    /// The photos bucket: upload through a grant, thumbnail with `photos::make_thumbnail`.
    pub photos: Arc<photos::InMemoryPhotos>,
}

impl Default for TestApp {
    fn default() -> Self {
        Self::new()
    }
}

/// An answer: status, headers, and the body as bytes and as JSON.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as JSON: `null` when empty, a JSON string of the text when not JSON.
    pub body: Value,
    pub bytes: Bytes,
}

impl TestResponse {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl TestApp {
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// The same API in a second process (another Lambda environment): the same tables, queues
    /// and clock, but its own cache of aggregates and its own turns, so that its commands race
    /// this one's for versions as two environments' do (in one process they take turns), and
    /// its own count of each user's writes.
    pub fn another_process(&self) -> TestApp {
        let rate = self.app.throttle.rate();
        let mut app = self.app.clone().with_write_rate(rate);
        app.store = self.store.clone().with_cache(1_000);
        TestApp {
            router: router(app.clone()),
            store: app.store.clone(),
            app,
            ..self.clone()
        }
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            authenticator: None,
            parked: None,
            write_rate: WriteRate::DEFAULT,
        }
    }

    /// A token for `user`, valid for an hour of real time (jsonwebtoken checks expiry on the
    /// system clock, not the API's).
    pub fn token(&self, user: &str) -> String {
        self.token_in(user, &[])
    }

    /// `user`'s pseudonym: what the gate turns their `sub` into, and so what the log, the views
    /// and the inbox hold for them (docs/privacy.md).
    pub async fn pseudonym(&self, user: &str) -> UserId {
        let user = UserId::try_from(user)
            .unwrap_or_else(|error| panic!("{user:?} is no user id: {error}"));
        self.app
            .pseudonyms
            .pseudonym_of(&user)
            .await
            .unwrap_or_else(|error| panic!("no pseudonym for {user:?}: {error}"))
    }

    /// A token for `user` whose account has the verified address `email`.
    pub fn token_with_email(&self, user: &str, email: &str) -> String {
        let user = UserId::try_from(user)
            .unwrap_or_else(|error| panic!("{user:?} is no user id: {error}"));
        self.jwt
            .mint_with_email(&user, Some(email), &[], Utc::now(), TimeDelta::hours(1))
            .unwrap_or_else(|error| panic!("cannot sign a token: {error}"))
    }

    /// A token for `user` in these authorizer groups (e.g. `admin`).
    pub fn token_in(&self, user: &str, groups: &[&str]) -> String {
        let user = UserId::try_from(user)
            .unwrap_or_else(|error| panic!("{user:?} is no user id: {error}"));
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        self.jwt
            .mint(&user, &groups, Utc::now(), TimeDelta::hours(1))
            .unwrap_or_else(|error| panic!("cannot sign a token: {error}"))
    }

    /// Registers a card for `user` through `PUT /me/payment-method`: a new customer with a
    /// Visa ending 4242 attached, created in the provider. Panics unless the route answers 200.
    pub async fn with_card(&self, user: &str) -> (CustomerId, PaymentMethodId) {
        let (customer, card) = self.provider.create_card_on_file();
        let reply = self
            .put(
                user,
                "/me/payment-method",
                json!({"customerId": customer.as_str(), "paymentMethodId": card.as_str()}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "registering a card for {user}: {}",
            reply.text()
        );
        (customer, card)
    }

    /// Registers a payout account for `user` through `PUT /me/payout-account`: a new connected
    /// account that can receive transfers, created in the provider. Panics unless the route
    /// answers 200.
    pub async fn with_payout_account(&self, user: &str) -> AccountId {
        let account = self.provider.create_connected_account(true);
        let reply = self
            .put(
                user,
                "/me/payout-account",
                json!({"accountId": account.as_str()}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "registering a payout account for {user}: {}",
            reply.text()
        );
        account
    }

    /// A card and a payout account for each of `users`, so that each may bid, buy and sell.
    pub async fn with_identities(&self, users: &[&str]) -> &Self {
        for user in users {
            self.with_card(user).await;
            self.with_payout_account(user).await;
        }
        self
    }

    /// `Authorization: Bearer <token for user>`.
    pub fn bearer(&self, user: &str) -> String {
        format!("Bearer {}", self.token(user))
    }

    /// Sends one request through the router.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|error| panic!("the body could not be read: {error}"))
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        TestResponse {
            status,
            headers,
            body,
            bytes,
        }
    }

    /// A request by `user` (or by nobody), with a JSON body if one is given and an
    /// `Idempotency-Key` if one is given.
    pub async fn request(
        &self,
        method: Method,
        user: Option<&str>,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> TestResponse {
        self.request_in(method, user.map(|user| (user, &[][..])), path, body, key)
            .await
    }

    /// [`Self::request`] by `user` in these groups.
    pub async fn request_in(
        &self,
        method: Method,
        user: Option<(&str, &[&str])>,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> TestResponse {
        let mut request = Request::builder().method(method).uri(path);
        if let Some((user, groups)) = user {
            let token = self.token_in(user, groups);
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let body = body.map_or_else(Body::empty, |body| Body::from(body.to_string()));
        let request = request
            .body(body)
            .unwrap_or_else(|error| panic!("not a request: {error}"));
        self.send(request).await
    }

    pub async fn get(&self, user: &str, path: &str) -> TestResponse {
        self.request(Method::GET, Some(user), path, None, None)
            .await
    }

    /// A JSON POST, under an `Idempotency-Key` if one is given.
    pub async fn post(
        &self,
        user: &str,
        path: &str,
        body: Value,
        key: Option<&str>,
    ) -> TestResponse {
        self.request(Method::POST, Some(user), path, Some(&body), key)
            .await
    }

    /// A POST without a body, under an `Idempotency-Key` if one is given.
    pub async fn post_empty(&self, user: &str, path: &str, key: Option<&str>) -> TestResponse {
        self.request(Method::POST, Some(user), path, None, key)
            .await
    }

    /// A GET by `user` in these groups.
    pub async fn get_in(&self, user: &str, groups: &[&str], path: &str) -> TestResponse {
        self.request_in(Method::GET, Some((user, groups)), path, None, None)
            .await
    }

    /// A POST without a body by `user` in these groups.
    pub async fn post_in(&self, user: &str, groups: &[&str], path: &str) -> TestResponse {
        self.request_in(Method::POST, Some((user, groups)), path, None, None)
            .await
    }

    pub async fn put(&self, user: &str, path: &str, body: Value) -> TestResponse {
        self.request(Method::PUT, Some(user), path, Some(&body), None)
            .await
    }

    pub async fn delete(&self, user: &str, path: &str) -> TestResponse {
        self.request(Method::DELETE, Some(user), path, None, None)
            .await
    }

    /// The `Stripe-Signature` header Stripe would send for `body` signed at `timestamp` (unix
    /// seconds) with the endpoint's secret.
    pub fn sign_webhook(&self, body: &[u8], timestamp: i64) -> String {
        stripe_api::webhook::sign(body, &self.webhook_secret, timestamp)
    }

    /// `POST /webhooks/stripe` with `body` as it is and this `Stripe-Signature` (none if
    /// `None`), as Stripe sends it: no token.
    pub async fn post_webhook(&self, body: &[u8], signature: Option<&str>) -> TestResponse {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/webhooks/stripe")
            .header("content-type", "application/json; charset=utf-8");
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        let request = request
            .body(Body::from(body.to_vec()))
            .unwrap_or_else(|error| panic!("not a request: {error}"));
        self.send(request).await
    }

    /// What the webhook sent to the payments queue, in order.
    pub fn payments_messages(&self) -> Vec<QueueMessage> {
        self.queues.messages(PAYMENTS_QUEUE_URL)
    }
}
