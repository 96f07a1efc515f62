//! The Lambda's log lines, captured through its own format. A test binary of its own: tracing
//! caches per call site whether anyone listens, so a thread-scoped subscriber only sees every
//! line when no other test thread logs at the same time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use events::AuctionId;
use notifier::testing::{self, auction, contexts, outbid_message};
use read_models::notifications::InMemoryNotifications;

/// The message with its ids as attributes too, as the publisher sends them.
fn with_ids(mut message: SqsMessage) -> SqsMessage {
    for (name, value) in [("correlationId", "corr-1"), ("causationId", "cmd-1")] {
        let mut attribute = SqsMessageAttribute::default();
        attribute.data_type = Some("String".to_owned());
        attribute.string_value = Some(value.to_owned());
        message
            .message_attributes
            .insert(name.to_owned(), attribute);
    }
    message
}

fn message(id: &str, auction_id: AuctionId, body: String) -> SqsMessage {
    with_ids(testing::message(id, auction_id, body))
}

/// Cat's bid at 2.00 that took the lead from bob, caused by command `cmd-1` of correlation
/// `corr-1`.
fn outbid(id: &str, auction_id: AuctionId, version: u64) -> SqsMessage {
    with_ids(outbid_message(id, auction_id, version, (200, 200)))
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_log_line_of_a_message_carries_its_correlation_and_causation_ids() {
    // Given the Lambda's log format at debug level, and a batch with a message that is stored,
    // one that fails, one skipped behind it, and an unreadable one whose ids are attributes
    let captured = Captured::default();
    let writer = captured.clone();
    let logs = conventions::json_logs(
        move || writer.clone(),
        tracing_subscriber::EnvFilter::new("debug"),
    );
    let _guard = tracing::subscriber::set_default(logs);
    let mut event = SqsEvent::default();
    event.records = vec![
        outbid("stored", auction(1), 4),
        outbid("failing", auction(2), 4),
        outbid("skipped", auction(2), 5),
        message("bad", auction(3), "not json".to_owned()),
    ];

    // When the batch is handled
    let response = notifier::handle(
        &contexts(Some(auction(2))),
        &InMemoryNotifications::new(),
        &testing::mail(),
        event,
    )
    .await
    .unwrap();

    // Then the failures are reported, and every line logged names both ids
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["failing", "skipped", "bad"]);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let messages: BTreeSet<&str> = lines
        .iter()
        .filter_map(|line| line["fields"]["message"].as_str())
        .collect();
    for expected in [
        "notification stored",
        "notified",
        "message failed; reported as a batch item failure",
        "not handled: an earlier message of its group failed in this batch",
    ] {
        assert!(messages.contains(expected), "no {expected:?} in {text}");
    }
    for line in &lines {
        assert_eq!(line["span"]["correlation_id"], "corr-1", "{line}");
        assert_eq!(line["span"]["causation_id"], "cmd-1", "{line}");
    }
}
