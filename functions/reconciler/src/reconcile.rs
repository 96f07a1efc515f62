//! One reconciliation run: the parked items replayed, which auctions to look at, what to check
//! on each, and the repairs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use event_store::{EventLog, EventsOfType, Meter, Snapshots, StoreError, StoredEvent, TypeQuery};
use events::{
    AuctionCancelled, AuctionCreated, AuctionEnded, AuctionId, AuctionRelisted, AuctionStarted,
    ItemOfferedToRunnerUp, Payload, PaymentFailed, PaymentSucceeded,
};
use futures_util::stream::{self, StreamExt};
use parking::ParkedItems;
use payments::message::{Trigger, trigger};
use payments::{SagaId, SagaStates, Status};
use read_models::Projections;

use crate::error::ReconcilerError;
use crate::ports::{Consumer, NoticeKey, Ports, Redeliver, StoredNotices};
use crate::reconciled::{Kind, Reconciled};
use crate::replays::replay_parked;
use crate::settings::Settings;

/// The event types whose entries in the audit index (`byTypeShard`) name the auctions a run looks at:
/// those that happen about once per auction (or per settlement attempt). Every auction ends with
/// `AuctionEnded` or `AuctionCancelled`, and a view left behind by a lost bid is caught up by the
/// auction's next event anyway (the projector fills gaps), so bids, max raises and extensions,
/// which are most of the log, are not read. See docs/reconciler.md.
pub const WATCHED: [&str; 8] = [
    AuctionCreated::EVENT_TYPE,
    AuctionStarted::EVENT_TYPE,
    AuctionEnded::EVENT_TYPE,
    AuctionCancelled::EVENT_TYPE,
    ItemOfferedToRunnerUp::EVENT_TYPE,
    PaymentSucceeded::EVENT_TYPE,
    PaymentFailed::EVENT_TYPE,
    AuctionRelisted::EVENT_TYPE,
];

/// Index entries per page.
const PAGE: u32 = 100;

/// Auctions checked at once: enough to hide the reads' latency, few enough to leave the
/// tables' throughput to the platform.
const CONCURRENT_AUCTIONS: usize = 8;

/// What the window said about one auction.
#[derive(Debug, Default)]
struct Seen {
    /// `AuctionEnded` and `ItemOfferedToRunnerUp` events, each a possible sale.
    sales: Vec<StoredEvent>,
    ended: Option<StoredEvent>,
}

/// One run at `now`: first the parked items older than `settings.parked_grace` replayed
/// (`crate::replays`), then the auctions named by the [`WATCHED`] events that occurred within
/// `[now - lookback, now - grace]`, each checked for a missing or stalled saga, a view behind
/// the log, and missing notices of its end; every divergence repaired by redelivering events
/// from the log to the consumer that missed them, which applies them idempotently.
///
/// One auction's failure (or one replay's) is counted and logged, never propagated: it must not
/// keep the others from being repaired. `Err` only when the index cannot be read; the parked
/// items are replayed before it is read, so a broken index does not hold up their healing.
pub async fn reconcile<L, S, V, N, R, P>(
    ports: &Ports<L, S, V, N, R, P>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Reconciled, ReconcilerError>
where
    L: EventLog + Snapshots + EventsOfType,
    S: SagaStates,
    V: Projections,
    N: StoredNotices,
    R: Redeliver,
    P: ParkedItems,
{
    let from = now - settings.lookback;
    let to = now - settings.grace;
    // Before the checks: a replayed item heals what a check would otherwise find and redeliver
    // a second time (harmless, consumers de-duplicate, but wasted).
    let mut reconciled = replay_parked(ports, settings, now).await;
    let mut auctions: BTreeMap<AuctionId, Seen> = BTreeMap::new();
    for event_type in WATCHED {
        let mut query = TypeQuery::new(event_type, from, to, PAGE);
        loop {
            let page = ports
                .log
                .events_of_type(&query)
                .await
                .map_err(ReconcilerError::Index)?;
            reconciled.events_read += page.events.len();
            for event in page.events {
                let seen = auctions
                    .entry(AuctionId::from(event.envelope.aggregate_id))
                    .or_default();
                if event.envelope.event_type == AuctionEnded::EVENT_TYPE {
                    seen.ended = Some(event.clone());
                    seen.sales.push(event);
                } else if event.envelope.event_type == ItemOfferedToRunnerUp::EVENT_TYPE {
                    seen.sales.push(event);
                }
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
    }
    let mut checks = stream::iter(auctions)
        .map(|(auction_id, seen)| check(ports, settings, now, auction_id, seen))
        .buffer_unordered(CONCURRENT_AUCTIONS);
    while let Some(checked) = checks.next().await {
        reconciled.add(&checked);
    }
    tracing::info!(
        from = %from,
        to = %to,
        events_read = reconciled.events_read,
        auctions = reconciled.auctions,
        missing_sagas = reconciled.missing_sagas,
        stalled_sagas = reconciled.stalled_sagas,
        views_behind = reconciled.views_behind,
        missing_notices = reconciled.missing_notices,
        parked = reconciled.parked,
        replayed = reconciled.replayed,
        replays_failed = reconciled.replays_failed,
        left_for_a_person = reconciled.left_for_a_person,
        failed = reconciled.failed,
        "reconciliation run done"
    );
    Ok(reconciled)
}

/// Every check of one auction; each failure is counted and logged, and the others go on.
async fn check<L, S, V, N, R, P>(
    ports: &Ports<L, S, V, N, R, P>,
    settings: &Settings,
    now: DateTime<Utc>,
    auction_id: AuctionId,
    seen: Seen,
) -> Reconciled
where
    L: EventLog + Snapshots + EventsOfType,
    S: SagaStates,
    V: Projections,
    N: StoredNotices,
    R: Redeliver,
{
    let mut checked = Reconciled {
        auctions: 1,
        ..Reconciled::default()
    };
    let mut tally = |kind: Kind, result: Result<bool, ReconcilerError>| match result {
        Ok(true) => checked.repaired(kind),
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(
                kind = kind.as_str(),
                auction_id = %auction_id,
                %error,
                "check or repair failed; the next run tries again"
            );
            checked.failed += 1;
        }
    };
    tally(
        Kind::ViewBehind,
        view(ports, settings, now, auction_id).await,
    );
    for sale in &seen.sales {
        match saga(ports, settings, now, sale).await {
            Ok(Some(kind)) => tally(kind, Ok(true)),
            Ok(None) => {}
            Err(error) => tally(Kind::MissingSaga, Err(error)),
        }
    }
    if let Some(ended) = &seen.ended {
        tally(Kind::MissingNotices, notices(ports, ended).await);
    }
    checked
}

/// (b) The view behind the log: every event after the view's version (all of them when there
/// is no view) goes to the projector, if one of them is older than the grace period. Younger
/// ones alone are the projector's normal lag.
async fn view<L, S, V, N, R, P>(
    ports: &Ports<L, S, V, N, R, P>,
    settings: &Settings,
    now: DateTime<Utc>,
    auction_id: AuctionId,
) -> Result<bool, ReconcilerError>
where
    L: EventLog,
    V: Projections,
    R: Redeliver,
{
    let projection = ports.views.load(auction_id).await?;
    let view_version = projection.as_ref().map_or(0, |p| p.version());
    let lacking = ports
        .log
        .read_after(auction_id, view_version, &Meter::default())
        .await?;
    let overdue = now - settings.grace;
    if !lacking.iter().any(|e| e.envelope.occurred_at <= overdue) {
        return Ok(false);
    }
    ports
        .consumers
        .redeliver(Consumer::Projector, &lacking)
        .await?;
    tracing::info!(
        kind = Kind::ViewBehind.as_str(),
        auction_id = %auction_id,
        view_version = projection.is_some().then_some(view_version),
        from_version = lacking.first().map(StoredEvent::version),
        to_version = lacking.last().map(StoredEvent::version),
        "repaired: the view lacked events; redelivered them to the projector"
    );
    Ok(true)
}

/// (a) and (c): a sale whose saga is missing, or running or compensating and not written for
/// longer than the deadline. Either way the sale's event goes to the payment saga again: it
/// starts the saga when there is none and continues the stored one otherwise, every step under
/// the same idempotency key as before, so nothing is charged twice.
async fn saga<L, S, V, N, R, P>(
    ports: &Ports<L, S, V, N, R, P>,
    settings: &Settings,
    now: DateTime<Utc>,
    sale: &StoredEvent,
) -> Result<Option<Kind>, ReconcilerError>
where
    S: SagaStates,
    R: Redeliver,
{
    let envelope = sale.decode()?;
    let Trigger::Settle(settle) = trigger(&envelope) else {
        return Ok(None);
    };
    let saga_id = SagaId::new(settle.auction_id, &settle.buyer_id);
    let (kind, status, updated_at) = match ports.sagas.get(&saga_id).await? {
        None => (Kind::MissingSaga, None, None),
        Some(saga)
            if matches!(saga.status, Status::Running | Status::Compensating)
                && saga.updated_at <= now - settings.saga_deadline =>
        {
            (Kind::StalledSaga, Some(saga.status), Some(saga.updated_at))
        }
        Some(_) => return Ok(None),
    };
    ports
        .consumers
        .redeliver(Consumer::PaymentSaga, std::slice::from_ref(sale))
        .await?;
    tracing::info!(
        kind = kind.as_str(),
        auction_id = %settle.auction_id,
        saga_id = %saga_id,
        version = sale.version(),
        event_type = %sale.envelope.event_type,
        status = ?status,
        updated_at = ?updated_at,
        "repaired: redelivered the sale to the payment saga"
    );
    Ok(Some(kind))
}

/// (d) An ended auction whose notices are not all in their inboxes: the notices the notifier
/// derives from the `AuctionEnded` (with the auction as of that event, as the notifier folds
/// it) are looked up by their deterministic keys, and if any is missing the event goes to the
/// notifier again, which stores only the missing ones (every write is conditional).
async fn notices<L, S, V, N, R, P>(
    ports: &Ports<L, S, V, N, R, P>,
    ended: &StoredEvent,
) -> Result<bool, ReconcilerError>
where
    L: EventLog + Snapshots,
    N: StoredNotices,
    R: Redeliver,
{
    let envelope = ended.decode()?;
    let (auction_id, version) = (envelope.aggregate_id, envelope.version);
    let state = event_store::state_at(&ports.log, auction_id, version, &Meter::default()).await?;
    let context = read_models::notifications::AuctionContext::of(&state)
        .filter(|_| state.version == version)
        .ok_or_else(|| {
            ReconcilerError::Log(StoreError::Corrupt {
                aggregate_id: auction_id.into(),
                version,
                reason: "the history up to the event is incomplete".to_owned(),
            })
        })?;
    let expected: Vec<NoticeKey> = read_models::notifications::notifications(&envelope, &context)
        .into_iter()
        .map(|notice| (notice.recipient, notice.notification_id))
        .collect();
    if expected.is_empty() {
        return Ok(false);
    }
    let present = ports.notices.present(&expected).await?;
    let missing: Vec<&str> = expected
        .iter()
        .filter(|key| !present.contains(*key))
        .map(|(user, _)| user.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(false);
    }
    ports
        .consumers
        .redeliver(Consumer::Notifier, std::slice::from_ref(ended))
        .await?;
    tracing::info!(
        kind = Kind::MissingNotices.as_str(),
        auction_id = %auction_id,
        version,
        expected = expected.len(),
        missing = missing.len(),
        recipients = ?missing,
        "repaired: notices of the end were missing; redelivered the end to the notifier"
    );
    Ok(true)
}
