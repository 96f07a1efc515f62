//! moto's SQS honours what the consumers rely on: FIFO de-duplication and redrive to the DLQ.

use std::time::Duration;

use aws_sdk_sqs::types::Message;
use e2e::TestEnv;
use tokio::time::Instant;
use uuid::Uuid;

/// Upper bounds for the receive loops: a broken emulator fails the test instead of hanging it.
const MAX_RECEIVES: usize = 10;
const LOOP_BUDGET: Duration = Duration::from_secs(20);

async fn send(env: &TestEnv, queue_url: &str, body: &str, deduplication_id: &str) {
    env.sqs()
        .send_message()
        .queue_url(queue_url)
        .message_body(body)
        .message_group_id("auction-1")
        .message_deduplication_id(deduplication_id)
        .send()
        .await
        .unwrap();
}

/// One ReceiveMessage call, long-polling for at most a second.
async fn receive(env: &TestEnv, queue_url: &str, visibility_timeout: Option<i32>) -> Vec<Message> {
    env.sqs()
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .set_visibility_timeout(visibility_timeout)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

async fn delete(env: &TestEnv, queue_url: &str, message: &Message) {
    env.sqs()
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(message.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
}

fn body(message: &Message) -> String {
    message.body().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_fifo_message_sent_twice_with_one_deduplication_id_is_received_once() {
    // Given a FIFO queue
    let env = TestEnv::new().await;
    let queue = env.notifications_queue().url.clone();

    // When a producer sends one event twice (a retry) and then the next event
    let event_id = Uuid::new_v4().to_string();
    send(&env, &queue, "event 1", &event_id).await;
    send(&env, &queue, "event 1", &event_id).await;
    send(&env, &queue, "event 2", &Uuid::new_v4().to_string()).await;

    // Then a consumer that reads until the next event arrives, and then once more, gets the
    // first event exactly once
    let started = Instant::now();
    let mut received = Vec::new();
    for _ in 0..MAX_RECEIVES {
        if received.iter().any(|b| b == "event 2") || started.elapsed() > LOOP_BUDGET {
            break;
        }
        for message in receive(&env, &queue, None).await {
            received.push(body(&message));
            delete(&env, &queue, &message).await;
        }
    }
    assert_eq!(received, ["event 1", "event 2"]);
    let late = receive(&env, &queue, None).await;
    assert!(late.is_empty(), "a duplicate arrived late: {late:?}");
}

#[tokio::test]
async fn a_message_received_three_times_without_deletion_moves_to_the_dead_letter_queue() {
    // Given a message on a queue whose redrive policy allows three receives
    let env = TestEnv::new().await;
    let queue = env.payments_queue().clone();
    send(&env, &queue.url, "poison", &Uuid::new_v4().to_string()).await;

    // When a consumer keeps failing it: it receives it and never deletes it (a visibility
    // timeout of 0 makes it visible again at once, as if each handler had timed out)
    let started = Instant::now();
    let mut receives = 0;
    for _ in 0..MAX_RECEIVES {
        let messages = receive(&env, &queue.url, Some(0)).await;
        if messages.is_empty() || started.elapsed() > LOOP_BUDGET {
            break;
        }
        for message in &messages {
            assert_eq!(body(message), "poison");
            receives += 1;
        }
    }

    // Then it was delivered exactly three times, and is now in the DLQ and only there
    assert_eq!(receives, 3);
    let started = Instant::now();
    let mut dead = Vec::new();
    while dead.is_empty() && started.elapsed() < LOOP_BUDGET {
        dead = receive(&env, &queue.dlq_url, None).await;
    }
    let bodies: Vec<_> = dead.iter().map(body).collect();
    assert_eq!(bodies, ["poison"]);
    assert!(receive(&env, &queue.url, Some(0)).await.is_empty());
}
