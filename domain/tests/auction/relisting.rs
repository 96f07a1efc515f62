use domain::*;
use events::{AuctionCreated, AuctionId, AuctionRelisted, AuctionStarted, ItemId};

use crate::support::*;

/// The auction that relists [`AUCTION`], bidding from t(4000) to t(8000).
fn relist() -> RelistAuction {
    RelistAuction {
        seller_id: seller(),
        relisted_as: AuctionId::relisting(AUCTION),
        starts_at: None,
        ends_at: t(8_000),
    }
}

fn relisted() -> Event {
    Event::AuctionRelisted(AuctionRelisted {
        relisted_as: AuctionId::relisting(AUCTION),
    })
}

/// Nobody bid: it ended unsold at t(3600).
fn unsold() -> History {
    an_open_auction().ended_at(t(3_600))
}

#[test]
fn given_an_auction_that_ended_unsold_when_its_seller_relists_it_then_it_names_the_new_auction() {
    unsold()
        .at(t(4_000))
        .when(decide_relist, &relist())
        .then_expect_events([relisted()])
        .then_state(|state| {
            assert_eq!(
                auction(state).relisted_as,
                Some(AuctionId::relisting(AUCTION))
            );
        });
}

#[test]
fn given_a_relisted_auction_when_relisted_again_as_the_same_auction_then_nothing_happens() {
    unsold()
        .and_accepted(t(4_000), decide_relist, &relist())
        .at(t(4_100))
        .when(decide_relist, &relist())
        .then_expect_no_events();
}

#[test]
fn given_a_relisted_auction_when_relisted_as_another_auction_then_it_is_rejected() {
    let other = RelistAuction {
        relisted_as: AuctionId(uuid::Uuid::from_u128(0xB)),
        ..relist()
    };
    unsold()
        .and_accepted(t(4_000), decide_relist, &relist())
        .at(t(4_100))
        .when(decide_relist, &other)
        .then_expect_rejection(Rejection::AlreadyRelisted {
            relisted_as: AuctionId::relisting(AUCTION),
        });
}

#[test]
fn given_an_unsold_auction_when_someone_else_relists_it_then_it_is_rejected() {
    let bob = RelistAuction {
        seller_id: user("bob"),
        ..relist()
    };
    unsold()
        .at(t(4_000))
        .when(decide_relist, &bob)
        .then_expect_rejection(Rejection::NotSeller);
}

#[test]
fn given_an_open_auction_when_its_seller_relists_it_then_it_is_rejected_until_the_end() {
    an_open_auction()
        .at(t(100))
        .when(decide_relist, &relist())
        .then_expect_rejection(Rejection::AuctionNotOver { ends_at: t(3_600) });
}

#[test]
fn given_a_sold_auction_when_its_seller_relists_it_then_it_is_rejected() {
    an_open_auction()
        .with_bid(t(10), bid(1, "bob", 1_000))
        .ended_at(t(3_600))
        .at(t(4_000))
        .when(decide_relist, &relist())
        .then_expect_rejection(Rejection::ItemSold);
}

#[test]
fn given_a_sale_whose_every_buyer_failed_to_pay_when_its_seller_relists_it_then_it_is_accepted() {
    an_open_auction()
        .with_bid(t(10), bid(1, "bob", 1_000))
        .ended_at(t(3_600))
        .with_payment_failure(t(3_700), failed("bob"))
        .at(t(4_000))
        .when(decide_relist, &relist())
        .then_expect_events([relisted()]);
}

#[test]
fn given_a_cancelled_auction_when_its_seller_relists_it_then_it_is_accepted() {
    a_cancelled_auction()
        .at(t(4_000))
        .when(decide_relist, &relist())
        .then_expect_events([relisted()]);
}

#[test]
fn given_an_unsold_auction_when_its_relisting_is_created_then_it_sells_the_same_item_on_the_same_terms()
 {
    let unsold = unsold();
    let previous = auction(unsold.state()).clone();
    let create = relisting_of(&previous, &relist());
    no_auction()
        .at(t(4_000))
        .when(
            |state: &State, command: &CreateAuction, now| {
                decide_create_relisting(state, command, &previous, now)
            },
            &create,
        )
        .then_expect_events([
            Event::AuctionCreated(AuctionCreated {
                auction_id: AuctionId::relisting(AUCTION),
                starts_at: t(4_000),
                ends_at: t(8_000),
                item_id: Some(ItemId::for_auction(AUCTION)),
                relisted_from: Some(AUCTION),
                ..created_by_the_first()
            }),
            Event::AuctionStarted(AuctionStarted {}),
        ])
        .then_state(|state| {
            assert_eq!(auction(state).item_id, ItemId::for_auction(AUCTION));
            assert_eq!(auction(state).relisted_from, Some(AUCTION));
        });
}

/// The first auction's `AuctionCreated`, as [`unsold`] holds it.
fn created_by_the_first() -> AuctionCreated {
    match unsold().history().first() {
        Some(Event::AuctionCreated(created)) => created.clone(),
        other => panic!("the history does not start with its creation: {other:?}"),
    }
}
