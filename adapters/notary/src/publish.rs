//! Writing a digest: every stream's head into a tree, its leaves and the signed digest into
//! the archive, in that order, so that a digest never names leaves that are not there.

use chrono::{DateTime, Utc};

use crate::digest::{Digest, SignedDigest, digest_key, leaves_key};
use crate::error::NotaryError;
use crate::leaf::{StreamHead, in_tree_order};
use crate::merkle;
use crate::ports::{Archive, Heads, Signer, Written};
use crate::proof::leaves_bytes;

/// What one run wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub sequence: u64,
    pub tree_size: u64,
    pub root: String,
    /// Sizes of the two objects: the leaves (written only when the tree changed) and the
    /// digest.
    pub leaves_bytes: usize,
    pub digest_bytes: usize,
    /// Whether the leaves were already in the archive (an unchanged tree).
    pub leaves_reused: bool,
}

/// Writes the next digest of the heads in `heads`, signed by `signer`, into `archive`.
pub async fn publish<H, S, A>(
    heads: &H,
    signer: &S,
    archive: &A,
    now: DateTime<Utc>,
) -> Result<Published, NotaryError>
where
    H: Heads,
    S: Signer,
    A: Archive,
{
    let previous = latest(heads, archive).await?;
    let leaves: Vec<StreamHead> = in_tree_order(heads.all().await?);
    let hashes: Vec<merkle::Hash> = leaves.iter().map(StreamHead::hash).collect();
    let root = merkle::root(&hashes);
    let tree_size = leaves.len() as u64;
    let leaves_key = leaves_key(&root, tree_size);
    let leaves_body = leaves_bytes(&leaves);
    let leaves_size = leaves_body.len();
    // An unchanged tree's leaves are there already: asked first, not sent again (17 MB at
    // 100,000 streams, every run) for the archive to refuse.
    let reused = archive.exists(&leaves_key).await?
        || archive
            .put_new(&leaves_key, leaves_body, "application/x-ndjson")
            .await?
            == Written::Existing;
    let digest = Digest::next(
        previous.as_ref().map(|signed| &signed.digest),
        (&root, tree_size, leaves_key),
        &signer.key_id().await?,
        now,
    );
    let sequence = digest.sequence;
    let signature = signer.sign(digest.signed_bytes()).await?;
    let body = SignedDigest::new(digest, &signature).to_json();
    let digest_size = body.len();
    if archive
        .put_new(&digest_key(sequence), body, "application/json")
        .await?
        == Written::Existing
    {
        return Err(NotaryError::Raced { sequence });
    }
    heads.digest_written(sequence).await?;
    Ok(Published {
        sequence,
        tree_size,
        root: merkle::hex(&root),
        leaves_bytes: leaves_size,
        digest_bytes: digest_size,
        leaves_reused: reused,
    })
}

/// The last digest in the archive: from the heads table's hint, then forward while the next
/// sequence exists (a run that stopped after its digest and before the hint leaves it behind).
pub async fn latest<H, A>(heads: &H, archive: &A) -> Result<Option<SignedDigest>, NotaryError>
where
    H: Heads,
    A: Archive,
{
    let hint = heads.last_digest().await?.unwrap_or(0);
    let mut found =
        match hint {
            0 => None,
            sequence => Some(read_digest(archive, sequence).await?.ok_or_else(|| {
                NotaryError::Corrupt {
                    key: digest_key(sequence),
                    detail: "the heads table names this digest as the last, and it is not there"
                        .to_owned(),
                }
            })?),
        };
    let mut next = hint + 1;
    while let Some(digest) = read_digest(archive, next).await? {
        found = Some(digest);
        next += 1;
    }
    Ok(found)
}

/// Digest `sequence`, if it was written.
pub async fn read_digest<A: Archive>(
    archive: &A,
    sequence: u64,
) -> Result<Option<SignedDigest>, NotaryError> {
    let key = digest_key(sequence);
    let Some(bytes) = archive.get(&key).await? else {
        return Ok(None);
    };
    let digest: SignedDigest =
        serde_json::from_slice(&bytes).map_err(|e| NotaryError::Corrupt {
            key: key.clone(),
            detail: e.to_string(),
        })?;
    if digest.digest.sequence != sequence {
        return Err(NotaryError::Corrupt {
            key,
            detail: format!("it says it is digest {}", digest.digest.sequence),
        });
    }
    Ok(Some(digest))
}
