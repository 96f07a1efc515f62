//! What the projector's handler tests share: histories decided by the real domain and the stream
//! records DynamoDB would deliver for them. Each test binary uses a different part of it.

#![allow(dead_code)]

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::TimeDelta;
use domain::fixtures::lamp_auction;
use domain::{EndAuction, PlaceBid, decide_create, decide_end, decide_place_bid};
pub use event_store::testing::{context, epoch, eur, user};
use event_store::{InMemoryStore, SnapshotPolicy, Store, StoredEvent, event_item};
use events::{AuctionId, BidId};
use uuid::Uuid;

pub fn new_store() -> Store<InMemoryStore> {
    Store::new(InMemoryStore::new(), SnapshotPolicy::inline(100))
}

pub async fn create(store: &Store<InMemoryStore>, ends_in: TimeDelta) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let command = lamp_auction(auction_id, epoch() + ends_in);
    store
        .execute(auction_id, &context("seller", epoch()), |state, now| {
            decide_create(state, &command, now)
        })
        .await
        .unwrap();
    auction_id
}

pub async fn place_bid(
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

pub async fn end(store: &Store<InMemoryStore>, auction_id: AuctionId) {
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
pub async fn sold_to_ann(store: &Store<InMemoryStore>) -> AuctionId {
    let auction_id = create(store, TimeDelta::days(1)).await;
    place_bid(store, auction_id, "ann", 100, Some(500)).await;
    place_bid(store, auction_id, "bob", 200, None).await;
    end(store, auction_id).await;
    auction_id
}

/// The stream record DynamoDB writes for an event item.
pub fn record(stored: &StoredEvent, sequence: u64) -> EventRecord {
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

pub fn batch(records: Vec<EventRecord>) -> Event {
    let mut event = Event::default();
    event.records = records;
    event
}

pub fn records_of(events: &[StoredEvent], first_sequence: u64) -> Vec<EventRecord> {
    events
        .iter()
        .zip(first_sequence..)
        .map(|(event, sequence)| record(event, sequence))
        .collect()
}

pub fn failed(response: &aws_lambda_events::event::streams::DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}
