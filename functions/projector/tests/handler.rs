//! The stream handler and the query port on the in-memory twins: histories decided by the real
//! domain, delivered as Lambda stream records.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use auction_domain::{
    CreateAuction, EndAuction, PlaceBid, decide_create, decide_end, decide_place_bid,
};
use auction_events::{Actor, AuctionId, BidId, Currency, IncrementPolicy, Money, UserId};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use event_store::{CommandContext, InMemoryStore, SnapshotPolicy, Store, StoredEvent, event_item};
use projector::{
    AuctionStatus, BidStatus, Cursor, InMemoryViews, Limit, PageRequest, ProjectorError,
    ReadModels, handle,
};
use uuid::Uuid;

fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::try_from("EUR").unwrap())
}

fn context(actor: &str, now: DateTime<Utc>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: format!("corr-{}", Uuid::new_v4()),
        actor: Actor::User { id: user(actor) },
        idempotency_key: None,
        now,
    }
}

fn new_store() -> Store<InMemoryStore> {
    Store::new(
        InMemoryStore::new(),
        SnapshotPolicy {
            every: 100,
            in_background: false,
        },
    )
}

async fn create(store: &Store<InMemoryStore>, ends_in: TimeDelta) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let command = CreateAuction {
        auction_id,
        seller_id: user("seller"),
        title: "Lamp".to_owned(),
        description: None,
        currency: Currency::try_from("EUR").unwrap(),
        starting_price: eur(100),
        reserve_price: None,
        buy_now_price: None,
        increment: Some(IncrementPolicy::Fixed { amount_minor: 10 }),
        starts_at: None,
        ends_at: epoch() + ends_in,
        soft_close: None,
    };
    store
        .execute(auction_id, &context("seller", epoch()), |state, now| {
            decide_create(state, &command, now)
        })
        .await
        .unwrap();
    auction_id
}

async fn place_bid(
    store: &Store<InMemoryStore>,
    auction_id: AuctionId,
    bidder: &str,
    amount: i64,
    max: Option<i64>,
) {
    let command = PlaceBid {
        bid_id: BidId(Uuid::new_v4()),
        bidder_id: user(bidder),
        amount: eur(amount),
        max_amount: max.map(eur),
    };
    store
        .execute(
            auction_id,
            &context(bidder, epoch() + TimeDelta::minutes(1)),
            |state, now| decide_place_bid(state, &command, now),
        )
        .await
        .unwrap();
}

async fn end(store: &Store<InMemoryStore>, auction_id: AuctionId) {
    store
        .execute(
            auction_id,
            &context("scheduler", epoch() + TimeDelta::days(2)),
            |state, now| decide_end(state, &EndAuction, now),
        )
        .await
        .unwrap();
}

/// An ended auction: ann bid 1.00 with a maximum of 5.00, bob bid 2.00 and was outbid by
/// ann's proxy at 2.10, and ann won. Versions: created, started, bid, bid, ended.
async fn sold_to_ann(store: &Store<InMemoryStore>) -> AuctionId {
    let auction_id = create(store, TimeDelta::days(1)).await;
    place_bid(store, auction_id, "ann", 100, Some(500)).await;
    place_bid(store, auction_id, "bob", 200, None).await;
    end(store, auction_id).await;
    auction_id
}

/// The stream record DynamoDB writes for an event item.
fn record(stored: &StoredEvent, sequence: u64) -> EventRecord {
    let item = event_item(stored).unwrap();
    let keys: HashMap<String, AttributeValue> = ["aggregateId", "version"]
        .into_iter()
        .map(|name| (name.to_owned(), item[name].clone()))
        .collect();
    let mut record = EventRecord::default();
    record.event_id = format!("record-{sequence}");
    record.event_name = "INSERT".to_owned();
    record.change.keys = keys.into();
    record.change.new_image = item.into();
    record.change.sequence_number = Some(format!("{sequence:021}"));
    record
}

fn batch(records: Vec<EventRecord>) -> Event {
    let mut event = Event::default();
    event.records = records;
    event
}

fn records_of(events: &[StoredEvent], first_sequence: u64) -> Vec<EventRecord> {
    events
        .iter()
        .zip(first_sequence..)
        .map(|(event, sequence)| record(event, sequence))
        .collect()
}

fn failed(response: &aws_lambda_events::event::streams::DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_whole_history_in_one_batch_projects_the_auction_and_every_bidders_row() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();

    let response = handle(&views, store.backend(), batch(records_of(&events, 1)))
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

#[tokio::test]
async fn the_same_record_twice_leaves_the_views_unchanged() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();
    handle(&views, store.backend(), batch(records_of(&events, 1)))
        .await
        .unwrap();
    let view_before = views.auction(auction_id).await.unwrap();
    let rows_before = views.all_user_bids();

    let again = vec![record(&events[3], 4), record(&events[4], 5)];
    let response = handle(&views, store.backend(), batch(again)).await.unwrap();

    assert!(failed(&response).is_empty());
    assert_eq!(views.auction(auction_id).await.unwrap(), view_before);
    assert_eq!(views.all_user_bids(), rows_before);
}

#[tokio::test]
async fn an_older_record_after_a_newer_one_leaves_the_views_unchanged() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();
    handle(&views, store.backend(), batch(records_of(&events, 1)))
        .await
        .unwrap();
    let view_before = views.auction(auction_id).await.unwrap();
    let rows_before = views.all_user_bids();

    let older = vec![record(&events[2], 3)];
    let response = handle(&views, store.backend(), batch(older)).await.unwrap();

    assert!(failed(&response).is_empty());
    assert_eq!(views.auction(auction_id).await.unwrap(), view_before);
    assert_eq!(views.all_user_bids(), rows_before);
}

#[tokio::test]
async fn a_record_after_a_gap_is_applied_after_the_missing_events_are_read_from_the_log() {
    let store = new_store();
    let auction_id = sold_to_ann(&store).await;
    let events = store.backend().events(auction_id);
    let views = InMemoryViews::new();
    handle(&views, store.backend(), batch(vec![record(&events[0], 1)]))
        .await
        .unwrap();

    let response = handle(&views, store.backend(), batch(vec![record(&events[4], 5)]))
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

    let response = handle(&views, store.backend(), batch(records))
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
    handle(&views, store.backend(), batch(records_of(&events[..4], 1)))
        .await
        .unwrap();
    views.fail_next_writes(1);
    let end_and_other = || {
        let mut records = vec![record(&events[4], 5)];
        records.extend(records_of(&store.backend().events(other), 6));
        batch(records)
    };

    let first = handle(&views, store.backend(), end_and_other())
        .await
        .unwrap();
    let retry = handle(&views, store.backend(), end_and_other())
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

    let result = handle(&views, store.backend(), batch(records_of(&events, 1))).await;

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
        handle(&views, store.backend(), batch(records_of(&events, 1)))
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
            handle(&views, store.backend(), batch(records_of(&events, 1)))
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
        batch(vec![record(&not_a_creation, 1)]),
    )
    .await
    .unwrap();

    assert_eq!(failed(&response), vec![format!("{:021}", 1)]);
    assert_eq!(views.auction(auction_id).await.unwrap(), None);
}

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
    handle(&views, store.backend(), batch(records_of(&events[..1], 1)))
        .await
        .unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A gap (versions 2..=3 come from the log), then the rest.
    handle(&views, store.backend(), batch(records_of(&events[3..], 4)))
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
