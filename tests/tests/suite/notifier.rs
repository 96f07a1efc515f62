//! The notifier against DynamoDB Local: real events from the event store, handed to the SQS
//! handler as the notifications queue would hand them, and the inbox read back through the
//! port the API uses.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use chrono::{DateTime, TimeDelta, Utc};
use domain::{EndAuction, PlaceBid, decide_create, decide_end, decide_place_bid};
use e2e::TestEnv;
use e2e::fixtures::{create_command, epoch, eur, user};
use event_store::{
    CommandContext, DynamoDbStore, EventLog, Meter, SnapshotPolicy, Store, StoredEvent,
};
use events::{Actor, AuctionId, BidId, UserId};
use read_models::notifications::{
    DynamoDbNotifications, Kind, ListNotifications, LogContexts, Notification, NotifierError,
    StoreNotification, Stored,
};
use uuid::Uuid;

/// An auction by `seller` in this test's event store, driven through the real decisions, each
/// command a minute after the previous one.
struct Auction {
    store: Store<DynamoDbStore>,
    id: AuctionId,
    now: DateTime<Utc>,
}

impl Auction {
    async fn create(env: &TestEnv) -> Self {
        let store = Store::new(env.event_store(), SnapshotPolicy::inline(100));
        let mut auction = Self {
            store,
            id: AuctionId(Uuid::new_v4()),
            now: epoch(),
        };
        let create = create_command(auction.id);
        let context = auction.context(Actor::User { id: user("seller") });
        auction
            .store
            .execute(auction.id, &context, |state, now| {
                decide_create(state, &create, now)
            })
            .await
            .unwrap();
        auction
    }

    fn context(&mut self, actor: Actor) -> CommandContext {
        self.now += TimeDelta::minutes(1);
        CommandContext {
            command_id: Uuid::new_v4().to_string(),
            correlation_id: Uuid::new_v4().to_string(),
            actor,
            idempotency_key: None,
            now: self.now,
        }
    }

    async fn bid(&mut self, bidder: &str, amount: i64, max_amount: Option<i64>) {
        let bid = PlaceBid {
            bid_id: BidId(Uuid::new_v4()),
            bidder_id: user(bidder),
            amount: eur(amount),
            max_amount: max_amount.map(eur),
        };
        let context = self.context(Actor::User { id: user(bidder) });
        self.store
            .execute(self.id, &context, |state, now| {
                decide_place_bid(state, &bid, now)
            })
            .await
            .unwrap();
    }

    /// Ends the auction after its 30 days.
    async fn end(&mut self) {
        self.now = epoch() + TimeDelta::days(31);
        let context = self.context(Actor::System {
            name: "scheduler".to_owned(),
        });
        self.store
            .execute(self.id, &context, |state, now| {
                decide_end(state, &EndAuction, now)
            })
            .await
            .unwrap();
    }

    /// Every stored event, in version order.
    async fn events(&self) -> Vec<StoredEvent> {
        self.store
            .backend()
            .read_after(self.id, 0, &Meter::default())
            .await
            .unwrap()
    }
}

/// A message as the publisher puts it on the notifications queue and Lambda hands it over.
fn message(event: &StoredEvent) -> SqsMessage {
    let envelope = &event.envelope;
    let mut message = SqsMessage::default();
    message.message_id = Some(Uuid::new_v4().to_string());
    message.body = Some(serde_json::to_string(envelope).unwrap());
    message.attributes.insert(
        "MessageGroupId".to_owned(),
        envelope.aggregate_id.to_string(),
    );
    message.attributes.insert(
        "MessageDeduplicationId".to_owned(),
        format!("{}#{}", envelope.aggregate_id, envelope.version),
    );
    let attributes = [
        ("eventType", "String", envelope.event_type.clone()),
        ("eventId", "String", envelope.event_id.to_string()),
        ("aggregateId", "String", envelope.aggregate_id.to_string()),
        ("version", "Number", envelope.version.to_string()),
        (
            "correlationId",
            "String",
            envelope.metadata.correlation_id.clone(),
        ),
        (
            "causationId",
            "String",
            envelope.metadata.causation_id.clone(),
        ),
    ];
    for (name, data_type, value) in attributes {
        let mut attribute = SqsMessageAttribute::default();
        attribute.data_type = Some(data_type.to_owned());
        attribute.string_value = Some(value);
        message
            .message_attributes
            .insert(name.to_owned(), attribute);
    }
    message
}

fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages;
    event
}

fn batch_of(events: &[StoredEvent]) -> SqsEvent {
    batch(events.iter().map(message).collect())
}

fn failed(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

struct Notifier {
    contexts: LogContexts<DynamoDbStore>,
    inbox: DynamoDbNotifications,
    mail: email::EmailNotices<email::DynamoDbEmailNotices, email::SesMailer, email::KmsLinkKey>,
}

impl Notifier {
    fn new(env: &TestEnv) -> Self {
        Self {
            contexts: LogContexts::new(env.event_store()),
            inbox: DynamoDbNotifications::new(
                env.dynamodb().clone(),
                env.names().notifications_table.clone(),
            ),
            mail: env.mail(),
        }
    }

    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        notifier::handle(&self.contexts, &self.inbox, &self.mail, event)
            .await
            .unwrap()
    }

    /// Every notification of `who`, newest first, read page by page.
    async fn inbox(&self, who: &str, page_size: u32) -> Vec<Notification> {
        let who = user(who);
        let mut all = Vec::new();
        let mut cursor = None;
        for _ in 0..100 {
            let page = self
                .inbox
                .list(&who, page_size, cursor.as_deref())
                .await
                .unwrap();
            all.extend(page.notifications);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return all,
            }
        }
        panic!("the listing of {who} never ended");
    }

    /// `who`'s notifications as (version, kind), oldest first.
    async fn kinds(&self, who: &str) -> Vec<(u64, Kind)> {
        let mut kinds: Vec<(u64, Kind)> = self
            .inbox(who, 100)
            .await
            .iter()
            .map(|n| (n.aggregate_version, n.kind))
            .collect();
        kinds.reverse();
        kinds
    }
}

fn recipient_counts(inboxes: &[(&str, Vec<(u64, Kind)>)]) -> BTreeMap<(String, u64), usize> {
    let mut counts = BTreeMap::new();
    for (who, kinds) in inboxes {
        for (version, _) in kinds {
            *counts.entry(((*who).to_owned(), *version)).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test]
async fn an_outbid_reaches_the_previous_leader_exactly_once() {
    // Given bob's first bid (v3) and cat's higher bid that takes the lead (v4)
    let env = TestEnv::new().await;
    let mut auction = Auction::create(&env).await;
    auction.bid("bob", 100, None).await;
    auction.bid("cat", 150, None).await;
    let notifier = Notifier::new(&env);

    // When the notifier handles every event of the auction
    let response = notifier.handle(batch_of(&auction.events().await)).await;

    // Then only bob is notified, once, that he was outbid at cat's price
    assert!(failed(&response).is_empty());
    let bobs = notifier.inbox("bob", 100).await;
    assert_eq!(bobs.len(), 1, "{bobs:?}");
    assert_eq!(bobs[0].kind, Kind::Outbid);
    assert_eq!(bobs[0].aggregate_version, 4);
    assert_eq!(bobs[0].amount, Some(eur(150)));
    assert_eq!(bobs[0].auction_title, "Fixture auction");
    assert!(notifier.kinds("cat").await.is_empty());
    assert!(notifier.kinds("seller").await.is_empty());
}

#[tokio::test]
async fn a_bid_answered_by_the_leaders_maximum_notifies_the_bidder_and_not_the_leader() {
    // Given bob leading with a maximum of 5.00, and cat's lower bid that his proxy answers (v4)
    let env = TestEnv::new().await;
    let mut auction = Auction::create(&env).await;
    auction.bid("bob", 100, Some(500)).await;
    auction.bid("cat", 150, None).await;
    let notifier = Notifier::new(&env);

    // When the notifier handles every event
    notifier.handle(batch_of(&auction.events().await)).await;

    // Then cat hears her bid was outbid at once, and bob, still leading, hears nothing
    assert_eq!(notifier.kinds("cat").await, [(4, Kind::Outbid)]);
    assert!(notifier.kinds("bob").await.is_empty());
}

#[tokio::test]
async fn an_auction_end_notifies_the_winner_every_other_bidder_and_the_seller() {
    // Given bob, cat and dan bidding in turn (v3..v5), and the auction ending (v6)
    let env = TestEnv::new().await;
    let mut auction = Auction::create(&env).await;
    auction.bid("bob", 100, None).await;
    auction.bid("cat", 150, None).await;
    auction.bid("dan", 200, None).await;
    auction.end().await;
    let events = auction.events().await;
    assert_eq!(events.last().unwrap().envelope.event_type, "AuctionEnded");
    let notifier = Notifier::new(&env);

    // When the notifier handles every event
    let response = notifier.handle(batch_of(&events)).await;

    // Then dan won, bob and cat lost (after their outbids), and the seller sold, each once
    assert!(failed(&response).is_empty());
    assert_eq!(notifier.kinds("dan").await, [(6, Kind::Won)]);
    assert_eq!(
        notifier.kinds("bob").await,
        [(4, Kind::Outbid), (6, Kind::Lost)]
    );
    assert_eq!(
        notifier.kinds("cat").await,
        [(5, Kind::Outbid), (6, Kind::Lost)]
    );
    assert_eq!(notifier.kinds("seller").await, [(6, Kind::Sold)]);
    let sold = &notifier.inbox("seller", 100).await[0];
    assert_eq!(sold.amount, Some(eur(200)));
    assert_eq!(sold.text, "Your item “Fixture auction” sold for 2.00 EUR.");
}

#[tokio::test]
async fn a_redelivered_batch_and_two_concurrent_handlers_store_one_notification_per_recipient_per_event()
 {
    // Given an auction with three bidders that ended
    let env = TestEnv::new().await;
    let mut auction = Auction::create(&env).await;
    auction.bid("bob", 100, None).await;
    auction.bid("cat", 150, None).await;
    auction.bid("dan", 200, None).await;
    auction.end().await;
    let events = auction.events().await;
    let notifier = Notifier::new(&env);
    let other_consumer = Notifier::new(&env);

    // When two consumers handle the same messages at the same time, and then they come again
    let (first, second) = tokio::join!(
        notifier.handle(batch_of(&events)),
        other_consumer.handle(batch_of(&events)),
    );
    let again = notifier.handle(batch_of(&events)).await;

    // Then every handling succeeds and each recipient has exactly one notification per event
    for response in [&first, &second, &again] {
        assert!(failed(response).is_empty(), "{response:?}");
    }
    let mut inboxes = Vec::new();
    for who in ["bob", "cat", "dan", "seller"] {
        inboxes.push((who, notifier.kinds(who).await));
    }
    let counts = recipient_counts(&inboxes);
    let expected: BTreeMap<(String, u64), usize> = [
        ("bob", 4),
        ("bob", 6),
        ("cat", 5),
        ("cat", 6),
        ("dan", 6),
        ("seller", 6),
    ]
    .into_iter()
    .map(|(who, version)| ((who.to_owned(), version), 1))
    .collect();
    assert_eq!(counts, expected);

    // And storing one of them once more directly is answered "already there", changing nothing
    let won = notifier.inbox("dan", 100).await.remove(0);
    let mut altered = won.clone();
    altered.text = "overwritten".to_owned();
    assert_eq!(
        notifier.inbox.store(&altered).await.unwrap(),
        Stored::AlreadyThere
    );
    assert_eq!(notifier.inbox("dan", 100).await, [won]);
}

#[tokio::test]
async fn an_undecodable_message_is_reported_failed_while_the_others_are_stored() {
    // Given a batch with an unreadable message of its own group beside an auction's events
    let env = TestEnv::new().await;
    let mut auction = Auction::create(&env).await;
    auction.bid("bob", 100, None).await;
    auction.bid("cat", 150, None).await;
    let events = auction.events().await;
    let mut poison = message(&events[0]);
    poison.body = Some("{\"eventType\":\"BidPlaced\",\"truncated".to_owned());
    poison
        .attributes
        .insert("MessageGroupId".to_owned(), Uuid::new_v4().to_string());
    let poison_id = poison.message_id.clone().unwrap();
    let mut messages = vec![poison];
    messages.extend(events.iter().map(message));
    let notifier = Notifier::new(&env);

    // When the batch is handled
    let response = notifier.handle(batch(messages)).await;

    // Then only the unreadable message is reported failed, and bob's outbid is stored
    assert_eq!(failed(&response), [poison_id]);
    assert_eq!(notifier.kinds("bob").await, [(4, Kind::Outbid)]);
}

#[tokio::test]
async fn listing_with_a_cursor_returns_each_notification_once_newest_first() {
    // Given bob and cat outbidding each other ten times: bob is outbid at v4, v6, ..., v12
    let env = TestEnv::new().await;
    let mut auction = Auction::create(&env).await;
    for round in 0..10 {
        let bidder = if round % 2 == 0 { "bob" } else { "cat" };
        auction.bid(bidder, 100 + 10 * round, None).await;
    }
    let notifier = Notifier::new(&env);
    notifier.handle(batch_of(&auction.events().await)).await;

    // When bob lists his notifications two at a time
    let listed = notifier.inbox("bob", 2).await;

    // Then he sees each of his five outbids once, newest first
    let versions: Vec<u64> = listed.iter().map(|n| n.aggregate_version).collect();
    assert_eq!(versions, [12, 10, 8, 6, 4]);
    assert!(
        listed
            .windows(2)
            .all(|pair| pair[0].occurred_at > pair[1].occurred_at)
    );
    assert!(listed.iter().all(|n| n.recipient == user("bob")));
}

#[tokio::test]
async fn a_cursor_that_was_edited_or_belongs_to_another_user_is_refused() {
    // Given a cursor from bob's first page
    let env = TestEnv::new().await;
    let mut auction = Auction::create(&env).await;
    for round in 0..4 {
        let bidder = if round % 2 == 0 { "bob" } else { "cat" };
        auction.bid(bidder, 100 + 10 * round, None).await;
    }
    let notifier = Notifier::new(&env);
    notifier.handle(batch_of(&auction.events().await)).await;
    let bob = user("bob");
    let page = notifier.inbox.list(&bob, 1, None).await.unwrap();
    let cursor = page.next_cursor.unwrap();

    // When cat presents it, or bob presents it edited
    let cat: UserId = user("cat");
    let as_cat = notifier.inbox.list(&cat, 1, Some(&cursor)).await;
    let edited = format!("x{}", &cursor[1..]);
    let as_edited = notifier.inbox.list(&bob, 1, Some(&edited)).await;

    // Then both are refused as invalid cursors, and the cursor itself still works for bob
    assert!(
        matches!(as_cat, Err(NotifierError::InvalidCursor)),
        "{as_cat:?}"
    );
    assert!(
        matches!(as_edited, Err(NotifierError::InvalidCursor)),
        "{as_edited:?}"
    );
    let next = notifier.inbox.list(&bob, 1, Some(&cursor)).await.unwrap();
    assert_eq!(next.notifications.len(), 1);
    assert!(next.notifications[0].notification_id < page.notifications[0].notification_id);
}

/// `who` wants emails about `topics` at an address no other test uses.
async fn given_email_wanted(env: &TestEnv, who: &str, topics: &[email::Topic]) -> String {
    use email::PreferenceStore;
    let address = format!("{who}-{}@example.com", Uuid::new_v4().simple());
    let preferences = email::Preferences {
        email: Some(address.clone()),
        topics: topics.iter().copied().collect(),
        updated_at: Utc::now(),
    };
    env.email_notices()
        .save(&user(who), &preferences)
        .await
        .unwrap();
    address
}

/// The unsubscribe token in an email's body.
fn unsubscribe_token(body: &str) -> String {
    let start = body.find("#/unsubscribe/").unwrap() + "#/unsubscribe/".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

#[tokio::test]
async fn an_outbid_is_emailed_through_ses_once_and_its_link_unsubscribes_from_outbids() {
    // Given bob wants outbid emails, and cat outbids him (v4)
    let env = TestEnv::new().await;
    let bob = given_email_wanted(&env, "bob", &[email::Topic::Outbid, email::Topic::Lost]).await;
    let mut auction = Auction::create(&env).await;
    auction.bid("bob", 100, None).await;
    auction.bid("cat", 150, None).await;
    let notifier = Notifier::new(&env);

    // When the notifier handles the events, and the same batch is delivered again
    let batch = batch_of(&auction.events().await);
    assert!(failed(&notifier.handle(batch.clone()).await).is_empty());
    assert!(failed(&notifier.handle(batch).await).is_empty());

    // Then SES sent bob one email saying so, from the platform's sender
    let emails = env.emails_to(&bob).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0].subject, "You were outbid on “Fixture auction”");
    assert_eq!(emails[0].from, conventions::names::EMAIL_FROM.default);
    assert!(
        emails[0].body.contains("the price is now 1.50 EUR"),
        "{}",
        emails[0].body
    );

    // When bob follows its unsubscribe link (checked by the KMS key), and is outbid again
    let token = unsubscribe_token(&emails[0].body);
    let link = email::links::verify(&env.link_key(), &token, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (&link.user, link.topic),
        (&user("bob"), Some(email::Topic::Outbid))
    );
    assert!(
        email::PreferenceStore::unsubscribe(
            &env.email_notices(),
            &link.user,
            link.topic,
            Utc::now()
        )
        .await
        .unwrap()
    );
    auction.bid("bob", 200, None).await;
    auction.bid("cat", 250, None).await;
    auction.end().await;
    assert!(failed(&notifier.handle(batch_of(&auction.events().await)).await).is_empty());

    // Then no second outbid email came, but the one about the end he still wants did
    let subjects: Vec<String> = env
        .emails_to(&bob)
        .await
        .into_iter()
        .map(|email| email.subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "You were outbid on “Fixture auction”",
            "“Fixture auction” has ended"
        ]
    );
    assert_eq!(
        notifier.kinds("bob").await.len(),
        3,
        "the inbox still has every notice"
    );
}
