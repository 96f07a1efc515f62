//! The read routes: answered from the read models the projector and the notifier keep, which
//! lag the log by the stream's delay. `GET /auctions/{id}?minVersion=N` lets a client that has
//! just changed an auction read its own write: it waits briefly for the view to reach version
//! N, then answers from the log itself. The bid history and liveness are here too: the one
//! from the log, the other from nothing at all.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use event_store::Meter;
use events::{AuctionEvent, AuctionId, EventEnvelope, UserId};
use read_models::{Cursor, Limit, PageRequest};
use serde::Serialize;

use crate::bodies::{
    AuctionPage, AuctionQuery, AuctionStatus, AuctionView, BidEntry, BidHistory, Health, ListQuery,
    MoneyBody, MyAuction, MyAuctionsPage, MyBid, MyBidsPage, NotificationBody, NotificationsPage,
    PageQuery,
};
use crate::error::ApiError;
use crate::extract::{AuctionPath, QueryParams};
use crate::identity::Claims;
use crate::problems::Problems;
use crate::{App, Backend};

/// How long a read with `minVersion` waits for the projection before it reads the log.
pub const READ_YOUR_WRITES_WAIT: Duration = Duration::from_millis(1_000);
const READ_YOUR_WRITES_POLL: Duration = Duration::from_millis(25);

/// Says where an answer came from: `view` (the read model) or `log` (the event store).
pub const READ_SOURCE_HEADER: &str = "x-read-source";

fn page_request(limit: Option<u32>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
    Ok(PageRequest {
        limit: limit.map(Limit::new).transpose()?.unwrap_or_default(),
        cursor: cursor.map(Cursor::new),
    })
}

/// The items of a read model's page as bodies, and the cursor of the next page.
fn page_of<R, T>(page: read_models::Page<R>, body: impl Fn(&R) -> T) -> (Vec<T>, Option<String>) {
    (
        page.items.iter().map(body).collect(),
        page.next.map(|cursor| cursor.as_str().to_owned()),
    )
}

fn with_source<T: Serialize>(body: T, source: &'static str) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(READ_SOURCE_HEADER, HeaderValue::from_static(source));
    response
}

/// Liveness: answers without touching the event store.
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// One auction. From the read model; from the log when the view does not exist yet (the
/// auction was created a moment ago) or is older than `minVersion` after a short wait.
#[utoipa::path(get, path = "/auctions/{id}", tag = "auctions",
    params(("id" = Uuid, Path, description = "The auction id"), AuctionQuery),
    responses(
        (status = 200, body = AuctionView, headers(("x-read-source" = String, description = "`view` or `log`"))),
        Problems<400, 401, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn get_auction<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    QueryParams(query): QueryParams<AuctionQuery>,
    claims: Claims,
) -> Result<Response, ApiError> {
    let wanted = query.min_version.unwrap_or(0);
    let deadline = tokio::time::Instant::now() + READ_YOUR_WRITES_WAIT;
    loop {
        match app.views.auction(auction_id).await? {
            Some(view) if view.version >= wanted => {
                return Ok(with_source(
                    AuctionView::from_view(&view, &claims.sub),
                    "view",
                ));
            }
            // No view and no version asked for: the projector may not have seen the auction
            // yet, or it does not exist; the log knows which.
            None if wanted == 0 => break,
            _ if tokio::time::Instant::now() >= deadline => break,
            _ => tokio::time::sleep(READ_YOUR_WRITES_POLL).await,
        }
    }
    from_log(&app, auction_id, &claims.sub).await
}

async fn from_log<B: Backend>(
    app: &App<B>,
    auction_id: AuctionId,
    caller: &UserId,
) -> Result<Response, ApiError> {
    let loaded = app
        .store
        .load::<domain::State>(auction_id, &Meter::default())
        .await?;
    let view = AuctionView::from_state(&loaded.state, caller)?;
    Ok(with_source(view, "log"))
}

/// Auctions of one status (default `active`), soonest end first, a page at a time.
#[utoipa::path(get, path = "/auctions", tag = "auctions",
    params(ListQuery),
    responses(
        (status = 200, body = AuctionPage),
        Problems<400, 401, 503>,
    ),
    security(("bearer" = [])))]
pub async fn list_auctions<B: Backend>(
    State(app): State<App<B>>,
    QueryParams(query): QueryParams<ListQuery>,
    claims: Claims,
) -> Result<Json<AuctionPage>, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let status = query.status.unwrap_or(AuctionStatus::Active);
    let found = app.views.auctions_by_status(status, &page).await?;
    let (items, next_cursor) = page_of(found, |view| AuctionView::from_view(view, &claims.sub));
    Ok(Json(AuctionPage { items, next_cursor }))
}

/// The caller's own auctions (the seller's page), every status, latest end first: each with
/// its bid count, whether its reserve is met, its result and where the payout stands. From an
/// index that may miss an auction created a moment ago.
#[utoipa::path(get, path = "/me/auctions", tag = "me",
    params(PageQuery),
    responses(
        (status = 200, body = MyAuctionsPage),
        Problems<400, 401, 503>,
    ),
    security(("bearer" = [])))]
pub async fn my_auctions<B: Backend>(
    State(app): State<App<B>>,
    QueryParams(query): QueryParams<PageQuery>,
    claims: Claims,
) -> Result<Json<MyAuctionsPage>, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let found = app.views.auctions_by_seller(&claims.sub, &page).await?;
    let (items, next_cursor) = page_of(found, |view| MyAuction::from_view(view, &claims.sub));
    Ok(Json(MyAuctionsPage { items, next_cursor }))
}

/// The auctions the caller bid in, with where they stand in each.
#[utoipa::path(get, path = "/me/bids", tag = "me",
    params(PageQuery),
    responses(
        (status = 200, body = MyBidsPage),
        Problems<400, 401, 503>,
    ),
    security(("bearer" = [])))]
pub async fn my_bids<B: Backend>(
    State(app): State<App<B>>,
    QueryParams(query): QueryParams<PageQuery>,
    claims: Claims,
) -> Result<Json<MyBidsPage>, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let found = app.views.user_bids(&claims.sub, &page).await?;
    let (items, next_cursor) = page_of(found, |row| MyBid::from(row));
    Ok(Json(MyBidsPage { items, next_cursor }))
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/me/notifications", tag = "me",
    params(PageQuery),
    responses(
        (status = 200, body = NotificationsPage),
        Problems<400, 401, 503>,
    ),
    security(("bearer" = [])))]
pub async fn my_notifications<B: Backend>(
    State(app): State<App<B>>,
    QueryParams(query): QueryParams<PageQuery>,
    claims: Claims,
) -> Result<Json<NotificationsPage>, ApiError> {
    let limit = query.limit.unwrap_or(Limit::DEFAULT.get());
    let found = app
        .inbox
        .list(&claims.sub, limit, query.cursor.as_deref())
        .await?;
    Ok(Json(NotificationsPage {
        items: found
            .notifications
            .iter()
            .map(NotificationBody::from)
            .collect(),
        next_cursor: found.next_cursor,
    }))
}

/// The accepted bids, newest first, a page at a time: bidder, amount, resulting price, time.
/// Never maximums. Other bidders are shown masked (`b***b`), the caller's own bids in full
/// (`yours` says which are theirs). A page reads at most `limit` of the auction's newest events from the log
/// (one query), so what it costs does not grow with the auction's history.
#[utoipa::path(get, path = "/auctions/{id}/bids", tag = "bids",
    params(("id" = Uuid, Path, description = "The auction id"), PageQuery),
    responses(
        (status = 200, body = BidHistory),
        Problems<400, 401, 404, 503>,
    ),
    security(("bearer" = [])))]
pub async fn list_bids<B: Backend>(
    State(app): State<App<B>>,
    AuctionPath(auction_id): AuctionPath,
    QueryParams(query): QueryParams<PageQuery>,
    claims: Claims,
) -> Result<Json<BidHistory>, ApiError> {
    let limit = query.limit.map(Limit::new).transpose()?.unwrap_or_default();
    let older_than = query.cursor.as_deref().map(bids_cursor).transpose()?;
    let page = app
        .store
        .backend()
        .newest_events(auction_id, older_than, limit.get(), &Meter::default())
        .await?;
    // A cursor only ever names a version above 1 of an auction that exists, so an empty page
    // is an auction with no events.
    if page.events.is_empty() {
        return Err(ApiError::auction_not_found());
    }
    let mut bids = Vec::new();
    for event in &page.events {
        let EventEnvelope {
            event,
            occurred_at,
            version,
            ..
        } = event.decode()?;
        if let AuctionEvent::BidPlaced(bid) = event {
            let yours = bid.bidder_id == claims.sub;
            bids.push(BidEntry {
                bid_id: bid.bid_id.0,
                bidder_id: shown_bidder(&bid.bidder_id, yours),
                yours,
                amount: MoneyBody::from(&bid.amount),
                new_price: MoneyBody::from(&bid.new_price),
                placed_at: occurred_at,
                version,
            });
        }
    }
    Ok(Json(BidHistory {
        auction_id: auction_id.0,
        bids,
        next_cursor: page.older_than.map(|version| version.to_string()),
    }))
}

/// A bidder as a bid history shows them to the caller: in full if it is the caller, else masked
/// (a pseudonym is masked when revealed, `crate::reveal`; an id from before pseudonyms here).
fn shown_bidder(bidder: &UserId, yours: bool) -> String {
    let id = bidder.as_str();
    if yours || personal_data::token::is_erased(id) {
        id.to_owned()
    } else if personal_data::token::pseudonym_key(id).is_some() {
        personal_data::token::masked(id)
    } else {
        personal_data::token::mask(id)
    }
}

/// The version a bids page's cursor names: the next page holds the events below it.
fn bids_cursor(cursor: &str) -> Result<u64, ApiError> {
    cursor
        .parse::<u64>()
        .ok()
        .filter(|version| *version > 1 && cursor == version.to_string())
        .ok_or(ApiError::InvalidCursor)
}
