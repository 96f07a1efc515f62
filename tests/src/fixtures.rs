//! Histories built in memory through the real decisions, and ways to put them into DynamoDB.

use chrono::{DateTime, TimeDelta, Utc};
use domain::{
    CreateAuction, PlaceBid, Rejection, SNAPSHOT_FORMAT, State, decide_create, decide_place_bid,
    fold,
};
use event_store::{
    CommandContext, CommandError, DynamoDbStore, EventLog, InMemoryStore, Meter, Snapshot,
    SnapshotPolicy, Store, StoreError, StoredEvent, TableNames,
};
use events::{Actor, AuctionEvent, AuctionId, BidId, Currency, IncrementPolicy, Money, UserId};
use local_stack::ResourceNames;
use uuid::Uuid;

/// The event store's tables among a test's resources.
pub fn table_names(names: &ResourceNames) -> TableNames {
    TableNames {
        events: names.events_table.clone(),
        snapshots: names.snapshots_table.clone(),
        idempotency: names.idempotency_table.clone(),
    }
}

/// A fixed instant, so that histories are reproducible.
pub fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

pub fn user(name: &str) -> UserId {
    // Every name used here is a valid id; a bad one is a bug in the fixture.
    UserId::try_from(name).unwrap_or_else(|_| panic!("invalid fixture user {name:?}"))
}

pub fn eur(amount_minor: i64) -> Money {
    Money::new(amount_minor, currency())
}

fn currency() -> Currency {
    Currency::try_from("EUR").unwrap_or_else(|_| panic!("EUR is a currency"))
}

/// An auction that runs for 30 days from [`epoch`], starting at 1.00 EUR with a 0.01 increment.
pub fn create_command(auction_id: AuctionId) -> CreateAuction {
    CreateAuction {
        auction_id,
        seller_id: user("seller"),
        title: "Fixture auction".to_owned(),
        description: None,
        currency: currency(),
        starting_price: eur(100),
        reserve_price: None,
        buy_now_price: None,
        increment: Some(IncrementPolicy::Fixed { amount_minor: 1 }),
        starts_at: None,
        ends_at: epoch() + TimeDelta::days(30),
        soft_close: None,
    }
}

/// A bid one increment above the price it is decided against, or, from the leader, one above
/// their own maximum (a max-raise).
pub fn outbid(
    bidder: &UserId,
    bid_id: BidId,
    state: &State,
    now: DateTime<Utc>,
) -> Result<Vec<domain::Event>, domain::Rejection> {
    let price = state.auction.as_ref().map_or(99, |a| {
        let own_max = a
            .leader
            .as_ref()
            .filter(|l| *l == bidder)
            .and_then(|_| a.leader_max());
        own_max.or(a.price).unwrap_or(99)
    });
    decide_place_bid(
        state,
        &PlaceBid {
            bid_id,
            bidder_id: bidder.clone(),
            amount: eur(price + 1),
            max_amount: None,
        },
        now,
    )
}

pub fn context(actor: &UserId, key: Option<String>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: Uuid::new_v4().to_string(),
        actor: Actor::User { id: actor.clone() },
        idempotency_key: key.map(|key| event_store::IdempotencyKey {
            fingerprint: format!("fingerprint:{key}"),
            key,
        }),
        now: epoch() + TimeDelta::seconds(1),
    }
}

/// The stored events of an auction with `bids` bids from alternating bidders (2 + `bids`
/// events), decided and chained exactly as the platform would.
pub async fn history(bids: usize) -> Result<(AuctionId, Vec<StoredEvent>), StoreError> {
    // Snapshots keep each command's load short, as they do in DynamoDB.
    let store = Store::new(InMemoryStore::new(), SnapshotPolicy::inline(100));
    let auction_id = AuctionId(Uuid::new_v4());
    let create = create_command(auction_id);
    let seller = user("seller");
    store
        .execute(auction_id, &context(&seller, None), |state, now| {
            decide_create(state, &create, now)
        })
        .await
        .map_err(refused)?;
    let bidders = [user("bob"), user("cat")];
    for i in 0..bids {
        let bidder = &bidders[i % 2];
        let bid_id = BidId(Uuid::new_v4());
        store
            .execute(auction_id, &context(bidder, None), |state, now| {
                outbid(bidder, bid_id, state, now)
            })
            .await
            .map_err(refused)?;
    }
    Ok((auction_id, store.backend().events(auction_id)))
}

/// A fixture's command the domain refuses is a broken fixture: reported as a refusal.
fn refused(error: CommandError<Rejection>) -> StoreError {
    match error {
        CommandError::Store(error) => error,
        CommandError::Rejected(rejection) => {
            StoreError::Refused(format!("the fixture's command was rejected: {rejection}"))
        }
    }
}

/// Writes a history through the store's own conditional append, 100 events per transaction.
pub async fn import(store: &DynamoDbStore, events: &[StoredEvent]) -> Result<(), StoreError> {
    for chunk in events.chunks(100) {
        store.append(chunk, &Meter::default()).await?;
    }
    Ok(())
}

/// Writes `events` (a history new to the table) as [`import`] does, item for item, but with
/// BatchWriteItem (25 items a request, four requests at once, no conditions): for the
/// histories of thousands of events that a test only reads. DynamoDB Local spends most of a
/// transaction's time checking it: 10,000 events took 70 s through the store's appends, and
/// each such import held up the suite's other tests on the same emulator.
pub async fn import_quickly(
    store: &DynamoDbStore,
    events: &[StoredEvent],
) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let table = store.tables().events.clone();
    let mut batches = Vec::new();
    for chunk in events.chunks(25) {
        let writes = chunk
            .iter()
            .map(|event| {
                let item = event_store::event_item(event)?;
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|e| StoreError::Refused(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        batches.push(writes);
    }
    let mut running = tokio::task::JoinSet::new();
    for writes in batches {
        if running.len() >= 4
            && let Some(done) = running.join_next().await
        {
            done.map_err(|e| StoreError::Refused(e.to_string()))??;
        }
        let client = store.client().clone();
        let table = table.clone();
        running.spawn(async move { write_batch(&client, &table, writes).await });
    }
    while let Some(done) = running.join_next().await {
        done.map_err(|e| StoreError::Refused(e.to_string()))??;
    }
    Ok(())
}

/// One BatchWriteItem, its unprocessed items sent again until none is left.
async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut writes: Vec<aws_sdk_dynamodb::types::WriteRequest>,
) -> Result<(), StoreError> {
    while !writes.is_empty() {
        let output = client
            .batch_write_item()
            .request_items(table, writes)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(format!("{e:?}")))?;
        writes = output
            .unprocessed_items
            .and_then(|mut tables| tables.remove(table))
            .unwrap_or_default();
    }
    Ok(())
}

/// A fresh auction created by the seller through the real decision ([`create_command`]), in
/// `store`.
pub async fn created(store: &Store<DynamoDbStore>) -> AuctionId {
    let auction_id = AuctionId(Uuid::new_v4());
    let create = create_command(auction_id);
    store
        .execute(auction_id, &context(&user("seller"), None), |state, now| {
            decide_create(state, &create, now)
        })
        .await
        .unwrap_or_else(|error| panic!("the fixture's auction was not created: {error}"));
    auction_id
}

/// The snapshot the store would write after `events`.
pub fn snapshot_of(auction_id: AuctionId, events: &[StoredEvent]) -> Result<Snapshot, StoreError> {
    let decoded = events
        .iter()
        .map(StoredEvent::decode::<AuctionEvent>)
        .collect::<Result<Vec<_>, _>>()?;
    let state = fold(decoded.iter().map(|e| &e.event));
    Ok(Snapshot {
        aggregate_id: auction_id.into(),
        version: state.version,
        format: SNAPSHOT_FORMAT,
        head_hash: events.last().map(|e| e.hash.clone()).unwrap_or_default(),
        state: serde_json::to_string(&state)
            .map_err(|e| StoreError::Refused(format!("state does not serialize: {e}")))?,
    })
}
