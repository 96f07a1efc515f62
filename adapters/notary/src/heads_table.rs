//! The StreamHeads table: one item per stream (key `aggregateId`), moved forward by the
//! projector, read whole by the digester; and one item under [`LAST_DIGEST`] holding the
//! sequence of the last digest written.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::future::try_join_all;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::error::NotaryError;
use crate::leaf::StreamHead;
use crate::ports::{AdvanceHeads, Heads};

/// The key of the item that holds the last digest's sequence: not a UUID, so never a stream's.
pub const LAST_DIGEST: &str = "last-digest";
/// Segments of the digester's parallel Scan.
const SEGMENTS: i32 = 4;
/// Heads written at once by the projector.
const CONCURRENT_WRITES: usize = 16;

mod attr {
    pub const ID: &str = "aggregateId";
    pub const TYPE: &str = "aggregateType";
    pub const VERSION: &str = "version";
    pub const HEAD: &str = "head";
    pub const SEQUENCE: &str = "sequence";
}

#[derive(Debug, Clone)]
pub struct HeadsTable {
    client: Client,
    table: String,
}

impl HeadsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn scan_segment(&self, segment: i32) -> Result<Vec<StreamHead>, NotaryError> {
        let mut heads = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .segment(segment)
                .total_segments(SEGMENTS)
                // Eventually consistent, at half the read units: a head a moment old is still
                // a head of the log, and the next digest takes the newer one.
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| NotaryError::unavailable("DynamoDB", DisplayErrorContext(&e)))?;
            for item in page.items() {
                if let Some(head) = head_of(item) {
                    heads.push(head);
                } else if item
                    .get(attr::ID)
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    != Some(LAST_DIGEST)
                {
                    tracing::warn!(?item, "a StreamHeads item that is not a head: skipped");
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(heads),
            }
        }
    }
}

fn head_of(item: &HashMap<String, AttributeValue>) -> Option<StreamHead> {
    let text = |name| item.get(name).and_then(|v| v.as_s().ok());
    Some(StreamHead {
        aggregate_id: text(attr::ID)?.parse().ok()?,
        aggregate_type: text(attr::TYPE)?.clone(),
        version: item.get(attr::VERSION)?.as_n().ok()?.parse().ok()?,
        head: text(attr::HEAD)?.clone(),
    })
}

impl Heads for HeadsTable {
    async fn all(&self) -> Result<Vec<StreamHead>, NotaryError> {
        let segments = try_join_all((0..SEGMENTS).map(|s| self.scan_segment(s))).await?;
        Ok(segments.into_iter().flatten().collect())
    }

    async fn last_digest(&self) -> Result<Option<u64>, NotaryError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::ID, AttributeValue::S(LAST_DIGEST.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| NotaryError::unavailable("DynamoDB", DisplayErrorContext(&e)))?
            .item;
        Ok(item
            .as_ref()
            .and_then(|item| item.get(attr::SEQUENCE))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok()))
    }

    async fn digest_written(&self, sequence: u64) -> Result<(), NotaryError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ID, AttributeValue::S(LAST_DIGEST.to_owned()))
            .update_expression("SET #s = :s")
            .condition_expression("attribute_not_exists(#s) OR #s < :s")
            .expression_attribute_names("#s", attr::SEQUENCE)
            .expression_attribute_values(":s", AttributeValue::N(sequence.to_string()))
            .send()
            .await;
        // Refused: already at this point or further (another run's hint, a newer head).
        already_further(sent)
    }
}

impl AdvanceHeads for HeadsTable {
    async fn advance(&self, heads: &[StreamHead]) -> Result<(), NotaryError> {
        // Owned heads: a closure over borrowed ones is not general enough for a Send future.
        stream::iter(heads.to_vec())
            .map(|head| async move { self.advance_one(&head).await })
            .buffer_unordered(CONCURRENT_WRITES)
            .try_collect::<Vec<()>>()
            .await
            .map(drop)
    }
}

impl HeadsTable {
    async fn advance_one(&self, head: &StreamHead) -> Result<(), NotaryError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ID, AttributeValue::S(head.aggregate_id.to_string()))
            .update_expression("SET #t = :t, #v = :v, #h = :h")
            .condition_expression("attribute_not_exists(#v) OR #v < :v")
            .expression_attribute_names("#t", attr::TYPE)
            .expression_attribute_names("#v", attr::VERSION)
            .expression_attribute_names("#h", attr::HEAD)
            .expression_attribute_values(":t", AttributeValue::S(head.aggregate_type.clone()))
            .expression_attribute_values(":v", AttributeValue::N(head.version.to_string()))
            .expression_attribute_values(":h", AttributeValue::S(head.head.clone()))
            .send()
            .await;
        // Refused: already at this point or further (another run's hint, a newer head).
        already_further(sent)
    }
}

/// A conditional update that moves something only forward: refused is done, not failed.
fn already_further<T>(
    sent: Result<T, SdkError<UpdateItemError, HttpResponse>>,
) -> Result<(), NotaryError> {
    match sent {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
        {
            Ok(())
        }
        Err(e) => Err(NotaryError::unavailable(
            "DynamoDB",
            DisplayErrorContext(&e),
        )),
    }
}
