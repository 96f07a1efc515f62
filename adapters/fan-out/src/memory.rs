//! The in-memory twin of SQS's FIFO queues, for handler tests: the same request limits, the same
//! de-duplication, and failures to order.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use crate::error::PublishError;
use crate::message::{MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, QueueMessage};
use crate::sender::{EntryFailure, QueueDirectory, QueueSender};

#[derive(Debug, Default)]
struct State {
    /// Accepted messages per queue URL, in order, duplicates dropped.
    queues: HashMap<String, Vec<QueueMessage>>,
    /// (queue URL, deduplication id) of every accepted message. SQS forgets one after five
    /// minutes; tests run well inside that.
    seen: HashSet<(String, String)>,
    /// Every request that reached the queue: its URL and number of entries.
    requests: Vec<(String, usize)>,
    /// Requests to a URL still to fail as a whole.
    failing_requests: HashMap<String, u32>,
    /// (queue URL, deduplication id) of messages refused as `Failed` entries.
    refused: HashSet<(String, String)>,
    /// Queue names the directory knows, with their URLs.
    names: HashMap<String, String>,
}

#[derive(Debug, Default)]
pub struct InMemoryQueues {
    state: Mutex<State>,
}

impl InMemoryQueues {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves whole values behind: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the directory know a queue by name.
    pub fn name_queue(&self, name: &str, url: &str) {
        self.state().names.insert(name.to_owned(), url.to_owned());
    }

    /// Makes the next `requests` requests to `queue_url` fail as a whole, as an unreachable
    /// endpoint would.
    pub fn fail_next_requests(&self, queue_url: &str, requests: u32) {
        self.state()
            .failing_requests
            .insert(queue_url.to_owned(), requests);
    }

    /// Makes every send of the message with `deduplication_id` to `queue_url` come back as a
    /// `Failed` entry while the rest of its request succeeds, until [`Self::accept`].
    pub fn refuse(&self, queue_url: &str, deduplication_id: &str) {
        self.state()
            .refused
            .insert((queue_url.to_owned(), deduplication_id.to_owned()));
    }

    /// Undoes [`Self::refuse`].
    pub fn accept(&self, queue_url: &str, deduplication_id: &str) {
        self.state()
            .refused
            .remove(&(queue_url.to_owned(), deduplication_id.to_owned()));
    }

    /// The messages on a queue, in the order they were accepted.
    pub fn messages(&self, queue_url: &str) -> Vec<QueueMessage> {
        self.state()
            .queues
            .get(queue_url)
            .cloned()
            .unwrap_or_default()
    }

    /// Every request that reached a queue (failed ones too): its URL and number of entries.
    pub fn requests(&self) -> Vec<(String, usize)> {
        self.state().requests.clone()
    }
}

impl QueueSender for InMemoryQueues {
    async fn send_batch(
        &self,
        queue_url: &str,
        messages: &[QueueMessage],
    ) -> Result<Vec<Result<(), EntryFailure>>, PublishError> {
        let refuse = |reason: String| PublishError::SendFailed {
            queue_url: queue_url.to_owned(),
            reason,
        };
        let mut state = self.state();
        state.requests.push((queue_url.to_owned(), messages.len()));
        if let Some(left) = state.failing_requests.get_mut(queue_url)
            && *left > 0
        {
            *left -= 1;
            return Err(refuse(
                "injected failure: the queue is unreachable".to_owned(),
            ));
        }
        // The checks SQS makes on the request as a whole.
        if messages.is_empty() {
            return Err(refuse("EmptyBatchRequest".to_owned()));
        }
        if messages.len() > MAX_BATCH_ENTRIES {
            return Err(refuse(format!(
                "TooManyEntriesInBatchRequest: {}",
                messages.len()
            )));
        }
        let bytes: usize = messages.iter().map(QueueMessage::size).sum();
        if bytes > MAX_BATCH_BYTES {
            return Err(refuse(format!("BatchRequestTooLong: {bytes} bytes")));
        }
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            let key = (queue_url.to_owned(), message.deduplication_id.clone());
            if state.refused.contains(&key) {
                results.push(Err(EntryFailure {
                    code: "InternalError".to_owned(),
                    message: Some("injected entry failure".to_owned()),
                    sender_fault: false,
                }));
                continue;
            }
            // A duplicate is reported as sent, and dropped: SQS FIFO de-duplication.
            if state.seen.insert(key) {
                state
                    .queues
                    .entry(queue_url.to_owned())
                    .or_default()
                    .push(message.clone());
            }
            results.push(Ok(()));
        }
        Ok(results)
    }
}

impl QueueDirectory for InMemoryQueues {
    async fn queue_url(&self, name: &str) -> Result<String, String> {
        self.state()
            .names
            .get(name)
            .cloned()
            .ok_or_else(|| format!("AWS.SimpleQueueService.NonExistentQueue: {name}"))
    }
}
