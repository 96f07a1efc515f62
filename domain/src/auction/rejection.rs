use chrono::{DateTime, TimeDelta, Utc};
use events::{AuctionId, Currency, Money};
use thiserror::Error;

/// Why the auction refused a command. Nothing was changed.
///
/// Each variant says how a caller handles it. Over HTTP: invalid input is 422, a command the
/// current state forbids is 409 (do not retry unchanged; reload and decide again), a forbidden
/// actor is 403, a missing auction 404. [`Rejection::code`] is the stable error code clients
/// match on.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// 404: no auction with this id.
    #[error("there is no such auction")]
    AuctionNotFound,
    /// 409: the id is taken by a different auction; pick a new id.
    #[error("an auction with this id already exists")]
    AuctionAlreadyExists,
    /// 422: fix the title.
    #[error("the title must be 1 to {max} characters after trimming")]
    InvalidTitle { max: usize },
    /// 422: shorten the description.
    #[error("the description must be at most {max} characters")]
    DescriptionTooLong { max: usize },
    /// 422: every amount is a positive number of minor units.
    #[error("{field} must be positive")]
    AmountNotPositive { field: &'static str },
    /// 422: the amount is beyond what the platform accepts.
    #[error("{field} must be at most {max} minor units")]
    AmountTooLarge { field: &'static str, max: i64 },
    /// 422: amounts must be in the auction's currency.
    #[error("{field} is in {given}, but the auction is in {expected}")]
    CurrencyMismatch {
        field: &'static str,
        expected: Currency,
        given: Currency,
    },
    /// 422: a reserve is at least the starting price.
    #[error("the reserve price must be at least the starting price")]
    ReserveBelowStartingPrice,
    /// 422: a buy-now price is above the starting price.
    #[error("the buy-now price must be above the starting price")]
    BuyNowNotAboveStartingPrice,
    /// 422: a buy-now price below the reserve would sell for less than the seller accepts.
    #[error("the buy-now price must be at least the reserve price")]
    BuyNowBelowReserve,
    /// 422: fix the increment policy.
    #[error("invalid bid increment: {reason}")]
    InvalidIncrement { reason: &'static str },
    /// 422: fix the soft-close settings.
    #[error("invalid soft close: {reason}")]
    InvalidSoftClose { reason: &'static str },
    /// 422: the end must come after the start.
    #[error("the end time must be after the start time")]
    EndNotAfterStart,
    /// 422: lengthen the auction.
    #[error("an auction runs at least {min}")]
    DurationTooShort { min: TimeDelta },
    /// 422: shorten the auction.
    #[error("an auction runs at most {max}")]
    DurationTooLong { max: TimeDelta },
    /// 422: start sooner.
    #[error("an auction starts at most {max} ahead")]
    StartTooFarAhead { max: TimeDelta },
    /// 422: the start time lies in the past beyond clock-drift tolerance.
    #[error("the start time is in the past")]
    StartInPast,
    /// 409: bidding has not opened; retry after `starts_at`.
    #[error("the auction starts at {starts_at}")]
    AuctionNotStarted { starts_at: DateTime<Utc> },
    /// 409: bidding is over (the end time passed, or it ended or sold).
    #[error("the auction has ended")]
    AuctionEnded,
    /// 409: the seller withdrew the auction.
    #[error("the auction was cancelled")]
    AuctionCancelled,
    /// 403: sellers may not bid on (or buy) their own item.
    #[error("the seller cannot bid on their own auction")]
    SellerCannotBid,
    /// 422: bid at least `minimum`.
    #[error("the bid must be at least {minimum}")]
    BidTooLow { minimum: Money },
    /// 422: a maximum is at least the bid.
    #[error("the maximum must be at least the bid amount")]
    MaxBelowAmount,
    /// 422: the caller already leads with this maximum or more; only a higher maximum changes
    /// anything (a leader never bids against themselves).
    #[error("you already lead with a maximum of {current_max}")]
    MaxNotAboveCurrentMax { current_max: Money },
    /// 409: this auction has no buy-now price.
    #[error("this auction has no buy-now price")]
    BuyNowNotOffered,
    /// 409: buy-now closed once bidding reached the reserve (or, without one, at the first bid).
    #[error("buy-now is no longer available")]
    BuyNowNoLongerAvailable,
    /// 409: retry after `starts_at` (the scheduler does).
    #[error("too early to start: the auction starts at {starts_at}")]
    TooEarlyToStart { starts_at: DateTime<Utc> },
    /// 409: retry after `ends_at` (the scheduler does; the end may have moved).
    #[error("the auction runs until {ends_at}")]
    AuctionNotOver { ends_at: DateTime<Utc> },
    /// 403: only the seller may do this.
    #[error("only the seller may do this")]
    NotSeller,
    /// 409: an auction with bids cannot be cancelled.
    #[error("the auction has bids")]
    AuctionHasBids,
    /// 409: no payment is due now (not sold, already paid, or already failed).
    #[error("no payment is awaited")]
    NotAwaitingPayment,
    /// 409: the payment is awaited from someone else.
    #[error("the payment is awaited from another buyer")]
    BuyerMismatch,
    /// 409: the amount differs from what is owed.
    #[error("the amount owed is {expected}")]
    PaymentAmountMismatch { expected: Money },
    /// 422: shorten the reason.
    #[error("the reason must be at most {max} characters")]
    ReasonTooLong { max: usize },
    /// 422: a payment reference is 1 to `max` characters.
    #[error("the payment reference must be 1 to {max} characters")]
    InvalidPaymentReference { max: usize },
    /// 409: the item sold (or its buyer's payment is under way): there is nothing to relist.
    #[error("the item sold in this auction")]
    ItemSold,
    /// 409: the item is up again already, as `relisted_as`: go there.
    #[error("the item is already relisted as auction {relisted_as}")]
    AlreadyRelisted { relisted_as: AuctionId },
}

impl Rejection {
    /// The stable, machine-readable code (the `code` of an HTTP problem document).
    pub fn code(&self) -> &'static str {
        match self {
            Self::AuctionNotFound => "AUCTION_NOT_FOUND",
            Self::AuctionAlreadyExists => "AUCTION_ALREADY_EXISTS",
            Self::InvalidTitle { .. } => "INVALID_TITLE",
            Self::DescriptionTooLong { .. } => "INVALID_DESCRIPTION",
            Self::AmountNotPositive { .. } | Self::AmountTooLarge { .. } => "INVALID_AMOUNT",
            Self::CurrencyMismatch { .. } => "CURRENCY_MISMATCH",
            Self::ReserveBelowStartingPrice => "INVALID_RESERVE_PRICE",
            Self::BuyNowNotAboveStartingPrice | Self::BuyNowBelowReserve => "INVALID_BUY_NOW_PRICE",
            Self::InvalidIncrement { .. } => "INVALID_INCREMENT",
            Self::InvalidSoftClose { .. } => "INVALID_SOFT_CLOSE",
            Self::EndNotAfterStart
            | Self::DurationTooShort { .. }
            | Self::DurationTooLong { .. }
            | Self::StartTooFarAhead { .. }
            | Self::StartInPast => "INVALID_SCHEDULE",
            Self::AuctionNotStarted { .. } => "AUCTION_NOT_ACTIVE",
            Self::AuctionEnded => "AUCTION_ENDED",
            Self::AuctionCancelled => "AUCTION_CANCELLED",
            Self::SellerCannotBid => "SELLER_CANNOT_BID",
            Self::BidTooLow { .. } => "BID_TOO_LOW",
            Self::MaxBelowAmount => "MAX_BELOW_AMOUNT",
            Self::MaxNotAboveCurrentMax { .. } => "MAX_NOT_RAISED",
            Self::BuyNowNotOffered => "BUY_NOW_NOT_OFFERED",
            Self::BuyNowNoLongerAvailable => "BUY_NOW_UNAVAILABLE",
            Self::TooEarlyToStart { .. } => "TOO_EARLY_TO_START",
            Self::AuctionNotOver { .. } => "AUCTION_NOT_OVER",
            Self::NotSeller => "NOT_SELLER",
            Self::AuctionHasBids => "AUCTION_HAS_BIDS",
            Self::NotAwaitingPayment => "NOT_AWAITING_PAYMENT",
            Self::BuyerMismatch => "BUYER_MISMATCH",
            Self::PaymentAmountMismatch { .. } => "PAYMENT_AMOUNT_MISMATCH",
            Self::ReasonTooLong { .. } => "INVALID_REASON",
            Self::InvalidPaymentReference { .. } => "INVALID_PAYMENT_REFERENCE",
            Self::ItemSold => "ITEM_SOLD",
            Self::AlreadyRelisted { .. } => "ALREADY_RELISTED",
        }
    }
}
