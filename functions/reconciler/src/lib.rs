//! The reconciler: finds and repairs divergence between the log and its consequences with no
//! record in hand, periodically (`reconciler-lambda`, invoked by a schedule: EventBridge in AWS,
//! the trigger runner in `scripts/run`).
//!
//! Parking keeps what a consumer gave up on; this covers what nobody kept a record of. A run
//! reads the audit index (`byTypeShard`) over a window `[now - lookback, now - grace]` for the events
//! that happen about once per auction ([`WATCHED`]), and for each auction they name checks:
//!
//! - (a) a sale (`AuctionEnded` sold, `ItemOfferedToRunnerUp`) with no payment saga;
//! - (b) the auction's view missing, or at a version below the log's, for longer than the grace;
//! - (c) a saga running or compensating whose last write is older than its deadline;
//! - (d) notices of the auction's end missing from the recipients' inboxes.
//!
//! Each run first replays the parked items (`parking::replay`, as `auction-admin parked replay`
//! does) that were parked longer than a grace ago and whose replays failed fewer than a few
//! times, so that an outage heals without a person; an item whose replays keep failing is left
//! parked for one, and reported once per run.
//!
//! Every repair redelivers events from the log to the consumer that missed them, through its
//! normal idempotent path ([`Redeliver`]; `parking::Consumers` in the binaries), and is logged
//! (`kind`, `auction_id`, versions) and counted in the run's [`Reconciled`]. Nothing here writes
//! a view, a saga or a notice itself, so nothing here can disagree with the consumers about what
//! one should hold. docs/reconciler.md has the window, the costs and the settings.
//!
//! Depends on the event store (the log and its index), the consumers' crates for their read
//! ports and pure parts only (the projector's stored projection, the saga's state and its
//! trigger rule, the notifier's notices and their ids), and parking for redelivery and replay.
//! Must not depend on HTTP, the API or another Lambda's main, must not call a consumer's
//! handler itself (redelivery is parking's), and must not write to any table but through
//! parking's replay (which removes a replayed item from the Parked table, or counts a failed
//! replay on it).

mod config;
mod dynamodb;
mod error;
mod ports;
mod reconcile;
mod reconciled;
mod replays;
mod settings;
#[cfg(test)]
mod tests;

pub use config::{Deployed, DeployedPorts, from_env, ports_from_env};
pub use dynamodb::DynamoDbNotices;
pub use error::ReconcilerError;
pub use ports::{Consumer, NoticeKey, Ports, Redeliver, StoredNotices};
pub use reconcile::{WATCHED, reconcile};
pub use reconciled::{Kind, Reconciled};
pub use replays::MAX_REPLAYS_PER_RUN;
pub use settings::{MAX_LOOKBACK, Settings};
