//! The payment saga on the payments queue (SQS event source mapping with
//! ReportBatchItemFailures): money through Stripe, ownership through the Items' ledger on the
//! event store, configured by env (see `payments::config`).

use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let ports = &payments::config::ports_from_env().await?;
    lambda
        .run(service_fn(
            move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
                // Retries end within the invocation's own deadline (the function's timeout).
                let deadline = i64::try_from(event.context.deadline)
                    .ok()
                    .and_then(DateTime::<Utc>::from_timestamp_millis);
                match deadline {
                    Some(deadline) => ports.handle_until(event.payload, deadline).await,
                    None => ports.handle(event.payload).await,
                }
                .map_err(Error::from)
            },
        ))
        .await
}
