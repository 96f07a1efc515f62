use chrono::{DateTime, Utc};
use events::{ItemRegistered, ItemRelisted, OwnershipTransferred, TransferReversed};

use super::commands::{RegisterItem, RelistItem, ReverseTransfer, TransferOwnership};
use super::rejection::ItemRejection;
use super::state::{Item, ItemState};
use super::{ItemEvent, SALE_MAX_CHARS};
use crate::rules::{REASON_MAX_CHARS, TITLE_MAX_CHARS};

/// What every decider returns: the events to append, or why the command was refused.
pub type Decision = Result<Vec<ItemEvent>, ItemRejection>;

fn existing(state: &ItemState) -> Result<&Item, ItemRejection> {
    state.item.as_ref().ok_or(ItemRejection::NotRegistered)
}

fn check_sale(sale: &str) -> Result<(), ItemRejection> {
    let len = sale.chars().count();
    if (1..=SALE_MAX_CHARS).contains(&len) && !sale.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ItemRejection::InvalidSale {
            max: SALE_MAX_CHARS,
        })
    }
}

/// Registers the item, owned by the auction's seller. Registering it again for the same
/// auction and seller (a retried creation) decides nothing; for another auction or seller it
/// is refused.
pub fn decide_register(state: &ItemState, command: &RegisterItem, now: DateTime<Utc>) -> Decision {
    if let Some(item) = &state.item {
        if item.auction_id == command.auction_id && *item.registered_owner() == command.owner {
            return Ok(vec![]);
        }
        return Err(ItemRejection::AlreadyRegistered {
            auction_id: item.auction_id,
            owner: item.registered_owner().clone(),
        });
    }
    let title = command.title.trim();
    if title.is_empty() || title.chars().count() > TITLE_MAX_CHARS {
        return Err(ItemRejection::InvalidTitle {
            max: TITLE_MAX_CHARS,
        });
    }
    Ok(vec![ItemEvent::ItemRegistered(ItemRegistered {
        item_id: command.item_id,
        auction_id: command.auction_id,
        owner: command.owner.clone(),
        title: title.to_owned(),
        registered_at: now,
    })])
}

/// Hands the item from its owner to the buyer of `sale`. A sale whose transfer took effect
/// before (even if it was reversed since) decides nothing: the transfer is not made twice.
pub fn decide_transfer_ownership(
    state: &ItemState,
    command: &TransferOwnership,
    now: DateTime<Utc>,
) -> Decision {
    let item = existing(state)?;
    if item.transferred_by(&command.sale) {
        return Ok(vec![]);
    }
    check_sale(&command.sale)?;
    if command.price.amount_minor <= 0 {
        return Err(ItemRejection::PriceNotPositive);
    }
    if item.listed_in != command.auction_id {
        return Err(ItemRejection::ListedElsewhere {
            listed_in: item.listed_in,
        });
    }
    if item.owner != command.from {
        return Err(ItemRejection::NotTheOwner {
            owner: item.owner.clone(),
        });
    }
    if command.to == command.from {
        return Err(ItemRejection::TransferToSelf);
    }
    Ok(vec![ItemEvent::OwnershipTransferred(
        OwnershipTransferred {
            item_id: item.id,
            auction_id: command.auction_id,
            from: command.from.clone(),
            to: command.to.clone(),
            price: command.price.clone(),
            sale: command.sale.clone(),
            transferred_at: now,
        },
    )])
}

/// Gives the item back to the seller of `sale`, from its buyer. Only the transfer in effect
/// can be reversed; reversing a sale already reversed decides nothing.
pub fn decide_reverse_transfer(
    state: &ItemState,
    command: &ReverseTransfer,
    now: DateTime<Utc>,
) -> Decision {
    let item = existing(state)?;
    if item.reversed(&command.sale) {
        return Ok(vec![]);
    }
    if command.reason.chars().count() > REASON_MAX_CHARS {
        return Err(ItemRejection::ReasonTooLong {
            max: REASON_MAX_CHARS,
        });
    }
    let Some(sale) = item.sale.as_ref().filter(|s| s.sale == command.sale) else {
        return Err(ItemRejection::NoTransferToReverse);
    };
    if command.from != item.owner {
        return Err(ItemRejection::NotTheOwner {
            owner: item.owner.clone(),
        });
    }
    if command.to != sale.seller {
        return Err(ItemRejection::NotTheSeller {
            seller: sale.seller.clone(),
        });
    }
    Ok(vec![ItemEvent::TransferReversed(TransferReversed {
        item_id: item.id,
        auction_id: sale.auction_id,
        from: command.from.clone(),
        to: command.to.clone(),
        sale: command.sale.clone(),
        reason: command.reason.clone(),
        reversed_at: now,
    })])
}

/// Moves the item to the auction that relists it. Asked again for the same auction, nothing to
/// decide; the item must still be listed in the auction that did not sell it, and be its
/// owner's, held by no sale.
pub fn decide_relist_item(state: &ItemState, command: &RelistItem, now: DateTime<Utc>) -> Decision {
    let item = existing(state)?;
    if item.listed_in == command.auction_id {
        return Ok(vec![]);
    }
    if item.listed_in != command.previous_auction_id {
        return Err(ItemRejection::ListedElsewhere {
            listed_in: item.listed_in,
        });
    }
    if item.owner != command.owner || item.sale.is_some() {
        return Err(ItemRejection::NotTheOwner {
            owner: item.owner.clone(),
        });
    }
    Ok(vec![ItemEvent::ItemRelisted(ItemRelisted {
        item_id: item.id,
        auction_id: command.auction_id,
        previous_auction_id: command.previous_auction_id,
        owner: command.owner.clone(),
        relisted_at: now,
    })])
}
