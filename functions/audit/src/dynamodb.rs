//! The two reads an audit needs beyond the [`event_store::EventLog`] port: every aggregate id
//! in the Events table (a parallel Scan projecting only the key), and the events of one type
//! within a time range (a Query of the `byEventType` index).

use std::collections::BTreeSet;

use auction_events::AuctionId;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use conventions::Failure;
use event_store::{StoreError, StoredEvent, event_from_image};
use futures_util::future::try_join_all;
use uuid::Uuid;

use crate::error::AuditError;

/// The index over (`eventType`, `occurredAt`) that the Events table keeps for audits.
pub const BY_EVENT_TYPE: &str = "byEventType";

/// Every distinct aggregate id in `table`, sorted, read by `segments` Scan segments in
/// parallel (at least one). Only `aggregateId` is projected, so a page carries many ids.
pub async fn aggregate_ids(
    client: &Client,
    table: &str,
    segments: i32,
) -> Result<Vec<AuctionId>, AuditError> {
    let segments = segments.max(1);
    let scans = (0..segments).map(|segment| scan_segment(client, table, segment, segments));
    let mut ids = BTreeSet::new();
    for segment in try_join_all(scans).await? {
        ids.extend(segment);
    }
    Ok(ids.into_iter().collect())
}

async fn scan_segment(
    client: &Client,
    table: &str,
    segment: i32,
    segments: i32,
) -> Result<BTreeSet<AuctionId>, AuditError> {
    let mut ids = BTreeSet::new();
    let mut start_key = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .projection_expression("#id")
            .expression_attribute_names("#id", "aggregateId")
            .segment(segment)
            .total_segments(segments)
            .set_exclusive_start_key(start_key.take())
            .send()
            .await
            .map_err(|e| store_failure(&e))?;
        for item in page.items() {
            let text = item.get("aggregateId").and_then(|v| v.as_s().ok());
            match text.and_then(|t| Uuid::parse_str(t).ok()) {
                Some(id) => {
                    ids.insert(AuctionId(id));
                }
                // An item whose key is not an auction id was not written by the store.
                None => {
                    return Err(StoreError::Corrupt {
                        aggregate_id: AuctionId(Uuid::nil()),
                        version: 0,
                        reason: format!("an item's aggregateId is not a UUID: {text:?}"),
                    }
                    .into());
                }
            }
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start_key = Some(key.clone()),
            _ => return Ok(ids),
        }
    }
}

/// Every event of `event_type` that occurred in `from..=to`, in time order, handing each page
/// to `page` as it arrives so that a large export never sits in memory whole.
pub async fn events_of_type(
    client: &Client,
    table: &str,
    event_type: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    mut page: impl FnMut(Vec<StoredEvent>) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    if from > to {
        return Err(AuditError::EmptyRange {
            from: from.to_rfc3339(),
            to: to.to_rfc3339(),
        });
    }
    let mut start_key = None;
    loop {
        let response = client
            .query()
            .table_name(table)
            .index_name(BY_EVENT_TYPE)
            .key_condition_expression("#type = :type AND #at BETWEEN :from AND :to")
            .expression_attribute_names("#type", "eventType")
            .expression_attribute_names("#at", "occurredAt")
            .expression_attribute_values(":type", AttributeValue::S(event_type.to_owned()))
            .expression_attribute_values(":from", AttributeValue::S(index_time(&from)))
            .expression_attribute_values(":to", AttributeValue::S(index_time(&to)))
            .set_exclusive_start_key(start_key.take())
            .send()
            .await
            .map_err(|e| store_failure(&e))?;
        let events = response
            .items()
            .iter()
            .map(event_from_image)
            .collect::<Result<Vec<_>, _>>()?;
        page(events)?;
        match response.last_evaluated_key() {
            Some(key) if !key.is_empty() => start_key = Some(key.clone()),
            _ => return Ok(()),
        }
    }
}

/// The index sorts `occurredAt` as text, so the bounds must be written exactly as the store
/// writes it: RFC 3339 in UTC at millisecond precision. A bound finer than a millisecond is cut
/// to the millisecond it falls in.
fn index_time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn store_failure<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> AuditError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    AuditError::Store(match Failure::of(error) {
        Failure::Throttled(reason) => StoreError::Contention(reason),
        Failure::Unavailable(reason) => StoreError::Unavailable(reason),
        Failure::Refused(reason) => StoreError::Refused(reason),
    })
}
