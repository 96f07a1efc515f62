//! One run of the digester: the next digest of the log written, or nothing when another run
//! wrote that sequence first (docs/audit.md, "Digests and proofs"). The Lambda's main builds
//! the ports once; this is the handler over them. Depends on the notary, never on another
//! function.

use chrono::{DateTime, Utc};
use notary::{Archive, Heads, NotaryError, Published, Signer, publish};

/// What one run did: the invocation's answer, `{"published": {...}}` or `{"raced": n}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Run {
    Published(Published),
    /// Another run wrote sequence `n` first: nothing to do until the next run.
    Raced(u64),
}

/// Writes the next digest at `now`. An error is the function's error (the alarm on its errors
/// calls a person when digests stop); the next scheduled run starts over.
pub async fn run<H, S, A>(
    heads: &H,
    signer: &S,
    archive: &A,
    now: DateTime<Utc>,
) -> Result<Run, NotaryError>
where
    H: Heads,
    S: Signer,
    A: Archive,
{
    match publish(heads, signer, archive, now).await {
        Ok(published) => {
            tracing::info!(
                sequence = published.sequence,
                tree_size = published.tree_size,
                root = %published.root,
                leaves_bytes = published.leaves_bytes,
                digest_bytes = published.digest_bytes,
                leaves_reused = published.leaves_reused,
                "digest written"
            );
            Ok(Run::Published(published))
        }
        Err(NotaryError::Raced { sequence }) => {
            tracing::info!(sequence, "another run wrote this digest first");
            Ok(Run::Raced(sequence))
        }
        Err(error) => {
            tracing::error!(%error, "no digest written");
            Err(error)
        }
    }
}
