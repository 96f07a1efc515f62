use chrono::{DateTime, Utc};
use events::{AuctionId, ItemId, Money, UserId};
use serde::{Deserialize, Serialize};

use super::ItemEvent;

/// What the item's ledger knows after folding its events: everything a decision needs, and the
/// provenance a reader asks for (every owner, since when, and how each came by it).
///
/// Serializable so that the event store can keep snapshots of it; see [`SNAPSHOT_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ItemState {
    /// The number of events folded so far.
    pub version: u64,
    /// `None` until the item is registered.
    pub item: Option<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    /// The auction it was registered for.
    pub auction_id: AuctionId,
    /// The auction that sells it now: the one it was registered for, or its latest relisting.
    /// Only that auction's sale can transfer it.
    pub listed_in: AuctionId,
    pub title: String,
    /// Who owns it now (the last of `owners`).
    pub owner: UserId,
    /// Every owner from the first, oldest first: the last one is the current owner, the only
    /// one without an `until`.
    pub owners: Vec<Ownership>,
    /// The sale by which the current owner holds it; `None` while the seller (the registered
    /// owner, or the seller of a reversed sale) has it.
    pub sale: Option<SaleInEffect>,
}

/// One owner's time with the item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    pub owner: UserId,
    pub from: DateTime<Utc>,
    /// When the next owner got it; `None` for the current owner.
    pub until: Option<DateTime<Utc>>,
    /// How they came by it.
    pub acquired: Acquisition,
}

/// How an owner came by the item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Acquisition {
    /// Registered as its first owner: the seller, when the auction was created.
    Registered { auction_id: AuctionId },
    /// Bought it by the sale `sale` in the auction `auction_id` at `price`.
    Bought {
        auction_id: AuctionId,
        price: Money,
        sale: String,
    },
    /// Had it back when the sale `sale` was reversed.
    Returned {
        auction_id: AuctionId,
        sale: String,
        reason: String,
    },
}

/// The transfer the current owner holds the item by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleInEffect {
    pub sale: String,
    pub auction_id: AuctionId,
    pub seller: UserId,
    pub buyer: UserId,
    pub price: Money,
    pub transferred_at: DateTime<Utc>,
}

impl Item {
    /// Whether a transfer by `sale` ever took effect (whether or not it was reversed since).
    pub fn transferred_by(&self, sale: &str) -> bool {
        self.owners
            .iter()
            .any(|o| matches!(&o.acquired, Acquisition::Bought { sale: s, .. } if s == sale))
    }

    /// Whether the transfer by `sale` was reversed.
    pub fn reversed(&self, sale: &str) -> bool {
        self.owners
            .iter()
            .any(|o| matches!(&o.acquired, Acquisition::Returned { sale: s, .. } if s == sale))
    }

    /// Who registered it: its first owner.
    pub fn registered_owner(&self) -> &UserId {
        self.owners
            .first()
            .map_or(&self.owner, |first| &first.owner)
    }

    /// The current owner takes over from `at`, having come by it `acquired`.
    fn hand_over(&mut self, to: &UserId, at: DateTime<Utc>, acquired: Acquisition) {
        if let Some(current) = self.owners.last_mut() {
            current.until = Some(at);
        }
        self.owners.push(Ownership {
            owner: to.clone(),
            from: at,
            until: None,
            acquired,
        });
        self.owner = to.clone();
    }
}

/// Names the serialized shape of [`ItemState`]. Bump it whenever that shape or the meaning of a
/// field changes: stored snapshots of another format are ignored and the state is rebuilt from
/// the events.
pub const SNAPSHOT_FORMAT: u32 = 2;

/// Applies one event. Total: an event that does not fit the state (which decisions never emit)
/// only advances the version, so folding a damaged log cannot panic.
pub fn evolve(mut state: ItemState, event: &ItemEvent) -> ItemState {
    state.version += 1;
    match (event, state.item.as_mut()) {
        (ItemEvent::ItemRegistered(registered), None) => {
            state.item = Some(Item {
                id: registered.item_id,
                auction_id: registered.auction_id,
                listed_in: registered.auction_id,
                title: registered.title.clone(),
                owner: registered.owner.clone(),
                owners: vec![Ownership {
                    owner: registered.owner.clone(),
                    from: registered.registered_at,
                    until: None,
                    acquired: Acquisition::Registered {
                        auction_id: registered.auction_id,
                    },
                }],
                sale: None,
            });
        }
        (ItemEvent::OwnershipTransferred(transferred), Some(item)) => {
            item.hand_over(
                &transferred.to,
                transferred.transferred_at,
                Acquisition::Bought {
                    auction_id: transferred.auction_id,
                    price: transferred.price.clone(),
                    sale: transferred.sale.clone(),
                },
            );
            item.sale = Some(SaleInEffect {
                sale: transferred.sale.clone(),
                auction_id: transferred.auction_id,
                seller: transferred.from.clone(),
                buyer: transferred.to.clone(),
                price: transferred.price.clone(),
                transferred_at: transferred.transferred_at,
            });
        }
        (ItemEvent::TransferReversed(reversed), Some(item)) => {
            item.hand_over(
                &reversed.to,
                reversed.reversed_at,
                Acquisition::Returned {
                    auction_id: reversed.auction_id,
                    sale: reversed.sale.clone(),
                    reason: reversed.reason.clone(),
                },
            );
            item.sale = None;
        }
        (ItemEvent::ItemRelisted(relisted), Some(item)) => item.listed_in = relisted.auction_id,
        // Registered twice, or changing hands before it exists: nothing a decision emits.
        (ItemEvent::ItemRegistered(_), Some(_))
        | (
            ItemEvent::OwnershipTransferred(_)
            | ItemEvent::TransferReversed(_)
            | ItemEvent::ItemRelisted(_),
            None,
        ) => {}
    }
    state
}

/// Folds events from the empty state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a ItemEvent>) -> ItemState {
    events.into_iter().fold(ItemState::default(), evolve)
}
