//! Which events notify whom, and what they say. Pure: the caller supplies the auction as it was
//! at the event.

use chrono::{DateTime, SecondsFormat, Utc};
use events::{
    AuctionEnded, AuctionEvent, AuctionId, AuctionResult, BidPlaced, EndTrigger, EventEnvelope,
    Money, UnsoldReason, UserId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::context::AuctionContext;

/// What a notification tells its recipient. Each recipient gets at most one kind per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// Your bid no longer leads: someone bid above your maximum, or your own bid was answered
    /// at once by the leader's higher maximum.
    Outbid,
    /// You won the auction (also by buying it now).
    Won,
    /// The auction you bid on ended and you did not win it.
    Lost,
    /// (seller) Your item sold.
    Sold,
    /// (seller) Your item did not sell.
    Unsold,
    /// (buyer) Your payment went through.
    PaymentConfirmed,
    /// (buyer) Your payment failed.
    PaymentFailed,
    /// (seller) The buyer paid.
    PaymentReceived,
    /// (seller) The buyer's payment failed.
    BuyerPaymentFailed,
    /// (runner-up) The winner did not pay; the item is offered to you.
    OfferedToYou,
    /// (bidders) The auction was cancelled.
    Cancelled,
    /// (watchers) An auction on your watchlist ends soon. Not caused by an event: the
    /// scheduler tells watchers once the end comes within [`ENDING_SOON`].
    EndingSoon,
}

/// How long before its end an auction's watchers are told it ends soon.
pub const ENDING_SOON: chrono::TimeDelta = chrono::TimeDelta::hours(1);

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Outbid,
        Kind::Won,
        Kind::Lost,
        Kind::Sold,
        Kind::Unsold,
        Kind::PaymentConfirmed,
        Kind::PaymentFailed,
        Kind::PaymentReceived,
        Kind::BuyerPaymentFailed,
        Kind::OfferedToYou,
        Kind::Cancelled,
        Kind::EndingSoon,
    ];

    /// The name on the wire and in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Outbid => "outbid",
            Kind::Won => "won",
            Kind::Lost => "lost",
            Kind::Sold => "sold",
            Kind::Unsold => "unsold",
            Kind::PaymentConfirmed => "paymentConfirmed",
            Kind::PaymentFailed => "paymentFailed",
            Kind::PaymentReceived => "paymentReceived",
            Kind::BuyerPaymentFailed => "buyerPaymentFailed",
            Kind::OfferedToYou => "offeredToYou",
            Kind::Cancelled => "cancelled",
            Kind::EndingSoon => "endingSoon",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One notification in one user's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Unique within the recipient's inbox and ordered by time; see [`notification_id`].
    pub notification_id: String,
    pub recipient: UserId,
    pub kind: Kind,
    pub auction_id: AuctionId,
    pub auction_title: String,
    /// The price, payment or offer the notification is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// When the event happened (not when the notification was stored), so that a redelivery
    /// produces the very same notification.
    pub occurred_at: DateTime<Utc>,
    /// The version of the event in the auction's stream.
    pub aggregate_version: u64,
    pub event_id: Uuid,
    /// One sentence for people.
    pub text: String,
}

/// The notification's id, which is its sort key in the recipient's inbox:
/// `{occurredAt}#{aggregateId}#{version:020}#{kind}`. The time comes first (fixed-width
/// RFC 3339 in UTC, milliseconds), so ids sort by time; the rest makes it unique per
/// (aggregateId, version, kind) and, with the recipient as partition key, per recipient. It is
/// derived only from the event, so a redelivered or concurrently handled message yields the same
/// id and the conditional write stores nothing twice.
pub fn notification_id(
    occurred_at: DateTime<Utc>,
    aggregate_id: AuctionId,
    version: u64,
    kind: Kind,
) -> String {
    format!(
        "{}#{aggregate_id}#{version:020}#{}",
        occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        kind.as_str()
    )
}

/// The notice that the auction ending at `ends_at` ends soon, for one of its watchers. Its id
/// depends only on the auction and that end, so that every sweep that finds the auction in its
/// window makes the very same notification and the conditional write stores it once; an end
/// moved by a late bid makes a new one, because the auction then ends soon again.
pub fn ending_soon(
    recipient: &UserId,
    auction_id: AuctionId,
    title: &str,
    ends_at: DateTime<Utc>,
) -> Notification {
    let at = ends_at - ENDING_SOON;
    let when = ends_at.format("%H:%M UTC on %-d %B");
    Notification {
        notification_id: notification_id(at, auction_id, 0, Kind::EndingSoon),
        recipient: recipient.clone(),
        kind: Kind::EndingSoon,
        auction_id,
        auction_title: title.to_owned(),
        amount: None,
        occurred_at: at,
        aggregate_version: 0,
        // A name for this reminder among all (auction, end) pairs, as an event id names an
        // event: the same for every sweep that makes it.
        event_id: Uuid::new_v5(
            &auction_id.0,
            format!("ending-soon:{}", ends_at.timestamp_millis()).as_bytes(),
        ),
        text: format!("“{title}”, on your watchlist, ends soon: at {when}."),
    }
}

/// Whether the event can notify anyone, i.e. whether its auction context is worth loading.
pub fn needs_context(event: &AuctionEvent) -> bool {
    match event {
        AuctionEvent::BidPlaced(bid) => outbid_recipient(bid).is_some(),
        AuctionEvent::AuctionEnded(_)
        | AuctionEvent::AuctionCancelled(_)
        | AuctionEvent::PaymentSucceeded(_)
        | AuctionEvent::PaymentFailed(_)
        | AuctionEvent::ItemOfferedToRunnerUp(_) => true,
        // The bidder who raised their own maximum did it themselves, and an extension only
        // follows a bid that already notified whoever it outbid.
        AuctionEvent::AuctionCreated(_)
        | AuctionEvent::AuctionStarted(_)
        | AuctionEvent::MaxBidRaised(_)
        | AuctionEvent::AuctionExtended(_)
        // The seller relisted it themselves; the new auction's bidders hear of it there.
        | AuctionEvent::AuctionRelisted(_) => false,
    }
}

/// Every notification `envelope` causes, at most one per recipient, given the auction as of
/// the event's version.
pub fn notifications(envelope: &EventEnvelope, auction: &AuctionContext) -> Vec<Notification> {
    let title = &auction.title;
    let mut out = Notifications {
        envelope,
        title,
        list: Vec::new(),
    };
    match &envelope.event {
        AuctionEvent::BidPlaced(bid) => {
            if let Some(recipient) = outbid_recipient(bid) {
                let price = money(&bid.new_price);
                let text = if *recipient == bid.bidder_id {
                    format!(
                        "Your bid on “{title}” was outbid at once by another bidder's \
                         maximum: the price is now {price}."
                    )
                } else {
                    format!("You were outbid on “{title}”: the price is now {price}.")
                };
                out.push(recipient, Kind::Outbid, Some(&bid.new_price), text);
            }
        }
        AuctionEvent::AuctionEnded(ended) => ended_notifications(&mut out, ended, auction),
        AuctionEvent::AuctionCancelled(_) => {
            // The rules allow cancelling only before the first bid, so this is normally empty;
            // it is here so that an admin cancellation later reaches its bidders.
            for bidder in &auction.bidders {
                let text = format!("“{title}” was cancelled by the seller.");
                out.push(bidder, Kind::Cancelled, None, text);
            }
        }
        AuctionEvent::PaymentSucceeded(paid) => {
            let amount = money(&paid.amount);
            out.push(
                &paid.buyer_id,
                Kind::PaymentConfirmed,
                Some(&paid.amount),
                format!("Your payment of {amount} for “{title}” went through."),
            );
            out.push(
                &auction.seller_id,
                Kind::PaymentReceived,
                Some(&paid.amount),
                format!("The buyer paid {amount} for your item “{title}”."),
            );
        }
        AuctionEvent::PaymentFailed(failed) => {
            let amount = money(&failed.amount);
            // The saga's reason can be a provider's internal message: it stays in the log.
            out.push(
                &failed.buyer_id,
                Kind::PaymentFailed,
                Some(&failed.amount),
                format!("Your payment of {amount} for “{title}” failed."),
            );
            out.push(
                &auction.seller_id,
                Kind::BuyerPaymentFailed,
                Some(&failed.amount),
                format!("The buyer's payment of {amount} for your item “{title}” failed."),
            );
        }
        AuctionEvent::ItemOfferedToRunnerUp(offer) => {
            let price = money(&offer.price);
            out.push(
                &offer.buyer_id,
                Kind::OfferedToYou,
                Some(&offer.price),
                format!("The winner of “{title}” did not pay: it is offered to you for {price}."),
            );
        }
        AuctionEvent::AuctionCreated(_)
        | AuctionEvent::AuctionStarted(_)
        | AuctionEvent::MaxBidRaised(_)
        | AuctionEvent::AuctionExtended(_)
        | AuctionEvent::AuctionRelisted(_) => {}
    }
    out.list
}

/// Who a bid left behind: the previous leader when the lead changed hands; the bidder when the
/// leader's proxy answered the bid at once (from where the bidder stands, that is an outbid as
/// well, and the bidder may not be looking at the answer to their request); nobody for a first
/// bid.
fn outbid_recipient(bid: &BidPlaced) -> Option<&UserId> {
    if bid.leader_id == bid.bidder_id {
        bid.previous_leader_id
            .as_ref()
            .filter(|previous| **previous != bid.bidder_id)
    } else {
        Some(&bid.bidder_id)
    }
}

fn ended_notifications(
    out: &mut Notifications<'_>,
    ended: &AuctionEnded,
    auction: &AuctionContext,
) {
    let title = &auction.title;
    match &ended.result {
        AuctionResult::Sold {
            winner_id,
            final_price,
        } => {
            let price = money(final_price);
            let won = match ended.trigger {
                EndTrigger::BoughtNow { .. } => {
                    format!("You bought “{title}” for {price}. Payment is due.")
                }
                EndTrigger::EndTimeReached => {
                    format!("You won “{title}” for {price}. Payment is due.")
                }
            };
            out.push(winner_id, Kind::Won, Some(final_price), won);
            for bidder in auction.bidders.iter().filter(|b| *b != winner_id) {
                let text = format!("“{title}” sold to another bidder for {price}.");
                out.push(bidder, Kind::Lost, Some(final_price), text);
            }
            let text = format!("Your item “{title}” sold for {price}.");
            out.push(&auction.seller_id, Kind::Sold, Some(final_price), text);
        }
        AuctionResult::Unsold { reason } => {
            let why = match reason {
                UnsoldReason::NoBids => "there were no bids",
                UnsoldReason::ReserveNotMet => "the reserve price was not met",
            };
            for bidder in &auction.bidders {
                let text = format!("“{title}” ended without a sale: {why}.");
                out.push(bidder, Kind::Lost, None, text);
            }
            let text = format!("Your item “{title}” did not sell: {why}.");
            out.push(&auction.seller_id, Kind::Unsold, None, text);
        }
    }
}

struct Notifications<'a> {
    envelope: &'a EventEnvelope,
    title: &'a str,
    list: Vec<Notification>,
}

impl Notifications<'_> {
    /// Adds a notification unless the recipient already has one for this event: one event is
    /// one notice per person, whatever roles they hold in it.
    fn push(&mut self, recipient: &UserId, kind: Kind, amount: Option<&Money>, text: String) {
        if self.list.iter().any(|n| n.recipient == *recipient) {
            return;
        }
        let envelope = self.envelope;
        self.list.push(Notification {
            notification_id: notification_id(
                envelope.occurred_at,
                envelope.aggregate_id,
                envelope.version,
                kind,
            ),
            recipient: recipient.clone(),
            kind,
            auction_id: envelope.aggregate_id,
            auction_title: self.title.to_owned(),
            amount: amount.cloned(),
            occurred_at: envelope.occurred_at,
            aggregate_version: envelope.version,
            event_id: envelope.event_id,
            text,
        });
    }
}

/// An amount for people: `12.50 EUR`, `1200 JPY`, from integer minor units only.
fn money(amount: &Money) -> String {
    let exponent = iso_currency::Currency::from_code(amount.currency.as_str())
        .and_then(|currency| currency.exponent())
        .unwrap_or(0);
    let sign = if amount.amount_minor < 0 { "-" } else { "" };
    let minor = amount.amount_minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{minor} {}", amount.currency);
    }
    let unit = 10_u64.pow(u32::from(exponent));
    format!(
        "{sign}{}.{:0width$} {}",
        minor / unit,
        minor % unit,
        amount.currency,
        width = usize::from(exponent)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeSet;

    use chrono::TimeZone;
    use events::{
        Actor, AuctionCancelled, BidId, Currency, ItemOfferedToRunnerUp, MaxBidRaised, Metadata,
        PaymentFailed, PaymentSucceeded,
    };

    use super::*;

    fn user(name: &str) -> UserId {
        UserId::try_from(name).unwrap()
    }

    fn eur(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::try_from("EUR").unwrap())
    }

    fn auction(bidders: &[&str]) -> AuctionContext {
        AuctionContext {
            seller_id: user("sam"),
            title: "Red bike".to_owned(),
            bidders: bidders.iter().map(|b| user(b)).collect::<BTreeSet<_>>(),
        }
    }

    fn envelope(version: u64, event: impl Into<AuctionEvent>) -> EventEnvelope {
        EventEnvelope {
            event_id: Uuid::from_u128(version.into()),
            aggregate_id: AuctionId(Uuid::from_u128(7)),
            version,
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap(),
            event: event.into(),
            metadata: Metadata {
                correlation_id: "corr".to_owned(),
                causation_id: "cmd".to_owned(),
                actor: Actor::System {
                    name: "test".to_owned(),
                },
                idempotency_key: None,
                request_fingerprint: None,
            },
        }
    }

    fn bid(bidder: &str, leader: &str, previous_leader: Option<&str>, price: i64) -> BidPlaced {
        BidPlaced {
            bid_id: BidId(Uuid::from_u128(1)),
            bidder_id: user(bidder),
            amount: eur(price),
            max_amount: eur(price),
            previous_price: Some(eur(price - 10)),
            new_price: eur(price),
            previous_leader_id: previous_leader.map(user),
            leader_id: user(leader),
        }
    }

    fn sold_to(winner: &str, price: i64, trigger: EndTrigger) -> AuctionEnded {
        AuctionEnded {
            result: AuctionResult::Sold {
                winner_id: user(winner),
                final_price: eur(price),
            },
            trigger,
        }
    }

    fn summary(list: &[Notification]) -> Vec<(String, Kind)> {
        list.iter()
            .map(|n| (n.recipient.to_string(), n.kind))
            .collect()
    }

    #[test]
    fn a_bid_that_takes_the_lead_notifies_only_the_previous_leader() {
        // Given a bid by cat that took the lead from bob
        let event = envelope(5, bid("cat", "cat", Some("bob"), 1250));

        // When its notifications are made
        let list = notifications(&event, &auction(&["bob", "cat"]));

        // Then bob alone hears he was outbid, at the new price
        assert_eq!(summary(&list), [("bob".to_owned(), Kind::Outbid)]);
        assert_eq!(list[0].amount, Some(eur(1250)));
        assert_eq!(
            list[0].text,
            "You were outbid on “Red bike”: the price is now 12.50 EUR."
        );
    }

    #[test]
    fn a_bid_answered_by_the_leaders_proxy_notifies_the_bidder() {
        // Given a bid by cat that bob's higher maximum answered at once
        let event = envelope(6, bid("cat", "bob", Some("bob"), 1300));

        // When its notifications are made
        let list = notifications(&event, &auction(&["bob", "cat"]));

        // Then cat hears that her bid was outbid, and bob, still leading, hears nothing
        assert_eq!(summary(&list), [("cat".to_owned(), Kind::Outbid)]);
        assert!(list[0].text.contains("outbid at once"), "{}", list[0].text);
    }

    #[test]
    fn a_first_bid_notifies_nobody() {
        // Given the first bid of an auction
        let event = envelope(3, bid("bob", "bob", None, 100));

        // When its notifications are made
        let list = notifications(&event, &auction(&["bob"]));

        // Then nobody was outbid, and no context needs loading for it
        assert!(list.is_empty());
        assert!(!needs_context(&event.event));
    }

    #[test]
    fn a_sale_notifies_the_winner_every_other_bidder_and_the_seller() {
        // Given an auction won by cat against bob and dan
        let event = envelope(9, sold_to("cat", 2000, EndTrigger::EndTimeReached));

        // When its notifications are made
        let list = notifications(&event, &auction(&["bob", "cat", "dan"]));

        // Then cat won, bob and dan lost, and the seller sold, all at the final price
        assert_eq!(
            summary(&list),
            [
                ("cat".to_owned(), Kind::Won),
                ("bob".to_owned(), Kind::Lost),
                ("dan".to_owned(), Kind::Lost),
                ("sam".to_owned(), Kind::Sold),
            ]
        );
        assert!(list.iter().all(|n| n.amount == Some(eur(2000))));
        assert_eq!(
            list[0].text,
            "You won “Red bike” for 20.00 EUR. Payment is due."
        );
        assert_eq!(list[3].text, "Your item “Red bike” sold for 20.00 EUR.");
    }

    #[test]
    fn a_buy_now_notifies_a_buyer_who_never_bid_and_the_bidders_lose() {
        // Given a buy-now by eve while bob's bid had not met the reserve
        let trigger = EndTrigger::BoughtNow {
            purchase_id: BidId(Uuid::from_u128(2)),
        };
        let event = envelope(4, sold_to("eve", 5000, trigger));

        // When its notifications are made
        let list = notifications(&event, &auction(&["bob"]));

        // Then eve bought it, bob lost, and the seller sold
        assert_eq!(
            summary(&list),
            [
                ("eve".to_owned(), Kind::Won),
                ("bob".to_owned(), Kind::Lost),
                ("sam".to_owned(), Kind::Sold),
            ]
        );
        assert!(list[0].text.starts_with("You bought"), "{}", list[0].text);
    }

    #[test]
    fn an_unsold_end_tells_the_bidders_and_the_seller_why() {
        // Given an auction that ended below its reserve
        let event = envelope(
            8,
            AuctionEnded {
                result: AuctionResult::Unsold {
                    reason: UnsoldReason::ReserveNotMet,
                },
                trigger: EndTrigger::EndTimeReached,
            },
        );

        // When its notifications are made
        let list = notifications(&event, &auction(&["bob"]));

        // Then bob lost and the seller did not sell, without an amount, saying why
        assert_eq!(
            summary(&list),
            [
                ("bob".to_owned(), Kind::Lost),
                ("sam".to_owned(), Kind::Unsold)
            ]
        );
        assert!(list.iter().all(|n| n.amount.is_none()));
        assert_eq!(
            list[1].text,
            "Your item “Red bike” did not sell: the reserve price was not met."
        );
    }

    #[test]
    fn a_successful_payment_notifies_buyer_and_seller() {
        // Given cat's payment
        let event = envelope(
            10,
            PaymentSucceeded {
                buyer_id: user("cat"),
                amount: eur(2000),
                payment_reference: "ref-1".to_owned(),
            },
        );

        // When its notifications are made
        let list = notifications(&event, &auction(&["bob", "cat"]));

        // Then the buyer's payment is confirmed and the seller hears it was received
        assert_eq!(
            summary(&list),
            [
                ("cat".to_owned(), Kind::PaymentConfirmed),
                ("sam".to_owned(), Kind::PaymentReceived),
            ]
        );
    }

    #[test]
    fn a_failed_payment_notifies_buyer_and_seller_without_the_providers_reason() {
        // Given cat's failed payment
        let event = envelope(
            10,
            PaymentFailed {
                buyer_id: user("cat"),
                amount: eur(2000),
                reason: "card_declined: internal code 51".to_owned(),
            },
        );

        // When its notifications are made
        let list = notifications(&event, &auction(&["bob", "cat"]));

        // Then both hear of it and neither text repeats the provider's reason
        assert_eq!(
            summary(&list),
            [
                ("cat".to_owned(), Kind::PaymentFailed),
                ("sam".to_owned(), Kind::BuyerPaymentFailed),
            ]
        );
        assert!(list.iter().all(|n| !n.text.contains("51")));
    }

    #[test]
    fn an_offer_to_the_runner_up_notifies_the_runner_up_alone() {
        // Given the item offered to bob at his maximum
        let event = envelope(
            11,
            ItemOfferedToRunnerUp {
                buyer_id: user("bob"),
                price: eur(1900),
            },
        );

        // When its notifications are made
        let list = notifications(&event, &auction(&["bob", "cat"]));

        // Then bob alone is offered the item at that price
        assert_eq!(summary(&list), [("bob".to_owned(), Kind::OfferedToYou)]);
        assert_eq!(list[0].amount, Some(eur(1900)));
    }

    #[test]
    fn a_cancellation_notifies_every_bidder_and_none_when_there_are_none() {
        let cancelled = AuctionCancelled {
            cancelled_by: user("sam"),
            reason: None,
        };
        // Given a cancellation, when the auction had no bidders (the rule) and when it had one
        let event = envelope(3, cancelled);

        // Then only an existing bidder is told
        assert!(notifications(&event, &auction(&[])).is_empty());
        assert_eq!(
            summary(&notifications(&event, &auction(&["bob"]))),
            [("bob".to_owned(), Kind::Cancelled)]
        );
    }

    #[test]
    fn raising_ones_own_maximum_notifies_nobody() {
        // Given the leader raising their maximum
        let event = envelope(
            7,
            MaxBidRaised {
                bid_id: BidId(Uuid::from_u128(3)),
                bidder_id: user("bob"),
                previous_max_amount: eur(1000),
                new_max_amount: eur(3000),
                previous_price: eur(900),
                new_price: eur(900),
            },
        );

        // Then nobody is notified and no context is loaded
        assert!(!needs_context(&event.event));
        assert!(notifications(&event, &auction(&["bob"])).is_empty());
    }

    #[test]
    fn a_notifications_id_depends_only_on_the_event_and_sorts_by_time() {
        // Given the same event made into notifications twice
        let event = envelope(5, bid("cat", "cat", Some("bob"), 1250));
        let first = notifications(&event, &auction(&["bob", "cat"]));
        let again = notifications(&event, &auction(&["bob", "cat"]));

        // Then the notifications are identical, and the id puts the time first
        assert_eq!(first, again);
        assert_eq!(
            first[0].notification_id,
            "2026-11-27T10:00:00.000Z#00000000-0000-0000-0000-000000000007\
             #00000000000000000005#outbid"
        );
        let earlier = notification_id(
            Utc.with_ymd_and_hms(2026, 11, 27, 9, 59, 59).unwrap(),
            AuctionId(Uuid::from_u128(9)),
            99,
            Kind::Won,
        );
        assert!(earlier < first[0].notification_id);
    }

    #[test]
    fn amounts_are_shown_in_the_currencys_own_minor_units() {
        let yen = Money::new(1200, Currency::try_from("JPY").unwrap());
        let dinar = Money::new(1005, Currency::try_from("KWD").unwrap());

        assert_eq!(money(&eur(5)), "0.05 EUR");
        assert_eq!(money(&yen), "1200 JPY");
        assert_eq!(money(&dinar), "1.005 KWD");
    }

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
        }
        assert_eq!(Kind::parse("nope"), None);
    }
}
