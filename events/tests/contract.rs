//! The wire contract under test: checked-in schemas match the code, golden samples decode (old
//! versions through their upcasters) and re-encode unchanged, and bad input is a typed error.
// In tests a panic is a failed assertion; clippy's in-test allowance does not reach helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use events::{
    AuctionEvent, AuctionId, DecodeError, Envelope, EventCodec, EventEnvelope, IncrementPolicy,
    ItemEvent, ItemId, RawEnvelope, SoftClose, SubjectEvent, schema,
};
use serde_json::{Value, json};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_files(dir: &str) -> Vec<(String, Value)> {
    let mut files: Vec<_> = fs::read_dir(crate_dir().join(dir))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, read_json(&path))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// Every event type of every aggregate with its current schema version.
fn current_types() -> Vec<(&'static str, u32)> {
    AuctionEvent::TYPES
        .iter()
        .chain(ItemEvent::TYPES)
        .chain(SubjectEvent::TYPES)
        .copied()
        .collect()
}

/// A stored envelope decoded by its own aggregate's codec (the one its `aggregateType` names):
/// the event type it decoded to, the envelope encoded again, and its raw (wire) form.
fn decoded(value: Value) -> Result<(&'static str, Value, Value), DecodeError> {
    fn with<C: EventCodec>(value: Value) -> Result<(&'static str, Value, Value), DecodeError> {
        let envelope = Envelope::<C>::from_value(value)?;
        Ok((
            envelope.event_type(),
            serde_json::to_value(&envelope).unwrap(),
            serde_json::to_value(envelope.to_raw().unwrap()).unwrap(),
        ))
    }
    match value["aggregateType"].as_str() {
        Some(<ItemEvent as EventCodec>::AGGREGATE_TYPE) => with::<ItemEvent>(value),
        Some(<SubjectEvent as EventCodec>::AGGREGATE_TYPE) => with::<SubjectEvent>(value),
        _ => with::<AuctionEvent>(value),
    }
}

fn sample(event_type: &str, schema_version: u32) -> Value {
    read_json(
        &crate_dir()
            .join("samples")
            .join(format!("{event_type}.v{schema_version}.json")),
    )
}

#[test]
fn checked_in_schemas_match_the_code() {
    // Given the schemas generated from the payload types
    let dir = crate_dir().join("schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut drifted = Vec::new();
    for (name, generated) in schema::all() {
        let path = dir.join(&name);
        if update {
            let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
            fs::write(&path, text).unwrap();
            continue;
        }
        // When compared with the checked-in files
        let checked_in = fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok());
        if checked_in.as_ref() != Some(&generated) {
            drifted.push(name);
        }
    }
    // Then they are the same
    assert!(
        drifted.is_empty(),
        "schemas out of date: {drifted:?}; if the change is intended and additive, run \
         `UPDATE_SCHEMAS=1 cargo test -p events --test contract` and commit the result"
    );
}

#[test]
fn every_checked_in_schema_is_still_generated() {
    let generated: Vec<String> = schema::all().into_iter().map(|(name, _)| name).collect();
    for (name, _) in json_files("schemas") {
        assert!(
            generated.contains(&name),
            "{name} is no longer generated: schemas are only ever added"
        );
    }
}

#[test]
fn every_current_event_type_has_a_golden_sample() {
    for (event_type, version) in current_types() {
        let path = crate_dir()
            .join("samples")
            .join(format!("{event_type}.v{version}.json"));
        assert!(path.exists(), "missing golden sample {}", path.display());
    }
}

#[test]
fn every_sample_decodes_and_names_the_type_it_claims() {
    let samples = json_files("samples");
    assert!(samples.len() >= current_types().len());
    for (name, value) in samples {
        let claimed = value["eventType"].as_str().unwrap().to_owned();
        let (event_type, _, _) =
            decoded(value).unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
        assert_eq!(event_type, claimed, "{name}");
    }
}

#[test]
fn current_version_samples_reencode_byte_for_byte_as_json_values() {
    for (event_type, version) in current_types() {
        // Given a golden sample at the current version
        let golden = sample(event_type, version);
        // When it is decoded (by its own aggregate's codec) and encoded again
        let (_, reencoded, _) = decoded(golden.clone()).unwrap();
        // Then nothing changed
        assert_eq!(reencoded, golden, "{event_type} v{version}");
    }
}

#[test]
fn every_sample_matches_the_schema_of_its_version() {
    let envelope_schema = read_json(&crate_dir().join("schemas/envelope.schema.json"));
    let envelope_validator = jsonschema::validator_for(&envelope_schema).unwrap();
    for (name, value) in json_files("samples") {
        let errors: Vec<String> = envelope_validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name} envelope: {errors:?}");

        let event_type = value["eventType"].as_str().unwrap();
        let version = value["schemaVersion"].as_u64().unwrap() as u32;
        let payload_schema = read_json(
            &crate_dir()
                .join("schemas")
                .join(schema::file_name(event_type, version)),
        );
        let validator = jsonschema::validator_for(&payload_schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value["payload"])
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name} payload: {errors:?}");
    }
}

#[test]
fn schemas_reject_a_payload_without_its_required_fields() {
    // A schema that accepts anything would make the test above pass vacuously.
    let schema = read_json(&crate_dir().join("schemas/BidPlaced.v2.schema.json"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut payload = sample("BidPlaced", 2)["payload"].clone();
    payload.as_object_mut().unwrap().remove("maxAmount");
    assert!(!validator.is_valid(&payload));
    payload["amount"] = json!({"amountMinor": 1.5, "currency": "EUR"});
    assert!(!validator.is_valid(&payload));
}

#[test]
fn auction_created_v1_upcasts_to_a_fixed_increment_without_soft_close() {
    // Given an AuctionCreated written before tiered increments and soft close existed
    let v1 = sample("AuctionCreated", 1);
    // When it is read today
    let envelope = EventEnvelope::from_value(v1).unwrap();
    // Then its fixed increment is kept and it does not gain anti-sniping it never had
    let AuctionEvent::AuctionCreated(created) = envelope.event else {
        panic!("not an AuctionCreated");
    };
    assert_eq!(
        created.increment,
        IncrementPolicy::Fixed { amount_minor: 500 }
    );
    assert_eq!(
        created.soft_close,
        SoftClose {
            window_seconds: 0,
            extension_seconds: 0
        }
    );
    assert_eq!(created.starting_price.amount_minor, 20000);
    // And it is written back at the current version
    let rewritten = serde_json::to_value(EventEnvelope {
        event: AuctionEvent::AuctionCreated(created),
        ..envelope
    })
    .unwrap();
    assert_eq!(rewritten["schemaVersion"], 3);
    assert_eq!(rewritten["payload"]["increment"]["kind"], "fixed");
}

#[test]
fn auction_created_v2_upcasts_to_an_auction_selling_the_item_its_own_id_names() {
    // Given an AuctionCreated written before relisting existed
    let envelope = EventEnvelope::from_value(sample("AuctionCreated", 2)).unwrap();
    // When it is read today
    let AuctionEvent::AuctionCreated(created) = envelope.event else {
        panic!("not an AuctionCreated");
    };
    // Then it relists nothing, and sells the item its id names
    assert_eq!(created.item_id, None);
    assert_eq!(created.relisted_from, None);
    assert_eq!(created.item(), ItemId::for_auction(created.auction_id));
    // And a relisting's creation names the first auction's item instead
    let AuctionEvent::AuctionCreated(relisting) =
        EventEnvelope::from_value(sample("AuctionCreated", 3))
            .unwrap()
            .event
    else {
        panic!("not an AuctionCreated");
    };
    assert_eq!(relisting.relisted_from, Some(created.auction_id));
    assert_eq!(relisting.item(), created.item());
    assert_eq!(
        relisting.auction_id,
        AuctionId::relisting(created.auction_id)
    );
}

#[test]
fn bid_placed_v1_upcasts_to_a_leading_bid_that_is_its_own_maximum() {
    // Given a BidPlaced from before proxy bidding
    let envelope = EventEnvelope::from_value(sample("BidPlaced", 1)).unwrap();
    // Then the bid was its own maximum, set the price and led
    let AuctionEvent::BidPlaced(bid) = envelope.event else {
        panic!("not a BidPlaced");
    };
    assert_eq!(bid.max_amount, bid.amount);
    assert_eq!(bid.new_price, bid.amount);
    assert_eq!(bid.leader_id, bid.bidder_id);
    assert_eq!(bid.previous_leader_id.unwrap().as_str(), "bidder-cat");
}

fn decode_error(mutate: impl FnOnce(&mut Value)) -> DecodeError {
    let mut value = sample("BidPlaced", 2);
    mutate(&mut value);
    EventEnvelope::from_value(value).unwrap_err()
}

#[test]
fn unknown_event_type_is_a_typed_error() {
    let err = decode_error(|v| v["eventType"] = json!("BidWithdrawn"));
    assert_eq!(err, DecodeError::UnknownEventType("BidWithdrawn".into()));
}

#[test]
fn newer_schema_version_is_a_typed_error() {
    let err = decode_error(|v| v["schemaVersion"] = json!(3));
    assert_eq!(
        err,
        DecodeError::SchemaVersionTooNew {
            event_type: "BidPlaced",
            found: 3,
            known: 2
        }
    );
}

#[test]
fn schema_version_zero_is_a_typed_error() {
    let err = decode_error(|v| v["schemaVersion"] = json!(0));
    assert_eq!(
        err,
        DecodeError::UnknownSchemaVersion {
            event_type: "BidPlaced",
            found: 0
        }
    );
}

#[test]
fn missing_payload_field_is_a_typed_error() {
    let err = decode_error(|v| {
        v["payload"].as_object_mut().unwrap().remove("leaderId");
    });
    assert!(
        matches!(&err, DecodeError::InvalidPayload { event_type: "BidPlaced", schema_version: 2, reason } if reason.contains("leaderId")),
        "{err:?}"
    );
}

#[test]
fn missing_envelope_field_is_a_typed_error() {
    let err = decode_error(|v| {
        v.as_object_mut().unwrap().remove("version");
    });
    assert!(matches!(err, DecodeError::MalformedEnvelope(_)), "{err:?}");
}

#[test]
fn version_zero_is_a_typed_error() {
    let err = decode_error(|v| v["version"] = json!(0));
    assert!(matches!(err, DecodeError::MalformedEnvelope(_)), "{err:?}");
}

#[test]
fn unknown_aggregate_type_is_a_typed_error() {
    let err = decode_error(|v| v["aggregateType"] = json!("Invoice"));
    assert_eq!(err, DecodeError::UnknownAggregateType("Invoice".into()));
}

#[test]
fn money_in_an_unknown_currency_is_a_typed_error() {
    let err = decode_error(|v| v["payload"]["amount"]["currency"] = json!("EURO"));
    assert!(matches!(err, DecodeError::InvalidPayload { .. }), "{err:?}");
}

#[test]
fn fractional_money_is_a_typed_error() {
    let err = decode_error(|v| v["payload"]["amount"]["amountMinor"] = json!(102.5));
    assert!(matches!(err, DecodeError::InvalidPayload { .. }), "{err:?}");
}

#[test]
fn text_that_is_not_json_is_a_typed_error() {
    let err = EventEnvelope::from_json("{\"eventId\": ").unwrap_err();
    assert!(matches!(err, DecodeError::MalformedEnvelope(_)), "{err:?}");
}

#[test]
fn a_raw_envelope_keeps_unknown_payloads_readable_for_inspection() {
    // Tools that must show any event (audits) can stop at the raw envelope.
    let mut value = sample("BidPlaced", 2);
    value["eventType"] = json!("BidWithdrawn");
    let raw: RawEnvelope = serde_json::from_value(value).unwrap();
    assert_eq!(raw.event_type, "BidWithdrawn");
    assert!(raw.decode().is_err());
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn on_arbitrary_text(text in "\\PC{0,300}") {
            let _ = EventEnvelope::from_json(&text);
        }

        #[test]
        fn on_a_sample_with_any_field_replaced(
            field in prop::sample::select(vec!["eventId", "aggregateId", "aggregateType", "eventType", "version", "schemaVersion", "occurredAt", "payload", "metadata"]),
            replacement in prop_oneof![
                Just(json!(null)), Just(json!(-1)), Just(json!(u64::MAX)), Just(json!(1.5)),
                Just(json!("")), Just(json!([])), Just(json!({})), "\\PC{0,20}".prop_map(Value::from),
            ],
        ) {
            let mut value = sample("AuctionCreated", 2);
            value[field] = replacement;
            let _ = EventEnvelope::from_value(value);
        }
    }
}

#[test]
fn the_raw_form_of_an_envelope_is_its_wire_form() {
    for (event_type, version) in current_types() {
        let golden = sample(event_type, version);
        let (_, _, raw) = decoded(golden.clone()).unwrap();
        assert_eq!(raw, golden, "{event_type}");
    }
}

// The Item aggregate's contract, beside the Auction's in the same log.

#[test]
fn no_event_type_is_both_an_auctions_and_an_items() {
    // The audit index and the exports by type name an event type alone, so a name must
    // say which aggregate's event it is.
    for (event_type, _) in ItemEvent::TYPES {
        assert!(
            !AuctionEvent::TYPES.iter().any(|(t, _)| t == event_type),
            "{event_type} is an Auction event type too"
        );
    }
    for (event_type, _) in SubjectEvent::TYPES {
        assert!(
            !AuctionEvent::TYPES
                .iter()
                .chain(ItemEvent::TYPES)
                .any(|(t, _)| t == event_type),
            "{event_type} is another aggregate's event type too"
        );
    }
    assert_eq!(current_types().len(), 16);
}

#[test]
fn an_items_event_is_not_an_auctions_and_an_auctions_is_not_an_items() {
    let item = sample("OwnershipTransferred", 1);
    assert_eq!(
        EventEnvelope::from_value(item).unwrap_err(),
        DecodeError::UnknownAggregateType("Item".into())
    );
    let auction = sample("PaymentSucceeded", 1);
    assert_eq!(
        Envelope::<ItemEvent>::from_value(auction).unwrap_err(),
        DecodeError::UnknownAggregateType("Auction".into())
    );
    // An Item envelope naming an Auction event type is refused by the Item codec
    let mut mislabelled = sample("ItemRegistered", 1);
    mislabelled["eventType"] = json!("AuctionCreated");
    assert_eq!(
        Envelope::<ItemEvent>::from_value(mislabelled).unwrap_err(),
        DecodeError::UnknownEventType("AuctionCreated".into())
    );
}

#[test]
fn the_item_samples_are_the_auction_samples_lot() {
    // The samples' item id is the one the auction of the Auction samples derives; the
    // relisting's sample moves it to the auction of AuctionCreated v3's sample.
    let first = sample("AuctionCreated", 2)["aggregateId"].clone();
    for (event_type, version) in ItemEvent::TYPES {
        let value = sample(event_type, *version);
        let registered_for = if *event_type == "ItemRelisted" {
            assert_eq!(
                value["payload"]["auctionId"],
                sample("AuctionCreated", 3)["aggregateId"]
            );
            &value["payload"]["previousAuctionId"]
        } else {
            &value["payload"]["auctionId"]
        };
        assert_eq!(registered_for, &first, "{event_type}");
        let item_id = ItemId::for_auction(serde_json::from_value(first.clone()).unwrap());
        assert_eq!(value["aggregateId"], json!(item_id), "{event_type}");
        assert_eq!(value["payload"]["itemId"], json!(item_id), "{event_type}");
    }
}

#[test]
fn item_schemas_reject_a_payload_without_its_required_fields() {
    let schema = read_json(&crate_dir().join("schemas/OwnershipTransferred.v1.schema.json"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut payload = sample("OwnershipTransferred", 1)["payload"].clone();
    assert!(validator.is_valid(&payload));
    payload.as_object_mut().unwrap().remove("sale");
    assert!(!validator.is_valid(&payload));

    let schema = read_json(&crate_dir().join("schemas/TransferReversed.v1.schema.json"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut payload = sample("TransferReversed", 1)["payload"].clone();
    payload["from"] = json!("");
    assert!(!validator.is_valid(&payload));
}

#[test]
fn an_item_event_of_a_newer_schema_version_or_without_a_field_is_a_typed_error() {
    let mut value = sample("ItemRegistered", 1);
    value["schemaVersion"] = json!(2);
    assert_eq!(
        Envelope::<ItemEvent>::from_value(value).unwrap_err(),
        DecodeError::SchemaVersionTooNew {
            event_type: "ItemRegistered",
            found: 2,
            known: 1
        }
    );
    let mut value = sample("TransferReversed", 1);
    value["payload"].as_object_mut().unwrap().remove("reason");
    let err = Envelope::<ItemEvent>::from_value(value).unwrap_err();
    assert!(
        matches!(&err, DecodeError::InvalidPayload { event_type: "TransferReversed", reason, .. } if reason.contains("reason")),
        "{err:?}"
    );
}

/// The JSON pointers at which `node` (in `root`'s `$defs`) holds a `UserId`.
fn user_id_pointers(root: &Value, node: &Value, at: &str, found: &mut Vec<String>) {
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        if name == "UserId" {
            found.push(at.to_owned());
        } else if let Some(def) = root["$defs"].get(name) {
            user_id_pointers(root, def, at, found);
        }
    }
    for branches in ["oneOf", "anyOf", "allOf"] {
        for branch in node
            .get(branches)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            user_id_pointers(root, branch, at, found);
        }
    }
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            user_id_pointers(root, property, &format!("{at}/{name}"), found);
        }
    }
}

#[test]
fn every_user_id_of_every_schema_version_is_a_declared_personal_field() {
    // Given every checked-in payload schema, old versions included
    for (name, schema) in json_files("schemas") {
        let Some(event_type) = name
            .split('.')
            .next()
            .filter(|_| name != "envelope.schema.json")
        else {
            continue;
        };
        let mut pointers = Vec::new();
        user_id_pointers(&schema, &schema, "", &mut pointers);
        // Then each place that holds a user id is one the codec declares personal, so that the
        // log holds a pseudonym there (docs/privacy.md)
        let declared: Vec<&str> = AuctionEvent::personal_fields(event_type)
            .iter()
            .chain(ItemEvent::personal_fields(event_type))
            .chain(SubjectEvent::personal_fields(event_type))
            .copied()
            .collect();
        for pointer in &pointers {
            assert!(
                declared.contains(&pointer.as_str()),
                "{name}: the user id at {pointer} is not declared personal"
            );
        }
        // And nothing declared is missing from the current version's schema
        if current_types()
            .iter()
            .any(|(t, v)| *t == event_type && name == format!("{t}.v{v}.schema.json"))
        {
            for pointer in &declared {
                assert!(
                    pointers.iter().any(|p| p == pointer),
                    "{name}: {pointer} is declared personal but holds no user id"
                );
            }
        }
    }
}
