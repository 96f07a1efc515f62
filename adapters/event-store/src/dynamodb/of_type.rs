//! The audit index (`byTypeShard`): the events of one type within a time range, a page at a
//! time, gathered from the type's [`AUDIT_SHARDS`] partitions and merged into time order.
//!
//! Each partition (`typeShard`, e.g. `BidPlaced#7`) is sorted by `typeOrder`, the event's time,
//! aggregate id and version as fixed-width text: one total order, the same in every partition.
//! A page queries every partition for up to `limit` entries after the position (concurrently),
//! and returns the merged entries up to the first partition that was cut short: nothing after
//! that point can be returned before the partition's next entries are seen, so the page is
//! exactly the next `limit` events of the whole type (or fewer, then `next` says go on).

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::future::try_join_all;
use futures_util::{StreamExt, TryStreamExt};
use uuid::Uuid;

use super::DynamoDbStore;
use super::errors::unavailable_or_refused;
use super::item::{
    attr, audit_partition, event_from_image, get_number, get_string, number, timestamp, type_order,
    type_shard,
};
use crate::error::StoreError;
use crate::log::{AUDIT_SHARDS, BY_EVENT_TYPE, EventsOfType, TypePage, TypePosition, TypeQuery};
use crate::stored::StoredEvent;

impl EventsOfType for DynamoDbStore {
    async fn events_of_type(&self, query: &TypeQuery) -> Result<TypePage, StoreError> {
        let Some((from, to)) = query.checked_bounds()? else {
            return Ok(TypePage::default());
        };
        // Any suffix sorts a fixed-width key after every key it is a prefix of, and before
        // every longer key that is greater at some position: `after~` is the first key after
        // `after`, `to#~` the last key of the millisecond `to`.
        let low = match &query.after {
            Some(after) => format!("{}~", order_of(after)),
            None => timestamp(&from),
        };
        let high = format!("{}#~", timestamp(&to));
        if low > high {
            return Ok(TypePage::default());
        }
        let limit = query.page_size();
        let shards = try_join_all((0..AUDIT_SHARDS).map(|shard| {
            self.shard_page(
                audit_partition(&query.event_type, shard),
                &low,
                &high,
                limit,
            )
        }))
        .await?;
        let (entries, more) = merge(shards, limit);
        let events: Vec<StoredEvent> = entries.into_iter().map(|(_, event)| event).collect();
        // Like one Query: a full (or cut-short) page says there may be more, without looking.
        let next = more.then(|| events.last().map(TypePosition::of)).flatten();
        Ok(TypePage { events, next })
    }
}

/// The partitions' entries merged into one order: at most `limit`, and none after the last
/// entry of a partition that had more (DynamoDB cuts a page at 1 MB, so a partition can stop
/// short of `limit` with entries to come that sort before other partitions' later ones).
/// Whether there may be more after them.
fn merge(shards: Vec<ShardPage>, limit: usize) -> (Vec<(String, StoredEvent)>, bool) {
    let bound = shards
        .iter()
        .filter(|shard| shard.cut_short)
        .filter_map(|shard| shard.entries.last().map(|(key, _)| key.clone()))
        .min();
    let mut entries: Vec<(String, StoredEvent)> = shards
        .into_iter()
        .flat_map(|shard| shard.entries)
        .filter(|(key, _)| bound.as_ref().is_none_or(|bound| key <= bound))
        .collect();
    entries.sort_by(|(a, _), (b, _)| a.cmp(b));
    let more = bound.is_some() || entries.len() >= limit;
    entries.truncate(limit);
    (entries, more)
}

/// One partition's entries in `low..=high`, with their `typeOrder`, and whether it had more.
struct ShardPage {
    entries: Vec<(String, StoredEvent)>,
    cut_short: bool,
}

impl DynamoDbStore {
    async fn shard_page(
        &self,
        partition: String,
        low: &str,
        high: &str,
        limit: usize,
    ) -> Result<ShardPage, StoreError> {
        let mut start_key = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.events)
                .index_name(BY_EVENT_TYPE)
                .key_condition_expression("#shard = :shard AND #order BETWEEN :low AND :high")
                .expression_attribute_names("#shard", attr::TYPE_SHARD)
                .expression_attribute_names("#order", attr::TYPE_ORDER)
                .expression_attribute_values(":shard", AttributeValue::S(partition.clone()))
                .expression_attribute_values(":low", AttributeValue::S(low.to_owned()))
                .expression_attribute_values(":high", AttributeValue::S(high.to_owned()))
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| unavailable_or_refused(&e))?;
            let cut_short = page.last_evaluated_key().is_some_and(|key| !key.is_empty());
            let entries = page
                .items()
                .iter()
                .map(|item| {
                    let event = event_from_image(item)?;
                    let key = order_of(&TypePosition::of(&event));
                    Ok((key, event))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // A page cut short with nothing in it (DynamoDB's 1 MB limit) says nothing about
            // where the partition stands: read on until it does.
            if entries.is_empty() && cut_short {
                start_key = page.last_evaluated_key;
                continue;
            }
            return Ok(ShardPage { entries, cut_short });
        }
    }
}

/// What [`DynamoDbStore::backfill_audit_keys`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Backfill {
    /// Events read that had no audit keys.
    pub missing: u64,
    /// Of those, events this run gave their keys (the rest another run did meanwhile).
    pub updated: u64,
}

impl DynamoDbStore {
    /// Gives every event written before the audit index was sharded (no `typeShard`) its
    /// `typeShard` and `typeOrder`, so that the index lists it. Each is an UpdateItem of those two
    /// attributes alone, conditional on the event existing without them: the event, its payload
    /// and its chain hash are untouched (the chain covers the envelope, not index keys), and a
    /// second run, or two at once, change nothing more. Reads the whole table once (a Scan
    /// filtered to the events without keys).
    pub async fn backfill_audit_keys(&self) -> Result<Backfill, StoreError> {
        let mut done = Backfill::default();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.tables.events)
                .filter_expression("attribute_not_exists(#shard)")
                .projection_expression("#id, #version, #type, #at")
                .expression_attribute_names("#shard", attr::TYPE_SHARD)
                .expression_attribute_names("#id", attr::AGGREGATE_ID)
                .expression_attribute_names("#version", attr::VERSION)
                .expression_attribute_names("#type", attr::EVENT_TYPE)
                .expression_attribute_names("#at", attr::OCCURRED_AT)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| unavailable_or_refused(&e))?;
            // Sixteen updates in flight: a page is up to 1 MB of keys.
            let updated: Vec<bool> = futures_util::stream::iter(
                page.items().iter().map(|item| self.give_audit_keys(item)),
            )
            .buffer_unordered(16)
            .try_collect()
            .await?;
            done.missing += updated.len() as u64;
            done.updated += updated.iter().filter(|updated| **updated).count() as u64;
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(done),
            }
        }
    }

    /// Sets one event's audit keys; false when it had them already.
    async fn give_audit_keys(
        &self,
        item: &std::collections::HashMap<String, AttributeValue>,
    ) -> Result<bool, StoreError> {
        let aggregate_id =
            get_string(item, attr::AGGREGATE_ID).and_then(|id| Uuid::parse_str(id).ok());
        let version = get_number(item, attr::VERSION);
        let corrupt = |reason: &str| StoreError::Corrupt {
            aggregate_id: aggregate_id.unwrap_or(Uuid::nil()),
            version: version.unwrap_or(0),
            reason: reason.to_owned(),
        };
        let (Some(aggregate_id), Some(version)) = (aggregate_id, version) else {
            return Err(corrupt("an event without aggregateId or version"));
        };
        let event_type =
            get_string(item, attr::EVENT_TYPE).ok_or_else(|| corrupt("eventType is missing"))?;
        let occurred_at = get_string(item, attr::OCCURRED_AT)
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
            .ok_or_else(|| corrupt("occurredAt is missing or not RFC 3339"))?
            .with_timezone(&chrono::Utc);
        let outcome = self
            .client
            .update_item()
            .table_name(&self.tables.events)
            .key(
                attr::AGGREGATE_ID,
                AttributeValue::S(aggregate_id.to_string()),
            )
            .key(attr::VERSION, number(version))
            .update_expression("SET #shard = :shard, #order = :order")
            .condition_expression("attribute_exists(#id) AND attribute_not_exists(#shard)")
            .expression_attribute_names("#id", attr::AGGREGATE_ID)
            .expression_attribute_names("#shard", attr::TYPE_SHARD)
            .expression_attribute_names("#order", attr::TYPE_ORDER)
            .expression_attribute_values(
                ":shard",
                AttributeValue::S(type_shard(event_type, aggregate_id)),
            )
            .expression_attribute_values(
                ":order",
                AttributeValue::S(type_order(&occurred_at, aggregate_id, version)),
            )
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(unavailable_or_refused(&error)),
        }
    }
}

/// The `typeOrder` of a position.
fn order_of(position: &TypePosition) -> String {
    type_order(
        &position.occurred_at,
        position.aggregate_id,
        position.version,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::dynamodb::item::tests::events;

    #[test]
    fn a_positions_sort_key_is_its_time_aggregate_and_version() {
        let position = TypePosition::of(&events(3..=3)[0]);
        let order = order_of(&position);
        assert_eq!(
            order,
            format!(
                "2026-01-01T00:00:00.000Z#{}#00000000000000000003",
                position.aggregate_id
            )
        );
    }

    fn page(keys: &[&str], cut_short: bool) -> ShardPage {
        let event = events(1..=1).remove(0);
        ShardPage {
            entries: keys
                .iter()
                .map(|k| ((*k).to_owned(), event.clone()))
                .collect(),
            cut_short,
        }
    }

    fn keys(entries: &[(String, StoredEvent)]) -> Vec<&str> {
        entries.iter().map(|(key, _)| key.as_str()).collect()
    }

    #[test]
    fn a_merge_stops_at_a_partition_cut_short_before_its_limit() {
        // One partition stopped at 1 MB after b; the other went on to f.
        let shards = vec![page(&["a", "b"], true), page(&["c", "d", "e", "f"], false)];
        let (entries, more) = merge(shards, 10);
        assert_eq!(keys(&entries), ["a", "b"]);
        assert!(more);
    }

    #[test]
    fn a_merge_of_full_partitions_takes_the_first_limit_in_order() {
        let shards = vec![page(&["b", "e", "f"], true), page(&["a", "c", "d"], true)];
        let (entries, more) = merge(shards, 3);
        assert_eq!(keys(&entries), ["a", "b", "c"]);
        assert!(more);
        let (entries, more) = merge(vec![page(&["b"], false), page(&["a"], false)], 3);
        assert_eq!(keys(&entries), ["a", "b"]);
        assert!(!more);
    }

    #[test]
    fn sort_keys_order_as_time_then_aggregate_then_version() {
        let at = |ms: i64| chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms).unwrap();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let keys = [
            type_order(&at(1_000), b, 9),
            type_order(&at(1_000), a, 10),
            type_order(&at(999), b, 100),
            type_order(&at(1_000), a, 9),
        ];
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                keys[2].clone(),
                keys[3].clone(),
                keys[1].clone(),
                keys[0].clone()
            ]
        );
        // The bounds a page uses: strictly after a key, up to the end of a millisecond.
        assert!(format!("{}~", keys[3]) > keys[3] && format!("{}~", keys[3]) < keys[1]);
        assert!(format!("{}#~", timestamp(&at(1_000))) > keys[0]);
        assert!(timestamp(&at(1_000)) < keys[3]);
    }

    #[test]
    fn an_aggregates_events_of_a_type_share_a_partition_and_types_spread_over_sixteen() {
        let ids: Vec<Uuid> = (0..64u128).map(Uuid::from_u128).collect();
        let partitions: std::collections::BTreeSet<String> =
            ids.iter().map(|id| type_shard("BidPlaced", *id)).collect();
        assert_eq!(partitions.len(), 16);
        assert_eq!(type_shard("BidPlaced", ids[7]), "BidPlaced#7");
        assert_eq!(type_shard("BidPlaced", ids[31]), "BidPlaced#f");
    }
}
