//! The StripeWebhookDeliveries table in DynamoDB: pk `eventId`; attributes `eventType`,
//! `signedAt` (NS), `firstReceivedAt` (RFC 3339, milliseconds, UTC), `expiresAt` (N, the TTL),
//! and once handled `handledAt` and `outcome`.
//!
//! Recording is one conditional UpdateItem: it adds the delivery's signed timestamp to
//! `signedAt` on condition that the set does not hold it yet (a missing item or attribute holds
//! nothing), so DynamoDB decides atomically which of two equal requests is the replay.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::DeliveryError;
use crate::ports::{Delivery, DeliveryRecord, Handled, Recorded, WebhookDeliveries, expiry};

/// The StripeWebhookDeliveries table (`STRIPE_WEBHOOK_DELIVERIES_TABLE`, default
/// `StripeWebhookDeliveries`).
#[derive(Debug, Clone)]
pub struct DynamoDbWebhookDeliveries {
    client: Client,
    table: String,
}

impl DynamoDbWebhookDeliveries {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `STRIPE_WEBHOOK_DELIVERIES_TABLE`, default `StripeWebhookDeliveries`.
    pub fn from_env(client: Client) -> Self {
        Self::new(
            client,
            conventions::names::STRIPE_WEBHOOK_DELIVERIES_TABLE.from_env(),
        )
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

type Item = HashMap<String, AttributeValue>;

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn record_of(item: &Item) -> Result<DeliveryRecord, DeliveryError> {
    let unreadable =
        |field: &str| DeliveryError::Failed(format!("an item's {field} is unreadable"));
    let text = |field: &str| match item.get(field) {
        None => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.as_str())),
        Some(_) => Err(unreadable(field)),
    };
    let time = |field: &str| {
        text(field)?
            .map(|at| {
                DateTime::parse_from_rfc3339(at)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|_| unreadable(field))
            })
            .transpose()
    };
    let event_id = text("eventId")?.ok_or_else(|| unreadable("eventId"))?;
    let event_type = text("eventType")?.ok_or_else(|| unreadable("eventType"))?;
    let signed_at = match item.get("signedAt") {
        Some(AttributeValue::Ns(values)) => values
            .iter()
            .map(|value| value.parse::<i64>().map_err(|_| unreadable("signedAt")))
            .collect::<Result<BTreeSet<_>, _>>()?,
        _ => return Err(unreadable("signedAt")),
    };
    let first_received_at =
        time("firstReceivedAt")?.ok_or_else(|| unreadable("firstReceivedAt"))?;
    let expires_at = match item.get("expiresAt") {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| unreadable("expiresAt"))?,
        _ => return Err(unreadable("expiresAt")),
    };
    let handled = match (time("handledAt")?, text("outcome")?) {
        (Some(at), Some(outcome)) => Some(Handled {
            at,
            outcome: outcome.to_owned(),
        }),
        (None, None) => None,
        _ => return Err(unreadable("handledAt and outcome (one without the other)")),
    };
    Ok(DeliveryRecord {
        event_id: event_id.to_owned(),
        event_type: event_type.to_owned(),
        signed_at,
        first_received_at,
        expires_at,
        handled,
    })
}

impl WebhookDeliveries for DynamoDbWebhookDeliveries {
    async fn record(&self, delivery: &Delivery) -> Result<Recorded, DeliveryError> {
        let signed_at = delivery.signed_at.to_string();
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("eventId", AttributeValue::S(delivery.event_id.clone()))
            .update_expression(
                "SET #type = if_not_exists(#type, :type), \
                 #first = if_not_exists(#first, :now), \
                 #expires = if_not_exists(#expires, :expires) \
                 ADD #signed :signed",
            )
            .condition_expression("NOT contains(#signed, :t)")
            .expression_attribute_names("#type", "eventType")
            .expression_attribute_names("#first", "firstReceivedAt")
            .expression_attribute_names("#expires", "expiresAt")
            .expression_attribute_names("#signed", "signedAt")
            .expression_attribute_values(":type", AttributeValue::S(delivery.event_type.clone()))
            .expression_attribute_values(":now", AttributeValue::S(timestamp(delivery.received_at)))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N(expiry(delivery.received_at).to_string()),
            )
            .expression_attribute_values(":signed", AttributeValue::Ns(vec![signed_at.clone()]))
            .expression_attribute_values(":t", AttributeValue::N(signed_at))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match written {
            Ok(output) => record_of(&output.attributes.unwrap_or_default()).map(Recorded::Delivery),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Recorded::Replay)
            }
            Err(error) => Err(DeliveryError::from_dynamodb(
                "UpdateItem",
                &self.table,
                &error,
            )),
        }
    }

    async fn mark_handled(
        &self,
        event_id: &str,
        outcome: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DeliveryError> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("eventId", AttributeValue::S(event_id.to_owned()))
            .update_expression(
                "SET #at = if_not_exists(#at, :at), #outcome = if_not_exists(#outcome, :outcome)",
            )
            // Never an item without its expiry: only a recorded delivery is marked.
            .condition_expression("attribute_exists(eventId)")
            .expression_attribute_names("#at", "handledAt")
            .expression_attribute_names("#outcome", "outcome")
            .expression_attribute_values(":at", AttributeValue::S(timestamp(at)))
            .expression_attribute_values(":outcome", AttributeValue::S(outcome.to_owned()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(DeliveryError::Failed(format!(
                    "no delivery of {event_id} is recorded in {}",
                    self.table
                )))
            }
            Err(error) => Err(DeliveryError::from_dynamodb(
                "UpdateItem",
                &self.table,
                &error,
            )),
        }
    }

    async fn get(&self, event_id: &str) -> Result<Option<DeliveryRecord>, DeliveryError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("eventId", AttributeValue::S(event_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| DeliveryError::from_dynamodb("GetItem", &self.table, &e))?;
        found.item.as_ref().map(record_of).transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn recorded() -> Vec<(&'static str, AttributeValue)> {
        vec![
            ("eventId", AttributeValue::S("evt_1".to_owned())),
            (
                "eventType",
                AttributeValue::S("payment_intent.succeeded".to_owned()),
            ),
            (
                "signedAt",
                AttributeValue::Ns(vec!["20".to_owned(), "10".to_owned()]),
            ),
            (
                "firstReceivedAt",
                AttributeValue::S("2026-06-01T12:00:00.000Z".to_owned()),
            ),
            ("expiresAt", AttributeValue::N("1783000000".to_owned())),
        ]
    }

    #[test]
    fn given_an_item_when_read_then_every_attribute_is_in_the_record() {
        let mut pairs = recorded();
        pairs.push((
            "handledAt",
            AttributeValue::S("2026-06-01T12:00:01.000Z".to_owned()),
        ));
        pairs.push(("outcome", AttributeValue::S("forwarded".to_owned())));

        let record = record_of(&item(&pairs)).unwrap();

        assert_eq!(record.event_id, "evt_1");
        assert_eq!(record.signed_at, BTreeSet::from([10, 20]));
        assert_eq!(record.expires_at, 1_783_000_000);
        assert_eq!(record.handled.unwrap().outcome, "forwarded");
    }

    #[test]
    fn given_an_item_with_a_handled_time_but_no_outcome_when_read_then_it_is_unreadable() {
        let mut pairs = recorded();
        pairs.push((
            "handledAt",
            AttributeValue::S("2026-06-01T12:00:01.000Z".to_owned()),
        ));

        assert!(matches!(
            record_of(&item(&pairs)),
            Err(DeliveryError::Failed(_))
        ));
    }
}
