//! The parker Lambda: on the stream mappings' on-failure queue and on every dead-letter queue,
//! turning what the consumers gave up on into items of the Parked table.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let ports = &parking::parker_from_env().await;
    lambda
        .run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
            let now = chrono::Utc::now();
            let response = parking::park(
                &ports.parked,
                &ports.stream,
                &ports.origins,
                event.payload,
                now,
            );
            Ok::<SqsBatchResponse, lambda_runtime::Error>(response.await)
        }))
        .await
}
