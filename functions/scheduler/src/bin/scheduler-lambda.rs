//! The scheduler in AWS: a rule invokes it every minute, and each invocation sweeps every
//! `SWEEP_INTERVAL` until just before the next one starts, so that auctions end within a
//! second of their end time (the function's timeout is 70 s; see docs/scheduler.md).

// The sweep's future, with the alias lookup inside the index query, nests deeper than the
// compiler's default layout limit.
#![recursion_limit = "256"]

use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};

/// Sweeping stops this long after the invocation began; the next invocation takes over.
const SWEEP_FOR: Duration = Duration::from_secs(58);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let (store, index, reminders) = &scheduler::from_env().await;
    lambda
        .run(service_fn(
            move |_: LambdaEvent<serde_json::Value>| async move {
                scheduler::sweep_until(
                    store,
                    index,
                    reminders,
                    chrono::Utc::now,
                    tokio::time::sleep(SWEEP_FOR),
                )
                .await;
                Ok::<(), lambda_runtime::Error>(())
            },
        ))
        .await
}
