//! The inbox's keys in DynamoDB: which of a list of notifications the `Notifications` table
//! holds, by BatchGetItem on their full keys, projecting the keys only.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use events::UserId;

use crate::error::ReconcilerError;
use crate::ports::{NoticeKey, StoredNotices};

/// BatchGetItem's limit on keys per request.
const BATCH: usize = 100;

/// Rounds of unprocessed keys (DynamoDB returns them under throttling) retried before the check
/// is given up for this run.
const ROUNDS: u32 = 5;

#[derive(Debug, Clone)]
pub struct DynamoDbNotices {
    client: Client,
    table: String,
}

impl DynamoDbNotices {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// On the table the notifier writes: `NOTIFICATIONS_TABLE` (default `Notifications`).
    pub fn from_env(client: Client) -> Self {
        Self::new(client, conventions::names::NOTIFICATIONS_TABLE.from_env())
    }
}

impl StoredNotices for DynamoDbNotices {
    async fn present(&self, keys: &[NoticeKey]) -> Result<HashSet<NoticeKey>, ReconcilerError> {
        let mut present = HashSet::new();
        for chunk in keys.chunks(BATCH) {
            // Eventually consistent is enough: the notices looked for were due a grace period ago.
            let mut request = KeysAndAttributes::builder()
                .projection_expression("#u, #n")
                .expression_attribute_names("#u", "userId")
                .expression_attribute_names("#n", "notificationId");
            for (user, id) in chunk {
                request = request.keys(HashMap::from([
                    (
                        "userId".to_owned(),
                        AttributeValue::S(user.as_str().to_owned()),
                    ),
                    ("notificationId".to_owned(), AttributeValue::S(id.clone())),
                ]));
            }
            let mut pending = Some(request.build().map_err(|e| notices_error(&e))?);
            let mut round = 0;
            while let Some(keys) = pending.take() {
                round += 1;
                if round > ROUNDS {
                    return Err(ReconcilerError::Notices(format!(
                        "{} keys still unprocessed after {ROUNDS} rounds (throttled)",
                        keys.keys().len()
                    )));
                }
                if round > 1 {
                    tokio::time::sleep(Duration::from_millis(50 << round)).await;
                }
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|e| notices_error(&e))?;
                for item in output
                    .responses
                    .and_then(|mut tables| tables.remove(&self.table))
                    .unwrap_or_default()
                {
                    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                    if let (Some(user), Some(id)) = (text("userId"), text("notificationId"))
                        && let Ok(user) = UserId::try_from(user.as_str())
                    {
                        present.insert((user, id));
                    }
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut tables| tables.remove(&self.table))
                    .filter(|keys| !keys.keys().is_empty());
            }
        }
        Ok(present)
    }
}

fn notices_error(error: &dyn std::error::Error) -> ReconcilerError {
    ReconcilerError::Notices(conventions::error_chain(error))
}
