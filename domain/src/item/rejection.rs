use events::{AuctionId, UserId};
use thiserror::Error;

/// Why the item refused a command. Nothing was changed.
///
/// Each variant says how a caller handles it. The payment saga takes every one as a refusal of
/// its step (a forward step compensates; a compensation stops for a human); over HTTP, a
/// missing item is 404, invalid input 422, and a command the state forbids 409.
/// [`ItemRejection::code`] is the stable error code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ItemRejection {
    /// No such item in the ledger: it was never registered. (404)
    #[error("the item is not registered")]
    NotRegistered,
    /// The item is registered already, for another auction or another seller. (409)
    #[error("the item is already registered, by {owner} for auction {auction_id}")]
    AlreadyRegistered {
        auction_id: AuctionId,
        owner: UserId,
    },
    /// Only the owner's item can be handed over, and only its holder can hand it back. (409:
    /// the ledger says someone else owns it)
    #[error("the item belongs to {owner}")]
    NotTheOwner { owner: UserId },
    /// A reversal gives the item back to the seller of the sale it reverses, nobody else. (409)
    #[error("the sale being reversed was {seller}'s")]
    NotTheSeller { seller: UserId },
    /// An owner does not buy their own item. (409)
    #[error("the item cannot be transferred to its owner")]
    TransferToSelf,
    /// No transfer by this sale is in effect: it never took place, or a later one replaced it.
    /// (409)
    #[error("no transfer by this sale is in effect")]
    NoTransferToReverse,
    /// 422: a title is 1 to `max` characters after trimming.
    #[error("the title must be 1 to {max} characters after trimming")]
    InvalidTitle { max: usize },
    /// 422: a sale reference is 1 to `max` characters.
    #[error("the sale reference must be 1 to {max} characters")]
    InvalidSale { max: usize },
    /// 422: a sale's price is a positive amount.
    #[error("the price must be positive")]
    PriceNotPositive,
    /// 422: shorten the reason.
    #[error("the reason must be at most {max} characters")]
    ReasonTooLong { max: usize },
    /// Another auction sells the item now (it was relisted): only that one's sale or
    /// relisting can move it. (409)
    #[error("the item is listed in auction {listed_in}")]
    ListedElsewhere { listed_in: AuctionId },
}

impl ItemRejection {
    /// The stable, machine-readable code (the `code` of an HTTP problem document).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotRegistered => "ITEM_NOT_FOUND",
            Self::AlreadyRegistered { .. } => "ITEM_ALREADY_REGISTERED",
            Self::NotTheOwner { .. } => "NOT_THE_OWNER",
            Self::NotTheSeller { .. } => "NOT_THE_SELLER",
            Self::TransferToSelf => "TRANSFER_TO_SELF",
            Self::NoTransferToReverse => "NO_TRANSFER_TO_REVERSE",
            Self::InvalidTitle { .. } => "INVALID_TITLE",
            Self::InvalidSale { .. } => "INVALID_SALE",
            Self::PriceNotPositive => "INVALID_AMOUNT",
            Self::ReasonTooLong { .. } => "INVALID_REASON",
            Self::ListedElsewhere { .. } => "ITEM_LISTED_ELSEWHERE",
        }
    }
}
