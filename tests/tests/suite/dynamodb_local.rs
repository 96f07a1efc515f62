//! DynamoDB Local honours what the event store relies on: conditional puts, all-or-nothing
//! transactions, the stream and the audit index (byTypeShard) of the provisioned Events table.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeyType, ProjectionType, Put, StreamViewType, TransactWriteItem,
};
use e2e::TestEnv;
use uuid::Uuid;

/// The condition every append uses: the (aggregateId, version) key is not taken yet.
const NOT_TAKEN: &str = "attribute_not_exists(aggregateId)";

fn event(
    aggregate_id: &str,
    version: u64,
    event_type: &str,
    payload: &str,
) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "aggregateId".to_owned(),
            AttributeValue::S(aggregate_id.to_owned()),
        ),
        ("version".to_owned(), AttributeValue::N(version.to_string())),
        (
            "eventType".to_owned(),
            AttributeValue::S(event_type.to_owned()),
        ),
        (
            "occurredAt".to_owned(),
            AttributeValue::S(format!("2026-01-01T00:00:0{version}Z")),
        ),
        // The audit index's keys, as the store writes them (every aggregate here in shard 0).
        (
            "typeShard".to_owned(),
            AttributeValue::S(format!("{event_type}#0")),
        ),
        (
            "typeOrder".to_owned(),
            AttributeValue::S(format!(
                "2026-01-01T00:00:0{version}.000Z#{aggregate_id}#{version:020}"
            )),
        ),
        ("payload".to_owned(), AttributeValue::S(payload.to_owned())),
    ])
}

async fn append(
    env: &TestEnv,
    item: HashMap<String, AttributeValue>,
) -> Result<PutItemOutput, SdkError<PutItemError>> {
    env.dynamodb()
        .put_item()
        .table_name(env.events_table())
        .set_item(Some(item))
        .condition_expression(NOT_TAKEN)
        .send()
        .await
}

/// Every stored event of an aggregate, in version order, read consistently.
async fn stored_events(env: &TestEnv, aggregate_id: &str) -> Vec<HashMap<String, AttributeValue>> {
    env.dynamodb()
        .query()
        .table_name(env.events_table())
        .key_condition_expression("aggregateId = :id")
        .expression_attribute_values(":id", AttributeValue::S(aggregate_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(value)) | Some(AttributeValue::N(value)) => value,
        other => panic!("{name} is {other:?}"),
    }
}

#[tokio::test]
async fn a_conditional_put_of_a_taken_version_fails_and_leaves_the_stored_event_unchanged() {
    // Given version 1 of an auction in the log
    let env = TestEnv::new().await;
    let id = Uuid::new_v4().to_string();
    append(&env, event(&id, 1, "AuctionOpened", "first"))
        .await
        .unwrap();

    // When a second writer appends its own version 1
    let error = append(&env, event(&id, 1, "AuctionOpened", "second"))
        .await
        .unwrap_err();

    // Then the write is refused as a failed condition
    assert!(
        error
            .as_service_error()
            .is_some_and(PutItemError::is_conditional_check_failed_exception),
        "{error:?}"
    );
    // And the stored event is still the first writer's
    let stored = stored_events(&env, &id).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(text(&stored[0], "payload"), "first");
    // And the condition refuses only taken versions: version 2 is accepted
    append(&env, event(&id, 2, "BidPlaced", "next"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_transaction_of_two_events_where_one_collides_writes_neither() {
    // Given version 1 of an auction in the log
    let env = TestEnv::new().await;
    let id = Uuid::new_v4().to_string();
    append(&env, event(&id, 1, "AuctionOpened", "first"))
        .await
        .unwrap();
    let put = |item| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(env.events_table())
                    .set_item(Some(item))
                    .condition_expression(NOT_TAKEN)
                    .build()
                    .unwrap(),
            )
            .build()
    };

    // When one command appends a new version 2 and a colliding version 1 in one transaction
    let result = env
        .dynamodb()
        .transact_write_items()
        .transact_items(put(event(&id, 2, "BidPlaced", "new")))
        .transact_items(put(event(&id, 1, "AuctionOpened", "collides")))
        .send()
        .await;

    // Then the transaction is cancelled because of the collision
    let error = result.unwrap_err().into_service_error();
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = error else {
        panic!("expected TransactionCanceledException, got {error:?}");
    };
    let reasons: Vec<_> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|reason| reason.code().unwrap_or_default())
        .collect();
    assert_eq!(reasons, ["None", "ConditionalCheckFailed"]);
    // And neither event was written: the log holds only the original version 1
    let stored = stored_events(&env, &id).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(text(&stored[0], "version"), "1");
    assert_eq!(text(&stored[0], "payload"), "first");
}

#[tokio::test]
async fn the_events_table_streams_new_images_and_has_the_by_event_type_index() {
    // Given a provisioned Events table
    let env = TestEnv::new().await;

    // When it is described
    let table = env
        .dynamodb()
        .describe_table()
        .table_name(env.events_table())
        .send()
        .await
        .unwrap()
        .table
        .unwrap();

    // Then its key is (aggregateId, version)
    let keys: Vec<_> = table
        .key_schema()
        .iter()
        .map(|key| (key.attribute_name(), key.key_type().clone()))
        .collect();
    assert_eq!(
        keys,
        [("aggregateId", KeyType::Hash), ("version", KeyType::Range)]
    );
    // And its stream is on, with new images
    let stream = table.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewImage));
    assert!(table.latest_stream_arn().is_some());
    // And the audit index is keyed by (typeShard, typeOrder) and projects every attribute
    let index = table
        .global_secondary_indexes()
        .iter()
        .find(|index| index.index_name() == Some("byTypeShard"))
        .unwrap();
    let index_keys: Vec<_> = index
        .key_schema()
        .iter()
        .map(|key| (key.attribute_name(), key.key_type().clone()))
        .collect();
    assert_eq!(
        index_keys,
        [("typeShard", KeyType::Hash), ("typeOrder", KeyType::Range)]
    );
    assert_eq!(
        index.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::All)
    );
}

#[tokio::test]
async fn the_audit_index_finds_every_event_of_one_type_and_shard_across_auctions() {
    // Given events of two types across two auctions of one shard
    let env = TestEnv::new().await;
    let (first, second) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    append(&env, event(&first, 1, "AuctionOpened", "a1"))
        .await
        .unwrap();
    append(&env, event(&first, 2, "BidPlaced", "a2"))
        .await
        .unwrap();
    append(&env, event(&second, 1, "AuctionOpened", "b1"))
        .await
        .unwrap();

    // When the index is queried for one type
    let items = env
        .dynamodb()
        .query()
        .table_name(env.events_table())
        .index_name("byTypeShard")
        .key_condition_expression("typeShard = :partition")
        .expression_attribute_values(
            ":partition",
            AttributeValue::S("AuctionOpened#0".to_owned()),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();

    // Then it returns exactly that type's events, whole (projection ALL)
    let payloads: Vec<_> = items.iter().map(|item| text(item, "payload")).collect();
    assert_eq!(payloads.len(), 2);
    assert!(payloads.contains(&"a1") && payloads.contains(&"b1"));
}
