//! The parker Lambda: on the stream mappings' on-failure queue and on every dead-letter queue,
//! turning what the consumers gave up on into items of the Parked table.

use aws_config::BehaviorVersion;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use parking::{DynamoDbParked, DynamoDbStreamRange, Origins, park};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    conventions::init_json_logging();
    // Built once per execution environment, shared by every invocation.
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let parked = DynamoDbParked::from_env(aws_sdk_dynamodb::Client::new(&sdk));
    let stream = DynamoDbStreamRange::new(aws_sdk_dynamodbstreams::Client::new(&sdk));
    let origins = Origins::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            park(
                &parked,
                &stream,
                &origins,
                event.payload,
                chrono::Utc::now(),
            )
            .await,
        )
    }))
    .await
}
