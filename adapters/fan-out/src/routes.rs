//! The routing rules: which event types go to which queue. Pure data, so that a new queue or a
//! new subscriber is a one-line change that the tests below hold to the event contract.

use conventions::names;

/// A queue the publisher sends to, named by `conventions::names` as the local stack's and the
/// CDK app's queues are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Queue {
    /// Read by the notifier, which tells people what happened to them.
    Notifications,
    /// Read by the payment saga.
    Payments,
    /// Read by the live broadcaster, which pushes updates to the people watching an auction.
    /// A queue rather than a third reader of the Events stream: DynamoDB Streams serves at
    /// most two readers per shard before it throttles (docs/fan-out.md).
    Live,
}

impl Queue {
    /// Every queue, in the order the handler sends to them.
    pub const ALL: [Queue; 3] = [Queue::Notifications, Queue::Payments, Queue::Live];

    /// The variable holding the queue's URL (exported by the local launcher and the CDK app).
    pub fn url_env(self) -> &'static str {
        match self {
            Self::Notifications => names::NOTIFICATIONS_QUEUE_URL_ENV,
            Self::Payments => names::PAYMENTS_QUEUE_URL_ENV,
            Self::Live => names::LIVE_QUEUE_URL_ENV,
        }
    }

    /// The queue's name: its variable, looked up when the URL variable is unset, and default.
    pub fn name(self) -> names::EnvName {
        match self {
            Self::Notifications => names::NOTIFICATIONS_QUEUE,
            Self::Payments => names::PAYMENTS_QUEUE,
            Self::Live => names::LIVE_QUEUE,
        }
    }

    /// The variable holding the queue's name, looked up when the URL variable is unset.
    pub fn name_env(self) -> &'static str {
        self.name().env
    }

    pub fn default_name(self) -> &'static str {
        self.name().default
    }
}

impl std::fmt::Display for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Notifications => "notifications",
            Self::Payments => "payments",
            Self::Live => "live",
        })
    }
}

use Queue::{Live, Notifications, Payments};

/// Every event type of the contract with the queues it goes to; an empty list is a decision
/// too ("nobody consumes this yet"). Why each line is what it is: docs/fan-out.md.
pub const ROUTES: &[(&str, &[Queue])] = &[
    ("AuctionCreated", &[]),
    ("AuctionStarted", &[]),
    // Outbid notices: the payload names the previous leader and the new one. Watchers see
    // the new price.
    ("BidPlaced", &[Notifications, Live]),
    // The leader raised their own maximum: nobody else's standing changed, but the price can
    // move when the raise meets the reserve (the broadcaster decides).
    ("MaxBidRaised", &[Live]),
    ("AuctionExtended", &[Live]),
    // Won/lost notices; the saga opens a payment for a sale and ignores an unsold ending.
    ("AuctionEnded", &[Notifications, Payments, Live]),
    // Cancelling is only allowed before the first bid, so no payment can exist to compensate.
    ("AuctionCancelled", &[Notifications, Live]),
    ("PaymentSucceeded", &[Notifications, Payments]),
    ("PaymentFailed", &[Notifications, Payments]),
    ("ItemOfferedToRunnerUp", &[Notifications, Payments]),
    // The seller's own act, shown by the read models (the seller's page, both auctions'
    // pages): no notice, no payment, and no watcher's change (the auction is over).
    ("AuctionRelisted", &[]),
    // The Items' ownership ledger (the payment saga writes it; its stream shares the table):
    // nobody consumes it yet. The provenance route reads the log itself.
    ("ItemRegistered", &[]),
    ("OwnershipTransferred", &[]),
    ("TransferReversed", &[]),
    ("ItemRelisted", &[]),
];

/// The queues an event type goes to, or `None` for a type this build does not know (an event
/// written by a newer producer): the handler fails such a record rather than dropping it.
pub fn destinations(event_type: &str) -> Option<&'static [Queue]> {
    ROUTES
        .iter()
        .find(|(known, _)| *known == event_type)
        .map(|(_, queues)| *queues)
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::{AuctionEvent, ItemEvent};
    use std::collections::BTreeSet;

    #[test]
    fn every_event_type_of_the_contract_has_a_deliberate_route() {
        let contract: BTreeSet<&str> = AuctionEvent::TYPES
            .iter()
            .chain(ItemEvent::TYPES)
            .map(|(t, _)| *t)
            .collect();
        let routed: BTreeSet<&str> = ROUTES.iter().map(|(t, _)| *t).collect();

        assert_eq!(routed, contract);
        assert_eq!(
            ROUTES.len(),
            contract.len(),
            "an event type is routed twice"
        );
    }

    #[test]
    fn no_route_names_a_queue_twice() {
        for (event_type, queues) in ROUTES {
            let unique: BTreeSet<_> = queues.iter().collect();
            assert_eq!(unique.len(), queues.len(), "{event_type}");
        }
    }

    #[test]
    fn outbid_notices_come_from_bids_so_bids_reach_the_notifier() {
        assert_eq!(destinations("BidPlaced"), Some(&[Notifications, Live][..]));
    }

    #[test]
    fn watchers_hear_of_every_change_to_what_an_auction_page_shows_and_nothing_else() {
        let to_live: BTreeSet<&str> = ROUTES
            .iter()
            .filter(|(_, queues)| queues.contains(&Live))
            .map(|(t, _)| *t)
            .collect();

        assert_eq!(
            to_live,
            BTreeSet::from([
                "BidPlaced",
                "MaxBidRaised",
                "AuctionExtended",
                "AuctionEnded",
                "AuctionCancelled"
            ])
        );
    }

    #[test]
    fn the_payment_saga_gets_endings_and_its_own_outcomes_and_nothing_else() {
        let to_payments: BTreeSet<&str> = ROUTES
            .iter()
            .filter(|(_, queues)| queues.contains(&Payments))
            .map(|(t, _)| *t)
            .collect();

        assert_eq!(
            to_payments,
            BTreeSet::from([
                "AuctionEnded",
                "PaymentSucceeded",
                "PaymentFailed",
                "ItemOfferedToRunnerUp"
            ])
        );
    }

    #[test]
    fn the_notifier_hears_of_bids_endings_cancellations_and_payments() {
        for event_type in [
            "BidPlaced",
            "AuctionEnded",
            "AuctionCancelled",
            "PaymentSucceeded",
            "PaymentFailed",
            "ItemOfferedToRunnerUp",
        ] {
            let queues = destinations(event_type).unwrap();
            assert!(queues.contains(&Notifications), "{event_type}");
        }
    }

    #[test]
    fn events_nobody_consumes_yet_go_nowhere() {
        for event_type in ["AuctionCreated", "AuctionStarted"] {
            assert_eq!(destinations(event_type), Some(&[][..]), "{event_type}");
        }
    }

    #[test]
    fn an_unknown_event_type_has_no_route_rather_than_an_empty_one() {
        assert_eq!(destinations("AuctionTeleported"), None);
    }
}
