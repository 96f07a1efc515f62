//! The inbox on DynamoDB: the Notifications table, partition key `userId` (S), sort key
//! `notificationId` (S, see [`super::notification_id`]). One item per notification; a write is
//! conditional on the item not existing, so of a redelivery or two concurrent consumers exactly
//! one stores it and the other is told it is already there.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use conventions::Failure;
use events::{AuctionId, Currency, Money, UserId};

use super::cursor;
use super::error::NotifierError;
use super::inbox::{ListNotifications, NotificationPage, StoreNotification, Stored, check_limit};
use super::notification::{Kind, Notification};

mod attr {
    pub const USER_ID: &str = "userId";
    pub const NOTIFICATION_ID: &str = "notificationId";
    pub const KIND: &str = "kind";
    pub const AUCTION_ID: &str = "auctionId";
    pub const AUCTION_TITLE: &str = "auctionTitle";
    pub const AMOUNT_MINOR: &str = "amountMinor";
    pub const CURRENCY: &str = "currency";
    pub const OCCURRED_AT: &str = "occurredAt";
    pub const VERSION: &str = "aggregateVersion";
    pub const EVENT_ID: &str = "eventId";
    pub const TEXT: &str = "text";
}

#[derive(Debug, Clone)]
pub struct DynamoDbNotifications {
    client: Client,
    table: String,
}

impl DynamoDbNotifications {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// On the table named by `NOTIFICATIONS_TABLE`, or its default.
    pub fn from_env(client: Client) -> Self {
        Self::new(client, conventions::names::NOTIFICATIONS_TABLE.from_env())
    }
}

impl StoreNotification for DynamoDbNotifications {
    async fn store(&self, notification: &Notification) -> Result<Stored, NotifierError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(notification)))
            .condition_expression("attribute_not_exists(#n)")
            .expression_attribute_names("#n", attr::NOTIFICATION_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Stored::New),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Stored::AlreadyThere)
            }
            Err(error) => Err(Failure::of(&error).into()),
        }
    }
}

impl ListNotifications for DynamoDbNotifications {
    async fn list(
        &self,
        user: &UserId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<NotificationPage, NotifierError> {
        check_limit(limit)?;
        let start_key = cursor
            .map(|c| cursor::decode(user, c))
            .transpose()?
            .map(|after| {
                HashMap::from([
                    (attr::USER_ID.to_owned(), s(user.as_str())),
                    (attr::NOTIFICATION_ID.to_owned(), AttributeValue::S(after)),
                ])
            });
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#u = :u")
            .expression_attribute_names("#u", attr::USER_ID)
            .expression_attribute_values(":u", s(user.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        let notifications = page
            .items()
            .iter()
            .map(notification)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = page
            .last_evaluated_key()
            .and_then(|key| key.get(attr::NOTIFICATION_ID))
            .and_then(|id| id.as_s().ok())
            .map(|id| cursor::encode(user, id));
        Ok(NotificationPage {
            notifications,
            next_cursor,
        })
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn item(notification: &Notification) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (attr::USER_ID.to_owned(), s(notification.recipient.as_str())),
        (
            attr::NOTIFICATION_ID.to_owned(),
            s(&notification.notification_id),
        ),
        (attr::KIND.to_owned(), s(notification.kind.as_str())),
        (
            attr::AUCTION_ID.to_owned(),
            s(&notification.auction_id.to_string()),
        ),
        (
            attr::AUCTION_TITLE.to_owned(),
            s(&notification.auction_title),
        ),
        (
            attr::OCCURRED_AT.to_owned(),
            s(&notification
                .occurred_at
                .to_rfc3339_opts(SecondsFormat::Millis, true)),
        ),
        (attr::VERSION.to_owned(), n(notification.aggregate_version)),
        (
            attr::EVENT_ID.to_owned(),
            s(&notification.event_id.to_string()),
        ),
        (attr::TEXT.to_owned(), s(&notification.text)),
    ]);
    if let Some(amount) = &notification.amount {
        item.insert(attr::AMOUNT_MINOR.to_owned(), n(amount.amount_minor));
        item.insert(attr::CURRENCY.to_owned(), s(amount.currency.as_str()));
    }
    item
}

fn notification(item: &HashMap<String, AttributeValue>) -> Result<Notification, NotifierError> {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| corrupt(format!("{name} is missing or not a string")))
    };
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .ok_or_else(|| corrupt(format!("{name} is missing or not a number")))
    };
    let amount = match (item.get(attr::AMOUNT_MINOR), item.get(attr::CURRENCY)) {
        (None, None) => None,
        _ => Some(Money::new(
            number(attr::AMOUNT_MINOR)?
                .parse()
                .map_err(|_| corrupt("amountMinor is not an integer"))?,
            Currency::try_from(text(attr::CURRENCY)?.as_str()).map_err(corrupt)?,
        )),
    };
    Ok(Notification {
        notification_id: text(attr::NOTIFICATION_ID)?.clone(),
        recipient: UserId::try_from(text(attr::USER_ID)?.as_str()).map_err(corrupt)?,
        kind: Kind::parse(text(attr::KIND)?).ok_or_else(|| corrupt("unknown kind"))?,
        auction_id: text(attr::AUCTION_ID)?
            .parse()
            .map(AuctionId)
            .map_err(corrupt)?,
        auction_title: text(attr::AUCTION_TITLE)?.clone(),
        amount,
        occurred_at: DateTime::parse_from_rfc3339(text(attr::OCCURRED_AT)?)
            .map_err(corrupt)?
            .with_timezone(&Utc),
        aggregate_version: number(attr::VERSION)?
            .parse()
            .map_err(|_| corrupt("aggregateVersion is not a version"))?,
        event_id: text(attr::EVENT_ID)?.parse().map_err(corrupt)?,
        text: text(attr::TEXT)?.clone(),
    })
}

fn corrupt(reason: impl ToString) -> NotifierError {
    NotifierError::CorruptItem(reason.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::notifications::notification_id;

    fn stored(amount: Option<Money>) -> Notification {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
        Notification {
            notification_id: notification_id(at, AuctionId(Uuid::from_u128(7)), 3, Kind::Sold),
            recipient: UserId::try_from("sam").unwrap(),
            kind: Kind::Sold,
            auction_id: AuctionId(Uuid::from_u128(7)),
            auction_title: "Red bike".to_owned(),
            amount,
            occurred_at: at,
            aggregate_version: 3,
            event_id: Uuid::from_u128(3),
            text: "Your item “Red bike” sold for 20.00 EUR.".to_owned(),
        }
    }

    #[test]
    fn an_item_reads_back_as_the_notification_it_was_written_from() {
        let with_amount = stored(Some(Money::new(2000, Currency::try_from("EUR").unwrap())));
        let without = stored(None);

        assert_eq!(notification(&item(&with_amount)).unwrap(), with_amount);
        assert_eq!(notification(&item(&without)).unwrap(), without);
    }

    #[test]
    fn an_item_missing_an_attribute_is_corrupt() {
        let mut item = item(&stored(None));
        item.remove(attr::KIND);

        assert!(matches!(
            notification(&item),
            Err(NotifierError::CorruptItem(_))
        ));
    }
}
