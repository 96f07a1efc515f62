//! The projector Lambda: the Events table's stream (NEW_IMAGE, ReportBatchItemFailures) in,
//! the read models out.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let ports = &read_models::projector_from_env().await;
    lambda
        .run(service_fn(|event: LambdaEvent<Event>| async move {
            read_models::handle(&ports.views, &ports.log, &ports.heads, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }))
        .await
}
