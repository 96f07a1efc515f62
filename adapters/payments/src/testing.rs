//! The world the saga's tests start from, shared by this crate's tests, the reconciler's and
//! the end-to-end suite (cargo feature `testing`): an auction created, bid on and ended
//! through the event store, as the API and the scheduler would have done it; its item
//! registered in the ledger as the API does when it creates an auction ([`register_item`]), or
//! not, as for an auction created before the API did.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use chrono::{DateTime, Utc};
use domain::item::{ItemRejection, ItemState, RegisterItem, decide_register};
use domain::{
    CreateAuction, EndAuction, PlaceBid, Rejection, State, decide_create, decide_end,
    decide_place_bid,
};
use event_store::{
    CommandContext, CommandError, EventLog, IdempotencyRecords, Snapshots, Store, StoredEvent,
};
use events::{AuctionId, BidId, Currency, IncrementPolicy, ItemId, Money, UserId};
use uuid::Uuid;

/// Sally's lamp in euros: 10.00 to start, bids a cent apart, `reserve` (minor units) if any.
pub fn sallys_lamp(
    auction_id: AuctionId,
    reserve: Option<i64>,
    ends_at: DateTime<Utc>,
) -> Result<CreateAuction, SaleError> {
    let currency = Currency::try_from("EUR").map_err(|e| SaleError::Fixture(e.to_string()))?;
    let eur = |amount_minor| Money::new(amount_minor, currency.clone());
    Ok(CreateAuction {
        auction_id,
        seller_id: UserId::try_from("sally").map_err(|e| SaleError::Fixture(e.to_string()))?,
        title: "A lamp".to_owned(),
        description: None,
        currency: currency.clone(),
        starting_price: eur(1_000),
        reserve_price: reserve.map(eur),
        buy_now_price: None,
        increment: Some(IncrementPolicy::Fixed { amount_minor: 1 }),
        starts_at: None,
        ends_at,
        soft_close: None,
    })
}

/// Which command of the sale a context is asked for, so that a test can give each its own
/// actor and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleStep<'a> {
    Create,
    /// A bid by this bidder.
    Bid(&'a str),
    End,
}

/// Runs `create`, then one bid per `(bidder, maximum)` in order (each the least it may be: the
/// starting price, or one fixed increment above the price), then the end, each under the
/// context `context` gives its step. With bob at 5 000 and cat at 3 000 bob wins and cat is
/// the runner-up.
pub async fn sell<B>(
    store: &Store<B>,
    create: &CreateAuction,
    bidders: &[(&str, i64)],
    context: impl Fn(SaleStep<'_>) -> CommandContext,
) -> Result<(), SaleError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
{
    let auction_id = create.auction_id;
    let step = match create.increment {
        Some(IncrementPolicy::Fixed { amount_minor }) => amount_minor,
        _ => 1,
    };
    let money = |amount_minor| Money::new(amount_minor, create.currency.clone());
    store
        .execute(auction_id, &context(SaleStep::Create), |s, now| {
            decide_create(s, create, now)
        })
        .await?;
    for (bidder, max) in bidders {
        let bidder_id = UserId::try_from(*bidder).map_err(|e| SaleError::Fixture(e.to_string()))?;
        let bid_id = BidId(Uuid::new_v4());
        store
            .execute(
                auction_id,
                &context(SaleStep::Bid(bidder)),
                |s: &State, now| {
                    let price = s.auction.as_ref().and_then(|a| a.price);
                    let bid = PlaceBid {
                        bid_id,
                        bidder_id: bidder_id.clone(),
                        amount: money(
                            price.map_or(create.starting_price.amount_minor, |p| p + step),
                        ),
                        max_amount: Some(money(*max)),
                    };
                    decide_place_bid(s, &bid, now)
                },
            )
            .await?;
    }
    store
        .execute(auction_id, &context(SaleStep::End), |s, now| {
            decide_end(s, &EndAuction, now)
        })
        .await?;
    Ok(())
}

/// Registers the item `create` sells in the ledger, owned by its seller, under `context`: what
/// the API does before it writes `AuctionCreated`. Returns the item's id.
pub async fn register_item<B>(
    store: &Store<B>,
    create: &CreateAuction,
    context: &CommandContext,
) -> Result<ItemId, SaleError>
where
    B: EventLog + Snapshots + IdempotencyRecords + 'static,
{
    let item_id = ItemId::for_auction(create.auction_id);
    let command = RegisterItem {
        item_id,
        auction_id: create.auction_id,
        owner: create.seller_id.clone(),
        title: create.title.clone(),
    };
    store
        .execute(item_id, context, |state: &ItemState, now| {
            decide_register(state, &command, now)
        })
        .await?;
    Ok(item_id)
}

/// Why a sale could not be set up: a bug in the test that asked for it.
#[derive(Debug, thiserror::Error)]
pub enum SaleError {
    #[error("the sale's commands failed: {0}")]
    Store(#[from] CommandError<Rejection>),
    #[error("the item's commands failed: {0}")]
    Item(#[from] CommandError<ItemRejection>),
    /// A name or currency of the fixture is not valid.
    #[error("bad fixture: {0}")]
    Fixture(String),
}

/// The messages the publisher sends for these events, as the payments queue delivers them: the
/// stored wire envelope as the body, the auction as the FIFO group, the ids as attributes.
pub fn batch(events: &[StoredEvent]) -> Result<SqsEvent, serde_json::Error> {
    let mut event = SqsEvent::default();
    event.records = events.iter().map(message).collect::<Result<_, _>>()?;
    Ok(event)
}

/// One message of [`batch`], its id `m-<event id>`.
pub fn message(stored: &StoredEvent) -> Result<SqsMessage, serde_json::Error> {
    let envelope = &stored.envelope;
    let mut message = SqsMessage::default();
    message.message_id = Some(format!("m-{}", envelope.event_id));
    message.body = Some(serde_json::to_string(envelope)?);
    message.attributes.insert(
        "MessageGroupId".to_owned(),
        envelope.aggregate_id.to_string(),
    );
    message.attributes.insert(
        "MessageDeduplicationId".to_owned(),
        format!("{}#{}", envelope.aggregate_id, envelope.version),
    );
    for (name, value) in [
        ("eventType", envelope.event_type.clone()),
        ("eventId", envelope.event_id.to_string()),
        ("aggregateId", envelope.aggregate_id.to_string()),
        ("correlationId", envelope.metadata.correlation_id.clone()),
        ("causationId", envelope.metadata.causation_id.clone()),
    ] {
        let mut attribute = SqsMessageAttribute::default();
        attribute.string_value = Some(value);
        attribute.data_type = Some("String".to_owned());
        message
            .message_attributes
            .insert(name.to_owned(), attribute);
    }
    Ok(message)
}
