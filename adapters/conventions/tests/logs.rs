//! The lines a Lambda logs inside an invocation, through the set-up every binary uses, in both of
//! Lambda's formats and at Lambda's levels. A test binary of its own, its tests one at a time:
//! tracing caches per call site whether anyone listens, so a thread-scoped subscriber only sees
//! every line when no other thread logs beside it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use conventions::logging::LogSettings;
use lambda_runtime::Context;
use lambda_runtime::layers::trace::request_span;
use serde_json::Value;

const REQUEST_ID: &str = "8f5c7e52-0d6b-4b8e-9b4a-2f0e4c3d1a77";
const TRACE_ID: &str = "Root=1-6790a1b2-3c4d5e6f708192a3b4c5d6e7;Parent=53995c3f42cd8ad8;Sampled=1";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// A Lambda's settings as its environment would give them.
fn lambda_settings(vars: &[(&str, &str)]) -> LogSettings {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    LogSettings::from_vars(|name| vars.get(name).cloned())
}

/// The context the runtime builds from the Runtime API's headers.
fn invocation() -> Context {
    let mut context = Context::default();
    context.request_id = REQUEST_ID.to_owned();
    context.xray_trace_id = Some(TRACE_ID.to_owned());
    context
}

/// Logs, through `settings`, a line at each level inside the runtime's invocation span and a
/// handler's correlation span within it, as a handler does; returns the lines.
fn log_an_invocation(settings: &LogSettings) -> Vec<String> {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = settings.subscriber(move || writer.clone());
    tracing::subscriber::with_default(subscriber, || {
        let _invocation = request_span(&invocation()).entered();
        let _message = tracing::info_span!("message", correlation_id = "corr-1").entered();
        tracing::debug!("a debug line");
        tracing::info!("an info line");
        tracing::warn!("a warning");
        tracing::error!("an error");
    });
    captured.lines()
}

fn json(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn given_lambdas_json_format_when_a_handler_logs_then_every_line_names_the_request_and_trace() {
    let _one = one_at_a_time();
    // Given Lambda's JSON format
    let settings = lambda_settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);

    // When a handler logs inside its own span within the invocation
    let lines = json(&log_an_invocation(&settings));

    // Then every line carries the invocation's ids and the handler's span's
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        let invocation = line["spans"]
            .as_array()
            .and_then(|spans| {
                spans
                    .iter()
                    .find(|span| span["name"] == "Lambda runtime invoke")
            })
            .unwrap_or_else(|| panic!("no invocation span in {line}"));
        assert_eq!(invocation["requestId"], REQUEST_ID, "{line}");
        assert_eq!(invocation["xrayTraceId"], TRACE_ID, "{line}");
        assert_eq!(line["span"]["correlation_id"], "corr-1", "{line}");
    }
}

#[test]
fn given_lambdas_text_format_when_a_handler_logs_then_every_line_names_the_request_and_trace() {
    let _one = one_at_a_time();
    // Given Lambda's Text format
    let settings = lambda_settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]);

    // When a handler logs inside its own span within the invocation
    let lines = log_an_invocation(&settings);

    // Then every line is text (no JSON, no colour codes) with both ids and the handler's span
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        assert!(serde_json::from_str::<Value>(line).is_err(), "{line}");
        assert!(!line.contains('\u{1b}'), "colour codes in {line:?}");
        let ids = format!(
            "Lambda runtime invoke{{requestId=\"{REQUEST_ID}\" xrayTraceId=\"{TRACE_ID}\"}}"
        );
        assert!(line.contains(&ids), "no {ids} in {line}");
        assert!(
            line.contains("message{correlation_id=\"corr-1\"}"),
            "{line}"
        );
    }
}

#[test]
fn given_lambdas_level_warn_when_a_handler_logs_then_only_warnings_and_errors_are_written_with_their_ids()
 {
    let _one = one_at_a_time();
    // Given Lambda's level WARN (and a RUST_LOG it overrides)
    let settings = lambda_settings(&[
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
        ("RUST_LOG", "debug"),
    ]);

    // When a handler logs at every level
    let lines = json(&log_an_invocation(&settings));

    // Then the warning and the error are written, still inside both spans
    let levels: Vec<&str> = lines
        .iter()
        .map(|line| line["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["WARN", "ERROR"], "{lines:?}");
    for line in &lines {
        assert_eq!(line["spans"][0]["requestId"], REQUEST_ID, "{line}");
        assert_eq!(line["span"]["correlation_id"], "corr-1", "{line}");
    }
}

#[test]
fn given_no_lambda_level_when_rust_log_says_debug_then_debug_lines_are_written() {
    let _one = one_at_a_time();
    // Given no level from Lambda and RUST_LOG at debug
    let settings = lambda_settings(&[("RUST_LOG", "debug")]);

    // When a handler logs at every level
    let lines = json(&log_an_invocation(&settings));

    // Then the debug line is written too
    let levels: Vec<&str> = lines
        .iter()
        .map(|line| line["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["DEBUG", "INFO", "WARN", "ERROR"], "{lines:?}");
}
