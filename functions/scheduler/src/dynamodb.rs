//! [`DueAuctions`] over the AuctionListView table's `byStatus` index (partition `status`, sort
//! `endsAt`, both strings; the projector writes the times as fixed-width UTC text, so text
//! order is time order and `endsAt <= :now` is a key condition, not a filter).

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use conventions::names;
use events::AuctionId;
use read_models::{AuctionStatus, TableSource, ViewTables};

use crate::{Action, Due, DueAuctions, PAGE_SIZE, SchedulerError};

/// The read model's status/end-time index.
#[derive(Debug, Clone)]
pub struct StatusIndex {
    client: Client,
    tables: Arc<TableSource>,
}

impl StatusIndex {
    /// On exactly this AuctionListView table.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table = table.into();
        Self {
            client,
            tables: Arc::new(TableSource::Fixed(ViewTables {
                auction_views: table,
                user_bids: String::new(),
            })),
        }
    }

    /// On whichever table the views' alias names, so that a rebuild's switch moves the
    /// scheduler too.
    pub fn aliased(client: Client, tables: TableSource) -> Self {
        Self {
            client,
            tables: Arc::new(tables),
        }
    }

    /// Every item of `status` whose `endsAt` is at or before `until` (for active auctions), or
    /// every item of `status` (scheduled ones are few, and their start time is not the sort
    /// key), each page of at most [`PAGE_SIZE`].
    async fn query(
        &self,
        status: AuctionStatus,
        until: Option<&str>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, SchedulerError> {
        let table = self
            .tables
            .tables()
            .await
            .map_err(|e| SchedulerError::Index(e.to_string()))?
            .auction_views;
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&table)
                .index_name(names::VIEWS_BY_STATUS_INDEX)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(
                    ":status",
                    AttributeValue::S(status.as_str().to_owned()),
                )
                .limit(PAGE_SIZE)
                .set_exclusive_start_key(start_key);
            request = match until {
                Some(until) => request
                    .key_condition_expression("#status = :status AND endsAt <= :until")
                    .expression_attribute_values(":until", AttributeValue::S(until.to_owned())),
                None => request.key_condition_expression("#status = :status"),
            };
            let page = request.send().await.map_err(|e| {
                SchedulerError::Index(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
            })?;
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

fn timestamp(item: &HashMap<String, AttributeValue>, name: &str) -> Option<DateTime<Utc>> {
    let text = item.get(name)?.as_s().ok()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn auction_id(item: &HashMap<String, AttributeValue>) -> Option<AuctionId> {
    item.get("auctionId")?
        .as_s()
        .ok()?
        .parse()
        .ok()
        .map(AuctionId)
}

impl DueAuctions for StatusIndex {
    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Due>, SchedulerError> {
        let until = now.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut due = Vec::new();
        for item in self.query(AuctionStatus::Active, Some(&until)).await? {
            match (auction_id(&item), timestamp(&item, "endsAt")) {
                (Some(auction_id), Some(at)) => due.push(Due {
                    auction_id,
                    action: Action::End,
                    at,
                }),
                _ => tracing::error!(item = ?item, "unreadable active item in the status index"),
            }
        }
        for item in self.query(AuctionStatus::Scheduled, None).await? {
            match (auction_id(&item), timestamp(&item, "startsAt")) {
                (Some(auction_id), Some(at)) if at <= now => due.push(Due {
                    auction_id,
                    action: Action::Start,
                    at,
                }),
                (Some(_), Some(_)) => {}
                _ => tracing::error!(item = ?item, "unreadable scheduled item in the status index"),
            }
        }
        Ok(due)
    }
}
