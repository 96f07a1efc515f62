//! What a store needs to know about one kind of aggregate, in two traits that name no storage:
//! [`EventCodec`], how its events travel (the stream's aggregate type, each event's type and
//! schema version, encoding, and decoding with upcasting), and [`Aggregate`], how its state is
//! folded from them (initial state, `evolve`, the snapshot format). After Equinox's aggregate
//! modules (a codec plus `initial`/`fold`), fmodel's decider and cqrs-es's `Aggregate`.
//!
//! They live here, with the wire contract, because everything that stores or reads events
//! depends on this crate and nothing else of the domain: the event store is generic over them and
//! never names the Auction. A new aggregate costs one codec (for its events) and one domain
//! module (its state and decisions), nothing in the store.

use std::fmt::{Debug, Display};
use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::error::DecodeError;

/// What an aggregate's typed id must be: a plain UUID on the wire and in the store, typed in the
/// code. Every type with these bounds is one.
pub trait AggregateId:
    Copy + Eq + Hash + Ord + Debug + Display + From<Uuid> + Into<Uuid> + Send + Sync + 'static
{
}

impl<T> AggregateId for T where
    T: Copy + Eq + Hash + Ord + Debug + Display + From<Uuid> + Into<Uuid> + Send + Sync + 'static
{
}

/// How the events of one aggregate type are written to and read from the wire.
pub trait EventCodec: 'static {
    /// The events, in the current model. Their serde form is the payload at the current schema
    /// version.
    type Event: Clone + Debug + PartialEq + Serialize + Send + Sync + 'static;
    /// The aggregate's typed id; on the wire (and in the store) a plain UUID.
    type Id: AggregateId;

    /// The stream's name: the envelope's `aggregateType`. Decoding refuses any other.
    const AGGREGATE_TYPE: &'static str;

    /// The envelope's `eventType` of `event`.
    fn event_type(event: &Self::Event) -> &'static str;

    /// The schema version this code writes for `event`'s type.
    fn schema_version(event: &Self::Event) -> u32;

    /// The payload of `event`, at its current schema version.
    fn encode(event: &Self::Event) -> Result<Value, serde_json::Error> {
        serde_json::to_value(event)
    }

    /// Reads a payload of any schema version this code knows, upcasting it to the current model.
    fn decode(
        event_type: &str,
        schema_version: u32,
        payload: Value,
    ) -> Result<Self::Event, DecodeError>;

    /// Where a payload of `event_type` holds personal data: JSON pointers (RFC 6901), of any
    /// schema version (a pointer a version lacks is skipped). The log keeps a pseudonym there
    /// instead of the user id (docs/privacy.md). None by default.
    fn personal_fields(event_type: &str) -> &'static [&'static str] {
        let _ = event_type;
        &[]
    }
}

/// An aggregate as a store sees it: a state that starts at [`Default`] and folds events with
/// [`Aggregate::evolve`], serializable for snapshots. Deciding stays with the domain: the store
/// takes a decision as a closure `(&State, now) -> Result<Vec<Event>, Rejection>`.
pub trait Aggregate:
    Default + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The events it folds; also its codec's.
    type Event: Clone + Debug + PartialEq + Serialize + Send + Sync + 'static;
    /// Its typed id; also its codec's.
    type Id: AggregateId;
    /// Why a decision refuses a command.
    type Rejection: std::error::Error + Send + Sync + 'static;
    /// How its events travel.
    type Codec: EventCodec<Event = Self::Event, Id = Self::Id>;

    /// The version of the state's serialized form: a snapshot of any other format is ignored and
    /// the state rebuilt from the events. Bump it whenever the state's shape or meaning changes.
    const SNAPSHOT_FORMAT: u32;

    /// Whether the decisions recognise a command that already took effect from the state alone,
    /// by returning no events, for as long as a client may retry it; the caller then derives
    /// each command's id from its idempotency key, so that a key's retry or reuse is the same
    /// command to the decision. The store then keeps no idempotency record: the commit carries
    /// the key and the request's fingerprint, a retry is answered from the log, and a command
    /// costs one write. Otherwise (the default) the store writes a record per keyed command and
    /// reads it beside every load.
    const DECISIONS_RECOGNISE_RETRIES: bool = false;

    /// The state after one more event.
    fn evolve(self, event: &Self::Event) -> Self;

    /// The state after `events`, from the initial one.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self {
        events.into_iter().fold(Self::default(), Self::evolve)
    }
}
