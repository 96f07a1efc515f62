//! The seams the runner drives: the same signatures a Lambda main's handler has.

use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;

/// What a handler returns when the whole invocation fails: Lambda's own error type
/// (`lambda_runtime::Error` is this box), so a handler's `?` works unchanged.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// A function triggered by a DynamoDB stream, as Lambda calls it.
pub trait StreamHandler: Send + Sync + 'static {
    fn handle(
        &self,
        event: Event,
    ) -> impl Future<Output = Result<DynamoDbEventResponse, HandlerError>> + Send;
}

/// A function triggered by an SQS queue, as Lambda calls it.
pub trait QueueHandler: Send + Sync + 'static {
    fn handle(
        &self,
        event: SqsEvent,
    ) -> impl Future<Output = Result<SqsBatchResponse, HandlerError>> + Send;
}

/// Any async function of the event is a handler, so wiring a Lambda's handler is a closure
/// holding its dependencies.
impl<F, Fut, E> StreamHandler for F
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<DynamoDbEventResponse, E>> + Send,
    E: Into<HandlerError>,
{
    fn handle(
        &self,
        event: Event,
    ) -> impl Future<Output = Result<DynamoDbEventResponse, HandlerError>> + Send {
        let invocation = self(event);
        async move { invocation.await.map_err(Into::into) }
    }
}

impl<F, Fut, E> QueueHandler for F
where
    F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<SqsBatchResponse, E>> + Send,
    E: Into<HandlerError>,
{
    fn handle(
        &self,
        event: SqsEvent,
    ) -> impl Future<Output = Result<SqsBatchResponse, HandlerError>> + Send {
        let invocation = self(event);
        async move { invocation.await.map_err(Into::into) }
    }
}

/// How an invocation failed as a whole. Lambda treats all three alike: the batch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationFailure {
    /// The handler returned an error.
    Error(String),
    /// The handler panicked (Lambda: the runtime crashed).
    Panic(String),
    /// The handler ran longer than the function timeout and was stopped.
    Timeout(Duration),
}

impl std::fmt::Display for InvocationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Error(message) => write!(f, "handler error: {message}"),
            Self::Panic(message) => write!(f, "handler panicked: {message}"),
            Self::Timeout(timeout) => write!(f, "handler timed out after {timeout:?}"),
        }
    }
}

/// Runs one invocation in its own task, so that a panic or a timeout fails the batch instead of
/// the runner, as a crashed or timed-out Lambda does.
pub(crate) async fn invoke<T: Send + 'static>(
    invocation: impl Future<Output = Result<T, HandlerError>> + Send + 'static,
    timeout: Duration,
) -> Result<T, InvocationFailure> {
    let mut task = tokio::spawn(invocation);
    match tokio::time::timeout(timeout, &mut task).await {
        Err(_elapsed) => {
            task.abort();
            Err(InvocationFailure::Timeout(timeout))
        }
        Ok(Err(join_error)) => Err(InvocationFailure::Panic(panic_message(join_error))),
        Ok(Ok(Err(error))) => Err(InvocationFailure::Error(conventions::error_chain(
            error.as_ref(),
        ))),
        Ok(Ok(Ok(response))) => Ok(response),
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-text panic payload)".to_owned()),
        Err(error) => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn a_handler_that_returns_is_its_response() {
        let result = invoke(async { Ok::<_, HandlerError>(7) }, Duration::from_secs(1)).await;
        assert_eq!(result, Ok(7));
    }

    #[tokio::test]
    async fn a_handler_error_fails_the_invocation_with_its_message() {
        let result = invoke(
            async { Err::<(), HandlerError>("projection table missing".into()) },
            Duration::from_secs(1),
        )
        .await;
        assert_eq!(
            result,
            Err(InvocationFailure::Error(
                "projection table missing".to_owned()
            ))
        );
    }

    #[tokio::test]
    async fn a_panicking_handler_fails_the_invocation_not_the_runner() {
        let result = invoke(
            async {
                let items: Vec<u8> = Vec::new();
                #[allow(clippy::indexing_slicing)]
                let first = items[0];
                Ok::<_, HandlerError>(first)
            },
            Duration::from_secs(1),
        )
        .await;
        assert!(
            matches!(result, Err(InvocationFailure::Panic(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_handler_running_past_the_timeout_is_stopped() {
        let result = invoke(
            async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, HandlerError>(())
            },
            Duration::from_millis(20),
        )
        .await;
        assert_eq!(
            result,
            Err(InvocationFailure::Timeout(Duration::from_millis(20)))
        );
    }
}
