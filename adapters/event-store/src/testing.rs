//! What tests of the store and of everything built on it share: test values (an instant, users,
//! euros, command contexts) and event histories chained as the store chains them (the Auction
//! contract's: its stream name and golden samples). Compiled only with the `testing` feature,
//! which only dev-dependencies enable: nothing here ships in a function. Bad test input panics,
//! naming the value. The auction to create (`lamp_auction`) is the domain's:
//! `domain::fixtures`.

use std::path::Path;

use chrono::{DateTime, Utc};
use events::{Actor, Currency, Metadata, Money, RawEnvelope, UserId};
use serde_json::json;
use uuid::Uuid;

use crate::chain::{GENESIS, seal};
use crate::{CommandContext, StoredEvent};

/// 2026-01-01T00:00:00Z, where test histories begin.
pub fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

pub fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap_or_else(|e| panic!("test user {name:?}: {e}"))
}

pub fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, euro())
}

fn euro() -> Currency {
    Currency::try_from("EUR").unwrap_or_else(|e| panic!("EUR: {e}"))
}

/// A command of user `actor` at `now`, with fresh command and correlation ids and no
/// idempotency key.
pub fn context(actor: &str, now: DateTime<Utc>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: Uuid::new_v4().to_string(),
        actor: Actor::User { id: user(actor) },
        idempotency_key: None,
        now,
    }
}

/// An auction whose event at version v has type `types[v - 1]` and occurred at `at(v)`. The
/// payloads are not real events (they do not decode): for tests of storage, indexes and export,
/// which carry events without reading them.
pub fn typed_history(
    aggregate_id: impl Into<Uuid>,
    types: &[&str],
    at: impl Fn(u64) -> DateTime<Utc>,
) -> Vec<StoredEvent> {
    let aggregate_id = aggregate_id.into();
    let envelopes = types
        .iter()
        .zip(1..)
        .map(|(event_type, version)| RawEnvelope {
            event_id: Uuid::new_v4(),
            aggregate_id,
            aggregate_type: events::AGGREGATE_TYPE.to_owned(),
            event_type: (*event_type).to_owned(),
            version,
            schema_version: 1,
            occurred_at: at(version),
            payload: json!({"n": version}),
            metadata: Metadata {
                correlation_id: "c".to_owned(),
                causation_id: "k".to_owned(),
                actor: Actor::System {
                    name: "test".to_owned(),
                },
                idempotency_key: None,
                request_fingerprint: None,
            },
        })
        .collect();
    seal(GENESIS, envelopes)
}

/// The contract's golden samples (`events/samples`, e.g. `["AuctionCreated.v1", "BidPlaced.v1"]`)
/// as the first events of `aggregate_id`: versions 1, 2, ... in the order given, fresh event
/// ids, each stored in the schema version its sample is written in.
pub fn golden_history(
    aggregate_id: impl Into<Uuid>,
    samples: &[&str],
) -> std::io::Result<Vec<StoredEvent>> {
    let aggregate_id = aggregate_id.into();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/samples");
    let mut envelopes = Vec::with_capacity(samples.len());
    for (name, version) in samples.iter().zip(1..) {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json")))?;
        let mut envelope: RawEnvelope =
            serde_json::from_str(&text).map_err(std::io::Error::other)?;
        envelope.aggregate_id = aggregate_id;
        if let Some(id) = envelope.payload.get_mut("auctionId") {
            *id = json!(aggregate_id);
        }
        envelope.version = version;
        envelope.event_id = Uuid::new_v4();
        envelopes.push(envelope);
    }
    Ok(seal(GENESIS, envelopes))
}
