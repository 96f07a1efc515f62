//! What can go wrong in a reconciliation run.

use thiserror::Error;

/// Why a run, or one auction's check or repair, did not happen. Each variant says how the
/// caller handles it.
#[derive(Debug, Error)]
pub enum ReconcilerError {
    /// A setting in the environment is not a number of seconds, or the settings contradict each
    /// other (a grace period at or beyond the lookback). (the binary refuses to start: fix the
    /// variable)
    #[error("bad setting {name}={value:?}: {reason}")]
    Setting {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// The audit index (`byTypeShard`) could not be read, so the run does not know which auctions to
    /// look at. (the run stops and is reported failed, which the alarm watches; the next run
    /// reads the same window again, nothing is lost)
    #[error("the audit index (byTypeShard) could not be read: {0}")]
    Index(#[source] event_store::StoreError),
    /// One auction's events could not be read from the log (or do not decode). (that auction
    /// is counted failed and the run goes on; the next run checks it again)
    #[error("the log could not be read: {0}")]
    Log(#[from] event_store::StoreError),
    /// The auction's view could not be read. (counted failed; the next run checks it again)
    #[error("the auction's view could not be read: {0}")]
    Views(#[from] read_models::ProjectorError),
    /// The saga's state could not be read. (counted failed; the next run checks it again)
    #[error("the saga's state could not be read: {0}")]
    Sagas(#[from] payments::SagaError),
    /// The inbox could not be read. (counted failed; the next run checks it again)
    #[error("the notifications could not be read: {0}")]
    Notices(String),
    /// The Parked table could not be listed, so no parked item was replayed this run. (counted
    /// failed; the run goes on with its checks, and the next run lists the table again)
    #[error("the parked items could not be listed: {0}")]
    Parked(#[source] parking::ParkingError),
    /// A consumer did not take the redelivered events. (counted failed; the divergence is
    /// still there, so the next run finds it and redelivers again, idempotently)
    #[error("redelivery failed: {0}")]
    Redelivery(#[from] parking::ParkingError),
}
