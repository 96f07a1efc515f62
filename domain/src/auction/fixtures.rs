//! Auctions for tests of this crate and of the crates built on it (cargo feature `testing`):
//! moved here from the event store's test helpers, which no longer know the Auction. Bad test
//! input panics, naming the value.

use chrono::{DateTime, Utc};
use events::{AuctionId, Currency, IncrementPolicy, Money, UserId};

use super::commands::CreateAuction;

fn euro() -> Currency {
    Currency::try_from("EUR").unwrap_or_else(|e| panic!("EUR: {e}"))
}

/// The seller's lamp: from EUR 1.00 in steps of 0.10, no reserve, no buy-now, no soft close,
/// open from its creation until `ends_at`. Change a field with `CreateAuction { .., ..lamp }`.
pub fn lamp_auction(auction_id: AuctionId, ends_at: DateTime<Utc>) -> CreateAuction {
    CreateAuction {
        auction_id,
        seller_id: UserId::try_from("seller").unwrap_or_else(|e| panic!("seller: {e}")),
        title: "Lamp".to_owned(),
        description: None,
        currency: euro(),
        starting_price: Money::new(100, euro()),
        reserve_price: None,
        buy_now_price: None,
        increment: Some(IncrementPolicy::Fixed { amount_minor: 10 }),
        starts_at: None,
        ends_at,
        soft_close: None,
    }
}
