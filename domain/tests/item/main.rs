//! The Item's rules (the ownership ledger), each accepted and rejected, in given/when/then form.
// In tests a panic is a failed assertion; clippy's in-test allowance does not reach helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeDelta, Utc};
use domain::item::*;
use domain::testing::{Given, ItemAggregate};
use events::{
    AuctionId, Currency, ItemId, ItemRegistered, ItemRelisted, Money, OwnershipTransferred,
    TransferReversed, UserId,
};
use uuid::Uuid;

const AUCTION: AuctionId = AuctionId(Uuid::from_u128(0xA));

type History = Given<ItemAggregate>;

fn item_id() -> ItemId {
    ItemId::for_auction(AUCTION)
}

/// `secs` seconds after the test epoch (2026-01-01T00:00:00Z).
fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap() + TimeDelta::seconds(secs)
}

fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, Currency::try_from("EUR").unwrap())
}

fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap()
}

fn sale_of(buyer: &str) -> String {
    format!("{AUCTION}#{buyer}")
}

// Commands.

fn register() -> RegisterItem {
    RegisterItem {
        item_id: item_id(),
        auction_id: AUCTION,
        owner: user("sally"),
        title: "Leica M6".to_owned(),
    }
}

/// Sally's item to `buyer` at 46.00 by the buyer's sale.
fn transfer_to(buyer: &str) -> TransferOwnership {
    TransferOwnership {
        sale: sale_of(buyer),
        auction_id: AUCTION,
        from: user("sally"),
        to: user(buyer),
        price: eur(4_600),
    }
}

/// `buyer`'s sale undone: the item back to sally.
fn reverse_from(buyer: &str) -> ReverseTransfer {
    ReverseTransfer {
        sale: sale_of(buyer),
        auction_id: AUCTION,
        from: user(buyer),
        to: user("sally"),
        reason: "payout refused: seller account closed".to_owned(),
    }
}

// Given-builders.

fn nothing() -> History {
    Given::no_events()
}

fn registered() -> History {
    nothing().and_accepted(t(0), decide_register, &register())
}

fn sold_to(buyer: &str) -> History {
    registered().and_accepted(t(100), decide_transfer_ownership, &transfer_to(buyer))
}

fn state_item(state: &ItemState) -> &Item {
    state.item.as_ref().expect("the item is registered")
}

// Registering.

#[test]
fn given_no_item_when_the_seller_registers_it_then_they_own_it() {
    nothing()
        .at(t(0))
        .when(decide_register, &register())
        .then_expect_events([ItemEvent::ItemRegistered(ItemRegistered {
            item_id: item_id(),
            auction_id: AUCTION,
            owner: user("sally"),
            title: "Leica M6".to_owned(),
            registered_at: t(0),
        })])
        .then_state(|state| {
            let item = state_item(state);
            assert_eq!(item.owner, user("sally"));
            assert_eq!(item.sale, None);
            assert_eq!(
                item.owners,
                [Ownership {
                    owner: user("sally"),
                    from: t(0),
                    until: None,
                    acquired: Acquisition::Registered {
                        auction_id: AUCTION
                    },
                }]
            );
            assert_eq!(state.version, 1);
        });
}

#[test]
fn given_the_item_registered_when_the_same_auction_registers_it_again_then_nothing_happens() {
    registered()
        .at(t(5))
        .when(decide_register, &register())
        .then_expect_no_events();
}

#[test]
fn given_the_item_sold_when_the_registration_is_retried_then_nothing_happens() {
    // The first owner registered it; that it changed hands since makes no retry a new item.
    sold_to("bob")
        .at(t(200))
        .when(decide_register, &register())
        .then_expect_no_events();
}

#[test]
fn given_the_item_registered_when_another_seller_registers_it_then_it_is_refused() {
    registered()
        .at(t(5))
        .when(
            decide_register,
            &RegisterItem {
                owner: user("mallory"),
                ..register()
            },
        )
        .then_expect_rejection(ItemRejection::AlreadyRegistered {
            auction_id: AUCTION,
            owner: user("sally"),
        });
}

#[test]
fn given_the_item_registered_when_another_auction_registers_it_then_it_is_refused() {
    registered()
        .at(t(5))
        .when(
            decide_register,
            &RegisterItem {
                auction_id: AuctionId(Uuid::from_u128(0xB)),
                ..register()
            },
        )
        .then_expect_rejection_that("already registered", |rejection| {
            rejection.code() == "ITEM_ALREADY_REGISTERED"
        });
}

#[test]
fn given_no_item_when_it_is_registered_without_a_title_then_it_is_refused() {
    nothing()
        .at(t(0))
        .when(
            decide_register,
            &RegisterItem {
                title: "   ".to_owned(),
                ..register()
            },
        )
        .then_expect_rejection(ItemRejection::InvalidTitle { max: 200 });
}

// Transferring.

#[test]
fn given_sallys_item_when_bobs_sale_transfers_it_then_bob_owns_it_since_the_sale() {
    registered()
        .at(t(100))
        .when(decide_transfer_ownership, &transfer_to("bob"))
        .then_expect_events([ItemEvent::OwnershipTransferred(OwnershipTransferred {
            item_id: item_id(),
            auction_id: AUCTION,
            from: user("sally"),
            to: user("bob"),
            price: eur(4_600),
            sale: sale_of("bob"),
            transferred_at: t(100),
        })])
        .then_state(|state| {
            let item = state_item(state);
            assert_eq!(item.owner, user("bob"));
            assert_eq!(item.owners.len(), 2);
            assert_eq!(item.owners[0].until, Some(t(100)));
            assert_eq!(
                item.owners[1],
                Ownership {
                    owner: user("bob"),
                    from: t(100),
                    until: None,
                    acquired: Acquisition::Bought {
                        auction_id: AUCTION,
                        price: eur(4_600),
                        sale: sale_of("bob"),
                    },
                }
            );
            assert_eq!(item.sale.as_ref().unwrap().seller, user("sally"));
        });
}

#[test]
fn given_bobs_sale_transferred_when_it_is_transferred_again_then_nothing_happens() {
    sold_to("bob")
        .at(t(150))
        .when(decide_transfer_ownership, &transfer_to("bob"))
        .then_expect_no_events();
}

#[test]
fn given_bobs_sale_reversed_when_its_transfer_is_redelivered_then_nothing_happens() {
    // A reversed sale never takes effect again: the transfer already did, once.
    sold_to("bob")
        .and_accepted(t(200), decide_reverse_transfer, &reverse_from("bob"))
        .at(t(300))
        .when(decide_transfer_ownership, &transfer_to("bob"))
        .then_expect_no_events();
}

#[test]
fn given_no_item_when_a_sale_transfers_it_then_it_is_refused_as_not_registered() {
    nothing()
        .at(t(100))
        .when(decide_transfer_ownership, &transfer_to("bob"))
        .then_expect_rejection(ItemRejection::NotRegistered);
}

#[test]
fn given_bob_owns_it_when_sally_sells_it_to_cat_then_it_is_refused_as_not_hers() {
    sold_to("bob")
        .at(t(200))
        .when(decide_transfer_ownership, &transfer_to("cat"))
        .then_expect_rejection(ItemRejection::NotTheOwner { owner: user("bob") });
}

#[test]
fn given_sallys_item_when_she_sells_it_to_herself_then_it_is_refused() {
    registered()
        .at(t(100))
        .when(decide_transfer_ownership, &transfer_to("sally"))
        .then_expect_rejection(ItemRejection::TransferToSelf);
}

#[test]
fn given_sallys_item_when_a_sale_has_no_price_or_no_reference_then_it_is_refused() {
    registered()
        .at(t(100))
        .when(
            decide_transfer_ownership,
            &TransferOwnership {
                price: eur(0),
                ..transfer_to("bob")
            },
        )
        .then_expect_rejection(ItemRejection::PriceNotPositive);
    registered()
        .at(t(100))
        .when(
            decide_transfer_ownership,
            &TransferOwnership {
                sale: String::new(),
                ..transfer_to("bob")
            },
        )
        .then_expect_rejection(ItemRejection::InvalidSale {
            max: SALE_MAX_CHARS,
        });
}

// Reversing.

#[test]
fn given_bobs_sale_transferred_when_it_is_reversed_then_sally_has_it_back() {
    sold_to("bob")
        .at(t(200))
        .when(decide_reverse_transfer, &reverse_from("bob"))
        .then_expect_events([ItemEvent::TransferReversed(TransferReversed {
            item_id: item_id(),
            auction_id: AUCTION,
            from: user("bob"),
            to: user("sally"),
            sale: sale_of("bob"),
            reason: "payout refused: seller account closed".to_owned(),
            reversed_at: t(200),
        })])
        .then_state(|state| {
            let item = state_item(state);
            assert_eq!(item.owner, user("sally"));
            assert_eq!(item.sale, None);
            let owners: Vec<_> = item
                .owners
                .iter()
                .map(|o| (o.owner.as_str(), o.from, o.until))
                .collect();
            assert_eq!(
                owners,
                [
                    ("sally", t(0), Some(t(100))),
                    ("bob", t(100), Some(t(200))),
                    ("sally", t(200), None)
                ]
            );
            assert!(matches!(
                &item.owners[2].acquired,
                Acquisition::Returned { sale, .. } if *sale == sale_of("bob")
            ));
        });
}

#[test]
fn given_bobs_sale_reversed_when_it_is_reversed_again_then_nothing_happens() {
    sold_to("bob")
        .and_accepted(t(200), decide_reverse_transfer, &reverse_from("bob"))
        .at(t(300))
        .when(decide_reverse_transfer, &reverse_from("bob"))
        .then_expect_no_events();
}

#[test]
fn given_sallys_item_never_sold_when_a_sale_is_reversed_then_there_is_no_transfer_to_reverse() {
    registered()
        .at(t(200))
        .when(decide_reverse_transfer, &reverse_from("bob"))
        .then_expect_rejection(ItemRejection::NoTransferToReverse);
}

#[test]
fn given_no_item_when_a_sale_is_reversed_then_it_is_refused_as_not_registered() {
    nothing()
        .at(t(200))
        .when(decide_reverse_transfer, &reverse_from("bob"))
        .then_expect_rejection(ItemRejection::NotRegistered);
}

#[test]
fn given_bob_resold_to_cat_when_bobs_sale_is_reversed_then_it_is_no_longer_in_effect() {
    // Bob's sale was reversed, then cat bought it: reversing bob's again changes nothing, and
    // reversing a sale that is not the one in effect is refused.
    let resold = sold_to("bob")
        .and_accepted(t(200), decide_reverse_transfer, &reverse_from("bob"))
        .and_accepted(t(300), decide_transfer_ownership, &transfer_to("cat"));
    resold
        .clone()
        .at(t(400))
        .when(decide_reverse_transfer, &reverse_from("bob"))
        .then_expect_no_events();
    resold
        .at(t(400))
        .when(
            decide_reverse_transfer,
            &ReverseTransfer {
                sale: sale_of("dan"),
                ..reverse_from("cat")
            },
        )
        .then_expect_rejection(ItemRejection::NoTransferToReverse);
}

#[test]
fn given_bobs_sale_when_the_reversal_names_other_parties_then_it_is_refused() {
    sold_to("bob")
        .at(t(200))
        .when(
            decide_reverse_transfer,
            &ReverseTransfer {
                from: user("cat"),
                ..reverse_from("bob")
            },
        )
        .then_expect_rejection(ItemRejection::NotTheOwner { owner: user("bob") });
    sold_to("bob")
        .at(t(200))
        .when(
            decide_reverse_transfer,
            &ReverseTransfer {
                to: user("mallory"),
                ..reverse_from("bob")
            },
        )
        .then_expect_rejection(ItemRejection::NotTheSeller {
            seller: user("sally"),
        });
}

#[test]
fn given_bobs_sale_when_the_reversal_reason_is_too_long_then_it_is_refused() {
    sold_to("bob")
        .at(t(200))
        .when(
            decide_reverse_transfer,
            &ReverseTransfer {
                reason: "x".repeat(501),
                ..reverse_from("bob")
            },
        )
        .then_expect_rejection(ItemRejection::ReasonTooLong { max: 500 });
}

// Folding.

#[test]
fn events_that_do_not_fit_the_state_only_advance_the_version() {
    let transferred = sold_to("bob").history()[1].clone();
    let registered_again = sold_to("bob").history()[0].clone();
    let state = fold(std::slice::from_ref(&transferred));
    assert_eq!((state.version, state.item), (1, None));
    let state = fold(&[registered_again.clone(), transferred, registered_again]);
    assert_eq!(state.version, 3);
    assert_eq!(state_item(&state).owner, user("bob"));
}

#[test]
fn the_state_survives_a_round_trip_through_json_for_snapshots() {
    let given = sold_to("bob").and_accepted(t(200), decide_reverse_transfer, &reverse_from("bob"));
    let json = serde_json::to_string(given.state()).unwrap();
    assert_eq!(
        &serde_json::from_str::<ItemState>(&json).unwrap(),
        given.state()
    );
}

// Relisting.

/// Sally's unsold item moved to the auction that relists [`AUCTION`].
fn relist_by(owner: &str) -> RelistItem {
    RelistItem {
        auction_id: AuctionId::relisting(AUCTION),
        previous_auction_id: AUCTION,
        owner: user(owner),
    }
}

#[test]
fn given_sallys_unsold_item_when_she_relists_it_then_the_new_auction_sells_it() {
    registered()
        .at(t(100))
        .when(decide_relist_item, &relist_by("sally"))
        .then_expect_events([ItemEvent::ItemRelisted(ItemRelisted {
            item_id: item_id(),
            auction_id: AuctionId::relisting(AUCTION),
            previous_auction_id: AUCTION,
            owner: user("sally"),
            relisted_at: t(100),
        })])
        .then_state(|state| {
            let item = state_item(state);
            assert_eq!(item.listed_in, AuctionId::relisting(AUCTION));
            assert_eq!(item.owner, user("sally"));
        });
}

#[test]
fn given_the_item_relisted_when_the_relisting_is_retried_then_nothing_happens() {
    registered()
        .and_accepted(t(100), decide_relist_item, &relist_by("sally"))
        .at(t(200))
        .when(decide_relist_item, &relist_by("sally"))
        .then_expect_no_events();
}

#[test]
fn given_the_item_relisted_when_the_first_auctions_sale_transfers_it_then_it_is_refused() {
    registered()
        .and_accepted(t(100), decide_relist_item, &relist_by("sally"))
        .at(t(200))
        .when(decide_transfer_ownership, &transfer_to("bob"))
        .then_expect_rejection(ItemRejection::ListedElsewhere {
            listed_in: AuctionId::relisting(AUCTION),
        });
}

#[test]
fn given_bob_owns_the_item_when_sally_relists_it_then_it_is_refused_as_not_hers() {
    sold_to("bob")
        .at(t(200))
        .when(decide_relist_item, &relist_by("sally"))
        .then_expect_rejection(ItemRejection::NotTheOwner { owner: user("bob") });
}
