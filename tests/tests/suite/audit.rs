//! The audit tooling against DynamoDB Local: verification of imported and tampered logs, the
//! Scan over every auction, and JSON Lines exports by auction and by event type.

use std::collections::HashMap;

use ::audit::export::{encode_lines, events_of_type, parse_lines};
use ::audit::{Finding, dynamodb, history_events, verify, verify_all};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use e2e::{TestEnv, fixtures};
use event_store::StoredEvent;
use event_store::chain::{self, GENESIS, Tampered};
use events::AuctionId;

/// The Events table's key of one event.
pub(crate) fn key(auction_id: AuctionId, version: u64) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "aggregateId".to_owned(),
            AttributeValue::S(auction_id.to_string()),
        ),
        ("version".to_owned(), AttributeValue::N(version.to_string())),
    ])
}

/// The instant of version `version` in a [`retimed_history`].
fn minute(version: u64) -> DateTime<Utc> {
    fixtures::epoch() + TimeDelta::minutes(version as i64)
}

/// A history whose event at version v occurred v minutes after the epoch, chained again, so
/// that every event has its own place in the audit index (`byTypeShard`).
async fn retimed_history(bids: usize) -> (AuctionId, Vec<StoredEvent>) {
    let (auction_id, events) = fixtures::history(bids).await.unwrap();
    let envelopes = events
        .into_iter()
        .map(|event| {
            let mut envelope = event.envelope;
            envelope.occurred_at = minute(envelope.version);
            envelope
        })
        .collect();
    let events = chain::seal(GENESIS, envelopes);
    (auction_id, events)
}

/// What the audit commands read on this test's tables.
pub(crate) async fn sources(env: &TestEnv) -> ::auction_admin::Sources {
    let names = env.names();
    ::auction_admin::Sources {
        rebuild: ::audit::rebuild::Sources {
            dynamodb: env.dynamodb().clone(),
            streams: env.streams().await,
            log: env.event_store(),
            aliases: read_models::ViewAliases::new(
                env.dynamodb().clone(),
                names.read_model_aliases_table.clone(),
            ),
            fallback: read_models::ViewTables {
                auction_views: names.auction_views_table.clone(),
                user_bids: names.user_bids_table.clone(),
            },
        },
        parked: env.parked(),
        sqs: env.sqs().clone(),
        consumers: Some(std::sync::Arc::new(env.consumers())),
        heads: env.heads(),
        archive: env.archive(),
        digest_key: names.digest_key.clone(),
        kms: env.clients.kms.clone(),
        subject_keys: env.subject_keys(),
        email_notices: env.email_notices(),
        sdk: local_stack::sdk_config().await,
    }
}

async fn imported(env: &TestEnv, bids: usize) -> (AuctionId, Vec<StoredEvent>) {
    let (auction_id, events) = retimed_history(bids).await;
    fixtures::import(&env.event_store(), &events).await.unwrap();
    (auction_id, events)
}

#[tokio::test]
async fn an_imported_history_verifies_clean() {
    let env = TestEnv::new().await;
    let (auction_id, events) = imported(&env, 6).await;
    let report = verify(&env.event_store(), auction_id).await.unwrap();
    let verified = report.outcome.unwrap();
    assert_eq!(verified.events, events.len() as u64);
    assert_eq!(verified.head, events.last().unwrap().hash);
}

#[tokio::test]
async fn an_item_edited_in_the_table_is_named_by_verify_and_by_verify_all() {
    // Given two auctions, one of which had a bid's payload edited with UpdateItem
    let env = TestEnv::new().await;
    let (clean, _) = imported(&env, 3).await;
    let (tampered, _) = imported(&env, 3).await;
    let item = env
        .dynamodb()
        .get_item()
        .table_name(env.events_table())
        .set_key(Some(key(tampered, 4)))
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
    assert_ne!(&payload, item["payload"].as_s().unwrap());
    env.dynamodb()
        .update_item()
        .table_name(env.events_table())
        .set_key(Some(key(tampered, 4)))
        .update_expression("SET payload = :p")
        .expression_attribute_values(":p", AttributeValue::S(payload))
        .send()
        .await
        .unwrap();
    let store = env.event_store();

    // When one is verified, then version 4 is named
    let report = verify(&store, tampered).await.unwrap();
    assert_eq!(
        report.outcome,
        Err(Finding::Tampered(Tampered::Modified { version: 4 }))
    );
    assert!(report.to_string().contains("version 4 was modified"));

    // When every auction is verified, then the Scan found both and only one is flagged
    let ids = dynamodb::aggregate_ids(env.dynamodb(), env.events_table(), 3)
        .await
        .unwrap();
    let mut expected = vec![clean, tampered];
    expected.sort();
    assert_eq!(ids, expected);
    let reports = verify_all(&store, &ids, 2).await.unwrap();
    let flagged: Vec<_> = reports.iter().filter(|r| !r.is_clean()).collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].aggregate_id, tampered);
}

#[tokio::test]
async fn an_item_replaced_with_put_item_is_named_as_modified() {
    // Given bid 5 overwritten with PutItem by a copy of bid 3 renumbered to 5
    let env = TestEnv::new().await;
    let (auction_id, events) = imported(&env, 5).await;
    let mut forged = events[2].clone();
    forged.envelope.version = 5;
    env.dynamodb()
        .put_item()
        .table_name(env.events_table())
        .set_item(Some(event_store::event_item(&forged).unwrap()))
        .send()
        .await
        .unwrap();
    let report = verify(&env.event_store(), auction_id).await.unwrap();
    assert_eq!(
        report.outcome,
        Err(Finding::Tampered(Tampered::Modified { version: 5 }))
    );
}

#[tokio::test]
async fn a_deleted_item_is_named_as_the_missing_version() {
    let env = TestEnv::new().await;
    let (auction_id, _) = imported(&env, 5).await;
    env.dynamodb()
        .delete_item()
        .table_name(env.events_table())
        .set_key(Some(key(auction_id, 3)))
        .send()
        .await
        .unwrap();
    let report = verify(&env.event_store(), auction_id).await.unwrap();
    assert_eq!(
        report.outcome,
        Err(Finding::Tampered(Tampered::Missing { version: 3 }))
    );
    assert!(report.to_string().contains("version 3 is missing"));
}

#[tokio::test]
async fn an_auction_export_round_trips_byte_for_byte() {
    // Given an imported history
    let env = TestEnv::new().await;
    let (auction_id, events) = imported(&env, 4).await;
    // When it is exported from the table and parsed back
    let exported = encode_lines(
        &history_events(&env.event_store(), auction_id)
            .await
            .unwrap(),
    )
    .unwrap();
    let parsed = parse_lines(&exported).unwrap();
    // Then it is the history that was imported, in the same bytes
    assert_eq!(parsed, events);
    assert_eq!(exported, encode_lines(&events).unwrap());
}

#[tokio::test]
async fn an_event_type_export_holds_exactly_that_type_within_the_range() {
    // Given two auctions' histories with one event a minute
    let env = TestEnv::new().await;
    let (_, first) = imported(&env, 6).await;
    let (_, second) = imported(&env, 6).await;
    let (from, to) = (minute(3), minute(5));
    // When bids from minute 3 to minute 5 are exported, a page at a time
    let mut exported = String::new();
    events_of_type(&env.event_store(), "BidPlaced", from, to, |page| {
        exported.push_str(&encode_lines(&page)?);
        Ok(())
    })
    .await
    .unwrap();
    // Then the export is the bids of both auctions in that range, in time order
    let mut expected: Vec<StoredEvent> = first
        .iter()
        .chain(&second)
        .filter(|e| e.envelope.event_type == "BidPlaced")
        .filter(|e| (from..=to).contains(&e.envelope.occurred_at))
        .cloned()
        .collect();
    expected.sort_by_key(|e| e.envelope.occurred_at);
    assert!(expected.len() >= 2, "the fixture has bids in the range");
    let parsed = parse_lines(&exported).unwrap();
    let key = |e: &StoredEvent| (e.envelope.occurred_at, e.envelope.event_id);
    let mut sorted = parsed.clone();
    sorted.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(sorted, expected);
    assert!(
        parsed
            .windows(2)
            .all(|w| w[0].envelope.occurred_at <= w[1].envelope.occurred_at)
    );
    assert_eq!(
        encode_lines(&sorted).unwrap(),
        encode_lines(&expected).unwrap()
    );
}

#[tokio::test]
async fn an_inverted_time_range_is_refused() {
    let env = TestEnv::new().await;
    let error = events_of_type(
        &env.event_store(),
        "BidPlaced",
        minute(5),
        minute(3),
        |_| Ok(()),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ::audit::AuditError::EmptyRange { .. }));
}

mod cli {
    use ::auction_admin::cli::{Cli, Exit, run};
    use clap::Parser;

    use super::*;

    /// Runs `auction-admin <args>` against the test's tables: its result and its stdout.
    async fn admin(env: &TestEnv, args: &[&str]) -> (Result<(), Exit>, String) {
        let cli = Cli::try_parse_from(std::iter::once("auction-admin").chain(args.iter().copied()))
            .unwrap();
        let mut out = Vec::new();
        let result = run(&sources(env).await, cli.command, &mut out).await;
        (result, String::from_utf8(out).unwrap())
    }

    #[tokio::test]
    async fn the_commands_answer_from_the_table_and_a_tampered_log_exits_with_code_1() {
        // Given an imported history
        let env = TestEnv::new().await;
        let (auction_id, events) = imported(&env, 3).await;
        let id = auction_id.to_string();

        // Then history prints one line per event, state stands at the version asked
        let (result, out) = admin(&env, &["history", &id]).await;
        result.unwrap();
        assert_eq!(out.lines().count(), events.len());
        let (result, out) = admin(&env, &["state", &id, "--version", "2"]).await;
        result.unwrap();
        let state: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(state["version"], 2);
        // And export prints exactly the stored envelopes
        let (result, out) = admin(&env, &["export", "--auction", &id]).await;
        result.unwrap();
        assert_eq!(out, encode_lines(&events).unwrap());
        // And verify passes
        let (result, out) = admin(&env, &["verify", &id]).await;
        result.unwrap();
        assert!(out.contains(": OK,"), "{out}");

        // When version 2 is deleted from the table
        env.dynamodb()
            .delete_item()
            .table_name(env.events_table())
            .set_key(Some(key(auction_id, 2)))
            .send()
            .await
            .unwrap();
        // Then verify --all names it and exits with code 1
        let (result, out) = admin(&env, &["verify", "--all"]).await;
        let exit = result.unwrap_err();
        assert_eq!(exit.code(), 1);
        assert!(out.contains("version 2 is missing"), "{out}");
        assert!(
            out.contains("1 auctions verified, 1 tampered with"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn events_written_before_the_sharded_index_are_listed_once_backfilled_and_still_verify() {
        // Given an auction whose events an older store wrote: no audit index keys
        let env = TestEnv::new().await;
        let (auction_id, events) = fixtures::history(3).await.unwrap();
        for event in &events {
            let mut item = event_store::event_item(event).unwrap();
            item.remove("typeShard");
            item.remove("typeOrder");
            env.dynamodb()
                .put_item()
                .table_name(env.events_table())
                .set_item(Some(item))
                .send()
                .await
                .unwrap();
        }
        let id = auction_id.to_string();
        let export = [
            "export",
            "--event-type",
            "BidPlaced",
            "--from",
            "2000-01-01T00:00:00Z",
        ];
        let (result, before) = admin(&env, &export).await;
        result.unwrap();
        assert_eq!(before, "", "the unsharded events are not in the index");

        // When the audit index is backfilled, twice
        let (result, first) = admin(&env, &["backfill-audit-index"]).await;
        result.unwrap();
        let (result, second) = admin(&env, &["backfill-audit-index"]).await;
        result.unwrap();

        // Then the first run gave every event its keys, the second had nothing to do
        let bids = events
            .iter()
            .filter(|e| e.envelope.event_type == "BidPlaced")
            .count();
        assert_eq!(bids, 3);
        let first: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert_eq!(first["missing"], events.len());
        assert_eq!(first["updated"], events.len());
        assert_eq!(second.trim(), r#"{"missing":0,"updated":0}"#);
        // And the export by type lists the bids, and the log verifies as before
        let (result, after) = admin(&env, &export).await;
        result.unwrap();
        assert_eq!(after.lines().count(), bids);
        let (result, out) = admin(&env, &["verify", &id]).await;
        result.unwrap();
        assert!(out.contains(": OK,"), "{out}");
    }

    #[tokio::test]
    async fn verify_all_checks_every_auctions_and_every_items_stream_and_names_an_edited_item() {
        use domain::item::{
            ItemState, RegisterItem, TransferOwnership, decide_register, decide_transfer_ownership,
        };
        use event_store::{SnapshotPolicy, Store};
        use events::{ItemId, UserId};

        // Given an auction and the item it sells, registered and sold, in the test's table
        let env = TestEnv::new().await;
        let (auction_id, _) = imported(&env, 2).await;
        let item_id = ItemId::for_auction(auction_id);
        let store = Store::new(env.event_store(), SnapshotPolicy::default());
        let seller = UserId::try_from("seller").unwrap();
        let context = |now| event_store::CommandContext {
            command_id: "cmd".to_owned(),
            correlation_id: "corr".to_owned(),
            actor: events::Actor::System {
                name: "e2e".to_owned(),
            },
            idempotency_key: None,
            now,
        };
        let register = RegisterItem {
            item_id,
            auction_id,
            owner: seller.clone(),
            title: "Audited lot".to_owned(),
        };
        store
            .execute(item_id, &context(minute(1)), |s: &ItemState, now| {
                decide_register(s, &register, now)
            })
            .await
            .unwrap();
        let transfer = TransferOwnership {
            sale: format!("{auction_id}#bob"),
            auction_id,
            from: seller,
            to: UserId::try_from("bob").unwrap(),
            price: fixtures::eur(500),
        };
        store
            .execute(item_id, &context(minute(60)), |s: &ItemState, now| {
                decide_transfer_ownership(s, &transfer, now)
            })
            .await
            .unwrap();
        let item = item_id.to_string();

        // Then verify --all checks both, each as its own type, and the item's commands answer
        let (result, out) = admin(&env, &["verify", "--all"]).await;
        result.unwrap();
        assert!(out.contains(&format!("auction {auction_id}: OK")), "{out}");
        assert!(out.contains(&format!("item {item}: OK, 2 events")), "{out}");
        assert!(
            out.contains("1 auctions verified, 0 tampered with"),
            "{out}"
        );
        assert!(out.contains("1 items verified, 0 tampered with"), "{out}");
        let (result, out) = admin(&env, &["history", &item, "--item"]).await;
        result.unwrap();
        assert_eq!(out.lines().count(), 2);
        let (result, out) = admin(&env, &["state", &item, "--item", "--version", "1"]).await;
        result.unwrap();
        assert!(out.contains("\"owner\":\"seller\""), "{out}");
        let (result, out) = admin(&env, &["export", "--item", &item]).await;
        result.unwrap();
        let exported = env
            .event_store()
            .read_all(item_id, &Default::default())
            .await
            .unwrap();
        assert_eq!(out, encode_lines(&exported).unwrap());

        // When the item's transfer is edited in the table
        env.dynamodb()
            .update_item()
            .table_name(env.events_table())
            .set_key(Some(key(AuctionId(item_id.0), 2)))
            .update_expression("SET occurredAt = :t")
            .expression_attribute_values(
                ":t",
                AttributeValue::S("2020-01-01T00:00:00.000Z".to_owned()),
            )
            .send()
            .await
            .unwrap();

        // Then verify --all names the item, as an item, and exits with code 1
        let (result, out) = admin(&env, &["verify", "--all"]).await;
        assert_eq!(result.unwrap_err().code(), 1);
        assert!(
            out.contains(&format!("item {item}: TAMPERED: version 2")),
            "{out}"
        );
        assert!(out.contains("1 items verified, 1 tampered with"), "{out}");
        assert!(
            out.contains("1 auctions verified, 0 tampered with"),
            "{out}"
        );
        let (result, _) = admin(&env, &["verify", &item, "--item"]).await;
        assert_eq!(result.unwrap_err().code(), 1);
    }

    #[tokio::test]
    async fn a_version_beyond_the_head_exits_with_code_2_and_says_why() {
        let env = TestEnv::new().await;
        let (auction_id, events) = imported(&env, 1).await;
        let beyond = (events.len() + 1).to_string();
        let (result, _) = admin(
            &env,
            &["state", &auction_id.to_string(), "--version", &beyond],
        )
        .await;
        let exit = result.unwrap_err();
        assert_eq!(exit.code(), 2);
        assert!(exit.to_string().contains("out of range"), "{exit}");
    }
}
