//! The thumbnailer Lambda, on the photo uploads queue (the photos bucket's object-created
//! notifications under `originals/`): each original becomes a thumbnail, or is refused (not an
//! image, too large, a decompression bomb) and deleted, with its refusal kept for the seller.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let photos = &photos::S3Photos::from_env(&sdk)?;
    lambda
        .run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
            let response = photos::thumbnail_uploads(photos, event.payload).await;
            Ok::<SqsBatchResponse, lambda_runtime::Error>(response)
        }))
        .await
}
