//! The update an event makes, for the people watching its auction. Pure: the event, and the
//! auction's state right after it (for the bid count and the current end, which no single event
//! carries).

use domain::State;
use events::{AuctionEvent, AuctionResult, EventEnvelope, UnsoldReason};

use crate::protocol::{EndResult, Price, ServerMessage};

/// The update `envelope` makes, or `None` when watchers see no change (a creation, a start, a
/// maximum raised without moving the price, a payment).
pub fn update(envelope: &EventEnvelope, after: &State) -> Option<ServerMessage> {
    let auction_id = envelope.aggregate_id;
    let version = envelope.version;
    let auction = after.auction.as_ref()?;
    match &envelope.event {
        AuctionEvent::BidPlaced(bid) => Some(ServerMessage::BidPlaced {
            auction_id,
            version,
            current_price: Price::from(&bid.new_price),
            leader_id: bid.leader_id.clone(),
            bid_count: auction.bid_count,
            ends_at: auction.ends_at,
        }),
        // A raise moves the price only when it is the first maximum to meet the reserve.
        AuctionEvent::MaxBidRaised(raise) if raise.new_price != raise.previous_price => {
            Some(ServerMessage::BidPlaced {
                auction_id,
                version,
                current_price: Price::from(&raise.new_price),
                leader_id: raise.bidder_id.clone(),
                bid_count: auction.bid_count,
                ends_at: auction.ends_at,
            })
        }
        AuctionEvent::AuctionExtended(extended) => Some(ServerMessage::Extended {
            auction_id,
            version,
            ends_at: extended.new_ends_at,
        }),
        AuctionEvent::AuctionEnded(ended) => Some(ServerMessage::Ended {
            auction_id,
            version,
            result: match &ended.result {
                AuctionResult::Sold {
                    winner_id,
                    final_price,
                } => EndResult::Sold {
                    winner_id: winner_id.clone(),
                    final_price: Price::from(final_price),
                },
                AuctionResult::Unsold { reason } => EndResult::Unsold {
                    reason: match reason {
                        UnsoldReason::NoBids => "there were no bids",
                        UnsoldReason::ReserveNotMet => "the reserve price was not met",
                    }
                    .to_owned(),
                },
            },
        }),
        AuctionEvent::AuctionCancelled(_) => Some(ServerMessage::Cancelled {
            auction_id,
            version,
        }),
        AuctionEvent::AuctionCreated(_)
        | AuctionEvent::AuctionStarted(_)
        | AuctionEvent::MaxBidRaised(_)
        | AuctionEvent::PaymentSucceeded(_)
        | AuctionEvent::PaymentFailed(_)
        | AuctionEvent::ItemOfferedToRunnerUp(_)
        | AuctionEvent::AuctionRelisted(_) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::{DateTime, TimeDelta, Utc};
    use domain::fixtures::lamp_auction;
    use domain::{
        CreateAuction, EndAuction, PlaceBid, decide_create, decide_end, decide_place_bid, evolve,
    };
    use event_store::testing::{epoch, eur, user};
    use events::{Actor, AuctionId, BidId, Metadata, SoftClose};
    use uuid::Uuid;

    use super::*;

    /// Applies each decision's events, returning every envelope with the state after it.
    struct History {
        auction_id: AuctionId,
        state: State,
        steps: Vec<(EventEnvelope, State)>,
    }

    impl History {
        fn new() -> Self {
            Self {
                auction_id: AuctionId(Uuid::new_v4()),
                state: State::default(),
                steps: Vec::new(),
            }
        }

        fn apply(&mut self, events: Vec<AuctionEvent>, at: DateTime<Utc>) {
            for event in events {
                self.state = evolve(self.state.clone(), &event);
                let envelope = EventEnvelope {
                    event_id: Uuid::new_v4(),
                    aggregate_id: self.auction_id,
                    version: self.state.version,
                    occurred_at: at,
                    metadata: Metadata {
                        correlation_id: "c".to_owned(),
                        causation_id: "c".to_owned(),
                        actor: Actor::System {
                            name: "test".to_owned(),
                        },
                        idempotency_key: None,
                        request_fingerprint: None,
                    },
                    event,
                };
                self.steps.push((envelope, self.state.clone()));
            }
        }

        fn updates(&self) -> Vec<ServerMessage> {
            self.steps
                .iter()
                .filter_map(|(envelope, after)| update(envelope, after))
                .collect()
        }
    }

    fn bid(history: &mut History, bidder: &str, amount: i64, at: DateTime<Utc>) {
        let command = PlaceBid {
            bid_id: BidId(Uuid::new_v4()),
            bidder_id: user(bidder),
            amount: eur(amount),
            max_amount: None,
        };
        let events = decide_place_bid(&history.state, &command, at).unwrap();
        history.apply(events, at);
    }

    fn sold_after_a_late_bid() -> History {
        let mut history = History::new();
        let command = CreateAuction {
            soft_close: Some(SoftClose {
                window_seconds: 120,
                extension_seconds: 120,
            }),
            ..lamp_auction(history.auction_id, epoch() + TimeDelta::hours(1))
        };
        let events = decide_create(&history.state, &command, epoch()).unwrap();
        history.apply(events, epoch());
        bid(&mut history, "ann", 100, epoch() + TimeDelta::minutes(1));
        // Within the soft-close window: the end moves.
        bid(&mut history, "bob", 200, epoch() + TimeDelta::minutes(59));
        let end = epoch() + TimeDelta::hours(2);
        let events = decide_end(&history.state, &EndAuction, end).unwrap();
        history.apply(events, end);
        history
    }

    #[test]
    fn bids_extensions_and_the_end_each_make_one_update_in_version_order() {
        let history = sold_after_a_late_bid();

        let updates = history.updates();

        let kinds: Vec<_> = updates
            .iter()
            .map(|u| {
                serde_json::to_value(u).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(kinds, ["bidPlaced", "bidPlaced", "extended", "ended"]);
        let versions: Vec<u64> = updates.iter().map(|u| u.version().unwrap().1).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    }

    #[test]
    fn a_bid_update_carries_the_price_leader_count_and_current_end() {
        let history = sold_after_a_late_bid();

        let updates = history.updates();

        let ServerMessage::BidPlaced {
            current_price,
            leader_id,
            bid_count,
            ends_at,
            ..
        } = &updates[1]
        else {
            panic!("{:?}", updates[1]);
        };
        assert_eq!(current_price.amount_minor, 200);
        assert_eq!(current_price.currency, "EUR");
        assert_eq!(leader_id, &user("bob"));
        assert_eq!(*bid_count, 2);
        // The extension is the next event: each update shows the auction as of its own
        // version, and the `extended` update that follows moves the end.
        assert_eq!(*ends_at, epoch() + TimeDelta::hours(1));
    }

    #[test]
    fn the_end_names_the_winner_and_the_final_price() {
        let history = sold_after_a_late_bid();

        let updates = history.updates();

        let ServerMessage::Ended { result, .. } = updates.last().unwrap() else {
            panic!("{updates:?}");
        };
        assert_eq!(
            result,
            &EndResult::Sold {
                winner_id: user("bob"),
                final_price: Price {
                    amount_minor: 200,
                    currency: "EUR".to_owned()
                }
            }
        );
    }

    #[test]
    fn creation_and_start_update_nobody() {
        let mut history = sold_after_a_late_bid();
        history.steps.truncate(2);

        assert!(history.updates().is_empty());
    }
}
