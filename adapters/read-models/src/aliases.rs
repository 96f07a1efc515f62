//! Which tables the views live in now.
//!
//! A rebuild (`auction-admin rebuild`) fills fresh tables beside the live ones and then moves
//! every reader and writer over by changing one item, the alias, in the `ReadModelAliases`
//! table. [`DynamoDbViews::aliased`](crate::DynamoDbViews::aliased) resolves the alias and
//! keeps it for [`ALIAS_TTL`], so a switch reaches every process within that time and costs
//! one GetItem per process per TTL, not one per request. Without an alias item the tables
//! named by the environment are the live ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{SecondsFormat, Utc};
use conventions::{Failure, names};

use crate::error::ProjectorError;
use crate::tables::ViewTables;

/// The alias item of the auction views (AuctionListView and UserBids, switched together).
pub const AUCTION_VIEWS: &str = "auction-views";

/// How long a process keeps a resolved alias. A rebuild keeps the old tables' writer (its own
/// catch-up) running for longer than this after a switch, so no event is missed in between.
pub const ALIAS_TTL: Duration = Duration::from_secs(5);

/// The tables an alias points to, and how often it was switched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub tables: ViewTables,
    /// 0 when no switch ever happened (the environment's tables); each switch adds one.
    pub generation: u64,
}

/// The `ReadModelAliases` table.
#[derive(Debug, Clone)]
pub struct ViewAliases {
    client: Client,
    table: String,
}

impl ViewAliases {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// On the table named by `READ_MODEL_ALIASES_TABLE` (default `ReadModelAliases`).
    pub fn from_env(client: Client) -> Self {
        Self::new(client, names::READ_MODEL_ALIASES_TABLE.from_env())
    }

    /// The alias as stored, or `fallback` at generation 0 when none is. Read strongly
    /// consistent: a switch is visible to the next resolution.
    pub async fn current(&self, fallback: &ViewTables) -> Result<Alias, ProjectorError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("readModel", AttributeValue::S(AUCTION_VIEWS.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        let Some(item) = output.item else {
            return Ok(Alias {
                tables: fallback.clone(),
                generation: 0,
            });
        };
        let text = |name: &str| {
            item.get(name)
                .and_then(|value| value.as_s().ok())
                .cloned()
                .ok_or_else(|| {
                    ProjectorError::Corrupt(format!("the views' alias has no {name} text"))
                })
        };
        let generation = item
            .get("generation")
            .and_then(|value| value.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ProjectorError::Corrupt("the views' alias has no generation".into()))?;
        Ok(Alias {
            tables: ViewTables {
                auction_views: text("auctionViews")?,
                user_bids: text("userBids")?,
            },
            generation,
        })
    }

    /// Points the alias at `tables`, provided it is still at `from` (as read by
    /// [`ViewAliases::current`]): of two rebuilds racing to switch, one wins and the other gets
    /// [`ProjectorError::AliasMoved`] and switches nothing.
    pub async fn switch(&self, from: &Alias, tables: &ViewTables) -> Result<Alias, ProjectorError> {
        let to = from.generation + 1;
        let item = HashMap::from([
            (
                "readModel".to_owned(),
                AttributeValue::S(AUCTION_VIEWS.to_owned()),
            ),
            (
                "auctionViews".to_owned(),
                AttributeValue::S(tables.auction_views.clone()),
            ),
            (
                "userBids".to_owned(),
                AttributeValue::S(tables.user_bids.clone()),
            ),
            ("generation".to_owned(), AttributeValue::N(to.to_string())),
            (
                "previousAuctionViews".to_owned(),
                AttributeValue::S(from.tables.auction_views.clone()),
            ),
            (
                "previousUserBids".to_owned(),
                AttributeValue::S(from.tables.user_bids.clone()),
            ),
            (
                "switchedAt".to_owned(),
                AttributeValue::S(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
            ),
        ]);
        let condition = if from.generation == 0 {
            "attribute_not_exists(readModel)"
        } else {
            "generation = :from"
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if from.generation > 0 {
            request = request.expression_attribute_values(
                ":from",
                AttributeValue::N(from.generation.to_string()),
            );
        }
        match request.send().await {
            Ok(_) => Ok(Alias {
                tables: tables.clone(),
                generation: to,
            }),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Err(ProjectorError::AliasMoved {
                    expected: from.generation,
                })
            }
            Err(error) => Err(Failure::of(&error).into()),
        }
    }
}

/// Where the views are: fixed tables, or whatever the alias names (resolved at most every
/// [`ALIAS_TTL`]). Every process that touches the views in a deployment (the projector, the
/// API, the scheduler's index queries) holds an aliased one.
#[derive(Debug)]
pub enum TableSource {
    Fixed(ViewTables),
    Aliased {
        aliases: ViewAliases,
        fallback: ViewTables,
        resolved: Mutex<Option<(Instant, ViewTables)>>,
    },
}

impl TableSource {
    /// Through the alias, with `fallback` while no alias was stored.
    pub fn aliased(aliases: ViewAliases, fallback: ViewTables) -> Self {
        Self::Aliased {
            aliases,
            fallback,
            resolved: Mutex::new(None),
        }
    }

    /// The tables to use now.
    pub async fn tables(&self) -> Result<ViewTables, ProjectorError> {
        match self {
            Self::Fixed(tables) => Ok(tables.clone()),
            Self::Aliased {
                aliases,
                fallback,
                resolved,
            } => {
                if let Some(tables) = fresh(resolved) {
                    return Ok(tables);
                }
                let alias = aliases.current(fallback).await?;
                if let Ok(mut slot) = resolved.lock() {
                    *slot = Some((Instant::now(), alias.tables.clone()));
                }
                Ok(alias.tables)
            }
        }
    }
}

fn fresh(resolved: &Mutex<Option<(Instant, ViewTables)>>) -> Option<ViewTables> {
    let slot = resolved.lock().ok()?;
    slot.as_ref()
        .filter(|(at, _)| at.elapsed() < ALIAS_TTL)
        .map(|(_, tables)| tables.clone())
}
