//! The caller's watchlist: watch and unwatch an auction, and read the watched auctions as they
//! stand now. The list itself is the Watchlist table's (`watchlist`); what each auction shows
//! is its view, read with the page.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use event_store::Meter;
use events::AuctionId;
use read_models::Limit;

use crate::bodies::{AuctionView, PageQuery, WatchedAuction, WatchlistPage};
use crate::error::ApiError;
use crate::extract::{AuctionPath, QueryParams};
use crate::identity::Claims;
use crate::problems::Problems;
use crate::{App, Backend};

/// Puts the auction on the caller's watchlist (the web page follows the watched auctions
/// live). Watching it again changes nothing; an auction that does not exist is 404.
#[utoipa::path(put, path = "/me/watchlist/{id}", tag = "me",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 204, description = "On the watchlist"),
        Problems<400, 401, 404, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn watch<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    claims: Claims,
) -> Result<StatusCode, ApiError> {
    require_auction(&app, auction_id).await?;
    app.watchlist
        .watch(&claims.sub, auction_id, app.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes the auction off the caller's watchlist; one that is not on it stays off.
#[utoipa::path(delete, path = "/me/watchlist/{id}", tag = "me",
    params(("id" = Uuid, Path, description = "The auction id")),
    responses(
        (status = 204, description = "Not on the watchlist"),
        Problems<400, 401, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn unwatch<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    claims: Claims,
) -> Result<StatusCode, ApiError> {
    app.watchlist.unwatch(&claims.sub, auction_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The auctions the caller watches, ordered by auction id, each as it stands now (its view,
/// read with the page: one Query and one BatchGetItem).
#[utoipa::path(get, path = "/me/watchlist", tag = "me",
    params(PageQuery),
    responses(
        (status = 200, body = WatchlistPage),
        Problems<400, 401, 503>,
    ),
    security(("bearer" = [])))]
pub async fn my_watchlist<B: Backend>(
    State(app): State<App<B>>,
    QueryParams(query): QueryParams<PageQuery>,
    claims: Claims,
) -> Result<Json<WatchlistPage>, ApiError> {
    let limit = query.limit.map(Limit::new).transpose()?.unwrap_or_default();
    let page = app
        .watchlist
        .watched(&claims.sub, limit.get(), query.cursor.as_deref())
        .await?;
    let ids: Vec<AuctionId> = page
        .items
        .iter()
        .map(|watched| watched.auction_id)
        .collect();
    let views = app.views.auctions(&ids).await?;
    let items = page
        .items
        .iter()
        .filter_map(|watched| {
            // A watched auction whose view is not written yet (created a moment ago) is
            // left out of this page rather than shown half.
            views
                .iter()
                .find(|view| view.auction_id == watched.auction_id)
                .map(|view| WatchedAuction {
                    auction: AuctionView::from_view(view, &claims.sub),
                    watched_at: watched.watched_at,
                })
        })
        .collect();
    Ok(Json(WatchlistPage {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// The auction exists: its view, or (created a moment ago) its log.
pub(crate) async fn require_auction<B: Backend>(
    app: &App<B>,
    auction_id: AuctionId,
) -> Result<(), ApiError> {
    if app.views.auction(auction_id).await?.is_some() {
        return Ok(());
    }
    let loaded = app
        .store
        .load::<domain::State>(auction_id, &Meter::default())
        .await?;
    match loaded.state.auction {
        Some(_) => Ok(()),
        None => Err(ApiError::auction_not_found()),
    }
}
