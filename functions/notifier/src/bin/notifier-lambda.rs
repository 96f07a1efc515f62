//! The notifier behind the notifications queue's event source mapping (ReportBatchItemFailures
//! on): each invocation handles one batch and reports the messages that failed.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let (contexts, inbox, mail) = &notifier::config::from_env().await;
    lambda
        .run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
            notifier::handle(contexts, inbox, mail, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }))
        .await
}
