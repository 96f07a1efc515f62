//! The emulators under SIGKILL: with a data directory, what a client was told is done survives a
//! crash and a restart on the same port; without one, it does not (which is why the fault suite
//! runs with one).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use aws_sdk_dynamodb::types::AttributeValue;
use local_stack::{Clients, LocalStack, ResourceNames, Service, StartOptions, Tools, provision};

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("local-stack-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn started(data_dir: Option<PathBuf>) -> (LocalStack, Clients) {
    let tools = Tools::from_env();
    tools.install().await.unwrap();
    let mut options = StartOptions::new(tools);
    options.data_dir = data_dir;
    let stack = LocalStack::start(&options).await.unwrap();
    let clients = Clients::connect(stack.endpoints()).await;
    (stack, clients)
}

/// Writes one item to Idempotency, sends three messages to the notifications queue and deletes
/// the first after receiving it. Returns the queue's URL.
async fn record_some_work(clients: &Clients, names: &ResourceNames) -> String {
    let provisioned = provision(clients, names).await.unwrap();
    clients
        .dynamodb
        .put_item()
        .table_name(&names.idempotency_table)
        .item("commandKey", AttributeValue::S("key-1".to_owned()))
        .send()
        .await
        .unwrap();
    let url = provisioned.notifications.url.clone();
    for n in 0..3 {
        clients
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body(format!("message-{n}"))
            .message_group_id("auction-1")
            .message_deduplication_id(format!("dedup-{n}"))
            .send()
            .await
            .unwrap();
    }
    let received = clients
        .sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .send()
        .await
        .unwrap();
    let first = &received.messages()[0];
    assert_eq!(first.body(), Some("message-0"));
    clients
        .sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle(first.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    url
}

async fn bodies_left(clients: &Clients, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let received = clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        bodies.extend(
            received
                .messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_owned)),
        );
        if bodies.len() >= 2 {
            break;
        }
    }
    bodies.sort();
    bodies
}

#[tokio::test]
async fn with_a_data_directory_killed_emulators_restart_with_their_tables_queues_and_messages() {
    // Given a stack with a data directory that did some work
    let dir = scratch_dir();
    let (mut stack, clients) = started(Some(dir.clone())).await;
    let names = ResourceNames::with_prefix("crash");
    let url = record_some_work(&clients, &names).await;

    // When both emulators are killed with SIGKILL and restarted
    stack.kill(Service::Dynamodb).await.unwrap();
    stack.kill(Service::Sqs).await.unwrap();
    let refused = clients.dynamodb.list_tables().send().await;
    assert!(
        refused.is_err(),
        "DynamoDB Local still answers after SIGKILL"
    );
    stack.restart(Service::Dynamodb).await.unwrap();
    stack.restart(Service::Sqs).await.unwrap();

    // Then the same endpoints serve the item, and the two messages not yet deleted, once each;
    // a re-send of an accepted message is still de-duplicated
    let item = clients
        .dynamodb
        .get_item()
        .table_name(&names.idempotency_table)
        .key("commandKey", AttributeValue::S("key-1".to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(item.item().is_some(), "the item was lost");
    clients
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("message-1")
        .message_group_id("auction-1")
        .message_deduplication_id("dedup-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        bodies_left(&clients, &url).await,
        ["message-1", "message-2"]
    );
    stack.stop().await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn without_a_data_directory_a_killed_sqs_emulator_restarts_empty() {
    // Given an in-memory stack with a queue
    let (mut stack, clients) = started(None).await;
    let names = ResourceNames::with_prefix("volatile");
    let url = record_some_work(&clients, &names).await;

    // When moto is killed and restarted
    stack.kill(Service::Sqs).await.unwrap();
    stack.restart(Service::Sqs).await.unwrap();

    // Then its queue is gone: the durability above is the data directory's doing
    let result = clients
        .sqs
        .get_queue_url()
        .queue_name(url.rsplit('/').next().unwrap())
        .send()
        .await;
    assert!(
        result.is_err(),
        "the queue survived without a data directory"
    );
    stack.stop().await.unwrap();
}
