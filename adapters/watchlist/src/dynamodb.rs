//! The watchlists in DynamoDB: one item per (user, auction), `{userId, auctionId, watchedAt}`.
//! Watching is a PutItem conditional on the item's absence (so the first time is kept and a
//! repeat is told apart), unwatching a DeleteItem that returns what it deleted, a page one
//! Query of the user's partition.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, SecondsFormat, Utc};
use conventions::Failure;
use events::{AuctionId, UserId};

use crate::error::WatchlistError;
use crate::ports::{Boxed, Watched, WatchedPage, Watchlist, cursor_after, cursor_position};

const USER: &str = "userId";
const AUCTION: &str = "auctionId";
const WATCHED_AT: &str = "watchedAt";

#[derive(Debug, Clone)]
pub struct DynamoDbWatchlist {
    client: Client,
    table: String,
}

impl DynamoDbWatchlist {
    /// On the table `table` (`WATCHLIST_TABLE`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn text(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn watched_from(item: &HashMap<String, AttributeValue>) -> Result<Watched, WatchlistError> {
    let field = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.as_str()),
        _ => Err(WatchlistError::Corrupt(format!("no {name}"))),
    };
    let auction_id = field(AUCTION)?
        .parse()
        .map(AuctionId)
        .map_err(|_| WatchlistError::Corrupt("auctionId is not a uuid".to_owned()))?;
    let watched_at = DateTime::parse_from_rfc3339(field(WATCHED_AT)?)
        .map_err(|_| WatchlistError::Corrupt("watchedAt is not a time".to_owned()))?
        .with_timezone(&Utc);
    Ok(Watched {
        auction_id,
        watched_at,
    })
}

impl Watchlist for DynamoDbWatchlist {
    fn watch<'a>(
        &'a self,
        user: &'a UserId,
        auction: AuctionId,
        at: DateTime<Utc>,
    ) -> Boxed<'a, bool> {
        Box::pin(async move {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(USER, text(user.as_str()))
                .item(AUCTION, text(auction.to_string()))
                .item(
                    WATCHED_AT,
                    text(at.to_rfc3339_opts(SecondsFormat::Millis, true)),
                )
                .condition_expression("attribute_not_exists(#auction)")
                .expression_attribute_names("#auction", AUCTION)
                .send()
                .await;
            match result {
                Ok(_) => Ok(true),
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() =>
                {
                    Ok(false)
                }
                Err(error) => Err(Failure::of(&error).into()),
            }
        })
    }

    fn unwatch<'a>(&'a self, user: &'a UserId, auction: AuctionId) -> Boxed<'a, bool> {
        Box::pin(async move {
            let output = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(USER, text(user.as_str()))
                .key(AUCTION, text(auction.to_string()))
                .return_values(ReturnValue::AllOld)
                .send()
                .await
                .map_err(|e| WatchlistError::from(Failure::of(&e)))?;
            Ok(output.attributes.is_some_and(|old| !old.is_empty()))
        })
    }

    fn watched<'a>(
        &'a self,
        user: &'a UserId,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> Boxed<'a, WatchedPage> {
        Box::pin(async move {
            let start = cursor.map(cursor_position).transpose()?.map(|after| {
                HashMap::from([
                    (USER.to_owned(), text(user.as_str())),
                    (AUCTION.to_owned(), text(after.to_string())),
                ])
            });
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#user = :user")
                .expression_attribute_names("#user", USER)
                .expression_attribute_values(":user", text(user.as_str()))
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| WatchlistError::from(Failure::of(&e)))?;
            let items = output
                .items
                .unwrap_or_default()
                .iter()
                .map(watched_from)
                .collect::<Result<Vec<_>, _>>()?;
            let next_cursor = match (output.last_evaluated_key, items.last()) {
                (Some(_), Some(last)) => Some(cursor_after(last.auction_id)),
                _ => None,
            };
            Ok(WatchedPage { items, next_cursor })
        })
    }

    fn watchers(&self, auction: AuctionId) -> Boxed<'_, Vec<UserId>> {
        Box::pin(async move {
            let mut watchers = Vec::new();
            let mut start = None;
            loop {
                let output = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(conventions::names::WATCHLIST_BY_AUCTION_INDEX)
                    .key_condition_expression("#auction = :auction")
                    .expression_attribute_names("#auction", AUCTION)
                    .expression_attribute_values(":auction", text(auction.to_string()))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| WatchlistError::from(Failure::of(&e)))?;
                for item in output.items.unwrap_or_default() {
                    let user = match item.get(USER) {
                        Some(AttributeValue::S(user)) => {
                            UserId::try_from(user.as_str()).map_err(|_| {
                                WatchlistError::Corrupt("userId is not a user id".to_owned())
                            })?
                        }
                        _ => return Err(WatchlistError::Corrupt("no userId".to_owned())),
                    };
                    watchers.push(user);
                }
                start = output.last_evaluated_key.filter(|key| !key.is_empty());
                if start.is_none() {
                    return Ok(watchers);
                }
            }
        })
    }
}
