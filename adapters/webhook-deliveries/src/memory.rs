//! The StripeWebhookDeliveries table's in-memory twin, for tests: the same records and the same
//! replay detection, and a switch that makes it unavailable as a throttled or unreachable table
//! would be.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::error::DeliveryError;
use crate::ports::{Delivery, DeliveryRecord, Handled, Recorded, WebhookDeliveries, expiry};

/// The records in a map keyed by event id, as the table is.
#[derive(Debug, Default)]
pub struct InMemoryWebhookDeliveries {
    records: Mutex<BTreeMap<String, DeliveryRecord>>,
    unavailable: AtomicBool,
}

impl InMemoryWebhookDeliveries {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on every call fails with [`DeliveryError::Unavailable`] (or, with `false`,
    /// succeeds again).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Every record, for tests.
    pub fn all(&self) -> Vec<DeliveryRecord> {
        self.records().values().cloned().collect()
    }

    fn records(&self) -> MutexGuard<'_, BTreeMap<String, DeliveryRecord>> {
        // A panic while holding the lock leaves whole values behind: keep going.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn available(&self) -> Result<(), DeliveryError> {
        if self.unavailable.load(Ordering::SeqCst) {
            Err(DeliveryError::Unavailable(
                "the in-memory table is switched off".to_owned(),
            ))
        } else {
            Ok(())
        }
    }
}

impl WebhookDeliveries for InMemoryWebhookDeliveries {
    async fn record(&self, delivery: &Delivery) -> Result<Recorded, DeliveryError> {
        self.available()?;
        let mut records = self.records();
        let record = records
            .entry(delivery.event_id.clone())
            .or_insert_with(|| DeliveryRecord {
                event_id: delivery.event_id.clone(),
                event_type: delivery.event_type.clone(),
                signed_at: BTreeSet::new(),
                first_received_at: delivery.received_at,
                expires_at: expiry(delivery.received_at),
                handled: None,
            });
        if record.signed_at.insert(delivery.signed_at) {
            Ok(Recorded::Delivery(record.clone()))
        } else {
            Ok(Recorded::Replay)
        }
    }

    async fn mark_handled(
        &self,
        event_id: &str,
        outcome: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DeliveryError> {
        self.available()?;
        let mut records = self.records();
        let record = records.get_mut(event_id).ok_or_else(|| {
            DeliveryError::Failed(format!("no delivery of {event_id} is recorded"))
        })?;
        record.handled.get_or_insert_with(|| Handled {
            at,
            outcome: outcome.to_owned(),
        });
        Ok(())
    }

    async fn get(&self, event_id: &str) -> Result<Option<DeliveryRecord>, DeliveryError> {
        self.available()?;
        Ok(self.records().get(event_id).cloned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_780_000_000 + seconds, 0).unwrap()
    }

    fn delivery(event_id: &str, signed_at: i64) -> Delivery {
        Delivery {
            event_id: event_id.to_owned(),
            event_type: "payment_intent.succeeded".to_owned(),
            signed_at,
            received_at: at(signed_at),
        }
    }

    #[tokio::test]
    async fn given_a_recorded_delivery_when_the_same_signature_comes_again_then_it_is_a_replay() {
        let table = InMemoryWebhookDeliveries::new();
        assert!(matches!(
            table.record(&delivery("evt_1", 10)).await.unwrap(),
            Recorded::Delivery(_)
        ));

        let again = table.record(&delivery("evt_1", 10)).await.unwrap();

        assert_eq!(again, Recorded::Replay);
        let record = table.get("evt_1").await.unwrap().unwrap();
        assert_eq!(record.signed_at, BTreeSet::from([10]));
    }

    #[tokio::test]
    async fn given_a_recorded_delivery_when_a_new_signature_comes_then_both_are_kept_and_the_first_receipt_stays()
     {
        let table = InMemoryWebhookDeliveries::new();
        table.record(&delivery("evt_1", 10)).await.unwrap();
        table
            .mark_handled("evt_1", "forwarded", at(11))
            .await
            .unwrap();

        let Recorded::Delivery(record) = table.record(&delivery("evt_1", 70)).await.unwrap() else {
            panic!("a redelivery is no replay");
        };

        assert_eq!(record.signed_at, BTreeSet::from([10, 70]));
        assert_eq!(record.first_received_at, at(10));
        assert_eq!(record.expires_at, (at(10) + crate::RETENTION).timestamp());
        assert_eq!(record.handled.unwrap().outcome, "forwarded");
    }

    #[tokio::test]
    async fn given_a_handled_event_when_it_is_marked_again_then_the_first_mark_stays() {
        let table = InMemoryWebhookDeliveries::new();
        table.record(&delivery("evt_1", 10)).await.unwrap();
        table.mark_handled("evt_1", "first", at(11)).await.unwrap();

        table.mark_handled("evt_1", "second", at(12)).await.unwrap();

        let handled = table.get("evt_1").await.unwrap().unwrap().handled.unwrap();
        assert_eq!((handled.outcome.as_str(), handled.at), ("first", at(11)));
    }

    #[tokio::test]
    async fn given_no_delivery_when_an_event_is_marked_handled_then_it_fails_and_nothing_is_written()
     {
        let table = InMemoryWebhookDeliveries::new();

        let marked = table.mark_handled("evt_9", "forwarded", at(1)).await;

        assert!(matches!(marked, Err(DeliveryError::Failed(_))));
        assert!(table.all().is_empty());
    }
}
