//! Stripe's webhook through the router (`POST /webhooks/stripe`), over the in-memory deliveries
//! table and payments queue: a verified outcome of a payment intent forwards its sale's event to
//! the payments queue once; forged, old and replayed deliveries change nothing; Stripe's
//! redeliveries take no second effect; a failed forward is retried by the next delivery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::Clock;
use api::testing::{PAYMENTS_QUEUE_URL, TestApp, TestResponse as Reply, WEBHOOK_SECRET};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use domain::{RecordPaymentFailed, decide_record_payment_failed};
use event_store::{CommandContext, EventLog, Meter, StoredEvent};
use events::{Actor, AuctionId};
use fan_out::{AttributeValue, QueueMessage};
use payments::testing::{SaleStep, sallys_lamp, sell};
use serde_json::{Value, json};
use stripe_api::webhook::{WebhookSecret, sign};
use uuid::Uuid;

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.body["code"], code, "{}", reply.text());
    assert_eq!(reply.body["status"], status.as_u16());
}

fn assert_receipt(reply: &Reply, outcome: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.body["outcome"], outcome, "{}", reply.text());
}

fn context(now: DateTime<Utc>) -> CommandContext {
    CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: "corr-webhook-test".to_owned(),
        actor: Actor::System {
            name: "test".to_owned(),
        },
        idempotency_key: None,
        now,
    }
}

/// A Stripe event as localstripe posts it (sorted keys, indented), about a payment intent with
/// this metadata.
fn event(id: &str, event_type: &str, created: i64, metadata: &Value) -> Vec<u8> {
    let body = json!({
        "api_version": "2023-08-16",
        "created": created,
        "data": {"object": {
            "amount": 3001,
            "currency": "eur",
            "id": "pi_3NxYz",
            "metadata": metadata,
            "object": "payment_intent",
            "status": "requires_payment_method",
        }},
        "id": id,
        "object": "event",
        "type": event_type,
    });
    serde_json::to_vec_pretty(&body).unwrap()
}

fn new_event_id() -> String {
    format!("evt_{}", Uuid::new_v4().simple())
}

/// The test's world: the API and a lamp sold by sally to bob (bob up to 5 000, cat, the
/// runner-up, up to 3 000), ended a day before the API's clock.
struct World {
    h: TestApp,
    auction_id: AuctionId,
}

impl World {
    async fn new() -> Self {
        let h = TestApp::new();
        let now = h.clock.now();
        let auction_id = AuctionId(Uuid::new_v4());
        let created = now - TimeDelta::days(3);
        let create = sallys_lamp(auction_id, None, created + TimeDelta::days(1)).unwrap();
        sell(
            &h.store,
            &create,
            &[("bob", 5_000), ("cat", 3_000)],
            |step| {
                context(match step {
                    SaleStep::End => created + TimeDelta::days(2),
                    SaleStep::Create | SaleStep::Bid(_) => created,
                })
            },
        )
        .await
        .unwrap();
        Self { h, auction_id }
    }

    fn now(&self) -> i64 {
        self.h.clock.now().timestamp()
    }

    /// The sale's metadata, as the saga's Stripe adapter sets it on the charge.
    fn metadata(&self, buyer: &str) -> Value {
        json!({"auction_id": self.auction_id.to_string(), "buyer_id": buyer})
    }

    /// A payment failure of `buyer`'s charge, as a new event.
    fn failure_of(&self, buyer: &str) -> (String, Vec<u8>) {
        let id = new_event_id();
        let body = event(
            &id,
            "payment_intent.payment_failed",
            self.now() - 1,
            &self.metadata(buyer),
        );
        (id, body)
    }

    /// Delivers `body` signed now, as Stripe delivers it.
    async fn deliver(&self, body: &[u8]) -> (Reply, String) {
        let signature = self.h.sign_webhook(body, self.now());
        (self.h.post_webhook(body, Some(&signature)).await, signature)
    }

    async fn last_of_type(&self, event_type: &str) -> StoredEvent {
        self.h
            .store
            .backend()
            .read_after(self.auction_id, 0, &Meter::default())
            .await
            .unwrap()
            .into_iter()
            .rev()
            .find(|e| e.envelope.event_type == event_type)
            .unwrap_or_else(|| panic!("no {event_type} in the log"))
    }

    fn forwarded(&self) -> Vec<QueueMessage> {
        self.h.payments_messages()
    }

    /// Every send request that reached the payments queue, failed ones included.
    fn send_requests(&self) -> usize {
        self.h
            .queues
            .requests()
            .iter()
            .filter(|(url, _)| url == PAYMENTS_QUEUE_URL)
            .count()
    }

    /// How many events have a record in the deliveries table.
    fn records(&self) -> usize {
        self.h.deliveries.all().len()
    }
}

fn assert_forwarded(message: &QueueMessage, sale: &StoredEvent, event_id: &str) {
    // Exactly the publisher's message for the sale's event, under the webhook's own
    // de-duplication id.
    let mut expected = QueueMessage::for_event(sale).unwrap();
    expected.deduplication_id = format!("stripe-{event_id}");
    assert_eq!(message, &expected);
    assert_eq!(message.group_id, sale.envelope.aggregate_id.to_string());
    assert!(message.attributes.contains(&(
        "eventType",
        AttributeValue::String(sale.envelope.event_type.clone())
    )));
}

#[tokio::test]
async fn given_a_signed_payment_failure_of_a_sale_when_it_is_delivered_then_200_and_the_sale_is_forwarded_once()
 {
    let w = World::new().await;
    let (event_id, body) = w.failure_of("bob");

    let (reply, _) = w.deliver(&body).await;

    assert_receipt(&reply, "forwarded");
    assert_eq!(reply.body["eventId"], event_id);
    assert_eq!(reply.body["eventType"], "payment_intent.payment_failed");
    let forwarded = w.forwarded();
    assert_eq!(forwarded.len(), 1);
    assert_forwarded(
        &forwarded[0],
        &w.last_of_type("AuctionEnded").await,
        &event_id,
    );
    let record = w.h.deliveries.all().pop().unwrap();
    assert_eq!(record.event_id, event_id);
    assert_eq!(record.signed_at.len(), 1);
    assert!(
        record
            .handled
            .unwrap()
            .outcome
            .starts_with("forwarded AuctionEnded")
    );
}

#[tokio::test]
async fn given_each_outcome_type_of_a_payment_intent_when_delivered_then_each_is_forwarded() {
    for event_type in [
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
    ] {
        let w = World::new().await;
        let event_id = new_event_id();
        let body = event(&event_id, event_type, w.now(), &w.metadata("bob"));

        let (reply, _) = w.deliver(&body).await;

        assert_receipt(&reply, "forwarded");
        assert_eq!(w.forwarded().len(), 1, "{event_type}");
    }
}

#[tokio::test]
async fn given_a_bad_signature_when_delivered_then_401_and_nothing_is_forwarded_or_recorded() {
    let w = World::new().await;
    let (_, body) = w.failure_of("bob");
    let other_secret = WebhookSecret::new(format!("{WEBHOOK_SECRET}-not"));
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");

    for (case, body, signature) in [
        ("no header", body.clone(), None),
        ("an empty header", body.clone(), Some(String::new())),
        ("no v1", body.clone(), Some(format!("t={}", w.now()))),
        ("no t", body.clone(), Some("v1=00ff".to_owned())),
        (
            "another secret",
            body.clone(),
            Some(sign(&body, &other_secret, w.now())),
        ),
        (
            "a tampered body",
            tampered,
            Some(w.h.sign_webhook(&body, w.now())),
        ),
        (
            "a signature for another time",
            body.clone(),
            Some(w.h.sign_webhook(&body, w.now() - 1).replacen(
                &format!("t={}", w.now() - 1),
                &format!("t={}", w.now()),
                1,
            )),
        ),
    ] {
        let reply = w.h.post_webhook(&body, signature.as_deref()).await;

        assert_problem(
            &reply,
            StatusCode::UNAUTHORIZED,
            "WEBHOOK_SIGNATURE_INVALID",
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Stripe-Signature"),
            "{case}"
        );
        assert!(w.forwarded().is_empty(), "{case}");
        assert_eq!(w.records(), 0, "{case}");
    }
}

#[tokio::test]
async fn given_a_signature_older_than_the_tolerance_when_delivered_then_401_and_nothing_happens() {
    let w = World::new().await;
    let (_, body) = w.failure_of("bob");
    let old = w.now() - 301;

    let reply =
        w.h.post_webhook(&body, Some(&w.h.sign_webhook(&body, old)))
            .await;

    assert_problem(
        &reply,
        StatusCode::UNAUTHORIZED,
        "WEBHOOK_TIMESTAMP_OUTSIDE_TOLERANCE",
    );
    assert!(w.forwarded().is_empty());
    assert_eq!(w.records(), 0);
    // Just inside the tolerance, the same event goes through.
    let recent = w.now() - 299;
    let reply =
        w.h.post_webhook(&body, Some(&w.h.sign_webhook(&body, recent)))
            .await;
    assert_receipt(&reply, "forwarded");
}

#[tokio::test]
async fn given_a_delivered_request_when_the_same_request_is_replayed_then_409_and_nothing_new_happens()
 {
    let w = World::new().await;
    let (event_id, body) = w.failure_of("bob");
    let (first, signature) = w.deliver(&body).await;
    assert_receipt(&first, "forwarded");
    let before = (w.send_requests(), w.h.deliveries.all());

    let replay = w.h.post_webhook(&body, Some(&signature)).await;

    assert_problem(&replay, StatusCode::CONFLICT, "WEBHOOK_REPLAYED");
    assert!(replay.body["detail"].as_str().unwrap().contains(&event_id));
    assert_eq!((w.send_requests(), w.h.deliveries.all()), before);
    assert_eq!(w.forwarded().len(), 1);
}

#[tokio::test]
async fn given_a_replay_of_a_delivery_whose_forward_failed_when_it_comes_then_409_and_nothing_is_forwarded()
 {
    let w = World::new().await;
    let (_, body) = w.failure_of("bob");
    w.h.queues.fail_next_requests(PAYMENTS_QUEUE_URL, 1);
    let (failed, signature) = w.deliver(&body).await;
    assert_problem(
        &failed,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    );

    let replay = w.h.post_webhook(&body, Some(&signature)).await;

    assert_problem(&replay, StatusCode::CONFLICT, "WEBHOOK_REPLAYED");
    assert!(w.forwarded().is_empty());
}

#[tokio::test]
async fn given_a_handled_event_when_stripe_redelivers_it_signed_afresh_then_200_and_no_second_forward()
 {
    let w = World::new().await;
    let (_, body) = w.failure_of("bob");
    let (first, _) = w.deliver(&body).await;
    assert_receipt(&first, "forwarded");
    w.h.clock.advance(TimeDelta::seconds(60));

    let (again, _) = w.deliver(&body).await;

    assert_receipt(&again, "duplicate");
    assert!(
        again.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("forwarded AuctionEnded")
    );
    // Not sent again at all (not merely dropped by the queue's de-duplication).
    assert_eq!(w.send_requests(), 1);
    assert_eq!(w.forwarded().len(), 1);
    let record = w.h.deliveries.all().pop().unwrap();
    assert_eq!(record.signed_at.len(), 2);
}

#[tokio::test]
async fn given_a_forward_that_fails_when_stripe_delivers_again_then_503_first_and_the_next_delivery_forwards()
 {
    let w = World::new().await;
    let (event_id, body) = w.failure_of("bob");
    w.h.queues.fail_next_requests(PAYMENTS_QUEUE_URL, 1);

    let (failed, _) = w.deliver(&body).await;

    assert_problem(
        &failed,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(failed.header("retry-after"), Some("1"));
    assert!(w.forwarded().is_empty());
    assert_eq!(w.h.deliveries.all().pop().unwrap().handled, None);

    w.h.clock.advance(TimeDelta::seconds(60));
    let (retried, _) = w.deliver(&body).await;

    assert_receipt(&retried, "forwarded");
    let forwarded = w.forwarded();
    assert_eq!(forwarded.len(), 1);
    assert_forwarded(
        &forwarded[0],
        &w.last_of_type("AuctionEnded").await,
        &event_id,
    );
}

#[tokio::test]
async fn given_the_deliveries_table_unavailable_when_delivered_then_503_and_nothing_is_forwarded() {
    let w = World::new().await;
    let (_, body) = w.failure_of("bob");
    w.h.deliveries.set_unavailable(true);

    let (reply, _) = w.deliver(&body).await;

    assert_problem(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(w.send_requests(), 0);
    w.h.deliveries.set_unavailable(false);
    let (again, _) = w.deliver(&body).await;
    assert_receipt(&again, "forwarded");
}

#[tokio::test]
async fn given_an_event_type_the_platform_does_not_act_on_when_delivered_then_200_ignored_and_nothing_forwarded()
 {
    let w = World::new().await;
    let body = event(
        &new_event_id(),
        "customer.created",
        w.now(),
        &w.metadata("bob"),
    );

    let (reply, _) = w.deliver(&body).await;

    assert_receipt(&reply, "ignored");
    assert_eq!(w.send_requests(), 0);
    assert!(
        w.h.deliveries.all()[0]
            .handled
            .as_ref()
            .unwrap()
            .outcome
            .starts_with("ignored")
    );
}

#[tokio::test]
async fn given_a_correctly_signed_body_that_is_not_a_stripe_event_when_delivered_then_400_and_nothing_happens()
 {
    let w = World::new().await;

    for body in [
        &b"this is not JSON"[..],
        br#"{"id": "evt_1", "type": "payment_intent.succeeded"}"#,
        br#"{"id": "", "type": "x", "created": 1, "data": {"object": {}}}"#,
    ] {
        let (reply, _) = w.deliver(body).await;

        assert_problem(&reply, StatusCode::BAD_REQUEST, "INVALID_WEBHOOK_EVENT");
        assert_eq!(w.records(), 0);
        assert_eq!(w.send_requests(), 0);
    }
}

#[tokio::test]
async fn given_a_payment_intent_naming_no_sale_when_delivered_then_200_nothing_to_do_and_nothing_forwarded()
 {
    let w = World::new().await;
    let unknown = AuctionId(Uuid::new_v4());

    for (case, metadata) in [
        ("no metadata", json!({})),
        ("no buyer", json!({"auction_id": w.auction_id.to_string()})),
        (
            "an unknown auction",
            json!({"auction_id": unknown.to_string(), "buyer_id": "bob"}),
        ),
        ("a bidder who bought nothing", w.metadata("cat")),
        ("the seller", w.metadata("sally")),
    ] {
        let body = event(
            &new_event_id(),
            "payment_intent.succeeded",
            w.now(),
            &metadata,
        );

        let (reply, _) = w.deliver(&body).await;

        assert_receipt(&reply, "nothingToDo");
        assert_eq!(w.send_requests(), 0, "{case}");
    }
}

#[tokio::test]
async fn given_the_item_offered_to_the_runner_up_when_each_buyers_outcome_arrives_then_each_forwards_their_own_sale()
 {
    let w = World::new().await;
    // Bob's payment failed and the saga recorded it: the item is offered to cat.
    w.h.store
        .execute(w.auction_id, &context(w.h.clock.now()), |state, now| {
            decide_record_payment_failed(
                state,
                &RecordPaymentFailed {
                    buyer_id: events::UserId::try_from("bob").unwrap(),
                    reason: "card declined".to_owned(),
                },
                now,
            )
        })
        .await
        .unwrap();
    let offer = w.last_of_type("ItemOfferedToRunnerUp").await;
    let ended = w.last_of_type("AuctionEnded").await;

    let (cats_event, cats) = w.failure_of("cat");
    let (bobs_event, bobs) = w.failure_of("bob");
    assert_receipt(&w.deliver(&cats).await.0, "forwarded");
    assert_receipt(&w.deliver(&bobs).await.0, "forwarded");

    let forwarded = w.forwarded();
    assert_eq!(forwarded.len(), 2);
    assert_forwarded(&forwarded[0], &offer, &cats_event);
    assert_forwarded(&forwarded[1], &ended, &bobs_event);
}

#[tokio::test]
async fn given_the_openapi_document_then_the_webhook_route_needs_no_bearer_token_and_lists_its_answers()
 {
    let document: Value = serde_json::from_str(&api::openapi::document()).unwrap();
    let route = &document["paths"]["/webhooks/stripe"]["post"];

    assert!(route.is_object());
    assert!(route.get("security").is_none());
    for status in ["200", "400", "401", "409", "413", "500", "503"] {
        assert!(route["responses"][status].is_object(), "{status}");
    }
    assert_eq!(route["parameters"][0]["name"], "Stripe-Signature");
    assert_eq!(route["parameters"][0]["in"], "header");
}
