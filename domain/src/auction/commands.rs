use chrono::{DateTime, Utc};
use events::{AuctionId, BidId, Currency, IncrementPolicy, Money, SoftClose, UserId};

/// Put an item up for auction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAuction {
    pub auction_id: AuctionId,
    pub seller_id: UserId,
    pub title: String,
    pub description: Option<String>,
    pub currency: Currency,
    pub starting_price: Money,
    pub reserve_price: Option<Money>,
    pub buy_now_price: Option<Money>,
    /// `None` takes [`rules::default_increment`](crate::rules::default_increment).
    pub increment: Option<IncrementPolicy>,
    /// `None`, or a time that has already come, starts the auction at once.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: DateTime<Utc>,
    /// `None` takes [`rules::DEFAULT_SOFT_CLOSE`](crate::rules::DEFAULT_SOFT_CLOSE).
    pub soft_close: Option<SoftClose>,
}

/// Open bidding at the scheduled start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StartAuction;

/// A user asks to open bidding: [`StartAuction`], which only the seller may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestStart {
    pub requested_by: UserId,
}

/// Bid `amount` now, and let the platform bid on up to `max_amount` (proxy bidding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceBid {
    /// Kept by a retried command: a bid id that already took effect decides to no events.
    pub bid_id: BidId,
    pub bidder_id: UserId,
    pub amount: Money,
    pub max_amount: Option<Money>,
}

/// End the auction at once by paying the buy-now price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyNow {
    pub purchase_id: BidId,
    pub buyer_id: UserId,
}

/// Close bidding once the (possibly extended) end time has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndAuction;

/// Withdraw the auction; only its seller may, and only before the first bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelAuction {
    pub requested_by: UserId,
    pub reason: Option<String>,
}

/// The payment saga charged the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPaymentSucceeded {
    pub buyer_id: UserId,
    pub amount: Money,
    pub payment_reference: String,
}

/// The payment saga gave up on the buyer's payment (after its compensations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPaymentFailed {
    pub buyer_id: UserId,
    pub reason: String,
}

/// The seller puts the item the auction did not sell up again, as the new auction
/// `relisted_as` ([`AuctionId::relisting`] of this one), bidding from `starts_at` (`None`: at
/// once) to `ends_at`, on the same terms otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelistAuction {
    pub seller_id: UserId,
    pub relisted_as: AuctionId,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: DateTime<Utc>,
}
