//! The Item as an aggregate the event store can keep: its state, its events (whose codec is the
//! event contract's [`ItemEvent`]), its id and its snapshot format.

use events::{Aggregate, ItemEvent, ItemId};

use super::rejection::ItemRejection;
use super::state::{ItemState, SNAPSHOT_FORMAT, evolve};

impl Aggregate for ItemState {
    type Event = ItemEvent;
    type Id = ItemId;
    type Rejection = ItemRejection;
    type Codec = ItemEvent;

    const SNAPSHOT_FORMAT: u32 = SNAPSHOT_FORMAT;

    fn evolve(self, event: &ItemEvent) -> Self {
        evolve(self, event)
    }
}

#[cfg(test)]
mod tests {
    use events::EventCodec;

    use super::*;

    #[test]
    fn the_trait_folds_as_the_domain_does_and_names_the_item_stream() {
        assert_eq!(
            <ItemState as Aggregate>::fold(&[]),
            super::super::state::fold(&[])
        );
        assert_eq!(<ItemEvent as EventCodec>::AGGREGATE_TYPE, "Item");
        assert_ne!(
            <ItemEvent as EventCodec>::AGGREGATE_TYPE,
            events::AGGREGATE_TYPE
        );
    }
}
