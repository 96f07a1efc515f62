//! What goes on a queue for one event, and how messages are grouped into SendMessageBatch calls.
//! Pure: no I/O.

use event_store::StoredEvent;
use events::AuctionId;

/// SendMessageBatch takes at most this many entries.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// The most a SendMessageBatch call may carry, bodies and attributes of every entry together
/// (and so the most one message may be). AWS has raised its limit to 1 MiB since; 256 KiB is
/// what every emulator and every region accepts.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// The names of the message attributes, for consumers that filter or log without reading the
/// body.
pub mod attribute {
    pub const EVENT_TYPE: &str = "eventType";
    pub const EVENT_ID: &str = "eventId";
    pub const AGGREGATE_ID: &str = "aggregateId";
    pub const VERSION: &str = "version";
    pub const CORRELATION_ID: &str = "correlationId";
    pub const CAUSATION_ID: &str = "causationId";
}

/// A message attribute's value with its SQS data type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    String(String),
    /// A decimal number, as SQS carries numbers: in text.
    Number(String),
}

impl AttributeValue {
    pub fn data_type(&self) -> &'static str {
        match self {
            Self::String(_) => "String",
            Self::Number(_) => "Number",
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::String(value) | Self::Number(value) => value,
        }
    }
}

/// One message for one FIFO queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The event's wire envelope as stored (not upcast): consumers run the upcasters.
    pub body: String,
    /// The aggregate id: SQS keeps one auction's events in order, and different auctions flow
    /// independently.
    pub group_id: String,
    /// `{aggregateId}#{version}`: a resend of the same event within SQS's five-minute window is
    /// accepted and dropped, which is what makes stream retries harmless.
    pub deduplication_id: String,
    pub attributes: Vec<(&'static str, AttributeValue)>,
}

impl QueueMessage {
    /// The message for a stored event.
    pub fn for_event(stored: &StoredEvent) -> Result<Self, serde_json::Error> {
        let envelope = &stored.envelope;
        let metadata = &envelope.metadata;
        let body = sqs_safe_json(serde_json::to_string(envelope)?);
        let string = |value: &str| AttributeValue::String(value.to_owned());
        let candidates = [
            (attribute::EVENT_TYPE, string(&envelope.event_type)),
            (attribute::EVENT_ID, string(&envelope.event_id.to_string())),
            (
                attribute::AGGREGATE_ID,
                string(&envelope.aggregate_id.to_string()),
            ),
            (
                attribute::VERSION,
                AttributeValue::Number(envelope.version.to_string()),
            ),
            (attribute::CORRELATION_ID, string(&metadata.correlation_id)),
            (attribute::CAUSATION_ID, string(&metadata.causation_id)),
        ];
        // SQS refuses an empty attribute value or one with characters it does not carry. The
        // body holds every field anyway, so such an attribute is left out rather than letting
        // it fail the message for good.
        let attributes = candidates
            .into_iter()
            .filter(|(_, value)| {
                !value.as_str().is_empty() && value.as_str().chars().all(sqs_allows)
            })
            .collect();
        Ok(Self {
            body,
            group_id: envelope.aggregate_id.to_string(),
            deduplication_id: deduplication_id(envelope.aggregate_id.into(), envelope.version),
            attributes,
        })
    }

    /// The size SQS counts against its limits: the body plus each attribute's name, data type
    /// and value, in UTF-8 bytes.
    pub fn size(&self) -> usize {
        let attributes: usize = self
            .attributes
            .iter()
            .map(|(name, value)| name.len() + value.data_type().len() + value.as_str().len())
            .sum();
        self.body.len() + attributes
    }
}

/// `{aggregateId}#{version}`: at most 57 characters of SQS's allowed set (alphanumerics and
/// punctuation, up to 128).
pub fn deduplication_id(aggregate_id: AuctionId, version: u64) -> String {
    format!("{aggregate_id}#{version}")
}

/// The characters SQS accepts in a body or attribute value (#x9 | #xA | #xD | #x20-#xD7FF |
/// #xE000-#xFFFD | #x10000-#x10FFFF).
fn sqs_allows(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// serde_json already escapes every control character, so the only characters of a JSON text
/// SQS would refuse are the noncharacters U+FFFE and U+FFFF. They can only occur inside JSON
/// strings, where their `\u` escapes mean the same.
fn sqs_safe_json(json: String) -> String {
    if json.chars().all(sqs_allows) {
        return json;
    }
    let mut safe = String::with_capacity(json.len() + 12);
    for c in json.chars() {
        if sqs_allows(c) {
            safe.push(c);
        } else {
            safe.push_str(&format!("\\u{:04x}", u32::from(c)));
        }
    }
    safe
}

/// Items grouped into batches SQS accepts, in their original order.
#[derive(Debug, PartialEq, Eq)]
pub struct Batches<T> {
    pub batches: Vec<Vec<T>>,
    /// Items that alone exceed [`MAX_BATCH_BYTES`]: no request can carry them.
    pub oversized: Vec<T>,
}

/// Groups `items` greedily, in order, into batches of at most [`MAX_BATCH_ENTRIES`] entries and
/// [`MAX_BATCH_BYTES`] bytes, `size` telling each item's bytes.
pub fn batches<T>(items: impl IntoIterator<Item = T>, size: impl Fn(&T) -> usize) -> Batches<T> {
    let mut grouped = Batches {
        batches: Vec::new(),
        oversized: Vec::new(),
    };
    let mut current: Vec<T> = Vec::new();
    let mut current_bytes = 0;
    for item in items {
        let bytes = size(&item);
        if bytes > MAX_BATCH_BYTES {
            grouped.oversized.push(item);
            continue;
        }
        if current.len() == MAX_BATCH_ENTRIES || current_bytes + bytes > MAX_BATCH_BYTES {
            grouped.batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes += bytes;
        current.push(item);
    }
    if !current.is_empty() {
        grouped.batches.push(current);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use events::{Actor, Metadata, RawEnvelope};
    use uuid::Uuid;

    fn stored(correlation_id: &str, causation_id: &str, payload: serde_json::Value) -> StoredEvent {
        StoredEvent {
            envelope: RawEnvelope {
                event_id: Uuid::from_u128(0xaa),
                aggregate_id: Uuid::from_u128(1),
                aggregate_type: "Auction".to_owned(),
                event_type: "BidPlaced".to_owned(),
                version: 7,
                schema_version: 1,
                occurred_at: Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap(),
                payload,
                metadata: Metadata {
                    correlation_id: correlation_id.to_owned(),
                    causation_id: causation_id.to_owned(),
                    actor: Actor::System {
                        name: "test".to_owned(),
                    },
                    idempotency_key: None,
                    request_fingerprint: None,
                },
            },
            hash: "00".to_owned(),
        }
    }

    fn attribute<'a>(message: &'a QueueMessage, name: &str) -> Option<&'a AttributeValue> {
        message
            .attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    #[test]
    fn the_body_is_the_stored_envelope_and_reads_back_into_it() {
        let event = stored("c-1", "cmd-1", serde_json::json!({"bidderId": "bob"}));

        let message = QueueMessage::for_event(&event).unwrap();

        let back: RawEnvelope = serde_json::from_str(&message.body).unwrap();
        assert_eq!(back, event.envelope);
        assert_eq!(
            message.body,
            serde_json::to_string(&event.envelope).unwrap()
        );
    }

    #[test]
    fn the_group_is_the_aggregate_and_the_deduplication_id_its_version() {
        let message = QueueMessage::for_event(&stored("c", "d", serde_json::json!({}))).unwrap();

        assert_eq!(message.group_id, "00000000-0000-0000-0000-000000000001");
        assert_eq!(
            message.deduplication_id,
            "00000000-0000-0000-0000-000000000001#7"
        );
    }

    #[test]
    fn the_longest_deduplication_id_fits_sqs_limit() {
        let id = deduplication_id(AuctionId(Uuid::max()), u64::MAX);
        assert!(id.len() <= 128, "{}", id.len());
        assert!(id.chars().all(|c| c.is_ascii_graphic()));
    }

    #[test]
    fn every_attribute_is_set_with_its_type() {
        let message =
            QueueMessage::for_event(&stored("c-1", "cmd-1", serde_json::json!({}))).unwrap();

        let expect = |name: &str, value: AttributeValue| {
            assert_eq!(attribute(&message, name), Some(&value), "{name}");
        };
        expect(
            attribute::EVENT_TYPE,
            AttributeValue::String("BidPlaced".into()),
        );
        expect(
            attribute::EVENT_ID,
            AttributeValue::String("00000000-0000-0000-0000-0000000000aa".into()),
        );
        expect(
            attribute::AGGREGATE_ID,
            AttributeValue::String("00000000-0000-0000-0000-000000000001".into()),
        );
        expect(attribute::VERSION, AttributeValue::Number("7".into()));
        expect(
            attribute::CORRELATION_ID,
            AttributeValue::String("c-1".into()),
        );
        expect(
            attribute::CAUSATION_ID,
            AttributeValue::String("cmd-1".into()),
        );
    }

    #[test]
    fn an_empty_causation_id_is_left_out_because_sqs_refuses_empty_values() {
        let message = QueueMessage::for_event(&stored("c-1", "", serde_json::json!({}))).unwrap();

        assert_eq!(attribute(&message, attribute::CAUSATION_ID), None);
        assert!(attribute(&message, attribute::CORRELATION_ID).is_some());
    }

    #[test]
    fn a_noncharacter_sqs_refuses_is_escaped_in_the_body_and_means_the_same() {
        let event = stored("c\u{FFFF}", "d", serde_json::json!({"title": "a\u{FFFE}b"}));

        let message = QueueMessage::for_event(&event).unwrap();

        assert!(message.body.chars().all(sqs_allows));
        let back: RawEnvelope = serde_json::from_str(&message.body).unwrap();
        assert_eq!(back, event.envelope);
        assert_eq!(attribute(&message, attribute::CORRELATION_ID), None);
    }

    #[test]
    fn the_size_counts_the_body_and_every_attribute() {
        let message = QueueMessage::for_event(&stored("c", "d", serde_json::json!({}))).unwrap();

        let attributes: usize = message
            .attributes
            .iter()
            .map(|(n, v)| n.len() + v.data_type().len() + v.as_str().len())
            .sum();
        assert_eq!(message.size(), message.body.len() + attributes);
        assert!(attributes > 0);
    }

    #[test]
    fn batches_hold_at_most_ten_entries_in_order() {
        let grouped = batches(0..25, |_| 1);

        let sizes: Vec<usize> = grouped.batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
        let flat: Vec<i32> = grouped.batches.into_iter().flatten().collect();
        assert_eq!(flat, (0..25).collect::<Vec<_>>());
        assert!(grouped.oversized.is_empty());
    }

    #[test]
    fn batches_stay_under_the_byte_limit() {
        let item = MAX_BATCH_BYTES / 3;
        let grouped = batches(0..7, |_| item);

        let sizes: Vec<usize> = grouped.batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 1]);
    }

    #[test]
    fn a_batch_may_fill_the_byte_limit_exactly() {
        let grouped = batches([MAX_BATCH_BYTES - 1, 1, 1], |size| *size);

        assert_eq!(grouped.batches, vec![vec![MAX_BATCH_BYTES - 1, 1], vec![1]]);
    }

    #[test]
    fn an_item_above_the_limit_is_set_aside_and_the_others_keep_their_order() {
        let grouped = batches([1, MAX_BATCH_BYTES + 1, 2, 3], |size| *size);

        assert_eq!(grouped.batches, vec![vec![1, 2, 3]]);
        assert_eq!(grouped.oversized, vec![MAX_BATCH_BYTES + 1]);
    }

    #[test]
    fn no_items_make_no_batches() {
        let grouped = batches(Vec::<u8>::new(), |_| 1);
        assert!(grouped.batches.is_empty());
    }
}
