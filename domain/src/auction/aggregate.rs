//! The Auction as an aggregate the event store can keep: its state, its events (whose codec is
//! the event contract's [`AuctionEvent`]), its id and its snapshot format. Everything the store
//! needs to load, snapshot and time-travel an auction; nothing of how it is stored.

use events::{Aggregate, AuctionEvent, AuctionId};

use super::rejection::Rejection;
use super::state::{SNAPSHOT_FORMAT, State, evolve};

impl Aggregate for State {
    type Event = AuctionEvent;
    type Id = AuctionId;
    type Rejection = Rejection;
    type Codec = AuctionEvent;

    const SNAPSHOT_FORMAT: u32 = SNAPSHOT_FORMAT;
    /// A bid or purchase is recognised by its id among the recent ones or as its bidder's
    /// latest (`Auction::took_effect`); every other command by the state it left.
    const DECISIONS_RECOGNISE_RETRIES: bool = true;

    fn evolve(self, event: &AuctionEvent) -> Self {
        evolve(self, event)
    }
}

#[cfg(test)]
mod tests {
    use events::{AuctionStarted, EventCodec};

    use super::*;

    #[test]
    fn the_trait_folds_as_the_domain_does() {
        let events = [AuctionEvent::from(AuctionStarted {})];
        assert_eq!(
            <State as Aggregate>::fold(&events),
            super::super::state::fold(&events)
        );
        assert_eq!(
            <AuctionEvent as EventCodec>::AGGREGATE_TYPE,
            events::AGGREGATE_TYPE
        );
    }
}
