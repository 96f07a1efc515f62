//! What the publisher needs to know before the first event: where each queue is.

use aws_config::BehaviorVersion;

use crate::error::PublishError;
use crate::routes::Queue;
use crate::sender::QueueDirectory;
use crate::sqs::SqsQueues;

/// What the publisher Lambda builds once per execution environment.
pub struct Publisher {
    pub sqs: SqsQueues,
    pub queues: QueueUrls,
}

/// The SQS client from the standard AWS environment, and every queue's URL (see
/// [`QueueUrls::from_env`]), resolved before the first event.
pub async fn from_env() -> Result<Publisher, PublishError> {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let sqs = SqsQueues::new(aws_sdk_sqs::Client::new(&sdk));
    let queues = QueueUrls::from_env(&sqs).await?;
    Ok(Publisher { sqs, queues })
}

/// The URL of every queue the routes name. Holding one for each [`Queue`] is what lets the
/// handler send without a "no URL" case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    notifications: String,
    payments: String,
    live: String,
}

impl QueueUrls {
    /// URLs given directly (tests, and callers that already know them).
    pub fn from_fn(url: impl Fn(Queue) -> String) -> Self {
        Self {
            notifications: url(Queue::Notifications),
            payments: url(Queue::Payments),
            live: url(Queue::Live),
        }
    }

    pub fn url(&self, queue: Queue) -> &str {
        match queue {
            Queue::Notifications => &self.notifications,
            Queue::Payments => &self.payments,
            Queue::Live => &self.live,
        }
    }

    /// URLs from the environment: `NOTIFICATIONS_QUEUE_URL` / `PAYMENTS_QUEUE_URL`, or, when one
    /// is unset, the URL `directory` finds for the queue's name (`NOTIFICATIONS_QUEUE` /
    /// `PAYMENTS_QUEUE`, defaulting to `notifications.fifo` / `payments.fifo`).
    pub async fn from_env(directory: &impl QueueDirectory) -> Result<Self, PublishError> {
        Self::resolve(|var| std::env::var(var).ok(), directory).await
    }

    /// As [`QueueUrls::from_env`], reading variables through `lookup`. Blank values count as
    /// unset.
    pub async fn resolve(
        lookup: impl Fn(&str) -> Option<String>,
        directory: &impl QueueDirectory,
    ) -> Result<Self, PublishError> {
        let set = |var: &str| lookup(var).filter(|value| !value.trim().is_empty());
        Ok(Self {
            notifications: resolve_one(Queue::Notifications, &set, directory).await?,
            payments: resolve_one(Queue::Payments, &set, directory).await?,
            live: resolve_one(Queue::Live, &set, directory).await?,
        })
    }
}

async fn resolve_one(
    queue: Queue,
    set: &impl Fn(&str) -> Option<String>,
    directory: &impl QueueDirectory,
) -> Result<String, PublishError> {
    if let Some(url) = set(queue.url_env()) {
        return Ok(url);
    }
    let name = set(queue.name_env()).unwrap_or_else(|| queue.default_name().to_owned());
    directory
        .queue_url(&name)
        .await
        .map_err(|reason| PublishError::QueueUnresolved {
            queue,
            url_env: queue.url_env(),
            name_env: queue.name_env(),
            name,
            reason,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::InMemoryQueues;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |var| map.get(var).cloned()
    }

    #[tokio::test]
    async fn urls_come_from_the_url_variables_without_asking_sqs() {
        let directory = InMemoryQueues::new();

        let urls = QueueUrls::resolve(
            env(&[
                ("NOTIFICATIONS_QUEUE_URL", "http://q/n.fifo"),
                ("PAYMENTS_QUEUE_URL", "http://q/p.fifo"),
                ("LIVE_QUEUE_URL", "http://q/l.fifo"),
            ]),
            &directory,
        )
        .await
        .unwrap();

        assert_eq!(urls.url(Queue::Notifications), "http://q/n.fifo");
        assert_eq!(urls.url(Queue::Payments), "http://q/p.fifo");
        assert_eq!(urls.url(Queue::Live), "http://q/l.fifo");
    }

    #[tokio::test]
    async fn an_unset_url_is_looked_up_by_the_queue_name_or_its_default() {
        let directory = InMemoryQueues::new();
        directory.name_queue("prod-payments.fifo", "http://q/prod-payments.fifo");
        directory.name_queue("notifications.fifo", "http://q/notifications.fifo");
        directory.name_queue("live.fifo", "http://q/live.fifo");

        let urls = QueueUrls::resolve(
            env(&[
                ("NOTIFICATIONS_QUEUE_URL", " "),
                ("PAYMENTS_QUEUE", "prod-payments.fifo"),
            ]),
            &directory,
        )
        .await
        .unwrap();

        assert_eq!(
            urls.url(Queue::Notifications),
            "http://q/notifications.fifo"
        );
        assert_eq!(urls.url(Queue::Payments), "http://q/prod-payments.fifo");
        assert_eq!(urls.url(Queue::Live), "http://q/live.fifo");
    }

    #[tokio::test]
    async fn a_queue_neither_given_nor_found_is_a_start_up_error_naming_what_to_set() {
        let directory = InMemoryQueues::new();
        directory.name_queue("notifications.fifo", "http://q/notifications.fifo");

        let error = QueueUrls::resolve(env(&[]), &directory).await.unwrap_err();

        let message = error.to_string();
        assert!(
            matches!(
                &error,
                PublishError::QueueUnresolved { queue: Queue::Payments, name, .. }
                    if name == "payments.fifo"
            ),
            "{message}"
        );
        assert!(message.contains("PAYMENTS_QUEUE_URL"), "{message}");
        assert!(message.contains("NonExistentQueue"), "{message}");
    }
}
