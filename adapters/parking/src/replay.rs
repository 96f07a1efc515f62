//! Replaying a parked item from the log, or discarding it.

use event_store::{EventLog, Meter};

use crate::consumer::Consumer;
use crate::error::ParkingError;
use crate::parked::{Parked, ParkedItems};
use crate::redeliver::Redeliver;

/// Re-drives a parked item's events from the log through its consumer, then removes the item.
/// Idempotent: consumers are version-gated and de-duplicate, so an event already applied
/// changes nothing, and a replay that dies before the removal is simply replayed again. If the
/// consumer fails again, the item stays parked with that error as its last one.
pub async fn replay<P, L, R>(
    parked: &P,
    log: &L,
    consumers: &R,
    consumer: &str,
    parked_id: &str,
) -> Result<Parked, ParkingError>
where
    P: ParkedItems,
    L: EventLog,
    R: Redeliver,
{
    let target: Consumer = consumer.parse()?;
    let item = parked
        .get(consumer, parked_id)
        .await?
        .ok_or_else(|| ParkingError::NotParked {
            consumer: consumer.to_owned(),
            parked_id: parked_id.to_owned(),
        })?;
    let events = log
        .read_range(
            item.aggregate_id,
            item.from_version,
            item.to_version,
            &Meter::default(),
        )
        .await?;
    let expected = item.to_version.saturating_sub(item.from_version) + 1;
    if u64::try_from(events.len()).unwrap_or(u64::MAX) != expected {
        return Err(ParkingError::MissingEvents {
            aggregate_id: item.aggregate_id.to_string(),
            from: item.from_version,
            to: item.to_version,
            found: events.len(),
        });
    }
    let replays = item.failed_replays.saturating_add(1);
    if let Err(error) = consumers.redeliver_replay(target, &events, replays).await {
        let mut failed = item.clone();
        failed.last_error = format!("replay failed: {error}");
        failed.failed_replays = failed.failed_replays.saturating_add(1);
        parked.put(&failed).await?;
        return Err(error);
    }
    parked.remove(consumer, parked_id).await?;
    tracing::info!(
        consumer,
        parked_id,
        aggregate_id = %item.aggregate_id,
        from_version = item.from_version,
        to_version = item.to_version,
        "parked item replayed"
    );
    Ok(item)
}

/// Removes a parked item without replaying it, for a give-up a person has dealt with otherwise.
/// The reason is required and logged: it is the only trace the item leaves.
pub async fn discard<P: ParkedItems>(
    parked: &P,
    consumer: &str,
    parked_id: &str,
    reason: &str,
) -> Result<Parked, ParkingError> {
    if reason.trim().is_empty() {
        return Err(ParkingError::BadInput(
            "say why the item is discarded (--reason): it is the only trace it leaves".to_owned(),
        ));
    }
    let item = parked
        .get(consumer, parked_id)
        .await?
        .ok_or_else(|| ParkingError::NotParked {
            consumer: consumer.to_owned(),
            parked_id: parked_id.to_owned(),
        })?;
    parked.remove(consumer, parked_id).await?;
    tracing::warn!(
        consumer,
        parked_id,
        aggregate_id = %item.aggregate_id,
        from_version = item.from_version,
        to_version = item.to_version,
        reason,
        "parked item discarded"
    );
    Ok(item)
}
