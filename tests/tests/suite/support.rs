//! What several files of the suite do alike: an auction to start from and bids on it, one
//! receive from a queue as Lambda's poller asks for it, stopping a runner, and the Stripe
//! objects a user registers before they bid or sell.

use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use e2e::{TestEnv, fixtures};
use event_store::{DynamoDbStore, Store};
use events::{AuctionId, BidId};
use local_triggers::{CancellationToken, TriggerError};
use tokio::task::JoinHandle;
use uuid::Uuid;

use api_local::demo::DemoPayments;
use serde_json::{Value, json};
use stripe_api::StripeClient;

/// A runner of local-triggers, started: how to stop it, and its task.
pub type Running = (CancellationToken, JoinHandle<Result<(), TriggerError>>);

/// Stops a runner as SIGTERM does, and waits up to `budget` for it to finish its batch.
pub async fn stop_within(budget: Duration, (stop, task): Running) {
    stop.cancel();
    tokio::time::timeout(budget, task)
        .await
        .expect("the runner did not stop")
        .unwrap()
        .unwrap();
}

/// A fresh auction created by the seller (the fixtures' own).
pub use e2e::fixtures::created;

/// A bid by `bidder` one increment above the auction's price, decided now (the fixtures' clock).
pub async fn outbid(store: &Store<DynamoDbStore>, auction_id: AuctionId, bidder: &str) {
    let bidder = fixtures::user(bidder);
    let bid_id = BidId(Uuid::new_v4());
    store
        .execute(
            auction_id,
            &fixtures::context(&bidder, None),
            |state, now| fixtures::outbid(&bidder, bid_id, state, now),
        )
        .await
        .unwrap();
}

/// One receive of up to 10 messages from `queue_url`, with every system and message attribute
/// (what Lambda's poller asks for); the messages stay on the queue.
pub async fn receive(env: &TestEnv, queue_url: &str) -> Vec<Message> {
    env.sqs()
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

/// The stack's Stripe (its emulator: `STRIPE_API_BASE` and `STRIPE_SECRET_KEY`, which
/// `local-stack exec` exports), through the platform's own client.
/// Refuses anything but an emulator on this machine: these tests create customers and move
/// money.
pub async fn stripe() -> StripeClient {
    let client = StripeClient::from_env(&local_stack::sdk_config().await)
        .await
        .expect("the local stack's Stripe (run the suite under `local-stack exec`)");
    assert!(
        client.api_base().starts_with("http://127.0.0.1:"),
        "refusing to run against {}: not the local stack's localstripe",
        client.api_base()
    );
    client
}

/// A command context of the system (actor `e2e`) at `now`, with fresh ids and no key.
pub fn system_context(now: chrono::DateTime<chrono::Utc>) -> event_store::CommandContext {
    event_store::CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: format!("corr-{}", Uuid::new_v4()),
        actor: events::Actor::System {
            name: "e2e".to_owned(),
        },
        idempotency_key: None,
        now,
    }
}

/// What `user` registers before they bid or sell, made in the stack's Stripe as a client makes
/// it there (api-local's demo does the same): the body of `PUT /me/payment-method` (a new
/// customer with the test card 4242 attached) and of `PUT /me/payout-account` (a new connected
/// account). Send them through whichever transport the test drives the API with.
pub async fn stripe_identity(stripe: &StripeClient, user: &str) -> (Value, Value) {
    let user = fixtures::user(user);
    let (customer, card) = stripe.create_card_on_file(&user).await.unwrap();
    let account = stripe.create_payout_account(&user).await.unwrap();
    (
        json!({"customerId": customer, "paymentMethodId": card}),
        json!({"accountId": account}),
    )
}
