//! Tamper checks: the hash chain and contiguity of one auction's log, or of every auction's.

use std::fmt;

use auction_events::AuctionId;
use event_store::chain::{self, Tampered, Verified};
use event_store::{EventLog, Meter, StoreError, StoredEvent};
use futures_util::{StreamExt, stream};

use crate::error::AuditError;

/// The first thing found wrong with an auction's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The chain check failed at this event.
    Tampered(Tampered),
    /// The item at this version is not a readable event at all (an attribute removed or
    /// rewritten to something that does not parse).
    Unreadable { version: u64, reason: String },
}

impl Finding {
    /// The version of the first bad event.
    pub fn version(&self) -> u64 {
        match self {
            Self::Tampered(
                Tampered::Missing { version }
                | Tampered::Modified { version }
                | Tampered::Foreign { version },
            )
            | Self::Unreadable { version, .. } => *version,
        }
    }
}

/// The verdict on one auction's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub aggregate_id: AuctionId,
    pub outcome: Result<Verified, Finding>,
    /// What the log holds at the first bad version, when it holds anything there: the event
    /// type and id, so that a reader can find the item.
    pub culprit: Option<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.outcome.is_ok()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.aggregate_id;
        match &self.outcome {
            Ok(verified) => write!(
                f,
                "auction {id}: OK, {} events, head hash {}",
                verified.events, verified.head
            ),
            Err(finding) => {
                let version = finding.version();
                match finding {
                    Finding::Tampered(Tampered::Missing { .. }) => write!(
                        f,
                        "auction {id}: TAMPERED: version {version} is missing (deleted, or the log skips it)"
                    )?,
                    Finding::Tampered(Tampered::Modified { .. }) => write!(
                        f,
                        "auction {id}: TAMPERED: version {version} was modified or moved (its hash does not match the chain)"
                    )?,
                    Finding::Tampered(Tampered::Foreign { .. }) => write!(
                        f,
                        "auction {id}: TAMPERED: version {version} belongs to another auction"
                    )?,
                    Finding::Unreadable { reason, .. } => write!(
                        f,
                        "auction {id}: TAMPERED: version {version} is not a readable event: {reason}"
                    )?,
                }
                match &self.culprit {
                    Some(culprit) => write!(f, "; stored there: {culprit}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Checks one auction's whole log.
pub async fn verify<L: EventLog>(log: &L, aggregate_id: AuctionId) -> Result<Report, AuditError> {
    match log.read_after(aggregate_id, 0, &Meter::default()).await {
        Ok(events) if events.is_empty() => Err(AuditError::AuctionNotFound(aggregate_id)),
        Ok(events) => Ok(verify_events(aggregate_id, &events)),
        // An item that does not even parse is the strongest evidence of tampering: report it,
        // do not fail the audit.
        Err(StoreError::Corrupt {
            version, reason, ..
        }) => Ok(Report {
            aggregate_id,
            outcome: Err(Finding::Unreadable { version, reason }),
            culprit: None,
        }),
        Err(error) => Err(error.into()),
    }
}

/// Checks a history already read, in key order.
pub fn verify_events(aggregate_id: AuctionId, events: &[StoredEvent]) -> Report {
    match chain::verify(aggregate_id, events) {
        Ok(verified) => Report {
            aggregate_id,
            outcome: Ok(verified),
            culprit: None,
        },
        Err(tampered) => {
            let finding = Finding::Tampered(tampered);
            let version = finding.version();
            let culprit = events.iter().find(|e| e.version() == version).map(|e| {
                format!(
                    "{} {} (event id {}, occurred at {})",
                    e.envelope.event_type,
                    e.envelope.aggregate_id,
                    e.envelope.event_id,
                    e.envelope.occurred_at.to_rfc3339()
                )
            });
            Report {
                aggregate_id,
                outcome: Err(finding),
                culprit,
            }
        }
    }
}

/// Checks every auction in `aggregate_ids`, at most `concurrency` at a time (at least one), and
/// answers one report per auction in the order given. An auction with no events left (every
/// item deleted since the ids were listed) is reported as missing version 1.
pub async fn verify_all<L: EventLog>(
    log: &L,
    aggregate_ids: &[AuctionId],
    concurrency: usize,
) -> Result<Vec<Report>, AuditError> {
    let mut reports: Vec<(usize, Report)> = stream::iter(aggregate_ids.iter().enumerate())
        .map(|(index, id)| async move {
            match verify(log, *id).await {
                Ok(report) => Ok((index, report)),
                Err(AuditError::AuctionNotFound(_)) => Ok((
                    index,
                    Report {
                        aggregate_id: *id,
                        outcome: Err(Finding::Tampered(Tampered::Missing { version: 1 })),
                        culprit: None,
                    },
                )),
                Err(error) => Err(error),
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<Result<_, AuditError>>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    reports.sort_by_key(|(index, _)| *index);
    Ok(reports.into_iter().map(|(_, report)| report).collect())
}
