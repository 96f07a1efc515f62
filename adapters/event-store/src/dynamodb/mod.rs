//! The event store on DynamoDB.
//!
//! Events table: one item per event, partition key `aggregateId` (S), sort key `version` (N).
//! A command's events go in with one conditional PutItem when there is one event (1 write
//! request, 1 WCU under 1 KB) or one TransactWriteItems when there are several (all or none;
//! transactions cost 2 WCU per item). Every Put is conditional on `attribute_not_exists(version)`,
//! a condition on the item's own key, so two writers of a version cannot both succeed; versions
//! are assigned by the store as the loaded version + 1, 2, ..., and loads are strongly
//! consistent, so no writer can skip one. On a failed condition DynamoDB returns the item that
//! holds the version (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), which is how a writer
//! recognises its own earlier attempt.
//!
//! One module per seam: [`item`] (the event item codec), [`log`] (reads and the conditional
//! append), [`snapshots`], [`idempotency`], [`of_type`] (the audit index), [`errors`] (what a
//! failed call means) and [`size`] (DynamoDB's item size arithmetic, which the in-memory twin
//! applies too).

mod errors;
mod idempotency;
mod item;
mod log;
mod of_type;
mod size;
mod snapshots;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
use uuid::Uuid;

pub use item::{event_from_image, item_from_event};
pub use of_type::Backfill;
pub(crate) use size::check_size;
pub use size::{MAX_ITEM_BYTES, item_size};

use errors::unavailable_or_refused;
use item::{attr, event_from_item};

use crate::error::StoreError;
use crate::log::EventLog;
use crate::meter::{Meter, Purpose, Usage};
use crate::stored::StoredEvent;

/// DynamoDB's limit on the items of one TransactWriteItems.
pub const MAX_TRANSACT_ITEMS: usize = 100;

/// The tables the store uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub events: String,
    pub snapshots: String,
    pub idempotency: String,
}

impl TableNames {
    /// Names from `EVENTS_TABLE`, `SNAPSHOTS_TABLE` and `IDEMPOTENCY_TABLE`, each defaulting to
    /// the name the local stack and the CDK app use when unset or blank.
    pub fn from_env() -> Self {
        Self {
            events: conventions::names::EVENTS_TABLE.from_env(),
            snapshots: conventions::names::SNAPSHOTS_TABLE.from_env(),
            idempotency: conventions::names::IDEMPOTENCY_TABLE.from_env(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    tables: TableNames,
}

impl DynamoDbStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        Self { client, tables }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Every event of an aggregate, for audits and the verifier.
    pub async fn read_all(
        &self,
        aggregate_id: impl Into<Uuid> + Send,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let aggregate_id: Uuid = aggregate_id.into();
        self.read_after(aggregate_id, 0, meter).await
    }

    async fn query(
        &self,
        aggregate_id: Uuid,
        condition: &str,
        values: &[(&str, AttributeValue)],
        purpose: Purpose,
        meter: &Meter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut events = Vec::new();
        let mut start_key = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.tables.events)
                .key_condition_expression(condition)
                .expression_attribute_names("#id", attr::AGGREGATE_ID)
                .expression_attribute_values(":id", AttributeValue::S(aggregate_id.to_string()))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start_key.take());
            if condition.contains("#v") {
                request = request.expression_attribute_names("#v", attr::VERSION);
            }
            for (name, value) in values {
                request = request.expression_attribute_values(*name, value.clone());
            }
            let page = request
                .send()
                .await
                .map_err(|e| unavailable_or_refused(&e))?;
            meter.record(purpose, read_usage(page.consumed_capacity()));
            for item in page.items() {
                events.push(event_from_item(aggregate_id, item)?);
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start_key = Some(key.clone()),
                _ => return Ok(events),
            }
        }
    }
}

pub(crate) fn read_usage(consumed: Option<&ConsumedCapacity>) -> Usage {
    Usage {
        read_requests: 1,
        read_units: consumed.and_then(|c| c.capacity_units()).unwrap_or(0.0),
        ..Usage::default()
    }
}

pub(crate) fn write_usage(consumed: Option<&ConsumedCapacity>) -> Usage {
    let table = consumed
        .and_then(|c| {
            c.table()
                .and_then(|t| t.capacity_units())
                .or(c.capacity_units())
        })
        .unwrap_or(0.0);
    let indexes = consumed
        .and_then(|c| c.global_secondary_indexes())
        .map(|indexes| indexes.values().filter_map(|i| i.capacity_units()).sum())
        .unwrap_or(0.0);
    Usage {
        write_requests: 1,
        write_units: table,
        index_write_units: indexes,
        ..Usage::default()
    }
}
