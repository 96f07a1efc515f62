//! JSON Schemas generated from the payload types. The checked-in copies under `events/schemas/`
//! are what other languages read; a test fails when they and the code disagree.

use schemars::{JsonSchema, schema_for};
use serde_json::Value;

use crate::envelope::RawEnvelope;
use crate::item::{ItemRegistered, ItemRelisted, OwnershipTransferred, TransferReversed};
use crate::payloads::*;
use crate::subject::SubjectForgotten;
use crate::upcast::legacy;

/// Every schema this contract publishes, by file name: the envelope, each event type at its
/// current version (the Auction's, the Item's and the Subject's), and the legacy versions that can still be
/// read.
pub fn all() -> Vec<(String, Value)> {
    let mut schemas = vec![("envelope.schema.json".to_owned(), of::<RawEnvelope>())];
    schemas.extend([
        current::<AuctionCreated>(),
        current::<AuctionStarted>(),
        current::<BidPlaced>(),
        current::<MaxBidRaised>(),
        current::<AuctionExtended>(),
        current::<AuctionEnded>(),
        current::<AuctionCancelled>(),
        current::<PaymentSucceeded>(),
        current::<PaymentFailed>(),
        current::<ItemOfferedToRunnerUp>(),
        current::<AuctionRelisted>(),
        current::<ItemRegistered>(),
        current::<ItemRelisted>(),
        current::<OwnershipTransferred>(),
        current::<TransferReversed>(),
        current::<SubjectForgotten>(),
        (
            file_name(AuctionCreated::EVENT_TYPE, 1),
            of::<legacy::AuctionCreatedV1>(),
        ),
        (
            file_name(AuctionCreated::EVENT_TYPE, 2),
            of::<legacy::AuctionCreatedV2>(),
        ),
        (
            file_name(BidPlaced::EVENT_TYPE, 1),
            of::<legacy::BidPlacedV1>(),
        ),
    ]);
    schemas
}

/// The schema file name of one version of one event type.
pub fn file_name(event_type: &str, schema_version: u32) -> String {
    format!("{event_type}.v{schema_version}.schema.json")
}

fn current<P: Payload + JsonSchema>() -> (String, Value) {
    (file_name(P::EVENT_TYPE, P::SCHEMA_VERSION), of::<P>())
}

fn of<T: JsonSchema>() -> Value {
    schema_for!(T).to_value()
}
