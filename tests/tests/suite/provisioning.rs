//! Provisioning is idempotent and converges: the launcher runs it on every start.

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;
use e2e::TestEnv;
use local_stack::resources::{MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_SECS};

async fn queue_attributes(env: &TestEnv, queue_url: &str) -> HashMap<QueueAttributeName, String> {
    env.sqs()
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default()
}

#[tokio::test]
async fn every_queue_is_fifo_without_content_deduplication_and_redrives_to_its_dlq() {
    // Given freshly provisioned queues
    let env = TestEnv::new().await;

    for (_, queue) in env.resources.queues() {
        // When their attributes are read
        let attributes = queue_attributes(&env, &queue.url).await;

        // Then they match the definitions
        assert_eq!(attributes[&QueueAttributeName::FifoQueue], "true");
        assert_eq!(
            attributes[&QueueAttributeName::ContentBasedDeduplication],
            "false"
        );
        assert_eq!(
            attributes[&QueueAttributeName::VisibilityTimeout],
            VISIBILITY_TIMEOUT_SECS.to_string()
        );
        let redrive: serde_json::Value =
            serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
        assert_eq!(redrive["deadLetterTargetArn"], queue.dlq_arn.as_str());
        assert_eq!(
            redrive["maxReceiveCount"].to_string(),
            MAX_RECEIVE_COUNT.to_string()
        );
        assert!(queue.dlq_name.ends_with("-dlq.fifo"));
        assert_eq!(
            queue_attributes(&env, &queue.dlq_url).await[&QueueAttributeName::FifoQueue],
            "true"
        );
    }
}

#[tokio::test]
async fn provisioning_again_keeps_the_resources_and_returns_the_same_urls() {
    // Given provisioned resources
    let env = TestEnv::new().await;

    // When they are provisioned again under the same names
    let again = local_stack::provision(&env.clients, env.names())
        .await
        .unwrap();

    // Then nothing changed
    assert_eq!(again, env.resources);
}

#[tokio::test]
async fn provisioning_restores_a_queue_attribute_that_drifted() {
    // Given a queue whose visibility timeout was changed by hand
    let env = TestEnv::new().await;
    let queue = env.notifications_queue().url.clone();
    env.sqs()
        .set_queue_attributes()
        .queue_url(&queue)
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .send()
        .await
        .unwrap();

    // When the resources are provisioned again
    local_stack::provision(&env.clients, env.names())
        .await
        .unwrap();

    // Then the definition's value is back
    assert_eq!(
        queue_attributes(&env, &queue).await[&QueueAttributeName::VisibilityTimeout],
        VISIBILITY_TIMEOUT_SECS.to_string()
    );
}
