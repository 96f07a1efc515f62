//! The retry every rebuild request shares: DynamoDB and DynamoDB Streams alike.

use std::time::Duration;

use crate::dynamodb::store_failure;
use crate::error::AuditError;

/// Runs `request` again on throttling and transport failures (up to 8 times, with a growing
/// pause); other failures are returned at once. For DynamoDB and DynamoDB Streams requests
/// alike: both SDKs share the error type.
pub(super) async fn with_retries<T, E, R, F, Fut>(mut request: F) -> Result<T, AuditError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>>,
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut pause = Duration::from_millis(50);
    let mut attempt = 0;
    loop {
        match request().await {
            Ok(output) => return Ok(output),
            Err(error) => {
                attempt += 1;
                if !conventions::Failure::of(&error).is_transient() || attempt >= 8 {
                    return Err(store_failure(&error));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}
