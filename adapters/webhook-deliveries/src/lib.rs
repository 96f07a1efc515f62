//! Which deliveries of Stripe's webhook events arrived, and which events were handled: the
//! StripeWebhookDeliveries table (pk `eventId`), so that the API's `POST /webhooks/stripe`
//! refuses a replayed request and takes no second effect for a redelivered event.
//!
//! Stripe signs every delivery afresh: `Stripe-Signature: t=<unix seconds>,v1=<hmac>` over
//! `"{t}.{body}"`. So a delivery is identified by the event's id *and* the signed timestamp:
//!
//! - the same (event id, signed timestamp) twice is the same signed request sent again, a
//!   **replay** of a captured request ([`Recorded::Replay`]): refused, no effect;
//! - the same event id with a new signed timestamp is Stripe's own **redelivery** (a retry after
//!   a failed or lost answer; Stripe delivers at least once): accepted, and handled only if no
//!   earlier delivery was ([`DeliveryRecord::handled`]).
//!
//! - [`WebhookDeliveries`]: the port ([`record`](WebhookDeliveries::record) a delivery,
//!   atomically telling a replay apart; [`mark_handled`](WebhookDeliveries::mark_handled) once
//!   the event's effect took place; [`get`](WebhookDeliveries::get));
//! - [`DynamoDbWebhookDeliveries`] and its in-memory twin [`InMemoryWebhookDeliveries`].
//!
//! An item: `eventId` (S), `eventType` (S), `signedAt` (NS: every signed timestamp a delivery
//! of the event was verified with), `firstReceivedAt` (S, RFC 3339), `expiresAt` (N, unix
//! seconds: the table's TTL attribute, [`RETENTION`] after the first delivery), and once handled
//! `handledAt` (S) and `outcome` (S). Depends on nothing of ours but the conventions: it knows
//! neither Stripe's payloads nor the saga.

mod dynamodb;
mod error;
mod memory;
mod ports;

pub use dynamodb::DynamoDbWebhookDeliveries;
pub use error::DeliveryError;
pub use memory::InMemoryWebhookDeliveries;
pub use ports::{Delivery, DeliveryRecord, Handled, RETENTION, Recorded, WebhookDeliveries};
