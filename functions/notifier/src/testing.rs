//! What the notifier's tests start from, shared by its unit tests and its log test (cargo
//! feature `testing`, which only dev-dependencies enable): red bike's auctions with one fixed
//! context, and the queue's messages the publisher would send for their events.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, TimeZone, Utc};
use events::{
    Actor, AuctionId, BidId, BidPlaced, Currency, EventEnvelope, Metadata, Money, UserId,
};
use read_models::notifications::{AuctionContext, AuctionContexts, NotifierError};
use uuid::Uuid;

/// Email notices over in-memory twins, as the tests' notifier sends them.
pub type Mail =
    email::EmailNotices<email::InMemoryEmailNotices, email::Outbox, email::LocalLinkKey>;

/// Email notices nobody asked for yet: each test that wants emails saves preferences first.
pub fn mail() -> Mail {
    email::EmailNotices::new(
        email::InMemoryEmailNotices::default(),
        email::Outbox::default(),
        email::LocalLinkKey::new(b"notifier tests".to_vec()),
        email::Links::new("http://web.test", "http://api.test"),
    )
}

pub fn user(name: &str) -> UserId {
    UserId::try_from(name).unwrap_or_else(|error| panic!("{name:?} is no user id: {error}"))
}

/// Auction number `n`.
pub fn auction(n: u128) -> AuctionId {
    AuctionId(Uuid::from_u128(n))
}

fn eur(minor: i64) -> Money {
    Money::new(
        minor,
        Currency::try_from("EUR").unwrap_or_else(|error| panic!("EUR: {error}")),
    )
}

/// When every event of these tests happened.
pub fn occurred_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Every auction is sam's red bike, bid on by bob and cat; counts how often it was asked, and
/// fails for `fail_for` as an auction whose history cannot be read.
pub struct FixedContext {
    pub asked: AtomicUsize,
    pub fail_for: Option<AuctionId>,
}

/// [`FixedContext`], failing for `fail_for`.
pub fn contexts(fail_for: Option<AuctionId>) -> FixedContext {
    FixedContext {
        asked: AtomicUsize::new(0),
        fail_for,
    }
}

impl AuctionContexts for FixedContext {
    async fn context_at(
        &self,
        aggregate_id: AuctionId,
        version: u64,
    ) -> Result<AuctionContext, NotifierError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if self.fail_for == Some(aggregate_id) {
            return Err(NotifierError::IncompleteHistory {
                aggregate_id,
                version,
            });
        }
        Ok(AuctionContext {
            seller_id: user("sam"),
            title: "Red bike".to_owned(),
            bidders: BTreeSet::from([user("bob"), user("cat")]),
        })
    }
}

/// A message of the auction's FIFO group with this body.
pub fn message(message_id: &str, auction_id: AuctionId, body: String) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(message_id.to_owned());
    message.body = Some(body);
    message
        .attributes
        .insert("MessageGroupId".to_owned(), auction_id.to_string());
    message
}

/// The message of cat's bid that took the lead from bob (the price went from 1.50 to
/// `new_price`, cat's maximum `max_amount`), as version `version` of `auction_id`, caused by
/// command `cmd-1` of correlation `corr-1`.
pub fn outbid_message(
    message_id: &str,
    auction_id: AuctionId,
    version: u64,
    (new_price, max_amount): (i64, i64),
) -> SqsMessage {
    let envelope = EventEnvelope {
        event_id: Uuid::new_v4(),
        aggregate_id: auction_id,
        version,
        occurred_at: occurred_at(),
        event: BidPlaced {
            bid_id: BidId(Uuid::new_v4()),
            bidder_id: user("cat"),
            amount: eur(new_price),
            max_amount: eur(max_amount),
            previous_price: Some(eur(150)),
            new_price: eur(new_price),
            previous_leader_id: Some(user("bob")),
            leader_id: user("cat"),
        }
        .into(),
        metadata: Metadata {
            correlation_id: "corr-1".to_owned(),
            causation_id: "cmd-1".to_owned(),
            actor: Actor::User { id: user("cat") },
            idempotency_key: None,
            request_fingerprint: None,
        },
    };
    let body = serde_json::to_string(&envelope)
        .unwrap_or_else(|error| panic!("an envelope always serializes: {error}"));
    message(message_id, auction_id, body)
}
