//! The Subject streams' tamper check (a forgotten subject's tombstone: docs/privacy.md), for
//! `verify --all`.

use event_store::EventLog;
use event_store::verify as generic;
use events::{SubjectEvent, SubjectId};

use crate::error::AuditError;

/// The verdict on one subject's stream.
pub type SubjectReport = generic::Report<SubjectId>;

/// Checks every Subject stream in `subject_ids`, at most `concurrency` at a time, one report per
/// stream in the order given.
pub async fn verify_subjects<L: EventLog>(
    log: &L,
    subject_ids: &[SubjectId],
    concurrency: usize,
) -> Result<Vec<SubjectReport>, AuditError> {
    Ok(generic::verify_all::<SubjectEvent, L>(log, subject_ids, concurrency).await?)
}
