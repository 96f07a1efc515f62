//! The digester in AWS: an EventBridge schedule invokes it (every 5 minutes by default); each
//! invocation writes one digest of the log, signed with the KMS key `DIGEST_KEY_ID`, into the
//! bucket `DIGEST_BUCKET` (docs/audit.md). A failed run is the function's error, which its
//! alarm watches; the next run writes the next digest over the heads as they are then.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ports = &notary::Digester::from_env(&sdk);
    lambda
        .run(service_fn(
            move |_: LambdaEvent<serde_json::Value>| async move {
                let run = digester::run(
                    &ports.heads,
                    &ports.signer,
                    &ports.archive,
                    chrono::Utc::now(),
                )
                .await?;
                Ok::<digester::Run, lambda_runtime::Error>(run)
            },
        ))
        .await
}
