//! Tamper checks: the hash chain and contiguity of one aggregate's log, or of many. Generic
//! over the aggregate's codec `C` only for its name and typed id: nothing is decoded.

use std::fmt;

use events::EventCodec;
use futures_util::{StreamExt, stream};

use crate::chain::{self, Tampered, Verified};
use crate::error::StoreError;
use crate::history::HistoryError;
use crate::log::EventLog;
use crate::meter::Meter;
use crate::stored::StoredEvent;

/// The first thing found wrong with an aggregate's log.
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

/// The verdict on one aggregate's log; `I` is its typed id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report<I> {
    /// The stream's name (`Auction`), for the text.
    pub aggregate_type: &'static str,
    pub aggregate_id: I,
    pub outcome: Result<Verified, Finding>,
    /// What the log holds at the first bad version, when it holds anything there: the event
    /// type and id, so that a reader can find the item.
    pub culprit: Option<String>,
}

impl<I> Report<I> {
    pub fn is_clean(&self) -> bool {
        self.outcome.is_ok()
    }
}

impl<I: fmt::Display> fmt::Display for Report<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = &self.aggregate_id;
        let kind = self.aggregate_type.to_lowercase();
        match &self.outcome {
            Ok(verified) => write!(
                f,
                "{kind} {id}: OK, {} events, head hash {}",
                verified.events, verified.head
            ),
            Err(finding) => {
                let version = finding.version();
                match finding {
                    Finding::Tampered(Tampered::Missing { .. }) => write!(
                        f,
                        "{kind} {id}: TAMPERED: version {version} is missing (deleted, or the log skips it)"
                    )?,
                    Finding::Tampered(Tampered::Modified { .. }) => write!(
                        f,
                        "{kind} {id}: TAMPERED: version {version} was modified or moved (its hash does not match the chain)"
                    )?,
                    Finding::Tampered(Tampered::Foreign { .. }) => write!(
                        f,
                        "{kind} {id}: TAMPERED: version {version} belongs to another {kind}"
                    )?,
                    Finding::Unreadable { reason, .. } => write!(
                        f,
                        "{kind} {id}: TAMPERED: version {version} is not a readable event: {reason}"
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

/// Checks one aggregate's whole log.
pub async fn verify<C: EventCodec, L: EventLog>(
    log: &L,
    aggregate_id: C::Id,
) -> Result<Report<C::Id>, HistoryError> {
    match log.read_after(aggregate_id, 0, &Meter::default()).await {
        Ok(events) if events.is_empty() => Err(HistoryError::NotFound(aggregate_id.into())),
        Ok(events) => Ok(verify_events::<C>(aggregate_id, &events)),
        // An item that does not even parse is the strongest evidence of tampering: report it,
        // do not fail the audit.
        Err(StoreError::Corrupt {
            version, reason, ..
        }) => Ok(Report {
            aggregate_type: C::AGGREGATE_TYPE,
            aggregate_id,
            outcome: Err(Finding::Unreadable { version, reason }),
            culprit: None,
        }),
        Err(error) => Err(error.into()),
    }
}

/// Checks a history already read, in key order.
pub fn verify_events<C: EventCodec>(aggregate_id: C::Id, events: &[StoredEvent]) -> Report<C::Id> {
    match chain::verify(aggregate_id, events) {
        Ok(verified) => Report {
            aggregate_type: C::AGGREGATE_TYPE,
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
                aggregate_type: C::AGGREGATE_TYPE,
                aggregate_id,
                outcome: Err(finding),
                culprit,
            }
        }
    }
}

/// Checks every aggregate in `aggregate_ids`, at most `concurrency` at a time (at least one),
/// and answers one report per aggregate in the order given. An aggregate with no events left
/// (every item deleted since the ids were listed) is reported as missing version 1.
pub async fn verify_all<C: EventCodec, L: EventLog>(
    log: &L,
    aggregate_ids: &[C::Id],
    concurrency: usize,
) -> Result<Vec<Report<C::Id>>, HistoryError> {
    let mut reports: Vec<(usize, Report<C::Id>)> = stream::iter(aggregate_ids.iter().enumerate())
        .map(|(index, id)| async move {
            match verify::<C, L>(log, *id).await {
                Ok(report) => Ok((index, report)),
                Err(HistoryError::NotFound(_)) => Ok((
                    index,
                    Report {
                        aggregate_type: C::AGGREGATE_TYPE,
                        aggregate_id: *id,
                        outcome: Err(Finding::Tampered(Tampered::Missing { version: 1 })),
                        culprit: None,
                    },
                )),
                Err(error) => Err(error),
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<Result<_, HistoryError>>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    reports.sort_by_key(|(index, _)| *index);
    Ok(reports.into_iter().map(|(_, report)| report).collect())
}
