//! Stripe's webhook end to end: `api-local --dev` (as `scripts/run` runs it) on this test's
//! tables and queues registers its `POST /webhooks/stripe` on the stack's localstripe; a charge
//! declined on localstripe, for a sale in this test's log, comes back as localstripe's signed
//! `payment_intent.payment_failed`, which the API verifies and turns into the sale's event on
//! the payments queue, once. The very request localstripe sent, captured by a second endpoint
//! of the test's own on localstripe (localstripe signs one payload per event, with the same
//! timestamp for every endpoint), is then replayed: 409. And the StripeWebhookDeliveries
//! adapter itself on DynamoDB Local: replays told apart atomically, redeliveries kept.
//!
//! Needs the api-local binary next to the test binary (`cargo build -p api-local`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::system_context as context;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::{TimeDelta, Utc};
use e2e::TestEnv;
use e2e::fixtures::epoch;
use event_store::{EventLog, Meter, StoredEvent};
use events::AuctionId;
use fan_out::QueueMessage;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use payments::testing::{SaleStep, sallys_lamp, sell};
use serde_json::Value;
use stripe_api::webhook::{WEBHOOK_SECRET_VAR, WebhookSecret, sign};
use stripe_api::{OffSessionCharge, StripeError};
use tokio::process::{Child, Command};
use uuid::Uuid;
use webhook_deliveries::{Delivery, DynamoDbWebhookDeliveries, Recorded, WebhookDeliveries};

use crate::support;

/// Attaches, then every charge is declined (Stripe's "charge customer fail" test card).
const DECLINES_ON_CHARGE: &str = "4000000000000341";
/// localstripe posts an event about a second after it happened.
const DELIVERY_BUDGET: Duration = Duration::from_secs(30);

/// The stack's webhook signing secret (`local-stack exec` exports it, and localstripe signs
/// with whatever secret an endpoint registered).
fn stack_secret() -> String {
    std::env::var(WEBHOOK_SECRET_VAR)
        .expect("STRIPE_WEBHOOK_SECRET (run the suite under `local-stack exec`)")
}

fn stripe_api_base() -> String {
    std::env::var(stripe_api::API_BASE_VAR)
        .expect("STRIPE_API_BASE (run the suite under `local-stack exec`)")
}

/// api-local, started from the binary next to this test's, on this test's resources.
struct ApiLocal {
    child: Child,
    url: String,
    log: PathBuf,
}

impl ApiLocal {
    async fn start(env: &TestEnv) -> Self {
        let bin = std::env::current_exe()
            .unwrap()
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .join("api-local");
        assert!(
            bin.exists(),
            "{} is missing: build it first (`cargo build -p api-local`)",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("webhooks-api-local-{}.log", Uuid::new_v4()));
        let file = std::fs::File::create(&log).unwrap();
        let mut vars: BTreeMap<String, String> = env
            .endpoints
            .env()
            .into_iter()
            .chain(env.resources.env())
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        for var in [
            stripe_api::API_BASE_VAR,
            stripe_api::SECRET_KEY_VAR,
            WEBHOOK_SECRET_VAR,
            "PATH",
        ] {
            vars.insert(var.to_owned(), std::env::var(var).unwrap_or_default());
        }
        vars.insert("API_PORT".to_owned(), port.to_string());
        vars.insert(
            "LOCAL_JWT_SECRET".to_owned(),
            "webhook-suite-local-jwt-secret".to_owned(),
        );
        vars.insert("RUST_LOG".to_owned(), "info".to_owned());
        let child = Command::new(&bin)
            .arg("--dev")
            .env_clear()
            .envs(&vars)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut api = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        // It serves only once its webhook is registered on localstripe.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((StatusCode::OK, _)) = api.post_or_get("/health", None).await {
                break;
            }
            if let Some(status) = api.child.try_wait().unwrap() {
                panic!("api-local exited ({status}):\n{}", api.output());
            }
            assert!(
                Instant::now() < deadline,
                "api-local did not come up:\n{}",
                api.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            api.output()
                .contains(&format!("STRIPE_WEBHOOK_URL={}/webhooks/stripe", api.url)),
            "api-local did not register its webhook:\n{}",
            api.output()
        );
        api
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A GET of `path`, or a POST of `webhook` (body, Stripe-Signature) to it.
    async fn post_or_get(
        &self,
        path: &str,
        webhook: Option<(&[u8], &str)>,
    ) -> Result<(StatusCode, Value), String> {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let request = axum::http::Request::builder().uri(format!("{}{path}", self.url));
        let request = match webhook {
            Some((body, signature)) => request
                .method("POST")
                .header("content-type", "application/json; charset=utf-8")
                .header("stripe-signature", signature)
                .body(Full::new(Bytes::copy_from_slice(body))),
            None => request.method("GET").body(Full::new(Bytes::new())),
        }
        .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
            .await
            .map_err(|_| "no answer within 10 s".to_owned())?
            .map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn deliver(&self, body: &[u8], signature: &str) -> (StatusCode, Value) {
        self.post_or_get("/webhooks/stripe", Some((body, signature)))
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", self.output()))
    }
}

impl Drop for ApiLocal {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// One delivery localstripe made to the test's own endpoint.
#[derive(Debug, Clone)]
struct Captured {
    signature: String,
    body: Bytes,
}

/// An endpoint of the test's own, registered on localstripe under a fresh id for
/// `payment_intent.payment_failed`, with the stack's secret: it sees exactly what api-local
/// sees of those events (localstripe signs each event's payload once, at its creation time).
/// [`Capture::close`] re-registers it for no event type.
struct Capture {
    id: String,
    url: String,
    seen: Arc<Mutex<Vec<Captured>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Capture {
    async fn start() -> Self {
        let seen: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let app = axum::Router::new().route(
            "/capture",
            axum::routing::post({
                let seen = Arc::clone(&seen);
                move |headers: HeaderMap, body: Bytes| async move {
                    let signature = headers
                        .get("stripe-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().unwrap().push(Captured { signature, body });
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let url = format!("http://{}/capture", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let id = format!("e2e-capture-{}", Uuid::new_v4().simple());
        api_local::stripe_webhook::register(
            &stripe_api_base(),
            &id,
            &url,
            &stack_secret(),
            &["payment_intent.payment_failed"],
        )
        .await
        .unwrap();
        Self {
            id,
            url,
            seen,
            server,
        }
    }

    /// Waits for localstripe's delivery of the failure of a payment for `auction_id` (the
    /// metadata of the payment intent).
    async fn failure_of(&self, auction_id: uuid::Uuid) -> (Captured, Value) {
        let deadline = Instant::now() + DELIVERY_BUDGET;
        loop {
            let found = self.seen.lock().unwrap().iter().find_map(|captured| {
                let event: Value = serde_json::from_slice(&captured.body).ok()?;
                (event["type"] == "payment_intent.payment_failed"
                    && event["data"]["object"]["metadata"]["auction_id"]
                        == auction_id.to_string().as_str())
                .then(|| (captured.clone(), event))
            });
            if let Some(found) = found {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "localstripe did not deliver the payment failure for {auction_id} within \
                 {DELIVERY_BUDGET:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Points the registration at no event type, so that localstripe stops posting to a server
    /// that is about to go.
    async fn close(self) {
        api_local::stripe_webhook::register(
            &stripe_api_base(),
            &self.id,
            &self.url,
            &stack_secret(),
            &["e2e.capture.closed"],
        )
        .await
        .unwrap();
        self.server.abort();
    }
}

/// Receives whatever is on the queue within `wait`, deleting it.
async fn drain(env: &TestEnv, queue_url: &str, wait: Duration) -> Vec<Message> {
    let deadline = Instant::now() + wait;
    let mut received = Vec::new();
    while Instant::now() < deadline {
        let messages = env
            .sqs()
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        for message in &messages {
            env.sqs()
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        received.extend(messages);
    }
    received
}

/// Receives until the first message arrives (within `wait`), deleting it.
async fn first_message(env: &TestEnv, queue_url: &str, wait: Duration) -> Message {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(message) = drain(env, queue_url, Duration::from_secs(1)).await.pop() {
            return message;
        }
        assert!(
            Instant::now() < deadline,
            "nothing reached the payments queue within {wait:?}"
        );
    }
}

/// A lamp sold by sally to bob (bob up to 5 000, cat up to 3 000) in this test's log: its
/// `AuctionEnded`.
async fn sold_lamp(env: &TestEnv) -> StoredEvent {
    let store = env.store();
    let auction_id = AuctionId(Uuid::new_v4());
    let create = sallys_lamp(auction_id, None, epoch() + TimeDelta::days(1)).unwrap();
    sell(&store, &create, &[("bob", 5_000), ("cat", 3_000)], |step| {
        context(match step {
            SaleStep::End => epoch() + TimeDelta::days(2),
            SaleStep::Create | SaleStep::Bid(_) => epoch(),
        })
    })
    .await
    .unwrap();
    env.event_store()
        .read_after(auction_id, 0, &Meter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.envelope.event_type == "AuctionEnded")
        .unwrap()
}

#[tokio::test]
async fn given_a_charge_declined_on_localstripe_when_its_webhook_arrives_then_the_sale_reaches_the_payments_queue_once_and_a_replay_is_refused()
 {
    let env = TestEnv::new().await;
    let ended = sold_lamp(&env).await;
    let auction_id = ended.envelope.aggregate_id;
    let capture = Capture::start().await;
    let api = ApiLocal::start(&env).await;
    let stripe = support::stripe().await;
    let key = |step: &str| format!("webhook-e2e-{auction_id}-{step}");

    // Bob's card on localstripe declines every charge; the saga's charge, with its metadata.
    let customer = stripe
        .create_customer("bob", &key("customer"))
        .await
        .unwrap();
    let card = stripe
        .create_card_payment_method(DECLINES_ON_CHARGE, &key("card"))
        .await
        .unwrap();
    stripe
        .attach_payment_method(&card.id, &customer.id, &key("attach"))
        .await
        .unwrap();
    let charged = stripe
        .charge_off_session(
            &OffSessionCharge {
                customer: customer.id.clone(),
                payment_method: card.id.clone(),
                amount: 3_001,
                currency: "EUR".to_owned(),
                metadata: BTreeMap::from([
                    ("auction_id".to_owned(), auction_id.to_string()),
                    ("buyer_id".to_owned(), "bob".to_owned()),
                ]),
            },
            &key("charge"),
        )
        .await;
    assert!(
        matches!(charged, Err(StripeError::Declined { .. })),
        "the card should decline: {charged:?}"
    );

    // localstripe's signed payment_intent.payment_failed reaches api-local, which forwards the
    // sale's event to the payments queue exactly as the publisher sent it.
    let (captured, event) = capture.failure_of(auction_id).await;
    let event_id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(event["data"]["object"]["customer"], customer.id.as_str());
    let queue = &env.payments_queue().url;
    let forwarded = first_message(&env, queue, DELIVERY_BUDGET).await;
    let publishers = QueueMessage::for_event(&ended).unwrap();
    assert_eq!(forwarded.body(), Some(publishers.body.as_str()));
    let attributes = forwarded.attributes().unwrap();
    assert_eq!(
        attributes[&MessageSystemAttributeName::MessageDeduplicationId],
        format!("stripe-{event_id}")
    );
    assert_eq!(
        attributes[&MessageSystemAttributeName::MessageGroupId],
        auction_id.to_string()
    );
    let deliveries = DynamoDbWebhookDeliveries::new(
        env.dynamodb().clone(),
        env.names().stripe_webhook_deliveries_table.clone(),
    );
    let record = deliveries.get(&event_id).await.unwrap().unwrap();
    assert_eq!(record.event_type, "payment_intent.payment_failed");
    let signed_at: i64 = captured.signature["t=".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        record.signed_at.iter().copied().collect::<Vec<_>>(),
        [signed_at]
    );
    assert!(
        record
            .handled
            .unwrap()
            .outcome
            .starts_with("forwarded AuctionEnded"),
    );

    // The very request localstripe sent, again: a replay.
    let (status, problem) = api.deliver(&captured.body, &captured.signature).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "WEBHOOK_REPLAYED");

    // Stripe's redelivery (signed afresh): acknowledged, nothing sent again.
    let fresh = sign(
        &captured.body,
        &WebhookSecret::new(stack_secret()),
        Utc::now().timestamp(),
    );
    let (status, receipt) = api.deliver(&captured.body, &fresh).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["outcome"], "duplicate");

    let later = drain(&env, queue, Duration::from_secs(3)).await;
    assert!(later.is_empty(), "sent again: {later:?}");
    capture.close().await;
}

fn delivery(event_id: &str, signed_at: i64) -> Delivery {
    Delivery {
        event_id: event_id.to_owned(),
        event_type: "payment_intent.succeeded".to_owned(),
        signed_at,
        received_at: Utc::now(),
    }
}

#[tokio::test]
async fn given_dynamodb_local_when_one_signed_delivery_is_recorded_twice_at_once_then_exactly_one_is_a_replay()
 {
    let env = TestEnv::new().await;
    let table = DynamoDbWebhookDeliveries::new(
        env.dynamodb().clone(),
        env.names().stripe_webhook_deliveries_table.clone(),
    );
    let event_id = format!("evt_{}", Uuid::new_v4().simple());

    let (one, other) = (delivery(&event_id, 100), delivery(&event_id, 100));

    let (first, second) = tokio::join!(table.record(&one), table.record(&other));

    let outcomes = [first.unwrap(), second.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Recorded::Replay))
            .count(),
        1,
        "{outcomes:?}"
    );
    let record = table.get(&event_id).await.unwrap().unwrap();
    assert_eq!(record.signed_at.len(), 1);
    assert_eq!(record.handled, None);
    assert_eq!(
        record.expires_at,
        (record.first_received_at + webhook_deliveries::RETENTION).timestamp()
    );
}

#[tokio::test]
async fn given_dynamodb_local_when_a_handled_event_is_delivered_with_a_new_signature_then_it_is_recorded_with_its_first_handling()
 {
    let env = TestEnv::new().await;
    let table = DynamoDbWebhookDeliveries::new(
        env.dynamodb().clone(),
        env.names().stripe_webhook_deliveries_table.clone(),
    );
    let event_id = format!("evt_{}", Uuid::new_v4().simple());
    let Recorded::Delivery(first) = table.record(&delivery(&event_id, 100)).await.unwrap() else {
        panic!("the first delivery is no replay");
    };
    table
        .mark_handled(&event_id, "forwarded AuctionEnded", Utc::now())
        .await
        .unwrap();
    table
        .mark_handled(&event_id, "a second mark", Utc::now())
        .await
        .unwrap();

    let Recorded::Delivery(again) = table.record(&delivery(&event_id, 160)).await.unwrap() else {
        panic!("a new signature is no replay");
    };

    assert_eq!(
        again.signed_at.iter().copied().collect::<Vec<_>>(),
        [100, 160]
    );
    assert_eq!(again.first_received_at, first.first_received_at);
    assert_eq!(again.expires_at, first.expires_at);
    assert_eq!(again.handled.unwrap().outcome, "forwarded AuctionEnded");
    assert_eq!(
        table.record(&delivery(&event_id, 160)).await.unwrap(),
        Recorded::Replay
    );
    // Marking an event never delivered writes nothing.
    assert!(
        table
            .mark_handled("evt_never_delivered", "forwarded", Utc::now())
            .await
            .is_err()
    );
    assert_eq!(table.get("evt_never_delivered").await.unwrap(), None);
}
