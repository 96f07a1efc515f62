//! The reconciler in AWS: an EventBridge schedule invokes it (every 5 minutes by default), and
//! each invocation is one run: the parked items replayed, then the window checked. An
//! invocation with a failed check or repair (or a replay that failed for another reason than
//! its consumer, or a Parked table it could not list) reports an error, which the function's
//! error alarm watches; the next run finds what is still divergent and repairs it then. A replay
//! its consumer failed is not an error: the item stays parked and is replayed by a later run,
//! and the parked-items alarm called a person when it was parked (docs/reconciler.md).

use lambda_runtime::{LambdaEvent, service_fn};
use reconciler::{Reconciled, reconcile};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let deployed = &reconciler::from_env().await?;
    lambda
        .run(service_fn(
            move |_: LambdaEvent<serde_json::Value>| async move {
                let now = chrono::Utc::now();
                let reconciled = reconcile(&deployed.ports, &deployed.settings, now).await?;
                if reconciled.failed > 0 {
                    let failed = reconciled.failed;
                    return Err(format!("{failed} checks or repairs failed; see the log").into());
                }
                Ok::<Reconciled, lambda_runtime::Error>(reconciled)
            },
        ))
        .await
}
