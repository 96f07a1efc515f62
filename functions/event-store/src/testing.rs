//! Event histories for tests, chained as the store chains them. Compiled only with the
//! `testing` feature, which only dev-dependencies enable: nothing here ships in a function.

use std::path::Path;

use auction_events::{Actor, AuctionId, Metadata, RawEnvelope};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::StoredEvent;
use crate::chain::{GENESIS, seal};

/// An auction whose event at version v has type `types[v - 1]` and occurred at `at(v)`. The
/// payloads are not real events (they do not decode): for tests of storage, indexes and export,
/// which carry events without reading them.
pub fn typed_history(
    aggregate_id: AuctionId,
    types: &[&str],
    at: impl Fn(u64) -> DateTime<Utc>,
) -> Vec<StoredEvent> {
    let envelopes = types
        .iter()
        .zip(1..)
        .map(|(event_type, version)| RawEnvelope {
            event_id: Uuid::new_v4(),
            aggregate_id,
            aggregate_type: auction_events::AGGREGATE_TYPE.to_owned(),
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
            },
        })
        .collect();
    seal(GENESIS, envelopes)
}

/// The contract's golden samples (`events/samples`, e.g. `["AuctionCreated.v1", "BidPlaced.v1"]`)
/// as the first events of `aggregate_id`: versions 1, 2, ... in the order given, fresh event
/// ids, each stored in the schema version its sample is written in.
pub fn golden_history(
    aggregate_id: AuctionId,
    samples: &[&str],
) -> std::io::Result<Vec<StoredEvent>> {
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
