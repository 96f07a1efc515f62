//! The `EventsOfType` port over the in-memory twin: the events of one type within a time range,
//! in time order, a page at a time, with the bounds inclusive at millisecond precision.

use chrono::{DateTime, TimeDelta, Utc};
use event_store::testing::typed_history;
use event_store::{
    EventLog, EventsOfType, InMemoryStore, Meter, StoreError, StoredEvent, TypePosition, TypeQuery,
};
use events::AuctionId;
use uuid::Uuid;

use crate::commands::tokio_test;
use crate::support::t;

/// An auction whose event at version v has type `types[v - 1]` and occurred at `at(v)`.
fn auction(types: &[&str], at: impl Fn(u64) -> DateTime<Utc>) -> Vec<StoredEvent> {
    typed_history(AuctionId(Uuid::new_v4()), types, at)
}

async fn stored(auctions: &[Vec<StoredEvent>]) -> InMemoryStore {
    let log = InMemoryStore::new();
    for events in auctions {
        log.append(events, &Meter::default()).await.unwrap();
    }
    log
}

/// Every page of `query`, following `next` until a page says there is no more.
async fn every_page(log: &InMemoryStore, mut query: TypeQuery) -> Vec<Vec<StoredEvent>> {
    let mut pages = Vec::new();
    loop {
        let page = log.events_of_type(&query).await.unwrap();
        pages.push(page.events);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return pages,
        }
    }
}

fn key(event: &StoredEvent) -> (DateTime<Utc>, Uuid, u64) {
    (
        event.envelope.occurred_at,
        event.envelope.aggregate_id,
        event.envelope.version,
    )
}

#[test]
fn paging_with_a_small_limit_returns_every_event_of_the_type_in_range_once_in_time_order() {
    tokio_test(async {
        // Given two auctions whose bids interleave in time, one second apart, and some at the
        // same instant in both
        let types = [
            "AuctionCreated",
            "BidPlaced",
            "BidPlaced",
            "BidPlaced",
            "BidPlaced",
        ];
        let first = auction(&types, |v| t(v as i64 * 2));
        let second = auction(&types, |v| t(v as i64 * 2 + (v % 2) as i64));
        let log = stored(&[first.clone(), second.clone()]).await;

        // When the bids from second 4 to second 8 are read two at a time
        let pages = every_page(&log, TypeQuery::new("BidPlaced", t(4), t(8), 2)).await;

        // Then the pages hold exactly those bids, each once, in time order
        let mut expected: Vec<StoredEvent> = first
            .iter()
            .chain(&second)
            .filter(|e| e.envelope.event_type == "BidPlaced")
            .filter(|e| (t(4)..=t(8)).contains(&e.envelope.occurred_at))
            .cloned()
            .collect();
        expected.sort_by_key(key);
        assert!(expected.len() >= 4, "the fixture spans several pages");
        assert!(pages.iter().all(|page| page.len() <= 2));
        let read: Vec<StoredEvent> = pages.concat();
        assert_eq!(read, expected);
    });
}

#[test]
fn both_bounds_are_inclusive_at_millisecond_precision() {
    tokio_test(async {
        // Given bids at 12 ms, 12.7 ms and 13 ms past a second
        let ms = |micros: i64| t(0) + TimeDelta::microseconds(micros);
        let at = [ms(12_000), ms(12_700), ms(13_000)];
        let events = auction(&["BidPlaced"; 3], |v| at[v as usize - 1]);
        let log = stored(std::slice::from_ref(&events)).await;

        // When the range is exactly 12 ms to 12 ms
        let exact = log
            .events_of_type(&TypeQuery::new("BidPlaced", ms(12_000), ms(12_000), 10))
            .await
            .unwrap();
        // Then the events of that millisecond are in it, the next millisecond's is not
        assert_eq!(exact.events, events[..2].to_vec());
        assert_eq!(exact.next, None);

        // And a bound finer than a millisecond is cut to the millisecond it falls in
        let cut = log
            .events_of_type(&TypeQuery::new("BidPlaced", ms(12_999), ms(13_999), 10))
            .await
            .unwrap();
        assert_eq!(cut.events, events.to_vec());
    });
}

#[test]
fn other_types_and_times_outside_the_range_are_left_out() {
    tokio_test(async {
        let events = auction(
            &["AuctionCreated", "AuctionStarted", "BidPlaced", "BidPlaced"],
            |v| t(v as i64),
        );
        let log = stored(std::slice::from_ref(&events)).await;
        let page = log
            .events_of_type(&TypeQuery::new("BidPlaced", t(0), t(3), 10))
            .await
            .unwrap();
        assert_eq!(page.events, vec![events[2].clone()]);
        let none = log
            .events_of_type(&TypeQuery::new("AuctionEnded", t(0), t(10), 10))
            .await
            .unwrap();
        assert!(none.events.is_empty() && none.next.is_none());
    });
}

#[test]
fn a_full_last_page_says_there_may_be_more_and_the_page_after_it_is_empty() {
    tokio_test(async {
        let events = auction(&["BidPlaced"; 4], |v| t(v as i64));
        let log = stored(&[events]).await;
        let pages = every_page(&log, TypeQuery::new("BidPlaced", t(0), t(10), 2)).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 0]);
    });
}

#[test]
fn an_inverted_range_is_an_empty_page() {
    tokio_test(async {
        let log = stored(&[auction(&["BidPlaced"], |_| t(5))]).await;
        let page = log
            .events_of_type(&TypeQuery::new("BidPlaced", t(6), t(4), 10))
            .await
            .unwrap();
        assert_eq!(page.events, vec![]);
        assert_eq!(page.next, None);
    });
}

#[test]
fn a_position_of_another_type_or_outside_the_range_does_not_continue_the_query() {
    tokio_test(async {
        // Given a position of a bid at second 5
        let events = auction(&["BidPlaced"], |_| t(5));
        let log = stored(std::slice::from_ref(&events)).await;
        let position = TypePosition::of(&events[0]);
        let with = |event_type: &str, from, to| TypeQuery {
            after: Some(position.clone()),
            ..TypeQuery::new(event_type, from, to, 10)
        };

        // Then it continues a query of bids around it, and no other
        assert!(with("BidPlaced", t(5), t(5)).continues());
        for query in [
            with("AuctionCreated", t(0), t(10)),
            with("BidPlaced", t(6), t(10)),
            with("BidPlaced", t(0), t(4)),
        ] {
            assert!(!query.continues(), "{query:?}");
            let refused = log.events_of_type(&query).await.unwrap_err();
            assert!(matches!(refused, StoreError::Refused(_)), "{refused:?}");
        }
    });
}

#[test]
fn bounds_outside_four_digit_years_are_clamped_to_them() {
    // RFC 3339 text sorts as time only within years 0000 to 9999, which DynamoDB compares.
    let query = TypeQuery::new(
        "BidPlaced",
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        1,
    );
    let (from, to) = query.bounds().unwrap();
    assert_eq!(from.to_rfc3339(), "0000-01-01T00:00:00+00:00");
    assert_eq!(
        to.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "9999-12-31T23:59:59.999Z"
    );
    let beyond = DateTime::<Utc>::MAX_UTC - TimeDelta::days(1);
    assert_eq!(
        TypeQuery::new("BidPlaced", beyond, DateTime::<Utc>::MAX_UTC, 1).bounds(),
        None
    );
}
