//! The EmailNotices table: partition key `userId` (S), sort key `sk` (S). Per user, one item
//! `preferences` (`email`, one BOOL per topic, `updatedAt`) and one `sent#<notificationId>`
//! per emailed notice (`sentAt`, and `expiresAt` for the table's TTL: marks outlive any
//! redelivery by far, then go). The address lives in the preferences item only.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use conventions::Failure;
use events::UserId;

use crate::error::EmailError;
use crate::ports::{Boxed, PreferenceStore};
use crate::topic::{Preferences, Topic};

const USER: &str = "userId";
const SK: &str = "sk";
const PREFERENCES: &str = "preferences";
const EMAIL: &str = "email";
const UPDATED_AT: &str = "updatedAt";
const SENT_AT: &str = "sentAt";
const EXPIRES_AT: &str = "expiresAt";

/// How long a sent mark is kept: SQS keeps a message 4 days at most, a parked one is replayed
/// within weeks.
const SENT_MARK_TTL: TimeDelta = TimeDelta::days(60);

#[derive(Debug, Clone)]
pub struct DynamoDbEmailNotices {
    client: Client,
    table: String,
}

impl DynamoDbEmailNotices {
    /// On the table `table` (`EMAIL_NOTICES_TABLE`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// On the table `EMAIL_NOTICES_TABLE` names.
    pub fn from_env(client: Client) -> Self {
        Self::new(client, conventions::names::EMAIL_NOTICES_TABLE.from_env())
    }
}

fn text(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn time(at: DateTime<Utc>) -> AttributeValue {
    text(at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn sent_key(notification_id: &str) -> String {
    format!("sent#{notification_id}")
}

fn preferences_from(item: &HashMap<String, AttributeValue>) -> Result<Preferences, EmailError> {
    let email = match item.get(EMAIL) {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::S(email)) => Some(email.clone()),
        Some(_) => return Err(EmailError::Corrupt("email is not a string".to_owned())),
    };
    let topics = Topic::ALL
        .into_iter()
        .filter(|topic| matches!(item.get(topic.as_str()), Some(AttributeValue::Bool(true))))
        .collect::<BTreeSet<_>>();
    let updated_at = match item.get(UPDATED_AT) {
        Some(AttributeValue::S(at)) => DateTime::parse_from_rfc3339(at)
            .map_err(|_| EmailError::Corrupt("updatedAt is not a time".to_owned()))?
            .with_timezone(&Utc),
        _ => return Err(EmailError::Corrupt("no updatedAt".to_owned())),
    };
    Ok(Preferences {
        email,
        topics,
        updated_at,
    })
}

impl PreferenceStore for DynamoDbEmailNotices {
    fn preferences<'a>(&'a self, user: &'a UserId) -> Boxed<'a, Option<Preferences>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(USER, text(user.as_str()))
                .key(SK, text(PREFERENCES))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| EmailError::from(Failure::of(&e)))?;
            output.item.as_ref().map(preferences_from).transpose()
        })
    }

    fn save<'a>(&'a self, user: &'a UserId, preferences: &'a Preferences) -> Boxed<'a, ()> {
        Box::pin(async move {
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(USER, text(user.as_str()))
                .item(SK, text(PREFERENCES))
                .item(UPDATED_AT, time(preferences.updated_at));
            if let Some(email) = &preferences.email {
                put = put.item(EMAIL, text(email));
            }
            for topic in Topic::ALL {
                put = put.item(
                    topic.as_str(),
                    AttributeValue::Bool(preferences.topics.contains(&topic)),
                );
            }
            put.send()
                .await
                .map_err(|e| EmailError::from(Failure::of(&e)))?;
            Ok(())
        })
    }

    fn unsubscribe<'a>(
        &'a self,
        user: &'a UserId,
        topic: Option<Topic>,
        at: DateTime<Utc>,
    ) -> Boxed<'a, bool> {
        Box::pin(async move {
            let topics = match topic {
                Some(topic) => vec![topic],
                None => Topic::ALL.to_vec(),
            };
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(USER, text(user.as_str()))
                .key(SK, text(PREFERENCES))
                .condition_expression("attribute_exists(#user)")
                .expression_attribute_names("#user", USER)
                .expression_attribute_names("#at", UPDATED_AT)
                .expression_attribute_values(":at", time(at))
                .expression_attribute_values(":off", AttributeValue::Bool(false));
            let mut sets = vec!["#at = :at".to_owned()];
            for (n, topic) in topics.iter().enumerate() {
                update = update.expression_attribute_names(format!("#t{n}"), topic.as_str());
                sets.push(format!("#t{n} = :off"));
            }
            let result = update
                .update_expression(format!("SET {}", sets.join(", ")))
                .send()
                .await;
            match result {
                Ok(_) => Ok(true),
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() =>
                {
                    Ok(false)
                }
                Err(error) => Err(Failure::of(&error).into()),
            }
        })
    }

    fn was_sent<'a>(&'a self, user: &'a UserId, notification_id: &'a str) -> Boxed<'a, bool> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(USER, text(user.as_str()))
                .key(SK, text(sent_key(notification_id)))
                .projection_expression("#sk")
                .expression_attribute_names("#sk", SK)
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| EmailError::from(Failure::of(&e)))?;
            Ok(output.item.is_some_and(|item| !item.is_empty()))
        })
    }

    fn mark_sent<'a>(
        &'a self,
        user: &'a UserId,
        notification_id: &'a str,
        at: DateTime<Utc>,
    ) -> Boxed<'a, ()> {
        Box::pin(async move {
            self.client
                .put_item()
                .table_name(&self.table)
                .item(USER, text(user.as_str()))
                .item(SK, text(sent_key(notification_id)))
                .item(SENT_AT, time(at))
                .item(
                    EXPIRES_AT,
                    AttributeValue::N((at + SENT_MARK_TTL).timestamp().to_string()),
                )
                .send()
                .await
                .map_err(|e| EmailError::from(Failure::of(&e)))?;
            Ok(())
        })
    }

    fn forget<'a>(&'a self, user: &'a UserId) -> Boxed<'a, ()> {
        Box::pin(async move {
            let mut start = None;
            loop {
                let page = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#user = :user")
                    .expression_attribute_names("#user", USER)
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":user", text(user.as_str()))
                    .projection_expression("#user, #sk")
                    .consistent_read(true)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| EmailError::from(Failure::of(&e)))?;
                let keys = page.items.unwrap_or_default();
                for chunk in keys.chunks(25) {
                    self.delete_all(chunk).await?;
                }
                start = page.last_evaluated_key.filter(|key| !key.is_empty());
                if start.is_none() {
                    return Ok(());
                }
            }
        })
    }
}

impl DynamoDbEmailNotices {
    /// Deletes up to 25 items by key, retrying what DynamoDB leaves unprocessed.
    async fn delete_all(&self, keys: &[HashMap<String, AttributeValue>]) -> Result<(), EmailError> {
        let mut requests = keys
            .iter()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key.clone()))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
                    .map_err(|e| EmailError::Refused(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for attempt in 0..8 {
            if requests.is_empty() {
                return Ok(());
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| EmailError::from(Failure::of(&e)))?;
            requests = output
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.table))
                .unwrap_or_default();
        }
        Err(EmailError::Unavailable(
            "DynamoDB left deletes unprocessed eight times".to_owned(),
        ))
    }
}
