//! The read an audit needs beyond the event store's ports: every aggregate id in the Events
//! table (a parallel Scan projecting only the key). The events of one type come through the
//! store's own [`event_store::EventsOfType`] ([`crate::export::events_of_type`]).

use std::collections::BTreeSet;

use aws_sdk_dynamodb::Client;
use conventions::Failure;
use event_store::StoreError;
use events::AuctionId;
use futures_util::future::try_join_all;
use uuid::Uuid;

use crate::error::AuditError;

pub use event_store::BY_EVENT_TYPE;

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
                        aggregate_id: Uuid::nil(),
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

pub(crate) fn store_failure<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> AuditError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    AuditError::Store(StoreError::from(Failure::of(error)))
}
