//! The bidder routes' request and response bodies and query parameters, with their OpenAPI
//! schemas, and how the domain's state and the read models' rows become them. No handler here:
//! a body's shape is the contract, and changing it is changing `openapi.json`.

use chrono::{DateTime, Utc};
use domain::{State as Aggregate, Status};
use events::{AuctionResult, Currency, Money, UnsoldReason, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;

// ------------------------------------------------------------------------------- commands

/// How much a bid must exceed the current price by.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum IncrementRequest {
    #[serde(rename_all = "camelCase")]
    Fixed {
        amount_minor: i64,
    },
    Tiered {
        bands: Vec<IncrementBandRequest>,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncrementBandRequest {
    pub from_minor: i64,
    pub increment_minor: i64,
}

/// Anti-sniping: a bid less than `windowSeconds` before the end moves the end
/// `extensionSeconds` later.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoftCloseRequest {
    pub window_seconds: u32,
    pub extension_seconds: u32,
}

/// An auction to create. Amounts are integer minor units of `currency`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateAuctionRequest {
    pub title: String,
    pub description: Option<String>,
    /// ISO 4217 code, e.g. `EUR`.
    #[schema(value_type = String, example = "EUR")]
    pub currency: Currency,
    pub starting_price: i64,
    pub reserve_price: Option<i64>,
    pub buy_now_price: Option<i64>,
    pub increment: Option<IncrementRequest>,
    /// Absent, or already past: the auction starts at once.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: DateTime<Utc>,
    pub soft_close: Option<SoftCloseRequest>,
}

/// A bid: `amount` now, and proxy bidding up to `maxAmount`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceBidRequest {
    pub amount: i64,
    pub max_amount: Option<i64>,
    #[schema(value_type = String, example = "EUR")]
    pub currency: Currency,
}

/// When the relisted item is up for bids; every other term is the unsold auction's.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelistRequest {
    /// Absent, or a time that has come: bidding opens at once.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    pub reason: Option<String>,
}

/// The read models' status is the API's: one definition, with its schema.
pub use read_models::AuctionStatus;

/// The auction after a command: its id, version and status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionChanged {
    pub auction_id: Uuid,
    pub version: u64,
    pub status: AuctionStatus,
}

/// An amount of money in integer minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoneyBody {
    pub amount_minor: i64,
    pub currency: String,
}

impl From<&Money> for MoneyBody {
    fn from(money: &Money) -> Self {
        Self {
            amount_minor: money.amount_minor,
            currency: money.currency.to_string(),
        }
    }
}

/// The answer to an accepted bid; a retry with the same key gets the same answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidAccepted {
    pub accepted: bool,
    pub bid_id: Uuid,
    pub current_price: MoneyBody,
    /// Whether the caller leads after this bid.
    pub leading: bool,
    pub version: u64,
}

/// The answer to a completed buy-now purchase.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Purchase {
    pub purchase_id: Uuid,
    pub auction_id: Uuid,
    pub price: MoneyBody,
    pub version: u64,
    pub status: AuctionStatus,
}

// -------------------------------------------------------------------------------- queries

/// One auction as a bidder may see it: never other bidders' maximums, never the reserve.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionView {
    pub id: Uuid,
    /// The item it sells, in the ownership ledger: `GET /items/{itemId}/provenance`.
    pub item_id: Uuid,
    pub title: String,
    pub seller_id: String,
    pub status: AuctionStatus,
    pub currency: String,
    pub starting_price: MoneyBody,
    /// Absent until the first bid.
    pub current_price: Option<MoneyBody>,
    pub bid_count: u32,
    /// Whether the caller is the leading bidder.
    pub leading: bool,
    pub has_reserve: bool,
    pub reserve_met: bool,
    pub buy_now_price: Option<MoneyBody>,
    pub starts_at: DateTime<Utc>,
    /// The current end, after any soft-close extensions.
    pub ends_at: DateTime<Utc>,
    /// How it ended; absent until it has.
    pub result: Option<AuctionResultBody>,
    /// The earlier auction whose unsold item this one puts up again.
    pub relisted_from: Option<Uuid>,
    /// The auction its seller put the unsold item up again as.
    pub relisted_as: Option<Uuid>,
    pub version: u64,
}

impl AuctionView {
    /// The auction as `caller` may see it, from its state in the log.
    pub fn from_state(state: &Aggregate, caller: &UserId) -> Result<Self, ApiError> {
        let auction = state
            .auction
            .as_ref()
            .ok_or_else(ApiError::auction_not_found)?;
        Ok(Self {
            id: auction.id.0,
            item_id: auction.item_id.0,
            title: auction.title.clone(),
            seller_id: auction.seller_id.to_string(),
            status: AuctionStatus::from(&auction.status),
            currency: auction.currency.to_string(),
            starting_price: MoneyBody::from(&auction.money(auction.starting_price)),
            current_price: auction.price.map(|p| MoneyBody::from(&auction.money(p))),
            bid_count: auction.bid_count,
            leading: auction.leader.as_ref() == Some(caller),
            has_reserve: auction.reserve_price.is_some(),
            reserve_met: auction.reserve_met(),
            buy_now_price: auction
                .buy_now_price
                .map(|p| MoneyBody::from(&auction.money(p))),
            starts_at: auction.starts_at,
            ends_at: auction.ends_at,
            result: match &auction.status {
                Status::Ended(result) => Some(AuctionResultBody::from(result)),
                _ => None,
            },
            relisted_from: auction.relisted_from.map(|id| id.0),
            relisted_as: auction.relisted_as.map(|id| id.0),
            version: state.version,
        })
    }

    /// The read model's view as `caller` may see it.
    pub fn from_view(view: &read_models::AuctionView, caller: &UserId) -> Self {
        Self {
            id: view.auction_id.0,
            item_id: view.item().0,
            title: view.title.clone(),
            seller_id: view.seller_id.to_string(),
            status: view.status,
            currency: view.currency.to_string(),
            starting_price: MoneyBody::from(&view.starting_price),
            current_price: view.current_price.as_ref().map(MoneyBody::from),
            bid_count: view.bid_count,
            leading: view.leader_id.as_ref() == Some(caller),
            has_reserve: view.has_reserve,
            reserve_met: view.reserve_met,
            buy_now_price: view.buy_now_price.as_ref().map(MoneyBody::from),
            starts_at: view.starts_at,
            ends_at: view.ends_at,
            result: view.result.as_ref().map(AuctionResultBody::from),
            relisted_from: view.relisted_from.map(|id| id.0),
            relisted_as: view.relisted_as.map(|id| id.0),
            version: view.version,
        }
    }
}

/// How an auction ended: `sold` to `winnerId` at `finalPrice`, or `unsold` for `reason`
/// (`noBids`, `reserveNotMet`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionResultBody {
    pub outcome: AuctionOutcome,
    pub winner_id: Option<String>,
    pub final_price: Option<MoneyBody>,
    pub reason: Option<UnsoldReasonBody>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AuctionOutcome {
    Sold,
    Unsold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum UnsoldReasonBody {
    NoBids,
    ReserveNotMet,
}

impl From<&AuctionResult> for AuctionResultBody {
    fn from(result: &AuctionResult) -> Self {
        match result {
            AuctionResult::Sold {
                winner_id,
                final_price,
            } => Self {
                outcome: AuctionOutcome::Sold,
                winner_id: Some(winner_id.to_string()),
                final_price: Some(MoneyBody::from(final_price)),
                reason: None,
            },
            AuctionResult::Unsold { reason } => Self {
                outcome: AuctionOutcome::Unsold,
                winner_id: None,
                final_price: None,
                reason: Some(match reason {
                    UnsoldReason::NoBids => UnsoldReasonBody::NoBids,
                    UnsoldReason::ReserveNotMet => UnsoldReasonBody::ReserveNotMet,
                }),
            },
        }
    }
}

/// One accepted bid in the history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidEntry {
    pub bid_id: Uuid,
    /// The bidder: the caller's own id on their bids, another bidder's masked (`b***b`), or
    /// `erased:<key id>` for a forgotten one.
    #[schema(example = "b***b")]
    pub bidder_id: String,
    /// Whether the caller placed this bid.
    pub yours: bool,
    pub amount: MoneyBody,
    /// The visible price after this bid (proxy bidding may have answered it).
    pub new_price: MoneyBody,
    pub placed_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidHistory {
    pub auction_id: Uuid,
    /// Newest first; at most `limit`, and fewer when the auction's other events (its start,
    /// raised maximums, extensions) fell in the part of its history this page read.
    pub bids: Vec<BidEntry>,
    /// The next, older page's cursor; null on the page that reached the auction's first
    /// event.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

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

/// One page of auctions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionPage {
    pub items: Vec<AuctionView>,
    /// Present when there may be more: pass it as `cursor`.
    pub next_cursor: Option<String>,
}

/// Where the seller's money for an auction stands. The payment saga pays the seller out
/// before it records the buyer's payment, so a paid item is a paid-out one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum PayoutState {
    /// Nothing to pay out: not sold (yet, or at all).
    None,
    /// Sold: the buyer's payment and the payout are under way (after a failed payment, the
    /// runner-up's).
    Pending,
    /// The buyer paid and the seller was paid out.
    PaidOut,
    /// The sale's payment failed for good: there is no payout.
    Failed,
}

impl PayoutState {
    /// From the view: its result and settlement.
    pub fn of(view: &read_models::AuctionView) -> Self {
        use read_models::PaymentStatus as P;
        let sold = matches!(view.result, Some(events::AuctionResult::Sold { .. }));
        match view.settlement.as_ref().map(|settlement| settlement.status) {
            Some(P::Paid) => Self::PaidOut,
            Some(P::Failed) => Self::Failed,
            Some(P::AwaitingPayment) => Self::Pending,
            None if sold => Self::Pending,
            None => Self::None,
        }
    }
}

/// One of the caller's own auctions, as its seller sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyAuction {
    /// The auction as everyone sees it: status, bid count, whether the reserve is met, result.
    pub auction: AuctionView,
    pub payout: PayoutState,
    /// Who owes the sale's price now (the winner, or the runner-up it was offered to).
    pub buyer_id: Option<String>,
    /// It is over without a sale and not relisted yet: `POST /auctions/{id}/relist` puts the
    /// item up again.
    pub relistable: bool,
}

impl MyAuction {
    pub fn from_view(view: &read_models::AuctionView, caller: &UserId) -> Self {
        Self {
            auction: AuctionView::from_view(view, caller),
            payout: PayoutState::of(view),
            buyer_id: view
                .settlement
                .as_ref()
                .map(|settlement| settlement.buyer_id.to_string()),
            relistable: view.relistable(),
        }
    }
}

/// An auction on the caller's watchlist, as it stands now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WatchedAuction {
    pub auction: AuctionView,
    /// When the caller put it on the watchlist.
    pub watched_at: DateTime<Utc>,
}

/// One page of the caller's watchlist, ordered by auction id.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WatchlistPage {
    pub items: Vec<WatchedAuction>,
    /// Present when there may be more: pass it as `cursor`.
    pub next_cursor: Option<String>,
}

/// One page of the caller's own auctions, latest end first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyAuctionsPage {
    pub items: Vec<MyAuction>,
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

impl From<&read_models::UserBid> for MyBid {
    fn from(row: &read_models::UserBid) -> Self {
        use read_models::BidStatus as S;
        Self {
            auction_id: row.auction_id.0,
            title: row.title.clone(),
            status: match row.status {
                S::Leading => MyBidStatus::Leading,
                S::Outbid => MyBidStatus::Outbid,
                S::Won => MyBidStatus::Won,
                S::Lost => MyBidStatus::Lost,
                S::Cancelled => MyBidStatus::Cancelled,
            },
            auction_status: row.auction_status,
            my_highest_bid: MoneyBody::from(&row.my_highest_bid),
            my_max_bid: MoneyBody::from(&row.my_max_bid),
            current_price: row.current_price.as_ref().map(MoneyBody::from),
            ends_at: row.ends_at,
            last_bid_at: row.last_bid_at,
            amount_due: row.amount_due.as_ref().map(MoneyBody::from),
            payment: row.payment.map(|payment| match payment {
                read_models::PaymentStatus::AwaitingPayment => PaymentStatus::AwaitingPayment,
                read_models::PaymentStatus::Paid => PaymentStatus::Paid,
                read_models::PaymentStatus::Failed => PaymentStatus::Failed,
            }),
            version: row.version,
        }
    }
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
    /// `paymentReceived`, `buyerPaymentFailed`, `offeredToYou`, `cancelled`, `endingSoon`, ...
    pub kind: String,
    pub auction_id: Uuid,
    pub auction_title: String,
    pub amount: Option<MoneyBody>,
    pub occurred_at: DateTime<Utc>,
    /// The auction's version whose event this is about (0 for `endingSoon`, which no event
    /// causes).
    pub version: u64,
    pub text: String,
}

impl From<&read_models::notifications::Notification> for NotificationBody {
    fn from(n: &read_models::notifications::Notification) -> Self {
        Self {
            id: n.notification_id.clone(),
            kind: n.kind.as_str().to_owned(),
            auction_id: n.auction_id.0,
            auction_title: n.auction_title.clone(),
            amount: n.amount.as_ref().map(MoneyBody::from),
            occurred_at: n.occurred_at,
            version: n.aggregate_version,
            text: n.text.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsPage {
    pub items: Vec<NotificationBody>,
    pub next_cursor: Option<String>,
}

/// What the caller gets by email besides the in-app inbox, and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPreferences {
    /// Where emails go: the verified address of the account when the preferences were saved
    /// (until then, the signed-in account's verified address, if any). `null`: nowhere.
    pub email: Option<String>,
    /// When you are outbid.
    pub outbid: bool,
    /// When you win an auction, or an item is offered to you after the winner did not pay.
    pub won: bool,
    /// When an auction you bid on ends without you, or is cancelled.
    pub lost: bool,
    /// About your payments, and your buyers'.
    pub payment: bool,
    /// (sellers) When your items sell or do not.
    pub selling: bool,
    /// When an auction on your watchlist ends within the hour.
    pub ending_soon: bool,
    /// When they were last saved (or changed by an unsubscribe link); `null` when never
    /// saved: nothing is emailed until they are.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The topics to email the caller about; every field is required. Saving stores the signed-in
/// account's verified email address as where they go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetNotificationPreferences {
    pub outbid: bool,
    pub won: bool,
    pub lost: bool,
    pub payment: bool,
    pub selling: bool,
    /// Optional (added later): off when absent.
    #[serde(default)]
    pub ending_soon: bool,
}

/// The token of an unsubscribe link (from an email's link or `List-Unsubscribe` header).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    /// The token the email carried.
    #[param(max_length = 1024)]
    pub token: String,
}

/// What an unsubscribe link turned off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unsubscribed {
    /// The topic turned off (`outbid`, `won`, `lost`, `payment`, `selling`), or `all`.
    pub topic: String,
    /// For people: which emails stop.
    pub message: String,
}

/// A photo the seller is about to upload, as the browser knows it before sending.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddPhotoRequest {
    /// `image/jpeg`, `image/png` or `image/webp`: S3 refuses the upload if the file is sent as
    /// another type.
    pub content_type: String,
    /// The file's size in bytes, at most 10 MiB: S3 refuses the upload if the file differs.
    pub size: u64,
}

/// One field of an upload form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FormField {
    pub name: String,
    pub value: String,
}

/// Where and how to upload one photo: post `fields` in order, then the file as `file`, as
/// multipart/form-data to `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhotoUpload {
    pub photo_id: Uuid,
    pub url: String,
    pub fields: Vec<FormField>,
    pub expires_at: DateTime<Utc>,
}

/// One photo of an auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhotoView {
    pub photo_id: Uuid,
    /// The thumbnail (a JPEG that fits in 480 x 480).
    pub thumbnail_url: String,
}

/// An auction's photos, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuctionPhotos {
    pub photos: Vec<PhotoView>,
}

/// What became of an uploaded photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhotoStatus {
    pub photo_id: Uuid,
    /// `pending`, `ready` or `refused`.
    pub status: String,
    /// When `ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// When `refused`: why, for the seller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}
