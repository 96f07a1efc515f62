//! The notary over in-memory ports: digests written and chained, proofs cut from them and
//! checked the way the standalone verifier checks them (chain, then tree; the signature is the
//! verifier's own test's), and what an edited log does to them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use event_store::chain::{self, GENESIS};
use event_store::testing::{epoch, typed_history};
use event_store::{EventLog, InMemoryStore, Meter, StoredEvent};
use notary::digest::digest_key;
use notary::merkle::{self, from_hex};
use notary::{
    Archive, Heads, NotaryError, Proof, Prover, SignedDigest, Signer, StreamHead, Written, publish,
};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

#[derive(Default)]
struct MemoryArchive(Mutex<HashMap<String, Vec<u8>>>);

impl Archive for MemoryArchive {
    async fn put_new(
        &self,
        key: &str,
        body: Vec<u8>,
        _: &'static str,
    ) -> Result<Written, NotaryError> {
        let mut objects = self.0.lock().unwrap();
        if objects.contains_key(key) {
            return Ok(Written::Existing);
        }
        objects.insert(key.to_owned(), body);
        Ok(Written::New)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, NotaryError> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }

    async fn exists(&self, key: &str) -> Result<bool, NotaryError> {
        Ok(self.0.lock().unwrap().contains_key(key))
    }
}

#[derive(Default)]
struct MemoryHeads {
    heads: Mutex<HashMap<Uuid, StreamHead>>,
    last: Mutex<Option<u64>>,
    /// When set, `digest_written` forgets: a run that stopped after its digest.
    forget: Mutex<bool>,
}

impl MemoryHeads {
    fn track(&self, events: &[StoredEvent]) {
        let last = events.last().unwrap();
        self.heads.lock().unwrap().insert(
            last.envelope.aggregate_id,
            StreamHead {
                aggregate_type: last.envelope.aggregate_type.clone(),
                aggregate_id: last.envelope.aggregate_id,
                version: last.version(),
                head: last.hash.clone(),
            },
        );
    }
}

impl Heads for MemoryHeads {
    async fn all(&self) -> Result<Vec<StreamHead>, NotaryError> {
        Ok(self.heads.lock().unwrap().values().cloned().collect())
    }
    async fn last_digest(&self) -> Result<Option<u64>, NotaryError> {
        Ok(*self.last.lock().unwrap())
    }
    async fn digest_written(&self, sequence: u64) -> Result<(), NotaryError> {
        if !*self.forget.lock().unwrap() {
            *self.last.lock().unwrap() = Some(sequence);
        }
        Ok(())
    }
}

/// A test double: "signs" with a SHA-256 of the message, which the checks below accept.
struct HashSigner;

impl Signer for HashSigner {
    async fn key_id(&self) -> Result<String, notary::NotaryError> {
        Ok("test-key".to_owned())
    }
    async fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, NotaryError> {
        Ok(Sha256::digest(message).to_vec())
    }
}

struct Platform {
    log: InMemoryStore,
    heads: MemoryHeads,
    archive: MemoryArchive,
}

impl Platform {
    fn new() -> Self {
        Self {
            log: InMemoryStore::new(),
            heads: MemoryHeads::default(),
            archive: MemoryArchive::default(),
        }
    }

    /// A stream of `n` events, appended and its head tracked as the projector would.
    async fn stream(&self, n: usize) -> Uuid {
        let id = Uuid::new_v4();
        let types = vec!["BidPlaced"; n];
        let events = typed_history(id, &types, |v| epoch() + TimeDelta::seconds(v as i64));
        self.log.append(&events, &Meter::default()).await.unwrap();
        self.heads.track(&events);
        id
    }

    async fn digest(&self, at: DateTime<Utc>) -> Result<notary::Published, NotaryError> {
        publish(&self.heads, &HashSigner, &self.archive, at).await
    }

    fn prover(&self) -> Prover<&MemoryHeads, &MemoryArchive, &InMemoryStore> {
        Prover::new(&self.heads, &self.archive, &self.log)
    }

    fn stored_digest(&self, sequence: u64) -> SignedDigest {
        let bytes = self.archive.0.lock().unwrap()[&digest_key(sequence)].clone();
        serde_json::from_slice(&bytes).unwrap()
    }
}

/// The verifier's checks, minus RSA: signature (here the test signer's), sizes, envelopes of
/// one stream in consecutive versions, the chain to a head, the leaf, the path to the root.
fn check(proof: &Proof, signed: &SignedDigest) -> Result<(), String> {
    let digest = &signed.digest;
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(&signed.signature)
        .map_err(|e| e.to_string())?;
    if signature != Sha256::digest(digest.signed_bytes()).to_vec() {
        return Err("signature".into());
    }
    if proof.tree_size != digest.tree_size || proof.digest.sequence != digest.sequence {
        return Err("tree size or sequence".into());
    }
    let mut head = proof.previous.clone();
    let mut last = 0;
    for (i, text) in proof.envelopes.iter().enumerate() {
        let envelope: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let expected = proof.version + i as u64;
        if envelope["version"] != expected
            || envelope["aggregateId"] != proof.aggregate_id.to_string()
            || envelope["aggregateType"] != proof.aggregate_type
        {
            return Err(format!(
                "envelope {i} is not version {expected} of the stream"
            ));
        }
        let mut hasher = Sha256::new();
        hasher.update(head.as_bytes());
        hasher.update(b"\n");
        hasher.update(text.as_bytes());
        head = merkle::hex(&hasher.finalize().into());
        last = expected;
    }
    let leaf = StreamHead {
        aggregate_type: proof.aggregate_type.clone(),
        aggregate_id: proof.aggregate_id,
        version: last,
        head,
    };
    let path: Vec<_> = proof
        .audit_path
        .iter()
        .map(|h| from_hex(h).unwrap())
        .collect();
    let root = from_hex(&digest.root).unwrap();
    if !merkle::verify_inclusion(
        proof.leaf_index,
        proof.tree_size,
        &leaf.hash(),
        &path,
        &root,
    ) {
        return Err("the audit path does not lead to the root".into());
    }
    Ok(())
}

#[tokio::test]
async fn given_streams_in_a_digest_when_every_event_is_proved_then_each_proof_leads_to_the_signed_root()
 {
    // Given five streams of 1 to 5 events, digested
    let platform = Platform::new();
    let mut streams = Vec::new();
    for n in 1..=5 {
        streams.push((platform.stream(n).await, n as u64));
    }
    let published = platform.digest(epoch()).await.unwrap();
    assert_eq!((published.sequence, published.tree_size), (1, 5));
    let signed = platform.stored_digest(1);
    assert_eq!(signed.digest.previous, GENESIS);
    // When every event of every stream is proved, then each proof checks
    for (id, n) in &streams {
        for version in 1..=*n {
            let proof = platform
                .prover()
                .prove("Auction", *id, version, None)
                .await
                .unwrap();
            assert_eq!(proof.envelopes.len() as u64, n - version + 1);
            check(&proof, &signed).unwrap();
        }
    }
}

#[tokio::test]
async fn given_a_digest_when_an_event_is_edited_then_its_proof_fails_and_other_streams_still_prove()
{
    let platform = Platform::new();
    let edited = platform.stream(4).await;
    let other = platform.stream(3).await;
    platform.digest(epoch()).await.unwrap();
    let signed = platform.stored_digest(1);
    // When version 2's payload is edited in the log (its stored hash left as it was)
    let mut event = platform.log.events(edited)[1].clone();
    event.envelope.payload = serde_json::json!({"n": 99});
    platform.log.overwrite(event);
    // Then the proofs of versions 1 and 2 fail (each hashes version 2's content); those of
    // versions 3 and 4 still pass (they start from version 2's stored hash, and they are
    // intact), and so do the other stream's
    for version in 1..=2 {
        let proof = platform
            .prover()
            .prove("Auction", edited, version, None)
            .await
            .unwrap();
        assert!(
            check(&proof, &signed).is_err(),
            "version {version} still proved"
        );
    }
    for version in 3..=4 {
        let proof = platform
            .prover()
            .prove("Auction", edited, version, None)
            .await
            .unwrap();
        check(&proof, &signed).unwrap();
    }
    let proof = platform
        .prover()
        .prove("Auction", other, 2, None)
        .await
        .unwrap();
    check(&proof, &signed).unwrap();
}

#[tokio::test]
async fn given_a_digest_when_a_whole_stream_is_rewritten_with_a_recomputed_chain_then_its_proof_fails()
 {
    let platform = Platform::new();
    let id = platform.stream(3).await;
    platform.digest(epoch()).await.unwrap();
    let signed = platform.stored_digest(1);
    // When every event is rewritten and resealed: a chain that verifies on its own
    let mut envelopes: Vec<_> = platform
        .log
        .events(id)
        .into_iter()
        .map(|e| e.envelope)
        .collect();
    envelopes[1].payload = serde_json::json!({"n": 1000});
    for event in chain::seal(GENESIS, envelopes) {
        platform.log.overwrite(event);
    }
    assert!(event_store::chain::verify(id, &platform.log.events(id)).is_ok());
    // Then its proof does not reach the anchored root
    let proof = platform
        .prover()
        .prove("Auction", id, 1, None)
        .await
        .unwrap();
    assert_eq!(
        check(&proof, &signed).unwrap_err(),
        "the audit path does not lead to the root"
    );
}

#[tokio::test]
async fn given_a_second_digest_then_it_chains_to_the_first_and_is_found_even_when_the_hint_lags() {
    let platform = Platform::new();
    let id = platform.stream(2).await;
    platform.digest(epoch()).await.unwrap();
    let first = platform.stored_digest(1);
    // When the stream moves on and a run writes digest 2 but stops before its hint
    let stored = platform.log.events(id);
    let mut third = typed_history(id, &["BidPlaced"; 3], |v| {
        epoch() + TimeDelta::seconds(v as i64)
    })
    .remove(2)
    .envelope;
    third.version = 3;
    let third = chain::seal(&stored[1].hash, vec![third]);
    platform
        .log
        .append(&third, &Meter::default())
        .await
        .unwrap();
    platform.heads.track(&third);
    *platform.heads.forget.lock().unwrap() = true;
    let published = platform
        .digest(epoch() + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(published.sequence, 2);
    assert_eq!(*platform.heads.last.lock().unwrap(), Some(1));
    // Then digest 2 names the first's hash, and the next run and the prover find digest 2
    let second = platform.stored_digest(2);
    assert_eq!(second.digest.previous, first.digest.hash());
    assert_eq!(platform.prover().digest(None).await.unwrap(), second);
    let proof = platform
        .prover()
        .prove("Auction", id, 3, None)
        .await
        .unwrap();
    assert_eq!(proof.digest.sequence, 2);
    check(&proof, &second).unwrap();
    // And version 3 is not in digest 1, whose head was version 2
    match platform.prover().prove("Auction", id, 3, Some(1)).await {
        Err(NotaryError::NotYetDigested {
            head: 2,
            sequence: 1,
            ..
        }) => {}
        other => panic!("expected not yet digested, got {other:?}"),
    }
    assert_eq!(platform.digest(epoch()).await.unwrap().sequence, 3);
}

#[tokio::test]
async fn given_an_unchanged_log_when_digested_again_then_the_leaves_are_reused_and_a_new_digest_is_written()
 {
    let platform = Platform::new();
    platform.stream(2).await;
    let first = platform.digest(epoch()).await.unwrap();
    let second = platform.digest(epoch()).await.unwrap();
    assert!(!first.leaves_reused && second.leaves_reused);
    assert_eq!((first.root.clone(), second.sequence), (second.root, 2));
}

#[tokio::test]
async fn given_an_object_this_code_did_not_write_at_the_next_sequence_when_publishing_then_the_run_stops_and_overwrites_nothing()
 {
    let platform = Platform::new();
    platform.stream(1).await;
    // Another run's digest 1, which this run's hint does not know
    platform
        .archive
        .put_new(&digest_key(1), b"theirs".to_vec(), "application/json")
        .await
        .unwrap();
    match platform.digest(epoch()).await {
        // It reads digest 1 (unreadable: "theirs") before writing anything
        Err(NotaryError::Corrupt { key, .. }) => assert_eq!(key, digest_key(1)),
        other => panic!("expected the other run's object to be refused, got {other:?}"),
    }
    assert_eq!(
        platform.archive.0.lock().unwrap()[&digest_key(1)],
        b"theirs".to_vec()
    );
}

#[tokio::test]
async fn given_a_stream_outside_the_digest_or_a_leaves_object_edited_then_the_prover_refuses() {
    let platform = Platform::new();
    let id = platform.stream(2).await;
    assert!(matches!(
        platform.prover().prove("Auction", id, 1, None).await,
        Err(NotaryError::NoDigest(_))
    ));
    platform.digest(epoch()).await.unwrap();
    let later = platform.stream(1).await;
    assert!(matches!(
        platform.prover().prove("Auction", later, 1, None).await,
        Err(NotaryError::NotInDigest { .. })
    ));
    assert!(matches!(
        platform.prover().prove("Item", id, 1, None).await,
        Err(NotaryError::NotInDigest { .. })
    ));
    // When the leaves object is swapped for another tree's
    let key = platform.stored_digest(1).digest.leaves;
    platform
        .archive
        .0
        .lock()
        .unwrap()
        .insert(key, b"{}\n".to_vec());
    assert!(matches!(
        Prover::new(&platform.heads, &platform.archive, &platform.log)
            .prove("Auction", id, 1, None)
            .await,
        Err(NotaryError::Corrupt { .. })
    ));
}
