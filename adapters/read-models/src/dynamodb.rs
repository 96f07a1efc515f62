//! The views in DynamoDB.
//!
//! - `AuctionListView` (key `auctionId`): one item per auction, the [`AuctionView`]'s fields as
//!   attributes plus `hidden`, the projection's private part as JSON text (reserve amount and
//!   each bidder's standing), which no read path returns. GSI `byStatus` (`status`, `endsAt`);
//!   GSI `bySeller` (`sellerId`, `endsAt`, keys only: a bid rewrites the view but changes
//!   neither key, so it costs the index nothing).
//! - `UserBids` (key `userId`, `auctionId`): one item per bidder and auction.
//!
//! Every write is a PutItem conditional on `attribute_not_exists(<key>) OR version < :v`: a
//! duplicate or an older write changes nothing and is reported as already applied.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use conventions::{Failure, names};
use events::{AuctionId, UserId};

use crate::aliases::{TableSource, ViewAliases};
use crate::error::ProjectorError;
use crate::ports::{
    Cursor, Page, PageRequest, Projections, ReadModels, Written, seller_key, status_key,
    user_bid_key,
};
use crate::tables::ViewTables;
use crate::views::{AuctionProjection, AuctionStatus, AuctionView, Hidden, UserBid};

type Item = HashMap<String, AttributeValue>;

const HIDDEN: &str = "hidden";

#[derive(Debug, Clone)]
pub struct DynamoDbViews {
    client: Client,
    tables: Arc<TableSource>,
}

impl DynamoDbViews {
    /// On exactly these tables.
    pub fn new(client: Client, tables: ViewTables) -> Self {
        Self {
            client,
            tables: Arc::new(TableSource::Fixed(tables)),
        }
    }

    /// On the tables the alias names (re-read every [`crate::ALIAS_TTL`]), or `fallback` when
    /// no alias was ever stored: what the deployed projector and API use, so that a rebuild can
    /// switch them to fresh tables while they run.
    pub fn aliased(client: Client, aliases: ViewAliases, fallback: ViewTables) -> Self {
        Self {
            client,
            tables: Arc::new(TableSource::aliased(aliases, fallback)),
        }
    }

    /// The tables this adapter reads and writes now.
    pub async fn tables(&self) -> Result<ViewTables, ProjectorError> {
        self.tables.tables().await
    }

    async fn conditional_put(
        &self,
        table: &str,
        key_attribute: &str,
        item: Item,
        version: u64,
    ) -> Result<Written, ProjectorError> {
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#key) OR #version < :version")
            .expression_attribute_names("#key", key_attribute)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::Stored),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(Written::AlreadyApplied)
            }
            Err(error) => Err(Failure::of(&error).into()),
        }
    }
}

impl Projections for DynamoDbViews {
    async fn load(
        &self,
        auction_id: AuctionId,
    ) -> Result<Option<AuctionProjection>, ProjectorError> {
        let Some(mut item) = self.get_auction_item(auction_id).await? else {
            return Ok(None);
        };
        let hidden = match item.remove(HIDDEN) {
            Some(AttributeValue::S(json)) => serde_json::from_str::<Hidden>(&json)
                .map_err(|e| corrupt(auction_id, &format!("hidden part: {e}")))?,
            _ => return Err(corrupt(auction_id, "no hidden part")),
        };
        let view = view_from_item(item)?;
        Ok(Some(AuctionProjection { view, hidden }))
    }

    async fn put_projection(
        &self,
        projection: &AuctionProjection,
    ) -> Result<Written, ProjectorError> {
        let item = projection_item(projection)?;
        let tables = self.tables().await?;
        self.conditional_put(
            &tables.auction_views,
            "auctionId",
            item,
            projection.version(),
        )
        .await
    }

    async fn put_user_bid(&self, row: &UserBid) -> Result<Written, ProjectorError> {
        let item = user_bid_item(row)?;
        let tables = self.tables().await?;
        self.conditional_put(&tables.user_bids, "userId", item, row.version)
            .await
    }
}

impl DynamoDbViews {
    async fn get_auction_item(
        &self,
        auction_id: AuctionId,
    ) -> Result<Option<Item>, ProjectorError> {
        let tables = self.tables().await?;
        let output = self
            .client
            .get_item()
            .table_name(&tables.auction_views)
            .key("auctionId", AttributeValue::S(auction_id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        Ok(output.item)
    }
}

impl ReadModels for DynamoDbViews {
    async fn auction(&self, auction_id: AuctionId) -> Result<Option<AuctionView>, ProjectorError> {
        self.get_auction_item(auction_id)
            .await?
            .map(view_from_item)
            .transpose()
    }

    async fn auctions(&self, ids: &[AuctionId]) -> Result<Vec<AuctionView>, ProjectorError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let unique: Vec<AuctionId> = ids
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let tables = self.tables().await?;
        let (found, unprocessed) = self.batch_get(&tables.auction_views, &unique, None).await?;
        if !unprocessed.is_empty() {
            // A page with auctions silently missing would read as if they were gone.
            return Err(ProjectorError::Unavailable(format!(
                "{} of {} auctions were not read (throttled)",
                unprocessed.len(),
                unique.len()
            )));
        }
        found.into_iter().map(view_from_item).collect()
    }

    async fn auctions_by_status(
        &self,
        status: AuctionStatus,
        page: &PageRequest,
    ) -> Result<Page<AuctionView>, ProjectorError> {
        let start = match &page.cursor {
            Some(cursor) => Some(to_key(cursor.status_position(status)?)),
            None => None,
        };
        let tables = self.tables().await?;
        let output = self
            .client
            .query()
            .table_name(&tables.auction_views)
            .index_name(names::VIEWS_BY_STATUS_INDEX)
            .key_condition_expression("#status = :status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", AttributeValue::S(status.as_str().to_owned()))
            .scan_index_forward(true)
            .limit(limit_i32(page))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(view_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match (output.last_evaluated_key, items.last()) {
            // The cursor is rebuilt from the view rather than copied from DynamoDB's key, so a
            // client only ever sees the attributes it is checked against.
            (Some(_), Some(last)) => Some(Cursor::encode(&status_key(last))?),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn auctions_by_seller(
        &self,
        seller_id: &UserId,
        page: &PageRequest,
    ) -> Result<Page<AuctionView>, ProjectorError> {
        let start = match &page.cursor {
            Some(cursor) => Some(to_key(cursor.seller_position(seller_id)?)),
            None => None,
        };
        let tables = self.tables().await?;
        let output = self
            .client
            .query()
            .table_name(&tables.auction_views)
            .index_name(names::VIEWS_BY_SELLER_INDEX)
            .key_condition_expression("#seller = :seller")
            .expression_attribute_names("#seller", "sellerId")
            .expression_attribute_values(
                ":seller",
                AttributeValue::S(seller_id.as_str().to_owned()),
            )
            .scan_index_forward(false)
            .limit(limit_i32(page))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        let listed = output
            .items
            .unwrap_or_default()
            .iter()
            .map(|key| match key.get("auctionId") {
                Some(AttributeValue::S(id)) => id
                    .parse()
                    .map(AuctionId)
                    .map_err(|_| ProjectorError::Corrupt(format!("bySeller key: {id}"))),
                _ => Err(ProjectorError::Corrupt(
                    "bySeller key without auctionId".to_owned(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The index holds keys only: the views themselves, read strongly consistent, in the
        // index's order.
        let mut views: HashMap<AuctionId, AuctionView> = ReadModels::auctions(self, &listed)
            .await?
            .into_iter()
            .map(|view| (view.auction_id, view))
            .collect();
        let items: Vec<AuctionView> = listed.iter().filter_map(|id| views.remove(id)).collect();
        let next = match (output.last_evaluated_key, items.last()) {
            (Some(_), Some(last)) => Some(Cursor::encode(&seller_key(last))?),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn user_bids(
        &self,
        user_id: &UserId,
        page: &PageRequest,
    ) -> Result<Page<UserBid>, ProjectorError> {
        let start = match &page.cursor {
            Some(cursor) => Some(to_key(cursor.user_bids_position(user_id)?)),
            None => None,
        };
        let tables = self.tables().await?;
        let output = self
            .client
            .query()
            .table_name(&tables.user_bids)
            .key_condition_expression("#user = :user")
            .expression_attribute_names("#user", "userId")
            .expression_attribute_values(":user", AttributeValue::S(user_id.as_str().to_owned()))
            .limit(limit_i32(page))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                serde_dynamo::from_item::<_, UserBid>(item)
                    .map_err(|e| ProjectorError::Corrupt(format!("user bid row: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = match (output.last_evaluated_key, items.last()) {
            (Some(_), Some(last)) => Some(Cursor::encode(&user_bid_key(last))?),
            _ => None,
        };
        let live = self.live(&items).await?;
        let items = items
            .into_iter()
            .map(|row| match live.get(&row.auction_id) {
                Some(part) => row.with_live(part.current_price.as_ref(), part.ends_at),
                None => row,
            })
            .collect();
        Ok(Page { items, next })
    }
}

/// The parts of an auction's view that a user's row shows live.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Live {
    auction_id: AuctionId,
    #[serde(default)]
    current_price: Option<events::Money>,
    #[serde(with = "crate::views::fixed_time")]
    ends_at: chrono::DateTime<chrono::Utc>,
}

/// How often a BatchGetItem's unprocessed keys are asked for again before the rows are
/// answered with what they stored.
const BATCH_GET_ATTEMPTS: usize = 3;

impl DynamoDbViews {
    /// The current price and end of each row's auction: one BatchGetItem (a page holds at most
    /// 100 rows, BatchGetItem's limit), eventually consistent like the listing itself.
    async fn live(&self, rows: &[UserBid]) -> Result<HashMap<AuctionId, Live>, ProjectorError> {
        let ids: Vec<AuctionId> = rows
            .iter()
            .map(|row| row.auction_id)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let table = self.tables().await?.auction_views;
        // Rows whose auction stayed unprocessed are answered with what they stored.
        let (found, _unprocessed) = self
            .batch_get(&table, &ids, Some("auctionId, currentPrice, endsAt"))
            .await?;
        found
            .into_iter()
            .map(|item| {
                serde_dynamo::from_item::<_, Live>(item)
                    .map(|part| (part.auction_id, part))
                    .map_err(|e| ProjectorError::Corrupt(format!("auction view: {e}")))
            })
            .collect()
    }

    /// The view items of `ids` (at most 100, BatchGetItem's limit; each id once), in no
    /// order: every attribute, read strongly consistent, or only `projection`'s, eventually
    /// consistent. Unprocessed keys are asked for again a few times, then returned beside
    /// what was found; an auction with no view is left out.
    async fn batch_get(
        &self,
        table: &str,
        ids: &[AuctionId],
        projection: Option<&str>,
    ) -> Result<(Vec<Item>, Vec<Item>), ProjectorError> {
        let mut keys: Vec<Item> = ids
            .iter()
            .map(|id| HashMap::from([("auctionId".to_owned(), AttributeValue::S(id.to_string()))]))
            .collect();
        let mut found = Vec::with_capacity(keys.len());
        for _ in 0..BATCH_GET_ATTEMPTS {
            if keys.is_empty() {
                break;
            }
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .set_projection_expression(projection.map(str::to_owned))
                .consistent_read(projection.is_none())
                .build()
                .map_err(|e| ProjectorError::Refused(e.to_string()))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| Failure::of(&e))?;
            found.extend(
                output
                    .responses
                    .and_then(|mut tables| tables.remove(table))
                    .unwrap_or_default(),
            );
            keys = output
                .unprocessed_keys
                .and_then(|mut tables| tables.remove(table))
                .map(|unprocessed| unprocessed.keys)
                .unwrap_or_default();
        }
        Ok((found, keys))
    }
}

/// The item that stores `projection` in AuctionListView: the view's fields and the hidden part
/// as JSON text.
pub fn projection_item(projection: &AuctionProjection) -> Result<Item, ProjectorError> {
    let mut item: Item = serde_dynamo::to_item(&projection.view)
        .map_err(|e| ProjectorError::Refused(format!("view does not encode: {e}")))?;
    let hidden = serde_json::to_string(&projection.hidden)
        .map_err(|e| ProjectorError::Refused(format!("hidden part does not encode: {e}")))?;
    item.insert(HIDDEN.to_owned(), AttributeValue::S(hidden));
    Ok(item)
}

/// The item that stores `row` in UserBids.
pub fn user_bid_item(row: &UserBid) -> Result<Item, ProjectorError> {
    serde_dynamo::to_item(row)
        .map_err(|e| ProjectorError::Refused(format!("row does not encode: {e}")))
}

fn limit_i32(page: &PageRequest) -> i32 {
    // Limit is at most 100.
    i32::try_from(page.limit.get()).unwrap_or(i32::MAX)
}

fn to_key(key: BTreeMap<String, String>) -> Item {
    key.into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect()
}

fn view_from_item(mut item: Item) -> Result<AuctionView, ProjectorError> {
    item.remove(HIDDEN);
    serde_dynamo::from_item::<_, AuctionView>(item)
        .map_err(|e| ProjectorError::Corrupt(format!("auction view: {e}")))
}

fn corrupt(auction_id: AuctionId, what: &str) -> ProjectorError {
    ProjectorError::Corrupt(format!("auction {auction_id}: {what}"))
}
