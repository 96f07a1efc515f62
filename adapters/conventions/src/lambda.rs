//! What every `*-lambda` binary does around its handler, in one call at the top of `main`:
//!
//! ```ignore
//! let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
//! let ports = &from_env().await;
//! lambda.run(service_fn(|event: LambdaEvent<SqsEvent>| async move { ... })).await
//! ```
//!
//! [`init`] sets up the logs as Lambda's controls say ([`crate::logging`]), installs the
//! CloudWatch Embedded Metric Format collector (namespace [`crate::metrics::NAMESPACE`]) and
//! counts the cold start under the binary's name. [`Lambda::run`] is `lambda_runtime::run`
//! (with its per-invocation span carrying `requestId` and `xrayTraceId`) around a handler that
//! writes the invocation's metric documents to stdout when it returns, before the runtime
//! posts the response: so they are in the log before the invocation ends, and before the
//! environment can be frozen. Each document carries the invocation's `requestId` and
//! `xrayTraceId` as properties.

use std::fmt;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{Context, Diagnostic, IntoFunctionResponse, LambdaEvent, Runtime, Service};
use metrics_cloudwatch_embedded::Collector;
use serde::{Deserialize, Serialize};

use crate::SetupError;
use crate::logging::LogSettings;
use crate::metrics::{NAMESPACE, cold_start, describe_all};

/// The property of every metric document naming the invocation (as the log lines name it).
pub const REQUEST_ID_PROPERTY: &str = "requestId";
/// The property of every metric document naming the invocation's X-Ray trace, when it has one.
pub const TRACE_ID_PROPERTY: &str = "xrayTraceId";

/// A Lambda binary, set up: see [`init`].
pub struct Lambda {
    metrics: Metrics,
}

/// Sets up logging and metrics for the binary `binary` (its name, `env!("CARGO_BIN_NAME")`:
/// the `Function` dimension of its cold starts). Call it first thing in `main`, before the
/// configuration is read, so that what that logs is formatted too. Fails when called twice.
pub fn init(binary: &'static str) -> Result<Lambda, SetupError> {
    LogSettings::from_env().init()?;
    Ok(Lambda {
        metrics: Metrics::install(binary)?,
    })
}

impl Lambda {
    /// Runs `handler` as `lambda_runtime::run` does, flushing the metrics after each
    /// invocation. For an HTTP API, hand it `lambda_http::Adapter::from(service)`.
    pub async fn run<A, F, R, B, S, D, E>(self, handler: F) -> Result<(), lambda_runtime::Error>
    where
        F: Service<LambdaEvent<A>, Response = R>,
        F::Future: Future<Output = Result<R, F::Error>>,
        F::Error: Into<Diagnostic> + fmt::Debug,
        A: for<'de> Deserialize<'de>,
        R: IntoFunctionResponse<B, S>,
        B: Serialize,
        S: Stream<Item = Result<D, E>> + Unpin + Send + 'static,
        D: Into<bytes::Bytes> + Send,
        E: Into<lambda_runtime::Error> + Send + fmt::Debug,
    {
        Runtime::new(self.metrics.flushing(handler))
            .layer(TracingLayer::new())
            .run()
            .await
    }
}

type Output = Arc<dyn Fn() -> Box<dyn Write> + Send + Sync>;

/// The process's metric collector and where its documents go.
#[derive(Clone)]
pub struct Metrics {
    collector: &'static Collector,
    output: Output,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Installs the collector as the process's recorder, writing to stdout (where Lambda's log
    /// capture, and CloudWatch's extraction of the metrics, reads them).
    pub fn install(binary: &'static str) -> Result<Self, SetupError> {
        // Locked for the whole document, so that no other write lands inside one.
        Self::install_writing_to(binary, || Box::new(std::io::stdout().lock()))
    }

    /// [`Self::install`] writing each flush to what `output` returns: for tests that read the
    /// documents.
    pub fn install_writing_to(
        binary: &'static str,
        output: impl Fn() -> Box<dyn Write> + Send + Sync + 'static,
    ) -> Result<Self, SetupError> {
        let collector = metrics_cloudwatch_embedded::Builder::new()
            .cloudwatch_namespace(NAMESPACE)
            .init()
            .map_err(|e| SetupError::Metrics(e.to_string()))?;
        describe_all();
        cold_start(binary);
        Ok(Self {
            collector,
            output: Arc::new(output),
        })
    }

    /// Names the invocation on every document written until the next one begins.
    pub fn begin(&self, context: &Context) {
        self.collector
            .set_property(REQUEST_ID_PROPERTY, context.request_id.clone());
        match &context.xray_trace_id {
            Some(trace_id) => self
                .collector
                .set_property(TRACE_ID_PROPERTY, trace_id.clone()),
            None => self.collector.remove_property(TRACE_ID_PROPERTY),
        };
    }

    /// Writes a document per dimension set of what was recorded since the last flush (nothing
    /// when nothing was). A failed write loses those values and is logged; the invocation
    /// goes on.
    pub fn flush(&self) {
        let mut output = (self.output)();
        let written = self
            .collector
            .flush(&mut output)
            .and_then(|()| output.flush());
        if let Err(error) = written {
            tracing::error!(%error, "metrics not written");
        }
    }

    /// `handler`, flushing after each event it handles.
    pub fn flushing<S>(&self, handler: S) -> Flushed<S> {
        Flushed {
            inner: handler,
            metrics: self.clone(),
        }
    }
}

/// A handler that flushes the metrics when each invocation's answer is ready.
pub struct Flushed<S> {
    inner: S,
    metrics: Metrics,
}

impl<A, S> Service<LambdaEvent<A>> for Flushed<S>
where
    S: Service<LambdaEvent<A>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = FlushedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<A>) -> Self::Future {
        self.metrics.begin(&event.context);
        FlushedFuture {
            inner: self.inner.call(event),
            metrics: self.metrics.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The handler's future, then the flush.
    pub struct FlushedFuture<F> {
        #[pin]
        inner: F,
        metrics: Metrics,
    }
}

impl<F: Future> Future for FlushedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        this.metrics.flush();
        Poll::Ready(output)
    }
}
