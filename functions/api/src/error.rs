//! Every way a request can fail, and the problem document (RFC 9457) each one answers with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Rejection;
use domain::item::ItemRejection;
use event_store::{CommandError, StoreError};
use payment_identities::IdentityError;
use serde::{Deserialize, Serialize};
use stripe_api::webhook::WebhookRefusal;
use thiserror::Error;
use utoipa::ToSchema;

/// Why a request failed. Each variant says how the client handles it; the status is in
/// brackets and the stable `code` of the problem document in capitals.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The body is not JSON. (400 MALFORMED_JSON: fix the body)
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON but not the shape this route takes (a missing field, a float amount,
    /// an unknown currency). (422 INVALID_REQUEST: fix the field named in the detail)
    #[error("the body does not match the request schema: {0}")]
    InvalidBody(String),
    /// The body exceeds the size limit. (413 BODY_TOO_LARGE: send less)
    #[error("the body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The body is not declared as JSON. (415 UNSUPPORTED_MEDIA_TYPE: send application/json)
    #[error("the content type must be application/json")]
    UnsupportedMediaType,
    /// The route needs an `Idempotency-Key` header. (400 IDEMPOTENCY_KEY_REQUIRED: add one and
    /// keep it for retries)
    #[error("this request needs an Idempotency-Key header")]
    IdempotencyKeyRequired,
    /// The `Idempotency-Key` header is not 1 to 128 visible ASCII characters.
    /// (400 INVALID_IDEMPOTENCY_KEY)
    #[error("the Idempotency-Key must be 1 to 128 visible ASCII characters")]
    InvalidIdempotencyKey,
    /// No verifiable identity came with the request. (401 UNAUTHENTICATED: sign in again)
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    /// The route is for administrators and the caller is not in the `admin` group.
    /// (403 ADMIN_ONLY: ask an administrator)
    #[error("this route is for administrators only")]
    AdminOnly,
    /// The caller made more writes (bids, purchases, creations, registrations: every POST and
    /// PUT) than their share: `per_second` on average, `burst` at once, counted per
    /// user. Nothing was read or decided. (429 RATE_LIMITED: wait `Retry-After` seconds, then
    /// send the same request again, under the same `Idempotency-Key`)
    #[error(
        "you sent more than {} writes a second ({} at once); wait {} s, then retry",
        per_second,
        burst,
        retry_after_secs(*retry_after)
    )]
    RateLimited {
        /// The writes a second the user may make on average, and at once.
        per_second: f64,
        burst: u32,
        retry_after: std::time::Duration,
    },
    /// The path names no stream: an unknown aggregate type, an id that is not a UUID. (404
    /// STREAM_NOT_FOUND)
    #[error("{0}")]
    StreamNotFound(String),
    /// The proof asked for cannot be cut: no digest yet or not the one named (404
    /// DIGEST_NOT_FOUND), the stream began after the digest or the path names no stream (404
    /// NOT_IN_DIGEST), or the event came after it (409 NOT_YET_DIGESTED: the detail names the
    /// head the digest holds; ask again after the next digest). The archive or the log
    /// failing is 503 SERVICE_UNAVAILABLE (retry), an archive this code cannot read 500.
    #[error("{0}")]
    Proof(notary::NotaryError),
    /// No route has this path. (404 NOT_FOUND)
    #[error("there is no such resource")]
    NoRoute,
    /// The route does not take this method. (405 METHOD_NOT_ALLOWED)
    #[error("the method is not allowed on this resource")]
    MethodNotAllowed,
    /// The query string is not what the route takes (an unknown status, a limit out of range,
    /// a malformed minVersion). (400 INVALID_QUERY: fix the parameter named in the detail)
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The listing cursor was not issued by this listing for this caller (edited, truncated,
    /// or from another query). (400 INVALID_CURSOR: start again without a cursor)
    #[error("the cursor is not valid for this listing")]
    InvalidCursor,
    /// A read model could not be read: unreachable or throttled. (503 SERVICE_UNAVAILABLE,
    /// retry shortly)
    #[error("a read model is unavailable: {0}")]
    ReadUnavailable(String),
    /// A read model failed in a way retrying cannot fix (a missing table, an unreadable item).
    /// (500 INTERNAL; logged)
    #[error("a read model failed: {0}")]
    ReadFailed(String),
    /// The admin asked for the parked items of a consumer this build does not know.
    /// (400 UNKNOWN_CONSUMER: use one of projector, publisher, broadcaster, notifier,
    /// payment-saga; an item parked under another name shows in the unfiltered list)
    #[error("{0}")]
    UnknownConsumer(String),
    /// Nothing is parked under this consumer and id. (404 NOT_PARKED: list again; it may have
    /// been replayed or discarded meanwhile)
    #[error("nothing is parked for {consumer} under {parked_id:?}")]
    NotParked { consumer: String, parked_id: String },
    /// The consumer failed again on the replayed events: the item stays parked, with this
    /// failure as its `lastError` and `failedReplays` one higher. (502 REPLAY_FAILED: fix the
    /// cause, e.g. the consumer's table or queue, then replay again; replays are idempotent)
    #[error("the item stays parked with one more failed replay: {0}")]
    ReplayFailed(String),
    /// The log no longer holds every event the parked item names; the item stays parked.
    /// (409 PARKED_EVENTS_MISSING: check the auction's log, `GET /admin/auctions/{id}/verify`)
    #[error("{0}")]
    ParkedEventsMissing(String),
    /// The Parked table or the consumers' queues could not be reached (or the queues' URLs
    /// not resolved). (503 SERVICE_UNAVAILABLE: retry shortly; a replay whose answer was lost
    /// may have happened, so list again first)
    #[error("parking is unavailable: {0}")]
    ParkingUnavailable(String),
    /// Parking failed in a way retrying cannot fix. (500 INTERNAL; logged)
    #[error("parking failed: {0}")]
    ParkingFailed(String),
    /// The user to forget has no key: never seen since pseudonyms, or forgotten already.
    /// (404 SUBJECT_NOT_FOUND: nothing of theirs can be read; nothing to do)
    #[error("the user has no key: never seen, or forgotten already")]
    SubjectNotFound,
    /// The subjects' key store (its table or KMS) could not be reached: the caller's pseudonym
    /// could not be made, or the pseudonyms in an answer revealed. Nothing was decided.
    /// (503 SERVICE_UNAVAILABLE, retry shortly)
    #[error("the subjects' key store is unavailable: {0}")]
    KeysUnavailable(String),
    /// The key store answered something no retry fixes (a value that does not open under its
    /// key: tampering). (500 INTERNAL; logged and alarmed)
    #[error("the subjects' key store failed: {0}")]
    KeysFailed(String),
    /// The caller has no card on file, so a bid or a purchase could not be paid for. Decided
    /// before the command reaches the event store: nothing is written. (409
    /// PAYMENT_METHOD_REQUIRED: register a card with `PUT /me/payment-method`, then retry)
    #[error(
        "you have no payment method on file: add a card with PUT /me/payment-method \
         (a Stripe customer and a card attached to it) before you bid or buy"
    )]
    PaymentMethodRequired,
    /// The seller has no payout account on file, so a sale could not be paid out. Decided
    /// before the command reaches the event store: nothing is written. (409
    /// PAYOUT_ACCOUNT_REQUIRED: register one with `PUT /me/payout-account`, then retry)
    #[error(
        "you have no payout account on file: add a Stripe connected account with \
         PUT /me/payout-account before you create an auction"
    )]
    PayoutAccountRequired,
    /// Registering or reading a payment identity failed; see [`IdentityError`] for each case:
    /// bad input is 422 with the error's own code (INVALID_REQUEST for a malformed id), Stripe
    /// unavailable 503 PAYMENT_PROVIDER_UNAVAILABLE, the table unavailable 503
    /// SERVICE_UNAVAILABLE, anything else 500 INTERNAL. Nothing is stored on a refusal.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A `POST /webhooks/stripe` whose `Stripe-Signature` header is missing or malformed, whose
    /// signature does not match the body under the endpoint's secret, or whose signed timestamp
    /// is further from now than the tolerance (an old, possibly captured, request). Nothing is
    /// done. (401 WEBHOOK_SIGNATURE_INVALID, or WEBHOOK_TIMESTAMP_OUTSIDE_TOLERANCE for the
    /// timestamp)
    #[error("the webhook is not verified: {0}")]
    WebhookUnverified(WebhookRefusal),
    /// A correctly signed webhook body that is not a Stripe event (not JSON, or no `id`,
    /// `type`, `created` and `data.object`). Nothing is done. (400 INVALID_WEBHOOK_EVENT)
    #[error("the signed body is not a Stripe event: {0}")]
    InvalidWebhookEvent(String),
    /// This event was delivered with this very signature (event id and signed timestamp)
    /// before: the same request again, not Stripe's redelivery (which Stripe signs afresh).
    /// Nothing is done. (409 WEBHOOK_REPLAYED)
    #[error(
        "event {event_id} signed at {signed_at} was delivered before: a replayed request is \
         refused (Stripe signs each of its deliveries afresh)"
    )]
    WebhookReplayed { event_id: String, signed_at: i64 },
    /// The webhook deliveries table or the payments queue could not be reached. Stripe
    /// delivers the event again later. (503 SERVICE_UNAVAILABLE)
    #[error("the webhook could not be handled now: {0}")]
    WebhookUnavailable(String),
    /// The webhook deliveries table or the payments queue refused in a way retrying cannot
    /// fix. (500 INTERNAL; logged)
    #[error("the webhook failed: {0}")]
    WebhookFailed(String),
    /// Email notices were asked for, but the caller's account has no verified email address
    /// (the identity provider's `email` with `email_verified`). Nothing is stored. (422
    /// NO_VERIFIED_EMAIL: verify an address with the identity provider, sign in again, retry)
    #[error(
        "your account has no verified email address, so emails cannot be turned on: verify one \
         with your sign-in provider, sign in again and retry"
    )]
    NoVerifiedEmail,
    /// An unsubscribe link that does nothing: not one of ours or changed after it was sent (400
    /// UNSUBSCRIBE_LINK_INVALID), or too old (410 UNSUBSCRIBE_LINK_EXPIRED: sign in and change
    /// the preferences instead). Nothing is changed. The key being unavailable is 503.
    #[error("{0}")]
    UnsubscribeLink(email::LinkRefused),
    /// The preferences could not be read or written: unavailable (503 SERVICE_UNAVAILABLE,
    /// retry shortly) or failed (500 INTERNAL); an address that cannot take email is 422
    /// INVALID_REQUEST. Nothing is changed.
    #[error("{0}")]
    Email(email::EmailError),
    /// No such photo: the ids name nothing uploaded, thumbnailed or refused (a grant not used
    /// yet included). (404 PHOTO_NOT_FOUND)
    #[error("there is no such photo: nothing was uploaded under this id")]
    PhotoNotFound,
    /// Item photos: a declared upload refused before anything is signed (422 PHOTO_REFUSED,
    /// the detail says why: type, size; 409 TOO_MANY_PHOTOS when the auction has its 8), the
    /// bucket unavailable (503 SERVICE_UNAVAILABLE, retry) or failing (500 INTERNAL).
    #[error("{0}")]
    Photo(photos::PhotoError),
    /// The domain refused the command (or found no auction); see [`Rejection`] for each case.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The Items' ownership ledger refused the command, or holds no such item; see
    /// [`ItemRejection`] for each case. (404 ITEM_NOT_FOUND for an unknown item; otherwise 409
    /// for a command the item's state forbids, 422 for invalid input)
    #[error(transparent)]
    ItemRejected(#[from] ItemRejection),
    /// What the event store answered; see [`StoreError`] for each case.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CommandError<Rejection>> for ApiError {
    fn from(error: CommandError<Rejection>) -> Self {
        match error {
            CommandError::Rejected(rejection) => Self::Rejected(rejection),
            CommandError::Store(error) => Self::Store(error),
        }
    }
}

impl From<CommandError<ItemRejection>> for ApiError {
    fn from(error: CommandError<ItemRejection>) -> Self {
        match error {
            CommandError::Rejected(rejection) => Self::ItemRejected(rejection),
            CommandError::Store(error) => Self::Store(error),
        }
    }
}

impl From<parking::ParkingError> for ApiError {
    fn from(error: parking::ParkingError) -> Self {
        use parking::ParkingError as E;
        match error {
            E::UnknownConsumer(_) => Self::UnknownConsumer(error.to_string()),
            E::NotParked {
                consumer,
                parked_id,
            } => Self::NotParked {
                consumer,
                parked_id,
            },
            E::BadInput(reason) => Self::InvalidQuery(reason),
            E::ConsumerFailed { .. } => Self::ReplayFailed(error.to_string()),
            E::MissingEvents { .. } => Self::ParkedEventsMissing(error.to_string()),
            E::Store(error) => Self::Store(error),
            E::Unreachable { .. } | E::Aws { .. } => Self::ParkingUnavailable(error.to_string()),
            // The parker's own failure; no admin route parks anything.
            E::Unparkable { .. } => Self::ParkingFailed(error.to_string()),
        }
    }
}

impl From<personal_data::PersonalDataError> for ApiError {
    fn from(error: personal_data::PersonalDataError) -> Self {
        match error {
            personal_data::PersonalDataError::Unavailable { .. } => {
                Self::KeysUnavailable(error.to_string())
            }
            error => Self::KeysFailed(error.to_string()),
        }
    }
}

impl From<read_models::ProjectorError> for ApiError {
    fn from(error: read_models::ProjectorError) -> Self {
        use read_models::ProjectorError as E;
        match error {
            E::InvalidCursor(_) => Self::InvalidCursor,
            E::InvalidLimit { given, max } => {
                Self::InvalidQuery(format!("limit must be 1 to {max}, not {given}"))
            }
            error if error.is_transient() => Self::ReadUnavailable(error.to_string()),
            error => Self::ReadFailed(error.to_string()),
        }
    }
}

impl From<event_store::HistoryError> for ApiError {
    fn from(error: event_store::HistoryError) -> Self {
        use event_store::HistoryError as E;
        match error {
            E::NotFound(_) => Self::auction_not_found(),
            E::Store(error) => Self::Store(error),
            // Worded for auctions, as the CLI words them (`audit::AuditError`).
            E::VersionOutOfRange {
                aggregate_id,
                requested,
                head,
            } => Self::InvalidQuery(format!(
                "version {requested} is out of range: auction {aggregate_id} has versions 1 to \
                 {head}"
            )),
            bad_input => Self::InvalidQuery(bad_input.to_string()),
        }
    }
}

impl From<watchlist::WatchlistError> for ApiError {
    fn from(error: watchlist::WatchlistError) -> Self {
        use watchlist::WatchlistError as E;
        match error {
            E::InvalidCursor(_) => Self::InvalidCursor,
            E::Unavailable(reason) => Self::ReadUnavailable(reason),
            error => Self::ReadFailed(error.to_string()),
        }
    }
}

impl From<read_models::notifications::NotifierError> for ApiError {
    fn from(error: read_models::notifications::NotifierError) -> Self {
        use read_models::notifications::NotifierError as E;
        match error {
            E::InvalidCursor => Self::InvalidCursor,
            E::InvalidLimit { limit, max } => {
                Self::InvalidQuery(format!("limit must be 1 to {max}, not {limit}"))
            }
            E::Unavailable(reason) => Self::ReadUnavailable(reason),
            error => Self::ReadFailed(error.to_string()),
        }
    }
}

/// `Retry-After` is whole seconds: a wait rounded up, never 0 (which would invite an immediate
/// retry that is refused again).
fn retry_after_secs(wait: std::time::Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// An `application/problem+json` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:auctions:problem:<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// The stable, machine-readable error code clients match on.
    pub code: String,
    /// What went wrong in this request, for a human.
    pub detail: String,
}

impl ApiError {
    /// The auction is not in the log (or the id names none): 404 AUCTION_NOT_FOUND, as the
    /// domain answers a command on it.
    pub fn auction_not_found() -> Self {
        Self::Rejected(Rejection::AuctionNotFound)
    }

    /// The status and stable code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::MalformedJson(_) => (StatusCode::BAD_REQUEST, "MALFORMED_JSON"),
            Self::InvalidBody(_) => (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST"),
            Self::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
            }
            Self::IdempotencyKeyRequired => (StatusCode::BAD_REQUEST, "IDEMPOTENCY_KEY_REQUIRED"),
            Self::InvalidIdempotencyKey => (StatusCode::BAD_REQUEST, "INVALID_IDEMPOTENCY_KEY"),
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            Self::AdminOnly => (StatusCode::FORBIDDEN, "ADMIN_ONLY"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            Self::NoRoute => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            Self::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "INVALID_QUERY"),
            Self::InvalidCursor => (StatusCode::BAD_REQUEST, "INVALID_CURSOR"),
            Self::ReadUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            Self::KeysUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            Self::SubjectNotFound => (StatusCode::NOT_FOUND, "SUBJECT_NOT_FOUND"),
            Self::ReadFailed(_) | Self::ParkingFailed(_) | Self::KeysFailed(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
            }
            Self::UnknownConsumer(_) => (StatusCode::BAD_REQUEST, "UNKNOWN_CONSUMER"),
            Self::NotParked { .. } => (StatusCode::NOT_FOUND, "NOT_PARKED"),
            // The API is the gateway to the consumer, which failed: 502, not 503, which would
            // say that this service is busy and the same request will do better shortly.
            Self::ReplayFailed(_) => (StatusCode::BAD_GATEWAY, "REPLAY_FAILED"),
            Self::ParkedEventsMissing(_) => (StatusCode::CONFLICT, "PARKED_EVENTS_MISSING"),
            Self::ParkingUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            Self::PaymentMethodRequired => (StatusCode::CONFLICT, "PAYMENT_METHOD_REQUIRED"),
            Self::PayoutAccountRequired => (StatusCode::CONFLICT, "PAYOUT_ACCOUNT_REQUIRED"),
            Self::WebhookUnverified(WebhookRefusal::OutsideTolerance { .. }) => (
                StatusCode::UNAUTHORIZED,
                "WEBHOOK_TIMESTAMP_OUTSIDE_TOLERANCE",
            ),
            Self::WebhookUnverified(_) => (StatusCode::UNAUTHORIZED, "WEBHOOK_SIGNATURE_INVALID"),
            Self::InvalidWebhookEvent(_) => (StatusCode::BAD_REQUEST, "INVALID_WEBHOOK_EVENT"),
            Self::WebhookReplayed { .. } => (StatusCode::CONFLICT, "WEBHOOK_REPLAYED"),
            Self::WebhookUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            Self::WebhookFailed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
            Self::Identity(error) => identity_status(error),
            Self::Rejected(rejection) => (rejection_status(rejection), rejection.code()),
            Self::ItemRejected(rejection) => (item_rejection_status(rejection), rejection.code()),
            Self::Store(error) => store_status(error),
            Self::Proof(error) => proof_status(error),
            Self::StreamNotFound(_) => (StatusCode::NOT_FOUND, "STREAM_NOT_FOUND"),
            Self::NoVerifiedEmail => (StatusCode::UNPROCESSABLE_ENTITY, "NO_VERIFIED_EMAIL"),
            Self::UnsubscribeLink(refused) => link_status(refused),
            Self::Email(error) => email_status(error),
            Self::PhotoNotFound => (StatusCode::NOT_FOUND, "PHOTO_NOT_FOUND"),
            Self::Photo(error) => photo_status(error),
        }
    }

    /// The detail shown to the client: internal failures say nothing about the internals.
    fn detail(&self) -> String {
        match self {
            Self::Store(
                StoreError::Corrupt { .. }
                | StoreError::Refused(_)
                | StoreError::TooManyEvents { .. }
                | StoreError::VersionTaken { .. },
            ) => "the server failed to handle the request".to_owned(),
            Self::Store(StoreError::Contention(_) | StoreError::Unavailable(_))
            | Self::ReadUnavailable(_)
            | Self::ParkingUnavailable(_)
            | Self::WebhookUnavailable(_) => {
                "the service is busy or unavailable; retry shortly".to_owned()
            }
            Self::ReadFailed(_)
            | Self::ParkingFailed(_)
            | Self::WebhookFailed(_)
            | Self::Identity(IdentityError::ProviderRefused(_) | IdentityError::StoreFailed(_)) => {
                "the server failed to handle the request".to_owned()
            }
            Self::Identity(IdentityError::StoreUnavailable(_)) => {
                "the service is busy or unavailable; retry shortly".to_owned()
            }
            Self::Identity(IdentityError::ProviderUnavailable(_)) => {
                "the payment provider (Stripe) is unavailable; nothing was stored; retry shortly"
                    .to_owned()
            }
            Self::Rejected(rejection) => rejection.to_string(),
            Self::Photo(photos::PhotoError::Unavailable(_)) => {
                "the service is busy or unavailable; retry shortly".to_owned()
            }
            Self::Photo(photos::PhotoError::Storage(_) | photos::PhotoError::Corrupt(_)) => {
                "the server failed to handle the request".to_owned()
            }
            Self::Email(email::EmailError::Unavailable(_))
            | Self::UnsubscribeLink(email::LinkRefused::Key(email::EmailError::Unavailable(_))) => {
                "the service is busy or unavailable; retry shortly".to_owned()
            }
            Self::Email(email::EmailError::Refused(_) | email::EmailError::Corrupt(_))
            | Self::UnsubscribeLink(email::LinkRefused::Key(_)) => {
                "the server failed to handle the request".to_owned()
            }
            Self::Proof(
                notary::NotaryError::Unavailable { .. }
                | notary::NotaryError::Raced { .. }
                | notary::NotaryError::Store(_),
            ) => "the service is busy or unavailable; retry shortly".to_owned(),
            Self::Proof(notary::NotaryError::Corrupt { .. }) => {
                "the server failed to handle the request".to_owned()
            }
            other => other.to_string(),
        }
    }
}

fn photo_status(error: &photos::PhotoError) -> (StatusCode, &'static str) {
    use photos::PhotoError as E;
    match error {
        E::Refused(photos::Refusal::TooManyPhotos { .. }) => {
            (StatusCode::CONFLICT, "TOO_MANY_PHOTOS")
        }
        E::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "PHOTO_REFUSED"),
        E::NotAnOriginal(_) | E::Gone(_) => (StatusCode::NOT_FOUND, "PHOTO_NOT_FOUND"),
        E::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
        E::Storage(_) | E::Corrupt(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
    }
}

fn link_status(refused: &email::LinkRefused) -> (StatusCode, &'static str) {
    use email::LinkRefused as R;
    match refused {
        R::Malformed | R::Tampered => (StatusCode::BAD_REQUEST, "UNSUBSCRIBE_LINK_INVALID"),
        R::Expired(_) => (StatusCode::GONE, "UNSUBSCRIBE_LINK_EXPIRED"),
        R::Key(error) => email_status(error),
    }
}

fn email_status(error: &email::EmailError) -> (StatusCode, &'static str) {
    use email::EmailError as E;
    match error {
        E::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
        E::InvalidAddress(_) => (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST"),
        E::Refused(_) | E::Corrupt(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
    }
}

fn proof_status(error: &notary::NotaryError) -> (StatusCode, &'static str) {
    use notary::NotaryError as E;
    match error {
        E::NoDigest(_) => (StatusCode::NOT_FOUND, "DIGEST_NOT_FOUND"),
        E::NotInDigest { .. } => (StatusCode::NOT_FOUND, "NOT_IN_DIGEST"),
        E::NotYetDigested { .. } => (StatusCode::CONFLICT, "NOT_YET_DIGESTED"),
        E::Unavailable { .. } | E::Raced { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
        }
        E::Store(error) => store_status(error),
        E::Corrupt { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
    }
}

fn store_status(error: &StoreError) -> (StatusCode, &'static str) {
    match error {
        // VersionTaken never leaves `Store::execute`; if it did, the client's remedy is the same.
        StoreError::TooManyConflicts { .. } | StoreError::VersionTaken { .. } => {
            (StatusCode::CONFLICT, "CONFLICT_RETRY")
        }
        StoreError::Contention(_) | StoreError::Unavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
        }
        StoreError::ItemTooLarge { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "ITEM_TOO_LARGE"),
        StoreError::OtherAggregate { .. } => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        StoreError::IdempotencyKeyReused => {
            (StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED")
        }
        StoreError::TooManyEvents { .. } | StoreError::Corrupt { .. } | StoreError::Refused(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
        }
    }
}

/// The status and code of each payment identity error, as documented on
/// [`ApiError::Identity`].
fn identity_status(error: &IdentityError) -> (StatusCode, &'static str) {
    use IdentityError as E;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    match error {
        E::MalformedId { .. } => (unprocessable, "INVALID_REQUEST"),
        E::CustomerNotFound(_) => (unprocessable, "CUSTOMER_NOT_FOUND"),
        E::PaymentMethodNotFound(_) => (unprocessable, "PAYMENT_METHOD_NOT_FOUND"),
        E::NotACard { .. } => (unprocessable, "PAYMENT_METHOD_NOT_A_CARD"),
        E::NotAttached { .. } => (unprocessable, "PAYMENT_METHOD_NOT_ATTACHED"),
        E::AccountNotFound(_) => (unprocessable, "PAYOUT_ACCOUNT_NOT_FOUND"),
        E::AccountCannotReceiveTransfers { .. } => (unprocessable, "PAYOUT_ACCOUNT_NOT_READY"),
        E::ProviderUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "PAYMENT_PROVIDER_UNAVAILABLE",
        ),
        E::StoreUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
        E::ProviderRefused(_) | E::StoreFailed(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
        }
    }
}

/// The status of each of the ledger's rejections, as documented on [`ApiError::ItemRejected`].
pub fn item_rejection_status(rejection: &ItemRejection) -> StatusCode {
    use ItemRejection as R;
    match rejection {
        R::NotRegistered => StatusCode::NOT_FOUND,
        R::AlreadyRegistered { .. }
        | R::NotTheOwner { .. }
        | R::NotTheSeller { .. }
        | R::TransferToSelf
        | R::NoTransferToReverse
        | R::ListedElsewhere { .. } => StatusCode::CONFLICT,
        R::InvalidTitle { .. }
        | R::InvalidSale { .. }
        | R::PriceNotPositive
        | R::ReasonTooLong { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The status of each rejection, as documented on [`Rejection`]'s variants.
pub fn rejection_status(rejection: &Rejection) -> StatusCode {
    use Rejection as R;
    match rejection {
        R::AuctionNotFound => StatusCode::NOT_FOUND,
        R::SellerCannotBid | R::NotSeller => StatusCode::FORBIDDEN,
        R::AuctionAlreadyExists
        | R::AuctionNotStarted { .. }
        | R::AuctionEnded
        | R::AuctionCancelled
        | R::BuyNowNotOffered
        | R::BuyNowNoLongerAvailable
        | R::TooEarlyToStart { .. }
        | R::AuctionNotOver { .. }
        | R::AuctionHasBids
        | R::NotAwaitingPayment
        | R::BuyerMismatch
        | R::PaymentAmountMismatch { .. }
        | R::ItemSold
        | R::AlreadyRelisted { .. } => StatusCode::CONFLICT,
        R::InvalidTitle { .. }
        | R::DescriptionTooLong { .. }
        | R::AmountNotPositive { .. }
        | R::AmountTooLarge { .. }
        | R::CurrencyMismatch { .. }
        | R::ReserveBelowStartingPrice
        | R::BuyNowNotAboveStartingPrice
        | R::BuyNowBelowReserve
        | R::InvalidIncrement { .. }
        | R::InvalidSoftClose { .. }
        | R::EndNotAfterStart
        | R::DurationTooShort { .. }
        | R::DurationTooLong { .. }
        | R::StartTooFarAhead { .. }
        | R::StartInPast
        | R::BidTooLow { .. }
        | R::MaxBelowAmount
        | R::MaxNotAboveCurrentMax { .. }
        | R::ReasonTooLong { .. }
        | R::InvalidPaymentReference { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The one place a server fault is logged; the client sees only the code.
            tracing::error!(error = %self, code, "request failed");
        } else if status.is_server_error() {
            tracing::warn!(error = %self, code, "request failed");
        }
        let problem = Problem {
            kind: format!("urn:auctions:problem:{}", code.to_ascii_lowercase()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail: self.detail(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            Self::Store(
                StoreError::Contention(_)
                | StoreError::Unavailable(_)
                | StoreError::TooManyConflicts { .. },
            )
            | Self::ReadUnavailable(_)
            | Self::ParkingUnavailable(_)
            | Self::WebhookUnavailable(_)
            | Self::Identity(
                IdentityError::StoreUnavailable(_) | IdentityError::ProviderUnavailable(_),
            ) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::RateLimited { retry_after, .. } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs(*retry_after)),
                );
            }
            Self::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // Not a bearer token: the route is authenticated by the body's signature alone.
            Self::WebhookUnverified(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Stripe-Signature"),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<email::EmailError> for ApiError {
    fn from(error: email::EmailError) -> Self {
        Self::Email(error)
    }
}

impl From<email::LinkRefused> for ApiError {
    fn from(refused: email::LinkRefused) -> Self {
        Self::UnsubscribeLink(refused)
    }
}

impl From<photos::PhotoError> for ApiError {
    fn from(error: photos::PhotoError) -> Self {
        Self::Photo(error)
    }
}
