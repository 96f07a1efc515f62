//! The broadcaster behind the live queue's (`live.fifo`) SQS event source mapping
//! (ReportBatchItemFailures on): each update pushed to its auction's watchers through the
//! WebSocket stage's management API (`LIVE_ENDPOINT_URL`). See `live::broadcast`.

// The broadcast's future, inside the runtime's and the metrics' wrappers, nests deeper than the
// compiler's default layout limit.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let ports = &live::config::broadcaster_from_env().await?;
    lambda
        .run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
            let (subscriptions, push, log) = (&ports.subscriptions, &ports.push, &ports.log);
            live::handle(subscriptions, push, log, &ports.pseudonyms, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }))
        .await
}
