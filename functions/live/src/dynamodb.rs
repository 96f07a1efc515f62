//! [`Subscriptions`] over the LiveConnections table (keys `connectionId`, `topic`; index
//! `byTopic`; TTL `expiresAt`). See `tools/local-stack/src/resources.rs` for the table's definition.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, Select, WriteRequest};
use chrono::{DateTime, TimeDelta, Utc};
use events::{AuctionId, UserId};

use crate::error::LiveError;
use crate::subscriptions::{ConnectionId, MAX_SUBSCRIPTIONS, Subscriptions, Topic};

/// API Gateway closes every WebSocket connection after 2 hours; items outlive that a little.
const CONNECTION_LIFETIME: TimeDelta = TimeDelta::minutes(130);
/// BatchWriteItem takes at most 25 requests.
const BATCH: usize = 25;
/// Rounds of BatchWriteItem for the items DynamoDB left unprocessed (throttling).
const UNPROCESSED_ROUNDS: usize = 5;

mod attr {
    pub const CONNECTION_ID: &str = "connectionId";
    pub const TOPIC: &str = "topic";
    pub const USER_ID: &str = "userId";
    pub const AUCTION_ID: &str = "auctionId";
    pub const CONNECTED_AT: &str = "connectedAt";
    pub const EXPIRES_AT: &str = "expiresAt";
}
const BY_TOPIC: &str = "byTopic";

#[derive(Debug, Clone)]
pub struct DynamoDbSubscriptions {
    client: Client,
    table: String,
}

fn unavailable<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> LiveError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    LiveError::Subscriptions(conventions::Failure::of(error).message().to_owned())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn expires_at(now: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N((now + CONNECTION_LIFETIME).timestamp().to_string())
}

impl DynamoDbSubscriptions {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Every item key of the connection, every page.
    async fn keys_of(
        &self,
        connection: &ConnectionId,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, LiveError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#c = :c")
                .expression_attribute_names("#c", attr::CONNECTION_ID)
                .expression_attribute_values(":c", s(&connection.0))
                .projection_expression("#c, #t")
                .expression_attribute_names("#t", attr::TOPIC)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            keys.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(keys),
            }
        }
    }
}

impl Subscriptions for DynamoDbSubscriptions {
    async fn connected(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), LiveError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(attr::CONNECTION_ID, s(&connection.0))
            .item(attr::TOPIC, s(Topic::Connection.key()))
            .item(attr::USER_ID, s(user.as_str()))
            .item(attr::CONNECTED_AT, s(now.to_rfc3339()))
            .item(attr::EXPIRES_AT, expires_at(now))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    async fn subscribe(
        &self,
        connection: &ConnectionId,
        auction_id: AuctionId,
        now: DateTime<Utc>,
    ) -> Result<(), LiveError> {
        let topic = Topic::Auction(auction_id).key();
        // Counted before the write, so two concurrent subscribes may overshoot by one: the cap
        // bounds abuse, it is not an invariant.
        let count = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#c = :c")
            .expression_attribute_names("#c", attr::CONNECTION_ID)
            .expression_attribute_values(":c", s(&connection.0))
            .select(Select::Count)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?
            .count();
        // One item is the connection's own.
        let watched = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        if watched >= MAX_SUBSCRIPTIONS {
            let already = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(attr::CONNECTION_ID, s(&connection.0))
                .key(attr::TOPIC, s(&topic))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| unavailable(&e))?
                .item
                .is_some();
            if !already {
                return Err(LiveError::TooManySubscriptions(MAX_SUBSCRIPTIONS));
            }
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .item(attr::CONNECTION_ID, s(&connection.0))
            .item(attr::TOPIC, s(topic))
            .item(attr::AUCTION_ID, s(auction_id.to_string()))
            .item(attr::EXPIRES_AT, expires_at(now))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    async fn unsubscribe(
        &self,
        connection: &ConnectionId,
        auction_id: AuctionId,
    ) -> Result<(), LiveError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(attr::CONNECTION_ID, s(&connection.0))
            .key(attr::TOPIC, s(Topic::Auction(auction_id).key()))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    async fn watchers(&self, auction_id: AuctionId) -> Result<Vec<ConnectionId>, LiveError> {
        let mut watchers = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_TOPIC)
                .key_condition_expression("#t = :t")
                .expression_attribute_names("#t", attr::TOPIC)
                .expression_attribute_values(":t", s(Topic::Auction(auction_id).key()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            watchers.extend(page.items().iter().filter_map(|item| {
                item.get(attr::CONNECTION_ID)
                    .and_then(|v| v.as_s().ok())
                    .map(|id| ConnectionId(id.clone()))
            }));
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(watchers),
            }
        }
    }

    async fn disconnected(&self, connection: &ConnectionId) -> Result<(), LiveError> {
        let keys = self.keys_of(connection).await?;
        for chunk in keys.chunks(BATCH) {
            let mut requests = Vec::with_capacity(chunk.len());
            for key in chunk {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key.clone()))
                    .build()
                    .map_err(|e| LiveError::Subscriptions(e.to_string()))?;
                requests.push(WriteRequest::builder().delete_request(delete).build());
            }
            for _ in 0..UNPROCESSED_ROUNDS {
                if requests.is_empty() {
                    break;
                }
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| unavailable(&e))?;
                requests = output
                    .unprocessed_items()
                    .and_then(|items| items.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(LiveError::Subscriptions(format!(
                    "{} items of {connection} stayed unprocessed",
                    requests.len()
                )));
            }
        }
        Ok(())
    }
}
