//! The publisher behind the Events table's stream event source mapping (ReportBatchItemFailures
//! on): queue URLs are resolved once per execution environment, before the first event.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let ports = &fan_out::from_env().await?;
    lambda
        .run(service_fn(|event: LambdaEvent<Event>| async move {
            fan_out::handle(&ports.sqs, &ports.queues, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }))
        .await
}
