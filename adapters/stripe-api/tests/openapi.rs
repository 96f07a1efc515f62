//! Every request the client makes, checked against Stripe's published OpenAPI document (the
//! parts vendored in `openapi/` by `openapi/extract.py`), and Stripe's published example objects
//! read into the client's types.
//!
//! Why: localstripe has no Connect (accounts, transfers, reversals), ignores `Idempotency-Key`,
//! and accepts some parameters Stripe does not know (and the reverse), so a call that passes
//! against it alone may still be refused by Stripe. Here each public call of the client is made
//! against a recording server; every recorded request must name an operation of the document
//! with that method, send only declared parameters of a compatible type, send the required ones,
//! and carry the pinned `Stripe-Version`, the key and (when it creates something) the
//! idempotency key it was given.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use stripe_api::{
    Account, Customer, NewTransfer, OffSessionCharge, PaymentIntent, PaymentMethod, Refund,
    STRIPE_VERSION, StripeClient, Transfer, TransferReversal,
};
use support::{Captured, FakeStripe};

const DOCUMENT: &str = include_str!("../openapi/stripe-openapi.json");
const FIXTURES: &str = include_str!("../openapi/fixtures.json");
const KEY: &str = "sk_test_openapi_check";

/// Operations vendored for the local stack's Connect emulation, which the client never calls.
const SERVED_LOCALLY_ONLY: &[(&str, &str)] = &[
    ("get", "/v1/accounts"),
    ("get", "/v1/transfers/{transfer}"),
    ("get", "/v1/transfers/{id}/reversals"),
];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).unwrap()
}

fn fixtures() -> Value {
    serde_json::from_str(FIXTURES).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The vendored document as a validator

/// A schema with a `$ref` to a vendored component followed; `None` for an opaque reference.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/")?;
            document["components"]["schemas"].get(name)
        }
        None => Some(schema),
    }
}

/// `metadata[order]` -> `["metadata", "order"]`; `expand[]` -> `["expand", ""]`.
fn segments(name: &str) -> Vec<String> {
    let (head, mut rest) = name.split_once('[').map_or((name, ""), |(h, r)| (h, r));
    let mut out = vec![head.to_owned()];
    while let Some(end) = rest.find(']') {
        out.push(rest[..end].to_owned());
        rest = rest[end + 1..].strip_prefix('[').unwrap_or("");
    }
    out
}

/// Whether `value`, given at `path` below `schema`, is declared there with a compatible type.
fn check_value(
    document: &Value,
    schema: &Value,
    name: &str,
    path: &[String],
    value: &str,
) -> Result<(), String> {
    let Some(schema) = resolve(document, schema) else {
        return Ok(()); // a schema that is not vendored: opaque
    };
    for combinator in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
            let errors: Vec<String> = branches
                .iter()
                .filter_map(|branch| check_value(document, branch, name, path, value).err())
                .collect();
            return if errors.len() < branches.len() {
                Ok(())
            } else {
                Err(errors.join("; and "))
            };
        }
    }
    let kind = schema.get("type").and_then(Value::as_str);
    if let Some((first, rest)) = path.split_first() {
        return match kind {
            Some("array") => {
                if first.is_empty() || first.parse::<usize>().is_ok() {
                    check_value(document, &schema["items"], name, rest, value)
                } else {
                    Err(format!("{name}: {first:?} is not an array index"))
                }
            }
            Some("object") | None => {
                if let Some(property) = schema.get("properties").and_then(|p| p.get(first)) {
                    return check_value(document, property, name, rest, value);
                }
                match schema.get("additionalProperties") {
                    Some(Value::Bool(true)) => Ok(()),
                    Some(additional @ Value::Object(_)) => {
                        check_value(document, additional, name, rest, value)
                    }
                    _ => Err(format!("{name}: unknown parameter {first:?}")),
                }
            }
            Some(other) => Err(format!("{name}: a {other} has no member {first:?}")),
        };
    }
    let compatible = match kind {
        Some("integer") => value.parse::<i64>().is_ok(),
        Some("number") => value.parse::<f64>().is_ok(),
        Some("boolean") => value == "true" || value == "false",
        Some("string") | None => true,
        Some(_) => false,
    };
    if !compatible {
        return Err(format!("{name}={value:?} is not a {}", kind.unwrap_or("?")));
    }
    let bypass = schema
        .get("x-stripeBypassValidation")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let (Some(allowed), false) = (schema.get("enum").and_then(Value::as_array), bypass)
        && !allowed.iter().any(|a| a.as_str() == Some(value))
    {
        return Err(format!("{name}={value:?} is not one of {allowed:?}"));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && value.chars().count() as u64 > max
    {
        return Err(format!("{name} is longer than {max}"));
    }
    Ok(())
}

/// The operation whose path template matches `path`, with its template.
fn operation<'a>(document: &'a Value, method: &str, path: &str) -> Option<(&'a str, &'a Value)> {
    let wanted: Vec<&str> = path.split('/').collect();
    document["paths"]
        .as_object()?
        .iter()
        .find(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == wanted.len()
                && parts.iter().zip(&wanted).all(|(part, given)| {
                    (part.starts_with('{') && part.ends_with('}') && !given.is_empty())
                        || part == given
                })
        })
        .and_then(|(template, item)| Some((template.as_str(), item.get(method)?)))
}

/// Every problem with one recorded request; empty when it conforms.
fn violations(document: &Value, request: &Captured, idempotency_key: Option<&str>) -> Vec<String> {
    let method = request.method.to_ascii_lowercase();
    let Some((template, operation)) = operation(document, &method, &request.path) else {
        return vec![format!(
            "{} {}: no such operation in Stripe's document",
            request.method, request.path
        )];
    };
    let mut problems = Vec::new();
    let mut given = BTreeSet::new();
    if method == "post" {
        let schema =
            &operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
        for (name, value) in request.form() {
            let path = segments(&name);
            given.insert(path[0].clone());
            if let Err(problem) = check_value(document, schema, &name, &path, &value) {
                problems.push(problem);
            }
        }
        for required in schema["required"].as_array().into_iter().flatten() {
            let required = required.as_str().unwrap();
            if !given.contains(required) {
                problems.push(format!("the required parameter {required} is missing"));
            }
        }
        if request.header("content-type") != Some("application/x-www-form-urlencoded") {
            problems.push(format!("content-type {:?}", request.header("content-type")));
        }
        if request.header("idempotency-key") != idempotency_key {
            problems.push(format!(
                "Idempotency-Key {:?}, expected {idempotency_key:?}",
                request.header("idempotency-key")
            ));
        }
    } else {
        if !request.body.is_empty() {
            problems.push("a GET with a body".to_owned());
        }
        if request.header("idempotency-key").is_some() {
            problems.push("a GET with an Idempotency-Key".to_owned());
        }
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (name, value) in &request.query {
            let path = segments(name);
            match parameters
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == path[0].as_str())
            {
                Some(parameter) => {
                    if let Err(problem) =
                        check_value(document, &parameter["schema"], name, &path[1..], value)
                    {
                        problems.push(problem);
                    }
                }
                None => problems.push(format!("unknown query parameter {name}")),
            }
        }
    }
    if request.header("authorization") != Some(format!("Bearer {KEY}").as_str()) {
        problems.push("no Bearer key".to_owned());
    }
    if request.header("stripe-version") != document["info"]["version"].as_str() {
        problems.push(format!(
            "Stripe-Version {:?}, the document is {}",
            request.header("stripe-version"),
            document["info"]["version"]
        ));
    }
    problems
        .into_iter()
        .map(|p| format!("{} {template}: {p}", request.method))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A server answering with Stripe's example objects

/// The example object an operation's 200 answer is made of, wrapped in a list for a list.
fn example_answer(document: &Value, fixtures: &Value, request: &Captured) -> (u16, String) {
    let method = request.method.to_ascii_lowercase();
    let Some((_, operation)) = operation(document, &method, &request.path) else {
        return (404, json!({"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}).to_string());
    };
    let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
    let component = |schema: &Value| -> Option<String> {
        let schema = schema.get("anyOf").and_then(|b| b.get(0)).unwrap_or(schema);
        Some(
            schema["$ref"]
                .as_str()?
                .strip_prefix("#/components/schemas/")?
                .to_owned(),
        )
    };
    let body = if let Some(name) = component(schema) {
        let mut object = fixtures["resources"][name.as_str()].clone();
        if name == "payment_intent" && method == "post" {
            // The example is a fresh intent; a confirmed off-session one that was paid:
            object["status"] = json!("succeeded");
        }
        object
    } else {
        let name = component(&schema["properties"]["data"]["items"]).unwrap();
        json!({
            "object": "list",
            "url": request.path,
            "has_more": false,
            "data": [fixtures["resources"][name.as_str()].clone()],
        })
    };
    (200, body.to_string())
}

async fn fake_stripe() -> FakeStripe {
    let (document, fixtures) = (document(), fixtures());
    FakeStripe::start(Arc::new(move |request: &Captured| {
        example_answer(&document, &fixtures, request)
    }))
    .await
}

/// Every public call of the client once, each POST with its own key; returns the keys in call
/// order (`None` for a read).
async fn call_everything(client: &StripeClient) -> Vec<Option<&'static str>> {
    let metadata = BTreeMap::from([
        ("auction_id".to_owned(), "0b7e".to_owned()),
        ("bid_id".to_owned(), "9a1".to_owned()),
    ]);
    let mut keys = Vec::new();
    let mut post = |key: &'static str| {
        keys.push(Some(key));
        key
    };
    client
        .charge_off_session(
            &OffSessionCharge {
                customer: "cus_1".to_owned(),
                payment_method: "pm_1".to_owned(),
                amount: 1500,
                currency: "EUR".to_owned(),
                metadata: metadata.clone(),
            },
            post("charge-1"),
        )
        .await
        .unwrap();
    client
        .refund_payment_intent(
            "pi_1",
            500,
            &[("reason_code", "buyer_withdrew")],
            post("refund-1"),
        )
        .await
        .unwrap();
    client
        .transfer(
            &NewTransfer {
                amount: 1300,
                currency: "eur".to_owned(),
                destination: "acct_1".to_owned(),
                transfer_group: Some("auction-0b7e".to_owned()),
                source_transaction: Some("ch_1".to_owned()),
                metadata: metadata.clone(),
            },
            post("transfer-1"),
        )
        .await
        .unwrap();
    client
        .reverse_transfer("tr_1", 1300, &[("auction_id", "0b7e")], post("reversal-1"))
        .await
        .unwrap();
    client
        .cancel_payment_intent("pi_1", post("cancel-1"))
        .await
        .unwrap();
    client
        .create_customer("Ada Lovelace", post("customer-1"))
        .await
        .unwrap();
    client
        .create_card_payment_method("4242424242424242", post("card-1"))
        .await
        .unwrap();
    client
        .attach_payment_method("pm_1", "cus_1", post("attach-1"))
        .await
        .unwrap();
    client
        .create_connected_account("seller@example.com", post("account-1"))
        .await
        .unwrap();
    client
        .create_connected_account("Ada's Cameras", post("account-2"))
        .await
        .unwrap();
    keys.push(None);
    client.customer("cus_1").await.unwrap();
    keys.push(None);
    client.payment_method("pm_1").await.unwrap();
    keys.push(None);
    client.account("acct_1").await.unwrap();
    keys.push(None);
    client.payment_intent("pi_1").await.unwrap();
    keys.push(None);
    client.payment_intents_of_customer("cus_1").await.unwrap();
    keys.push(None);
    client.transfers_to("acct_1").await.unwrap();
    keys.push(None);
    client.refunds_of_payment_intent("pi_1").await.unwrap();
    keys
}

#[test]
fn the_pinned_stripe_version_is_the_vendored_document_s() {
    let document = document();

    assert_eq!(document["info"]["version"], STRIPE_VERSION);
    assert_eq!(document["x-vendored"]["api_version"], STRIPE_VERSION);
}

#[tokio::test]
async fn given_every_call_of_the_client_then_each_request_conforms_to_stripe_s_document() {
    // Given a server that records each request and answers with Stripe's examples
    let fake = fake_stripe().await;
    let client = fake.client(KEY, Duration::from_secs(10));

    // When the client makes every call it has
    let keys = call_everything(&client).await;

    // Then every request names a documented operation and sends only what it declares
    let document = document();
    let requests = fake.requests();
    assert_eq!(requests.len(), keys.len(), "one request per call");
    let problems: Vec<String> = requests
        .iter()
        .zip(&keys)
        .flat_map(|(request, key)| violations(&document, request, *key))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    // And together they use every vendored operation but those served only by the local stack
    let used: BTreeSet<(String, String)> = requests
        .iter()
        .map(|r| {
            let method = r.method.to_ascii_lowercase();
            let (template, _) = operation(&document, &method, &r.path).unwrap();
            (method, template.to_owned())
        })
        .collect();
    let vendored: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|method| (method.clone(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let local_only: BTreeSet<(String, String)> = SERVED_LOCALLY_ONLY
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        vendored.difference(&used).cloned().collect::<BTreeSet<_>>(),
        local_only,
        "vendored but neither called nor served locally (or the reverse)"
    );
}

#[tokio::test]
async fn given_the_charge_then_its_form_carries_the_nested_metadata_and_off_session_flags() {
    let fake = fake_stripe().await;
    let client = fake.client(KEY, Duration::from_secs(10));

    call_everything(&client).await;

    let charge = &fake.requests()[0];
    let form: BTreeMap<String, String> = charge.form().into_iter().collect();
    assert_eq!(charge.path, "/v1/payment_intents");
    assert_eq!(form["amount"], "1500");
    assert_eq!(form["currency"], "eur", "sent lower-case");
    assert_eq!(form["confirm"], "true");
    assert_eq!(form["off_session"], "true");
    assert_eq!(form["metadata[auction_id]"], "0b7e");
    assert_eq!(charge.header("idempotency-key"), Some("charge-1"));
}

#[test]
fn given_requests_stripe_would_refuse_then_the_check_names_each_problem() {
    // The check itself must be able to fail: a misspelt name, a mistyped value, a missing
    // required parameter, an undeclared nested key, an unknown path.
    let document = document();
    let request = |method: &str, path: &str, body: &str| Captured {
        method: method.to_owned(),
        path: path.to_owned(),
        query: Vec::new(),
        headers: vec![
            ("authorization".to_owned(), format!("Bearer {KEY}")),
            ("stripe-version".to_owned(), STRIPE_VERSION.to_owned()),
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("idempotency-key".to_owned(), "k".to_owned()),
        ],
        body: body.to_owned(),
    };
    let cases = [
        (
            request(
                "POST",
                "/v1/transfers",
                "amount=1&currency=eur&destinaton=acct_1",
            ),
            "unknown parameter \"destinaton\"",
        ),
        (
            request(
                "POST",
                "/v1/transfers",
                "amount=ten&currency=eur&destination=acct_1",
            ),
            "is not a integer",
        ),
        (
            request("POST", "/v1/transfers", "amount=1&currency=eur"),
            "required parameter destination",
        ),
        (
            request("POST", "/v1/payment_methods", "type=card&card[numbr]=4242"),
            "unknown parameter \"numbr\"",
        ),
        (
            request(
                "POST",
                "/v1/payment_intents",
                "amount=1&currency=eur&confirm=yes",
            ),
            "is not a boolean",
        ),
        (
            request("POST", "/v1/transfer", "amount=1"),
            "no such operation",
        ),
    ];
    for (request, expected) in cases {
        let problems = violations(&document, &request, Some("k"));

        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{} {}: expected {expected:?} in {problems:?}",
            request.method,
            request.body
        );
    }
    // And a conforming request passes
    let fine = request(
        "POST",
        "/v1/transfers",
        "amount=1&currency=eur&destination=acct_1&metadata%5Ba%5D=b",
    );
    assert_eq!(
        violations(&document, &fine, Some("k")),
        Vec::<String>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// The objects

/// Reads `value` as the client's type for Stripe's `schema`.
fn read_as(schema: &str, value: Value) -> Result<(), String> {
    let result = match schema {
        "payment_intent" => serde_json::from_value::<PaymentIntent>(value).map(drop),
        "refund" => serde_json::from_value::<Refund>(value).map(drop),
        "transfer" => serde_json::from_value::<Transfer>(value).map(drop),
        "transfer_reversal" => serde_json::from_value::<TransferReversal>(value).map(drop),
        "customer" | "deleted_customer" => serde_json::from_value::<Customer>(value).map(drop),
        "payment_method" => serde_json::from_value::<PaymentMethod>(value).map(drop),
        "account" => serde_json::from_value::<Account>(value).map(drop),
        other => panic!("no type for {other}"),
    };
    result.map_err(|e| e.to_string())
}

/// What the client's types rely on: (schema, field path, the JSON type Stripe declares).
/// `expandable` is an id or the expanded object.
const RELIED_ON: &[(&str, &str, &str)] = &[
    ("payment_intent", "id", "string"),
    ("payment_intent", "status", "string"),
    ("payment_intent", "amount", "integer"),
    ("payment_intent", "currency", "string"),
    ("payment_intent", "customer", "expandable"),
    ("payment_intent", "payment_method", "expandable"),
    ("payment_intent", "latest_charge", "expandable"),
    ("payment_intent", "metadata", "object"),
    ("payment_intent", "last_payment_error", "object"),
    ("refund", "id", "string"),
    ("refund", "amount", "integer"),
    ("refund", "currency", "string"),
    ("refund", "payment_intent", "expandable"),
    ("refund", "status", "string"),
    ("refund", "metadata", "object"),
    ("transfer", "id", "string"),
    ("transfer", "amount", "integer"),
    ("transfer", "currency", "string"),
    ("transfer", "destination", "expandable"),
    ("transfer", "reversed", "boolean"),
    ("transfer", "amount_reversed", "integer"),
    ("transfer", "transfer_group", "string"),
    ("transfer", "source_transaction", "expandable"),
    ("transfer", "metadata", "object"),
    ("transfer_reversal", "id", "string"),
    ("transfer_reversal", "amount", "integer"),
    ("transfer_reversal", "currency", "string"),
    ("transfer_reversal", "transfer", "expandable"),
    ("transfer_reversal", "metadata", "object"),
    ("customer", "id", "string"),
    ("customer", "name", "string"),
    ("customer", "email", "string"),
    ("customer", "metadata", "object"),
    ("deleted_customer", "id", "string"),
    ("deleted_customer", "deleted", "boolean"),
    ("payment_method", "id", "string"),
    ("payment_method", "customer", "expandable"),
    ("payment_method", "type", "string"),
    ("payment_method", "card", "object"),
    ("payment_method", "card.brand", "string"),
    ("payment_method", "card.last4", "string"),
    ("payment_method", "card.exp_month", "integer"),
    ("payment_method", "card.exp_year", "integer"),
    ("account", "id", "string"),
    ("account", "charges_enabled", "boolean"),
    ("account", "payouts_enabled", "boolean"),
    ("account", "capabilities", "object"),
    ("account", "capabilities.transfers", "string"),
];

/// The schema of `field` (dotted) in component `schema`, with whether it may be null and
/// whether it may be absent (where its parent object is present).
fn field_schema<'a>(document: &'a Value, schema: &str, field: &str) -> (&'a Value, bool, bool) {
    let mut current = &document["components"]["schemas"][schema];
    let (mut nullable, mut optional) = (false, false);
    for part in field.split('.') {
        let object = resolve(document, current).unwrap();
        // `anyOf: [{$ref}]` with `nullable` wraps a sub-object.
        let object = match object.get("anyOf").and_then(Value::as_array) {
            Some(branches) if branches.len() == 1 => resolve(document, &branches[0]).unwrap(),
            _ => object,
        };
        let required = object["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|n| n == part));
        // Of the last part only: its parents are present in the example.
        optional = !required;
        current = object["properties"]
            .get(part)
            .unwrap_or_else(|| panic!("{schema}.{field}: Stripe's schema has no {part}"));
        nullable = current.get("nullable").and_then(Value::as_bool) == Some(true);
    }
    (current, nullable, optional)
}

/// The JSON types a schema allows.
fn declared_types(schema: &Value) -> BTreeSet<String> {
    if let Some(branches) = schema
        .get("anyOf")
        .or(schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        return branches.iter().flat_map(declared_types).collect();
    }
    if schema.get("$ref").is_some() {
        return BTreeSet::from(["object".to_owned()]);
    }
    schema["type"]
        .as_str()
        .map(|t| BTreeSet::from([t.to_owned()]))
        .unwrap_or_default()
}

fn set_path(object: &mut Value, field: &str, value: Option<Value>) {
    let parts: Vec<&str> = field.split('.').collect();
    let (last, parents) = parts.split_last().unwrap();
    let mut target = object;
    for part in parents {
        target = &mut target[*part];
    }
    match value {
        Some(value) => target[*last] = value,
        None => {
            target.as_object_mut().unwrap().remove(*last);
        }
    }
}

#[test]
fn given_stripe_s_example_objects_then_the_client_s_types_read_them() {
    let fixtures = fixtures();
    for (name, example) in fixtures["resources"].as_object().unwrap() {
        read_as(name, example.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let intent: PaymentIntent =
        serde_json::from_value(fixtures["resources"]["payment_intent"].clone()).unwrap();
    assert_eq!(intent.amount, 1099);
    let account: Account =
        serde_json::from_value(fixtures["resources"]["account"].clone()).unwrap();
    assert!(account.can_receive_transfers());
    let deleted: Customer =
        serde_json::from_value(fixtures["resources"]["deleted_customer"].clone()).unwrap();
    assert!(deleted.deleted);
}

#[test]
fn given_each_field_the_types_rely_on_then_stripe_declares_it_with_that_type_and_the_types_agree() {
    let document = document();
    let fixtures = fixtures();
    let mut problems = Vec::new();
    for &(schema, field, expected) in RELIED_ON {
        let (declared, nullable, optional) = field_schema(&document, schema, field);
        let types = declared_types(declared);
        let matches = match expected {
            "expandable" => types == BTreeSet::from(["string".to_owned(), "object".to_owned()]),
            other => types == BTreeSet::from([other.to_owned()]),
        };
        if !matches {
            problems.push(format!(
                "{schema}.{field}: Stripe declares {types:?}, we read {expected}"
            ));
        }
        let example = &fixtures["resources"][schema];
        // Stripe may send null: our type must take it.
        if nullable {
            let mut value = example.clone();
            set_path(&mut value, field, Some(Value::Null));
            if let Err(e) = read_as(schema, value) {
                problems.push(format!(
                    "{schema}.{field} is nullable but we refuse null: {e}"
                ));
            }
        }
        // Stripe may leave it out: our type must do without.
        if optional {
            let mut value = example.clone();
            set_path(&mut value, field, None);
            if let Err(e) = read_as(schema, value) {
                problems.push(format!(
                    "{schema}.{field} is optional but we require it: {e}"
                ));
            }
        }
        // And our type really reads the field: a value of another type is refused.
        let wrong = match expected {
            "string" | "expandable" => json!(12),
            _ => json!("not-this-type"),
        };
        let mut value = example.clone();
        set_path(&mut value, field, Some(wrong));
        if read_as(schema, value).is_ok() {
            problems.push(format!("{schema}.{field}: our type ignores the field"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
