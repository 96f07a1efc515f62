//! The payment saga on the payments queue (SQS event source mapping with
//! ReportBatchItemFailures). Until a real payment provider is integrated, it runs the simulated
//! provider and registry configured by env (see `payment_saga::config`).

use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use payment_saga::config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    config::init_logging();
    // Built once per execution environment, shared by every invocation.
    let ports = config::ports_from_env().await?;
    let ports = &ports;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            // Retries end within the invocation's own deadline (the function's timeout).
            let deadline = i64::try_from(event.context.deadline)
                .ok()
                .and_then(DateTime::<Utc>::from_timestamp_millis);
            match deadline {
                Some(deadline) => payment_saga::handle_until(ports, event.payload, deadline).await,
                None => payment_saga::handle(ports, event.payload).await,
            }
            .map_err(Error::from)
        },
    ))
    .await
}
