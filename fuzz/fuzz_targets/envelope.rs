//! Raw envelope JSON, as the events contract defines it (events/samples), decoded with the
//! upcasters: one envelope, or a history (a JSON array of envelopes) folded into an aggregate.
//! Errors are fine; a panic is not, and neither is a decoded event that does not re-encode to
//! itself (`auction_fuzz::check_decoded`).
#![no_main]

use events::{EventEnvelope, RawEnvelope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = serde_json::from_slice::<RawEnvelope>(data) {
        if let Ok(event) = raw.decode() {
            auction_fuzz::check_decoded(&event);
        }
    } else if let Ok(history) = serde_json::from_slice::<Vec<RawEnvelope>>(data) {
        let events: Vec<EventEnvelope> = history
            .into_iter()
            .filter_map(|raw| raw.decode().ok())
            .collect();
        for event in &events {
            auction_fuzz::check_decoded(event);
        }
        auction_fuzz::check_history(&events);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = EventEnvelope::from_json(text);
    }
});
