//! One item: the lot an auction sells, and who has owned it. The ownership ledger the payment
//! saga transfers ownership in, kept as events beside the Auction's in the same store.
//!
//! Shape as the Auction's: [`ItemState`] and [`evolve`], then one `decide_*` function per
//! command with the signature `(&ItemState, &Command, now) -> Result<Vec<ItemEvent>,
//! ItemRejection>`. A command that already took effect decides no events: registering the same
//! auction's item again, transferring for the same sale again, reversing a reversed sale.
//! [`ItemState`] implements the store's [`events::Aggregate`] (in `aggregate.rs`).
//!
//! The item's life: the seller registers it when the auction is created (owner = the seller);
//! the payment saga, having charged the buyer, transfers it to the buyer
//! ([`decide_transfer_ownership`]); when the sale cannot complete, the saga reverses that
//! transfer ([`decide_reverse_transfer`]) and the seller owns it again.

mod aggregate;
mod commands;
mod decide;
mod rejection;
mod state;

pub use commands::{RegisterItem, RelistItem, ReverseTransfer, TransferOwnership};
pub use decide::{
    decide_register, decide_relist_item, decide_reverse_transfer, decide_transfer_ownership,
};
pub use events::ItemEvent;
pub use rejection::ItemRejection;
pub use state::{
    Acquisition, Item, ItemState, Ownership, SNAPSHOT_FORMAT, SaleInEffect, evolve, fold,
};

/// The longest sale reference the ledger takes (a saga id is an auction id, `#` and a user id:
/// at most 165 characters).
pub const SALE_MAX_CHARS: usize = 200;
