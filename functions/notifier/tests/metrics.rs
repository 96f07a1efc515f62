//! What the notifier records per batch: messages processed and failed, and each readable
//! message's lag, through a recorder of the test's own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lambda_events::event::sqs::SqsEvent;
use conventions::metrics::testing::recorded_async;
use notifier::testing::{auction, contexts, message, outbid_message};
use read_models::notifications::InMemoryNotifications;

#[test]
fn given_a_batch_with_failing_and_unreadable_messages_when_handled_then_each_counts_as_processed_or_failed()
 {
    let (response, recorded) = recorded_async(async {
        // Given a message that is stored, one whose auction cannot be read, one held back
        // behind it, and an unreadable one
        let mut event = SqsEvent::default();
        event.records = vec![
            outbid_message("stored", auction(1), 4, (200, 200)),
            outbid_message("failing", auction(2), 4, (200, 200)),
            outbid_message("skipped", auction(2), 5, (300, 300)),
            message("bad", auction(3), "not json".to_owned()),
        ];

        // When the batch is handled
        notifier::handle(
            &contexts(Some(auction(2))),
            &InMemoryNotifications::new(),
            &notifier::testing::mail(),
            event,
        )
        .await
        .unwrap()
    });

    // Then the three reported messages count as failed and the stored one as processed; the
    // three readable ones have their lag
    assert_eq!(response.batch_item_failures.len(), 3);
    let notifier = [("Consumer", "notifier")];
    assert_eq!(recorded.counter("RecordsFailed", &notifier), 3);
    assert_eq!(recorded.counter("RecordsProcessed", &notifier), 1);
    assert_eq!(recorded.histogram("ConsumerLag", &notifier).len(), 3);
}
