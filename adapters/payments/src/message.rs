//! What a message on the payments queue asks of the saga. Pure: no I/O.

use aws_lambda_events::event::sqs::SqsMessage;
use events::{AuctionEvent, AuctionId, AuctionResult, EventEnvelope, Money, UserId};

use crate::error::SagaError;

/// The SQS system attribute that names a FIFO message's group (the aggregate id).
pub const GROUP_ATTRIBUTE: &str = "MessageGroupId";
/// The publisher's message attributes this consumer reads before decoding the body.
pub const AGGREGATE_ID_ATTRIBUTE: &str = "aggregateId";
pub const CORRELATION_ID_ATTRIBUTE: &str = "correlationId";
pub const EVENT_ID_ATTRIBUTE: &str = "eventId";
pub const EVENT_TYPE_ATTRIBUTE: &str = "eventType";

/// A sale waiting for its money: who pays what for which auction, and what asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    pub auction_id: AuctionId,
    pub buyer_id: UserId,
    pub price: Money,
    pub correlation_id: String,
    /// The id of the event that announced the sale.
    pub causation_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Settle this sale: start its saga, or resume it.
    Settle(Sale),
    /// Nothing for the saga to do, and why.
    Ignore(&'static str),
}

/// The event a message carries, upcast to the current model.
pub fn envelope(message: &SqsMessage) -> Result<EventEnvelope, SagaError> {
    let body = message
        .body
        .as_deref()
        .ok_or_else(|| SagaError::Unreadable("the message has no body".to_owned()))?;
    EventEnvelope::from_json(body).map_err(|e| SagaError::Unreadable(e.to_string()))
}

/// What the saga does about an event.
///
/// - `AuctionEnded` with a sale: settle with the winner at the final price; unsold: nothing.
/// - `ItemOfferedToRunnerUp`: settle with the runner-up at the offered price (a new saga).
/// - `PaymentSucceeded` / `PaymentFailed`: nothing; they are this saga's own outcomes coming
///   back, and its state already holds them.
/// - `AuctionCancelled`: nothing; an auction can only be cancelled before it has bids, so there
///   is no sale to settle.
pub fn trigger(envelope: &EventEnvelope) -> Trigger {
    let sale = |buyer_id: &UserId, price: &Money| {
        Trigger::Settle(Sale {
            auction_id: envelope.aggregate_id,
            buyer_id: buyer_id.clone(),
            price: price.clone(),
            correlation_id: envelope.metadata.correlation_id.clone(),
            causation_id: envelope.event_id.to_string(),
        })
    };
    match &envelope.event {
        AuctionEvent::AuctionEnded(ended) => match &ended.result {
            AuctionResult::Sold {
                winner_id,
                final_price,
            } => sale(winner_id, final_price),
            AuctionResult::Unsold { .. } => Trigger::Ignore("the auction ended unsold"),
        },
        AuctionEvent::ItemOfferedToRunnerUp(offer) => sale(&offer.buyer_id, &offer.price),
        AuctionEvent::PaymentSucceeded(_) | AuctionEvent::PaymentFailed(_) => {
            Trigger::Ignore("the saga's own outcome")
        }
        AuctionEvent::AuctionCancelled(_) => Trigger::Ignore("a cancelled auction has no sale"),
        _ => Trigger::Ignore("not a payment event"),
    }
}

/// The FIFO group of a message: SQS's `MessageGroupId`, else the publisher's `aggregateId`.
pub fn group_of(message: &SqsMessage) -> Option<String> {
    message
        .attributes
        .get(GROUP_ATTRIBUTE)
        .cloned()
        .or_else(|| string_attribute(message, AGGREGATE_ID_ATTRIBUTE))
}

pub fn string_attribute(message: &SqsMessage, name: &str) -> Option<String> {
    message
        .message_attributes
        .get(name)
        .and_then(|attribute| attribute.string_value.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::DateTime;
    use events::{
        Actor, AuctionEnded, Currency, EndTrigger, ItemOfferedToRunnerUp, Metadata,
        PaymentSucceeded, UnsoldReason,
    };
    use uuid::Uuid;

    fn eur(amount: i64) -> Money {
        Money::new(amount, Currency::try_from("EUR").unwrap())
    }

    fn user(name: &str) -> UserId {
        UserId::try_from(name).unwrap()
    }

    fn envelope_of(event: AuctionEvent) -> EventEnvelope {
        EventEnvelope {
            event_id: Uuid::from_u128(42),
            aggregate_id: AuctionId(Uuid::from_u128(7)),
            version: 5,
            occurred_at: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            event,
            metadata: Metadata {
                correlation_id: "corr-9".to_owned(),
                causation_id: "cmd-3".to_owned(),
                actor: Actor::System {
                    name: "scheduler".to_owned(),
                },
                idempotency_key: None,
                request_fingerprint: None,
            },
        }
    }

    fn message_of(envelope: &EventEnvelope) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.body = Some(serde_json::to_string(&envelope.to_raw().unwrap()).unwrap());
        message
    }

    #[test]
    fn given_a_sold_auction_then_the_winner_settles_at_the_final_price() {
        let ended = envelope_of(AuctionEvent::AuctionEnded(AuctionEnded {
            result: AuctionResult::Sold {
                winner_id: user("bob"),
                final_price: eur(1_234),
            },
            trigger: EndTrigger::EndTimeReached,
        }));

        let decoded = envelope(&message_of(&ended)).unwrap();

        assert_eq!(
            trigger(&decoded),
            Trigger::Settle(Sale {
                auction_id: AuctionId(Uuid::from_u128(7)),
                buyer_id: user("bob"),
                price: eur(1_234),
                correlation_id: "corr-9".to_owned(),
                causation_id: Uuid::from_u128(42).to_string(),
            })
        );
    }

    #[test]
    fn given_an_offer_to_the_runner_up_then_the_runner_up_settles_at_the_offer() {
        let offer = envelope_of(AuctionEvent::ItemOfferedToRunnerUp(ItemOfferedToRunnerUp {
            buyer_id: user("cat"),
            price: eur(900),
        }));

        let Trigger::Settle(sale) = trigger(&offer) else {
            panic!("an offer is a sale");
        };
        assert_eq!((sale.buyer_id, sale.price), (user("cat"), eur(900)));
    }

    #[test]
    fn given_an_unsold_auction_or_the_sagas_own_outcome_then_nothing_happens() {
        let unsold = envelope_of(AuctionEvent::AuctionEnded(AuctionEnded {
            result: AuctionResult::Unsold {
                reason: UnsoldReason::ReserveNotMet,
            },
            trigger: EndTrigger::EndTimeReached,
        }));
        let paid = envelope_of(AuctionEvent::PaymentSucceeded(PaymentSucceeded {
            buyer_id: user("bob"),
            amount: eur(1),
            payment_reference: "ch_1".to_owned(),
        }));

        assert!(matches!(trigger(&unsold), Trigger::Ignore(_)));
        assert!(matches!(trigger(&paid), Trigger::Ignore(_)));
    }

    #[test]
    fn given_a_body_that_is_not_an_event_then_the_message_is_unreadable() {
        let mut message = SqsMessage::default();
        message.body = Some("{\"hello\":1}".to_owned());
        assert!(matches!(envelope(&message), Err(SagaError::Unreadable(_))));
        message.body = None;
        assert!(matches!(envelope(&message), Err(SagaError::Unreadable(_))));
    }

    #[test]
    fn the_group_is_the_fifo_group_id_or_else_the_aggregate_attribute() {
        let mut message = SqsMessage::default();
        assert_eq!(group_of(&message), None);
        let mut attribute = aws_lambda_events::event::sqs::SqsMessageAttribute::default();
        attribute.string_value = Some("a-1".to_owned());
        message
            .message_attributes
            .insert(AGGREGATE_ID_ATTRIBUTE.to_owned(), attribute);
        assert_eq!(group_of(&message), Some("a-1".to_owned()));
        message
            .attributes
            .insert(GROUP_ATTRIBUTE.to_owned(), "g-1".to_owned());
        assert_eq!(group_of(&message), Some("g-1".to_owned()));
    }
}
