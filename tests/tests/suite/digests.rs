//! The log's digests against DynamoDB Local and moto's S3 and KMS, checked by the standalone
//! verifier (`tools/verifier/verify_proof.py`, Python's standard library only): a proof from
//! `auction-admin prove` passes; each way of tampering with the log after a digest makes the
//! proofs it touches fail; the archive refuses to lose or replace a digest.

use std::path::{Path, PathBuf};

use auction_admin::cli::{Cli, Exit, run};
use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use clap::Parser;
use e2e::{TestEnv, fixtures};
use event_store::StoredEvent;
use event_store::chain::{self, GENESIS};
use events::AuctionId;
use notary::digest::digest_key;

use crate::audit::{key, sources};

/// Where the verifier is, from this crate (tests/).
fn verifier() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/verifier/verify_proof.py")
}

/// An auction of `bids` bids in the test's Events table, projected by the projector's own
/// handler (which moves the stream's head), as the stream would deliver it.
async fn auction(env: &TestEnv, bids: usize) -> (AuctionId, Vec<StoredEvent>) {
    let (auction_id, events) = fixtures::history(bids).await.unwrap();
    fixtures::import(&env.event_store(), &events).await.unwrap();
    let mut stream = Event::default();
    stream.records = events
        .iter()
        .map(|stored| stream_records::insert_record(stored, stored.version()).unwrap())
        .collect();
    let response = read_models::handle(&env.views(), &env.event_store(), &env.heads(), stream)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    (auction_id, events)
}

pub(crate) async fn admin(env: &TestEnv, args: &[&str]) -> (Result<(), Exit>, String) {
    let cli =
        Cli::try_parse_from(std::iter::once("auction-admin").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    // Boxed: the CLI's future is large, and a test that runs several commands would otherwise
    // hold them all on its stack.
    let result = Box::pin(run(&sources(env).await, cli.command, &mut out)).await;
    (result, String::from_utf8(out).unwrap())
}

/// Writes the next digest now, through the CLI, as the digester's schedule would.
pub(crate) async fn digest(env: &TestEnv) -> serde_json::Value {
    let (result, out) = admin(env, &["digest", "write"]).await;
    result.unwrap();
    serde_json::from_str(&out).unwrap()
}

/// What an auditor holds: the digest object read from the bucket and the public key read from
/// KMS (not through the platform's code), and a proof from `auction-admin prove`, as files.
pub(crate) struct Evidence {
    dir: PathBuf,
}

impl Drop for Evidence {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Evidence {
    pub(crate) async fn gather(
        env: &TestEnv,
        auction_id: AuctionId,
        version: u64,
        sequence: u64,
    ) -> Self {
        let dir = std::env::temp_dir().join(format!("evidence-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let object = env
            .clients
            .s3
            .get_object()
            .bucket(&env.names().digest_bucket)
            .key(digest_key(sequence))
            .send()
            .await
            .unwrap();
        let digest = object.body.collect().await.unwrap().into_bytes();
        std::fs::write(dir.join("digest.json"), &digest).unwrap();
        let key = env
            .clients
            .kms
            .get_public_key()
            .key_id(&env.names().digest_key)
            .send()
            .await
            .unwrap();
        std::fs::write(dir.join("key.der"), key.public_key.unwrap().into_inner()).unwrap();
        let (result, proof) = admin(
            env,
            &[
                "prove",
                "Auction",
                &auction_id.to_string(),
                &version.to_string(),
                "--digest",
                &sequence.to_string(),
            ],
        )
        .await;
        result.unwrap();
        std::fs::write(dir.join("proof.json"), proof).unwrap();
        Self { dir }
    }

    /// The verifier's exit code and what it printed.
    pub(crate) fn verify(&self) -> (i32, String) {
        let path = |name: &str| self.dir.join(name);
        let output = std::process::Command::new("python3")
            .arg(verifier())
            .arg("--digest")
            .arg(path("digest.json"))
            .arg("--proof")
            .arg(path("proof.json"))
            .arg("--public-key")
            .arg(path("key.der"))
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code().unwrap_or(-1), said)
    }
}

#[tokio::test]
async fn given_a_digest_when_the_verifier_checks_a_proof_from_the_platform_then_it_passes_for_every_version()
 {
    // Given two auctions projected and a digest written
    let env = TestEnv::new().await;
    let (auction_id, events) = auction(&env, 3).await;
    auction(&env, 1).await;
    let written = digest(&env).await;
    assert_eq!(written["sequence"], 1, "{written}");
    assert_eq!(written["treeSize"], 2, "{written}");
    // When each event's proof is checked by the standalone verifier, then it passes
    for version in 1..=events.len() as u64 {
        let (code, said) = Evidence::gather(&env, auction_id, version, 1)
            .await
            .verify();
        assert_eq!(code, 0, "version {version}: {said}");
        assert!(said.starts_with("OK: Auction"), "{said}");
    }
}

#[tokio::test]
async fn given_a_digest_when_an_event_is_edited_then_its_proof_fails_at_the_verifier() {
    let env = TestEnv::new().await;
    let (auction_id, _) = auction(&env, 3).await;
    digest(&env).await;
    // When version 3's payload is edited in the table
    let item = env
        .dynamodb()
        .get_item()
        .table_name(env.events_table())
        .set_key(Some(key(auction_id, 3)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let payload = item["payload"]
        .as_s()
        .unwrap()
        .replacen('{', "{\"edited\":true,", 1);
    env.dynamodb()
        .update_item()
        .table_name(env.events_table())
        .set_key(Some(key(auction_id, 3)))
        .update_expression("SET payload = :p")
        .expression_attribute_values(":p", AttributeValue::S(payload))
        .send()
        .await
        .unwrap();
    // Then its proof fails: the chain no longer reaches the anchored head
    let (code, said) = Evidence::gather(&env, auction_id, 3, 1).await.verify();
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("FAILED"), "{said}");
}

#[tokio::test]
async fn given_a_digest_when_an_event_is_deleted_then_the_proofs_through_it_fail_at_the_verifier() {
    let env = TestEnv::new().await;
    let (auction_id, _) = auction(&env, 3).await;
    digest(&env).await;
    env.dynamodb()
        .delete_item()
        .table_name(env.events_table())
        .set_key(Some(key(auction_id, 3)))
        .send()
        .await
        .unwrap();
    // Version 2's proof runs through the missing version 3 to the anchored head at 5
    let (code, said) = Evidence::gather(&env, auction_id, 2, 1).await.verify();
    assert_eq!(code, 1, "{said}");
}

#[tokio::test]
async fn given_a_digest_when_two_events_are_swapped_then_their_proofs_fail_at_the_verifier() {
    let env = TestEnv::new().await;
    let (auction_id, events) = auction(&env, 3).await;
    digest(&env).await;
    // When versions 2 and 3 trade places (each renumbered, hashes kept)
    for (from, to) in [(1usize, 3u64), (2, 2)] {
        let mut moved = events[from].clone();
        moved.envelope.version = to;
        env.dynamodb()
            .put_item()
            .table_name(env.events_table())
            .set_item(Some(event_store::event_item(&moved).unwrap()))
            .send()
            .await
            .unwrap();
    }
    let (code, said) = Evidence::gather(&env, auction_id, 2, 1).await.verify();
    assert_eq!(code, 1, "{said}");
}

#[tokio::test]
async fn given_a_digest_when_a_whole_stream_is_rewritten_with_a_recomputed_chain_then_verify_passes_but_the_proof_fails()
 {
    let env = TestEnv::new().await;
    let (auction_id, events) = auction(&env, 3).await;
    digest(&env).await;
    // When the stream is rewritten, the second event's payload changed and every hash
    // recomputed: a chain that is consistent on its own
    let mut envelopes: Vec<_> = events.into_iter().map(|e| e.envelope).collect();
    let mut payload = envelopes[1].payload.clone();
    payload["rewritten"] = serde_json::json!(true);
    envelopes[1].payload = payload;
    for forged in chain::seal(GENESIS, envelopes) {
        env.dynamodb()
            .put_item()
            .table_name(env.events_table())
            .set_item(Some(event_store::event_item(&forged).unwrap()))
            .send()
            .await
            .unwrap();
    }
    // Then the table alone does not show it
    let report = ::audit::verify(&env.event_store(), auction_id)
        .await
        .unwrap();
    assert!(report.outcome.is_ok(), "{report}");
    // But against the anchored digest every proof fails
    for version in [1, 4] {
        let (code, said) = Evidence::gather(&env, auction_id, version, 1)
            .await
            .verify();
        assert_eq!(code, 1, "version {version}: {said}");
        assert!(said.contains("root"), "{said}");
    }
}

#[tokio::test]
async fn given_a_digest_in_the_locked_bucket_when_it_is_deleted_or_written_again_then_the_archive_refuses()
 {
    let env = TestEnv::new().await;
    auction(&env, 1).await;
    digest(&env).await;
    let s3 = &env.clients.s3;
    let bucket = &env.names().digest_bucket;
    let key = digest_key(1);
    let original = s3
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let version = original.version_id.clone().unwrap();
    assert_eq!(
        original.object_lock_mode.map(|m| m.as_str().to_owned()),
        Some("COMPLIANCE".to_owned())
    );
    // When the digest's version is deleted: refused (Object Lock, compliance mode)
    let deleted = s3
        .delete_object()
        .bucket(bucket)
        .key(&key)
        .version_id(&version)
        .send()
        .await;
    assert!(deleted.is_err(), "a locked digest was deleted");
    // When it is written again the way the digester writes: refused (If-None-Match)
    let again = s3
        .put_object()
        .bucket(bucket)
        .key(&key)
        .if_none_match("*")
        .body(b"forged".to_vec().into())
        .send()
        .await;
    assert!(again.is_err(), "a digest was overwritten");
    // And the next digest continues the sequence, chained to the first
    assert_eq!(digest(&env).await["sequence"], 2);
    let first = s3
        .get_object()
        .bucket(bucket)
        .key(&key)
        .version_id(&version)
        .send()
        .await
        .unwrap();
    assert!(first.body.collect().await.is_ok());
}
