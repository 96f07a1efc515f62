//! What the projector records per batch: records processed and failed, and each readable
//! record's lag, through a recorder of the test's own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use conventions::metrics::testing::recorded_async;
use notary::InMemoryHeads;
use read_models::{InMemoryViews, handle};
use support::*;

const PROJECTOR: [(&str, &str); 1] = [("Consumer", "projector")];

#[test]
fn given_a_batch_with_an_unreadable_record_when_projected_then_it_and_its_auctions_later_records_count_as_failed()
 {
    let (response, recorded) = recorded_async(async {
        // Given two sold auctions' histories (5 events each) interleaved in one batch, the
        // third event of the first one unreadable
        let store = new_store();
        let broken = sold_to_ann(&store).await;
        let healthy = sold_to_ann(&store).await;
        let mut records = Vec::new();
        let pairs = store
            .backend()
            .events(broken)
            .into_iter()
            .zip(store.backend().events(healthy));
        for (i, (b, h)) in pairs.enumerate() {
            let i = i as u64;
            let mut broken_record = record(&b, 100 + 2 * i);
            if i == 2 {
                broken_record.change.new_image.insert(
                    "payload".to_owned(),
                    serde_dynamo::AttributeValue::S("{not json".to_owned()),
                );
            }
            records.push(broken_record);
            records.push(record(&h, 101 + 2 * i));
        }

        // When the batch is projected
        handle(
            &InMemoryViews::new(),
            store.backend(),
            &InMemoryHeads::new(),
            batch(records),
        )
        .await
        .unwrap()
    });

    // Then the three reported failures count as failed, the seven others as processed, and
    // each of the nine records whose event could be read has a lag
    assert_eq!(response.batch_item_failures.len(), 3);
    assert_eq!(recorded.counter("RecordsFailed", &PROJECTOR), 3);
    assert_eq!(recorded.counter("RecordsProcessed", &PROJECTOR), 7);
    let lags = recorded.histogram("ConsumerLag", &PROJECTOR);
    assert_eq!(lags.len(), 9, "{lags:?}");
    assert!(lags.iter().all(|ms| *ms >= 0.0), "{lags:?}");
}

#[test]
fn given_an_outage_when_every_record_fails_then_the_whole_batch_counts_as_failed() {
    let (result, recorded) = recorded_async(async {
        // Given a sold auction's history and views that fail every write
        let store = new_store();
        let auction_id = sold_to_ann(&store).await;
        let events = store.backend().events(auction_id);
        let views = InMemoryViews::new();
        views.fail_next_writes(100);

        // When its batch is projected
        handle(
            &views,
            store.backend(),
            &InMemoryHeads::new(),
            batch(records_of(&events, 1)),
        )
        .await
    });

    // Then the invocation fails and all five records count as failed, none as processed
    assert!(result.is_err(), "{result:?}");
    assert_eq!(recorded.counter("RecordsFailed", &PROJECTOR), 5);
    assert_eq!(recorded.counter("RecordsProcessed", &PROJECTOR), 0);
}
