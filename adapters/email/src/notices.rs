//! The notifier's step: email a notification to its recipient if they want it, once.

use std::future::Future;

use chrono::{DateTime, Utc};
use read_models::notifications::Notification;

use crate::compose::{Links, compose};
use crate::error::EmailError;
use crate::links::{LINK_TTL, LinkKey, Unsubscribe, sign};
use crate::ports::{PreferenceStore, SendEmail};
use crate::topic::Topic;

/// What became of a notification's email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mailed {
    /// Sent now; the mail service's message id.
    Sent(String),
    /// The recipient has no address or does not want this topic.
    NotWanted,
    /// A delivery before this one sent it (a redelivered message).
    AlreadySent,
}

/// Emails a stored notification to its recipient.
pub trait MailNotification: Send + Sync {
    /// Emails `notification` if its recipient wants its topic and it was not sent before.
    /// An error means it was not sent: the caller fails the message, and the redelivery
    /// sends it (a send whose mark failed may be sent twice: a duplicate, never a loss).
    fn mail(
        &self,
        notification: &Notification,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Mailed, EmailError>> + Send;
}

/// Email notices over a preference store, a mail service and the links' key.
pub struct EmailNotices<S, M, K> {
    store: S,
    mailer: M,
    key: K,
    links: Links,
}

impl<S, M, K> EmailNotices<S, M, K> {
    pub fn new(store: S, mailer: M, key: K, links: Links) -> Self {
        Self {
            store,
            mailer,
            key,
            links,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn mailer(&self) -> &M {
        &self.mailer
    }
}

impl<S, M, K> MailNotification for EmailNotices<S, M, K>
where
    S: PreferenceStore,
    M: SendEmail,
    K: LinkKey,
{
    async fn mail(
        &self,
        notification: &Notification,
        now: DateTime<Utc>,
    ) -> Result<Mailed, EmailError> {
        let user = &notification.recipient;
        let topic = Topic::of(notification.kind);
        let Some(preferences) = self.store.preferences(user).await? else {
            return Ok(Mailed::NotWanted);
        };
        let Some(to) = preferences
            .email
            .as_deref()
            .filter(|_| preferences.wants(topic))
        else {
            return Ok(Mailed::NotWanted);
        };
        let id = &notification.notification_id;
        if self.store.was_sent(user, id).await? {
            return Ok(Mailed::AlreadySent);
        }
        let token = sign(
            &self.key,
            &Unsubscribe {
                user: user.clone(),
                topic: Some(topic),
                expires_at: now + LINK_TTL,
            },
        )
        .await?;
        let message_id = self
            .mailer
            .send(&compose(notification, to, &token, &self.links))
            .await?;
        self.store.mark_sent(user, id, now).await?;
        Ok(Mailed::Sent(message_id))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use events::{AuctionId, UserId};
    use read_models::notifications::Kind;
    use uuid::Uuid;

    use super::*;
    use crate::links::{LocalLinkKey, verify};
    use crate::memory::{InMemoryEmailNotices, Outbox};
    use crate::topic::Preferences;

    type Notices = EmailNotices<InMemoryEmailNotices, Outbox, LocalLinkKey>;

    fn notices() -> Notices {
        EmailNotices::new(
            InMemoryEmailNotices::default(),
            Outbox::default(),
            LocalLinkKey::new(b"key".to_vec()),
            Links::new("http://web.test", "http://api.test"),
        )
    }

    fn ann() -> UserId {
        UserId::try_from("subject:a11").unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()
    }

    fn notification(kind: Kind) -> Notification {
        Notification {
            notification_id: format!(
                "2026-12-06T10:00:00.000Z#x#00000000000000000003#{}",
                kind.as_str()
            ),
            recipient: ann(),
            kind,
            auction_id: AuctionId(Uuid::nil()),
            auction_title: "Red bike".to_owned(),
            amount: None,
            occurred_at: now(),
            aggregate_version: 3,
            event_id: Uuid::nil(),
            text: "You were outbid on “Red bike”: the price is now 15.00 EUR.".to_owned(),
        }
    }

    async fn given_ann_wants(notices: &Notices, topics: &[Topic]) {
        let preferences = Preferences {
            email: Some("ann@example.com".to_owned()),
            topics: topics.iter().copied().collect(),
            updated_at: now(),
        };
        notices.store().save(&ann(), &preferences).await.unwrap();
    }

    #[tokio::test]
    async fn a_wanted_notice_is_emailed_once_however_often_it_is_delivered() {
        // Given Ann wants outbid emails
        let notices = notices();
        given_ann_wants(&notices, &[Topic::Outbid]).await;

        // When her outbid notification is mailed, and its message is delivered again
        let first = notices
            .mail(&notification(Kind::Outbid), now())
            .await
            .unwrap();
        let again = notices
            .mail(&notification(Kind::Outbid), now())
            .await
            .unwrap();

        // Then one email went to her address, with a link that unsubscribes her from outbids
        assert_eq!(first, Mailed::Sent("outbox-1".to_owned()));
        assert_eq!(again, Mailed::AlreadySent);
        let sent = notices.mailer().sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, "ann@example.com");
        let token = sent[0]
            .one_click_unsubscribe
            .split("token=")
            .nth(1)
            .unwrap();
        let link = verify(&LocalLinkKey::new(b"key".to_vec()), token, now())
            .await
            .unwrap();
        assert_eq!((link.user, link.topic), (ann(), Some(Topic::Outbid)));
        assert_eq!(link.expires_at, now() + LINK_TTL);
    }

    #[tokio::test]
    async fn a_notice_of_a_topic_turned_off_or_without_preferences_is_not_emailed() {
        // Given Ann wants emails about payments only
        let notices = notices();
        given_ann_wants(&notices, &[Topic::Payment]).await;

        // When she is outbid, then nothing is sent
        assert_eq!(
            notices
                .mail(&notification(Kind::Outbid), now())
                .await
                .unwrap(),
            Mailed::NotWanted
        );
        // and when she unsubscribes from payments, a payment notice is not sent either
        assert!(
            notices
                .store()
                .unsubscribe(&ann(), Some(Topic::Payment), now())
                .await
                .unwrap()
        );
        assert_eq!(
            notices
                .mail(&notification(Kind::PaymentConfirmed), now())
                .await
                .unwrap(),
            Mailed::NotWanted
        );
        // and someone who never saved preferences gets nothing
        let mut stranger = notification(Kind::Won);
        stranger.recipient = UserId::try_from("subject:b22").unwrap();
        assert_eq!(
            notices.mail(&stranger, now()).await.unwrap(),
            Mailed::NotWanted
        );
        assert!(notices.mailer().sent().is_empty());
    }
}
