//! The auction clock: starts scheduled auctions and ends running ones on time.
//!
//! A *sweep* asks the read model's status/end-time index which auctions are due (active with
//! `endsAt <= now`, scheduled with `startsAt <= now`) and runs `EndAuction` / `StartAuction`
//! for each through the event store. Correctness never rests on the index: it is only a hint
//! of which aggregates to look at, and the decision is the domain's, on the aggregate loaded
//! strongly consistent. So
//! - a stale index (an extension not yet projected) makes the sweep try too early: the domain
//!   answers `AuctionNotOver` and the next sweep tries again;
//! - two schedulers sweeping at once both decide to end; the conditional append lets exactly
//!   one `AuctionEnded` in, and the loser reloads and decides to nothing (ending an ended
//!   auction emits no events);
//! - a sweep that crashes midway is simply the next sweep's work.
//!
//! Why a frequent sweep and not one EventBridge Scheduler schedule per auction: ending must
//! happen within a second of an end time that soft-close extensions keep moving; a sweep every
//! [`SWEEP_INTERVAL`] meets that with no per-auction schedule to create, move on every
//! extension, and delete (three more writes per extension, each a new failure mode). In AWS a
//! rule invokes the scheduler Lambda each minute and the invocation sweeps every
//! [`SWEEP_INTERVAL`] for just under a minute (see `docs/scheduler.md`).
//!
//! The same loop tells watchers that an auction ends soon ([`reminders`]), once a minute.
//!
//! Depends on the domain, the event contract, the event store, and for the reminders the
//! watchlist, the inbox and the email notices; the index is behind the [`DueAuctions`] and
//! [`reminders::EndingAuctions`] ports. Must not depend on HTTP, SQS or Lambda (only the
//! binary does).

mod dynamodb;
pub mod reminders;

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{EndAuction, Rejection, StartAuction, decide_end, decide_start};
use event_store::{CommandContext, CommandError, EventLog, IdempotencyRecords, Snapshots, Store};
use events::{Actor, AuctionId};
use thiserror::Error;

pub use dynamodb::StatusIndex;

/// How often the scheduler looks for due auctions. Together with the index's lag (the
/// projector's, a few hundred milliseconds) this bounds how late an auction ends.
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(250);

/// The most auctions one query returns; a sweep pages until none are left.
pub const PAGE_SIZE: i32 = 100;

/// What a due auction needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    End,
}

/// An auction whose start or end time has come, as the index saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub auction_id: AuctionId,
    pub action: Action,
    /// The start or end time the index holds.
    pub at: DateTime<Utc>,
}

/// Why a sweep could not run. Each variant says how the caller handles it.
#[derive(Debug, Error)]
pub enum SchedulerError {
    /// The index could not be read (DynamoDB unreachable, throttled). Log it and sweep again
    /// at the next interval: nothing was done, nothing is lost.
    #[error("the status index could not be read: {0}")]
    Index(String),
}

/// The port to the status/end-time index.
pub trait DueAuctions: Send + Sync {
    /// Auctions whose start or end time is at or before `now`, as the index holds them.
    fn due(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Due>, SchedulerError>> + Send;
}

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Auctions this sweep started or ended (events appended by this scheduler).
    pub started: Vec<AuctionId>,
    pub ended: Vec<AuctionId>,
    /// Due by the index but already done (another scheduler, or an earlier sweep).
    pub already_done: usize,
    /// Due by the index but not by the aggregate: the index lags an extension.
    pub not_yet: usize,
    /// Commands that failed (each logged); the next sweep tries them again.
    pub failed: usize,
}

/// Runs every due action once. Errors on single auctions are counted and logged, never
/// propagated: one bad auction must not stop the others from ending.
pub async fn sweep<B, I>(
    store: &Store<B>,
    index: &I,
    now: DateTime<Utc>,
) -> Result<SweepReport, SchedulerError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    I: DueAuctions,
{
    let due = index.due(now).await?;
    let mut report = SweepReport::default();
    for item in due {
        let context = CommandContext {
            // Deterministic, so that every scheduler's attempt on one auction and deadline is
            // the same command in the audit trail.
            command_id: format!(
                "{}:{}:{}",
                match item.action {
                    Action::Start => "start",
                    Action::End => "end",
                },
                item.auction_id,
                item.at.timestamp_millis()
            ),
            correlation_id: format!("scheduler:{}", item.auction_id),
            actor: Actor::System {
                name: "scheduler".to_owned(),
            },
            idempotency_key: None,
            now,
        };
        let result = match item.action {
            Action::Start => {
                store
                    .execute(item.auction_id, &context, |state, now| {
                        decide_start(state, &StartAuction, now)
                    })
                    .await
            }
            Action::End => {
                store
                    .execute(item.auction_id, &context, |state, now| {
                        decide_end(state, &EndAuction, now)
                    })
                    .await
            }
        };
        match result {
            Ok(outcome) if outcome.events.is_empty() || outcome.replayed => {
                report.already_done += 1;
            }
            Ok(_) => match item.action {
                Action::Start => report.started.push(item.auction_id),
                Action::End => report.ended.push(item.auction_id),
            },
            Err(CommandError::Rejected(
                Rejection::AuctionNotOver { .. } | Rejection::TooEarlyToStart { .. },
            )) => report.not_yet += 1,
            // Cancelled or ended meanwhile: nothing left to do for this auction.
            Err(CommandError::Rejected(Rejection::AuctionCancelled | Rejection::AuctionEnded)) => {
                report.already_done += 1
            }
            Err(error) => {
                tracing::warn!(
                    auction_id = %item.auction_id,
                    correlation_id = %context.correlation_id,
                    %error,
                    "a due auction could not be started or ended; the next sweep retries"
                );
                report.failed += 1;
            }
        }
    }
    if !report.started.is_empty() || !report.ended.is_empty() {
        tracing::info!(
            started = report.started.len(),
            ended = report.ended.len(),
            already_done = report.already_done,
            not_yet = report.not_yet,
            failed = report.failed,
            "sweep done"
        );
    }
    Ok(report)
}

/// Sweeps every [`SWEEP_INTERVAL`], and reminds watchers every
/// [`reminders::REMIND_EVERY`] (first at the start), until `stop` resolves (locally: Ctrl-C;
/// in Lambda: just before the invocation's minute is up). `clock` reads the time for each.
pub async fn sweep_until<B, I, W, S, M>(
    store: &Store<B>,
    index: &I,
    reminders: &reminders::Reminders<W, S, M>,
    clock: impl Fn() -> DateTime<Utc>,
    stop: impl Future<Output = ()>,
) where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    I: DueAuctions + reminders::EndingAuctions,
    W: watchlist::Watchlist,
    S: read_models::notifications::StoreNotification,
    M: email::MailNotification,
{
    let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reminds = tokio::time::interval(reminders::REMIND_EVERY);
    reminds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = ticks.tick() => {
                if let Err(error) = sweep(store, index, clock()).await {
                    tracing::warn!(%error, "sweep failed; retrying at the next interval");
                }
            }
            _ = reminds.tick() => {
                if let Err(error) = reminders::remind(store, index, reminders, clock()).await {
                    tracing::warn!(%error, "reminders failed; retrying at the next run");
                }
            }
        }
    }
}

/// The reminders' ports as the Lambda has them: the Watchlist table, the inbox, and email
/// notices (preferences in DynamoDB, SES, links MACed by KMS).
pub type DynamoDbReminders = reminders::Reminders<
    watchlist::DynamoDbWatchlist,
    read_models::notifications::DynamoDbNotifications,
    email::EmailNotices<email::DynamoDbEmailNotices, email::SesMailer, email::KmsLinkKey>,
>;

/// The event store, the status index and the reminders' ports over AWS: endpoint, region and
/// credentials from the standard AWS environment, tables from `EVENTS_TABLE`,
/// `SNAPSHOTS_TABLE`, `IDEMPOTENCY_TABLE`, the views through the alias in
/// `READ_MODEL_ALIASES_TABLE` (falling back to `AUCTION_VIEWS_TABLE`), `WATCHLIST_TABLE`,
/// `NOTIFICATIONS_TABLE`, and email notices from `EMAIL_NOTICES_TABLE`, `EMAIL_FROM`,
/// `UNSUBSCRIBE_KEY_ID`, `WEB_URL` and `API_URL`. Both binaries build these once.
pub async fn from_env() -> (
    Store<event_store::DynamoDbStore>,
    StatusIndex,
    DynamoDbReminders,
) {
    let sdk = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let store = Store::new(
        event_store::DynamoDbStore::new(client.clone(), event_store::TableNames::from_env()),
        event_store::SnapshotPolicy::default(),
    );
    let views = read_models::TableSource::aliased(
        read_models::ViewAliases::from_env(client.clone()),
        read_models::ViewTables::from_env(),
    );
    let reminders = reminders::Reminders {
        watchlist: watchlist::DynamoDbWatchlist::new(
            client.clone(),
            conventions::names::WATCHLIST_TABLE.from_env(),
        ),
        inbox: read_models::notifications::DynamoDbNotifications::from_env(client.clone()),
        mail: email::EmailNotices::new(
            email::DynamoDbEmailNotices::from_env(client.clone()),
            email::SesMailer::from_env(aws_sdk_sesv2::Client::new(&sdk)),
            email::KmsLinkKey::from_env(aws_sdk_kms::Client::new(&sdk)),
            email::Links::from_env(),
        ),
    };
    (store, StatusIndex::aliased(client, views), reminders)
}
