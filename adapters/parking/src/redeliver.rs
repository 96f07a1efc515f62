//! Delivering events from the log to a consumer again, through its normal idempotent path.

use std::future::Future;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use event_store::{DynamoDbStore, EventLog, StoredEvent};
use fan_out::{AttributeValue, Queue, QueueMessage, QueueSender, QueueUrls, SqsQueues, batches};
use notary::{AdvanceHeads, HeadsTable};
use read_models::{DynamoDbViews, Projections, ViewAliases, ViewTables};

use crate::consumer::Consumer;
use crate::error::ParkingError;

/// The message attribute that carries, on a replayed message, how many times its parked item
/// has been replayed: a queue consumer that dead-letters it again has it parked with that count
/// as its failed replays, so that replays of a poison message end (the reconciler's cap) instead
/// of cycling through the queue, the DLQ and `Parked` for ever.
pub const REPLAYS_ATTRIBUTE: &str = "parkedReplays";

/// Delivers events again to one consumer.
pub trait Redeliver: Send + Sync {
    /// Delivers `events` (one aggregate's, in version order) to `consumer`. Consumers are
    /// idempotent and version-gated, so an event already applied changes nothing.
    fn redeliver(
        &self,
        consumer: Consumer,
        events: &[StoredEvent],
    ) -> impl Future<Output = Result<(), ParkingError>> + Send;

    /// As [`Redeliver::redeliver`], for the `replays`-th replay of a parked item: a message sent
    /// to a queue consumer carries the count ([`REPLAYS_ATTRIBUTE`]).
    fn redeliver_replay(
        &self,
        consumer: Consumer,
        events: &[StoredEvent],
        replays: u32,
    ) -> impl Future<Output = Result<(), ParkingError>> + Send {
        let _ = replays;
        self.redeliver(consumer, events)
    }
}

/// The consumers' own ports, so that a redelivered event goes through the very code a first
/// delivery does:
///
/// - projector, publisher (stream consumers): their stream handler, with the INSERT records the
///   stream would carry for the events;
/// - notifier, payment saga, broadcaster (queue consumers): the publisher's message for the
///   event, sent to that consumer's queue only, with a deduplication id of its own (`{aggregateId}#{version}`
///   would be dropped by SQS within five minutes of the first send), so that the consumer's own
///   de-duplication by event decides.
pub struct Consumers<L = DynamoDbStore, V = DynamoDbViews, Q = SqsQueues, H = HeadsTable> {
    log: L,
    views: V,
    /// The streams' heads, which the projector moves with the views.
    heads: H,
    queues: Q,
    urls: QueueUrls,
}

impl Consumers {
    /// The production consumers, configured as their Lambdas are: the Events and view tables
    /// (through the read-model alias) and the queues' URLs.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, ParkingError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let log = DynamoDbStore::new(dynamodb.clone(), read_models::event_tables_from_env());
        let heads = notary::config::heads_from_env(dynamodb.clone());
        let views = DynamoDbViews::aliased(
            dynamodb.clone(),
            ViewAliases::from_env(dynamodb.clone()),
            ViewTables::from_env(),
        );
        let queues = SqsQueues::new(aws_sdk_sqs::Client::new(sdk));
        let urls = QueueUrls::from_env(&queues)
            .await
            .map_err(|e| ParkingError::Unreachable {
                consumer: "the queues".to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            log,
            views,
            heads,
            queues,
            urls,
        })
    }
}

impl<L, V, Q, H> std::fmt::Debug for Consumers<L, V, Q, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumers")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl<L, V, Q, H> Consumers<L, V, Q, H> {
    pub fn new(log: L, views: V, heads: H, queues: Q, urls: QueueUrls) -> Self {
        Self {
            log,
            views,
            heads,
            queues,
            urls,
        }
    }
}

fn stream_event(events: &[StoredEvent]) -> Result<Event, ParkingError> {
    let records = events
        .iter()
        .map(|stored| stream_records::insert_record(stored, stored.version()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut event = Event::default();
    event.records = records;
    Ok(event)
}

fn check(consumer: Consumer, response: &DynamoDbEventResponse) -> Result<(), ParkingError> {
    if response.batch_item_failures.is_empty() {
        Ok(())
    } else {
        Err(ParkingError::ConsumerFailed {
            consumer: consumer.name().to_owned(),
            reason: format!(
                "it reported {} of the records failed (its log says why)",
                response.batch_item_failures.len()
            ),
        })
    }
}

fn failed(consumer: Consumer, error: impl std::fmt::Display) -> ParkingError {
    ParkingError::ConsumerFailed {
        consumer: consumer.name().to_owned(),
        reason: error.to_string(),
    }
}

impl<L, V, Q, H> Consumers<L, V, Q, H>
where
    Q: QueueSender,
{
    async fn send_again(
        &self,
        consumer: Consumer,
        queue: Queue,
        events: &[StoredEvent],
        replays: Option<u32>,
    ) -> Result<(), ParkingError> {
        let nonce = uuid::Uuid::new_v4().simple();
        let messages = events
            .iter()
            .map(|stored| {
                QueueMessage::for_event(stored).map(|mut message| {
                    message.deduplication_id =
                        format!("{}#replay-{nonce}", message.deduplication_id);
                    if let Some(replays) = replays {
                        message.attributes.push((
                            REPLAYS_ATTRIBUTE,
                            AttributeValue::Number(replays.to_string()),
                        ));
                    }
                    message
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(consumer, format!("cannot encode the message: {e}")))?;
        let grouped = batches(messages, QueueMessage::size);
        if let Some(oversized) = grouped.oversized.first() {
            return Err(failed(
                consumer,
                format!(
                    "a message of {} bytes is more than SQS accepts",
                    oversized.size()
                ),
            ));
        }
        for batch in grouped.batches {
            let results = self
                .queues
                .send_batch(self.urls.url(queue), &batch)
                .await
                .map_err(|e| failed(consumer, e))?;
            if let Some(Err(entry)) = results.into_iter().find(Result::is_err) {
                return Err(failed(consumer, entry));
            }
        }
        Ok(())
    }
}

impl<L, V, Q, H> Redeliver for Consumers<L, V, Q, H>
where
    L: EventLog,
    V: Projections,
    Q: QueueSender,
    H: AdvanceHeads,
{
    async fn redeliver(
        &self,
        consumer: Consumer,
        events: &[StoredEvent],
    ) -> Result<(), ParkingError> {
        self.deliver(consumer, events, None).await
    }

    async fn redeliver_replay(
        &self,
        consumer: Consumer,
        events: &[StoredEvent],
        replays: u32,
    ) -> Result<(), ParkingError> {
        self.deliver(consumer, events, Some(replays)).await
    }
}

impl<L, V, Q, H> Consumers<L, V, Q, H>
where
    L: EventLog,
    V: Projections,
    Q: QueueSender,
    H: AdvanceHeads,
{
    async fn deliver(
        &self,
        consumer: Consumer,
        events: &[StoredEvent],
        replays: Option<u32>,
    ) -> Result<(), ParkingError> {
        if events.is_empty() {
            return Ok(());
        }
        match consumer {
            Consumer::Projector => {
                let response =
                    read_models::handle(&self.views, &self.log, &self.heads, stream_event(events)?)
                        .await
                        .map_err(|e| failed(consumer, e))?;
                check(consumer, &response)
            }
            Consumer::Publisher => {
                let response = fan_out::handle(&self.queues, &self.urls, stream_event(events)?)
                    .await
                    .map_err(|e| failed(consumer, e))?;
                check(consumer, &response)
            }
            Consumer::Broadcaster => {
                self.send_again(consumer, Queue::Live, events, replays)
                    .await
            }
            Consumer::Notifier => {
                self.send_again(consumer, Queue::Notifications, events, replays)
                    .await
            }
            Consumer::PaymentSaga => {
                self.send_again(consumer, Queue::Payments, events, replays)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use event_store::InMemoryStore;
    use event_store::testing::typed_history;
    use events::AuctionId;
    use fan_out::InMemoryQueues;
    use notary::InMemoryHeads;
    use read_models::InMemoryViews;

    use super::*;

    const NOTIFICATIONS: &str = "http://sqs/notifications.fifo";

    fn consumers() -> Consumers<InMemoryStore, InMemoryViews, InMemoryQueues, InMemoryHeads> {
        Consumers::new(
            InMemoryStore::new(),
            InMemoryViews::new(),
            InMemoryHeads::new(),
            InMemoryQueues::new(),
            QueueUrls::from_fn(|queue| match queue {
                Queue::Notifications => NOTIFICATIONS.to_owned(),
                Queue::Payments => "http://sqs/payments.fifo".to_owned(),
                Queue::Live => "http://sqs/live.fifo".to_owned(),
            }),
        )
    }

    fn replays_of(message: &QueueMessage) -> Option<&str> {
        message
            .attributes
            .iter()
            .find(|(name, _)| *name == REPLAYS_ATTRIBUTE)
            .map(|(_, value)| value.as_str())
    }

    #[tokio::test]
    async fn given_a_parked_item_replayed_for_the_third_time_when_it_is_sent_to_its_queue_then_the_message_says_so()
     {
        let consumers = consumers();
        let events = typed_history(
            AuctionId(uuid::Uuid::from_u128(1)),
            &["AuctionEnded"],
            |_| chrono::DateTime::UNIX_EPOCH,
        );

        consumers
            .redeliver_replay(Consumer::Notifier, &events, 3)
            .await
            .unwrap();
        consumers
            .redeliver(Consumer::Notifier, &events)
            .await
            .unwrap();

        let sent = consumers.queues.messages(NOTIFICATIONS);
        assert_eq!(sent.len(), 2, "each send has a deduplication id of its own");
        assert_eq!(replays_of(&sent[0]), Some("3"));
        assert_eq!(replays_of(&sent[1]), None);
        assert!(sent.iter().all(|m| m.deduplication_id.contains("#replay-")));
    }
}
