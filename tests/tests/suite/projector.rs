//! The projector against DynamoDB Local: real commands appended through the event store, their
//! items delivered as the Lambda stream records DynamoDB would send, the views read back
//! through the query port.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use domain::{EndAuction, PlaceBid, decide_create, decide_end, decide_place_bid};
use e2e::{TestEnv, fixtures};
use event_store::{CommandContext, DynamoDbStore, EventLog, Meter, Store, StoredEvent, event_item};
use events::{Actor, AuctionId, BidId, UserId};
use read_models::{
    AuctionStatus, AuctionView, BidStatus, Cursor, DynamoDbViews, Limit, PageRequest, Projections,
    ProjectorError, ReadModels, UserBid, Written, handle,
};
use uuid::Uuid;

fn context(actor: &str, now: DateTime<Utc>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: format!("corr-{}", Uuid::new_v4()),
        actor: Actor::User {
            id: fixtures::user(actor),
        },
        idempotency_key: None,
        now,
    }
}

/// An auction of the fixtures, ending `days` after the fixtures' epoch.
async fn create(store: &Store<DynamoDbStore>, days: i64) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let mut command = fixtures::create_command(auction_id);
    command.ends_at = fixtures::epoch() + TimeDelta::days(days);
    store
        .execute(
            auction_id,
            &context("seller", fixtures::epoch()),
            |state, now| decide_create(state, &command, now),
        )
        .await
        .unwrap();
    auction_id
}

async fn bid(
    store: &Store<DynamoDbStore>,
    auction_id: AuctionId,
    bidder: &str,
    amount: i64,
    max: Option<i64>,
) {
    let command = PlaceBid {
        bid_id: BidId(Uuid::new_v4()),
        bidder_id: fixtures::user(bidder),
        amount: fixtures::eur(amount),
        max_amount: max.map(fixtures::eur),
    };
    store
        .execute(
            auction_id,
            &context(bidder, fixtures::epoch() + TimeDelta::hours(1)),
            |state, now| decide_place_bid(state, &command, now),
        )
        .await
        .unwrap();
}

/// ann bids 1.00 (maximum 5.00), bob bids 2.00 and ann's proxy answers at 2.01, the auction
/// ends sold to ann. Versions: created, started, bid, bid, ended.
async fn sold_to_ann(store: &Store<DynamoDbStore>) -> AuctionId {
    let auction_id = create(store, 1).await;
    bid(store, auction_id, "ann", 100, Some(500)).await;
    bid(store, auction_id, "bob", 200, None).await;
    store
        .execute(
            auction_id,
            &context("scheduler", fixtures::epoch() + TimeDelta::days(2)),
            |state, now| decide_end(state, &EndAuction, now),
        )
        .await
        .unwrap();
    auction_id
}

async fn logged(env: &TestEnv, auction_id: AuctionId) -> Vec<StoredEvent> {
    env.event_store()
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap()
}

/// The stream record DynamoDB writes for a stored event, through Lambda's JSON shape.
fn record(stored: &StoredEvent, sequence: u64) -> EventRecord {
    let image: HashMap<String, AttributeValue> = event_item(stored).unwrap();
    let image = serde_dynamo::Item::from(image);
    let keys = serde_dynamo::Item::from(
        ["aggregateId", "version"]
            .into_iter()
            .map(|name| (name.to_owned(), image[name].clone()))
            .collect::<HashMap<_, _>>(),
    );
    let json = serde_json::json!({
        "eventID": format!("event-{sequence}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_767_225_600,
            "Keys": keys,
            "NewImage": image,
            "SequenceNumber": format!("{sequence:021}"),
            "SizeBytes": 700,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/Events/stream/x"
    });
    serde_json::from_value(json).unwrap()
}

fn batch(events: &[StoredEvent], first_sequence: u64) -> Event {
    let records: Vec<EventRecord> = events
        .iter()
        .zip(first_sequence..)
        .map(|(event, sequence)| record(event, sequence))
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

async fn project(env: &TestEnv, views: &DynamoDbViews, event: Event) {
    let response = handle(views, &env.event_store(), &env.heads(), event)
        .await
        .unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
}

async fn rows(views: &DynamoDbViews, user: &str) -> Vec<UserBid> {
    views
        .user_bids(&fixtures::user(user), &PageRequest::default())
        .await
        .unwrap()
        .items
}

async fn snapshot(views: &DynamoDbViews, auction_id: AuctionId) -> (AuctionView, Vec<UserBid>) {
    let view = views.auction(auction_id).await.unwrap().unwrap();
    let mut all = rows(views, "ann").await;
    all.extend(rows(views, "bob").await);
    (view, all)
}

#[tokio::test]
async fn given_a_sold_auction_when_its_records_are_handled_then_the_views_show_the_sale_and_each_bidders_standing()
 {
    let env = TestEnv::new().await;
    let store = env.store();
    let views = env.views();
    let auction_id = sold_to_ann(&store).await;
    let events = logged(&env, auction_id).await;

    project(&env, &views, batch(&events, 1)).await;

    let view = views.auction(auction_id).await.unwrap().unwrap();
    assert_eq!(view.version, 5);
    assert_eq!(view.status, AuctionStatus::Ended);
    assert_eq!(view.bid_count, 2);
    assert_eq!(view.current_price, Some(fixtures::eur(201)));
    assert_eq!(view.leader_id, Some(fixtures::user("ann")));
    let ann = rows(&views, "ann").await;
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0].status, BidStatus::Won);
    assert_eq!(ann[0].my_max_bid, fixtures::eur(500));
    assert_eq!(ann[0].amount_due, Some(fixtures::eur(201)));
    let bob = rows(&views, "bob").await;
    assert_eq!(bob[0].status, BidStatus::Lost);
    assert_eq!(bob[0].my_highest_bid, fixtures::eur(200));
    assert_eq!(bob[0].current_price, Some(fixtures::eur(201)));
    let ended = views
        .auctions_by_status(AuctionStatus::Ended, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(ended.items, vec![view]);
}

#[tokio::test]
async fn given_projected_views_when_the_same_record_comes_twice_or_an_older_one_comes_late_then_nothing_changes()
 {
    let env = TestEnv::new().await;
    let store = env.store();
    let views = env.views();
    let auction_id = sold_to_ann(&store).await;
    let events = logged(&env, auction_id).await;
    project(&env, &views, batch(&events, 1)).await;
    let before = snapshot(&views, auction_id).await;

    project(&env, &views, batch(&events[4..], 5)).await;
    project(&env, &views, batch(&events[2..3], 3)).await;

    assert_eq!(snapshot(&views, auction_id).await, before);
}

#[tokio::test]
async fn given_views_behind_the_log_when_a_later_record_arrives_then_the_gap_is_filled_from_the_log()
 {
    let env = TestEnv::new().await;
    let store = env.store();
    let views = env.views();
    let auction_id = sold_to_ann(&store).await;
    let events = logged(&env, auction_id).await;
    project(&env, &views, batch(&events[..1], 1)).await;

    project(&env, &views, batch(&events[4..], 5)).await;

    let (view, rows) = snapshot(&views, auction_id).await;
    assert_eq!(view.version, 5);
    assert_eq!(view.bid_count, 2);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.version == 5));
}

#[tokio::test]
async fn given_auctions_ending_at_different_times_when_listed_by_status_page_by_page_then_each_comes_once_in_end_order()
 {
    let env = TestEnv::new().await;
    let store = env.store();
    let views = env.views();
    let mut expected = Vec::new();
    for days in [5, 1, 4, 2, 3] {
        let auction_id = create(&store, days).await;
        project(&env, &views, batch(&logged(&env, auction_id).await, 1)).await;
        expected.push((days, auction_id));
    }
    expected.sort();

    let mut listed = Vec::new();
    let mut page = PageRequest {
        limit: Limit::new(2).unwrap(),
        cursor: None,
    };
    let mut pages = 0;
    loop {
        let result = views
            .auctions_by_status(AuctionStatus::Active, &page)
            .await
            .unwrap();
        pages += 1;
        listed.extend(result.items.iter().map(|view| view.auction_id));
        match result.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }

    let ids: Vec<AuctionId> = expected.into_iter().map(|(_, id)| id).collect();
    assert_eq!(listed, ids);
    assert!(pages >= 3, "5 auctions in pages of 2");
}

#[tokio::test]
async fn given_two_sellers_auctions_when_one_sellers_are_listed_page_by_page_then_each_of_hers_comes_once_latest_end_first()
 {
    // Given the fixture seller's auctions ending in 1 to 4 days, and another seller's
    let env = TestEnv::new().await;
    let store = env.store();
    let views = env.views();
    let mut hers = Vec::new();
    for days in [2, 4, 1, 3] {
        let auction_id = create(&store, days).await;
        project(&env, &views, batch(&logged(&env, auction_id).await, 1)).await;
        hers.push((days, auction_id));
    }
    let other = AuctionId(Uuid::new_v4());
    let mut command = fixtures::create_command(other);
    command.seller_id = fixtures::user("another-seller");
    store
        .execute(
            other,
            &context("another-seller", fixtures::epoch()),
            |state, now| decide_create(state, &command, now),
        )
        .await
        .unwrap();
    project(&env, &views, batch(&logged(&env, other).await, 1)).await;
    hers.sort_by(|a, b| b.cmp(a));

    // When hers are listed two at a time
    let seller = fixtures::user("seller");
    let mut listed = Vec::new();
    let mut page = PageRequest {
        limit: Limit::new(2).unwrap(),
        cursor: None,
    };
    loop {
        let result = views.auctions_by_seller(&seller, &page).await.unwrap();
        listed.extend(result.items);
        match result.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }

    // Then each comes once, latest end first, whole (from the views, not the keys-only index)
    let ids: Vec<AuctionId> = listed.iter().map(|view| view.auction_id).collect();
    assert_eq!(ids, hers.iter().map(|(_, id)| *id).collect::<Vec<_>>());
    assert!(
        listed
            .iter()
            .all(|view| view.title == "Fixture auction" && view.seller_id == seller)
    );
    // And her cursor does not page another seller's listing
    let foreign = views
        .auctions_by_seller(
            &fixtures::user("another-seller"),
            &PageRequest {
                limit: Limit::new(2).unwrap(),
                cursor: views
                    .auctions_by_seller(
                        &seller,
                        &PageRequest {
                            limit: Limit::new(1).unwrap(),
                            cursor: None,
                        },
                    )
                    .await
                    .unwrap()
                    .next,
            },
        )
        .await;
    assert!(matches!(foreign, Err(ProjectorError::InvalidCursor(_))));
}

#[tokio::test]
async fn given_a_garbled_or_foreign_cursor_when_listing_then_the_query_fails_with_a_typed_error_and_reads_nothing()
 {
    let env = TestEnv::new().await;
    let store = env.store();
    let views = env.views();
    for days in [1, 2] {
        let auction_id = create(&store, days).await;
        project(&env, &views, batch(&logged(&env, auction_id).await, 1)).await;
    }
    let active_cursor = views
        .auctions_by_status(
            AuctionStatus::Active,
            &PageRequest {
                limit: Limit::new(1).unwrap(),
                cursor: None,
            },
        )
        .await
        .unwrap()
        .next
        .unwrap();
    let with = |cursor: &str| PageRequest {
        limit: Limit::default(),
        cursor: Some(Cursor::new(cursor)),
    };

    let garbled = views
        .auctions_by_status(AuctionStatus::Active, &with("%%%"))
        .await;
    let other_status = views
        .auctions_by_status(AuctionStatus::Ended, &with(active_cursor.as_str()))
        .await;
    let other_listing = views
        .user_bids(
            &UserId::try_from("ann").unwrap(),
            &with(active_cursor.as_str()),
        )
        .await;

    assert!(matches!(garbled, Err(ProjectorError::InvalidCursor(_))));
    assert!(matches!(
        other_status,
        Err(ProjectorError::InvalidCursor(_))
    ));
    assert!(matches!(
        other_listing,
        Err(ProjectorError::InvalidCursor(_))
    ));
}

#[tokio::test]
async fn given_stored_views_when_an_older_projection_or_row_is_written_then_dynamodb_refuses_it_and_nothing_changes()
 {
    let env = TestEnv::new().await;
    let store = env.store();
    let views = env.views();
    let auction_id = sold_to_ann(&store).await;
    let events = logged(&env, auction_id).await;
    project(&env, &views, batch(&events, 1)).await;
    let before = snapshot(&views, auction_id).await;
    let older = events[..4]
        .iter()
        .map(|event| event.decode().unwrap())
        .fold(None, |projection, event| {
            read_models::project(projection, &event)
        })
        .unwrap();

    let projection_write = views.put_projection(&older).await.unwrap();
    let row_writes = write_rows(&views, &older.user_bids()).await;
    let same_version = views
        .put_projection(&views.load(auction_id).await.unwrap().unwrap())
        .await
        .unwrap();

    assert_eq!(projection_write, Written::AlreadyApplied);
    assert_eq!(row_writes, vec![Written::AlreadyApplied; 2]);
    assert_eq!(same_version, Written::AlreadyApplied);
    assert_eq!(snapshot(&views, auction_id).await, before);
}

async fn write_rows(views: &DynamoDbViews, rows: &[UserBid]) -> Vec<Written> {
    let mut written = Vec::new();
    for row in rows {
        written.push(views.put_user_bid(row).await.unwrap());
    }
    written
}

#[tokio::test]
async fn given_an_auction_with_a_reserve_when_it_is_read_back_then_only_whether_the_reserve_is_met_shows()
 {
    let env = TestEnv::new().await;
    let store = env.store();
    let views = env.views();
    let auction_id = AuctionId(Uuid::new_v4());
    let mut command = fixtures::create_command(auction_id);
    command.reserve_price = Some(fixtures::eur(43_210));
    store
        .execute(
            auction_id,
            &context("seller", fixtures::epoch()),
            |state, now| decide_create(state, &command, now),
        )
        .await
        .unwrap();
    project(&env, &views, batch(&logged(&env, auction_id).await, 1)).await;

    let view = views.auction(auction_id).await.unwrap().unwrap();
    let listed = views
        .auctions_by_status(AuctionStatus::Active, &PageRequest::default())
        .await
        .unwrap();

    assert!(view.has_reserve && !view.reserve_met);
    let shown = serde_json::to_string(&(view, listed.items)).unwrap();
    assert!(!shown.contains("43210"), "{shown}");
}
