//! The Parked table in DynamoDB: pk `consumer`, sk `parkedId`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use events::AuctionId;

use crate::error::ParkingError;
use crate::parked::{Parked, ParkedItems};

/// The Parked table (`PARKED_TABLE`, default `Parked`).
#[derive(Debug, Clone)]
pub struct DynamoDbParked {
    client: Client,
    table: String,
}

impl DynamoDbParked {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `PARKED_TABLE`, default `Parked`.
    pub fn from_env(client: Client) -> Self {
        Self::new(client, conventions::names::PARKED_TABLE.from_env())
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

type Item = HashMap<String, AttributeValue>;

fn item(parked: &Parked) -> Item {
    let s = |value: &str| AttributeValue::S(value.to_owned());
    let n = |value: u64| AttributeValue::N(value.to_string());
    let mut item = HashMap::from([
        ("consumer".to_owned(), s(&parked.consumer)),
        ("parkedId".to_owned(), s(&parked.parked_id())),
        (
            "aggregateId".to_owned(),
            s(&parked.aggregate_id.to_string()),
        ),
        ("fromVersion".to_owned(), n(parked.from_version)),
        ("toVersion".to_owned(), n(parked.to_version)),
        ("lastError".to_owned(), s(&parked.last_error)),
        ("attempts".to_owned(), n(u64::from(parked.attempts))),
        (
            "failedReplays".to_owned(),
            n(u64::from(parked.failed_replays)),
        ),
        (
            "parkedAt".to_owned(),
            s(&parked
                .parked_at
                .to_rfc3339_opts(SecondsFormat::Millis, true)),
        ),
        ("origin".to_owned(), s(&parked.origin)),
    ]);
    // A list, not a string set: the order (version order) means something, and a set may not
    // be empty.
    item.insert(
        "eventTypes".to_owned(),
        AttributeValue::L(parked.event_types.iter().map(|t| s(t)).collect()),
    );
    item
}

fn parked(item: &Item) -> Result<Parked, ParkingError> {
    let unreadable = |field: &str| ParkingError::Aws {
        operation: "reading a Parked item".to_owned(),
        reason: format!("its {field} is missing or unreadable"),
    };
    let s = |field: &str| match item.get(field) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(unreadable(field)),
    };
    let n = |field: &str| match item.get(field) {
        Some(AttributeValue::N(value)) => value.parse::<u64>().map_err(|_| unreadable(field)),
        _ => Err(unreadable(field)),
    };
    let event_types = match item.get("eventTypes") {
        Some(AttributeValue::L(types)) => types
            .iter()
            .filter_map(|t| t.as_s().ok().cloned())
            .collect(),
        _ => Vec::new(),
    };
    Ok(Parked {
        consumer: s("consumer")?,
        aggregate_id: s("aggregateId")?
            .parse()
            .map(AuctionId)
            .map_err(|_| unreadable("aggregateId"))?,
        from_version: n("fromVersion")?,
        to_version: n("toVersion")?,
        event_types,
        last_error: s("lastError")?,
        attempts: u32::try_from(n("attempts")?).unwrap_or(u32::MAX),
        // Items parked before the field existed have had no failed replay.
        failed_replays: n("failedReplays")
            .map_or(0, |count| u32::try_from(count).unwrap_or(u32::MAX)),
        parked_at: DateTime::parse_from_rfc3339(&s("parkedAt")?)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| unreadable("parkedAt"))?,
        origin: s("origin")?,
    })
}

fn key(consumer: &str, parked_id: &str) -> Item {
    HashMap::from([
        (
            "consumer".to_owned(),
            AttributeValue::S(consumer.to_owned()),
        ),
        (
            "parkedId".to_owned(),
            AttributeValue::S(parked_id.to_owned()),
        ),
    ])
}

impl ParkedItems for DynamoDbParked {
    async fn put(&self, parked: &Parked) -> Result<(), ParkingError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(parked)))
            .send()
            .await
            .map_err(|e| ParkingError::aws("PutItem", &self.table, e))?;
        Ok(())
    }

    async fn list(&self, consumer: Option<&str>) -> Result<Vec<Parked>, ParkingError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            // Parked items are few (each is an incident): a Scan of all of them is cheap, a
            // Query serves one consumer.
            let page = match consumer {
                Some(consumer) => {
                    let page = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("#c = :c")
                        .expression_attribute_names("#c", "consumer")
                        .expression_attribute_values(":c", AttributeValue::S(consumer.to_owned()))
                        .consistent_read(true)
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .map_err(|e| ParkingError::aws("Query", &self.table, e))?;
                    (page.items.unwrap_or_default(), page.last_evaluated_key)
                }
                None => {
                    let page = self
                        .client
                        .scan()
                        .table_name(&self.table)
                        .consistent_read(true)
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .map_err(|e| ParkingError::aws("Scan", &self.table, e))?;
                    (page.items.unwrap_or_default(), page.last_evaluated_key)
                }
            };
            for item in &page.0 {
                items.push(parked(item)?);
            }
            match page.1 {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        items.sort_by(|a, b| (&a.consumer, a.parked_id()).cmp(&(&b.consumer, b.parked_id())));
        Ok(items)
    }

    async fn get(&self, consumer: &str, parked_id: &str) -> Result<Option<Parked>, ParkingError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(consumer, parked_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ParkingError::aws("GetItem", &self.table, e))?;
        found.item.as_ref().map(parked).transpose()
    }

    async fn remove(&self, consumer: &str, parked_id: &str) -> Result<bool, ParkingError> {
        let removed = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(consumer, parked_id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| ParkingError::aws("DeleteItem", &self.table, e))?;
        Ok(removed.attributes.is_some_and(|old| !old.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_parked_item_reads_back_as_it_was_written() {
        let written = Parked {
            consumer: "projector".to_owned(),
            aggregate_id: AuctionId(uuid::Uuid::from_u128(7)),
            from_version: 3,
            to_version: 5,
            event_types: vec!["BidPlaced".to_owned(), "AuctionEnded".to_owned()],
            last_error: "RetryAttemptsExhausted after 4 invocations".to_owned(),
            attempts: 4,
            failed_replays: 1,
            parked_at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            origin: "stream shard-1 100..300".to_owned(),
        };

        let read = parked(&item(&written)).unwrap();

        assert_eq!(read, written);
        assert_eq!(
            item(&written)["parkedId"].as_s().unwrap(),
            "00000000-0000-0000-0000-000000000007#00000000000000000003-00000000000000000005"
        );
    }
}
