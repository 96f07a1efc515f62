//! The read routes: answered from the read models the projector and the notifier keep, which
//! lag the log by the stream's delay. `GET /auctions/{id}?minVersion=N` lets a client that has
//! just changed an auction read its own write: it waits briefly for the view to reach version
//! N, then answers from the log itself.

use std::time::Duration;

use auction_events::{AuctionId, Money, UserId};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use event_store::Meter;
use read_models::{Cursor, Limit, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, Problem};
use crate::extract::{AuctionPath, QueryParams};
use crate::identity::Claims;
use crate::routes::{AuctionResultBody, AuctionStatus, AuctionView, MoneyBody, auction_view};
use crate::{App, Backend};

/// How long a read with `minVersion` waits for the projection before it reads the log.
pub const READ_YOUR_WRITES_WAIT: Duration = Duration::from_millis(1_000);
const READ_YOUR_WRITES_POLL: Duration = Duration::from_millis(25);

/// Says where an answer came from: `view` (the read model) or `log` (the event store).
pub const READ_SOURCE_HEADER: &str = "x-read-source";

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuctionQuery {
    /// Answer only from a state at this version or later: waits up to a second for the read
    /// model, then reads the log.
    #[param(minimum = 1)]
    pub min_version: Option<u64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Which auctions (default `active`), soonest end first.
    pub status: Option<AuctionStatus>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The previous page's `nextCursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The previous page's `nextCursor`.
    pub cursor: Option<String>,
}

impl PageQuery {
    fn page(&self) -> Result<PageRequest, ApiError> {
        page_request(self.limit, self.cursor.as_deref())
    }
}

fn page_request(limit: Option<u32>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
    Ok(PageRequest {
        limit: limit.map(Limit::new).transpose()?.unwrap_or_default(),
        cursor: cursor.map(Cursor::new),
    })
}

/// One page of auctions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionPage {
    pub items: Vec<AuctionView>,
    /// Present when there may be more: pass it as `cursor`.
    pub next_cursor: Option<String>,
}

/// Where the caller stands in one auction they bid in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MyBidStatus {
    Leading,
    Outbid,
    Won,
    Lost,
    Cancelled,
}

/// Where a sold item's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum PaymentStatus {
    AwaitingPayment,
    Paid,
    Failed,
}

/// The caller's position in one auction. Holds the caller's own maximum: only they see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyBid {
    pub auction_id: Uuid,
    pub title: String,
    pub status: MyBidStatus,
    pub auction_status: AuctionStatus,
    pub my_highest_bid: MoneyBody,
    pub my_max_bid: MoneyBody,
    pub current_price: Option<MoneyBody>,
    pub ends_at: DateTime<Utc>,
    pub last_bid_at: DateTime<Utc>,
    /// What the caller owes, while the item is theirs.
    pub amount_due: Option<MoneyBody>,
    pub payment: Option<PaymentStatus>,
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyBidsPage {
    pub items: Vec<MyBid>,
    pub next_cursor: Option<String>,
}

/// Something that happened to the caller.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationBody {
    /// Unique in the caller's inbox; orders by time.
    pub id: String,
    /// `outbid`, `won`, `lost`, `sold`, `unsold`, `paymentConfirmed`, `paymentFailed`,
    /// `paymentReceived`, `buyerPaymentFailed`, `offeredToYou`, `cancelled`, ...
    pub kind: String,
    pub auction_id: Uuid,
    pub auction_title: String,
    pub amount: Option<MoneyBody>,
    pub occurred_at: DateTime<Utc>,
    /// The auction's version whose event this is about.
    pub version: u64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsPage {
    pub items: Vec<NotificationBody>,
    pub next_cursor: Option<String>,
}

fn money(money: &Money) -> MoneyBody {
    MoneyBody::from(money)
}

fn status(status: read_models::AuctionStatus) -> AuctionStatus {
    match status {
        read_models::AuctionStatus::Scheduled => AuctionStatus::Scheduled,
        read_models::AuctionStatus::Active => AuctionStatus::Active,
        read_models::AuctionStatus::Ended => AuctionStatus::Ended,
        read_models::AuctionStatus::Cancelled => AuctionStatus::Cancelled,
    }
}

fn from_status(status: AuctionStatus) -> read_models::AuctionStatus {
    match status {
        AuctionStatus::Scheduled => read_models::AuctionStatus::Scheduled,
        AuctionStatus::Active => read_models::AuctionStatus::Active,
        AuctionStatus::Ended => read_models::AuctionStatus::Ended,
        AuctionStatus::Cancelled => read_models::AuctionStatus::Cancelled,
    }
}

/// The read model's view as the caller may see it.
fn from_view(view: &read_models::AuctionView, caller: &UserId) -> AuctionView {
    AuctionView {
        id: view.auction_id.0,
        title: view.title.clone(),
        seller_id: view.seller_id.to_string(),
        status: status(view.status),
        currency: view.currency.to_string(),
        starting_price: money(&view.starting_price),
        current_price: view.current_price.as_ref().map(money),
        bid_count: view.bid_count,
        leading: view.leader_id.as_ref() == Some(caller),
        has_reserve: view.has_reserve,
        reserve_met: view.reserve_met,
        buy_now_price: view.buy_now_price.as_ref().map(money),
        starts_at: view.starts_at,
        ends_at: view.ends_at,
        result: view.result.as_ref().map(AuctionResultBody::from),
        version: view.version,
    }
}

fn with_source<T: Serialize>(body: T, source: &'static str) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(READ_SOURCE_HEADER, HeaderValue::from_static(source));
    response
}

/// One auction. From the read model; from the log when the view does not exist yet (the
/// auction was created a moment ago) or is older than `minVersion` after a short wait.
#[utoipa::path(get, path = "/auctions/{id}", tag = "auctions",
    params(("id" = Uuid, Path, description = "The auction id"), AuctionQuery),
    responses(
        (status = 200, body = AuctionView, headers(("x-read-source" = String, description = "`view` or `log`"))),
        (status = 400, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
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
                return Ok(with_source(from_view(&view, &claims.sub), "view"));
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
    let loaded = app.store.load(auction_id, &Meter::default()).await?;
    let view = auction_view(&loaded.state, caller)?;
    Ok(with_source(view, "log"))
}

/// Auctions of one status (default `active`), soonest end first, a page at a time.
#[utoipa::path(get, path = "/auctions", tag = "auctions",
    params(ListQuery),
    responses(
        (status = 200, body = AuctionPage),
        (status = 400, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_auctions<B: Backend>(
    State(app): State<App<B>>,
    QueryParams(query): QueryParams<ListQuery>,
    claims: Claims,
) -> Result<Json<AuctionPage>, ApiError> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let status = from_status(query.status.unwrap_or(AuctionStatus::Active));
    let found = app.views.auctions_by_status(status, &page).await?;
    Ok(Json(AuctionPage {
        items: found
            .items
            .iter()
            .map(|view| from_view(view, &claims.sub))
            .collect(),
        next_cursor: found.next.map(|cursor| cursor.as_str().to_owned()),
    }))
}

/// The auctions the caller bid in, with where they stand in each.
#[utoipa::path(get, path = "/me/bids", tag = "me",
    params(PageQuery),
    responses(
        (status = 200, body = MyBidsPage),
        (status = 400, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn my_bids<B: Backend>(
    State(app): State<App<B>>,
    QueryParams(query): QueryParams<PageQuery>,
    claims: Claims,
) -> Result<Json<MyBidsPage>, ApiError> {
    let page = query.page()?;
    let found = app.views.user_bids(&claims.sub, &page).await?;
    Ok(Json(MyBidsPage {
        items: found.items.iter().map(my_bid).collect(),
        next_cursor: found.next.map(|cursor| cursor.as_str().to_owned()),
    }))
}

fn my_bid(row: &read_models::UserBid) -> MyBid {
    use read_models::BidStatus as S;
    MyBid {
        auction_id: row.auction_id.0,
        title: row.title.clone(),
        status: match row.status {
            S::Leading => MyBidStatus::Leading,
            S::Outbid => MyBidStatus::Outbid,
            S::Won => MyBidStatus::Won,
            S::Lost => MyBidStatus::Lost,
            S::Cancelled => MyBidStatus::Cancelled,
        },
        auction_status: status(row.auction_status),
        my_highest_bid: money(&row.my_highest_bid),
        my_max_bid: money(&row.my_max_bid),
        current_price: row.current_price.as_ref().map(money),
        ends_at: row.ends_at,
        last_bid_at: row.last_bid_at,
        amount_due: row.amount_due.as_ref().map(money),
        payment: row.payment.map(|payment| match payment {
            read_models::PaymentStatus::AwaitingPayment => PaymentStatus::AwaitingPayment,
            read_models::PaymentStatus::Paid => PaymentStatus::Paid,
            read_models::PaymentStatus::Failed => PaymentStatus::Failed,
        }),
        version: row.version,
    }
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/me/notifications", tag = "me",
    params(PageQuery),
    responses(
        (status = 200, body = NotificationsPage),
        (status = 400, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A problem document; see its `code`", body = Problem, content_type = "application/problem+json"),
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
            .map(|n| NotificationBody {
                id: n.notification_id.clone(),
                kind: n.kind.as_str().to_owned(),
                auction_id: n.auction_id.0,
                auction_title: n.auction_title.clone(),
                amount: n.amount.as_ref().map(money),
                occurred_at: n.occurred_at,
                version: n.aggregate_version,
                text: n.text.clone(),
            })
            .collect(),
        next_cursor: found.next_cursor,
    }))
}
