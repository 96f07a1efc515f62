//! The reconciler against DynamoDB Local and moto: an auction consumed the normal way (the
//! projector's and the publisher's stream handlers, the payment saga and the notifier on their
//! queues), then state removed behind the platform's back, then one reconciler run with the
//! deployed adapters (DynamoDB reads, parking's redelivery to the real consumers), and the
//! queues drained into the real handlers, as the trigger runner would.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use chrono::{DateTime, TimeDelta, Utc};
use domain::fixtures::lamp_auction;
use e2e::TestEnv;
use event_store::testing::{context, epoch, user};
use event_store::{DynamoDbStore, Meter, SnapshotPolicy, Store, StoredEvent};
use events::AuctionId;
use fan_out::{Queue, QueueUrls, SqsQueues};
use payments::testing::{SaleStep, sell};
use payments::{
    BasisPoints, DynamoDbSagaStates, FixedClock, Operation, Ports as SagaPorts, Retry, SagaId,
    SagaStates, SimulatedProvider, SimulatedRegistry, Status, TokioSleep,
};
use read_models::notifications::{DynamoDbNotifications, ListNotifications, LogContexts};
use read_models::{AuctionProjection, DynamoDbViews, ReadModels};
use reconciler::{DynamoDbNotices, Ports, Reconciled, Settings, reconcile};
use uuid::Uuid;

fn ends_at() -> DateTime<Utc> {
    epoch() + TimeDelta::days(1)
}

fn ended_at() -> DateTime<Utc> {
    ends_at() + TimeDelta::seconds(1)
}

/// One test's auction, the platform's consumers on its tables and queues, and the outside world
/// the saga pays through.
struct Platform {
    env: TestEnv,
    auction_id: AuctionId,
    payments: SimulatedProvider,
    registry: SimulatedRegistry,
}

impl Platform {
    /// The seller's lamp, bid on by bob (maximum 500) and cat (maximum 300), ended: bob wins at
    /// 310. Nothing consumed yet.
    async fn sold_auction() -> Self {
        let env = TestEnv::new().await;
        let store = Store::new(env.event_store(), SnapshotPolicy::default());
        let auction_id = AuctionId(Uuid::new_v4());
        let create = lamp_auction(auction_id, ends_at());
        sell(
            &store,
            &create,
            &[("bob", 500), ("cat", 300)],
            |step| match step {
                SaleStep::Create => context("seller", epoch()),
                SaleStep::Bid(bidder) => context(bidder, epoch() + TimeDelta::hours(1)),
                SaleStep::End => context("scheduler", ended_at()),
            },
        )
        .await
        .unwrap();
        Self {
            env,
            auction_id,
            payments: SimulatedProvider::new(Duration::from_millis(1)),
            registry: SimulatedRegistry::new(Duration::from_millis(1)),
        }
    }

    fn log(&self) -> DynamoDbStore {
        self.env.event_store()
    }

    fn views(&self) -> DynamoDbViews {
        self.env.views()
    }

    fn sagas(&self) -> DynamoDbSagaStates {
        DynamoDbSagaStates::new(
            self.env.dynamodb().clone(),
            self.env.names().payment_sagas_table.clone(),
        )
    }

    fn inbox(&self) -> DynamoDbNotifications {
        DynamoDbNotifications::new(
            self.env.dynamodb().clone(),
            self.env.names().notifications_table.clone(),
        )
    }

    fn urls(&self) -> QueueUrls {
        let resources = &self.env.resources;
        QueueUrls::from_fn(|queue| match queue {
            Queue::Payments => resources.payments.url.clone(),
            Queue::Notifications => resources.notifications.url.clone(),
            Queue::Live => resources.live.url.clone(),
        })
    }

    async fn events(&self) -> Vec<StoredEvent> {
        self.log()
            .read_all(self.auction_id, &Meter::default())
            .await
            .unwrap()
    }

    /// The Events stream's records for every event, to the projector and the publisher, as
    /// their mappings deliver them.
    async fn stream_everything(&self) {
        let mut event = Event::default();
        event.records = self
            .events()
            .await
            .iter()
            .map(|stored| stream_records::insert_record(stored, stored.version()).unwrap())
            .collect();
        let projected =
            read_models::handle(&self.views(), &self.log(), &self.env.heads(), event.clone())
                .await
                .unwrap();
        assert!(projected.batch_item_failures.is_empty(), "{projected:?}");
        let queues = SqsQueues::new(self.env.sqs().clone());
        let published = fan_out::handle(&queues, &self.urls(), event).await.unwrap();
        assert!(published.batch_item_failures.is_empty(), "{published:?}");
    }

    /// The payment saga, on this test's tables and the shared simulated provider.
    fn saga_ports(
        &self,
    ) -> SagaPorts<DynamoDbStore, SimulatedProvider, SimulatedRegistry, DynamoDbSagaStates> {
        SagaPorts {
            store: Store::new(self.log(), SnapshotPolicy::default()),
            payments: self.payments.clone(),
            ownership: self.registry.clone(),
            sagas: self.sagas(),
            clock: Arc::new(FixedClock::new(ended_at() + TimeDelta::minutes(1))),
            sleep: Arc::new(TokioSleep),
            retry: Retry::default(),
            commission: BasisPoints::try_from(500).unwrap(),
        }
    }

    /// Both queues' messages to their consumers until the queues are empty, as the trigger
    /// runner hands them over.
    async fn drain_queues(&self) {
        let saga = self.saga_ports();
        drain(&self.env, &self.env.payments_queue().url, |batch| async {
            saga.handle(batch).await.unwrap()
        })
        .await;
        let contexts = LogContexts::new(self.log());
        let inbox = self.inbox();
        let mail = self.env.mail();
        drain(
            &self.env,
            &self.env.notifications_queue().url,
            |batch| async {
                notifier::handle(&contexts, &inbox, &mail, batch)
                    .await
                    .unwrap()
            },
        )
        .await;
    }

    /// The reconciler as deployed, on this test's tables and queues.
    fn reconciler(
        &self,
    ) -> Ports<
        DynamoDbStore,
        DynamoDbSagaStates,
        DynamoDbViews,
        DynamoDbNotices,
        ::parking::Consumers,
        ::parking::DynamoDbParked,
    > {
        Ports {
            log: self.log(),
            sagas: self.sagas(),
            views: self.views(),
            notices: DynamoDbNotices::new(
                self.env.dynamodb().clone(),
                self.env.names().notifications_table.clone(),
            ),
            consumers: ::parking::Consumers::new(
                self.log(),
                self.views(),
                self.env.heads(),
                SqsQueues::new(self.env.sqs().clone()),
                self.urls(),
            ),
            parked: self.env.parked(),
        }
    }

    async fn view(&self) -> Option<read_models::AuctionView> {
        self.views().auction(self.auction_id).await.unwrap()
    }

    /// The view the log folds to: every event projected from nothing.
    async fn fold(&self) -> read_models::AuctionView {
        let mut projection: Option<AuctionProjection> = None;
        for stored in self.events().await {
            projection = read_models::project(projection, &stored.decode().unwrap());
        }
        projection.unwrap().view
    }

    fn bobs_saga(&self) -> SagaId {
        SagaId::new(self.auction_id, &user("bob"))
    }

    async fn delete(&self, table: &str, key: &[(&str, &str)]) {
        let key: HashMap<String, AttributeValue> = key
            .iter()
            .map(|(name, value)| ((*name).to_owned(), AttributeValue::S((*value).to_owned())))
            .collect();
        let deleted = self
            .env
            .dynamodb()
            .delete_item()
            .table_name(table)
            .set_key(Some(key))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .unwrap();
        assert!(deleted.attributes.is_some(), "nothing to delete in {table}");
    }

    async fn notice_ids(&self, who: &str) -> Vec<String> {
        self.inbox()
            .list(&user(who), 100, None)
            .await
            .unwrap()
            .notifications
            .into_iter()
            .map(|n| n.notification_id)
            .collect()
    }

    async fn count(&self, event_type: &str) -> usize {
        self.events()
            .await
            .iter()
            .filter(|e| e.envelope.event_type == event_type)
            .count()
    }
}

/// Receives from `queue_url` until a receive comes back empty, hands each batch to `handler` as
/// Lambda would, and deletes the messages it did not report failed.
async fn drain<F, Fut>(env: &TestEnv, queue_url: &str, handler: F)
where
    F: Fn(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = SqsBatchResponse>,
{
    loop {
        let received = env
            .sqs()
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return;
        }
        let mut batch = SqsEvent::default();
        batch.records = messages.iter().map(lambda_message).collect();
        let response = handler(batch).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "the consumer failed messages: {response:?}"
        );
        for message in &messages {
            env.sqs()
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle.clone().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn lambda_message(message: &aws_sdk_sqs::types::Message) -> SqsMessage {
    let mut out = SqsMessage::default();
    out.message_id = message.message_id.clone();
    out.receipt_handle = message.receipt_handle.clone();
    out.body = message.body.clone();
    out.attributes = message
        .attributes
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.as_str().to_owned(), value))
        .collect();
    for (name, value) in message.message_attributes.clone().unwrap_or_default() {
        let mut attribute = SqsMessageAttribute::default();
        attribute.string_value = value.string_value;
        attribute.data_type = Some(value.data_type);
        out.message_attributes.insert(name, attribute);
    }
    out
}

/// The defaults, which the test's clock steps past: an hour after the end, the end is in the
/// window and older than the grace period.
fn an_hour_after_the_end() -> DateTime<Utc> {
    ended_at() + TimeDelta::hours(1)
}

#[tokio::test]
async fn given_a_sold_auction_whose_saga_completed_and_view_was_projected_when_the_saga_the_view_row_and_a_notice_are_deleted_behind_its_back_then_one_run_restores_them_without_a_second_charge()
 {
    // Given a sold auction consumed the normal way: view projected, saga completed, notices in.
    let platform = Platform::sold_auction().await;
    platform.stream_everything().await;
    platform.drain_queues().await;
    let saga = platform.sagas().get(&platform.bobs_saga()).await.unwrap();
    assert_eq!(saga.map(|s| s.status), Some(Status::Completed));
    assert_eq!(platform.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(platform.count("PaymentSucceeded").await, 1);
    // The payment came after the stream above: the view is one event behind until it is
    // streamed too, as it would have been.
    platform.stream_everything().await;
    platform.drain_queues().await;
    let before = platform.view().await.unwrap();
    assert_eq!(before, platform.fold().await);
    let sellers_notices = platform.notice_ids("seller").await;
    assert!(!sellers_notices.is_empty());

    // When the saga's item, the view row and the seller's notice of the sale go missing.
    let names = platform.env.names().clone();
    let bobs_saga = platform.bobs_saga();
    platform
        .delete(
            &names.payment_sagas_table,
            &[("sagaId", bobs_saga.as_str())],
        )
        .await;
    let auction_id = platform.auction_id.to_string();
    platform
        .delete(&names.auction_views_table, &[("auctionId", &auction_id)])
        .await;
    let sold_notice = sellers_notices
        .iter()
        .find(|id| id.ends_with("#sold"))
        .unwrap()
        .clone();
    platform
        .delete(
            &names.notifications_table,
            &[("userId", "seller"), ("notificationId", &sold_notice)],
        )
        .await;
    assert_eq!(platform.view().await, None);
    assert!(platform.sagas().get(&bobs_saga).await.unwrap().is_none());

    // ... and one reconciler run looks, and the queues' consumers take what it sent.
    let reconciled = reconcile(
        &platform.reconciler(),
        &Settings::default(),
        an_hour_after_the_end(),
    )
    .await
    .unwrap();
    platform.drain_queues().await;

    // Then each divergence was repaired once,
    assert_eq!(
        Reconciled {
            events_read: 0,
            ..reconciled
        },
        Reconciled {
            auctions: 1,
            missing_sagas: 1,
            views_behind: 1,
            missing_notices: 1,
            ..Reconciled::default()
        }
    );
    // the view row equals the fold of the log again,
    assert_eq!(platform.view().await, Some(platform.fold().await));
    // the saga completed again, without a second charge or a second recorded payment,
    let saga = platform.sagas().get(&bobs_saga).await.unwrap().unwrap();
    assert_eq!(saga.status, Status::Completed);
    assert_eq!(platform.payments.entries(Operation::Charge).len(), 1);
    assert_eq!(platform.payments.entries(Operation::Payout).len(), 1);
    assert_eq!(platform.count("PaymentSucceeded").await, 1);
    // and the seller's inbox holds the notice again, once.
    assert_eq!(platform.notice_ids("seller").await, sellers_notices);

    // And a second run finds nothing left to repair.
    let again = reconcile(
        &platform.reconciler(),
        &Settings::default(),
        an_hour_after_the_end(),
    )
    .await
    .unwrap();
    assert_eq!(again.repairs(), 0, "{again:?}");
    assert_eq!(again.failed, 0, "{again:?}");
}
