//! `POST /webhooks/stripe`: Stripe's asynchronous outcomes of payment intents, handed to the
//! payment saga.
//!
//! No JWT: the route is outside the authenticator (and, in AWS, outside the HTTP API's JWT
//! authorizer). It is authenticated by the body's signature alone: `Stripe-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">` under the endpoint's signing
//! secret ([`stripe_api::webhook::verify`], over the raw bytes as received, never re-encoded).
//!
//! | what arrives                                                   | answer |
//! |----------------------------------------------------------------|--------|
//! | no or malformed `Stripe-Signature`, or no `v1` matches the body | 401 WEBHOOK_SIGNATURE_INVALID, nothing done |
//! | signed more than [`DEFAULT_TOLERANCE`] (5 min) from now         | 401 WEBHOOK_TIMESTAMP_OUTSIDE_TOLERANCE, nothing done |
//! | correctly signed, but not a Stripe event                        | 400 INVALID_WEBHOOK_EVENT, nothing done |
//! | an (event id, signed timestamp) already recorded: a replay      | 409 WEBHOOK_REPLAYED, nothing done |
//! | an event already handled, signed afresh: Stripe's redelivery    | 200 `duplicate`, nothing done again |
//! | a payment intent's outcome naming a sale of the log             | 200 `forwarded`: the sale's event sent to the payments queue |
//! | a payment intent's outcome naming no sale (no metadata, unknown auction, no sale of that buyer) | 200 `nothingToDo`, logged |
//! | any other event type                                            | 200 `ignored`, logged (so that Stripe does not retry it) |
//! | the deliveries table or the payments queue unavailable          | 503, not recorded as handled: Stripe delivers again |
//!
//! **Replays and redeliveries.** Every verified delivery is recorded in the
//! StripeWebhookDeliveries table ([`webhook_deliveries`]) under its event id with its signed
//! timestamp, in one conditional write. The same (event id, timestamp) again is the same signed
//! request again: a replay of a captured request, refused. Stripe signs each of its own retries
//! afresh, so the same event id with a new timestamp is a redelivery: answered 200, and handled
//! only if no earlier delivery was. An event is marked handled only after its effect succeeded
//! (the forward, or the finding that there is nothing to do), so a failed forward (503) is
//! retried by Stripe's next delivery.
//!
//! **Forwarding.** For `payment_intent.succeeded`, `payment_intent.payment_failed` and
//! `payment_intent.canceled` whose object's metadata names `auction_id` and `buyer_id` (the
//! saga's Stripe adapter sets both on every charge), the auction's log is read through the
//! store and the latest event the saga settles a sale on for that buyer
//! ([`payments::message::trigger`] is `Settle` with that buyer: `AuctionEnded` sold to them, or
//! `ItemOfferedToRunnerUp` to them) is sent to the payments queue exactly as the publisher sends
//! it ([`QueueMessage::for_event`]), with the de-duplication id `stripe-<event id>` in place of
//! `{aggregateId}#{version}` (which SQS would drop within five minutes of the publisher's
//! send). The saga, handed its sale event again, resumes from its stored state and asks Stripe
//! for the intent's outcome: the forward is only a nudge. A second forward of one event does not
//! happen by design (the handled mark); should two deliveries of one event race, or the mark
//! fail after the forward, SQS drops the second send within its five-minute de-duplication
//! window, and beyond it the saga takes no second effect either.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use event_store::{Meter, StoreError, StoredEvent};
use events::{AuctionEvent, AuctionId, UserId};
use fan_out::{Queue, QueueDirectory, QueueMessage, QueueSender};
use payments::message::{Trigger, trigger};
use serde::Serialize;
use sha2::{Digest, Sha256};
use stripe_api::webhook::{DEFAULT_TOLERANCE, Event, WebhookRefusal, verify};
use tokio::sync::OnceCell;
use utoipa::ToSchema;
use uuid::Uuid;
use webhook_deliveries::{
    Delivery, DeliveryError, InMemoryWebhookDeliveries, Recorded, WebhookDeliveries,
};

pub use stripe_api::webhook::WebhookSecret;

use crate::error::ApiError;
use crate::extract::read_at_most;
use crate::problems::{
    NotAStripeEvent, Problems, WebhookReplayed, WebhookUnavailable, WebhookUnverified,
};
use crate::reads::BoxFuture;
use crate::{App, Backend};

/// The header Stripe signs deliveries in.
pub const SIGNATURE_HEADER: &str = "stripe-signature";
/// A webhook body larger than this is refused (413) unread. Stripe's events are a few KB.
pub const MAX_WEBHOOK_BODY_BYTES: usize = 256 * 1024;
/// The event types whose outcome the saga is nudged about.
pub const FORWARDED_TYPES: [&str; 3] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
];
/// The longest event id taken (Stripe's are about 30 characters).
const MAX_EVENT_ID_LEN: usize = 255;

// ---------------------------------------------------------------------------------- ports

/// The StripeWebhookDeliveries table, as the route uses it.
pub trait Deliveries: Send + Sync {
    fn record<'a>(
        &'a self,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Recorded, DeliveryError>>;

    fn mark_handled<'a>(
        &'a self,
        event_id: &'a str,
        outcome: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), DeliveryError>>;
}

impl<T: WebhookDeliveries> Deliveries for T {
    fn record<'a>(
        &'a self,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Recorded, DeliveryError>> {
        Box::pin(WebhookDeliveries::record(self, delivery))
    }

    fn mark_handled<'a>(
        &'a self,
        event_id: &'a str,
        outcome: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(WebhookDeliveries::mark_handled(self, event_id, outcome, at))
    }
}

/// Why a message did not reach the payments queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// The queue (or its URL) could not be reached: Stripe's redelivery tries again.
    #[error("the payments queue is unavailable: {0}")]
    Unavailable(String),
    /// SQS refused the message as it is; retrying cannot help.
    #[error("the payments queue refused the message: {0}")]
    Refused(String),
}

impl From<ForwardError> for ApiError {
    fn from(error: ForwardError) -> Self {
        match error {
            ForwardError::Unavailable(_) => Self::WebhookUnavailable(error.to_string()),
            ForwardError::Refused(_) => Self::WebhookFailed(error.to_string()),
        }
    }
}

impl From<DeliveryError> for ApiError {
    fn from(error: DeliveryError) -> Self {
        if error.is_transient() {
            Self::WebhookUnavailable(error.to_string())
        } else {
            Self::WebhookFailed(error.to_string())
        }
    }
}

/// The payments queue, as the route sends to it: one message at a time.
pub trait PaymentsQueue: Send + Sync {
    fn send<'a>(&'a self, message: &'a QueueMessage) -> BoxFuture<'a, Result<(), ForwardError>>;
}

/// Where the payments queue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueUrl {
    /// This URL (tests, and callers that know it).
    Known(String),
    /// `PAYMENTS_QUEUE_URL`, or the URL of the queue named `PAYMENTS_QUEUE` (default
    /// `payments.fifo`) looked up on the first forward, not at start-up: the API must start,
    /// and serve bids, whether or not SQS answers.
    FromEnv,
}

/// The payments queue over a [`QueueSender`] (SQS in the binaries, the in-memory twin in
/// tests), sending as the publisher does.
pub struct QueueForwarder<Q> {
    queues: Arc<Q>,
    url: QueueUrl,
    resolved: OnceCell<String>,
}

impl<Q> QueueForwarder<Q> {
    pub fn new(queues: Arc<Q>, url: QueueUrl) -> Self {
        Self {
            queues,
            url,
            resolved: OnceCell::new(),
        }
    }
}

impl<Q: QueueDirectory> QueueForwarder<Q> {
    async fn url(&self) -> Result<&str, ForwardError> {
        match &self.url {
            QueueUrl::Known(url) => Ok(url),
            QueueUrl::FromEnv => self
                .resolved
                .get_or_try_init(|| payments_queue_url(self.queues.as_ref()))
                .await
                .map(String::as_str),
        }
    }
}

/// `PAYMENTS_QUEUE_URL`, else the URL of the queue `PAYMENTS_QUEUE` (or its default) names.
async fn payments_queue_url(directory: &impl QueueDirectory) -> Result<String, ForwardError> {
    let queue = Queue::Payments;
    let set = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    if let Some(url) = set(queue.url_env()) {
        return Ok(url);
    }
    let name = set(queue.name_env()).unwrap_or_else(|| queue.default_name().to_owned());
    directory.queue_url(&name).await.map_err(|reason| {
        ForwardError::Unavailable(format!(
            "{} is unset and the queue {name:?} was not found: {reason}",
            queue.url_env()
        ))
    })
}

impl<Q> PaymentsQueue for QueueForwarder<Q>
where
    Q: QueueSender + QueueDirectory + 'static,
{
    fn send<'a>(&'a self, message: &'a QueueMessage) -> BoxFuture<'a, Result<(), ForwardError>> {
        Box::pin(async move {
            let url = self.url().await?;
            let results = self
                .queues
                .send_batch(url, std::slice::from_ref(message))
                .await
                .map_err(|e| ForwardError::Unavailable(e.to_string()))?;
            match results.into_iter().next() {
                Some(Ok(())) => Ok(()),
                Some(Err(entry)) if entry.sender_fault => {
                    Err(ForwardError::Refused(entry.to_string()))
                }
                Some(Err(entry)) => Err(ForwardError::Unavailable(entry.to_string())),
                None => Err(ForwardError::Unavailable(
                    "SQS answered without a result for the message".to_owned(),
                )),
            }
        })
    }
}

/// What the route needs: the endpoint's signing secret, the tolerance on signed timestamps,
/// the deliveries table and the payments queue.
#[derive(Clone)]
pub struct Webhooks {
    pub secret: WebhookSecret,
    pub tolerance: Duration,
    pub deliveries: Arc<dyn Deliveries>,
    pub payments: Arc<dyn PaymentsQueue>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("secret", &self.secret)
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Signatures checked with `secret` and Stripe's tolerance ([`DEFAULT_TOLERANCE`]).
    pub fn new(
        secret: WebhookSecret,
        deliveries: Arc<dyn Deliveries>,
        payments: Arc<dyn PaymentsQueue>,
    ) -> Self {
        Self {
            secret,
            tolerance: DEFAULT_TOLERANCE,
            deliveries,
            payments,
        }
    }

    /// Over an in-memory deliveries table and payments queue: for harnesses that build an
    /// [`App`] of their own and do not look at webhooks (the fuzz targets). Nothing deployed
    /// builds it.
    pub fn in_memory(secret: WebhookSecret) -> Self {
        Self::new(
            secret,
            Arc::new(InMemoryWebhookDeliveries::new()),
            Arc::new(QueueForwarder::new(
                Arc::new(fan_out::InMemoryQueues::new()),
                QueueUrl::Known("memory://payments.fifo".to_owned()),
            )),
        )
    }
}

// --------------------------------------------------------------------------------- bodies

/// A Stripe event, as Stripe (or localstripe) posts it. Only the fields the platform reads are
/// described; the body is verified as the raw bytes that came, never re-encoded.
#[derive(Debug, Clone, ToSchema)]
#[allow(dead_code)]
pub struct StripeEvent {
    /// `evt_...`
    #[schema(example = "evt_1NG8Du2eZvKYlo2CUI79vXWy")]
    id: String,
    /// `payment_intent.succeeded`, `payment_intent.payment_failed`,
    /// `payment_intent.canceled` are handed to the payment saga; other types are acknowledged
    /// and ignored.
    #[schema(rename = "type", example = "payment_intent.payment_failed")]
    event_type: String,
    /// Unix seconds.
    created: i64,
    data: StripeEventData,
}

/// The event's `data`.
#[derive(Debug, Clone, ToSchema)]
#[allow(dead_code)]
pub struct StripeEventData {
    /// The object the event is about. For a payment intent, `metadata.auction_id` and
    /// `metadata.buyer_id` name the sale it pays for.
    object: serde_json::Value,
}

/// What became of a verified delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum WebhookOutcome {
    /// The sale's event was sent to the payments queue: the saga settles (or resumes) it.
    Forwarded,
    /// A payment intent's outcome that names no sale in the log (no metadata, an unknown
    /// auction, no sale to that buyer).
    NothingToDo,
    /// An event type the platform does not act on.
    Ignored,
    /// An earlier delivery of this event was handled already: nothing is done again.
    Duplicate,
}

/// The answer to a verified delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookReceipt {
    pub event_id: String,
    pub event_type: String,
    pub outcome: WebhookOutcome,
    /// What was done, for people (for a duplicate: what the first handled delivery did).
    pub detail: String,
}

/// The body exactly as it came, at most [`MAX_WEBHOOK_BODY_BYTES`].
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        read_at_most(request, MAX_WEBHOOK_BODY_BYTES)
            .await
            .map(Self)
    }
}

// -------------------------------------------------------------------------------- handler

/// Receive one of Stripe's webhook deliveries
///
/// Authenticated by the `Stripe-Signature` header alone (no bearer token). A verified delivery
/// is answered 200, also when the event is ignored, so that Stripe does not retry it; a
/// payment intent's outcome is handed to the payment saga (its sale's event sent to the
/// payments queue) once per event, however often Stripe delivers it. A replay of a delivery
/// (same event, same signature timestamp) is refused with 409.
#[utoipa::path(post, path = "/webhooks/stripe", tag = "webhooks",
    params(("Stripe-Signature" = String, Header,
        description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"{t}.{raw body}\" under the endpoint's signing secret>`")),
    request_body(content = StripeEvent, content_type = "application/json",
        description = "The event, signed as raw bytes"),
    responses(
        (status = 200, description = "Verified: forwarded, nothing to do, ignored, or a duplicate", body = WebhookReceipt),
        NotAStripeEvent,
        WebhookUnverified,
        WebhookReplayed,
        WebhookUnavailable,
        Problems<413, 500>,
    ))]
pub async fn stripe_webhook<B: Backend>(
    State(app): State<App<B>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<WebhookReceipt>, ApiError> {
    let webhooks = &app.webhooks;
    let now = app.clock.now();
    let signature = headers
        .get(SIGNATURE_HEADER)
        .map(|value| value.to_str().unwrap_or_default())
        .unwrap_or_default();
    let event =
        verify(&body, signature, &webhooks.secret, now, webhooks.tolerance).map_err(|refusal| {
            match refusal {
                WebhookRefusal::InvalidPayload(reason) => ApiError::InvalidWebhookEvent(reason),
                refusal => ApiError::WebhookUnverified(refusal),
            }
        })?;
    // `verify` found it, or the signature would not have matched.
    let signed_at = signed_timestamp(signature).ok_or(ApiError::WebhookUnverified(
        WebhookRefusal::MissingTimestamp,
    ))?;
    if !(1..=MAX_EVENT_ID_LEN).contains(&event.id.len())
        || !event.id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::InvalidWebhookEvent(format!(
            "the event id must be 1 to {MAX_EVENT_ID_LEN} visible ASCII characters"
        )));
    }
    let receipt = |outcome, detail: String| WebhookReceipt {
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        outcome,
        detail,
    };

    let delivery = Delivery {
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        signed_at,
        received_at: now,
    };
    match webhooks.deliveries.record(&delivery).await? {
        Recorded::Replay => {
            tracing::warn!(event_id = %event.id, signed_at, "a replayed webhook delivery refused");
            return Err(ApiError::WebhookReplayed {
                event_id: event.id,
                signed_at,
            });
        }
        Recorded::Delivery(record) => {
            if let Some(handled) = record.handled {
                tracing::info!(
                    event_id = %event.id,
                    event_type = %event.event_type,
                    deliveries = record.signed_at.len(),
                    first = %handled.outcome,
                    "a redelivered webhook event: handled already, nothing done again"
                );
                return Ok(Json(receipt(WebhookOutcome::Duplicate, handled.outcome)));
            }
        }
    }

    let (outcome, detail) = handle(&app, &event).await?;
    tracing::info!(
        event_id = %event.id,
        event_type = %event.event_type,
        outcome = ?outcome,
        %detail,
        "webhook event handled"
    );
    // Only now: a forward that failed above left the event unhandled for the next delivery.
    webhooks
        .deliveries
        .mark_handled(&event.id, &detail, app.clock.now())
        .await?;
    Ok(Json(receipt(outcome, detail)))
}

/// The `t=` of a `Stripe-Signature` header, read as [`verify`] reads it (the last `t=` item
/// counts).
fn signed_timestamp(header: &str) -> Option<i64> {
    let mut timestamp = None;
    for item in header.split(',') {
        if let Some(("t", value)) = item.trim().split_once('=') {
            timestamp = value.parse::<i64>().ok();
        }
    }
    timestamp
}

/// What the event asks for, done: the sale's event forwarded, or nothing (and why).
async fn handle<B: Backend>(
    app: &App<B>,
    event: &Event,
) -> Result<(WebhookOutcome, String), ApiError> {
    if !FORWARDED_TYPES.contains(&event.event_type.as_str()) {
        return Ok((
            WebhookOutcome::Ignored,
            format!(
                "ignored: {} is not a payment intent's outcome",
                event.event_type
            ),
        ));
    }
    let nothing = |why: String| Ok((WebhookOutcome::NothingToDo, format!("nothing to do: {why}")));
    let Some((auction_id, buyer_id)) = sale_named_by(&event.data.object) else {
        return nothing(
            "the payment intent's metadata names no valid auction_id and buyer_id".to_owned(),
        );
    };
    let Some(sale) = sale_event(app, auction_id, &buyer_id).await? else {
        return nothing(format!(
            "auction {auction_id} has no sale to {buyer_id} in its log"
        ));
    };
    let mut message = QueueMessage::for_event(&sale)
        .map_err(|e| ApiError::WebhookFailed(format!("the sale's event cannot be encoded: {e}")))?;
    message.deduplication_id = deduplication_id(&event.id);
    app.webhooks.payments.send(&message).await?;
    Ok((
        WebhookOutcome::Forwarded,
        format!(
            "forwarded {} (auction {auction_id}, version {}) to the payment saga",
            sale.envelope.event_type,
            sale.version()
        ),
    ))
}

/// The auction and buyer a payment intent's metadata names, when both are valid ids.
fn sale_named_by(object: &serde_json::Value) -> Option<(AuctionId, UserId)> {
    let metadata = object.get("metadata")?;
    let auction_id = metadata
        .get("auction_id")?
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())?;
    let buyer_id = metadata
        .get("buyer_id")?
        .as_str()
        .and_then(|id| UserId::try_from(id).ok())?;
    Some((AuctionId(auction_id), buyer_id))
}

/// The latest event of the auction's log on which the saga settles a sale with `buyer`.
async fn sale_event<B: Backend>(
    app: &App<B>,
    auction_id: AuctionId,
    buyer: &UserId,
) -> Result<Option<StoredEvent>, ApiError> {
    let log = app
        .store
        .backend()
        .read_after(auction_id, 0, &Meter::default())
        .await?;
    for stored in log.into_iter().rev() {
        let envelope = match stored.decode::<AuctionEvent>() {
            Ok(envelope) => envelope,
            // The id names another aggregate's stream (an item's): no auction, no sale.
            Err(StoreError::OtherAggregate { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        if let Trigger::Settle(sale) = trigger(&envelope)
            && &sale.buyer_id == buyer
        {
            return Ok(Some(stored));
        }
    }
    Ok(None)
}

/// `stripe-<event id>`: one forward per event, whatever delivery made it; SQS takes up to
/// 128 visible ASCII characters, so a longer id is hashed.
pub fn deduplication_id(event_id: &str) -> String {
    let plain = format!("stripe-{event_id}");
    if plain.len() <= 128 && plain.bytes().all(|b| b.is_ascii_graphic()) {
        return plain;
    }
    let mut hashed = "stripe-".to_owned();
    for byte in Sha256::digest(event_id.as_bytes()) {
        // Writing to a String cannot fail.
        let _ = write!(hashed, "{byte:02x}");
    }
    hashed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn given_a_signature_header_when_its_timestamp_is_read_then_the_last_t_counts_as_verify_reads_it()
     {
        assert_eq!(signed_timestamp("t=12,v1=ab"), Some(12));
        assert_eq!(signed_timestamp(" v1=ab , t=7 ,t=9"), Some(9));
        assert_eq!(signed_timestamp("t=12,t=x,v1=ab"), None);
        assert_eq!(signed_timestamp("v1=ab"), None);
    }

    #[test]
    fn given_an_event_id_when_it_fits_then_the_deduplication_id_names_it_else_its_hash() {
        assert_eq!(deduplication_id("evt_123"), "stripe-evt_123");
        let long = deduplication_id(&"e".repeat(200));
        assert_eq!(long.len(), "stripe-".len() + 64);
        assert_ne!(long, deduplication_id(&"e".repeat(201)));
    }

    #[test]
    fn given_a_payment_intent_when_its_metadata_is_read_then_only_valid_ids_name_a_sale() {
        let auction = Uuid::from_u128(7);
        let object =
            serde_json::json!({"metadata": {"auction_id": auction.to_string(), "buyer_id": "bob"}});
        assert_eq!(
            sale_named_by(&object),
            Some((AuctionId(auction), UserId::try_from("bob").unwrap()))
        );
        for object in [
            serde_json::json!({}),
            serde_json::json!({"metadata": {"buyer_id": "bob"}}),
            serde_json::json!({"metadata": {"auction_id": "nope", "buyer_id": "bob"}}),
            serde_json::json!({"metadata": {"auction_id": auction.to_string(), "buyer_id": ""}}),
        ] {
            assert_eq!(sale_named_by(&object), None, "{object}");
        }
    }
}
