//! The payment saga on the payments queue (SQS event source mapping with
//! ReportBatchItemFailures). Until a real payment provider is integrated, it runs the simulated
//! provider and registry configured by env (see `payment_saga::config`).

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
            payment_saga::handle(ports, event.payload)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
