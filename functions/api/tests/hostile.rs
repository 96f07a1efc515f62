//! The hostile input battery: property tests that throw malformed, oversized, out-of-range and
//! adversarial HTTP inputs at every command and query route of the router, and at the admin
//! export of events by type (over the in-memory event store, in process, no network) and check
//! the same thing every time: a 4xx answer that is a problem document with a stable `code` (the
//! expected one, where the input decides it), never a 5xx, never a panic, and nothing written
//! to the store.
//!
//! "Nothing written" is counted by a wrapper around the in-memory store that counts every write
//! that took effect (appended events, idempotency records, snapshots), compared before and after
//! each request. Each input is invalid by construction (one poisoned field in an otherwise valid
//! request, or a malformed whole); inputs that are hostile but valid (unicode titles) have their
//! own property: stored verbatim or refused, never mangled.
//!
//! Case counts are bounded (`CASES`, or `PROPTEST_CASES` to override) so that the whole battery
//! runs in seconds in a debug build.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::fmt;

use api::LocalJwt;
use api::testing::{SECRET, TestApp, start_of_test};
use api::throttle::WriteRate;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, SecondsFormat, TimeDelta, Utc};
use events::{Currency, UserId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use uuid::Uuid;

/// The API's body limit (`api::extract::MAX_BODY_BYTES`).
const MAX_BODY: usize = api::extract::MAX_BODY_BYTES;
/// The domain's largest amount (`domain::MAX_AMOUNT_MINOR`).
const MAX_AMOUNT: i64 = 1_000_000_000_000_000;
/// Cases per property: enough to hit every category of every generator many times.
const CASES: u32 = 300;

// ---------------------------------------------------------------------------------- harness

fn now() -> DateTime<Utc> {
    start_of_test()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        shorten(&String::from_utf8_lossy(&self.body), 300)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let head: String = text.chars().take(max_chars).collect();
        format!("{head}... ({} bytes)", text.len())
    }
}

/// The router over a counting in-memory store, with a card and a payout account on file for
/// `seller-ann`, `bidder-bob` and `bidder-cat`, and three auctions by `seller-ann`:
/// - `open`: active, reserve 5 000, fixed increment 100, no buy-now; `bidder-bob` leads at
///   1 000 (so a bid must be at least 1 100);
/// - `fresh`: active, no bids, buy-now at 20 000 (cancellable, buyable);
/// - `scheduled`: starts in a day.
struct Battery {
    runtime: tokio::runtime::Runtime,
    app: TestApp,
    open: Uuid,
    fresh: Uuid,
    scheduled: Uuid,
}

impl Battery {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut battery = Self {
            runtime,
            // Thousands of requests from three users in seconds: a battery about what the
            // requests hold, not how fast they come (the fairness tests are in http.rs).
            app: TestApp::builder()
                .write_rate(WriteRate {
                    per_second: 1e6,
                    burst: 1_000_000,
                })
                .build(),
            open: Uuid::nil(),
            fresh: Uuid::nil(),
            scheduled: Uuid::nil(),
        };
        // Everyone who sells, bids or buys here has a card and a payout account, registered
        // through the routes: a hostile request is refused for what it is, not for that.
        battery.runtime.block_on(battery.app.with_identities(&[
            "seller-ann",
            "bidder-bob",
            "bidder-cat",
        ]));
        battery.open = battery.create(json!({
            "title": "Brass telescope",
            "currency": "EUR",
            "startingPrice": 1_000,
            "reservePrice": 5_000,
            "increment": {"kind": "fixed", "amountMinor": 100},
            "endsAt": rfc3339(now() + TimeDelta::days(1)),
        }));
        let bid = battery.post(
            "bidder-bob",
            &format!("/auctions/{}/bids", battery.open),
            valid_bid_body(1_000),
            Some(b"bob-first-bid"),
        );
        assert_eq!(bid.status, StatusCode::CREATED, "{}", bid.text());
        battery.fresh = battery.create(json!({
            "title": "Walnut writing desk",
            "currency": "EUR",
            "startingPrice": 1_000,
            "buyNowPrice": 20_000,
            "endsAt": rfc3339(now() + TimeDelta::days(1)),
        }));
        battery.scheduled = battery.create(json!({
            "title": "Pocket watch",
            "currency": "EUR",
            "startingPrice": 1_000,
            "buyNowPrice": 20_000,
            "startsAt": rfc3339(now() + TimeDelta::days(1)),
            "endsAt": rfc3339(now() + TimeDelta::days(2)),
        }));
        battery
    }

    fn create(&self, body: Value) -> Uuid {
        let reply = self.post(
            "seller-ann",
            "/auctions",
            body.to_string().into_bytes(),
            None,
        );
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        Uuid::parse_str(reply.json()["auctionId"].as_str().unwrap()).unwrap()
    }

    fn writes(&self) -> usize {
        self.app.store.backend().writes()
    }

    fn token(&self, sub: &str) -> String {
        self.app.token(sub)
    }

    fn bearer(&self, sub: &str) -> Vec<u8> {
        self.app.bearer(sub).into_bytes()
    }

    /// A GET by `auditor-ada` of the `admin` group.
    fn admin_get(&self, uri: &str) -> Reply {
        let token = self.app.token_in("auditor-ada", &["admin"]);
        self.request(
            Method::GET,
            uri,
            &[("authorization", format!("Bearer {token}").into_bytes())],
            Vec::new(),
        )
    }

    fn send(&self, request: Request<Body>) -> Reply {
        let response = self.runtime.block_on(self.app.send(request));
        Reply {
            status: response.status,
            content_type: response.header("content-type").map(str::to_owned),
            body: response.bytes.to_vec(),
        }
    }

    /// A request with exactly these headers (values as raw bytes; a header whose value is not
    /// a legal header value cannot be sent over HTTP at all, so it is not sent here either).
    fn request(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, Vec<u8>)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            let value =
                HeaderValue::from_bytes(value).expect("generators make legal header values");
            request = request.header(*name, value);
        }
        self.send(request.body(Body::from(body)).unwrap())
    }

    fn post(&self, user: &str, path: &str, body: Vec<u8>, key: Option<&[u8]>) -> Reply {
        let mut headers = vec![
            ("authorization", self.bearer(user)),
            ("content-type", b"application/json".to_vec()),
        ];
        if let Some(key) = key {
            headers.push(("idempotency-key", key.to_vec()));
        }
        self.request(Method::POST, path, &headers, body)
    }

    fn get(&self, user: &str, uri: &str) -> Reply {
        self.request(
            Method::GET,
            uri,
            &[("authorization", self.bearer(user))],
            Vec::new(),
        )
    }

    /// The battery's property: a 4xx problem document with a stable code (one of `codes`,
    /// unless empty), and no write since `writes_before`.
    fn refused(
        &self,
        reply: &Reply,
        writes_before: usize,
        codes: &[&str],
    ) -> Result<(), TestCaseError> {
        prop_assert!(
            reply.status.is_client_error(),
            "expected a 4xx, got {}: {}",
            reply.status,
            reply.text()
        );
        problem_document(reply, codes)?;
        prop_assert_eq!(
            self.writes(),
            writes_before,
            "a refused request wrote to the store: {}",
            reply.text()
        );
        Ok(())
    }
}

/// A problem document (RFC 9457) whose code is stable: upper snake case, named in `type`, and
/// one of `codes` unless that is empty.
fn problem_document(reply: &Reply, codes: &[&str]) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        reply.content_type.as_deref(),
        Some("application/problem+json"),
        "not a problem document: {}",
        reply.text()
    );
    let problem = reply.json();
    let code = problem["code"].as_str().unwrap_or_default();
    prop_assert!(
        !code.is_empty()
            && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            && !code.starts_with('_')
            && !code.ends_with('_'),
        "no stable code: {}",
        reply.text()
    );
    let kind = format!("urn:auctions:problem:{}", code.to_ascii_lowercase());
    prop_assert_eq!(problem["type"].as_str(), Some(kind.as_str()));
    prop_assert_eq!(
        problem["status"].as_u64(),
        Some(u64::from(reply.status.as_u16()))
    );
    prop_assert!(problem["title"].is_string() && problem["detail"].is_string());
    prop_assert!(
        codes.is_empty() || codes.contains(&code),
        "expected one of {:?}, got {} {}: {}",
        codes,
        reply.status,
        code,
        reply.text()
    );
    Ok(())
}

fn config() -> Config {
    let defaults = Config::default();
    Config {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            defaults.cases
        } else {
            CASES
        },
        // A failure prints its shrunk input; nothing is written next to the sources.
        failure_persistence: None,
        ..defaults
    }
}

/// Runs `test` over `strategy`, panicking with the shrunk failing input.
fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: fmt::Debug,
{
    let mut runner = TestRunner::new(config());
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{error}");
    }
}

// ------------------------------------------------------------------------------- generators

/// One hostile input and the codes it may be refused with (empty: any stable code).
#[derive(Clone)]
struct Case {
    what: Cow<'static, str>,
    body: Vec<u8>,
    codes: &'static [&'static str],
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} bytes, expecting {:?}): {}",
            self.what,
            self.body.len(),
            self.codes,
            shorten(&String::from_utf8_lossy(&self.body), 400)
        )
    }
}

fn case(
    what: impl Into<Cow<'static, str>>,
    codes: &'static [&'static str],
    body: impl Into<Vec<u8>>,
) -> Case {
    Case {
        what: what.into(),
        body: body.into(),
        codes,
    }
}

const MALFORMED: &[&str] = &["MALFORMED_JSON"];
const INVALID: &[&str] = &["INVALID_REQUEST"];
const UNREADABLE: &[&str] = &["MALFORMED_JSON", "INVALID_REQUEST"];
const NOT_A_NUMBER: &[&str] = UNREADABLE;
const TOO_LARGE: &[&str] = &["BODY_TOO_LARGE"];
const AMOUNT: &[&str] = &["INVALID_AMOUNT"];
const SCHEDULE: &[&str] = &["INVALID_SCHEDULE"];
const SCHEDULE_OR_INVALID: &[&str] = &["INVALID_SCHEDULE", "INVALID_REQUEST"];

/// Characters that break naive text handling: NUL and other controls, bidi overrides and
/// isolates, BOM, non-characters, combining marks, line separators, astral planes, quotes.
fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        1 => prop::sample::select(vec![
            '\0', '\u{1}', '\u{8}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', '\u{202e}', '\u{202d}',
            '\u{200f}', '\u{200e}', '\u{2066}', '\u{2069}', '\u{feff}', '\u{fffe}', '\u{ffff}',
            '\u{10ffff}', '\u{301}', '\u{200b}', '\u{2028}', '\u{2029}', '"', '\\', '/', '<',
            '%', '&', '\u{1f4a9}', '\u{e9}', '\u{5d0}', '\u{627}', '\u{fdd0}', '\u{e0001}',
        ]),
    ]
}

fn nasty_string(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(nasty_char(), min..=max).prop_map(|chars| chars.into_iter().collect())
}

/// `min` to `max` characters none of which is whitespace, so trimming cannot shorten them.
fn solid_string(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        nasty_char().prop_filter("not whitespace", |c| !c.is_whitespace()),
        min..=max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// A JSON string literal (control characters escaped as `\u00XX`).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// JSON strings holding an unpaired UTF-16 surrogate: not text, whatever a parser makes of it.
fn lone_surrogate() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#""\ud800""#,
        r#""\udfff""#,
        r#""EUR\ud83d""#,
        r#""\ude00EUR""#,
        r#""\ud800\ud800""#,
        r#""\ud800\u0041""#,
        r#""\udbff\udbff\udc00x""#,
    ])
    .prop_map(str::to_owned)
}

/// Integers that are no amount: zero, negative, above the domain's largest, at the i64 bounds.
fn out_of_range_integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        i64::MIN..=0,
        MAX_AMOUNT + 1..=i64::MAX,
        prop::sample::select(vec![
            0,
            -1,
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            i64::MAX - 1,
            MAX_AMOUNT + 1,
            -MAX_AMOUNT,
        ]),
    ]
}

/// JSON numbers an i64 field cannot hold: beyond the i64 bounds, fractions, exponents.
fn unrepresentable_number() -> impl Strategy<Value = String> {
    prop_oneof![
        (i64::MAX as u64 + 1..=u64::MAX).prop_map(|n| n.to_string()),
        "[1-9][0-9]{19,60}",
        "-[1-9][0-9]{19,60}",
        // Debug always writes a fraction or an exponent: never an integer literal.
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        prop::sample::select(vec![
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "1e3",
            "1E3",
            "1e+3",
            "5000.0",
            "5000.5",
            "2.5e3",
            "1e-7",
            "-0.0",
            "0.0",
            "1e19",
            "9.223372036854775807e18",
            "1e308",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Text that is no JSON number at all. Refused as MALFORMED_JSON, except where the parser meets
/// a wrong type first: in `1.2.3` it reads the float `1.2`, which no integer field takes, and
/// stops there with INVALID_REQUEST (both are 4xx problem documents; see `NOT_A_NUMBER`).
fn not_a_number() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0x10",
        "+5000",
        "05000",
        ".5",
        "5.",
        "1_000",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        "5000 5000",
        "--5",
        "5e",
        "e5",
        "1.2.3",
        "\u{ff15}000",
    ])
    .prop_map(str::to_owned)
}

/// JSON values of the wrong type for a number field (`null` only where the field is required).
fn not_an_integer_type(nullable: bool) -> impl Strategy<Value = String> {
    let mut values = vec![
        r#""5000""#,
        r#""""#,
        "true",
        "false",
        "[]",
        "[5000]",
        "{}",
        r#"{"amountMinor":5000}"#,
    ];
    if !nullable {
        values.push("null");
    }
    prop::sample::select(values).prop_map(str::to_owned)
}

/// JSON values of the wrong type for a string field (`null` only where it is required).
fn not_a_string_type(nullable: bool) -> impl Strategy<Value = String> {
    let mut values = vec![
        "1",
        "-1",
        "0.5",
        "true",
        "[]",
        r#"["x"]"#,
        "{}",
        r#"{"text":"x"}"#,
    ];
    if !nullable {
        values.push("null");
    }
    prop::sample::select(values).prop_map(str::to_owned)
}

/// Nested arrays (or objects, where an object with unknown keys is no valid request), closed or
/// not, to depths around and far beyond any parser's recursion limit; at most `max_bytes` long.
fn deep_nesting(max_bytes: usize, objects: bool) -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![127usize, 128, 129, 200, 1_000, 10_000, 30_000]),
        0..3u8,
    )
        .prop_filter_map("fits", move |(depth, shape)| {
            let text = match shape {
                1 if objects => format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth)),
                0 | 1 => format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
                _ => "[".repeat(depth),
            };
            (text.len() <= max_bytes).then_some(text)
        })
}

/// Every strict prefix of `body` (a prefix of a JSON object is never a JSON document).
fn truncations(body: String) -> impl Strategy<Value = String> {
    let len = body.len();
    (0..len).prop_map(move |cut| {
        let mut cut = cut;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body[..cut].to_owned()
    })
}

/// `body` (a JSON object) with an unknown string field that takes it to `size` bytes.
fn padded(body: &str, size: usize) -> Vec<u8> {
    let open = &body[..body.len() - 1];
    let frame = format!(r#"{open},"padding":""}}"#);
    let fill = size.saturating_sub(frame.len());
    format!(r#"{open},"padding":"{}"}}"#, "x".repeat(fill)).into_bytes()
}

/// Sizes just over the body limit and far beyond it.
fn oversize() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(MAX_BODY + 1),
        MAX_BODY + 1..=MAX_BODY + 64,
        MAX_BODY + 1..=4 * MAX_BODY,
        Just(1 << 20),
    ]
}

/// Arbitrary bytes that are not a JSON document.
fn garbage_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..512).prop_filter("not JSON, not blank", |bytes| {
        !bytes.iter().all(u8::is_ascii_whitespace)
            && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err()
    })
}

/// Whole documents that are JSON but not an object of the request.
fn wrong_top_level() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "[]",
        "[1]",
        "[true, false]",
        r#""{}""#,
        "0",
        "-1",
        "1e3",
        "null",
        "true",
        r#""""#,
    ])
    .prop_map(str::to_owned)
}

/// `what` (an amount field) zero, negative or above the largest amount, placed in an otherwise
/// valid request by `body`: refused as INVALID_AMOUNT.
fn out_of_range_amount(
    what: &'static str,
    body: impl Fn(String) -> String,
) -> impl Strategy<Value = Case> {
    out_of_range_integer()
        .prop_map(move |n| case(format!("{what} out of range"), AMOUNT, body(n.to_string())))
}

/// `what` (an amount field) a number no i64 holds: INVALID_REQUEST.
fn unrepresentable_amount(
    what: &'static str,
    body: impl Fn(String) -> String,
) -> impl Strategy<Value = Case> {
    unrepresentable_number().prop_map(move |n| case(format!("{what} not an i64"), INVALID, body(n)))
}

/// `what` (an amount field) text that is no JSON number.
fn amount_not_a_number(
    what: &'static str,
    body: impl Fn(String) -> String,
) -> impl Strategy<Value = Case> {
    not_a_number().prop_map(move |n| case(format!("{what} not a number"), NOT_A_NUMBER, body(n)))
}

/// `what` (an amount field) a JSON value of another type (`null` only if it is required).
fn amount_of_the_wrong_type(
    what: &'static str,
    nullable: bool,
    body: impl Fn(String) -> String,
) -> impl Strategy<Value = Case> {
    not_an_integer_type(nullable)
        .prop_map(move |v| case(format!("{what} of the wrong type"), INVALID, body(v)))
}

/// An object from raw `key: value` JSON texts, in order (keys may repeat).
fn object(fields: &[(&str, String)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{}:{value}", quoted(key)))
        .collect();
    format!("{{{}}}", members.join(","))
}

fn valid_bid_body(amount: i64) -> Vec<u8> {
    object(&[("amount", amount.to_string()), ("currency", quoted("EUR"))]).into_bytes()
}

/// A bid body that `bidder-cat` could not place on `open` (minimum 1 100 EUR).
fn hostile_bid_body() -> impl Strategy<Value = Case> {
    let eur = || quoted("EUR");
    let with_amount = move |amount: String| object(&[("amount", amount), ("currency", eur())]);
    let with_max = move |max: String| {
        object(&[
            ("amount", "5000".to_owned()),
            ("maxAmount", max),
            ("currency", eur()),
        ])
    };
    let with_currency =
        move |currency: String| object(&[("amount", "5000".to_owned()), ("currency", currency)]);
    let full = r#"{"amount":5000,"maxAmount":9000,"currency":"EUR"}"#.to_owned();
    prop_oneof![
        out_of_range_amount("amount", with_amount),
        (1..1_100i64).prop_map(move |n| case(
            "amount below the minimum bid",
            &["BID_TOO_LOW"],
            with_amount(n.to_string())
        )),
        unrepresentable_amount("amount", with_amount),
        amount_not_a_number("amount", with_amount),
        amount_of_the_wrong_type("amount", false, with_amount),
        deep_nesting(MAX_BODY - 64, true).prop_map(move |v| case(
            "amount nested deeply",
            UNREADABLE,
            with_amount(v)
        )),
        out_of_range_amount("maximum", with_max),
        (1..5_000i64).prop_map(move |n| case(
            "maximum below the amount",
            &["MAX_BELOW_AMOUNT"],
            with_max(n.to_string())
        )),
        unrepresentable_amount("maximum", with_max),
        amount_of_the_wrong_type("maximum", true, with_max),
        prop::sample::select(vec!["USD", "JPY", "GBP", "CHF", "SEK"]).prop_map(move |c| case(
            "another currency",
            &["CURRENCY_MISMATCH"],
            with_currency(quoted(c))
        )),
        nasty_string(0, 12)
            .prop_filter("not a currency", |s| Currency::try_from(s.as_str())
                .is_err())
            .prop_map(move |s| case("no currency code", INVALID, with_currency(quoted(&s)))),
        prop::sample::select(vec![
            "eur",
            "Eur",
            "EUR ",
            " EUR",
            "EURO",
            "E",
            "",
            "EUR\u{0}",
            "\u{ff25}UR"
        ])
        .prop_map(move |s| case(
            "a near-miss currency",
            INVALID,
            with_currency(quoted(s))
        )),
        lone_surrogate().prop_map(move |s| case(
            "currency with a lone surrogate",
            MALFORMED,
            with_currency(s)
        )),
        not_a_string_type(false).prop_map(move |v| case(
            "currency of the wrong type",
            INVALID,
            with_currency(v)
        )),
        prop::sample::select(vec![
            r#"{"currency":"EUR"}"#,
            r#"{"amount":5000}"#,
            r#"{}"#,
            r#"{"Amount":5000,"currency":"EUR"}"#,
            r#"{"amount\u0000":5000,"currency":"EUR"}"#,
            r#"{"amount ":5000,"currency":"EUR"}"#,
            r#"{"maxAmount":9000,"currency":"EUR"}"#,
        ])
        .prop_map(|b| case("a required field missing", INVALID, b)),
        (
            prop::sample::select(vec!["amount", "currency", "maxAmount"]),
            any::<bool>()
        )
            .prop_map(|(field, first)| {
                let mut fields = vec![
                    ("amount", "5000".to_owned()),
                    ("maxAmount", "9000".to_owned()),
                    ("currency", quoted("EUR")),
                ];
                let again = match field {
                    "amount" => "6000".to_owned(),
                    "maxAmount" => "9500".to_owned(),
                    _ => quoted("EUR"),
                };
                if first {
                    fields.insert(0, (field, again));
                } else {
                    fields.push((field, again));
                }
                case("a duplicate key", INVALID, object(&fields))
            }),
        truncations(full.clone()).prop_map(|b| case("truncated JSON", MALFORMED, b)),
        deep_nesting(usize::MAX, true).prop_map(|b| {
            if b.len() > MAX_BODY {
                case("deep nesting beyond the size limit", TOO_LARGE, b)
            } else {
                case("deep nesting", UNREADABLE, b)
            }
        }),
        oversize().prop_map(move |size| case(
            "a valid bid padded past the limit",
            TOO_LARGE,
            padded(&full, size)
        )),
        oversize().prop_map(|size| case(
            "whitespace past the limit",
            TOO_LARGE,
            format!(
                "{}{}",
                " ".repeat(size),
                r#"{"amount":5000,"currency":"EUR"}"#
            )
        )),
        Just(case(
            "a body of exactly the limit with a zero amount",
            AMOUNT,
            padded(r#"{"amount":0,"currency":"EUR"}"#, MAX_BODY)
        )),
        garbage_bytes().prop_map(|b| case("arbitrary bytes", UNREADABLE, b)),
        wrong_top_level().prop_map(|b| case("JSON that is not an object", INVALID, b)),
    ]
}

/// A valid creation body as raw fields: starts now, ends in a day, reserve 5 000, buy-now
/// 20 000.
fn creation_fields() -> Vec<(&'static str, String)> {
    vec![
        ("title", quoted("Brass telescope")),
        ("description", quoted("Victorian, working")),
        ("currency", quoted("EUR")),
        ("startingPrice", "1000".to_owned()),
        ("reservePrice", "5000".to_owned()),
        ("buyNowPrice", "20000".to_owned()),
        (
            "increment",
            r#"{"kind":"fixed","amountMinor":100}"#.to_owned(),
        ),
        ("endsAt", quoted(&rfc3339(now() + TimeDelta::days(1)))),
        (
            "softClose",
            r#"{"windowSeconds":120,"extensionSeconds":120}"#.to_owned(),
        ),
    ]
}

fn creation_with(field: &'static str, value: String) -> String {
    let mut fields = creation_fields();
    match fields.iter_mut().find(|(name, _)| *name == field) {
        Some(slot) => slot.1 = value,
        None => fields.push((field, value)),
    }
    object(&fields)
}

fn creation_without(field: &str) -> String {
    let fields: Vec<_> = creation_fields()
        .into_iter()
        .filter(|(name, _)| *name != field)
        .collect();
    object(&fields)
}

/// Seconds from `now()` as an RFC 3339 text, or a literal beyond chrono's range, with the codes
/// a creation with it may get when the time itself is unacceptable: INVALID_SCHEDULE, or
/// INVALID_REQUEST too where the year needs more than four digits (RFC 3339 has no such years).
fn instant(offset_seconds: i64) -> (String, &'static [&'static str]) {
    match TimeDelta::try_seconds(offset_seconds).and_then(|delta| now().checked_add_signed(delta)) {
        Some(at) if (0..=9999).contains(&at.year()) => (rfc3339(at), SCHEDULE),
        Some(at) => (rfc3339(at), SCHEDULE_OR_INVALID),
        None => (
            format!(
                "+{}-01-01T00:00:00Z",
                300_000 + offset_seconds.unsigned_abs() % 1_000_000
            ),
            SCHEDULE_OR_INVALID,
        ),
    }
}

fn date_case(what: &'static str, field: &'static str, offset_seconds: i64) -> Case {
    let (text, codes) = instant(offset_seconds);
    case(what, codes, creation_with(field, quoted(&text)))
}

/// Times no auction may end at (it starts now): not after the start, less than 5 s after it,
/// more than 30 days after it.
fn bad_end_offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        -9_000_000_000_000i64..=4,
        30 * 86_400 + 1..=9_000_000_000_000i64,
        prop::sample::select(vec![
            0,
            1,
            4,
            -1,
            30 * 86_400 + 1,
            i64::MIN / 2,
            i64::MAX / 2
        ]),
    ]
}

/// Times no auction may start at: more than 5 minutes ago, more than 90 days ahead.
fn bad_start_offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        -9_000_000_000_000i64..=-301,
        90 * 86_400 + 1..=9_000_000_000_000i64,
        prop::sample::select(vec![-301, 90 * 86_400 + 1]),
    ]
}

/// Far-past and far-future instants at the edges of every calendar library.
fn extreme_date() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999999999Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59.999999999+14:00",
        "+275760-09-13T00:00:00Z",
        "-271821-04-20T00:00:00Z",
        "+262143-12-31T23:59:59Z",
        "-262144-01-01T00:00:00Z",
        "2038-01-19T03:14:08Z",
        "2106-02-07T06:28:16Z",
    ])
    .prop_map(str::to_owned)
}

/// Text that is no RFC 3339 instant (around a date in the past, so that a lenient parser
/// that read one anyway still could not schedule an auction with it).
fn malformed_rfc3339() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "2026-05-01",
            "2026-05-01T12:00:00",
            "2026-13-01T12:00:00Z",
            "2026-02-30T12:00:00Z",
            "2026-05-01T25:00:00Z",
            "2026-05-01T12:61:00Z",
            "2026-05-01T12:00:00+24:00",
            "2026-05-01T12:00:00ZZ",
            "2026-05-01T12:00:00.Z",
            "20260501T120000Z",
            "2026-W18-5T12:00:00Z",
            "1777636800",
            "yesterday",
            "",
            "2026-05-01T12:00:00\u{0}Z",
            "\u{662}\u{660}\u{662}\u{666}-05-01T12:00:00Z",
            "2026-05-01T12:00:00 Z",
        ])
        .prop_map(str::to_owned),
        nasty_string(0, 40),
    ]
}

/// A creation body `seller-ann` could not create an auction with.
fn hostile_creation_body() -> impl Strategy<Value = Case> {
    let title = |v: String| creation_with("title", v);
    let amount = |field: &'static str| move |v: String| creation_with(field, v);
    prop_oneof![
        // Text fields.
        prop::sample::select(vec![
            "",
            " ",
            "\t\n",
            "\u{3000}\u{2003}\u{a0}",
            "\u{85}\u{2028} \u{205f}"
        ])
        .prop_map(move |t| case("a blank title", &["INVALID_TITLE"], title(quoted(t)))),
        solid_string(201, 600).prop_map(move |t| case(
            "a title over 200 characters",
            &["INVALID_TITLE"],
            title(quoted(&t))
        )),
        lone_surrogate().prop_map(move |t| case(
            "a title with a lone surrogate",
            MALFORMED,
            title(t)
        )),
        not_a_string_type(false).prop_map(move |v| case(
            "a title of the wrong type",
            INVALID,
            title(v)
        )),
        solid_string(5_001, 5_200).prop_map(|d| case(
            "a description over 5000 characters",
            &["INVALID_DESCRIPTION"],
            creation_with("description", quoted(&d))
        )),
        not_a_string_type(true).prop_map(|v| case(
            "a description of the wrong type",
            INVALID,
            creation_with("description", v)
        )),
        nasty_string(0, 12)
            .prop_filter("not a currency", |s| Currency::try_from(s.as_str())
                .is_err())
            .prop_map(|c| case(
                "no currency code",
                INVALID,
                creation_with("currency", quoted(&c))
            )),
        lone_surrogate().prop_map(|c| case(
            "a currency with a lone surrogate",
            MALFORMED,
            creation_with("currency", c)
        )),
        // Money.
        out_of_range_amount("a starting price", amount("startingPrice")),
        unrepresentable_amount("a starting price", amount("startingPrice")),
        amount_not_a_number("a starting price", amount("startingPrice")),
        amount_of_the_wrong_type("a starting price", false, amount("startingPrice")),
        out_of_range_amount("a reserve", amount("reservePrice")),
        (1..1_000i64).prop_map(move |n| case(
            "a reserve below the start",
            &["INVALID_RESERVE_PRICE"],
            amount("reservePrice")(n.to_string())
        )),
        (20_001..=MAX_AMOUNT).prop_map(move |n| case(
            "a reserve above buy-now",
            &["INVALID_BUY_NOW_PRICE"],
            amount("reservePrice")(n.to_string())
        )),
        unrepresentable_amount("a reserve", amount("reservePrice")),
        amount_of_the_wrong_type("a reserve", true, amount("reservePrice")),
        out_of_range_amount("a buy-now price", amount("buyNowPrice")),
        (1..5_000i64).prop_map(move |n| case(
            "a buy-now price too low",
            &["INVALID_BUY_NOW_PRICE"],
            amount("buyNowPrice")(n.to_string())
        )),
        unrepresentable_amount("a buy-now price", amount("buyNowPrice")),
        // Increment and soft close.
        out_of_range_integer().prop_map(|n| case(
            "a fixed increment out of range",
            &["INVALID_INCREMENT"],
            creation_with(
                "increment",
                format!(r#"{{"kind":"fixed","amountMinor":{n}}}"#)
            )
        )),
        hostile_bands().prop_map(|bands| case(
            "unusable increment bands",
            &["INVALID_INCREMENT"],
            creation_with(
                "increment",
                format!(r#"{{"kind":"tiered","bands":{bands}}}"#)
            )
        )),
        prop::sample::select(vec![
            r#"{"kind":"percent","amountMinor":100}"#,
            r#"{"kind":"Fixed","amountMinor":100}"#,
            r#"{"kind":"","amountMinor":100}"#,
            r#"{"amountMinor":100}"#,
            r#"{"kind":"fixed"}"#,
            r#"{"kind":"tiered"}"#,
            r#"{"kind":"tiered","bands":{}}"#,
            r#"{"kind":"fixed","amountMinor":1.5}"#,
            r#"{"kind":null,"amountMinor":100}"#,
            r#""fixed""#,
            "[]",
            "100",
        ])
        .prop_map(|v| case(
            "an unreadable increment",
            INVALID,
            creation_with("increment", v.to_owned())
        )),
        (3_601..=u32::MAX, 0..=3_600u32, any::<bool>()).prop_map(|(over, ok, window_over)| {
            let (window, extension) = if window_over {
                (over, ok.max(1))
            } else {
                (ok, over)
            };
            case(
                "a soft close over an hour",
                &["INVALID_SOFT_CLOSE"],
                creation_with(
                    "softClose",
                    format!(r#"{{"windowSeconds":{window},"extensionSeconds":{extension}}}"#),
                ),
            )
        }),
        (1..=3_600u32).prop_map(|window| case(
            "a soft-close window without extension",
            &["INVALID_SOFT_CLOSE"],
            creation_with(
                "softClose",
                format!(r#"{{"windowSeconds":{window},"extensionSeconds":0}}"#)
            )
        )),
        prop_oneof![
            (i64::MIN..0).prop_map(|n| n.to_string()),
            (u64::from(u32::MAX) + 1..=u64::MAX).prop_map(|n| n.to_string()),
            unrepresentable_number(),
        ]
        .prop_map(|n| case(
            "soft-close seconds no u32 holds",
            INVALID,
            creation_with(
                "softClose",
                format!(r#"{{"windowSeconds":{n},"extensionSeconds":120}}"#)
            )
        )),
        // Dates.
        bad_end_offset().prop_map(|s| date_case("an end outside 5 s to 30 days", "endsAt", s)),
        bad_start_offset().prop_map(|s| date_case(
            "a start in the past or too far ahead",
            "startsAt",
            s
        )),
        extreme_date().prop_map(|d| case(
            "an extreme end",
            SCHEDULE_OR_INVALID,
            creation_with("endsAt", quoted(&d))
        )),
        extreme_date().prop_map(|d| case(
            "an extreme start",
            SCHEDULE_OR_INVALID,
            creation_with("startsAt", quoted(&d))
        )),
        malformed_rfc3339().prop_map(|d| case(
            "a malformed end",
            SCHEDULE_OR_INVALID,
            creation_with("endsAt", quoted(&d))
        )),
        malformed_rfc3339().prop_map(|d| case(
            "a malformed start",
            SCHEDULE_OR_INVALID,
            creation_with("startsAt", quoted(&d))
        )),
        prop::sample::select(vec![
            "1780315200",
            "1780315200000",
            "true",
            "[]",
            r#"{"at":"2026-06-02T12:00:00Z"}"#,
            "null"
        ])
        .prop_map(|v| case(
            "an end of the wrong type",
            INVALID,
            creation_with("endsAt", v.to_owned())
        )),
        // Shape.
        prop::sample::select(vec!["title", "currency", "startingPrice", "endsAt"])
            .prop_map(|f| case("a required field missing", INVALID, creation_without(f))),
        (0..9usize, any::<bool>()).prop_map(|(index, first)| {
            let mut fields = creation_fields();
            let duplicate = fields[index].clone();
            if first {
                fields.insert(0, duplicate);
            } else {
                fields.push(duplicate);
            }
            case("a duplicate key", INVALID, object(&fields))
        }),
        truncations(object(&creation_fields())).prop_map(|b| case("truncated JSON", MALFORMED, b)),
        deep_nesting(MAX_BODY - 1_000, true).prop_map(move |v| case(
            "a title nested deeply",
            UNREADABLE,
            title(v)
        )),
        deep_nesting(usize::MAX, true).prop_map(|b| {
            if b.len() > MAX_BODY {
                case("deep nesting beyond the size limit", TOO_LARGE, b)
            } else {
                case("deep nesting", UNREADABLE, b)
            }
        }),
        oversize().prop_map(|size| case(
            "a valid creation padded past the limit",
            TOO_LARGE,
            padded(&object(&creation_fields()), size)
        )),
        (MAX_BODY..=2 * MAX_BODY).prop_map(|size| case(
            "a description past the body limit",
            TOO_LARGE,
            creation_with("description", quoted(&"d".repeat(size)))
        )),
        garbage_bytes().prop_map(|b| case("arbitrary bytes", UNREADABLE, b)),
        wrong_top_level().prop_map(|b| case("JSON that is not an object", INVALID, b)),
    ]
}

/// Tiered increments the domain refuses, as a JSON array.
fn hostile_bands() -> impl Strategy<Value = String> {
    let band = |from: i64, increment: i64| {
        format!(r#"{{"fromMinor":{from},"incrementMinor":{increment}}}"#)
    };
    let list = |bands: Vec<String>| format!("[{}]", bands.join(","));
    prop_oneof![
        Just("[]".to_owned()),
        (21..60usize).prop_map(move |n| list((0..n).map(|i| band(i as i64 * 100, 10)).collect())),
        (1..=MAX_AMOUNT).prop_map(move |from| list(vec![band(from, 10)])),
        (i64::MIN..0).prop_map(move |from| list(vec![band(from, 10), band(100, 10)])),
        (0..=MAX_AMOUNT).prop_map(move |from| list(vec![
            band(0, 10),
            band(from, 10),
            band(from, 20)
        ])),
        out_of_range_integer().prop_map(move |inc| list(vec![band(0, 10), band(100, inc)])),
        (MAX_AMOUNT + 1..=i64::MAX).prop_map(move |from| list(vec![band(0, 10), band(from, 10)])),
    ]
}

/// A cancellation body `seller-ann` could not cancel `fresh` with.
fn hostile_cancel_body() -> impl Strategy<Value = Case> {
    let reason = |v: String| object(&[("reason", v)]);
    prop_oneof![
        solid_string(501, 1_500).prop_map(move |r| case(
            "a reason over 500 characters",
            &["INVALID_REASON"],
            reason(quoted(&r))
        )),
        nasty_string(501, 1_500).prop_map(move |r| case(
            "a reason over 500 characters",
            &["INVALID_REASON"],
            reason(quoted(&r))
        )),
        not_a_string_type(true).prop_map(move |v| case(
            "a reason of the wrong type",
            INVALID,
            reason(v)
        )),
        lone_surrogate().prop_map(move |v| case(
            "a reason with a lone surrogate",
            MALFORMED,
            reason(v)
        )),
        Just(case(
            "a duplicate key",
            INVALID,
            r#"{"reason":"moving house","reason":"moving house"}"#
        )),
        truncations(r#"{"reason":"moving house"}"#.to_owned())
            .prop_filter("not blank", |b| !b.trim().is_empty())
            .prop_map(|b| case("truncated JSON", MALFORMED, b)),
        deep_nesting(usize::MAX, false).prop_map(|b| {
            if b.len() > MAX_BODY {
                case("deep nesting beyond the size limit", TOO_LARGE, b)
            } else {
                case("deep nesting", UNREADABLE, b)
            }
        }),
        oversize().prop_map(|size| case(
            "a reason past the body limit",
            TOO_LARGE,
            padded(r#"{"reason":"x"}"#, size)
        )),
        garbage_bytes().prop_map(|b| case("arbitrary bytes", UNREADABLE, b)),
        prop::sample::select(vec![
            "[]",
            "[1]",
            r#"[["x"]]"#,
            r#""{}""#,
            "0",
            "null",
            "true",
            r#""""#
        ])
        .prop_map(|b| case("JSON that is not an object", INVALID, b)),
    ]
}

// ----------------------------------------------------------------------------- body battery

#[test]
fn hostile_bid_bodies_get_a_4xx_and_write_nothing() {
    let battery = Battery::new();
    let path = format!("/auctions/{}/bids", battery.open);
    check((hostile_bid_body(), "[!-~]{1,128}"), |(case, key)| {
        let before = battery.writes();
        let reply = battery.post("bidder-cat", &path, case.body, Some(key.as_bytes()));
        battery.refused(&reply, before, case.codes)
    });
}

#[test]
fn hostile_auction_bodies_get_a_4xx_and_write_nothing() {
    let battery = Battery::new();
    check(
        (hostile_creation_body(), prop::option::of("[!-~]{1,128}")),
        |(case, key)| {
            let before = battery.writes();
            let reply = battery.post(
                "seller-ann",
                "/auctions",
                case.body,
                key.as_ref().map(String::as_bytes),
            );
            battery.refused(&reply, before, case.codes)
        },
    );
}

#[test]
fn hostile_cancel_bodies_get_a_4xx_and_write_nothing() {
    let battery = Battery::new();
    let path = format!("/auctions/{}/cancel", battery.fresh);
    check(hostile_cancel_body(), |case| {
        let before = battery.writes();
        let reply = battery.post("seller-ann", &path, case.body, None);
        battery.refused(&reply, before, case.codes)
    });
}

/// Buy-now and start take no body: whatever comes is not read, and the command is refused for
/// what it is (the seller buying, starting too early, a stranger starting).
#[test]
fn bodies_sent_to_routes_without_one_change_nothing_for_refused_commands() {
    let battery = Battery::new();
    let routes = vec![
        (
            "seller-ann",
            format!("/auctions/{}/buy-now", battery.fresh),
            "SELLER_CANNOT_BID",
        ),
        (
            "bidder-bob",
            format!("/auctions/{}/buy-now", battery.open),
            "BUY_NOW_NOT_OFFERED",
        ),
        (
            "bidder-bob",
            format!("/auctions/{}/buy-now", battery.scheduled),
            "AUCTION_NOT_ACTIVE",
        ),
        (
            "bidder-bob",
            format!("/auctions/{}/start", battery.scheduled),
            "NOT_SELLER",
        ),
        (
            "seller-ann",
            format!("/auctions/{}/start", battery.scheduled),
            "TOO_EARLY_TO_START",
        ),
    ];
    let body = prop_oneof![
        hostile_bid_body().prop_map(|case| case.body),
        garbage_bytes(),
        oversize().prop_map(|size| vec![b'['; size]),
    ];
    check(
        (prop::sample::select(routes), body, "[!-~]{1,128}"),
        |((user, path, code), body, key)| {
            let before = battery.writes();
            let reply = battery.post(user, &path, body, Some(key.as_bytes()));
            battery.refused(&reply, before, &[code])
        },
    );
}

// ------------------------------------------------------------- valid requests, refused anyway

#[test]
fn valid_commands_the_domain_refuses_write_nothing() {
    let battery = Battery::new();
    let b = &battery;
    let bid = valid_bid_body;
    let commands = (
        0..8usize,
        1_100..=MAX_AMOUNT,
        "[!-~]{1,128}",
        nasty_string(0, 500).prop_map(|r| object(&[("reason", quoted(&r))]).into_bytes()),
    );
    check(commands, |(which, amount, key, reason)| {
        let (user, path, body, code): (&str, String, Vec<u8>, &str) = match which {
            0 => (
                "seller-ann",
                format!("/auctions/{}/bids", b.open),
                bid(amount),
                "SELLER_CANNOT_BID",
            ),
            1 => (
                "bidder-cat",
                format!("/auctions/{}/bids", b.scheduled),
                bid(amount),
                "AUCTION_NOT_ACTIVE",
            ),
            2 => (
                "bidder-cat",
                format!("/auctions/{}/bids", Uuid::new_v4()),
                bid(amount),
                "AUCTION_NOT_FOUND",
            ),
            3 => (
                "bidder-bob",
                format!("/auctions/{}/bids", b.open),
                object(&[("amount", "1000".to_owned()), ("currency", quoted("EUR"))]).into_bytes(),
                "MAX_NOT_RAISED",
            ),
            4 => (
                "bidder-bob",
                format!("/auctions/{}/cancel", b.fresh),
                reason,
                "NOT_SELLER",
            ),
            5 => (
                "seller-ann",
                format!("/auctions/{}/cancel", b.open),
                reason,
                "AUCTION_HAS_BIDS",
            ),
            6 => (
                "bidder-cat",
                format!("/auctions/{}/cancel", Uuid::new_v4()),
                reason,
                "AUCTION_NOT_FOUND",
            ),
            _ => (
                "bidder-cat",
                format!("/auctions/{}/start", b.open),
                Vec::new(),
                "NOT_SELLER",
            ),
        };
        let before = b.writes();
        let reply = b.post(user, &path, body, Some(key.as_bytes()));
        b.refused(&reply, before, &[code])
    });
}

// ------------------------------------------------------------------------------ header battery

/// Idempotency keys outside 1 to 128 visible ASCII characters, as legal header values.
fn bad_idempotency_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        "[!-~]{129,400}".prop_map(String::into_bytes),
        (
            "[!-~]{0,60}",
            prop::sample::select(vec![" ", "\t", "  "]),
            "[!-~]{0,60}"
        )
            .prop_map(|(a, space, b)| format!("{a}{space}{b}").into_bytes()),
        (
            prop::collection::vec(prop_oneof![0x21..=0x7eu8, 0x80..=0xffu8], 0..60),
            prop::collection::vec(0x80..=0xffu8, 1..8),
        )
            .prop_map(|(mut bytes, high)| {
                bytes.extend(high);
                bytes
            }),
        nasty_string(1, 40)
            .prop_filter("not visible ASCII", |s| !s
                .bytes()
                .all(|b| b.is_ascii_graphic()))
            .prop_map(|s| s.into_bytes())
            .prop_filter("a legal header value", |b| HeaderValue::from_bytes(b)
                .is_ok()),
    ]
}

/// Content types that do not declare JSON (`application/json` or `application/*+json`).
fn not_json_content_type() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application/json5",
            "application/x-json",
            "application/json+xml",
            "application/xml",
            "application/ json",
            "application",
            "json",
            "*/*",
            "",
            ";application/json",
            "application/octet-stream",
            "APPLICATION/JSONP",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        "[ -~]{0,80}"
            .prop_filter("no json in it", |s| !s
                .to_ascii_lowercase()
                .contains("json"))
            .prop_map(String::into_bytes),
        // Not UTF-8: cannot be read as text, so cannot declare JSON.
        Just(b"application/json\xff".to_vec()),
        Just(b"\xe9application/json".to_vec()),
    ]
}

/// `Authorization` values that identify nobody.
fn bad_authorization(battery: &Battery) -> impl Strategy<Value = Vec<u8>> + use<> {
    let valid = battery.token("bidder-cat");
    let other_key = LocalJwt::new(b"another-secret")
        .mint(
            &UserId::try_from("bidder-cat").unwrap(),
            &[],
            Utc::now(),
            TimeDelta::hours(1),
        )
        .unwrap();
    let expired = battery
        .app
        .jwt
        .mint(
            &UserId::try_from("bidder-cat").unwrap(),
            &[],
            Utc::now() - TimeDelta::hours(3),
            TimeDelta::hours(1),
        )
        .unwrap();
    let crafted = crafted_tokens();
    let tampered = {
        let valid = valid.clone();
        (0..valid.len(), 0..64usize).prop_filter_map("a changed signed part", move |(at, with)| {
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let signed_len = valid.rfind('.')?;
            let mut bytes = valid.clone().into_bytes();
            (at < signed_len && bytes[at] != b'.' && bytes[at] != ALPHABET[with]).then(|| {
                bytes[at] = ALPHABET[with];
                [b"Bearer ".as_slice(), &bytes].concat()
            })
        })
    };
    let truncated = {
        let valid = valid.clone();
        (0..valid.len()).prop_map(move |cut| format!("Bearer {}", &valid[..cut]).into_bytes())
    };
    prop_oneof![
        prop::sample::select(vec![
            "".to_owned(),
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            "Bearer  ".to_owned(),
            format!("Basic {}", URL_SAFE_NO_PAD.encode("bidder-cat:secret")),
            format!("Token {valid}"),
            format!("Bearer{valid}"),
            format!("Bearer {other_key}"),
            format!("Bearer {expired}"),
            format!("Bearer {valid}.{valid}"),
            format!("Bearer {valid}x"),
            "Bearer null".to_owned(),
            "Bearer ...".to_owned(),
        ])
        .prop_map(String::into_bytes),
        crafted.prop_map(|token| format!("Bearer {token}").into_bytes()),
        tampered,
        truncated,
        "Bearer [!-~]{1,300}".prop_map(String::into_bytes),
    ]
}

/// Tokens signed with the right key (or none) that still must not pass: `alg: none`, another
/// algorithm, no expiry, a subject that is no user id, claims of the wrong types.
fn crafted_tokens() -> impl Strategy<Value = String> {
    let segment = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let exp = (Utc::now() + TimeDelta::hours(1)).timestamp();
    let sign = move |header: Value, claims: Value| {
        let algorithm = match header["alg"].as_str() {
            Some("HS384") => jsonwebtoken::Algorithm::HS384,
            Some("HS512") => jsonwebtoken::Algorithm::HS512,
            _ => jsonwebtoken::Algorithm::HS256,
        };
        let mut jwt_header = jsonwebtoken::Header::new(algorithm);
        jwt_header.typ = header["typ"].as_str().map(str::to_owned);
        jsonwebtoken::encode(
            &jwt_header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    };
    let bad_subjects = prop_oneof![
        Just(json!("")),
        Just(json!("bidder\u{0}cat")),
        Just(json!("\u{7f}")),
        "[a-z]{129,200}".prop_map(Value::String),
        Just(json!(42)),
        Just(json!(null)),
        Just(json!(["bidder-cat"])),
        nasty_string(1, 20)
            .prop_filter("not a user id", |s| UserId::try_from(s.as_str()).is_err())
            .prop_map(Value::String),
    ];
    prop_oneof![
        Just(format!(
            "{}.{}.",
            segment(&json!({"alg": "none", "typ": "JWT"})),
            segment(&json!({"sub": "bidder-cat", "exp": exp}))
        )),
        Just(format!(
            "{}.{}.",
            segment(&json!({"alg": "HS256", "typ": "JWT"})),
            segment(&json!({"sub": "bidder-cat", "exp": exp}))
        )),
        prop::sample::select(vec!["HS384", "HS512"]).prop_map(move |alg| sign(
            json!({"alg": alg}),
            json!({"sub": "bidder-cat", "exp": exp})
        )),
        Just(sign(json!({"alg": "HS256"}), json!({"sub": "bidder-cat"}))),
        Just(sign(json!({"alg": "HS256"}), json!({"exp": exp}))),
        Just(sign(
            json!({"alg": "HS256"}),
            json!({"sub": "bidder-cat", "exp": "tomorrow"})
        )),
        Just(sign(
            json!({"alg": "HS256"}),
            json!({"sub": "bidder-cat", "exp": 1})
        )),
        Just(sign(
            json!({"alg": "HS256"}),
            json!({"sub": "bidder-cat", "exp": i64::MIN})
        )),
        Just(sign(
            json!({"alg": "HS256"}),
            json!({"sub": "bidder-cat", "exp": exp, "cognito:groups": "admin"})
        )),
        bad_subjects
            .prop_map(move |sub| sign(json!({"alg": "HS256"}), json!({"sub": sub, "exp": exp}))),
    ]
}

#[derive(Debug, Clone)]
enum HeaderAttack {
    NoKey,
    BadKey(Vec<u8>),
    NotJson(Option<Vec<u8>>),
    NoOne(Option<Vec<u8>>),
    DeclaredTooLong(u64),
}

#[test]
fn hostile_headers_on_valid_commands_get_a_4xx_and_write_nothing() {
    let battery = Battery::new();
    let attack = prop_oneof![
        Just(HeaderAttack::NoKey),
        bad_idempotency_key().prop_map(HeaderAttack::BadKey),
        prop::option::of(not_json_content_type()).prop_map(HeaderAttack::NotJson),
        prop::option::of(bad_authorization(&battery)).prop_map(HeaderAttack::NoOne),
        prop_oneof![MAX_BODY as u64 + 1..=u64::MAX, Just(MAX_BODY as u64 + 1)]
            .prop_map(HeaderAttack::DeclaredTooLong),
    ];
    // Each would succeed with the right headers.
    let b = &battery;
    let commands = vec![
        (
            "bidder-cat",
            format!("/auctions/{}/bids", b.open),
            valid_bid_body(5_000),
            true,
        ),
        (
            "bidder-cat",
            format!("/auctions/{}/buy-now", b.fresh),
            Vec::new(),
            true,
        ),
        (
            "seller-ann",
            "/auctions".to_owned(),
            object(&creation_fields()).into_bytes(),
            false,
        ),
        (
            "seller-ann",
            format!("/auctions/{}/cancel", b.fresh),
            br#"{"reason":"sold elsewhere"}"#.to_vec(),
            false,
        ),
    ];
    check(
        (prop::sample::select(commands), attack, "[!-~]{1,128}"),
        |((user, path, body, needs_key), attack, key)| {
            let mut headers = vec![
                ("authorization", b.bearer(user)),
                ("content-type", b"application/json".to_vec()),
                ("idempotency-key", key.into_bytes()),
            ];
            let set = |headers: &mut Vec<(&'static str, Vec<u8>)>,
                       name: &'static str,
                       value: Option<Vec<u8>>| {
                headers.retain(|(n, _)| *n != name);
                if let Some(value) = value {
                    headers.push((name, value));
                }
            };
            let codes: &[&str] = match attack {
                HeaderAttack::NoKey => {
                    set(&mut headers, "idempotency-key", None);
                    if !needs_key {
                        // Creation and cancellation take no key: nothing to test here.
                        return Ok(());
                    }
                    &["IDEMPOTENCY_KEY_REQUIRED"]
                }
                HeaderAttack::BadKey(key) => {
                    if !needs_key && !path.ends_with("/auctions") {
                        // Cancellation reads no key.
                        return Ok(());
                    }
                    set(&mut headers, "idempotency-key", Some(key));
                    &["INVALID_IDEMPOTENCY_KEY"]
                }
                HeaderAttack::NotJson(content_type) => {
                    if body.is_empty() {
                        // Buy-now reads no body, so it reads no content type either.
                        return Ok(());
                    }
                    set(&mut headers, "content-type", content_type);
                    &["UNSUPPORTED_MEDIA_TYPE"]
                }
                HeaderAttack::NoOne(authorization) => {
                    set(&mut headers, "authorization", authorization);
                    &["UNAUTHENTICATED"]
                }
                HeaderAttack::DeclaredTooLong(length) => {
                    if body.is_empty() {
                        return Ok(());
                    }
                    set(
                        &mut headers,
                        "content-length",
                        Some(length.to_string().into_bytes()),
                    );
                    &["BODY_TOO_LARGE"]
                }
            };
            let before = b.writes();
            let reply = b.request(Method::POST, &path, &headers, body);
            b.refused(&reply, before, codes)
        },
    );
}

// ------------------------------------------------------------------------------- path battery

/// Percent-encodes every byte outside the unreserved set, so any text makes a legal path
/// segment.
fn encode_segment(text: &[u8]) -> String {
    text.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Path segments that name no auction of the battery.
fn hostile_id(battery: &Battery) -> impl Strategy<Value = String> + use<> {
    let existing = battery.open.to_string();
    prop_oneof![
        nasty_string(0, 60).prop_map(|s| encode_segment(s.as_bytes())),
        any::<u128>().prop_map(|n| Uuid::from_u128(n).to_string()),
        prop::sample::select(vec![
            Uuid::nil().to_string(),
            Uuid::max().to_string(),
            "..".to_owned(),
            ".".to_owned(),
            "%2e%2e".to_owned(),
            "%2F".to_owned(),
            "%00".to_owned(),
            "%FF".to_owned(),
            "%C0%80".to_owned(),
            "%ED%A0%80".to_owned(),
            "%".to_owned(),
            "%ZZ".to_owned(),
            "%E2%80%AE".to_owned(),
            format!("{existing}x"),
            format!("{existing}%00"),
            format!("%20{existing}"),
            existing[1..].to_owned(),
            format!("{existing}%2F{existing}"),
            "-1".to_owned(),
            "9223372036854775808".to_owned(),
            "%7B%7D".to_owned(),
        ]),
        (1_000..8_000usize).prop_map(|n| "a".repeat(n)),
    ]
}

#[test]
fn hostile_auction_ids_in_paths_get_a_404_and_write_nothing() {
    let battery = Battery::new();
    let b = &battery;
    let routes = vec![
        (Method::GET, "", Vec::new()),
        (Method::GET, "/bids", Vec::new()),
        (Method::POST, "/bids", valid_bid_body(5_000)),
        (Method::POST, "/buy-now", Vec::new()),
        (Method::POST, "/start", Vec::new()),
        (Method::POST, "/cancel", Vec::new()),
        (Method::POST, "/cancel", br#"{"reason":"x"}"#.to_vec()),
    ];
    check(
        (prop::sample::select(routes), hostile_id(b), "[!-~]{1,128}"),
        |((method, suffix, body), id, key)| {
            let uri = format!("/auctions/{id}{suffix}");
            let headers = vec![
                ("authorization", b.bearer("bidder-cat")),
                ("content-type", b"application/json".to_vec()),
                ("idempotency-key", key.into_bytes()),
            ];
            let before = b.writes();
            let reply = b.request(method, &uri, &headers, body);
            // A segment that is empty or holds a slash leaves the route's shape.
            b.refused(&reply, before, &["AUCTION_NOT_FOUND", "NOT_FOUND"])
        },
    );
}

// ------------------------------------------------------------------------------ query battery

/// Encodes a query string from `key=value` pairs (every byte outside the unreserved set
/// percent-encoded).
fn query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_segment(k.as_bytes()),
                encode_segment(v.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Limits that are not a number from 1 to 100 (as `u32::from_str` reads it).
fn bad_limit() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("101".to_owned()),
        Just("-1".to_owned()),
        Just(u32::MAX.to_string()),
        Just((u64::from(u32::MAX) + 1).to_string()),
        Just(i64::MIN.to_string()),
        Just("18446744073709551616".to_owned()),
        (101..=u32::MAX).prop_map(|n| n.to_string()),
        (i64::MIN..0).prop_map(|n| n.to_string()),
        unrepresentable_number(),
        not_a_number(),
        nasty_string(0, 20),
    ]
    .prop_filter("no valid limit", |text| {
        !matches!(text.parse::<u32>(), Ok(1..=100))
    })
}

fn bad_status() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "sold",
            "Active",
            "ACTIVE",
            "active ",
            " active",
            "activ",
            "",
            "all",
            "0",
            "null",
            "scheduled,active",
            "ended\u{0}",
            "\u{202e}evitca",
        ])
        .prop_map(str::to_owned),
        nasty_string(0, 30),
    ]
    .prop_filter("no status", |s| {
        !["scheduled", "active", "ended", "cancelled"].contains(&s.as_str())
    })
}

/// Cursors this server never issued: not base64url, not JSON, or JSON of another shape.
fn bad_cursor() -> impl Strategy<Value = String> {
    prop_oneof![
        nasty_string(0, 80),
        "[A-Za-z0-9_-]{0,200}",
        nasty_string(0, 40).prop_map(|s| URL_SAFE_NO_PAD.encode(s)),
        prop::sample::select(vec![
            json!([]),
            json!({}),
            json!({"auctionId": 1}),
            json!("cursor"),
            json!({"a": "b"}),
            json!(null),
        ])
        .prop_map(|v| URL_SAFE_NO_PAD.encode(v.to_string())),
    ]
}

fn unknown_parameter() -> impl Strategy<Value = (String, String)> {
    (
        nasty_string(0, 20).prop_filter("unknown", |k| {
            !["status", "limit", "cursor", "minVersion"].contains(&k.as_str())
        }),
        nasty_string(0, 20),
    )
}

#[derive(Debug, Clone, Copy)]
enum Listing {
    Auctions,
    MyBids,
    MyAuctions,
    MyWatchlist,
    MyNotifications,
}

/// A query with at least one bad parameter, in any order with valid ones.
fn hostile_listing_query(listing: Listing) -> impl Strategy<Value = Vec<(String, String)>> {
    let poison = match listing {
        Listing::Auctions => prop_oneof![
            bad_limit().prop_map(|v| vec![("limit".to_owned(), v)]),
            bad_status().prop_map(|v| vec![("status".to_owned(), v)]),
            bad_cursor().prop_map(|v| vec![("cursor".to_owned(), v)]),
            unknown_parameter().prop_map(|p| vec![p]),
            prop::sample::select(vec!["status", "limit"])
                .prop_map(|k| vec![(k.to_owned(), ok_value(k)), (k.to_owned(), ok_value(k))]),
        ]
        .boxed(),
        Listing::MyBids | Listing::MyAuctions | Listing::MyWatchlist | Listing::MyNotifications => {
            prop_oneof![
                bad_limit().prop_map(|v| vec![("limit".to_owned(), v)]),
                bad_cursor().prop_map(|v| vec![("cursor".to_owned(), v)]),
                unknown_parameter().prop_map(|p| vec![p]),
                Just(vec![("status".to_owned(), "active".to_owned())]),
                Just(vec![
                    ("limit".to_owned(), "10".to_owned()),
                    ("limit".to_owned(), "10".to_owned())
                ]),
            ]
            .boxed()
        }
    };
    let valid_keys: &'static [&'static str] = match listing {
        Listing::Auctions => &["status", "limit"],
        _ => &["limit"],
    };
    (
        poison,
        prop::sample::subsequence(valid_keys, 0..=valid_keys.len()),
        any::<bool>(),
    )
        .prop_map(|(mut pairs, valid, poison_first)| {
            for key in valid {
                if pairs.iter().all(|(k, _)| k != key) {
                    let pair = (key.to_owned(), ok_value(key));
                    if poison_first {
                        pairs.push(pair);
                    } else {
                        pairs.insert(0, pair);
                    }
                }
            }
            pairs
        })
}

fn ok_value(key: &str) -> String {
    match key {
        "status" => "active".to_owned(),
        _ => "10".to_owned(),
    }
}

#[test]
fn hostile_listing_queries_get_a_400_and_write_nothing() {
    let battery = Battery::new();
    let b = &battery;
    let queries = prop_oneof![
        hostile_listing_query(Listing::Auctions).prop_map(|q| ("/auctions", q)),
        hostile_listing_query(Listing::MyBids).prop_map(|q| ("/me/bids", q)),
        hostile_listing_query(Listing::MyAuctions).prop_map(|q| ("/me/auctions", q)),
        hostile_listing_query(Listing::MyWatchlist).prop_map(|q| ("/me/watchlist", q)),
        hostile_listing_query(Listing::MyNotifications).prop_map(|q| ("/me/notifications", q)),
    ];
    check(queries, |(path, pairs)| {
        let before = b.writes();
        let reply = b.get("bidder-bob", &format!("{path}?{}", query(&pairs)));
        b.refused(&reply, before, &["INVALID_QUERY", "INVALID_CURSOR"])
    });
}

#[test]
fn hostile_min_versions_get_a_400_and_write_nothing() {
    let battery = Battery::new();
    let b = &battery;
    let bad_version = prop_oneof![
        (i64::MIN..0).prop_map(|n| n.to_string()),
        Just("18446744073709551616".to_owned()),
        "[1-9][0-9]{20,40}",
        unrepresentable_number(),
        not_a_number(),
        nasty_string(0, 20),
    ]
    .prop_filter("no u64", |text| text.parse::<u64>().is_err());
    let pairs = prop_oneof![
        bad_version.prop_map(|v| vec![("minVersion".to_owned(), v)]),
        Just(vec![
            ("minVersion".to_owned(), "1".to_owned()),
            ("minVersion".to_owned(), "1".to_owned())
        ]),
        Just(vec![("min_version".to_owned(), "1".to_owned())]),
        Just(vec![("MinVersion".to_owned(), "1".to_owned())]),
        unknown_parameter().prop_map(|p| vec![p]),
    ];
    check(
        (
            prop::sample::select(vec![b.open, b.fresh, b.scheduled]),
            pairs,
        ),
        |(id, pairs)| {
            let before = b.writes();
            let reply = b.get("bidder-bob", &format!("/auctions/{id}?{}", query(&pairs)));
            b.refused(&reply, before, &["INVALID_QUERY"])
        },
    );
}

/// Cursors shaped like the server's own (base64url JSON with the listing's keys) but holding
/// hostile values: they page from somewhere or are refused, never a server error.
#[test]
fn crafted_cursors_page_or_get_a_400_never_a_5xx() {
    let battery = Battery::new();
    let b = &battery;
    let text = prop_oneof![
        nasty_string(0, 40),
        extreme_date(),
        malformed_rfc3339(),
        any::<u128>().prop_map(|n| Uuid::from_u128(n).to_string()),
        Just("bidder-bob".to_owned()),
        Just("active".to_owned()),
        Just(format!("{}#{}#1#outbid", rfc3339(now()), b.open)),
    ]
    .boxed();
    let cursors = prop_oneof![
        (text.clone(), text.clone(), text.clone()).prop_map(|(a, s, e)| (
            "/auctions",
            json!({"auctionId": a, "status": s, "endsAt": e})
        )),
        (text.clone(), text.clone())
            .prop_map(|(u, a)| ("/me/bids", json!({"userId": u, "auctionId": a}))),
        (text.clone(), text).prop_map(|(u, n)| (
            "/me/notifications",
            json!({"userId": u, "notificationId": n})
        )),
    ];
    check(cursors, |(path, key)| {
        let cursor = URL_SAFE_NO_PAD.encode(key.to_string());
        let before = b.writes();
        let reply = b.get("bidder-bob", &format!("{path}?cursor={cursor}"));
        prop_assert!(
            reply.status == StatusCode::OK || reply.status == StatusCode::BAD_REQUEST,
            "expected 200 or 400, got {}: {}",
            reply.status,
            reply.text()
        );
        if reply.status == StatusCode::BAD_REQUEST {
            problem_document(&reply, &["INVALID_CURSOR"])?;
        }
        prop_assert_eq!(b.writes(), before);
        Ok(())
    });
}

// ------------------------------------------------------------------ admin events battery

/// The parameters of `GET /admin/events`.
const EVENTS_PARAMETERS: &[&str] = &["eventType", "from", "to", "limit", "cursor"];

fn valid_event_value(key: &str) -> String {
    match key {
        "eventType" => "BidPlaced".to_owned(),
        "from" => rfc3339(now() - TimeDelta::days(1)),
        "to" => rfc3339(now() + TimeDelta::days(1)),
        _ => "10".to_owned(),
    }
}

/// Event types the contract does not have: near misses and hostile text.
fn bad_event_type() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "bidplaced",
            "BIDPLACED",
            "BidPlaced ",
            " BidPlaced",
            "BidPlace",
            "BidPlaced\u{0}",
            "Bid%50laced",
            "",
            "*",
            "BidPlaced,AuctionCreated",
            "AuctionCreated.v1",
        ])
        .prop_map(str::to_owned),
        nasty_string(0, 30),
    ]
    .prop_filter("no event type", |name| {
        events::AuctionEvent::TYPES
            .iter()
            .all(|(known, _)| known != name)
    })
}

/// Instants that are not RFC 3339 (as `chrono`'s strict parser reads it).
fn bad_instant() -> impl Strategy<Value = String> {
    prop_oneof![
        malformed_rfc3339(),
        prop::sample::select(vec![
            "+275760-09-13T00:00:00Z",
            "-262144-01-01T00:00:00Z",
            "2026-06-01 12:00:00Z",
            "2026-06-01T12:00:00+0200",
            "2026-06-01T12:00:00",
        ])
        .prop_map(str::to_owned),
    ]
    .prop_filter("no RFC 3339", |text| {
        DateTime::parse_from_rfc3339(text).is_err()
    })
}

/// Limits that are not a number from 1 to 1000.
fn bad_events_limit() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("1001".to_owned()),
        (1_001..=u32::MAX).prop_map(|n| n.to_string()),
        bad_limit(),
    ]
    .prop_filter("no valid limit", |text| {
        !matches!(text.parse::<u32>(), Ok(1..=1_000))
    })
}

/// What makes a query of `GET /admin/events` bad, and the keys the valid part may not add.
fn events_poison() -> impl Strategy<Value = (Vec<(String, String)>, &'static [&'static str])> {
    let alone = |pairs: Vec<(String, String)>| (pairs, &[][..]);
    prop_oneof![
        bad_event_type().prop_map(move |v| alone(vec![("eventType".to_owned(), v)])),
        // No eventType at all.
        Just((Vec::new(), &["eventType"][..])),
        bad_instant().prop_map(move |v| alone(vec![("from".to_owned(), v)])),
        bad_instant().prop_map(move |v| alone(vec![("to".to_owned(), v)])),
        // An empty range.
        (1..=1_000_000i64).prop_map(move |seconds| alone(vec![
            (
                "from".to_owned(),
                rfc3339(now() + TimeDelta::seconds(seconds))
            ),
            ("to".to_owned(), rfc3339(now())),
        ])),
        bad_events_limit().prop_map(move |v| alone(vec![("limit".to_owned(), v)])),
        bad_cursor().prop_map(move |v| alone(vec![("cursor".to_owned(), v)])),
        (
            nasty_string(0, 20)
                .prop_filter("unknown", |k| { !EVENTS_PARAMETERS.contains(&k.as_str()) }),
            nasty_string(0, 20),
        )
            .prop_map(move |p| alone(vec![p])),
        prop::sample::select(vec!["eventType", "from", "to", "limit"]).prop_map(move |k| alone(
            vec![
                (k.to_owned(), valid_event_value(k)),
                (k.to_owned(), valid_event_value(k)),
            ]
        )),
    ]
}

/// A query of `GET /admin/events` with at least one bad parameter, in any order with valid
/// ones.
fn hostile_events_query() -> impl Strategy<Value = Vec<(String, String)>> {
    (
        events_poison(),
        prop::sample::subsequence(&["eventType", "from", "to", "limit"][..], 0..=4),
        any::<bool>(),
    )
        .prop_map(|((mut pairs, barred), valid, poison_first)| {
            for key in valid {
                if barred.contains(&key) || pairs.iter().any(|(k, _)| k == key) {
                    continue;
                }
                let pair = (key.to_owned(), valid_event_value(key));
                if poison_first {
                    pairs.push(pair);
                } else {
                    pairs.insert(0, pair);
                }
            }
            pairs
        })
}

#[test]
fn hostile_admin_event_queries_get_a_400_and_write_nothing() {
    let battery = Battery::new();
    let b = &battery;
    check(hostile_events_query(), |pairs| {
        let before = b.writes();
        let reply = b.admin_get(&format!("/admin/events?{}", query(&pairs)));
        b.refused(&reply, before, &["INVALID_QUERY", "INVALID_CURSOR"])
    });
}

#[test]
fn admin_event_queries_from_a_bidder_get_a_403_whatever_they_hold() {
    let battery = Battery::new();
    let b = &battery;
    let pairs = prop_oneof![
        hostile_events_query(),
        Just(vec![("eventType".to_owned(), "BidPlaced".to_owned())]),
    ];
    check(pairs, |pairs| {
        let before = b.writes();
        let reply = b.get("bidder-bob", &format!("/admin/events?{}", query(&pairs)));
        b.refused(&reply, before, &["ADMIN_ONLY"])
    });
}

/// Valid ranges at the edges of the calendar: a page, or an empty range refused, never a 5xx.
#[test]
fn extreme_admin_event_ranges_page_or_get_a_400_never_a_5xx() {
    let battery = Battery::new();
    let b = &battery;
    let instant = prop_oneof![
        extreme_date().prop_filter("RFC 3339", |t| DateTime::parse_from_rfc3339(t).is_ok()),
        Just(rfc3339(now())),
    ];
    check(
        (instant.clone(), instant, 1..=1_000u32),
        |(from, to, limit)| {
            let before = b.writes();
            let pairs = [
                ("eventType".to_owned(), "AuctionCreated".to_owned()),
                ("from".to_owned(), from.clone()),
                ("to".to_owned(), to.clone()),
                ("limit".to_owned(), limit.to_string()),
            ];
            let reply = b.admin_get(&format!("/admin/events?{}", query(&pairs)));
            let parse = |t: &str| DateTime::parse_from_rfc3339(t).unwrap();
            if parse(&from) > parse(&to) {
                b.refused(&reply, before, &["INVALID_QUERY"])?;
            } else {
                prop_assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
                prop_assert_eq!(reply.content_type.as_deref(), Some("application/x-ndjson"));
                prop_assert_eq!(b.writes(), before);
            }
            Ok(())
        },
    );
}

/// Cursors shaped like the route's own (base64url JSON with its keys) but holding hostile
/// values: they page from somewhere or are refused, never a server error.
#[test]
fn crafted_admin_event_cursors_page_or_get_a_400_never_a_5xx() {
    let battery = Battery::new();
    let b = &battery;
    let (from, to) = (now() - TimeDelta::days(1), now() + TimeDelta::days(1));
    let millis = prop_oneof![
        Just(from.timestamp_millis()),
        Just(to.timestamp_millis()),
        Just(now().timestamp_millis()),
        from.timestamp_millis()..=to.timestamp_millis(),
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
    ]
    .prop_map(|n| json!(n));
    let value = prop_oneof![
        4 => millis,
        1 => nasty_string(0, 30).prop_map(|s| json!(s)),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => Just(json!(null)),
        1 => Just(json!(-1)),
        1 => Just(json!(1.5)),
    ];
    let event_type = prop_oneof![
        3 => Just(json!("BidPlaced")),
        1 => Just(json!("AuctionCreated")),
        1 => nasty_string(0, 20).prop_map(|s| json!(s)),
    ];
    let aggregate = prop_oneof![
        Just(json!(b.open)),
        any::<u128>().prop_map(|n| json!(Uuid::from_u128(n))),
        nasty_string(0, 40).prop_map(|s| json!(s)),
    ];
    let version = prop_oneof![
        any::<u64>().prop_map(|n| json!(n)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!("1")),
    ];
    let cursors = (
        event_type,
        prop_oneof![3 => Just(json!(from.timestamp_millis())), 1 => value.clone()],
        prop_oneof![3 => Just(json!(to.timestamp_millis())), 1 => value.clone()],
        value,
        aggregate,
        version,
    )
        .prop_map(|(t, f, e, at, id, v)| {
            json!({
                "eventType": t,
                "from": f,
                "to": e,
                "occurredAt": at,
                "aggregateId": id,
                "version": v,
            })
        });
    check((cursors, any::<bool>()), |(cursor, with_to)| {
        let mut pairs = vec![
            ("eventType".to_owned(), "BidPlaced".to_owned()),
            ("from".to_owned(), rfc3339(from)),
            ("limit".to_owned(), "1".to_owned()),
            (
                "cursor".to_owned(),
                URL_SAFE_NO_PAD.encode(cursor.to_string()),
            ),
        ];
        if with_to {
            pairs.push(("to".to_owned(), rfc3339(to)));
        }
        let before = b.writes();
        let reply = b.admin_get(&format!("/admin/events?{}", query(&pairs)));
        prop_assert!(
            reply.status == StatusCode::OK || reply.status == StatusCode::BAD_REQUEST,
            "expected 200 or 400, got {}: {}",
            reply.status,
            reply.text()
        );
        if reply.status == StatusCode::BAD_REQUEST {
            problem_document(&reply, &["INVALID_CURSOR", "INVALID_QUERY"])?;
        }
        prop_assert_eq!(b.writes(), before);
        Ok(())
    });
}

// ------------------------------------------------------------ hostile but valid: unicode text

/// Titles of arbitrary unicode (controls, NUL, bidi overrides, astral planes) are stored
/// exactly as trimmed and read back the same, or refused with INVALID_TITLE when nothing or
/// too much is left: never mangled, never a 5xx.
#[test]
fn unicode_titles_are_stored_verbatim_or_refused_with_a_422() {
    let battery = Battery::new();
    let b = &battery;
    check(
        (nasty_string(0, 220), nasty_string(0, 60)),
        |(title, description)| {
            let mut body = creation_fields();
            body[0].1 = quoted(&title);
            body[1].1 = quoted(&description);
            let before = b.writes();
            let reply = b.post("seller-ann", "/auctions", object(&body).into_bytes(), None);
            let trimmed = title.trim();
            if trimmed.is_empty() || trimmed.chars().count() > 200 {
                return b.refused(&reply, before, &["INVALID_TITLE"]);
            }
            prop_assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
            // The item's ItemRegistered, then AuctionCreated and AuctionStarted, nothing else.
            prop_assert_eq!(b.writes(), before + 3);
            let id = reply.json()["auctionId"].as_str().unwrap().to_owned();
            let read = b.get("bidder-bob", &format!("/auctions/{id}"));
            prop_assert_eq!(read.status, StatusCode::OK, "{}", read.text());
            let stored = read.json();
            prop_assert_eq!(stored["title"].as_str(), Some(trimmed));
            Ok(())
        },
    );
}

#[test]
fn a_json_array_in_the_order_of_a_commands_fields_is_refused_and_writes_nothing() {
    // Given an open auction
    let battery = Battery::new();
    let before = battery.writes();

    // When a bid and a cancellation arrive as arrays of their fields' values
    let bid = battery.post(
        "bidder-cat",
        &format!("/auctions/{}/bids", battery.open),
        br#"[5000, null, "EUR"]"#.to_vec(),
        Some(b"cat-array-bid"),
    );
    let cancel = battery.post(
        "seller-ann",
        &format!("/auctions/{}/cancel", battery.fresh),
        br#"["x"]"#.to_vec(),
        Some(b"ann-array-cancel"),
    );

    // Then both are 422 INVALID_REQUEST and nothing was written
    for reply in [&bid, &cancel] {
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text()
        );
        assert_eq!(reply.json()["code"], "INVALID_REQUEST", "{}", reply.text());
    }
    assert_eq!(battery.writes(), before);
}
