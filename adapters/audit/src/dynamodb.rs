//! The read an audit needs beyond the event store's ports: every stream in the Events table,
//! by aggregate type (a parallel Scan projecting only the key and the type). The events of one
//! type come through the store's own [`event_store::EventsOfType`]
//! ([`crate::export::events_of_type`]).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::Client;
use conventions::Failure;
use event_store::StoreError;
use events::{AuctionEvent, AuctionId, EventCodec, ItemEvent, ItemId, SubjectEvent, SubjectId};
use futures_util::future::try_join_all;
use uuid::Uuid;

use crate::error::AuditError;

pub use event_store::BY_EVENT_TYPE;

/// Every stream of the Events table, by the aggregate type its events name, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Streams {
    /// The auctions' streams (`aggregateType` `Auction`, or none at all).
    pub auctions: Vec<AuctionId>,
    /// The Items' ownership ledger's streams (`Item`).
    pub items: Vec<ItemId>,
    /// The subjects' streams (`Subject`: a forgotten subject's tombstone).
    pub subjects: Vec<SubjectId>,
    /// Streams of aggregate types this build does not know (written by a newer one), by type.
    pub others: BTreeMap<String, Vec<Uuid>>,
}

impl Streams {
    fn from_pairs(pairs: BTreeSet<(String, Uuid)>) -> Self {
        let mut streams = Self::default();
        for (aggregate_type, id) in pairs {
            match aggregate_type.as_str() {
                <AuctionEvent as EventCodec>::AGGREGATE_TYPE => {
                    streams.auctions.push(AuctionId(id));
                }
                <ItemEvent as EventCodec>::AGGREGATE_TYPE => streams.items.push(ItemId(id)),
                <SubjectEvent as EventCodec>::AGGREGATE_TYPE => {
                    streams.subjects.push(SubjectId(id));
                }
                _ => streams.others.entry(aggregate_type).or_default().push(id),
            }
        }
        streams.auctions.dedup();
        streams.items.dedup();
        streams.subjects.dedup();
        streams
    }
}

/// Every distinct auction id in `table`, sorted: [`streams`]' auctions.
pub async fn aggregate_ids(
    client: &Client,
    table: &str,
    segments: i32,
) -> Result<Vec<AuctionId>, AuditError> {
    Ok(streams(client, table, segments).await?.auctions)
}

/// Every distinct stream in `table` by its aggregate type, read by `segments` Scan segments in
/// parallel (at least one). Only `aggregateId` and `aggregateType` are projected, so a page
/// carries many ids. An id whose events name two types (an edited item) is in both lists, so
/// that each check sees it. An item without a type is counted as an auction's, as every event
/// was before the Items' ledger (its check will say the item is unreadable).
pub async fn streams(client: &Client, table: &str, segments: i32) -> Result<Streams, AuditError> {
    let segments = segments.max(1);
    let scans = (0..segments).map(|segment| scan_segment(client, table, segment, segments));
    let mut pairs = BTreeSet::new();
    for segment in try_join_all(scans).await? {
        pairs.extend(segment);
    }
    Ok(Streams::from_pairs(pairs))
}

async fn scan_segment(
    client: &Client,
    table: &str,
    segment: i32,
    segments: i32,
) -> Result<BTreeSet<(String, Uuid)>, AuditError> {
    let mut pairs = BTreeSet::new();
    let mut start_key = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .projection_expression("#id, #type")
            .expression_attribute_names("#id", "aggregateId")
            .expression_attribute_names("#type", "aggregateType")
            .segment(segment)
            .total_segments(segments)
            .set_exclusive_start_key(start_key.take())
            .send()
            .await
            .map_err(|e| store_failure(&e))?;
        for item in page.items() {
            let text = item.get("aggregateId").and_then(|v| v.as_s().ok());
            let aggregate_type = item
                .get("aggregateType")
                .and_then(|v| v.as_s().ok())
                .map_or(<AuctionEvent as EventCodec>::AGGREGATE_TYPE, String::as_str);
            match text.and_then(|t| Uuid::parse_str(t).ok()) {
                Some(id) => {
                    pairs.insert((aggregate_type.to_owned(), id));
                }
                // An item whose key is not a UUID was not written by the store.
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
            _ => return Ok(pairs),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_sorted_by_the_type_their_events_name() {
        let id = |n| Uuid::from_u128(n);
        let pairs = BTreeSet::from([
            ("Auction".to_owned(), id(2)),
            ("Item".to_owned(), id(3)),
            ("Auction".to_owned(), id(1)),
            ("Invoice".to_owned(), id(4)),
            // An item stream with one event edited to claim another type is checked as both.
            ("Auction".to_owned(), id(3)),
        ]);

        let streams = Streams::from_pairs(pairs);

        assert_eq!(
            streams.auctions,
            [AuctionId(id(1)), AuctionId(id(2)), AuctionId(id(3))]
        );
        assert_eq!(streams.items, [ItemId(id(3))]);
        assert_eq!(
            streams.others,
            BTreeMap::from([("Invoice".to_owned(), vec![id(4)])])
        );
    }
}
