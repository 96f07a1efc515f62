//! The one logging set-up of every binary: the Lambdas through [`crate::lambda::init`], the local
//! tools through [`crate::init_json_logging`] and [`crate::init_tool_logging`], all building a
//! [`LogSettings`] and calling [`LogSettings::init`].
//!
//! A Lambda honours Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT` (`JSON` or
//! `Text`) and `AWS_LAMBDA_LOG_LEVEL` (`TRACE` .. `FATAL`), falling back to `RUST_LOG`, then
//! `info`. Lambda sets both variables from the function's logging configuration; a runtime of
//! our own must apply them itself, since Lambda filters only what the managed runtimes write.
//!
//! Every line written inside a span carries the fields of every span it is in: JSON lines list
//! them under `spans` (outermost first, and the innermost again under `span`), text lines print
//! them before the message. Inside an invocation the outermost span is the Lambda runtime's
//! (`Lambda runtime invoke`, with `requestId` and `xrayTraceId`), so those two are on every line
//! of the invocation, beside the correlation spans of our own handlers.

use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber, span};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Filter, Layer as _, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::SetupError;

/// Lambda's log format control: `JSON` or `Text`.
pub const LOG_FORMAT_ENV: &str = "AWS_LAMBDA_LOG_FORMAT";
/// Lambda's log level control: `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`.
pub const LOG_LEVEL_ENV: &str = "AWS_LAMBDA_LOG_LEVEL";
/// The fallback filter when Lambda sets no level: tracing's directives (`info,hyper=warn`).
pub const RUST_LOG_ENV: &str = "RUST_LOG";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, which CloudWatch Logs Insights reads field by field.
    Json,
    /// tracing's text lines.
    Text,
}

/// How a binary logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// tracing's filter directives.
    pub filter: String,
    /// Colours in text lines, for a person's terminal; never in a Lambda's log.
    pub ansi: bool,
}

impl LogSettings {
    /// A Lambda's settings, from its environment.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// A Lambda's settings from the variables `var` looks up: the format from
    /// `AWS_LAMBDA_LOG_FORMAT` (JSON unless it says `Text`: the platform's logs were JSON before
    /// the control existed, and the local binaries set none), the level from
    /// `AWS_LAMBDA_LOG_LEVEL`, else the directives of `RUST_LOG`, else `info`. A value that is
    /// not a level or not a directive counts as unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let format = match var(LOG_FORMAT_ENV) {
            Some(format) if format.trim().eq_ignore_ascii_case("text") => LogFormat::Text,
            _ => LogFormat::Json,
        };
        let filter = var(LOG_LEVEL_ENV)
            .and_then(|level| lambda_level(&level))
            .map(str::to_owned)
            .or_else(|| var(RUST_LOG_ENV).filter(|directives| readable(directives)))
            .unwrap_or_else(|| "info".to_owned());
        Self {
            format,
            filter,
            ansi: false,
        }
    }

    /// A local tool's settings: its own filter variable `filter_env` (default `info`), JSON
    /// lines as the Lambdas write them or coloured text for people.
    pub fn for_tool(filter_env: &str, json: bool) -> Self {
        Self {
            format: if json {
                LogFormat::Json
            } else {
                LogFormat::Text
            },
            filter: std::env::var(filter_env)
                .ok()
                .filter(|directives| readable(directives))
                .unwrap_or_else(|| "info".to_owned()),
            ansi: !json,
        }
    }

    /// The subscriber these settings describe, writing to `writer`: what [`Self::init`]
    /// installs, for tests that read the lines.
    pub fn subscriber<W>(&self, writer: W) -> Box<dyn Subscriber + Send + Sync + 'static>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let filter = EnvFilter::try_new(&self.filter).unwrap_or_else(|_| EnvFilter::new("info"));
        match self.format {
            LogFormat::Json => Box::new(json_logs(writer, filter)),
            LogFormat::Text => Box::new(
                tracing_subscriber::registry().with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(self.ansi)
                        .with_writer(writer)
                        .with_filter(KeepSpans(filter)),
                ),
            ),
        }
    }

    /// Installs the subscriber for the whole process, writing to stderr (stdout carries the
    /// metric documents, so that a metric line and a log line never interleave).
    pub fn init(&self) -> Result<(), SetupError> {
        self.subscriber(std::io::stderr)
            .try_init()
            .map_err(|e| SetupError::Logging(e.to_string()))
    }
}

/// The JSON lines of every binary on `writer`: one object per line with the event's `fields`,
/// its innermost span under `span`, and every span it is in under `spans`.
pub fn json_logs<W>(writer: W, filter: EnvFilter) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(writer)
            .with_filter(KeepSpans(filter)),
    )
}

/// The filter's verdict on events, but every span at `INFO` or above kept whatever the level:
/// at `WARN` the invocation's span (`requestId`, `xrayTraceId`) and the handlers' correlation
/// spans would otherwise be filtered out, and the warnings, the lines that matter most, would
/// carry no ids. A span writes nothing by itself, so keeping it costs no lines.
struct KeepSpans(EnvFilter);

fn kept(meta: &Metadata<'_>) -> bool {
    meta.is_span() && *meta.level() <= Level::INFO
}

impl<S> Filter<S> for KeepSpans
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        kept(meta) || Filter::<S>::enabled(&self.0, meta, cx)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if kept(meta) {
            Interest::always()
        } else {
            Filter::<S>::callsite_enabled(&self.0, meta)
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Filter::<S>::max_level_hint(&self.0).map(|hint| hint.max(LevelFilter::INFO))
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, cx: Context<'_, S>) {
        Filter::<S>::on_new_span(&self.0, attrs, id, cx);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, cx: Context<'_, S>) {
        Filter::<S>::on_record(&self.0, id, values, cx);
    }

    fn on_enter(&self, id: &span::Id, cx: Context<'_, S>) {
        Filter::<S>::on_enter(&self.0, id, cx);
    }

    fn on_exit(&self, id: &span::Id, cx: Context<'_, S>) {
        Filter::<S>::on_exit(&self.0, id, cx);
    }

    fn on_close(&self, id: span::Id, cx: Context<'_, S>) {
        Filter::<S>::on_close(&self.0, id, cx);
    }
}

/// tracing's level for one of Lambda's (tracing has no FATAL; its errors are the nearest).
fn lambda_level(level: &str) -> Option<&'static str> {
    match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some("trace"),
        "DEBUG" => Some("debug"),
        "INFO" => Some("info"),
        "WARN" => Some("warn"),
        "ERROR" | "FATAL" => Some("error"),
        _ => None,
    }
}

fn readable(directives: &str) -> bool {
    !directives.trim().is_empty() && EnvFilter::try_new(directives).is_ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        LogSettings::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn lambdas_level_wins_over_rust_log() {
        let settings = settings(&[(LOG_LEVEL_ENV, "WARN"), (RUST_LOG_ENV, "debug")]);
        assert_eq!(settings.filter, "warn");
    }

    #[test]
    fn fatal_is_tracings_error() {
        assert_eq!(settings(&[(LOG_LEVEL_ENV, "FATAL")]).filter, "error");
    }

    #[test]
    fn without_lambdas_level_rust_log_decides_then_info() {
        assert_eq!(
            settings(&[(RUST_LOG_ENV, "info,hyper=warn")]).filter,
            "info,hyper=warn"
        );
        assert_eq!(settings(&[]).filter, "info");
        assert_eq!(settings(&[(LOG_LEVEL_ENV, "LOUD")]).filter, "info");
    }

    #[test]
    fn the_format_is_json_unless_lambda_says_text() {
        assert_eq!(settings(&[]).format, LogFormat::Json);
        assert_eq!(
            settings(&[(LOG_FORMAT_ENV, "JSON")]).format,
            LogFormat::Json
        );
        assert_eq!(
            settings(&[(LOG_FORMAT_ENV, "Text")]).format,
            LogFormat::Text
        );
        assert!(!settings(&[(LOG_FORMAT_ENV, "Text")]).ansi);
    }
}
