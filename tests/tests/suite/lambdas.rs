//! Every deployed Lambda binary, as `cargo lambda build` wrote it (target/lambda/<binary>/
//! bootstrap), started under cargo-lambda's Runtime API emulator with the environment Lambda
//! would give it on this test's tables and queues, sent one real event in the JSON Lambda sends
//! (a DynamoDB Streams batch read back from the stream, an SQS batch received from the queue, an
//! API Gateway HTTP API v2 request with its authorizer's claims, a WebSocket event, an
//! EventBridge schedule), its effect and its response checked (a partial batch failure among
//! them), then stopped. docs/lambda-local.md says how they run and what the emulator lacks.

mod harness;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode as HttpStatus;
use axum::routing::post;
use chrono::{DateTime, TimeDelta, Utc};
use domain::{CreateAuction, decide_create};
use e2e::{TestEnv, fixtures};
use event_store::{EventLog, Meter, SnapshotPolicy, Store, StoredEvent};
use events::AuctionId;
use live::{ConnectionId, DynamoDbSubscriptions, Subscriptions};
use local_stack::lambda::Invocation;
use parking::ParkedItems;
use payment_identities::{
    AccountId, CardOnFile, CustomerId, DynamoDbPaymentIdentities, PaymentMethodId,
    RecordPaymentIdentity,
};
use read_models::Projections;
use read_models::notifications::{DynamoDbNotifications, Kind, ListNotifications};
use serde_json::{Value, json};
use uuid::Uuid;

use harness::{
    Lambda, eventually, failed_items, http_api_request, publish, queue_event, queue_records,
    scheduled_event, stream_event, stream_records, unreadable_queue_record,
    unreadable_stream_record, websocket_event,
};

/// Every event of the auction, in order.
async fn log_of(env: &TestEnv, auction_id: AuctionId) -> Vec<StoredEvent> {
    env.event_store()
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap()
}

fn types(events: &[StoredEvent]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.envelope.event_type.as_str())
        .collect()
}

// --------------------------------------------------------------------------- stream consumers

#[tokio::test]
async fn given_an_auction_in_the_log_when_projector_lambda_gets_its_stream_batch_with_an_unreadable_record_then_the_view_is_written_and_only_that_record_is_reported()
 {
    // Given an auction committed through the event store, its record read back from the stream,
    // and a record no projector can read
    let env = TestEnv::new().await;
    let auction_id = crate::support::created(&env.store()).await;
    let records = stream_records(&env, 1).await;
    let unreadable = unreadable_stream_record(&records[0]);
    let mut projector = Lambda::start("projector-lambda", &env, &[]).await;

    // When projector-lambda is invoked with the batch
    let response = projector
        .respond(&stream_event(vec![records[0].clone(), unreadable.clone()]))
        .await;

    // Then only the unreadable record comes back, by its sequence number
    assert_eq!(
        failed_items(&response),
        [unreadable["dynamodb"]["SequenceNumber"].as_str().unwrap()]
    );
    // and the auction's row is in the view at the event's version
    let view = env.views().load(auction_id).await.unwrap();
    assert_eq!(view.map(|v| v.version()), Some(1));
    // and its stream's head moved to it, for the log's digests
    let heads = notary::Heads::all(&env.heads()).await.unwrap();
    let head = heads
        .iter()
        .find(|h| h.aggregate_id == auction_id.0)
        .unwrap();
    assert_eq!(head.version, 1);
    assert_eq!(head.head, log_of(&env, auction_id).await[0].hash);
    projector.stop().await;
}

#[tokio::test]
async fn given_a_bid_in_the_log_when_publisher_lambda_gets_its_stream_batch_with_an_unreadable_record_then_the_bid_reaches_its_queues_and_only_that_record_is_reported()
 {
    // Given an auction and a bid on it, their records read back from the stream, and a record
    // no publisher can read
    let env = TestEnv::new().await;
    let store = env.store();
    let auction_id = crate::support::created(&store).await;
    crate::support::outbid(&store, auction_id, "bob").await;
    let events = log_of(&env, auction_id).await;
    let records = stream_records(&env, events.len()).await;
    let unreadable = unreadable_stream_record(&records[0]);
    let mut batch = records.clone();
    batch.push(unreadable.clone());
    let mut publisher = Lambda::start("publisher-lambda", &env, &[]).await;

    // When publisher-lambda is invoked with the batch
    let response = publisher.respond(&stream_event(batch)).await;

    // Then only the unreadable record comes back
    assert_eq!(
        failed_items(&response),
        [unreadable["dynamodb"]["SequenceNumber"].as_str().unwrap()]
    );
    // and the bid (not the creation, which nobody consumes) is in the notifications and live
    // queues, as the stored envelope
    let placed = events
        .iter()
        .find(|e| e.envelope.event_type == "BidPlaced")
        .unwrap();
    for queue in [env.notifications_queue(), env.live_queue()] {
        let received = queue_records(&env, &queue.url, &queue.arn, 1).await;
        assert_eq!(received.len(), 1, "{}: {received:?}", queue.name);
        let body: Value = serde_json::from_str(received[0]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["eventId"], placed.envelope.event_id.to_string());
    }
    publisher.stop().await;
}

// ---------------------------------------------------------------------------- queue consumers

#[tokio::test]
async fn given_cat_outbidding_bob_when_notifier_lambda_gets_the_queues_batch_with_an_unreadable_message_then_bob_is_told_and_only_that_message_is_reported()
 {
    // Given bob's bid and cat's higher one, published to the notifications queue as the
    // publisher does, received with every attribute, and a message no notifier can read
    let env = TestEnv::new().await;
    let store = env.store();
    let auction_id = crate::support::created(&store).await;
    crate::support::outbid(&store, auction_id, "bob").await;
    crate::support::outbid(&store, auction_id, "cat").await;
    let events = log_of(&env, auction_id).await;
    let bids: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.envelope.event_type == "BidPlaced")
        .collect();
    let queue = env.notifications_queue().clone();
    publish(&env, &queue.url, &bids).await;
    let mut records = queue_records(&env, &queue.url, &queue.arn, bids.len()).await;
    let unreadable = unreadable_queue_record(&records[0]);
    records.push(unreadable.clone());
    let mut notifier = Lambda::start("notifier-lambda", &env, &[]).await;

    // When notifier-lambda is invoked with the batch
    let response = notifier.respond(&queue_event(records)).await;

    // Then only the unreadable message comes back, by its message id
    assert_eq!(
        failed_items(&response),
        [unreadable["messageId"].as_str().unwrap()]
    );
    // and bob's inbox says he was outbid
    let inbox = DynamoDbNotifications::new(
        env.dynamodb().clone(),
        env.names().notifications_table.clone(),
    );
    let bobs = inbox
        .list(&fixtures::user("bob"), 10, None)
        .await
        .unwrap()
        .notifications;
    assert_eq!(
        bobs.iter().map(|n| n.kind).collect::<Vec<_>>(),
        [Kind::Outbid]
    );
    assert_eq!(bobs[0].auction_id, auction_id);
    notifier.stop().await;
}

/// sally's lamp, sold to bob (cat bid too), with bob's card and sally's payout account made in
/// the stack's Stripe and registered as the API registers them.
async fn sold_lamp(env: &TestEnv) -> AuctionId {
    let store = Store::new(env.event_store(), SnapshotPolicy::default());
    let auction_id = AuctionId(Uuid::new_v4());
    let epoch = fixtures::epoch();
    let create =
        payments::testing::sallys_lamp(auction_id, None, epoch + TimeDelta::days(1)).unwrap();
    let context = crate::support::system_context(epoch);
    payments::testing::register_item(&store, &create, &context)
        .await
        .unwrap();
    payments::testing::sell(
        &store,
        &create,
        &[("bob", 5_000), ("cat", 3_000)],
        |step| match step {
            payments::testing::SaleStep::End => {
                crate::support::system_context(epoch + TimeDelta::days(2))
            }
            _ => crate::support::system_context(epoch),
        },
    )
    .await
    .unwrap();
    let stripe = crate::support::stripe().await;
    let key = |what: &str| format!("e2e-lambda-{what}-{}", Uuid::new_v4().simple());
    let identities = DynamoDbPaymentIdentities::new(
        env.dynamodb().clone(),
        env.names().payment_identities_table.clone(),
    );
    let customer = stripe
        .create_customer("bob", &key("customer"))
        .await
        .unwrap();
    let card = stripe
        .create_card_payment_method("4242424242424242", &key("card"))
        .await
        .unwrap();
    stripe
        .attach_payment_method(&card.id, &customer.id, &key("attach"))
        .await
        .unwrap();
    identities
        .put_payment_method(
            &fixtures::user("bob"),
            &CardOnFile {
                customer_id: CustomerId::parse(&customer.id).unwrap(),
                payment_method_id: PaymentMethodId::parse(&card.id).unwrap(),
                brand: "visa".to_owned(),
                last4: "4242".to_owned(),
            },
            epoch,
        )
        .await
        .unwrap();
    let account = stripe
        .create_connected_account("sally@example.com", &key("account"))
        .await
        .unwrap();
    identities
        .put_payout_account(
            &fixtures::user("sally"),
            &AccountId::parse(&account.id).unwrap(),
            epoch,
        )
        .await
        .unwrap();
    auction_id
}

#[tokio::test]
async fn given_a_sold_lamp_when_payment_saga_lambda_gets_its_end_from_the_queue_with_an_unreadable_message_then_bob_pays_on_stripe_and_only_that_message_is_reported()
 {
    // Given sally's lamp sold to bob, its end published to the payments queue and received,
    // and a message no saga can read
    let env = TestEnv::new().await;
    let auction_id = sold_lamp(&env).await;
    let events = log_of(&env, auction_id).await;
    let ended = events
        .iter()
        .find(|e| e.envelope.event_type == "AuctionEnded")
        .unwrap();
    let queue = env.payments_queue().clone();
    publish(&env, &queue.url, &[ended]).await;
    let mut records = queue_records(&env, &queue.url, &queue.arn, 1).await;
    let unreadable = unreadable_queue_record(&records[0]);
    records.push(unreadable.clone());
    let mut saga = Lambda::start("payment-saga-lambda", &env, &[]).await;

    // When payment-saga-lambda is invoked with the batch
    let response = saga.respond(&queue_event(records)).await;

    // Then only the unreadable message comes back: the sale's message was settled within the
    // invocation's deadline (the emulator's front gives a real one)
    assert_eq!(
        failed_items(&response),
        [unreadable["messageId"].as_str().unwrap()]
    );
    // and the log records bob's payment once
    let after = log_of(&env, auction_id).await;
    let succeeded = types(&after)
        .into_iter()
        .filter(|t| *t == "PaymentSucceeded")
        .count();
    assert_eq!(succeeded, 1, "{:?}", types(&after));
    saga.stop().await;
}

#[tokio::test]
async fn given_a_dead_lettered_payment_message_when_parker_lambda_gets_the_dlqs_batch_with_an_unreadable_message_then_it_is_parked_with_a_metric_line_and_only_that_message_is_reported()
 {
    // Given the last event of an auction dead-lettered from the payments queue (its DLQ holds
    // the publisher's message), received from the DLQ, and a message nobody can park
    let env = TestEnv::new().await;
    let (auction_id, events) = fixtures::history(1).await.unwrap();
    fixtures::import(&env.event_store(), &events).await.unwrap();
    let last = events.last().unwrap();
    let queue = env.payments_queue().clone();
    publish(&env, &queue.dlq_url, &[last]).await;
    let mut records = queue_records(&env, &queue.dlq_url, &queue.dlq_arn, 1).await;
    let unreadable = unreadable_queue_record(&records[0]);
    records.push(unreadable.clone());
    let mut parker = Lambda::start("parker-lambda", &env, &[]).await;

    // When parker-lambda is invoked with the batch
    let response = parker.respond(&queue_event(records)).await;

    // Then only the unreadable message comes back
    assert_eq!(
        failed_items(&response),
        [unreadable["messageId"].as_str().unwrap()]
    );
    // and the event is parked for the payment saga
    let parked = env.parked().list(None).await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].consumer, "payment-saga");
    assert_eq!(parked[0].aggregate_id, auction_id);
    assert_eq!(
        (parked[0].from_version, parked[0].to_version),
        (last.version(), last.version())
    );
    // and stdout carries an embedded-metric document counting it for the payment saga, as
    // the binary's conventions write them (what each metric is called is tests/emf.rs's)
    let stopped = parker.stop().await;
    let documents: Vec<Value> = stopped
        .stdout
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["_aws"]["CloudWatchMetrics"].is_array())
        .collect();
    let for_the_saga = documents
        .iter()
        .find(|document| document["Consumer"] == "payment-saga")
        .unwrap_or_else(|| {
            panic!(
                "no metric of the payment saga on stdout: {:?}",
                stopped.stdout
            )
        });
    let metrics = for_the_saga["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap();
    assert!(!metrics.is_empty(), "{for_the_saga}");
    for metric in metrics {
        let name = metric["Name"].as_str().unwrap();
        assert_eq!(for_the_saga[name], 1, "{name} in {for_the_saga}");
    }
}

#[tokio::test]
async fn given_watchers_of_an_auction_when_live_broadcaster_lambda_gets_a_bid_from_the_live_queue_with_an_unreadable_message_then_the_watcher_gets_the_update_a_gone_one_is_forgotten_and_only_that_message_is_reported()
 {
    // Given a management API that takes pushes to "alive" and answers 410 Gone for "gone"
    let env = TestEnv::new().await;
    let pushes = Pushes::default();
    let endpoint = management_api(Arc::clone(&pushes)).await;
    // and both connections watching an auction that gets a bid
    let store = env.store();
    let auction_id = crate::support::created(&store).await;
    crate::support::outbid(&store, auction_id, "bob").await;
    let subscriptions = DynamoDbSubscriptions::new(
        env.dynamodb().clone(),
        env.names().live_connections_table.clone(),
    );
    let (alive, gone) = (
        ConnectionId("alive".to_owned()),
        ConnectionId("gone".to_owned()),
    );
    for connection in [&alive, &gone] {
        subscriptions
            .connected(connection, &fixtures::user("watcher"), Utc::now())
            .await
            .unwrap();
        subscriptions
            .subscribe(connection, auction_id, Utc::now())
            .await
            .unwrap();
    }
    // and the bid published to the live queue and received, beside a message nobody can read
    let events = log_of(&env, auction_id).await;
    let placed = events
        .iter()
        .find(|e| e.envelope.event_type == "BidPlaced")
        .unwrap();
    let queue = env.live_queue().clone();
    publish(&env, &queue.url, &[placed]).await;
    let mut records = queue_records(&env, &queue.url, &queue.arn, 1).await;
    let unreadable = unreadable_queue_record(&records[0]);
    records.push(unreadable.clone());
    let mut broadcaster = Lambda::start(
        "live-broadcaster-lambda",
        &env,
        &[("LIVE_ENDPOINT_URL", endpoint.as_str())],
    )
    .await;

    // When live-broadcaster-lambda is invoked with the batch
    let response = broadcaster.respond(&queue_event(records)).await;

    // Then only the unreadable message comes back
    assert_eq!(
        failed_items(&response),
        [unreadable["messageId"].as_str().unwrap()]
    );
    // and the live connection got the auction's new version
    let pushed = pushes.lock().unwrap().clone();
    let to_alive: Vec<&Value> = pushed
        .iter()
        .filter(|(connection, _)| connection == "alive")
        .map(|(_, body)| body)
        .collect();
    assert!(!to_alive.is_empty(), "{pushed:?}");
    assert!(
        to_alive
            .iter()
            .all(|body| body["auctionId"] == auction_id.to_string()),
        "{to_alive:?}"
    );
    assert!(
        to_alive
            .iter()
            .any(|body| body["version"] == placed.version()),
        "{to_alive:?}"
    );
    // and the gone one is forgotten
    assert_eq!(subscriptions.watchers(auction_id).await.unwrap(), [alive]);
    broadcaster.stop().await;
}

/// What the management API was sent: (connection id, JSON body) per push.
type Pushes = Arc<Mutex<Vec<(String, Value)>>>;

/// A stand-in for the WebSocket stage's management API on a free port: records each
/// `POST /@connections/{id}` (JSON body) and answers 410 Gone for the connection `gone`.
async fn management_api(pushes: Pushes) -> String {
    async fn push(
        State(pushes): State<Pushes>,
        Path(connection): Path<String>,
        body: axum::body::Bytes,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        if connection == "gone" {
            // As API Gateway answers for a closed connection: the SDK reads the error type.
            return (
                HttpStatus::GONE,
                [("x-amzn-errortype", "GoneException")],
                r#"{"message":null}"#,
            )
                .into_response();
        }
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        pushes.lock().unwrap().push((connection, body));
        HttpStatus::OK.into_response()
    }
    let router = axum::Router::new()
        .route("/@connections/{connection}", post(push))
        .with_state(pushes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

// ------------------------------------------------------------------------------- the gateways

#[tokio::test]
async fn given_a_seller_with_a_payout_account_when_api_lambda_gets_http_api_requests_with_authorizer_claims_then_the_auction_is_created_as_theirs_and_a_request_without_claims_is_refused()
 {
    // Given seller-ann's connected account made in the stack's Stripe
    let env = TestEnv::new().await;
    let stripe = crate::support::stripe().await;
    let (_, account) = crate::support::stripe_identity(&stripe, "seller-ann").await;
    let mut api = Lambda::start("api-lambda", &env, &[]).await;

    // When she registers it and creates an auction through API Gateway's JWT authorizer
    let registered = api
        .respond(&http_api_request(
            "PUT",
            "/me/payout-account",
            Some(&account),
            Some("seller-ann"),
        ))
        .await;
    let auction = json!({
        "title": "Brass telescope",
        "currency": "EUR",
        "startingPrice": 1_000,
        "endsAt": (Utc::now() + TimeDelta::days(1)).to_rfc3339(),
    });
    let created = api
        .respond(&http_api_request(
            "POST",
            "/auctions",
            Some(&auction),
            Some("seller-ann"),
        ))
        .await;

    // Then both succeed, the creation with 201 and the auction's id
    assert_eq!(registered["statusCode"], 200, "{registered}");
    assert_eq!(created["statusCode"], 201, "{created}");
    let body: Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    let auction_id = AuctionId(body["auctionId"].as_str().unwrap().parse().unwrap());
    // and the log holds its creation, by the authorizer's caller under their pseudonym
    let events = log_of(&env, auction_id).await;
    assert_eq!(types(&events).first(), Some(&"AuctionCreated"));
    assert_eq!(
        events[0].envelope.metadata.actor,
        events::Actor::User {
            id: env.pseudonym("seller-ann").await
        }
    );

    // When a request arrives without authorizer claims (whatever its headers say)
    let mut anonymous = http_api_request("POST", "/auctions", Some(&auction), None);
    anonymous["headers"]["authorization"] = json!("Bearer forged");
    let refused = api.respond(&anonymous).await;

    // Then it is refused with 401 and a problem document
    assert_eq!(refused["statusCode"], 401, "{refused}");
    let problem: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
    assert!(problem["code"].is_string(), "{problem}");
    let content_type = refused["headers"]["content-type"]
        .as_str()
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "{refused}"
    );

    // and what the binary printed: on stdout, an embedded-metric document for the creation,
    // with the contract's names, units and dimensions and the invocation's request id
    let stopped = api.stop().await;
    let creation = stopped
        .stdout
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|document| document["Command"] == "CreateAuction")
        .unwrap_or_else(|| panic!("no CreateAuction metrics on stdout: {:?}", stopped.stdout));
    let directive = &creation["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "AuctionPlatform", "{creation}");
    assert_eq!(directive["Dimensions"], json!([["Command"]]), "{creation}");
    let units: Vec<(&str, &str)> = directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["Name"].as_str().unwrap(), m["Unit"].as_str().unwrap()))
        .collect();
    for expected in [
        ("CommandsAccepted", "Count"),
        ("CommandLatency", "Milliseconds"),
        ("CommandWriteUnits", "Count"),
    ] {
        assert!(units.contains(&expected), "{expected:?} in {units:?}");
    }
    assert_eq!(creation["CommandsAccepted"], 1, "{creation}");
    assert!(creation["requestId"].is_string(), "{creation}");
    // and on stderr, JSON log lines of the invocations that name its request and its trace
    let named = stopped
        .stderr
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["spans"].as_array().is_some_and(|spans| {
                spans.iter().any(|span| {
                    span["requestId"] == creation["requestId"]
                        && span["xrayTraceId"]
                            .as_str()
                            .is_some_and(|trace| trace.starts_with("Root=1-"))
                })
            })
        })
        .count();
    assert!(
        named > 0,
        "no log line of the creation names its request and trace: {:?}",
        stopped.stderr
    );
}

#[tokio::test]
async fn given_a_connected_watcher_when_live_ws_lambda_gets_websocket_events_then_a_subscription_is_answered_and_recorded_a_connect_without_token_is_refused_and_a_disconnect_forgets_it()
 {
    // Given a connection of ann recorded as `$connect` records it
    let env = TestEnv::new().await;
    let subscriptions = DynamoDbSubscriptions::new(
        env.dynamodb().clone(),
        env.names().live_connections_table.clone(),
    );
    let connection = ConnectionId(format!("c{}=", Uuid::new_v4().simple()));
    subscriptions
        .connected(&connection, &fixtures::user("ann"), Utc::now())
        .await
        .unwrap();
    let auction_id = AuctionId(Uuid::new_v4());
    // The user pool is required configuration; no test here reaches its keys.
    let mut gateway = Lambda::start(
        "live-ws-lambda",
        &env,
        &[
            ("COGNITO_USER_POOL_ID", "us-east-1_e2eLambda"),
            ("COGNITO_CLIENT_ID", "e2elambdaclient"),
        ],
    )
    .await;

    // When she subscribes to an auction
    let subscribe = json!({"action": "subscribe", "auctionId": auction_id}).to_string();
    let answered = gateway
        .respond(&websocket_event(
            "$default",
            &connection.0,
            None,
            Some(&subscribe),
        ))
        .await;

    // Then the route response says so, and the connection watches it
    assert_eq!(answered["statusCode"], 200, "{answered}");
    let body: Value = serde_json::from_str(answered["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"type": "subscribed", "auctionId": auction_id.to_string()})
    );
    assert_eq!(
        subscriptions.watchers(auction_id).await.unwrap(),
        std::slice::from_ref(&connection)
    );

    // When another client connects without a token
    let stranger = format!("s{}=", Uuid::new_v4().simple());
    let refused = gateway
        .respond(&websocket_event("$connect", &stranger, None, None))
        .await;

    // Then it is refused with 401
    assert_eq!(refused, json!({"statusCode": 401}));

    // When ann's connection closes
    let closed = gateway
        .respond(&websocket_event("$disconnect", &connection.0, None, None))
        .await;

    // Then it is forgotten with what it watched
    assert_eq!(closed, json!({"statusCode": 200}));
    assert!(subscriptions.watchers(auction_id).await.unwrap().is_empty());
    gateway.stop().await;
}

// ------------------------------------------------------------------------------ the schedules

/// An auction created two hours ago that ended a minute ago, in the log and in the views (the
/// status index the scheduler reads), not yet ended by anyone.
async fn overdue_auction(env: &TestEnv) -> AuctionId {
    let store = env.store();
    let auction_id = AuctionId(Uuid::new_v4());
    let now = Utc::now();
    let command = CreateAuction {
        ends_at: now - TimeDelta::minutes(1),
        ..fixtures::create_command(auction_id)
    };
    let mut context = fixtures::context(&fixtures::user("seller"), None);
    context.now = now - TimeDelta::hours(2);
    store
        .execute(auction_id, &context, |state, now| {
            decide_create(state, &command, now)
        })
        .await
        .unwrap();
    project(env, auction_id).await;
    auction_id
}

/// Brings the auction's views up to its log, as the projector would.
async fn project(env: &TestEnv, auction_id: AuctionId) {
    let (views, log) = (env.views(), env.event_store());
    let mut current = views.load(auction_id).await.unwrap();
    for stored in log_of(env, auction_id).await {
        let event = stored.decode().unwrap();
        current = read_models::apply(&views, &log, current, &event)
            .await
            .unwrap()
            .1;
    }
}

#[tokio::test]
async fn given_an_overdue_auction_when_scheduler_lambda_is_invoked_by_its_schedule_then_the_auction_ends_while_the_invocation_sweeps_on()
 {
    // Given an auction past its end in the log and in the status index
    let env = TestEnv::new().await;
    let auction_id = overdue_auction(&env).await;
    let mut scheduler = Lambda::start("scheduler-lambda", &env, &[]).await;

    // When scheduler-lambda is invoked by its schedule
    let schedule = scheduled_event("scheduler-every-minute");
    let invocation = async { scheduler.invoke(&schedule).await };
    let ended = eventually("the auction ended", || async {
        types(&log_of(&env, auction_id).await).contains(&"AuctionEnded")
    });

    // Then the auction ends, once, while the invocation is still sweeping (it sweeps for
    // 58 s of its 70 s timeout: its answer is not waited for here)
    tokio::select! {
        answer = invocation => panic!("the sweep answered before ending the auction: {answer:?}"),
        () = ended => {}
    }
    let log = log_of(&env, auction_id).await;
    let events = types(&log);
    assert_eq!(events.last(), Some(&"AuctionEnded"), "{events:?}");
    assert_eq!(events.iter().filter(|t| **t == "AuctionEnded").count(), 1);
    scheduler.stop().await;
}

#[tokio::test]
async fn given_an_auction_whose_view_was_never_written_when_reconciler_lambda_is_invoked_by_its_schedule_then_it_answers_what_it_repaired_and_the_view_is_there()
 {
    // Given an auction created two minutes ago whose record never reached the projector
    let env = TestEnv::new().await;
    let store = env.store();
    let auction_id = AuctionId(Uuid::new_v4());
    let create = CreateAuction {
        ends_at: Utc::now() + TimeDelta::days(1),
        ..fixtures::create_command(auction_id)
    };
    let mut context = fixtures::context(&fixtures::user("seller"), None);
    context.now = Utc::now() - TimeDelta::minutes(2);
    let created_at: DateTime<Utc> = context.now;
    store
        .execute(auction_id, &context, |state, now| {
            decide_create(state, &create, now)
        })
        .await
        .unwrap();
    assert!(env.views().load(auction_id).await.unwrap().is_none());
    // and the reconciler deployed to look at what is older than a second
    let mut reconciler = Lambda::start(
        "reconciler-lambda",
        &env,
        &[("RECONCILE_GRACE_SECONDS", "1")],
    )
    .await;

    // When reconciler-lambda is invoked by its schedule
    let reconciled = reconciler
        .respond(&scheduled_event("reconciler-every-five-minutes"))
        .await;

    // Then it answers with its run: the view behind, repaired, nothing failed
    assert_eq!(reconciled["viewsBehind"], 1, "{reconciled}");
    assert_eq!(reconciled["failed"], 0, "{reconciled}");
    assert!(
        reconciled["auctions"].as_u64().unwrap() >= 1,
        "{reconciled}"
    );
    // and the auction's row is in the view, at the log's head
    let head = log_of(&env, auction_id)
        .await
        .last()
        .map(StoredEvent::version);
    let view = env.views().load(auction_id).await.unwrap();
    assert_eq!(view.map(|v| v.version()), head, "created at {created_at}");
    reconciler.stop().await;
}

// ---------------------------------------------------------------------- the harness's own checks

#[tokio::test]
async fn given_a_binary_whose_handler_fails_when_invoked_then_the_function_error_comes_back_with_its_type_and_message()
 {
    // Given the projector invoked with a batch that is not a stream event at all
    let env = TestEnv::new().await;
    let mut projector = Lambda::start("projector-lambda", &env, &[]).await;

    // When it is invoked
    let answer = projector.invoke(&json!({"Records": "not a list"})).await;

    // Then the runtime's error reaches the caller as a function error, and the binary keeps
    // serving: a well-formed empty batch is answered next
    match answer {
        Invocation::FunctionError {
            error_type,
            error_message,
        } => {
            assert!(!error_type.is_empty());
            assert!(error_message.contains("deserialize"), "{error_message}");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    let empty = projector.respond(&stream_event(vec![])).await;
    assert_eq!(failed_items(&empty), Vec::<String>::new());
    let log_lines = projector.function().stderr().len() + projector.function().stdout().len();
    assert!(log_lines > 0, "the binary's output was not captured");
    projector.stop().await;
}

#[test]
fn every_lambda_binary_has_a_smoke_test_here() {
    // Each binary's name is written in this file only where a test starts it.
    let source = include_str!("lambdas.rs");
    for binary in local_stack::lambda::LAMBDA_BINARIES {
        assert!(
            source.contains(&format!("\"{binary}\"")),
            "{binary} is started by no test in this file"
        );
    }
}

// --------------------------------------------------------------------------- the log's digests

#[tokio::test]
async fn given_streams_with_heads_when_digester_lambda_is_invoked_by_its_schedule_then_it_writes_signed_digests_that_the_verifier_accepts()
 {
    // Given an auction with a bid, its head moved as the projector moves it
    let env = TestEnv::new().await;
    let store = env.store();
    let auction_id = crate::support::created(&store).await;
    crate::support::outbid(&store, auction_id, "bob").await;
    let events = log_of(&env, auction_id).await;
    let last = events.last().unwrap();
    notary::AdvanceHeads::advance(
        &env.heads(),
        &[notary::StreamHead {
            aggregate_type: last.envelope.aggregate_type.clone(),
            aggregate_id: last.envelope.aggregate_id,
            version: last.version(),
            head: last.hash.clone(),
        }],
    )
    .await
    .unwrap();
    let mut digester = Lambda::start("digester-lambda", &env, &[]).await;

    // When digester-lambda is invoked by its schedule, twice
    let first = digester
        .respond(&scheduled_event("digest-every-five-minutes"))
        .await;
    let second = digester
        .respond(&scheduled_event("digest-every-five-minutes"))
        .await;
    digester.stop().await;

    // Then it answers the digests it wrote: one stream, the second over the same tree
    assert_eq!(first["published"]["sequence"], 1, "{first}");
    assert_eq!(first["published"]["treeSize"], 1, "{first}");
    assert_eq!(second["published"]["sequence"], 2, "{second}");
    assert_eq!(second["published"]["leavesReused"], true, "{second}");
    assert_eq!(first["published"]["root"], second["published"]["root"]);
    // and the standalone verifier accepts the bid's proof against the second
    let (code, said) = crate::digests::Evidence::gather(&env, auction_id, last.version(), 2)
        .await
        .verify();
    assert_eq!(code, 0, "{said}");
}

#[tokio::test]
async fn given_a_photo_and_a_text_file_uploaded_when_thumbnailer_lambda_gets_the_buckets_notifications_then_the_photo_is_thumbnailed_and_the_text_file_refused_and_deleted()
 {
    // Given a JPEG and a text file posing as a PNG posted through their grants, and the
    // bucket's notifications of both received from the uploads queue, with a message that
    // is no notification at all
    let env = TestEnv::new().await;
    let store = env.photos().await;
    let mut photos = Vec::new();
    for (content_type, file) in [
        ("image/jpeg", photos::testing::jpeg(800, 600)),
        ("image/png", b"not a photo".to_vec()),
    ] {
        let photo = photos::Photo {
            auction: AuctionId(Uuid::new_v4()),
            id: photos::PhotoId::new(),
        };
        let upload = photos::Upload {
            photo,
            content_type: content_type.to_owned(),
            size: file.len() as u64,
        };
        let grant = photos::Grants::grant(&store, &upload, 0, chrono::Utc::now())
            .await
            .unwrap();
        let status = photos::testing::post_form(&grant, content_type, file).await;
        assert_eq!(status, hyper::StatusCode::NO_CONTENT);
        photos.push(photo);
    }
    let queue = env.resources.photo_uploads.clone();
    // S3's test event (sent when the notification was set) and the two uploads.
    let mut records = queue_records(&env, &queue.url, &queue.arn, 3).await;
    let unreadable = unreadable_queue_record(&records[0]);
    records.push(unreadable);
    let mut thumbnailer = Lambda::start("thumbnailer-lambda", &env, &[]).await;

    // When thumbnailer-lambda is invoked with the batch
    let response = thumbnailer.respond(&queue_event(records)).await;

    // Then nothing is retried (the unreadable message can never become a notification)
    assert_eq!(failed_items(&response), Vec::<String>::new());
    // and the JPEG has its thumbnail, the text file is gone with its refusal kept
    let [jpeg, text] = [photos[0], photos[1]];
    assert_eq!(
        photos::Thumbnails::photos(&store, jpeg.auction)
            .await
            .unwrap(),
        [jpeg]
    );
    assert_eq!(photos::Originals::head(&store, &text).await.unwrap(), None);
    assert_eq!(
        photos::Refusals::find(&store, &text).await.unwrap(),
        Some(photos::Refusal::NotAnImage)
    );
    thumbnailer.stop().await;
}
