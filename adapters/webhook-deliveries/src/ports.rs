//! What is recorded of a delivery, and the port that records it.

use std::collections::BTreeSet;
use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::DeliveryError;

/// How long a delivery's record is kept after the event's first delivery (the table's TTL):
/// far longer than Stripe retries an event (three days) and than any signature is accepted
/// (the webhook's timestamp tolerance, minutes), so that neither a redelivery nor a replay
/// outlives its record.
pub const RETENTION: TimeDelta = TimeDelta::days(30);

/// One verified delivery of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Stripe's event id (`evt_...`).
    pub event_id: String,
    /// Stripe's event type (`payment_intent.succeeded`, ...).
    pub event_type: String,
    /// The timestamp (`t=`, unix seconds) of the `Stripe-Signature` the delivery was verified
    /// with.
    pub signed_at: i64,
    pub received_at: DateTime<Utc>,
}

/// What the table holds about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: String,
    /// The signed timestamp of every delivery recorded.
    pub signed_at: BTreeSet<i64>,
    pub first_received_at: DateTime<Utc>,
    /// When the record expires (unix seconds): [`RETENTION`] after `first_received_at`.
    pub expires_at: i64,
    /// Set once the event's effect took place (or it was found to need none).
    pub handled: Option<Handled>,
}

/// That an event was handled, when, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub at: DateTime<Utc>,
    /// What was done, for people: `forwarded ...`, `nothing to do: ...`, `ignored: ...`.
    pub outcome: String,
}

/// What recording a delivery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A delivery with a signed timestamp not seen before for this event: the record as it is
    /// now (this timestamp included). Handle the event unless `handled` says it was.
    Delivery(DeliveryRecord),
    /// This event with this signed timestamp was recorded before: the same signed request
    /// again. Nothing was written.
    Replay,
}

/// The StripeWebhookDeliveries table.
pub trait WebhookDeliveries: Send + Sync {
    /// Records `delivery`: adds its signed timestamp to the event's record, creating the
    /// record (type, first receipt, expiry) on the event's first delivery. Atomic: of two
    /// deliveries with the same event id and signed timestamp, exactly one is a
    /// [`Recorded::Delivery`] and the other a [`Recorded::Replay`].
    fn record(
        &self,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<Recorded, DeliveryError>> + Send;

    /// Marks the event handled with `outcome`. The first mark stays: a later one changes
    /// nothing. Fails when no delivery of the event is recorded.
    fn mark_handled(
        &self,
        event_id: &str,
        outcome: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;

    /// The event's record, if any.
    fn get(
        &self,
        event_id: &str,
    ) -> impl Future<Output = Result<Option<DeliveryRecord>, DeliveryError>> + Send;
}

/// The expiry of a record first received at `received_at`, in unix seconds.
pub(crate) fn expiry(received_at: DateTime<Utc>) -> i64 {
    (received_at + RETENTION).timestamp()
}
