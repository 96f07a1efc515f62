//! The event contract of the auction platform: the envelope every stored event travels in, the
//! Auction event payloads, their schema versions and the upcasters that read old versions.
//!
//! This is the wire format shared by the event store, the stream consumers, the queues and every
//! other language that reads the log, so it only ever changes additively: a new field or a new
//! meaning gets a new `schemaVersion` and an upcaster from the old one. JSON Schemas of the current
//! versions live in `events/schemas/` and golden samples in `events/samples/`; tests fail when the
//! code drifts from either.
//!
//! It also holds the two traits a store needs to keep any aggregate's events
//! ([`EventCodec`], [`Aggregate`]); the Auction's codec is [`AuctionEvent`] itself. The second
//! aggregate's contract, the Item's (the lot an auction sells and its owners), is [`ItemEvent`];
//! the third, the Subject's (a subject of personal data forgotten), is [`SubjectEvent`].
//!
//! Must not depend on the domain, on any AWS crate, or on I/O: it is plain data plus (de)coding.

mod codec;
mod envelope;
mod error;
mod ids;
mod item;
mod money;
mod payloads;
pub mod schema;
mod subject;
mod upcast;

pub use codec::{Aggregate, AggregateId, EventCodec};
pub use envelope::{AGGREGATE_TYPE, Actor, Envelope, EventEnvelope, Metadata, RawEnvelope};
pub use error::DecodeError;
pub use ids::{AuctionId, BidId, InvalidUserId, ItemId, SubjectId, UserId};
pub use item::{
    ITEM_AGGREGATE_TYPE, ItemEvent, ItemRegistered, ItemRelisted, OwnershipTransferred,
    TransferReversed,
};
pub use money::{Currency, InvalidCurrency, Money};
pub use payloads::{
    AuctionCancelled, AuctionCreated, AuctionEnded, AuctionEvent, AuctionExtended, AuctionRelisted,
    AuctionResult, AuctionStarted, BidPlaced, EndTrigger, IncrementBand, IncrementPolicy,
    ItemOfferedToRunnerUp, MaxBidRaised, Payload, PaymentFailed, PaymentSucceeded, SoftClose,
    UnsoldReason,
};
pub use subject::{SUBJECT_AGGREGATE_TYPE, SubjectEvent, SubjectForgotten};
pub use upcast::legacy;
