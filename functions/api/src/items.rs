//! The item routes: an item's provenance, from the ownership ledger (the Item aggregate's
//! stream in the event store) itself, never from a read model: who has owned it, since when,
//! and by which auction and at what price each came by it, with the stream's version and the
//! head of its hash chain, so a reader can anchor what they were shown.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use domain::item::{Acquisition, ItemRejection, ItemState, Ownership};
use event_store::{Meter, StoreError};
use events::ItemId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::bodies::MoneyBody;
use crate::error::ApiError;
use crate::identity::Claims;
use crate::problems::Problems;
use crate::{App, Backend};

/// The item id in the path. A malformed id names no item, so it is a 404 like an unknown one.
#[derive(Debug, Clone, Copy)]
pub struct ItemPath(pub ItemId);

impl<S: Send + Sync> FromRequestParts<S> for ItemPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| item_not_found())?;
        Uuid::parse_str(&id)
            .map(|id| Self(ItemId(id)))
            .map_err(|_| item_not_found())
    }
}

/// No such item in the ledger: 404 ITEM_NOT_FOUND.
pub fn item_not_found() -> ApiError {
    ApiError::ItemRejected(ItemRejection::NotRegistered)
}

/// How an owner came by the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AcquiredBy {
    /// Its first owner: the seller, registered when the auction was created.
    Registered,
    /// Bought it in `auctionId` at `price`.
    Bought,
    /// Had it back when the sale `sale` was reversed (the sale could not complete).
    Returned,
}

/// One owner's time with the item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerBody {
    pub owner: String,
    pub from: DateTime<Utc>,
    /// When the next owner got it; absent for the current owner.
    pub until: Option<DateTime<Utc>>,
    pub acquired_by: AcquiredBy,
    /// The auction by which they came by it.
    pub auction_id: Uuid,
    /// What they paid (`bought` only).
    pub price: Option<MoneyBody>,
    /// The sale that moved it (`bought`, `returned`): the payment saga's id.
    pub sale: Option<String>,
    /// Why the sale was reversed (`returned` only).
    pub reason: Option<String>,
}

impl From<&Ownership> for OwnerBody {
    fn from(ownership: &Ownership) -> Self {
        let (acquired_by, auction_id, price, sale, reason) = match &ownership.acquired {
            Acquisition::Registered { auction_id } => {
                (AcquiredBy::Registered, auction_id, None, None, None)
            }
            Acquisition::Bought {
                auction_id,
                price,
                sale,
            } => (
                AcquiredBy::Bought,
                auction_id,
                Some(MoneyBody::from(price)),
                Some(sale.clone()),
                None,
            ),
            Acquisition::Returned {
                auction_id,
                sale,
                reason,
            } => (
                AcquiredBy::Returned,
                auction_id,
                None,
                Some(sale.clone()),
                Some(reason.clone()),
            ),
        };
        Self {
            owner: ownership.owner.to_string(),
            from: ownership.from,
            until: ownership.until,
            acquired_by,
            auction_id: auction_id.0,
            price,
            sale,
            reason,
        }
    }
}

/// An item and everyone who has owned it, from its ledger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub item_id: Uuid,
    pub title: String,
    /// The auction it was registered for.
    pub auction_id: Uuid,
    /// Who owns it now.
    pub owner: String,
    /// Every owner, oldest first; the last is the current one.
    pub owners: Vec<OwnerBody>,
    /// The version of the item's stream this answer was read at.
    pub version: u64,
    /// The chain hash of the stream's event at `version`: keep it to check later that the
    /// ledger still holds this history (`GET /admin/items/{id}/verify`).
    pub head_hash: String,
}

/// An item's provenance: its owners over time, from the ownership ledger. Strongly consistent:
/// read from the event store, not from a view.
#[utoipa::path(get, path = "/items/{id}/provenance", tag = "items",
    params(("id" = Uuid, Path,
        description = "The item id: an auction's is its `itemId` (`GET /auctions/{id}`)")),
    responses(
        (status = 200, body = Provenance),
        Problems<401, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn provenance<B: Backend>(
    State(app): State<App<B>>,
    ItemPath(item_id): ItemPath,
    _claims: Claims,
) -> Result<Json<Provenance>, ApiError> {
    let loaded = match app
        .store
        .load::<ItemState>(item_id, &Meter::default())
        .await
    {
        // An auction's id (or any other stream's) names no item.
        Err(StoreError::OtherAggregate { .. }) => return Err(item_not_found()),
        loaded => loaded?,
    };
    let item = loaded.state.item.as_ref().ok_or_else(item_not_found)?;
    Ok(Json(Provenance {
        item_id: item.id.0,
        title: item.title.clone(),
        auction_id: item.auction_id.0,
        owner: item.owner.to_string(),
        owners: item.owners.iter().map(OwnerBody::from).collect(),
        version: loaded.version,
        head_hash: loaded.head_hash,
    }))
}
