//! The `byEventType` index: the events of one type within a time range, a page at a time.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DynamoDbStore;
use super::errors::unavailable_or_refused;
use super::item::{attr, event_from_image, get_number, get_string, number, timestamp};
use crate::error::StoreError;
use crate::log::{BY_EVENT_TYPE, EventsOfType, TypePage, TypePosition, TypeQuery};

impl EventsOfType for DynamoDbStore {
    async fn events_of_type(&self, query: &TypeQuery) -> Result<TypePage, StoreError> {
        let Some((from, to)) = query.checked_bounds()? else {
            return Ok(TypePage::default());
        };
        let page = self
            .client
            .query()
            .table_name(&self.tables.events)
            .index_name(BY_EVENT_TYPE)
            .key_condition_expression("#type = :type AND #at BETWEEN :from AND :to")
            .expression_attribute_names("#type", attr::EVENT_TYPE)
            .expression_attribute_names("#at", attr::OCCURRED_AT)
            .expression_attribute_values(":type", AttributeValue::S(query.event_type.clone()))
            .expression_attribute_values(":from", AttributeValue::S(timestamp(&from)))
            .expression_attribute_values(":to", AttributeValue::S(timestamp(&to)))
            .limit(i32::try_from(query.page_size()).unwrap_or(i32::MAX))
            .set_exclusive_start_key(query.after.as_ref().map(index_key))
            .send()
            .await
            .map_err(|e| unavailable_or_refused(&e))?;
        let events = page
            .items()
            .iter()
            .map(event_from_image)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => Some(position_from_key(key)?),
            _ => None,
        };
        Ok(TypePage { events, next })
    }
}

/// The `byEventType` index key of a position: the index's own key and the table's.
fn index_key(position: &TypePosition) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            attr::EVENT_TYPE.to_owned(),
            AttributeValue::S(position.event_type.clone()),
        ),
        (
            attr::OCCURRED_AT.to_owned(),
            AttributeValue::S(timestamp(&position.occurred_at)),
        ),
        (
            attr::AGGREGATE_ID.to_owned(),
            AttributeValue::S(position.aggregate_id.to_string()),
        ),
        (attr::VERSION.to_owned(), number(position.version)),
    ])
}

/// Reads a LastEvaluatedKey of the index back into a position. Its `occurredAt` must be the
/// store's own text, or continuing from it would start somewhere else than where it ended.
fn position_from_key(key: &HashMap<String, AttributeValue>) -> Result<TypePosition, StoreError> {
    let version = get_number(key, attr::VERSION);
    let aggregate_id = get_string(key, attr::AGGREGATE_ID).and_then(|id| Uuid::parse_str(id).ok());
    let corrupt = |reason: String| StoreError::Corrupt {
        aggregate_id: aggregate_id.unwrap_or(Uuid::nil()),
        version: version.unwrap_or(0),
        reason,
    };
    let text = get_string(key, attr::OCCURRED_AT).unwrap_or_default();
    let occurred_at = DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
        .filter(|at| timestamp(at) == text)
        .ok_or_else(|| corrupt(format!("occurredAt {text:?} is not as the store writes it")))?;
    Ok(TypePosition {
        event_type: get_string(key, attr::EVENT_TYPE)
            .ok_or_else(|| corrupt("eventType is missing from the page key".to_owned()))?
            .to_owned(),
        occurred_at,
        aggregate_id: aggregate_id
            .ok_or_else(|| corrupt("aggregateId is missing or not a UUID".to_owned()))?,
        version: version.ok_or_else(|| corrupt("version is missing".to_owned()))?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::dynamodb::item::tests::events;

    #[test]
    fn a_position_reads_back_from_the_index_key_it_starts_after() {
        let position = TypePosition::of(&events(3..=3)[0]);
        let key = index_key(&position);
        assert_eq!(
            get_string(&key, attr::OCCURRED_AT),
            Some("2026-01-01T00:00:00.000Z")
        );
        assert_eq!(position_from_key(&key).unwrap(), position);
    }

    #[test]
    fn a_page_key_whose_time_is_not_the_stores_text_is_corruption() {
        let mut key = index_key(&TypePosition::of(&events(3..=3)[0]));
        key.insert(
            attr::OCCURRED_AT.to_owned(),
            AttributeValue::S("2026-01-01T00:00:00Z".to_owned()),
        );
        assert!(matches!(
            position_from_key(&key),
            Err(StoreError::Corrupt { version: 3, .. })
        ));
    }
}
