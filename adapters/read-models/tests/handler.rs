//! The stream handler and the query port on the in-memory twins: histories decided by the real
//! domain, delivered as Lambda stream records.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aws_lambda_events::event::dynamodb::EventRecord;
use chrono::TimeDelta;
use event_store::StoredEvent;
use events::AuctionId;
use notary::InMemoryHeads;
use read_models::{
    AuctionStatus, BidStatus, Cursor, InMemoryViews, Limit, PageRequest, ProjectorError,
    ReadModels, handle,
};
use support::*;

#[tokio::test]
async fn a_whole_history_in_one_batch_projects_the_auction_and_every_bidders_row() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();

    let response = handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(records_of(&events, 1)),
    )
    .await
    .unwrap();

    assert!(failed(&response).is_empty());
    let view = views.auction(auction_id).await.unwrap().unwrap();
    assert_eq!(view.version, 5);
    assert_eq!(view.status, AuctionStatus::Ended);
    assert_eq!(view.current_price, Some(eur(210)));
    assert_eq!(view.bid_count, 2);
    let page = PageRequest::default();
    let ann = views.user_bids(&user("ann"), &page).await.unwrap().items;
    let bob = views.user_bids(&user("bob"), &page).await.unwrap().items;
    assert_eq!(ann[0].status, BidStatus::Won);
    assert_eq!(ann[0].my_max_bid, eur(500));
    assert_eq!(ann[0].amount_due, Some(eur(210)));
    assert_eq!(bob[0].status, BidStatus::Lost);
    assert_eq!(bob[0].my_highest_bid, eur(200));
    assert_eq!(bob[0].version, 5);
}

/// Ann's sale projected whole, then the records `again` picks delivered once more: none fails
/// and neither the view nor a row changes.
async fn assert_delivering_again_changes_nothing(
    again: impl FnOnce(&[StoredEvent]) -> Vec<EventRecord>,
) {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();
    handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(records_of(&events, 1)),
    )
    .await
    .unwrap();
    let view_before = views.auction(auction_id).await.unwrap();
    let rows_before = views.all_user_bids();

    let response = handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(again(&events)),
    )
    .await
    .unwrap();

    assert!(failed(&response).is_empty());
    assert_eq!(views.auction(auction_id).await.unwrap(), view_before);
    assert_eq!(views.all_user_bids(), rows_before);
}

#[tokio::test]
async fn the_same_record_twice_leaves_the_views_unchanged() {
    assert_delivering_again_changes_nothing(|events| {
        vec![record(&events[3], 4), record(&events[4], 5)]
    })
    .await;
}

#[tokio::test]
async fn an_older_record_after_a_newer_one_leaves_the_views_unchanged() {
    assert_delivering_again_changes_nothing(|events| vec![record(&events[2], 3)]).await;
}

#[tokio::test]
async fn a_record_after_a_gap_is_applied_after_the_missing_events_are_read_from_the_log() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();
    handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(vec![record(&events[0], 1)]),
    )
    .await
    .unwrap();

    let response = handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(vec![record(&events[4], 5)]),
    )
    .await
    .unwrap();

    assert!(failed(&response).is_empty());
    let view = views.auction(auction_id).await.unwrap().unwrap();
    assert_eq!(view.version, 5);
    assert_eq!(view.bid_count, 2);
    assert_eq!(views.all_user_bids().len(), 2);
}

#[tokio::test]
async fn an_unreadable_record_fails_with_its_auctions_later_records_while_other_auctions_flow() {
    let store = new_store();
    let broken = sold_to_ann(&store).await;
    let healthy = sold_to_ann(&store).await;
    let broken_events = store.backend().events(broken);
    let healthy_events = store.backend().events(healthy);
    let mut records = Vec::new();
    for (i, (b, h)) in broken_events.iter().zip(&healthy_events).enumerate() {
        let i = i as u64;
        let mut broken_record = record(b, 100 + 2 * i);
        if i == 2 {
            broken_record.change.new_image.insert(
                "payload".to_owned(),
                serde_dynamo::AttributeValue::S("{not json".to_owned()),
            );
        }
        records.push(broken_record);
        records.push(record(h, 101 + 2 * i));
    }
    let views = InMemoryViews::new();

    let response = handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(records),
    )
    .await
    .unwrap();

    let expected: Vec<String> = [104, 106, 108]
        .into_iter()
        .map(|s: u64| format!("{s:021}"))
        .collect();
    assert_eq!(failed(&response), expected);
    assert_eq!(
        views.auction(broken).await.unwrap().unwrap().version,
        2,
        "stops before the unreadable event"
    );
    assert_eq!(views.auction(healthy).await.unwrap().unwrap().version, 5);
}

#[tokio::test]
async fn a_failed_write_fails_the_record_and_its_retry_completes_every_row() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let other = create(&store, TimeDelta::days(1)).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();
    handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(records_of(&events[..4], 1)),
    )
    .await
    .unwrap();
    views.fail_next_writes(1);
    let end_and_other = || {
        let mut records = vec![record(&events[4], 5)];
        records.extend(records_of(&store.backend().events(other), 6));
        batch(records)
    };

    let first = handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        end_and_other(),
    )
    .await
    .unwrap();
    let retry = handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        end_and_other(),
    )
    .await
    .unwrap();

    assert_eq!(failed(&first), vec![format!("{:021}", 5)]);
    assert!(failed(&retry).is_empty());
    assert_eq!(views.auction(auction_id).await.unwrap().unwrap().version, 5);
    assert_eq!(views.auction(other).await.unwrap().unwrap().version, 2);
    let rows = views.all_user_bids();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.version == 5), "{rows:?}");
    assert!(rows.iter().any(|row| row.status == BidStatus::Won));
}

#[tokio::test]
async fn an_outage_that_fails_every_record_fails_the_invocation() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();
    views.fail_next_writes(100);

    let result = handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(records_of(&events, 1)),
    )
    .await;

    assert!(
        matches!(result, Err(ProjectorError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn listing_by_status_pages_through_every_auction_once_in_end_order() {
    let store = new_store();
    let mut expected = Vec::new();
    for days in [5, 1, 3, 2, 4] {
        let auction_id = create(&store, TimeDelta::days(days)).await;
        expected.push((days, auction_id));
    }
    expected.sort();
    let views = InMemoryViews::new();
    for (_, auction_id) in &expected {
        let events = store.backend().events(*auction_id);
        handle(
            &views,
            store.backend(),
            &InMemoryHeads::new(),
            batch(records_of(&events, 1)),
        )
        .await
        .unwrap();
    }

    let mut listed = Vec::new();
    let mut page = PageRequest {
        limit: Limit::new(2).unwrap(),
        cursor: None,
    };
    loop {
        let result = views
            .auctions_by_status(AuctionStatus::Active, &page)
            .await
            .unwrap();
        listed.extend(result.items.iter().map(|view| view.auction_id));
        match result.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }

    let ids: Vec<AuctionId> = expected.into_iter().map(|(_, id)| id).collect();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn a_garbled_cursor_or_one_from_another_listing_is_a_typed_error() {
    let views = InMemoryViews::new();
    let page = |cursor: &str| PageRequest {
        limit: Limit::default(),
        cursor: Some(Cursor::new(cursor)),
    };
    let other_status = {
        let store = new_store();
        for days in [1, 2] {
            let auction_id = create(&store, TimeDelta::days(days)).await;
            let events = store.backend().events(auction_id);
            handle(
                &views,
                store.backend(),
                &InMemoryHeads::new(),
                batch(records_of(&events, 1)),
            )
            .await
            .unwrap();
        }
        let first = PageRequest {
            limit: Limit::new(1).unwrap(),
            cursor: None,
        };
        views
            .auctions_by_status(AuctionStatus::Active, &first)
            .await
            .unwrap()
            .next
            .unwrap()
    };

    for cursor in ["not base64 !", "bm90IGpzb24", other_status.as_str()] {
        let result = views
            .auctions_by_status(AuctionStatus::Ended, &page(cursor))
            .await;
        assert!(
            matches!(result, Err(ProjectorError::InvalidCursor(_))),
            "{cursor}: {result:?}"
        );
    }
    let result = views
        .user_bids(&user("ann"), &page(other_status.as_str()))
        .await;
    assert!(matches!(result, Err(ProjectorError::InvalidCursor(_))));
}

#[test]
fn a_limit_outside_1_to_100_is_refused() {
    assert!(matches!(
        Limit::new(0),
        Err(ProjectorError::InvalidLimit { given: 0, .. })
    ));
    assert!(Limit::new(101).is_err());
    assert_eq!(Limit::new(100).unwrap().get(), 100);
}

#[tokio::test]
async fn a_history_that_does_not_start_with_the_creation_fails_its_record() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let mut not_a_creation = events[1].clone();
    not_a_creation.envelope.version = 1;
    let views = InMemoryViews::new();

    let response = handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(vec![record(&not_a_creation, 1)]),
    )
    .await
    .unwrap();

    assert_eq!(failed(&response), vec![format!("{:021}", 1)]);
    assert_eq!(views.auction(auction_id).await.unwrap(), None);
}

#[tokio::test]
async fn the_items_ledger_events_in_the_same_stream_are_passed_over_and_block_no_auction() {
    use domain::item::{ItemState, RegisterItem, decide_register};
    use events::ItemId;

    // Given an auction's history and its item's registration, interleaved on the stream
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let item_id = ItemId::for_auction(auction_id);
    store
        .execute(
            item_id,
            &context("seller", epoch()),
            |state: &ItemState, now| {
                let command = RegisterItem {
                    item_id,
                    auction_id,
                    owner: user("seller"),
                    title: "A lamp".to_owned(),
                };
                decide_register(state, &command, now)
            },
        )
        .await
        .unwrap();
    let auction = store.backend().events(auction_id);
    let item = store.backend().events(item_id);
    let records = vec![
        record(&auction[0], 1),
        record(&item[0], 2),
        record(&auction[1], 3),
        record(&auction[2], 4),
        record(&auction[3], 5),
        record(&auction[4], 6),
    ];
    let views = InMemoryViews::new();

    // When the batch is projected
    let response = handle(
        &views,
        store.backend(),
        &InMemoryHeads::new(),
        batch(records),
    )
    .await
    .unwrap();

    // Then nothing failed, the auction is projected whole, and the item has no view
    assert!(failed(&response).is_empty(), "{:?}", failed(&response));
    assert_eq!(views.auction(auction_id).await.unwrap().unwrap().version, 5);
    assert_eq!(views.auction(AuctionId(item_id.0)).await.unwrap(), None);
}

#[tokio::test]
async fn given_batches_of_a_stream_when_projected_then_its_head_moves_to_the_highest_version_and_never_back_or_sideways()
 {
    // Given Ann's sale (five events)
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let (views, heads) = (InMemoryViews::new(), InMemoryHeads::new());

    // When its first three events come in one batch, then the head is version 3's
    handle(
        &views,
        store.backend(),
        &heads,
        batch(records_of(&events[..3], 1)),
    )
    .await
    .unwrap();
    let head = heads.head(auction_id).unwrap();
    assert_eq!(
        (head.version, head.head.as_str()),
        (3, events[2].hash.as_str())
    );
    assert_eq!(head.aggregate_type, "Auction");

    // When the rest come, then version 5's
    handle(
        &views,
        store.backend(),
        &heads,
        batch(records_of(&events[3..], 4)),
    )
    .await
    .unwrap();
    assert_eq!(heads.head(auction_id).unwrap().version, 5);

    // When version 2 comes again, or as an edit (a MODIFY record of another content), then
    // the head stays at version 5's hash
    let mut edited = record(&events[4], 9);
    edited.event_name = "MODIFY".to_owned();
    handle(
        &views,
        store.backend(),
        &heads,
        batch(vec![record(&events[1], 7), edited]),
    )
    .await
    .unwrap();
    let head = heads.head(auction_id).unwrap();
    assert_eq!(
        (head.version, head.head.as_str()),
        (5, events[4].hash.as_str())
    );
}
