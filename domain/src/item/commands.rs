use events::{AuctionId, ItemId, Money, UserId};

/// Enter the item an auction sells in the ledger, owned by its seller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterItem {
    pub item_id: ItemId,
    /// The auction that sells it.
    pub auction_id: AuctionId,
    /// The seller.
    pub owner: UserId,
    /// The auction's title.
    pub title: String,
}

/// Hand the item over to its buyer: the sale `sale` (the payment saga's id) moved it from
/// `from` (the seller, who must own it) to `to` (the buyer) at `price`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOwnership {
    pub sale: String,
    pub auction_id: AuctionId,
    pub from: UserId,
    pub to: UserId,
    pub price: Money,
}

/// Undo the transfer of the sale `sale`: the item goes back from `from` (the buyer, who must
/// hold it by that sale) to `to` (the sale's seller), because the sale could not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseTransfer {
    pub sale: String,
    pub auction_id: AuctionId,
    pub from: UserId,
    pub to: UserId,
    pub reason: String,
}

/// Move the item, unsold by `previous_auction_id`, to the auction that relists it,
/// `auction_id`. Only its owner (the seller, holding it by no sale) may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelistItem {
    pub auction_id: AuctionId,
    pub previous_auction_id: AuctionId,
    pub owner: UserId,
}
