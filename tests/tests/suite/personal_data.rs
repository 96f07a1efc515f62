//! The subjects' key store on DynamoDB Local and moto's KMS: pseudonyms that turn back into
//! user ids until the subject is forgotten, and nothing of the subject left in the table after.

use e2e::TestEnv;
use personal_data::SubjectKeys;

/// Every item of the table, as text.
async fn scan(env: &TestEnv, table: &str) -> String {
    let items = env
        .dynamodb()
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    format!("{items:?}")
}

#[tokio::test]
async fn given_a_subjects_key_when_another_process_reads_a_pseudonym_then_it_gets_the_id_until_the_subject_is_forgotten()
 {
    // Given carol's and dave's keys, made by one process
    let env = TestEnv::new().await;
    let writer = env.subject_keys();
    let table = env.names().subject_keys_table.clone();
    let subjects = ["carol-e2e".to_owned(), "dave-e2e".to_owned()];
    let keys = writer.key_ids(&subjects).await.unwrap();
    // Asked again, the same keys: one per subject
    assert_eq!(writer.key_ids(&subjects).await.unwrap(), keys);
    // And the table holds neither id in the clear
    let stored = scan(&env, &table).await;
    assert!(!stored.contains("carol-e2e") && !stored.contains("dave-e2e"));

    // When another process (its own cache) reads both key ids
    let reader = env.subject_keys();
    let ids = [keys["carol-e2e"], keys["dave-e2e"]];
    let found = reader.subjects(&ids).await.unwrap();

    // Then it gets the ids back through KMS
    assert_eq!(found[&keys["carol-e2e"]], "carol-e2e");
    assert_eq!(found[&keys["dave-e2e"]], "dave-e2e");

    // When carol is forgotten
    let forgotten = writer.forget("carol-e2e").await.unwrap();

    // Then her key id is the one she had, a new reader finds only dave, and her items are gone
    assert_eq!(forgotten, Some(keys["carol-e2e"]));
    let fresh = env.subject_keys();
    let found = fresh.subjects(&ids).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[&keys["dave-e2e"]], "dave-e2e");
    assert!(
        !scan(&env, &table)
            .await
            .contains(&keys["carol-e2e"].to_string())
    );
    // And forgetting her again finds nothing to forget
    assert_eq!(writer.forget("carol-e2e").await.unwrap(), None);
}

// Forgetting a user on the running platform (issue 22): the API, the trigger runner's
// consumers and the payment saga on this test's own stack.

use std::time::{Duration, Instant};

use events::AuctionId;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::digests::{Evidence, admin, digest};
use crate::faults::{Platform, call, ended, sagas};

/// `user`'s answer to GET `path` on the platform.
async fn get(platform: &Platform, user: &str, path: &str) -> Value {
    let url = format!("{}{path}", platform.api_url);
    let (status, body) = call(&platform.client, Method::GET, &url, user, None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

async fn bid(platform: &Platform, user: &str, auction: AuctionId, amount: i64) -> Value {
    let url = format!("{}/auctions/{auction}/bids", platform.api_url);
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"amount": amount, "currency": "EUR"});
    let (status, answer) = call(
        &platform.client,
        Method::POST,
        &url,
        user,
        Some(&key),
        Some(&body),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{user}'s bid: {answer}");
    answer
}

/// Waits until `ready` holds of `user`'s answer to GET `path`, and returns that answer.
async fn until(
    platform: &Platform,
    user: &str,
    path: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let body = get(platform, user, path).await;
        if ready(&body) {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "GET {path} stayed {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn given_a_user_who_bid_sold_and_won_when_forgotten_then_every_answer_shows_them_erased_and_the_log_verifies_proves_and_rebuilds()
 {
    // Given dora (bidder-1), who sells a lamp bid on by bidder-2, and bids on seller-sam's
    // auction and wins it, paid through the saga
    // A forget in one process (auction-admin) seen by the API within a second: only here, the
    // fault suite's platforms keep the default (a short cache costs a key read per request).
    let platform = Platform::start_with(&[("SUBJECT_KEYS_CACHE_SECONDS", "1")], &[]).await;
    let dora = "bidder-1";
    let hers = platform
        .create_auction_by(dora, Duration::from_secs(600))
        .await;
    let won = platform
        .create_auction_by("seller-sam", Duration::from_secs(8))
        .await;
    bid(&platform, "bidder-2", hers, 1_000).await;
    bid(&platform, "bidder-2", won, 1_000).await;
    bid(&platform, dora, won, 1_500).await;
    ended(&platform.env, &[won]).await;
    let started = Instant::now();
    while !sagas(&platform.env)
        .await
        .iter()
        .any(|(saga, status)| saga.starts_with(&won.to_string()) && status == "completed")
    {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the sale was not settled"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let before = until(&platform, "bidder-3", &format!("/auctions/{won}"), |body| {
        body["result"]["winnerId"].is_string()
    })
    .await;
    assert_eq!(before["result"]["winnerId"], dora, "{before}");
    // and who asked for emails at her address
    let dora_pseudonym = platform.env.pseudonym(dora).await;
    let dora_email = "dora@example.com";
    email::PreferenceStore::save(
        &platform.env.email_notices(),
        &dora_pseudonym,
        &email::Preferences {
            email: Some(dora_email.to_owned()),
            topics: [email::Topic::Won].into_iter().collect(),
            updated_at: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();

    // When she is forgotten (`auction-admin forget`)
    let (result, out) = admin(&platform.env, &["forget", dora]).await;
    result.unwrap();
    let forgotten: Value = serde_json::from_str(&out).unwrap();
    let erased = forgotten["erasedAs"].as_str().unwrap().to_owned();
    assert!(erased.starts_with("erased:"), "{forgotten}");
    // (the API's process trusts what it knew of her for SUBJECT_KEYS_CACHE_SECONDS, 1 s here)
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    // Then every answer shows her as erased: her auction's seller, the winner of the other,
    // her bid in its history, and the export beside its stored envelopes
    let mine = get(&platform, "bidder-3", &format!("/auctions/{hers}")).await;
    assert_eq!(mine["sellerId"], erased.as_str(), "{mine}");
    let sold = get(&platform, "bidder-3", &format!("/auctions/{won}")).await;
    assert_eq!(sold["result"]["winnerId"], erased.as_str(), "{sold}");
    let bids = get(&platform, "bidder-3", &format!("/auctions/{won}/bids")).await;
    assert_eq!(bids["bids"][0]["bidderId"], erased.as_str(), "{bids}");
    assert_eq!(bids["bids"][1]["bidderId"], "b***2", "{bids}");
    let (result, export) = admin(&platform.env, &["export", "--auction", &won.to_string()]).await;
    result.unwrap();
    assert!(export.contains(&format!("\"{erased}\"")), "{export}");
    for text in [
        &mine.to_string(),
        &sold.to_string(),
        &bids.to_string(),
        &export,
    ] {
        assert!(!text.contains(&format!("\"{dora}\"")), "{text}");
    }
    // and her id is nowhere in the log, the snapshots, the views or the inboxes
    let names = platform.env.names();
    for table in [
        &names.events_table,
        &names.snapshots_table,
        &names.auction_views_table,
        &names.user_bids_table,
        &names.notifications_table,
    ] {
        let items = scan(&platform.env, table).await;
        assert!(!items.contains(&format!("\"{dora}\"")), "{table}: {items}");
    }
    // and her email address and preferences are gone
    let emails = scan(&platform.env, &names.email_notices_table).await;
    assert!(!emails.contains(dora_email), "{emails}");
    assert!(!emails.contains(dora_pseudonym.as_str()), "{emails}");

    // And every stream still verifies, the tombstone's included
    let (result, report) = admin(&platform.env, &["verify", "--all"]).await;
    assert!(result.is_ok(), "{report}");
    assert!(
        report.contains("1 subjects verified, 0 tampered with"),
        "{report}"
    );
    // and her winning bid's proof passes the standalone verifier against a digest written now
    let written = digest(&platform.env).await;
    let sequence = written["sequence"].as_u64().unwrap();
    let (code, said) = Evidence::gather(&platform.env, won, 4, sequence)
        .await
        .verify();
    assert_eq!(code, 0, "{said}");
    // and a full rebuild of the views passes
    let target = crate::rebuild::fresh(&platform.env, "forgotten");
    let (result, summary) = admin(
        &platform.env,
        &[
            "rebuild",
            "--auction-views-table",
            &target.auction_views,
            "--user-bids-table",
            &target.user_bids,
            "--segments",
            "2",
            "--grace-seconds",
            "5",
            "--no-progress",
        ],
    )
    .await;
    assert!(result.is_ok(), "{summary}");
    let rebuilt = get(&platform, "bidder-3", &format!("/auctions/{won}")).await;
    assert_eq!(rebuilt["result"]["winnerId"], erased.as_str(), "{rebuilt}");
    platform.stop().await;
}
