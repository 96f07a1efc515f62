//! A stored event item, as DynamoDB JSON (`{"aggregateId": {"S": "..."}, "version": {"N": "3"},
//! ...}`), read the way the event store reads its own items and stream images
//! (`event_store::event_from_image`), then decoded with the upcasters (`StoredEvent::decode`).
//! Errors are fine; a panic is not, and neither is a decoded event that does not re-encode to
//! itself (`auction_fuzz::check_decoded`).
#![no_main]

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(item) = serde_json::from_slice::<serde_dynamo::Item>(data) else {
        return;
    };
    let item: HashMap<String, AttributeValue> = item
        .into_inner()
        .into_iter()
        .map(|(name, value)| (name, value.into()))
        .collect();
    let Ok(stored) = event_store::event_from_image(&item) else {
        return;
    };
    let _ = stored.command_key();
    if let Ok(event) = stored.decode() {
        auction_fuzz::check_decoded(&event);
    }
});
