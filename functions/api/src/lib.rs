//! The bidder HTTP API: an axum router whose handlers turn requests into Auction commands and
//! run them through the event store, plus the two ways to serve it (`api-local`, a plain HTTP
//! server with a local JWT verifier, and `api-lambda`, behind API Gateway's HTTP API).
//!
//! The router is generic over the event store's backend, so tests run it over the in-memory
//! twin with no network. Identity comes only from the authorizer ([`identity`]); time only from
//! the injected [`Clock`]. Depends on the domain, the event contract, the event store, the
//! time travel, verification and export (the event store's), parking (the admin routes), and
//! for Stripe's webhook the Stripe client's signatures, the webhook deliveries table, the
//! publisher's message format and the saga's reading of a sale event. Must not depend on DynamoDB types beyond building
//! the adapters in the binaries ([`config`]), and holds no auction rule of its own: every
//! decision is the domain's.
//!
//! Bodies (and their OpenAPI schemas) are apart from handlers: [`bodies`] and
//! [`admin`]'s own; the command handlers ([`commands`]) each build a domain command and run it
//! through [`commands::run_command`]; the queries ([`queries`]) read the read models or the
//! log; an item's provenance ([`items`]) reads the Items' ownership ledger in the log;
//! Stripe's webhook ([`webhooks`]) hands payment intents' outcomes to the payment saga.
//! [`problems`] writes the problem responses of the OpenAPI document once.

pub mod admin;
pub mod bodies;
pub use conventions::clock;
pub mod commands;
pub mod config;
pub mod correlation;
pub mod error;
pub mod extract;
pub mod identity;
pub mod item_photos;
pub mod items;
pub mod openapi;
pub mod parked;
pub mod payment_identity;
pub mod preferences;
pub mod problems;
pub mod queries;
pub mod reads;
pub mod reveal;
/// The API over in-memory adapters, for tests (cargo feature `testing`).
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod watching;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, put};
use event_store::{EventLog, EventsOfType, IdempotencyRecords, NewestEvents, Snapshots, Store};

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{ApiError, Problem};
pub use identity::{Authenticator, Claims, LocalJwt};
pub use parked::ParkedAdmin;
pub use payment_identity::{Identities, ProviderCheck};
pub use reads::{Inbox, Views};

/// An event store backend the router can run over.
pub trait Backend:
    EventLog + Snapshots + IdempotencyRecords + EventsOfType + NewestEvents + 'static
{
}

impl<B> Backend for B where
    B: EventLog + Snapshots + IdempotencyRecords + EventsOfType + NewestEvents + 'static
{
}

/// What every handler shares: built once per process (per Lambda environment).
pub struct App<B> {
    pub store: Store<B>,
    pub clock: Arc<dyn Clock>,
    pub authenticator: Authenticator,
    /// The read models (auction views, users' bids) the query routes answer from.
    pub views: Arc<dyn Views>,
    /// The users' notifications.
    pub inbox: Arc<dyn Inbox>,
    /// The parked items, listed and replayed by the admin routes.
    pub parked: Arc<dyn ParkedAdmin>,
    /// Who pays and who is paid (the PaymentIdentities table): read before a bid, a purchase
    /// or a creation, written by the registration routes.
    pub identities: Arc<dyn Identities>,
    /// The payment provider's checks of the ids a user registers.
    pub provider: Arc<dyn ProviderCheck>,
    /// Stripe's webhook: the signing secret, the deliveries table, the payments queue.
    pub webhooks: webhooks::Webhooks,
    /// Each user's share of writes ([`throttle`]).
    pub throttle: throttle::Throttle,
    /// Proofs that events are in the log's signed digests (`notary`).
    pub proofs: Arc<dyn admin::Proofs>,
    /// The subjects' key store: the caller's pseudonym, pseudonyms revealed (docs/privacy.md).
    pub pseudonyms: Arc<dyn personal_data::Pseudonyms>,
    /// The auctions each user watches.
    pub watchlist: Arc<dyn watchlist::Watchlist>,
    /// Each user's email preferences.
    pub email_notices: Arc<dyn email::PreferenceStore>,
    /// The key that checks unsubscribe links.
    pub link_key: Arc<dyn email::LinkKey>,
    /// Item photos: the bucket, and where thumbnails are served.
    pub media: item_photos::Media,
}

impl<B> App<B> {
    /// The app over these adapters, as every binary (and the test harness) wires it.
    pub fn new(
        adapters: config::Adapters<B>,
        clock: Arc<dyn Clock>,
        authenticator: Authenticator,
    ) -> Self {
        Self {
            store: adapters.store,
            clock,
            authenticator,
            views: adapters.views,
            inbox: adapters.inbox,
            parked: adapters.parked,
            identities: adapters.identities,
            provider: adapters.provider,
            webhooks: adapters.webhooks,
            throttle: throttle::Throttle::new(throttle::WriteRate::DEFAULT),
            proofs: adapters.proofs,
            pseudonyms: adapters.pseudonyms,
            watchlist: adapters.watchlist,
            email_notices: adapters.email_notices,
            link_key: adapters.link_key,
            media: adapters.media,
        }
    }

    /// The same app with each user's writes limited to `rate` (a new set of buckets).
    pub fn with_write_rate(mut self, rate: throttle::WriteRate) -> Self {
        self.throttle = throttle::Throttle::new(rate);
        self
    }
}

impl<B> Clone for App<B> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            clock: Arc::clone(&self.clock),
            authenticator: self.authenticator.clone(),
            views: Arc::clone(&self.views),
            inbox: Arc::clone(&self.inbox),
            parked: Arc::clone(&self.parked),
            identities: Arc::clone(&self.identities),
            provider: Arc::clone(&self.provider),
            webhooks: self.webhooks.clone(),
            throttle: self.throttle.clone(),
            proofs: Arc::clone(&self.proofs),
            pseudonyms: Arc::clone(&self.pseudonyms),
            watchlist: Arc::clone(&self.watchlist),
            email_notices: Arc::clone(&self.email_notices),
            link_key: Arc::clone(&self.link_key),
            media: self.media.clone(),
        }
    }
}

/// The whole API. `/health` and `/openapi.json` answer anyone; `POST /webhooks/stripe` is
/// authenticated by Stripe's signature of its body alone ([`webhooks`]); every other route
/// needs an identity from the authenticator, and each user's writes on them are limited to
/// their share ([`throttle`]).
pub fn router<B: Backend>(app: App<B>) -> Router {
    let authenticated = Router::new()
        .route(
            "/auctions",
            post(commands::create_auction::<B>).get(queries::list_auctions::<B>),
        )
        .route("/auctions/{id}", get(queries::get_auction::<B>))
        .route("/items/{id}/provenance", get(items::provenance::<B>))
        .route("/me/bids", get(queries::my_bids::<B>))
        .route("/me/auctions", get(queries::my_auctions::<B>))
        .route("/me/watchlist", get(watching::my_watchlist::<B>))
        .route(
            "/me/watchlist/{id}",
            put(watching::watch::<B>).delete(watching::unwatch::<B>),
        )
        .route("/me/notifications", get(queries::my_notifications::<B>))
        .route(
            "/me/notification-preferences",
            get(preferences::get_preferences::<B>).put(preferences::put_preferences::<B>),
        )
        .route(
            "/me/payment-identity",
            get(payment_identity::get_payment_identity::<B>),
        )
        .route(
            "/me/payment-method",
            put(payment_identity::put_payment_method::<B>),
        )
        .route(
            "/me/payout-account",
            put(payment_identity::put_payout_account::<B>),
        )
        .route("/auctions/{id}/start", post(commands::start_auction::<B>))
        .route("/auctions/{id}/cancel", post(commands::cancel_auction::<B>))
        .route("/auctions/{id}/relist", post(commands::relist_auction::<B>))
        .route("/auctions/{id}/buy-now", post(commands::buy_now::<B>))
        .route(
            "/auctions/{id}/photos",
            post(item_photos::add_photo::<B>).get(item_photos::list_photos::<B>),
        )
        .route(
            "/auctions/{id}/photos/{photo_id}",
            get(item_photos::photo_status::<B>),
        )
        .route(
            "/auctions/{id}/bids",
            post(commands::place_bid::<B>).get(queries::list_bids::<B>),
        )
        .route("/admin/auctions/{id}/history", get(admin::history::<B>))
        .route("/admin/auctions/{id}/state", get(admin::state_at::<B>))
        .route("/admin/auctions/{id}/verify", get(admin::verify::<B>))
        .route("/admin/auctions/{id}/export", get(admin::export::<B>))
        .route("/admin/items/{id}/history", get(admin::item_history::<B>))
        .route("/admin/items/{id}/state", get(admin::item_state_at::<B>))
        .route("/admin/items/{id}/verify", get(admin::item_verify::<B>))
        .route("/admin/items/{id}/export", get(admin::item_export::<B>))
        .route("/admin/events", get(admin::events_of_type::<B>))
        .route("/admin/parked", get(admin::parked::<B>))
        .route(
            "/admin/parked/{consumer}/{parkedId}/replay",
            post(admin::replay_parked::<B>),
        )
        .route("/admin/subjects/forget", post(admin::forget_subject::<B>))
        .route_layer(from_fn_with_state(
            Arc::clone(&app.pseudonyms),
            reveal::reveal,
        ))
        // A proof's event is the bytes its chain hashed: shown as stored (pseudonyms).
        .route(
            "/admin/proofs/{aggregate_type}/{id}/{version}",
            get(admin::proof::<B>),
        )
        // Layers wrap what is above them: the throttle runs inside the authenticator, so it
        // knows the caller.
        .route_layer(from_fn_with_state(
            app.throttle.clone(),
            throttle::limit_writes,
        ))
        .route_layer(from_fn_with_state(
            identity::Gate {
                authenticator: app.authenticator.clone(),
                pseudonyms: Arc::clone(&app.pseudonyms),
            },
            identity::authenticate,
        ));
    Router::new()
        .route("/health", get(queries::health))
        .route("/openapi.json", get(openapi::serve))
        .route("/webhooks/stripe", post(webhooks::stripe_webhook::<B>))
        // An unsubscribe link works without signing in: its token is its authority.
        .route("/unsubscribe", post(preferences::unsubscribe::<B>))
        .merge(authenticated)
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(from_fn(correlation::correlate))
        .with_state(app)
}
