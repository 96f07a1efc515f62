//! The audit core over the in-memory twin of the event store: time travel, tamper checks and
//! the export format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::export::{encode_lines, import, parse_lines};
use audit::{AsOf, AuditError, Finding, history, history_events, state_at, verify, verify_all};
use chrono::{DateTime, TimeDelta, Utc};
use domain::{CreateAuction, PlaceBid, State, decide_create, decide_place_bid, fold};
use event_store::chain::Tampered;
use event_store::testing::golden_history;
use event_store::{CommandContext, InMemoryStore, SnapshotPolicy, Store, StoredEvent};
use events::{Actor, AuctionEvent, AuctionId, BidId, Currency, IncrementPolicy, Money, UserId};
use uuid::Uuid;

fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::try_from("EUR").unwrap())
}

fn context(actor: &UserId, now: DateTime<Utc>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: Uuid::new_v4().to_string(),
        actor: Actor::User { id: actor.clone() },
        idempotency_key: None,
        now,
    }
}

/// An auction created at the epoch and `bids` alternating bids one minute apart, each one cent
/// above the price, appended through the real command path.
async fn auction_with_bids(store: &Store<InMemoryStore>, bids: usize) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let seller = user("seller");
    let create = CreateAuction {
        auction_id,
        seller_id: seller.clone(),
        title: "Audited auction".to_owned(),
        description: None,
        currency: Currency::try_from("EUR").unwrap(),
        starting_price: eur(100),
        reserve_price: None,
        buy_now_price: None,
        increment: Some(IncrementPolicy::Fixed { amount_minor: 1 }),
        starts_at: None,
        ends_at: epoch() + TimeDelta::days(30),
        soft_close: None,
    };
    store
        .execute(auction_id, &context(&seller, epoch()), |state, now| {
            decide_create(state, &create, now)
        })
        .await
        .unwrap();
    let bidders = [user("bob"), user("cat")];
    for i in 0..bids {
        let bidder = &bidders[i % 2];
        let minute = epoch() + TimeDelta::minutes(i as i64 + 1);
        store
            .execute(
                auction_id,
                &context(bidder, minute),
                |state: &State, now| {
                    let price = state.auction.as_ref().and_then(|a| a.price).unwrap_or(99);
                    decide_place_bid(
                        state,
                        &PlaceBid {
                            bid_id: BidId(Uuid::new_v4()),
                            bidder_id: bidder.clone(),
                            amount: eur(price + 1),
                            max_amount: None,
                        },
                        now,
                    )
                },
            )
            .await
            .unwrap();
    }
    auction_id
}

fn new_store() -> Store<InMemoryStore> {
    Store::new(InMemoryStore::new(), SnapshotPolicy::inline(100))
}

fn folded(events: &[StoredEvent]) -> State {
    let decoded: Vec<_> = events
        .iter()
        .map(|e| e.decode::<AuctionEvent>().unwrap())
        .collect();
    fold(decoded.iter().map(|e| &e.event))
}

#[tokio::test]
async fn the_state_at_every_version_and_instant_is_the_fold_of_that_prefix() {
    for bids in [0, 1, 2, 7] {
        // Given an auction with some bids
        let store = new_store();
        let id = auction_with_bids(&store, bids).await;
        let events = store.backend().events(id);
        let steps = history(store.backend(), id).await.unwrap();
        assert_eq!(steps.len(), events.len());
        for n in 1..=events.len() {
            let prefix = &events[..n];
            // When we travel to version n, then to the instant of event n
            let by_version = state_at(store.backend(), id, AsOf::Version(n as u64))
                .await
                .unwrap();
            let instant = events[n - 1].envelope.occurred_at;
            let by_instant = state_at(store.backend(), id, AsOf::Instant(instant))
                .await
                .unwrap();
            // Then each is the fold of its prefix, and the history shows the same state
            assert_eq!(by_version.version, n as u64);
            assert_eq!(by_version.state, folded(prefix));
            assert_eq!(steps[n - 1].state, by_version.state);
            assert_eq!(steps[n - 1].event.version, n as u64);
            let same_instant = events
                .iter()
                .take_while(|e| e.envelope.occurred_at <= instant)
                .count();
            assert!(same_instant >= n);
            assert_eq!(by_instant.version, same_instant as u64);
            assert_eq!(by_instant.state, folded(&events[..same_instant]));
        }
    }
}

#[tokio::test]
async fn an_instant_before_the_first_event_is_the_empty_state() {
    let store = new_store();
    let id = auction_with_bids(&store, 1).await;
    let before = epoch() - TimeDelta::milliseconds(1);
    let at = state_at(store.backend(), id, AsOf::Instant(before))
        .await
        .unwrap();
    assert_eq!(at.version, 0);
    assert_eq!(at.state, State::default());
}

#[tokio::test]
async fn a_version_before_one_or_beyond_the_head_is_refused() {
    let store = new_store();
    let id = auction_with_bids(&store, 2).await;
    let head = store.backend().events(id).len() as u64;
    for requested in [0, head + 1] {
        let error = state_at(store.backend(), id, AsOf::Version(requested))
            .await
            .unwrap_err();
        assert!(
            matches!(error, AuditError::VersionOutOfRange { requested: r, head: h, .. } if r == requested && h == head),
            "{error:?}"
        );
        assert!(error.is_bad_input());
    }
}

#[tokio::test]
async fn an_auction_without_events_is_not_found() {
    let store = new_store();
    let unknown = AuctionId(Uuid::new_v4());
    assert!(matches!(
        history(store.backend(), unknown).await,
        Err(AuditError::AuctionNotFound(id)) if id == unknown
    ));
    assert!(matches!(
        verify(store.backend(), unknown).await,
        Err(AuditError::AuctionNotFound(_))
    ));
}

#[tokio::test]
async fn an_untouched_log_verifies() {
    let store = new_store();
    let id = auction_with_bids(&store, 5).await;
    let report = verify(store.backend(), id).await.unwrap();
    let events = store.backend().events(id);
    let verified = report.outcome.clone().unwrap();
    assert_eq!(verified.events, events.len() as u64);
    assert_eq!(verified.head, events.last().unwrap().hash);
    assert!(report.to_string().contains("OK"));
}

#[tokio::test]
async fn an_edited_payload_is_named_as_modified() {
    // Given a log whose third event's bid amount was raised in place, hash left as it was
    let store = new_store();
    let id = auction_with_bids(&store, 4).await;
    let mut edited = store.backend().events(id)[2].clone();
    assert_eq!(edited.envelope.event_type, "BidPlaced");
    edited.envelope.payload["amount"]["amountMinor"] = serde_json::json!(1_000_000);
    store.backend().overwrite(edited);
    // When it is verified
    let report = verify(store.backend(), id).await.unwrap();
    // Then version 3 is named, and so is what is stored there
    assert_eq!(
        report.outcome,
        Err(Finding::Tampered(Tampered::Modified { version: 3 }))
    );
    let text = report.to_string();
    assert!(text.contains("version 3 was modified"), "{text}");
    assert!(text.contains("BidPlaced"), "{text}");
}

#[tokio::test]
async fn a_deleted_event_is_named_as_missing() {
    // Given a copy of a log without its fourth event
    let store = new_store();
    let id = auction_with_bids(&store, 5).await;
    let gappy = InMemoryStore::new();
    for event in store.backend().events(id) {
        if event.version() != 4 {
            gappy.overwrite(event);
        }
    }
    // When it is verified, then version 4 is missing
    let report = verify(&gappy, id).await.unwrap();
    assert_eq!(
        report.outcome,
        Err(Finding::Tampered(Tampered::Missing { version: 4 }))
    );
    assert!(report.to_string().contains("version 4 is missing"));
}

#[tokio::test]
async fn swapped_events_are_named_at_the_first_swapped_version() {
    // Given a log whose events 3 and 4 changed places, each taking the other's version number
    let store = new_store();
    let id = auction_with_bids(&store, 5).await;
    let events = store.backend().events(id);
    let (mut third, mut fourth) = (events[3].clone(), events[2].clone());
    third.envelope.version = 3;
    fourth.envelope.version = 4;
    store.backend().overwrite(third);
    store.backend().overwrite(fourth);
    // When it is verified, then version 3 is named
    let report = verify(store.backend(), id).await.unwrap();
    assert_eq!(
        report.outcome,
        Err(Finding::Tampered(Tampered::Modified { version: 3 }))
    );
}

#[tokio::test]
async fn verify_all_reports_each_auction_in_order_and_flags_only_the_tampered_one() {
    let store = new_store();
    let clean = auction_with_bids(&store, 2).await;
    let tampered = auction_with_bids(&store, 2).await;
    let mut edited = store.backend().events(tampered)[1].clone();
    edited.envelope.metadata.correlation_id = "forged".to_owned();
    store.backend().overwrite(edited);
    let gone = AuctionId(Uuid::new_v4());

    let reports = verify_all(store.backend(), &[clean, tampered, gone], 2)
        .await
        .unwrap();

    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0].aggregate_id, clean);
    assert!(reports[0].is_clean());
    assert_eq!(reports[1].aggregate_id, tampered);
    assert_eq!(
        reports[1].outcome,
        Err(Finding::Tampered(Tampered::Modified { version: 2 }))
    );
    assert_eq!(
        reports[2].outcome,
        Err(Finding::Tampered(Tampered::Missing { version: 1 }))
    );
}

#[tokio::test]
async fn an_export_parses_back_to_the_same_events_and_bytes_and_imports_intact() {
    // Given an auction's export
    let store = new_store();
    let id = auction_with_bids(&store, 6).await;
    let events = history_events(store.backend(), id).await.unwrap();
    let lines = encode_lines(&events).unwrap();
    assert_eq!(lines.lines().count(), events.len());
    // When it is parsed, then encoded again
    let parsed = parse_lines(&lines).unwrap();
    // Then it is the same events, byte for byte
    assert_eq!(parsed, events);
    assert_eq!(encode_lines(&parsed).unwrap(), lines);
    // And imported into an empty log it verifies and exports the same bytes
    let copy = InMemoryStore::new();
    import(&copy, &parsed).await.unwrap();
    assert!(verify(&copy, id).await.unwrap().is_clean());
    let again = history_events(&copy, id).await.unwrap();
    assert_eq!(encode_lines(&again).unwrap(), lines);
}

#[tokio::test]
async fn an_import_never_overwrites_an_event() {
    let store = new_store();
    let id = auction_with_bids(&store, 1).await;
    let events = store.backend().events(id);
    assert!(matches!(
        import(store.backend(), &events).await,
        Err(AuditError::Store(event_store::StoreError::VersionTaken {
            version: 1,
            ..
        }))
    ));
}

#[test]
fn a_malformed_line_is_named_by_its_number() {
    let store_line = r#"{"not":"an event"}"#;
    let text = format!("\n{store_line}\n");
    let error = parse_lines(&text).unwrap_err();
    assert!(
        matches!(error, AuditError::MalformedLine { line: 2, .. }),
        "{error:?}"
    );
    assert!(matches!(
        parse_lines("[1]").unwrap_err(),
        AuditError::MalformedLine { line: 1, .. }
    ));
}

/// An auction stored in the first schema versions (AuctionCreated v1 with a fixed increment,
/// BidPlaced v1 without a maximum), from the contract's golden samples.
fn old_schema_events(auction_id: AuctionId) -> Vec<StoredEvent> {
    golden_history(
        auction_id,
        &["AuctionCreated.v1", "AuctionStarted.v1", "BidPlaced.v1"],
    )
    .unwrap()
}

#[tokio::test]
async fn an_auction_stored_in_old_schema_versions_replays_into_the_current_model() {
    // Given an auction whose events were stored in schema version 1
    let log = InMemoryStore::new();
    let id = AuctionId(Uuid::new_v4());
    let stored = old_schema_events(id);
    assert!(stored.iter().all(|e| e.envelope.schema_version == 1));
    import(&log, &stored).await.unwrap();

    // When its history is replayed
    let steps = history(&log, id).await.unwrap();

    // Then every event comes out in the current model, upcast
    assert_eq!(steps.len(), 3);
    for step in &steps {
        let current = AuctionEvent::TYPES
            .iter()
            .find(|(name, _)| *name == step.event.event.event_type())
            .map(|(_, version)| *version)
            .unwrap();
        assert_eq!(step.event.event.schema_version(), current);
    }
    let AuctionEvent::BidPlaced(bid) = &steps[2].event.event else {
        panic!("the third event is {:?}", steps[2].event.event);
    };
    // BidPlaced v1 had no maximum: the upcaster makes the amount the maximum, the bidder the leader
    assert_eq!(bid.max_amount, bid.amount);
    assert_eq!(bid.leader_id, bid.bidder_id);
    // And the states are the domain's fold of the upcast events
    let auction = steps[2].state.auction.as_ref().unwrap();
    assert_eq!(auction.price, Some(20_500));
    assert_eq!(auction.leader.as_ref(), Some(&bid.bidder_id));
    assert_eq!(auction.bidders[&bid.bidder_id].max, 20_500);
    // AuctionCreated v1's fixed increment survives the upcast
    assert_eq!(
        auction.increment,
        IncrementPolicy::Fixed { amount_minor: 500 }
    );
    assert_eq!(steps[2].state, folded(&stored));
    for (step, version) in steps.iter().zip(1..) {
        let at = state_at(&log, id, AsOf::Version(version)).await.unwrap();
        assert_eq!(at.state, step.state);
    }
    // And the log still verifies, and exports as it was stored, in schema version 1
    assert!(verify(&log, id).await.unwrap().is_clean());
    let lines = encode_lines(&history_events(&log, id).await.unwrap()).unwrap();
    assert_eq!(lines.matches("\"schemaVersion\":1").count(), 3);
}

// The Items' ownership ledger, whose streams share the log with the auctions'.

/// The item `auction_id` sells, registered to the seller and sold to bob, through the Item's
/// own deciders.
async fn item_sold_to_bob(store: &Store<InMemoryStore>, auction_id: AuctionId) -> events::ItemId {
    use domain::item::{
        ItemState, RegisterItem, TransferOwnership, decide_register, decide_transfer_ownership,
    };
    let item_id = events::ItemId::for_auction(auction_id);
    let register = RegisterItem {
        item_id,
        auction_id,
        owner: user("seller"),
        title: "Audited auction".to_owned(),
    };
    store
        .execute(
            item_id,
            &context(&user("seller"), epoch()),
            |s: &ItemState, now| decide_register(s, &register, now),
        )
        .await
        .unwrap();
    let transfer = TransferOwnership {
        sale: format!("{auction_id}#bob"),
        auction_id,
        from: user("seller"),
        to: user("bob"),
        price: eur(250),
    };
    store
        .execute(
            item_id,
            &context(&user("seller"), epoch() + TimeDelta::days(31)),
            |s: &ItemState, now| decide_transfer_ownership(s, &transfer, now),
        )
        .await
        .unwrap();
    item_id
}

#[tokio::test]
async fn verify_covers_both_aggregate_types_and_names_the_tampered_item() {
    use audit::{verify_item, verify_items};

    // Given two auctions with their items, one item's transfer edited in the table
    let store = new_store();
    let first = auction_with_bids(&store, 2).await;
    let second = auction_with_bids(&store, 2).await;
    let clean_item = item_sold_to_bob(&store, first).await;
    let tampered_item = item_sold_to_bob(&store, second).await;
    let mut edited = store.backend().events(tampered_item)[1].clone();
    edited.envelope.payload["to"] = serde_json::json!("mallory");
    store.backend().overwrite(edited);

    // When every auction and every item is verified
    let auctions = verify_all(store.backend(), &[first, second], 2)
        .await
        .unwrap();
    let items = verify_items(store.backend(), &[clean_item, tampered_item], 2)
        .await
        .unwrap();

    // Then the auctions are intact, and the edited item is named, as an item, at its version
    assert!(auctions.iter().all(|report| report.is_clean()));
    assert!(items[0].is_clean(), "{}", items[0]);
    assert_eq!(
        items[1].outcome,
        Err(Finding::Tampered(Tampered::Modified { version: 2 }))
    );
    let line = items[1].to_string();
    assert!(
        line.starts_with(&format!("item {tampered_item}: TAMPERED: version 2")),
        "{line}"
    );
    assert!(line.contains("OwnershipTransferred"), "{line}");
    assert!(
        verify_item(store.backend(), clean_item)
            .await
            .unwrap()
            .to_string()
            .starts_with(&format!("item {clean_item}: OK, 2 events")),
    );
}

#[tokio::test]
async fn an_items_stream_time_travels_and_exports_through_the_generic_store() {
    use audit::{item_history, item_history_events, item_state_at};

    let store = new_store();
    let auction_id = auction_with_bids(&store, 1).await;
    let item_id = item_sold_to_bob(&store, auction_id).await;

    let steps = item_history(store.backend(), item_id).await.unwrap();
    let at_one = item_state_at(store.backend(), item_id, AsOf::Version(1))
        .await
        .unwrap();
    let before = item_state_at(
        store.backend(),
        item_id,
        AsOf::Instant(epoch() + TimeDelta::days(1)),
    )
    .await
    .unwrap();
    let owners: Vec<String> = steps
        .iter()
        .map(|step| step.state.item.as_ref().unwrap().owner.to_string())
        .collect();
    assert_eq!(owners, ["seller", "bob"]);
    assert_eq!(at_one.state.item.unwrap().owner, user("seller"));
    assert_eq!(before.version, 1);

    // Its export is the item's own stream, and imports intact elsewhere
    let events = item_history_events(store.backend(), item_id).await.unwrap();
    let lines = encode_lines(&events).unwrap();
    assert!(
        lines
            .lines()
            .all(|line| line.contains("\"aggregateType\":\"Item\""))
    );
    let copy = InMemoryStore::new();
    import(&copy, &parse_lines(&lines).unwrap()).await.unwrap();
    assert!(audit::verify_item(&copy, item_id).await.unwrap().is_clean());

    // An item without events, and a version beyond its head, are named as the item's
    let unknown = events::ItemId(Uuid::new_v4());
    assert!(matches!(
        item_history(store.backend(), unknown).await,
        Err(AuditError::ItemNotFound(id)) if id == unknown
    ));
    let beyond = item_state_at(store.backend(), item_id, AsOf::Version(3)).await;
    assert!(
        matches!(&beyond, Err(error @ AuditError::ItemVersionOutOfRange { head: 2, .. }) if error.is_bad_input()),
        "{beyond:?}"
    );
}
