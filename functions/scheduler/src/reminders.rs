//! "Ends soon" notices: once an active auction's end comes within [`ENDING_SOON`], everyone
//! watching it is told, in the inbox and (if they asked for it) by email.
//!
//! Each run looks at the auctions the status index says end within a window just under the
//! hour ahead, [`WINDOW`] wide, longer than the time between two runs, so that a run missed or
//! late leaves no auction out; an auction found by two runs makes the same notification twice,
//! which the inbox stores once and the email notices send once (the notification's id depends
//! only on the auction and its end). As with the sweep, the index is a hint: the auction is
//! loaded, and only told about if it is active and its end is still within the hour.

use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};
use domain::Status;
use email::MailNotification;
use event_store::{EventLog, IdempotencyRecords, Meter, Snapshots, Store};
use events::AuctionId;
use read_models::notifications::{ENDING_SOON, StoreNotification, ending_soon};
use watchlist::Watchlist;

use crate::SchedulerError;

/// How wide each run's window is. Runs come every [`REMIND_EVERY`]: twice that leaves room for
/// one missed run.
pub const WINDOW: TimeDelta = TimeDelta::minutes(2);

/// How often the scheduler's loop runs the reminders.
pub const REMIND_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Active auctions by end time, as the status index holds them.
pub trait EndingAuctions: Send + Sync {
    /// The active auctions whose end is between `from` and `until`, both included.
    fn ending_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<AuctionId>, SchedulerError>> + Send;
}

/// Where watchers are found and told.
pub struct Reminders<W, S, M> {
    pub watchlist: W,
    pub inbox: S,
    pub mail: M,
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RemindReport {
    /// Auctions whose watchers were told (or had been, by an earlier run).
    pub auctions: usize,
    /// Notices stored now (a watcher told before is not counted again).
    pub told: usize,
    /// Watchers whose notice or email failed (each logged); the next run tries again while
    /// the auction is in its window.
    pub failed: usize,
}

/// Tells the watchers of every auction that ends within the hour, once each.
pub async fn remind<B, I, W, S, M>(
    store: &Store<B>,
    index: &I,
    reminders: &Reminders<W, S, M>,
    now: DateTime<Utc>,
) -> Result<RemindReport, SchedulerError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
    I: EndingAuctions,
    W: Watchlist,
    S: StoreNotification,
    M: MailNotification,
{
    let until = now + ENDING_SOON;
    let mut report = RemindReport::default();
    for auction_id in index.ending_between(until - WINDOW, until).await? {
        let loaded = match store
            .load::<domain::State>(auction_id, &Meter::default())
            .await
        {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::warn!(%auction_id, %error, "an auction ending soon could not be read; the next run retries");
                report.failed += 1;
                continue;
            }
        };
        let Some(auction) = loaded.state.auction else {
            continue;
        };
        // An extension may have moved the end beyond the hour since the index was written.
        if auction.status != Status::Active || auction.ends_at <= now || auction.ends_at > until {
            continue;
        }
        let watchers = match reminders.watchlist.watchers(auction_id).await {
            Ok(watchers) => watchers,
            Err(error) => {
                tracing::warn!(%auction_id, %error, "the watchers could not be read; the next run retries");
                report.failed += 1;
                continue;
            }
        };
        report.auctions += 1;
        for watcher in watchers {
            let notice = ending_soon(&watcher, auction_id, &auction.title, auction.ends_at);
            let stored = match reminders.inbox.store(&notice).await {
                Ok(stored) => stored,
                Err(error) => {
                    tracing::warn!(%auction_id, recipient = %watcher, %error, "an ends-soon notice was not stored");
                    report.failed += 1;
                    continue;
                }
            };
            if stored == read_models::notifications::Stored::New {
                report.told += 1;
            }
            if let Err(error) = reminders.mail.mail(&notice, now).await {
                tracing::warn!(%auction_id, recipient = %watcher, %error, "an ends-soon email was not sent");
                report.failed += 1;
            }
        }
    }
    if report.told > 0 || report.failed > 0 {
        tracing::info!(
            auctions = report.auctions,
            told = report.told,
            failed = report.failed,
            "reminded watchers"
        );
    }
    Ok(report)
}
