//! The log's digests (issue 22): how long one digest takes and how big it is with 10,000 and
//! 100,000 streams, beside a bare parallel Scan of the same heads table in the same run (what
//! reading the heads alone costs); and how a proof grows with the tree.
//!
//! A digest is the digester's own run (`notary::publish`): the parallel Scan of StreamHeads,
//! the tree, a signature from moto's KMS (RSA_2048), the leaves and the digest written to
//! moto's S3. The heads are synthetic (random ids, versions and hashes) and written with
//! BatchWriteItem; the table grows from one size to the next. A proof's size is its JSON with
//! one event (the head), against the tree's size: it should grow as log2 of it.
//!
//! Environment: BENCH_DIGEST_SIZES (default "10000,100000"). Run it with `scripts/bench digest`.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use benchmarks::{Better, Measurement, ms, print_table, record};
use chrono::Utc;
use event_store::chain::{GENESIS, seal};
use events::{Actor, Metadata, RawEnvelope};
use local_stack::{Clients, Endpoints, ResourceNames, provision};
use notary::{Heads, HeadsTable, KmsSigner, S3Archive, StreamHead, Tree, publish};
use uuid::Uuid;

/// Tree sizes at which a proof's size is measured.
const PROOF_SIZES: [usize; 6] = [1, 10, 100, 1_000, 10_000, 100_000];

#[tokio::main]
async fn main() -> Result<()> {
    let sizes: Vec<usize> = std::env::var("BENCH_DIGEST_SIZES")
        .unwrap_or_else(|_| "10000,100000".to_owned())
        .split(',')
        .map(|size| size.trim().parse::<usize>().context("BENCH_DIGEST_SIZES"))
        .collect::<Result<_>>()?;
    let endpoints = Endpoints::from_env()
        .context("no local stack: run `scripts/bench digest`, which starts one")?;
    let clients = Clients::connect(&endpoints).await;
    let names =
        ResourceNames::with_prefix(&format!("dg{}", &Uuid::new_v4().simple().to_string()[..8]));
    provision(&clients, &names).await.context("provisioning")?;
    let heads = HeadsTable::new(clients.dynamodb.clone(), names.stream_heads_table.clone());
    let signer = KmsSigner::resolve(clients.kms.clone(), &names.digest_key).await?;
    let archive = S3Archive::new(clients.s3.clone(), names.digest_bucket.clone());

    println!("# Digest benchmark");
    println!();
    println!(
        "DynamoDB Local at {}, moto's S3 and KMS at {} ({}). A digest: the parallel Scan of \
         StreamHeads, the tree, an RSA signature from KMS, the leaves and the digest written.",
        endpoints.dynamodb,
        endpoints.sqs,
        benchmarks::build_profile()
    );
    println!();

    let mut loaded = 0;
    let mut rows = Vec::new();
    for size in sizes {
        if size < loaded {
            bail!("BENCH_DIGEST_SIZES must grow: {size} after {loaded}");
        }
        let items: Vec<_> = (loaded..size).map(|_| head_item(&random_head())).collect();
        benchmarks::write_all(&clients.dynamodb, &names.stream_heads_table, 8, items).await?;
        loaded = size;

        let scan_started = Instant::now();
        let scanned = heads.all().await?.len();
        let scan = scan_started.elapsed();
        if scanned != size {
            bail!("the Scan found {scanned} heads of {size}");
        }
        let started = Instant::now();
        let published = publish(&heads, &signer, &archive, Utc::now()).await?;
        let took = started.elapsed();
        if published.tree_size != size as u64 {
            bail!(
                "a digest of {} streams, expected {size}",
                published.tree_size
            );
        }
        record(
            &Measurement::new(format!("digest of {size} streams: time"), ms(took), "ms").beside(
                Better::Lower,
                format!("a bare parallel Scan of the same {size} heads"),
                ms(scan),
            ),
        )?;
        record(
            &Measurement::new(
                format!("digest of {size} streams: leaves object"),
                published.leaves_bytes as f64 / 1e6,
                "MB",
            )
            .beside(
                Better::Lower,
                "the heads' bytes as stored (StreamHeads item size, summed)",
                size as f64 * head_item_bytes() / 1e6,
            ),
        )?;
        rows.push(vec![
            size.to_string(),
            benchmarks::millis(took),
            benchmarks::millis(scan),
            format!("{:.2} MB", published.leaves_bytes as f64 / 1e6),
            format!("{} B", published.digest_bytes),
        ]);
    }
    print_table(
        &["streams", "digest", "bare Scan", "leaves", "digest object"],
        &rows,
    );
    println!();

    // Proof sizes: a tree of n streams, each of one event, the proof of one in the middle.
    let mut proof_rows = Vec::new();
    for n in PROOF_SIZES {
        let (tree, stream) = synthetic_tree(n);
        let id = stream[0].envelope.aggregate_id;
        let proof = tree.prove("Auction", id, 1, &stream)?;
        let bytes = serde_json::to_vec(&proof)?.len();
        let log2 = (n as f64).log2().ceil() as usize;
        record(
            &Measurement::new(
                format!("proof in a tree of {n} streams: audit path"),
                proof.audit_path.len() as f64,
                "hashes",
            )
            .beside(Better::Lower, "ceil(log2 n)", log2.max(1) as f64),
        )?;
        proof_rows.push(vec![
            n.to_string(),
            proof.audit_path.len().to_string(),
            log2.to_string(),
            format!("{bytes} B"),
        ]);
    }
    print_table(
        &[
            "tree size",
            "path hashes",
            "ceil(log2 n)",
            "proof (one event)",
        ],
        &proof_rows,
    );
    Ok(())
}

fn random_head() -> StreamHead {
    let id = Uuid::new_v4();
    StreamHead {
        aggregate_type: "Auction".to_owned(),
        aggregate_id: id,
        version: u64::from(id.as_bytes()[0]) + 1,
        head: format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
    }
}

fn head_item(head: &StreamHead) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "aggregateId".to_owned(),
            AttributeValue::S(head.aggregate_id.to_string()),
        ),
        (
            "aggregateType".to_owned(),
            AttributeValue::S(head.aggregate_type.clone()),
        ),
        (
            "version".to_owned(),
            AttributeValue::N(head.version.to_string()),
        ),
        ("head".to_owned(), AttributeValue::S(head.head.clone())),
    ])
}

/// DynamoDB's size of a head item: attribute names and values (36 + 7 + 2 + 64 characters of
/// values, 11 + 13 + 7 + 4 of names, a number of up to 3 digits).
fn head_item_bytes() -> f64 {
    (11 + 36 + 13 + 7 + 7 + 3 + 4 + 64) as f64
}

/// A tree of `n` one-event streams (one of them real, so that its proof can be cut) under an
/// unsigned digest, and the real stream's events.
fn synthetic_tree(n: usize) -> (Tree, Vec<event_store::StoredEvent>) {
    let id = Uuid::new_v4();
    let stream = seal(
        GENESIS,
        vec![RawEnvelope {
            event_id: Uuid::new_v4(),
            aggregate_id: id,
            aggregate_type: "Auction".to_owned(),
            event_type: "AuctionCreated".to_owned(),
            version: 1,
            schema_version: 1,
            occurred_at: Utc::now(),
            payload: serde_json::json!({"title": "Benchmark lot"}),
            metadata: Metadata {
                correlation_id: "bench".to_owned(),
                causation_id: "bench".to_owned(),
                actor: Actor::System {
                    name: "bench".to_owned(),
                },
                idempotency_key: None,
                request_fingerprint: None,
            },
        }],
    );
    let mut leaves: Vec<StreamHead> = (1..n).map(|_| random_head()).collect();
    leaves.push(StreamHead {
        aggregate_type: "Auction".to_owned(),
        aggregate_id: id,
        version: 1,
        head: stream[0].hash.clone(),
    });
    let leaves = notary::leaf::in_tree_order(leaves);
    let hashes: Vec<_> = leaves.iter().map(StreamHead::hash).collect();
    let root = notary::merkle::root(&hashes);
    let digest = notary::Digest::next(
        None,
        (&root, n as u64, notary::digest::leaves_key(&root, n as u64)),
        "bench",
        Utc::now(),
    );
    (
        Tree::new(notary::SignedDigest::new(digest, b"unsigned"), leaves),
        stream,
    )
}
