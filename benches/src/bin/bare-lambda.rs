//! The baseline of `scripts/bench lambdas`: a Lambda binary that does nothing but run the
//! runtime (lambda_runtime and tokio, an echo handler), built with the same profile as the
//! platform's functions. What a function's start-up and size add beyond it is the function's
//! own: its clients, its configuration, its code.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, lambda_runtime::Error>(event.payload)
    }))
    .await
}
