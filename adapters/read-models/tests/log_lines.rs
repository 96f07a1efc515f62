//! Log fields of the stream handler. This test installs a thread-local subscriber, so it runs in its
//! own binary: with other tests on other threads hitting the same callsites, tracing's interest
//! cache can race with the subscriber's registration and drop lines (seen once in CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use notary::InMemoryHeads;
use read_models::{InMemoryViews, handle};
use support::{batch, new_store, records_of, sold_to_ann};

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_log_line_about_a_record_carries_the_events_correlation_id() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();
    handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(records_of(&events[..1], 1)),
    )
    .await
    .unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    // The Lambdas' own format, so that the lines read here are the lines CloudWatch gets.
    let subscriber = conventions::json_logs(
        move || writer.clone(),
        tracing_subscriber::EnvFilter::new("info"),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    // A gap (versions 2..=3 come from the log), then the rest.
    handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(records_of(&events[3..], 4)),
    )
    .await
    .unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let correlation_ids: Vec<&str> = lines
        .iter()
        .filter(|line| line["fields"]["aggregate_id"].is_string())
        .map(|line| line["fields"]["correlation_id"].as_str().unwrap_or(""))
        .collect();
    let expected = [
        events[3].envelope.metadata.correlation_id.as_str(),
        events[3].envelope.metadata.correlation_id.as_str(),
        events[4].envelope.metadata.correlation_id.as_str(),
    ];
    assert_eq!(correlation_ids, expected, "{text}");
}
