//! The event store's invariants against DynamoDB Local.

use std::collections::{HashMap, HashSet};

use crate::support::created;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{State, fold};
use e2e::{TestEnv, fixtures};
use event_store::chain::{self, Tampered};
use event_store::{
    DynamoDbStore, EventLog, Meter, NewestEvents, Snapshots, Store, StoreError, item_size,
};
use events::{AuctionId, BidId};
use uuid::Uuid;

/// Every stored event of an auction, read consistently.
async fn stored(env: &TestEnv, auction_id: AuctionId) -> Vec<event_store::StoredEvent> {
    env.event_store()
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap()
}

async fn bid(
    store: &Store<DynamoDbStore>,
    auction_id: AuctionId,
    bidder: &str,
    key: Option<&str>,
) -> event_store::Outcome<State> {
    let bidder = fixtures::user(bidder);
    let bid_id = key.map_or_else(
        || BidId(Uuid::new_v4()),
        |key| BidId(Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes())),
    );
    store
        .execute(
            auction_id,
            &fixtures::context(&bidder, key.map(str::to_owned)),
            |state, now| fixtures::outbid(&bidder, bid_id, state, now),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retried_command_after_other_bids_appends_nothing_and_returns_the_first_outcome() {
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(100);
    let auction_id = created(&store).await;
    // Given bob's bid with a key was accepted, and cat bid twice since
    let first = bid(&store, auction_id, "bob", Some("bob-key-1")).await;
    bid(&store, auction_id, "cat", None).await;
    bid(&store, auction_id, "cat", None).await;
    // When bob's client retries
    let retry = bid(&store, auction_id, "bob", Some("bob-key-1")).await;
    // Then the first outcome comes back and nothing was appended
    assert!(retry.replayed);
    assert_eq!(retry.events, first.events);
    assert_eq!(retry.cost.append.write_requests, 0);
    let stored = stored(&env, auction_id).await;
    assert_eq!(stored.len(), 5);
}

#[tokio::test]
async fn a_retry_whose_record_was_lost_is_found_in_the_log() {
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(100);
    let auction_id = created(&store).await;
    let first = bid(&store, auction_id, "bob", Some("bob-key-2")).await;
    bid(&store, auction_id, "cat", None).await;
    // The process died between the append and the record
    env.dynamodb()
        .delete_item()
        .table_name(&env.names().idempotency_table)
        .key(
            "commandKey",
            AttributeValue::S("user:bob#bob-key-2".to_owned()),
        )
        .send()
        .await
        .unwrap();
    let retry = bid(&store, auction_id, "bob", Some("bob-key-2")).await;
    assert!(retry.replayed);
    assert_eq!(retry.events, first.events);
    let stored = stored(&env, auction_id).await;
    assert_eq!(stored.len(), 4);
}

#[tokio::test]
async fn a_key_reused_on_another_request_after_its_record_was_lost_is_refused_by_the_fingerprint_in_the_log()
 {
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(100);
    let auction_id = created(&store).await;
    // Given bob's bid under bob-key-3 was appended and its record lost
    bid(&store, auction_id, "bob", Some("bob-key-3")).await;
    let stored_bid = stored(&env, auction_id).await.pop().unwrap();
    assert_eq!(
        stored_bid.envelope.metadata.request_fingerprint.as_deref(),
        Some("fingerprint:bob-key-3")
    );
    env.dynamodb()
        .delete_item()
        .table_name(&env.names().idempotency_table)
        .key(
            "commandKey",
            AttributeValue::S("user:bob#bob-key-3".to_owned()),
        )
        .send()
        .await
        .unwrap();
    // When another request comes under the key (its bid id is taken: the decision is empty)
    let bob = fixtures::user("bob");
    let mut other = fixtures::context(&bob, Some("bob-key-3".to_owned()));
    if let Some(key) = other.idempotency_key.as_mut() {
        key.fingerprint = "fingerprint:another body".to_owned();
    }
    let bid_id = BidId(Uuid::new_v5(&Uuid::NAMESPACE_OID, b"bob-key-3"));
    let error = store
        .execute(auction_id, &other, |state, now| {
            fixtures::outbid(&bob, bid_id, state, now)
        })
        .await
        .unwrap_err();
    // Then it is refused and nothing is appended
    assert!(
        matches!(
            error,
            event_store::CommandError::Store(StoreError::IdempotencyKeyReused)
        ),
        "{error:?}"
    );
    assert_eq!(stored(&env, auction_id).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_of_one_command_append_once_and_answer_alike() {
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(100);
    let auction_id = created(&store).await;
    // Four copies of one request, each through its own process (its own cache)
    // Collected before any is awaited, so that all of them run at once.
    let attempts: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone().with_cache(10);
            tokio::spawn(async move { bid(&store, auction_id, "bob", Some("dup-key")).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for attempt in attempts {
        outcomes.push(attempt.await.unwrap());
    }
    for outcome in &outcomes {
        assert_eq!(outcome.events, outcomes[0].events);
        assert_eq!(outcome.events.len(), 1);
    }
    let stored = stored(&env, auction_id).await;
    assert_eq!(stored.len(), 3);
}

#[tokio::test]
async fn one_accepted_bid_is_one_write_request_of_one_write_unit() {
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(100);
    let auction_id = created(&store).await;
    let outcome = bid(&store, auction_id, "bob", Some("k")).await;
    assert_eq!(outcome.cost.append.write_requests, 1);
    assert_eq!(outcome.cost.append.write_units, 1.0);
    let stored = env
        .event_store()
        .read_after(auction_id, 3, &Meter::default())
        .await
        .unwrap();
    assert!(stored.is_empty());
    let item = env
        .dynamodb()
        .get_item()
        .table_name(env.events_table())
        .key("aggregateId", AttributeValue::S(auction_id.to_string()))
        .key("version", AttributeValue::N("3".to_owned()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(
        item_size(&item) < 1024,
        "a bid item is {} bytes",
        item_size(&item)
    );
}

async fn imported_history(
    env: &TestEnv,
    bids: usize,
) -> (AuctionId, Vec<event_store::StoredEvent>, State) {
    let (auction_id, events) = if bids == LONG_HISTORY_BIDS {
        long_history().await.clone()
    } else {
        fixtures::history(bids).await.unwrap()
    };
    fixtures::import_quickly(&env.event_store(), &events)
        .await
        .unwrap();
    let decoded: Vec<_> = events
        .iter()
        .map(|e| e.decode::<events::AuctionEvent>().unwrap())
        .collect();
    (auction_id, events, fold(decoded.iter().map(|e| &e.event)))
}

/// The bids of the 10,000-event history (with its creation and start).
const LONG_HISTORY_BIDS: usize = 9_998;

/// The 10,000-event history two tests import, each into its own tables: decided once per run
/// (10,000 commands through the in-memory store take seconds of a debug build's time).
async fn long_history() -> &'static (AuctionId, Vec<event_store::StoredEvent>) {
    static HISTORY: tokio::sync::OnceCell<(AuctionId, Vec<event_store::StoredEvent>)> =
        tokio::sync::OnceCell::const_new();
    HISTORY
        .get_or_init(|| async { fixtures::history(LONG_HISTORY_BIDS).await.unwrap() })
        .await
}

#[tokio::test]
async fn a_ten_thousand_event_auction_loads_via_its_snapshot_in_at_most_two_requests() {
    // Given 10,000 events and the snapshot the store keeps at every 100th
    let env = TestEnv::new().await;
    let (auction_id, events, state) = imported_history(&env, LONG_HISTORY_BIDS).await;
    let snapshot = fixtures::snapshot_of(auction_id, &events).unwrap();
    env.event_store()
        .put_snapshot(&snapshot, &Meter::default())
        .await
        .unwrap();
    // When it is loaded
    let meter = Meter::default();
    let loaded = env
        .store_snapshotting(100)
        .load::<State>(auction_id, &meter)
        .await
        .unwrap();
    // Then two requests sufficed and the state is the full fold
    assert_eq!(meter.cost().load.read_requests, 2);
    assert_eq!(loaded.snapshot_version, Some(10_000));
    assert_eq!(loaded.state, state);
    // And the next bid appends at 10,001
    let outcome = bid(&env.store_snapshotting(100), auction_id, "dan", None).await;
    assert_eq!(outcome.events[0].version, 10_001);
}

#[tokio::test]
async fn a_page_of_the_newest_events_costs_one_read_of_its_own_events_whatever_the_history_length()
{
    // Given an auction of 10 events and one of 10,000
    let env = TestEnv::new().await;
    let (short, _, _) = imported_history(&env, 8).await;
    let (long, _, _) = imported_history(&env, LONG_HISTORY_BIDS).await;
    let page = |auction_id: AuctionId, older_than: Option<u64>| {
        let store = env.event_store();
        async move {
            let meter = Meter::default();
            let page = store
                .newest_events(auction_id, older_than, 20, &meter)
                .await
                .unwrap();
            (page, meter.cost().total())
        }
    };
    // When the newest 20 events of each are read
    let (short_page, short_cost) = page(short, None).await;
    let (long_page, long_cost) = page(long, None).await;
    // Then each is one read request, newest first, and the long history's page reads only its
    // own 20 events: its read units are those of a page, not of the history
    assert_eq!((short_cost.read_requests, long_cost.read_requests), (1, 1));
    let versions = |events: &[event_store::StoredEvent]| {
        events.iter().map(|e| e.version()).collect::<Vec<_>>()
    };
    assert_eq!(
        versions(&short_page.events),
        (1..=10).rev().collect::<Vec<_>>()
    );
    assert_eq!(short_page.older_than, None);
    assert_eq!(
        versions(&long_page.events),
        (9_981..=10_000).rev().collect::<Vec<_>>()
    );
    assert_eq!(long_page.older_than, Some(9_981));
    let full = Meter::default();
    env.event_store().read_after(long, 0, &full).await.unwrap();
    println!(
        "newest 20 events: {} RCU of 10 events, {} RCU of 10,000 (the whole history: {} RCU)",
        short_cost.read_units,
        long_cost.read_units,
        full.cost().total().read_units
    );
    assert!(
        long_cost.read_units <= 2.0 * short_cost.read_units.max(1.0) + 2.0,
        "{long_cost:?} against {short_cost:?}"
    );
    // And the cursor continues right below the page
    let (next, _) = page(long, long_page.older_than).await;
    assert_eq!(
        versions(&next.events),
        (9_961..=9_980).rev().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_history_over_one_megabyte_loads_completely_without_a_snapshot() {
    let env = TestEnv::new().await;
    let (auction_id, events, state) = imported_history(&env, 1_998).await;
    let bytes: usize = events
        .iter()
        .map(|e| item_size(&event_store::event_item(e).unwrap()))
        .sum();
    assert!(bytes > 1024 * 1024, "history is only {bytes} bytes");
    let meter = Meter::default();
    let loaded = env
        .store_snapshotting(0)
        .load::<State>(auction_id, &meter)
        .await
        .unwrap();
    assert_eq!(loaded.state, state);
    assert!(
        meter.cost().load.read_requests > 1,
        "a 1 MB page limit means several pages"
    );
}

mod conflicts {
    use super::*;

    async fn two_events() -> (AuctionId, Vec<event_store::StoredEvent>) {
        fixtures::history(0).await.unwrap()
    }

    #[tokio::test]
    async fn a_version_held_by_another_writer_is_reported_with_that_writers_event() {
        let env = TestEnv::new().await;
        let log = env.event_store();
        // Given version 1 and 2 of an auction were appended
        let (auction_id, ours) = two_events().await;
        log.append(&ours, &Meter::default()).await.unwrap();
        // When another history of the same auction tries version 1 and 2
        let (_, mut theirs) = two_events().await;
        for event in &mut theirs {
            event.envelope.aggregate_id = auction_id.into();
        }
        let error = log.append(&theirs, &Meter::default()).await.unwrap_err();
        // Then the version is taken, and the event holding it is ours
        let StoreError::VersionTaken {
            version,
            existing: Some(existing),
            ..
        } = error
        else {
            panic!("expected VersionTaken with the existing event, got {error:?}");
        };
        assert_eq!(version, 1);
        assert_eq!(existing.envelope.event_id, ours[0].envelope.event_id);
    }

    #[tokio::test]
    async fn a_repeated_single_append_is_recognisable_as_our_own_by_event_id() {
        let env = TestEnv::new().await;
        let log = env.event_store();
        let (_, events) = two_events().await;
        log.append(&events[..1], &Meter::default()).await.unwrap();
        let error = log
            .append(&events[..1], &Meter::default())
            .await
            .unwrap_err();
        let StoreError::VersionTaken {
            existing: Some(existing),
            ..
        } = error
        else {
            panic!("expected VersionTaken with the existing event, got {error:?}");
        };
        assert_eq!(*existing, events[0]);
    }

    #[tokio::test]
    async fn a_transaction_colliding_on_its_second_event_writes_nothing_and_names_that_version() {
        let env = TestEnv::new().await;
        let log = env.event_store();
        // Given versions 1 to 3 are stored
        let (auction_id, events) = fixtures::history(2).await.unwrap();
        log.append(&events[..3], &Meter::default()).await.unwrap();
        // When a transaction writes version 4 (free) and version 3 (taken)
        let attempt = vec![events[3].clone(), events[2].clone()];
        let error = log.append(&attempt, &Meter::default()).await.unwrap_err();
        // Then the cancellation names version 3
        let StoreError::VersionTaken { version, .. } = error else {
            panic!("expected VersionTaken, got {error:?}");
        };
        assert_eq!(version, 3);
        // And version 4 was not written
        let stored = stored(&env, auction_id).await;
        assert_eq!(stored.len(), 3);
    }

    #[tokio::test]
    async fn an_oversized_event_is_refused_before_anything_is_written() {
        let env = TestEnv::new().await;
        let log = env.event_store();
        let (auction_id, mut events) = fixtures::history(0).await.unwrap();
        events[1].envelope.payload = serde_json::json!({"padding": "x".repeat(410 * 1024)});
        let error = log.append(&events, &Meter::default()).await.unwrap_err();
        assert!(
            matches!(error, StoreError::ItemTooLarge { version: 2, .. }),
            "{error:?}"
        );
        let stored = stored(&env, auction_id).await;
        assert!(stored.is_empty());
    }
}

mod tampering {
    use super::*;

    async fn stored_history(env: &TestEnv) -> AuctionId {
        let (auction_id, _, _) = imported_history(env, 6).await;
        auction_id
    }

    fn key(auction_id: AuctionId, version: u64) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                "aggregateId".to_owned(),
                AttributeValue::S(auction_id.to_string()),
            ),
            ("version".to_owned(), AttributeValue::N(version.to_string())),
        ])
    }

    async fn verify(env: &TestEnv, auction_id: AuctionId) -> Result<chain::Verified, Tampered> {
        let stored = env
            .event_store()
            .read_all(auction_id, &Meter::default())
            .await
            .unwrap();
        chain::verify(auction_id, &stored)
    }

    #[tokio::test]
    async fn an_untouched_log_verifies() {
        let env = TestEnv::new().await;
        let auction_id = stored_history(&env).await;
        assert_eq!(verify(&env, auction_id).await.unwrap().events, 8);
    }

    #[tokio::test]
    async fn an_event_edited_with_the_sdk_fails_verification_at_that_event() {
        let env = TestEnv::new().await;
        let auction_id = stored_history(&env).await;
        let item = env
            .dynamodb()
            .get_item()
            .table_name(env.events_table())
            .set_key(Some(key(auction_id, 5)))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let payload = item["payload"]
            .as_s()
            .unwrap()
            .replace("\"bidderId\":\"bob\"", "\"bidderId\":\"mallory\"")
            .replace("\"bidderId\":\"cat\"", "\"bidderId\":\"mallory\"");
        env.dynamodb()
            .update_item()
            .table_name(env.events_table())
            .set_key(Some(key(auction_id, 5)))
            .update_expression("SET payload = :p")
            .expression_attribute_values(":p", AttributeValue::S(payload))
            .send()
            .await
            .unwrap();
        assert_eq!(
            verify(&env, auction_id).await,
            Err(Tampered::Modified { version: 5 })
        );
    }

    #[tokio::test]
    async fn an_event_deleted_with_the_sdk_fails_verification_at_that_event() {
        let env = TestEnv::new().await;
        let auction_id = stored_history(&env).await;
        env.dynamodb()
            .delete_item()
            .table_name(env.events_table())
            .set_key(Some(key(auction_id, 4)))
            .send()
            .await
            .unwrap();
        assert_eq!(
            verify(&env, auction_id).await,
            Err(Tampered::Missing { version: 4 })
        );
    }

    #[tokio::test]
    async fn events_swapped_with_the_sdk_fail_verification_at_the_first_of_them() {
        let env = TestEnv::new().await;
        let auction_id = stored_history(&env).await;
        let get = |version| {
            let env = env.clone();
            async move {
                env.dynamodb()
                    .get_item()
                    .table_name(env.events_table())
                    .set_key(Some(key(auction_id, version)))
                    .send()
                    .await
                    .unwrap()
                    .item
                    .unwrap()
            }
        };
        let (mut fifth, mut sixth) = (get(5).await, get(6).await);
        // Each item moves to the other's key, contents and hash intact
        fifth.insert("version".to_owned(), AttributeValue::N("6".to_owned()));
        sixth.insert("version".to_owned(), AttributeValue::N("5".to_owned()));
        for item in [fifth, sixth] {
            env.dynamodb()
                .put_item()
                .table_name(env.events_table())
                .set_item(Some(item))
                .send()
                .await
                .unwrap();
        }
        assert_eq!(
            verify(&env, auction_id).await,
            Err(Tampered::Modified { version: 5 })
        );
    }
}

#[tokio::test]
async fn the_audit_index_finds_events_by_type_across_auctions_in_time_order() {
    use event_store::{EventsOfType, TypeQuery};
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(100);
    let (first, second) = (created(&store).await, created(&store).await);
    bid(&store, first, "bob", None).await;
    bid(&store, second, "cat", None).await;
    let from = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let page = env
        .event_store()
        .events_of_type(&TypeQuery::new(
            "BidPlaced",
            from.into(),
            chrono::Utc::now() + chrono::TimeDelta::days(1),
            100,
        ))
        .await
        .unwrap();
    let auctions: HashSet<Uuid> = page
        .events
        .iter()
        .map(|event| event.envelope.aggregate_id)
        .collect();
    assert_eq!(auctions, HashSet::from([first.0, second.0]));
    assert!(
        page.events
            .windows(2)
            .all(|w| w[0].envelope.occurred_at <= w[1].envelope.occurred_at)
    );
}

#[tokio::test]
async fn events_never_expire_while_idempotency_records_do() {
    let env = TestEnv::new().await;
    let ttl = |table: String| {
        let env = env.clone();
        async move {
            env.dynamodb()
                .describe_time_to_live()
                .table_name(table)
                .send()
                .await
                .unwrap()
                .time_to_live_description
                .and_then(|d| d.time_to_live_status)
        }
    };
    use aws_sdk_dynamodb::types::TimeToLiveStatus;
    assert!(matches!(
        ttl(env.events_table().to_owned()).await,
        None | Some(TimeToLiveStatus::Disabled)
    ));
    assert!(matches!(
        ttl(env.names().idempotency_table.clone()).await,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ));
}

/// Events of one type within a time range through the store's `EventsOfType` port: a Query
/// of the audit index (`byTypeShard`) with a Limit, continued from the position it returns.
mod events_of_type {
    use chrono::{DateTime, TimeDelta, Utc};
    use event_store::{EventsOfType, StoredEvent, TypePage, TypeQuery};

    use super::*;

    /// `seconds` after the fixtures' epoch.
    fn at(seconds: i64) -> DateTime<Utc> {
        fixtures::epoch() + TimeDelta::seconds(seconds)
    }

    /// A history of `bids` bids whose event at version v occurred at `when(v)`, chained again
    /// and written through the store's conditional append.
    async fn written(
        env: &TestEnv,
        bids: usize,
        when: impl Fn(u64) -> DateTime<Utc>,
    ) -> Vec<StoredEvent> {
        written_as(env, Uuid::new_v4(), bids, when).await
    }

    /// Every page of `query`, following `next` until a page says there is no more.
    async fn every_page(store: &DynamoDbStore, mut query: TypeQuery) -> Vec<TypePage> {
        let mut pages = Vec::new();
        loop {
            let page = store.events_of_type(&query).await.unwrap();
            let next = page.next.clone();
            pages.push(page);
            match next {
                Some(next) => query.after = Some(next),
                None => return pages,
            }
            assert!(pages.len() < 1_000, "the pages never end");
        }
    }

    fn ids(events: &[StoredEvent]) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = events.iter().map(|e| e.envelope.event_id).collect();
        ids.sort_unstable();
        ids
    }

    #[tokio::test]
    async fn paging_with_a_small_limit_returns_every_event_in_range_once_in_time_order() {
        // Given three auctions with a bid a minute, two of them bidding in the same minutes
        // (ties in the index) and the third half a minute later
        let env = TestEnv::new().await;
        let store = env.event_store();
        let minute = |v: u64| at(v as i64 * 60);
        let first = written(&env, 6, minute).await;
        let second = written(&env, 6, minute).await;
        let third = written(&env, 6, |v| minute(v) + TimeDelta::milliseconds(30_500)).await;
        let (from, to) = (minute(3), minute(7));
        let mut expected: Vec<StoredEvent> = [first, second, third]
            .concat()
            .into_iter()
            .filter(|e| e.envelope.event_type == "BidPlaced")
            .filter(|e| (from..=to).contains(&e.envelope.occurred_at))
            .collect();
        expected.sort_by_key(|e| e.envelope.occurred_at);
        assert!(expected.len() >= 12, "the range spans many pages");

        for limit in [1, 2, 5] {
            // When the bids from minute 3 to minute 7 are read `limit` at a time
            let pages = every_page(&store, TypeQuery::new("BidPlaced", from, to, limit)).await;

            // Then every bid in the range comes once, in time order, across the page boundaries
            let read: Vec<StoredEvent> = pages.iter().flat_map(|p| p.events.clone()).collect();
            assert!(pages.len() > 2, "limit {limit}: {} pages", pages.len());
            assert!(pages.iter().all(|p| p.events.len() <= limit as usize));
            assert_eq!(ids(&read), ids(&expected), "limit {limit}");
            assert_eq!(
                read.len(),
                expected.len(),
                "limit {limit}: a bid came twice"
            );
            assert!(
                read.windows(2)
                    .all(|w| w[0].envelope.occurred_at <= w[1].envelope.occurred_at),
                "limit {limit}: not in time order"
            );
            // And the events are the stored ones, as written
            let mut sorted = read.clone();
            sorted.sort_by_key(|e| (e.envelope.occurred_at, e.envelope.event_id));
            let mut wanted = expected.clone();
            wanted.sort_by_key(|e| (e.envelope.occurred_at, e.envelope.event_id));
            assert_eq!(sorted, wanted);
        }
    }

    #[tokio::test]
    async fn a_position_from_a_dynamodb_page_continues_where_that_page_ended() {
        // Given eight bids in the same minute on two auctions, and more later
        let env = TestEnv::new().await;
        let store = env.event_store();
        let same_minute = |_: u64| at(600);
        written(&env, 4, same_minute).await;
        written(&env, 4, same_minute).await;
        written(&env, 3, |v| at(700 + v as i64)).await;
        let query = TypeQuery::new("BidPlaced", at(0), at(1_000), 3);
        let whole = every_page(
            &store,
            TypeQuery {
                limit: 100,
                ..query.clone()
            },
        )
        .await;
        let whole: Vec<StoredEvent> = whole.into_iter().flat_map(|p| p.events).collect();
        assert_eq!(whole.len(), 11);

        // When the first page's position is carried to a new query (as a cursor carries it),
        // with another limit
        let first = store.events_of_type(&query).await.unwrap();
        let position = first.next.clone().unwrap();
        assert_eq!(position, event_store::TypePosition::of(&first.events[2]));
        let rest = every_page(
            &store,
            TypeQuery {
                limit: 4,
                after: Some(position),
                ..query.clone()
            },
        )
        .await;

        // Then the first page and the rest are the whole listing, in its order, each once
        let continued: Vec<StoredEvent> = first
            .events
            .into_iter()
            .chain(rest.into_iter().flat_map(|p| p.events))
            .collect();
        assert_eq!(continued, whole);
    }

    /// [`written`], under this aggregate id.
    async fn written_as(
        env: &TestEnv,
        aggregate_id: Uuid,
        bids: usize,
        when: impl Fn(u64) -> DateTime<Utc>,
    ) -> Vec<StoredEvent> {
        let (_, events) = fixtures::history(bids).await.unwrap();
        let envelopes = events
            .into_iter()
            .map(|event| {
                let mut envelope = event.envelope;
                envelope.aggregate_id = aggregate_id;
                envelope.occurred_at = when(envelope.version);
                envelope
            })
            .collect();
        let events = chain::seal(chain::GENESIS, envelopes);
        fixtures::import(&env.event_store(), &events).await.unwrap();
        events
    }

    #[tokio::test]
    async fn a_type_spread_over_every_shard_pages_back_in_one_order_each_event_once() {
        // Given 32 auctions, two in each of the 16 shards, whose bids all fall in the same
        // three milliseconds (ties within and across shards)
        let env = TestEnv::new().await;
        let store = env.event_store();
        let mut expected = Vec::new();
        for n in 0..32u128 {
            let aggregate_id = Uuid::from_u128((Uuid::new_v4().as_u128() & !0xf) | (n % 16));
            let events = written_as(&env, aggregate_id, 3, |v| {
                at(600) + TimeDelta::milliseconds(v as i64 % 3)
            })
            .await;
            expected.extend(
                events
                    .into_iter()
                    .filter(|e| e.envelope.event_type == "BidPlaced"),
            );
        }
        let order = |e: &StoredEvent| {
            (
                e.envelope.occurred_at,
                e.envelope.aggregate_id,
                e.envelope.version,
            )
        };
        expected.sort_by_key(order);
        assert_eq!(expected.len(), 96);

        for limit in [5, 7, 100] {
            // When the bids are read `limit` at a time
            let pages =
                every_page(&store, TypeQuery::new("BidPlaced", at(0), at(1_000), limit)).await;

            // Then they come back in (time, auction, version) order, each once
            let read: Vec<StoredEvent> = pages.iter().flat_map(|p| p.events.clone()).collect();
            assert!(pages.iter().all(|p| p.events.len() <= limit as usize));
            assert_eq!(
                read.iter().map(order).collect::<Vec<_>>(),
                expected.iter().map(order).collect::<Vec<_>>(),
                "limit {limit}"
            );
        }
        // And the index spread them over sixteen partitions
        let partitions: HashSet<String> = env
            .dynamodb()
            .scan()
            .table_name(env.events_table())
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .filter(|item| item["eventType"].as_s().unwrap() == "BidPlaced")
            .map(|item| item["typeShard"].as_s().unwrap().clone())
            .collect();
        assert_eq!(partitions.len(), 16, "{partitions:?}");
    }

    #[tokio::test]
    async fn a_position_outside_the_query_is_refused_before_dynamodb_is_asked() {
        let env = TestEnv::new().await;
        let store = env.event_store();
        let events = written(&env, 2, |v| at(v as i64)).await;
        let query = TypeQuery {
            after: Some(event_store::TypePosition::of(&events[2])),
            ..TypeQuery::new("BidPlaced", at(10), at(20), 5)
        };
        let refused = store.events_of_type(&query).await.unwrap_err();
        assert!(matches!(refused, StoreError::Refused(_)), "{refused:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bids_queued_behind_a_slow_one_are_committed_in_one_transaction_each_answered_alone() {
    // Given an auction, and a bid holding its turn for a while
    let env = TestEnv::new().await;
    let store = env.store_snapshotting(100);
    let auction_id = created(&store).await;
    let grouped = |bidder: String, slow: bool| {
        let store = store.clone();
        tokio::spawn(async move {
            let user = fixtures::user(&bidder);
            let bid_id = BidId(Uuid::new_v4());
            let meter = Meter::default();
            store
                .execute_grouped(
                    auction_id,
                    &fixtures::context(&user, None),
                    move |state: &State, now| {
                        if slow {
                            std::thread::sleep(std::time::Duration::from_millis(200));
                        }
                        fixtures::outbid(&user, bid_id, state, now)
                    },
                    &meter,
                )
                .await
                .unwrap()
        })
    };
    let first = grouped("first".to_owned(), true);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    // When five bids arrive meanwhile
    let queued: Vec<_> = (0..5)
        .map(|n| grouped(format!("bidder-{n}"), false))
        .collect();
    let first = first.await.unwrap();
    let mut outcomes = Vec::new();
    for bid in queued {
        outcomes.push(bid.await.unwrap());
    }

    // Then the five landed in one request (a transaction), each answered with its own bid at
    // its own version
    let appends: u32 = outcomes.iter().map(|o| o.cost.append.write_requests).sum();
    assert_eq!((first.cost.append.write_requests, appends), (1, 1));
    let mut versions: Vec<u64> = outcomes.iter().map(|o| o.version).collect();
    versions.sort_unstable();
    assert_eq!(versions, (4..=8).collect::<Vec<_>>());
    for outcome in &outcomes {
        assert_eq!(outcome.events.len(), 1);
        assert_eq!(outcome.events[0].version, outcome.version);
    }
    // And the log holds every bid once, its chain intact, the state the fold of its events
    let stored = stored(&env, auction_id).await;
    assert_eq!(stored.len(), 8);
    assert!(chain::verify(auction_id, &stored).is_ok());
    let last = outcomes.iter().max_by_key(|o| o.version).unwrap();
    let events: Vec<_> = stored
        .iter()
        .map(|e| e.decode::<events::AuctionEvent>().unwrap().event)
        .collect();
    assert_eq!(fold(&events), last.state);
}
