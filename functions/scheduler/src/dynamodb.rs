//! [`DueAuctions`] over two indexes of the AuctionListView table: `byStatus` (partition
//! `status`, sort `endsAt`) for the active auctions whose end has come, `byStart` (partition
//! `status`, sort `startsAt`, keys only) for the scheduled ones whose start has come. The
//! projector writes the times as fixed-width UTC text, so text order is time order and each
//! `<= :now` is a key condition, not a filter: a sweep reads the auctions due, whatever the
//! number scheduled.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use chrono::{DateTime, SecondsFormat, Utc};
use conventions::names;
use events::AuctionId;
use read_models::{AuctionStatus, TableSource, ViewTables};

use crate::{Action, Due, DueAuctions, PAGE_SIZE, SchedulerError};

/// The read model's indexes by status and end time, and by status and start time.
#[derive(Debug, Clone)]
pub struct StatusIndex {
    client: Client,
    tables: Arc<TableSource>,
    read_units: ReadUnits,
}

/// The read units the sweeps' queries consumed, as DynamoDB reports them (shared by clones).
#[derive(Debug, Clone, Default)]
pub struct ReadUnits(Arc<AtomicU64>);

impl ReadUnits {
    fn add(&self, units: f64) {
        // Millionths of a unit: an eventually consistent read of a small item is 0.5.
        self.0
            .fetch_add((units * 1e6).round() as u64, Ordering::Relaxed);
    }

    /// Every unit consumed so far.
    pub fn total(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1e6
    }
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
            read_units: ReadUnits::default(),
        }
    }

    /// The read units this index's queries have consumed (what a sweep costs).
    pub fn read_units(&self) -> ReadUnits {
        self.read_units.clone()
    }

    /// On whichever table the views' alias names, so that a rebuild's switch moves the
    /// scheduler too.
    pub fn aliased(client: Client, tables: TableSource) -> Self {
        Self {
            client,
            tables: Arc::new(tables),
            read_units: ReadUnits::default(),
        }
    }

    /// Every item of `status` in `index` whose sort key `time` is at or before `until` (and at
    /// or after `from`, when given), each page of at most [`PAGE_SIZE`].
    async fn query(
        &self,
        index: &str,
        status: AuctionStatus,
        time: &str,
        from: Option<&str>,
        until: &str,
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
            let condition = match from {
                Some(_) => "#status = :status AND #time BETWEEN :from AND :until",
                None => "#status = :status AND #time <= :until",
            };
            let request = self
                .client
                .query()
                .table_name(&table)
                .index_name(index)
                .key_condition_expression(condition)
                .set_expression_attribute_values(from.map(|from| {
                    HashMap::from([(":from".to_owned(), AttributeValue::S(from.to_owned()))])
                }))
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#time", time)
                .expression_attribute_values(
                    ":status",
                    AttributeValue::S(status.as_str().to_owned()),
                )
                .expression_attribute_values(":until", AttributeValue::S(until.to_owned()))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .limit(PAGE_SIZE)
                .set_exclusive_start_key(start_key);
            let page = request.send().await.map_err(|e| {
                SchedulerError::Index(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
            })?;
            if let Some(units) = page.consumed_capacity().and_then(|c| c.capacity_units()) {
                self.read_units.add(units);
            }
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
        let ends = self
            .query(
                names::VIEWS_BY_STATUS_INDEX,
                AuctionStatus::Active,
                "endsAt",
                None,
                &until,
            )
            .await?;
        for item in ends {
            match (auction_id(&item), timestamp(&item, "endsAt")) {
                (Some(auction_id), Some(at)) => due.push(Due {
                    auction_id,
                    action: Action::End,
                    at,
                }),
                _ => tracing::error!(item = ?item, "unreadable active item in the status index"),
            }
        }
        let starts = self
            .query(
                names::VIEWS_BY_START_INDEX,
                AuctionStatus::Scheduled,
                "startsAt",
                None,
                &until,
            )
            .await?;
        for item in starts {
            match (auction_id(&item), timestamp(&item, "startsAt")) {
                (Some(auction_id), Some(at)) => due.push(Due {
                    auction_id,
                    action: Action::Start,
                    at,
                }),
                _ => tracing::error!(item = ?item, "unreadable scheduled item in the start index"),
            }
        }
        Ok(due)
    }
}

impl crate::reminders::EndingAuctions for StatusIndex {
    async fn ending_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<AuctionId>, SchedulerError> {
        let text = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let items = self
            .query(
                names::VIEWS_BY_STATUS_INDEX,
                AuctionStatus::Active,
                "endsAt",
                Some(&text(from)),
                &text(until),
            )
            .await?;
        Ok(items.iter().filter_map(auction_id).collect())
    }
}
