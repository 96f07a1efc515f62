//! A DynamoDB stream record (or a whole batch) as Lambda delivers it, parsed into
//! `aws_lambda_events`' types and read by `stream_records::stored_event` (what the projector and
//! the publisher call), then decoded with the upcasters. Errors are fine; a panic is not, and
//! neither is a decoded event that does not re-encode to itself.
#![no_main]

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use libfuzzer_sys::fuzz_target;
use stream_records::{Failures, aggregate_of, stored_event};

fn read(record: &EventRecord) -> bool {
    let _ = aggregate_of(record);
    match stored_event(record) {
        Ok(stored) => {
            if let Ok(event) = stored.decode() {
                auction_fuzz::check_decoded(&event);
            }
            true
        }
        Err(error) => {
            let _ = error.to_string();
            false
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = serde_json::from_slice::<EventRecord>(data) {
        read(&record);
    } else if let Ok(batch) = serde_json::from_slice::<Event>(data) {
        let mut failures = Failures::new();
        for record in &batch.records {
            if !read(record) {
                failures.fail(record);
            }
        }
        let failed = failures.len();
        assert_eq!(
            failures.into_response().batch_item_failures.len(),
            failed,
            "every failed record is reported"
        );
    }
});
