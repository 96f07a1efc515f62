//! The SQS handler: one batch of the notifications queue in, the failed messages out.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use conventions::metrics::Consumer;
use email::{MailNotification, Mailed};
use events::EventEnvelope;
use futures_util::future::join_all;
use futures_util::{StreamExt, stream};
use tracing::{Instrument, Span};

use read_models::notifications::{
    AuctionContexts, NotifierError, StoreNotification, Stored, needs_context, notifications,
};

/// [`handle_with`] at the concurrency of [`crate::config::concurrency`]
/// (`NOTIFIER_CONCURRENCY`, default [`crate::config::DEFAULT_CONCURRENCY`]).
pub async fn handle<C, S, M>(
    contexts: &C,
    inbox: &S,
    mail: &M,
    event: SqsEvent,
) -> Result<SqsBatchResponse, NotifierError>
where
    C: AuctionContexts,
    S: StoreNotification,
    M: MailNotification,
{
    handle_with(crate::config::concurrency(), contexts, inbox, mail, event).await
}

/// Stores the notifications of every message in `event` and reports the messages that failed
/// (`ReportBatchItemFailures`): a failed message is received again and reaches the DLQ after
/// the queue's 3 receives.
///
/// Message groups (one per auction) are handled concurrently, each in order; once a message of
/// a group fails, the later messages of that group in the batch are reported failed unhandled,
/// as FIFO order requires. A message that is not a readable event fails alone with its group.
///
/// One message's notifications are written at most `concurrency` at a time, and every one of
/// them is attempted even when another fails: a message fails only if one of its recipients'
/// notifications could not be stored, and then only that recipient is missing. Redelivered and
/// concurrently handled messages store nothing twice (the writes are conditional on the
/// notification's id, which depends only on the event and the recipient), so a redelivery
/// stores exactly the notifications that are missing.
///
/// Errors only when a message has no id, so that Lambda retries the whole batch.
///
/// Counted as the notifier's records, processed or failed, with each readable message's lag.
pub async fn handle_with<C, S, M>(
    concurrency: usize,
    contexts: &C,
    inbox: &S,
    mail: &M,
    event: SqsEvent,
) -> Result<SqsBatchResponse, NotifierError>
where
    C: AuctionContexts,
    S: StoreNotification,
    M: MailNotification,
{
    let records = event.records.len();
    let result = notify_batch(concurrency, contexts, inbox, mail, event).await;
    let failed = result
        .as_ref()
        .map_or(records, |response| response.batch_item_failures.len());
    Consumer::NOTIFIER.handled(records, failed);
    result
}

async fn notify_batch<C, S, M>(
    concurrency: usize,
    contexts: &C,
    inbox: &S,
    mail: &M,
    event: SqsEvent,
) -> Result<SqsBatchResponse, NotifierError>
where
    C: AuctionContexts,
    S: StoreNotification,
    M: MailNotification,
{
    let mut groups: Vec<(String, Vec<(String, SqsMessage)>)> = Vec::new();
    for message in event.records {
        let id = message
            .message_id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or(NotifierError::MissingMessageId)?;
        let group = group_of(&message, &id);
        match groups.iter_mut().find(|(name, _)| *name == group) {
            Some((_, messages)) => messages.push((id, message)),
            None => groups.push((group, vec![(id, message)])),
        }
    }
    let failed = join_all(
        groups
            .iter()
            .map(|(_, messages)| handle_group(concurrency, contexts, inbox, mail, messages)),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for id in failed.into_iter().flatten() {
        response.add_failure(id);
    }
    Ok(response)
}

/// The ids of the messages of one group that failed or were not handled.
async fn handle_group<C, S, M>(
    concurrency: usize,
    contexts: &C,
    inbox: &S,
    mail: &M,
    messages: &[(String, SqsMessage)],
) -> Vec<String>
where
    C: AuctionContexts,
    S: StoreNotification,
    M: MailNotification,
{
    let mut failed = Vec::new();
    for (id, message) in messages {
        let decoded = decode(id, message);
        let span = message_span(id, message, decoded.as_ref().ok());
        if !failed.is_empty() {
            span.in_scope(|| {
                tracing::warn!("not handled: an earlier message of its group failed in this batch");
            });
            failed.push(id.clone());
            continue;
        }
        let outcome = async {
            let envelope = decoded?;
            notify(concurrency, contexts, inbox, mail, &envelope).await
        }
        .instrument(span.clone())
        .await;
        if let Err(error) = outcome {
            span.in_scope(
                || tracing::error!(%error, "message failed; reported as a batch item failure"),
            );
            failed.push(id.clone());
        }
    }
    failed
}

async fn notify<C, S, M>(
    concurrency: usize,
    contexts: &C,
    inbox: &S,
    mail: &M,
    envelope: &EventEnvelope,
) -> Result<(), NotifierError>
where
    C: AuctionContexts,
    S: StoreNotification,
    M: MailNotification,
{
    if !needs_context(&envelope.event) {
        tracing::debug!("the event notifies nobody");
        return Ok(());
    }
    let context = contexts
        .context_at(envelope.aggregate_id, envelope.version)
        .await?;
    let list = notifications(envelope, &context);
    // The futures are built first: a closure over `&Notification` inside `Stream::map` is
    // higher-ranked, and rustc cannot prove such a future `Send` for every lifetime when the
    // handler is spawned (the local runner spawns it).
    let stores: Vec<_> = list
        .iter()
        .map(|notification| async move {
            let delivered = match inbox.store(notification).await {
                // Stored (now or before): its email goes out unless it went before.
                Ok(stored) => mail
                    .mail(notification, chrono::Utc::now())
                    .await
                    .map(|mailed| (stored, mailed))
                    .map_err(|error| NotifierError::Unmailed(error.to_string())),
                Err(error) => Err(error),
            };
            (notification, delivered)
        })
        .collect();
    let results: Vec<_> = stream::iter(stores)
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let (mut new, mut already_there, mut emailed) = (0, 0, 0);
    let mut failures = Vec::new();
    for (notification, delivered) in results {
        match delivered {
            Ok((stored, mailed)) => {
                tracing::debug!(
                    recipient = %notification.recipient,
                    kind = notification.kind.as_str(),
                    already_there = stored == Stored::AlreadyThere,
                    ?mailed,
                    "notification stored"
                );
                if matches!(mailed, Mailed::Sent(_)) {
                    emailed += 1;
                }
                match stored {
                    Stored::New => new += 1,
                    Stored::AlreadyThere => already_there += 1,
                }
            }
            Err(error) => {
                tracing::warn!(
                    recipient = %notification.recipient,
                    kind = notification.kind.as_str(),
                    %error,
                    "notification not stored or not emailed; the message's redelivery does it"
                );
                failures.push(error);
            }
        }
    }
    tracing::info!(
        recipients = list.len(),
        new,
        already_there,
        emailed,
        failed = failures.len(),
        "notified"
    );
    let failed = failures.len();
    match failures.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(NotifierError::Undelivered {
            failed,
            recipients: list.len(),
            first: Box::new(first),
        }),
    }
}

fn decode(id: &str, message: &SqsMessage) -> Result<EventEnvelope, NotifierError> {
    let body = message
        .body
        .as_deref()
        .ok_or_else(|| NotifierError::Undecodable {
            message_id: id.to_owned(),
            reason: "the message has no body".to_owned(),
        })?;
    let envelope =
        EventEnvelope::from_json(body).map_err(|e| NotifierError::undecodable(id, &e))?;
    Consumer::NOTIFIER.lag(envelope.occurred_at);
    Ok(envelope)
}

/// FIFO order holds within a message group (the auction); Lambda passes the group id in the
/// message's system attributes.
fn group_of(message: &SqsMessage, id: &str) -> String {
    message
        .attributes
        .get("MessageGroupId")
        .cloned()
        .or_else(|| attribute(message, "aggregateId").map(str::to_owned))
        .unwrap_or_else(|| id.to_owned())
}

fn attribute<'a>(message: &'a SqsMessage, name: &str) -> Option<&'a str> {
    message
        .message_attributes
        .get(name)
        .and_then(|value| value.string_value.as_deref())
}

/// The span every log line of a message carries: its ids from the event when the body is
/// readable, else from the message attributes the publisher set.
fn message_span(id: &str, message: &SqsMessage, envelope: Option<&EventEnvelope>) -> Span {
    match envelope {
        Some(envelope) => tracing::info_span!(
            "message",
            message_id = id,
            correlation_id = envelope.metadata.correlation_id.as_str(),
            causation_id = envelope.metadata.causation_id.as_str(),
            event_id = %envelope.event_id,
            aggregate_id = %envelope.aggregate_id,
            version = envelope.version,
            event_type = envelope.event_type(),
        ),
        None => {
            let attr = |name| attribute(message, name).unwrap_or("");
            tracing::info_span!(
                "message",
                message_id = id,
                correlation_id = attr("correlationId"),
                causation_id = attr("causationId"),
                event_id = attr("eventId"),
                aggregate_id = attr("aggregateId"),
                version = attr("version"),
                event_type = attr("eventType"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::{TimeZone, Utc};
    use events::{Actor, AuctionCancelled, AuctionId, Metadata, UserId};
    use uuid::Uuid;

    use super::*;
    use crate::testing::{auction, contexts, mail, message, outbid_message, user};
    use read_models::notifications::Notification;
    use read_models::notifications::{AuctionContext, InMemoryNotifications};

    /// An auction with `n` bidders, for events that notify each of them.
    struct Crowd(usize);

    impl AuctionContexts for Crowd {
        async fn context_at(&self, _: AuctionId, _: u64) -> Result<AuctionContext, NotifierError> {
            Ok(AuctionContext {
                seller_id: user("sam"),
                title: "Red bike".to_owned(),
                bidders: (0..self.0).map(|n| user(&format!("bidder{n}"))).collect(),
            })
        }
    }

    /// The in-memory inbox behind a door: writes yield while in flight (the peak of writes in
    /// flight at once is kept), and the writes for `failing` recipients fail while it is set.
    #[derive(Default)]
    struct Door {
        inbox: InMemoryNotifications,
        failing: std::sync::Mutex<BTreeSet<UserId>>,
        writes: AtomicUsize,
        in_flight: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Door {
        fn fail_for(&self, users: &[&str]) {
            *self.failing.lock().unwrap() = users.iter().map(|name| user(name)).collect();
        }
    }

    impl StoreNotification for Door {
        async fn store(&self, notification: &Notification) -> Result<Stored, NotifierError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self
                .failing
                .lock()
                .unwrap()
                .contains(&notification.recipient)
            {
                return Err(NotifierError::Unavailable("throttled".to_owned()));
            }
            self.inbox.store(notification).await
        }
    }

    fn cancelled_message(message_id: &str, auction_id: AuctionId) -> SqsMessage {
        let envelope = EventEnvelope {
            event_id: Uuid::from_u128(99),
            aggregate_id: auction_id,
            version: 9,
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap(),
            event: AuctionCancelled {
                cancelled_by: user("sam"),
                reason: None,
            }
            .into(),
            metadata: Metadata {
                correlation_id: "corr-1".to_owned(),
                causation_id: "cmd-1".to_owned(),
                actor: Actor::User { id: user("sam") },
                idempotency_key: None,
                request_fingerprint: None,
            },
        };
        message(
            message_id,
            auction_id,
            serde_json::to_string(&envelope).unwrap(),
        )
    }

    fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = messages;
        event
    }

    fn failed(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn a_batch_stores_each_messages_notifications_and_reports_no_failure() {
        // Given two outbids of two auctions
        let inbox = InMemoryNotifications::new();
        let event = batch(vec![
            outbid_message("m1", auction(1), 4, (204, 300)),
            outbid_message("m2", auction(2), 4, (204, 300)),
        ]);

        // When the batch is handled
        let response = handle(&contexts(None), &inbox, &mail(), event)
            .await
            .unwrap();

        // Then bob has one notification per event and nothing failed
        assert!(failed(&response).is_empty());
        let bobs = inbox.inbox(&user("bob"));
        assert_eq!(bobs.len(), 2);
        assert!(inbox.inbox(&user("cat")).is_empty());
    }

    #[tokio::test]
    async fn the_same_batch_handled_twice_stores_each_notification_once() {
        // Given a batch that was handled already
        let inbox = InMemoryNotifications::new();
        let event = batch(vec![outbid_message("m1", auction(1), 4, (204, 300))]);
        handle(&contexts(None), &inbox, &mail(), event.clone())
            .await
            .unwrap();

        // When it is delivered again
        let response = handle(&contexts(None), &inbox, &mail(), event)
            .await
            .unwrap();

        // Then it succeeds and bob still has a single notification
        assert!(failed(&response).is_empty());
        assert_eq!(inbox.inbox(&user("bob")).len(), 1);
    }

    #[tokio::test]
    async fn an_unreadable_message_fails_with_the_rest_of_its_group_but_not_other_groups() {
        // Given auction 1's messages: an unreadable one, then a good one; and auction 2's good one
        let inbox = InMemoryNotifications::new();
        let event = batch(vec![
            message("bad", auction(1), "{\"not\":\"an event\"}".to_owned()),
            outbid_message("after-bad", auction(1), 5, (205, 300)),
            outbid_message("other", auction(2), 4, (204, 300)),
        ]);

        // When the batch is handled
        let response = handle(&contexts(None), &inbox, &mail(), event)
            .await
            .unwrap();

        // Then the unreadable message and its group's later message are reported failed, and
        // the other auction's notification is stored
        assert_eq!(failed(&response), ["bad", "after-bad"]);
        let bobs = inbox.inbox(&user("bob"));
        assert_eq!(bobs.len(), 1);
        assert_eq!(bobs[0].auction_id, auction(2));
    }

    #[tokio::test]
    async fn a_history_that_cannot_be_read_fails_the_message() {
        // Given auction 1's history cannot be read
        let inbox = InMemoryNotifications::new();
        let event = batch(vec![
            outbid_message("m1", auction(1), 4, (204, 300)),
            outbid_message("m2", auction(2), 4, (204, 300)),
        ]);

        // When the batch is handled
        let response = handle(&contexts(Some(auction(1))), &inbox, &mail(), event)
            .await
            .unwrap();

        // Then its message is reported failed and the other one is stored
        assert_eq!(failed(&response), ["m1"]);
        assert_eq!(inbox.inbox(&user("bob")).len(), 1);
    }

    #[tokio::test]
    async fn an_event_for_many_recipients_is_stored_with_no_more_than_the_bound_in_flight() {
        // Given a cancellation that tells ten bidders
        let door = Door::default();
        let event = batch(vec![cancelled_message("m1", auction(1))]);

        // When it is handled with a bound of three
        let response = handle_with(3, &Crowd(10), &door, &mail(), event)
            .await
            .unwrap();

        // Then all ten are told, never more than three writes at once
        assert!(failed(&response).is_empty());
        for n in 0..10 {
            assert_eq!(door.inbox.inbox(&user(&format!("bidder{n}"))).len(), 1);
        }
        assert_eq!(door.peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_notice_that_fails_fails_its_message_alone_and_the_redelivery_stores_only_it() {
        // Given a cancellation for five bidders, and bidder2's write failing
        let door = Door::default();
        door.fail_for(&["bidder2"]);
        let event = batch(vec![
            cancelled_message("m1", auction(1)),
            cancelled_message("m2", auction(2)),
        ]);

        // When the batch is handled
        let response = handle_with(2, &Crowd(5), &door, &mail(), event.clone())
            .await
            .unwrap();

        // Then both messages fail (bidder2 misses both notices), and every other bidder has both
        assert_eq!(failed(&response), ["m1", "m2"]);
        assert!(door.inbox.inbox(&user("bidder2")).is_empty());
        for other in [0, 1, 3, 4] {
            assert_eq!(door.inbox.inbox(&user(&format!("bidder{other}"))).len(), 2);
        }

        // And when the table recovers and the messages come again
        door.fail_for(&[]);
        let response = handle_with(2, &Crowd(5), &door, &mail(), event)
            .await
            .unwrap();

        // Then bidder2 gets the two notices, and nobody has a notice twice
        assert!(failed(&response).is_empty());
        for n in 0..5 {
            assert_eq!(door.inbox.inbox(&user(&format!("bidder{n}"))).len(), 2);
        }
    }

    #[tokio::test]
    async fn one_failing_recipient_does_not_stop_the_writes_for_the_others() {
        // Given eight recipients, the first of whom cannot be written
        let door = Door::default();
        door.fail_for(&["bidder0"]);

        // When their notice is handled one write at a time
        let response = handle_with(
            1,
            &Crowd(8),
            &door,
            &mail(),
            batch(vec![cancelled_message("m1", auction(1))]),
        )
        .await
        .unwrap();

        // Then the message fails, and every recipient was attempted
        assert_eq!(failed(&response), ["m1"]);
        assert_eq!(door.writes.load(Ordering::SeqCst), 8);
        assert_eq!(door.inbox.inbox(&user("bidder7")).len(), 1);
    }

    #[tokio::test]
    async fn a_message_without_an_id_fails_the_whole_batch() {
        let mut anonymous = outbid_message("x", auction(1), 4, (204, 300));
        anonymous.message_id = None;

        let result = handle(
            &contexts(None),
            &InMemoryNotifications::new(),
            &mail(),
            batch(vec![anonymous]),
        )
        .await;

        assert!(matches!(result, Err(NotifierError::MissingMessageId)));
    }

    #[tokio::test]
    async fn an_event_that_notifies_nobody_loads_no_context() {
        // Given a first bid (nobody is outbid)
        let mut first = outbid_message("m1", auction(1), 3, (203, 300));
        let mut envelope: serde_json::Value =
            serde_json::from_str(first.body.as_deref().unwrap()).unwrap();
        envelope["payload"]
            .as_object_mut()
            .unwrap()
            .remove("previousLeaderId");
        first.body = Some(envelope.to_string());
        let contexts = contexts(None);

        // When it is handled
        let response = handle(
            &contexts,
            &InMemoryNotifications::new(),
            &mail(),
            batch(vec![first]),
        )
        .await
        .unwrap();

        // Then it succeeds without asking for the auction's history
        assert!(failed(&response).is_empty());
        assert_eq!(contexts.asked.load(Ordering::SeqCst), 0);
    }

    /// A mail service that fails while `failing` is set, and keeps what it sent.
    #[derive(Default)]
    struct Flaky {
        failing: std::sync::atomic::AtomicBool,
        outbox: email::Outbox,
    }

    impl email::SendEmail for Flaky {
        async fn send(&self, email: &email::Email) -> Result<String, email::EmailError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(email::EmailError::Unavailable("SES is down".to_owned()));
            }
            self.outbox.send(email).await
        }
    }

    #[tokio::test]
    async fn an_email_that_could_not_be_sent_fails_its_message_and_goes_out_once_redelivered() {
        // Given bob wants outbid emails, and the mail service is down
        let mail = email::EmailNotices::new(
            email::InMemoryEmailNotices::default(),
            Flaky::default(),
            email::LocalLinkKey::new(b"notifier tests".to_vec()),
            email::Links::new("http://web.test", "http://api.test"),
        );
        let preferences = email::Preferences {
            email: Some("bob@example.com".to_owned()),
            topics: [email::Topic::Outbid].into_iter().collect(),
            updated_at: Utc::now(),
        };
        email::PreferenceStore::save(mail.store(), &user("bob"), &preferences)
            .await
            .unwrap();
        mail.mailer().failing.store(true, Ordering::SeqCst);
        let inbox = InMemoryNotifications::new();
        let event = batch(vec![outbid_message("m1", auction(1), 4, (204, 300))]);

        // When the outbid is handled
        let response = handle(&contexts(None), &inbox, &mail, event.clone())
            .await
            .unwrap();

        // Then the notification is in bob's inbox, but the message fails for its email
        assert_eq!(failed(&response), ["m1"]);
        assert_eq!(inbox.inbox(&user("bob")).len(), 1);
        assert!(mail.mailer().outbox.sent().is_empty());

        // And when the mail service is back and the message comes twice more
        mail.mailer().failing.store(false, Ordering::SeqCst);
        for _ in 0..2 {
            let response = handle(&contexts(None), &inbox, &mail, event.clone())
                .await
                .unwrap();
            assert!(failed(&response).is_empty());
        }

        // Then bob got one email, and still one notification
        let sent = mail.mailer().outbox.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, "bob@example.com");
        assert!(sent[0].subject.starts_with("You were outbid on"));
        assert_eq!(inbox.inbox(&user("bob")).len(), 1);
    }
}
