//! The publisher behind the Events table's stream event source mapping (ReportBatchItemFailures
//! on): queue URLs are resolved once per execution environment, before the first event.

use aws_config::BehaviorVersion;
use aws_lambda_events::event::dynamodb::Event;
use fan_out::{QueueUrls, SqsQueues, handle};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    fan_out::init_logging();
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let sqs = SqsQueues::new(aws_sdk_sqs::Client::new(&sdk));
    let queues = QueueUrls::from_env(&sqs).await?;
    let (sqs, queues) = (&sqs, &queues);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async move {
        handle(sqs, queues, event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
