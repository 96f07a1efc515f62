//! The WebSocket API's integration: `$connect` (the Cognito token of the query string `token`
//! verified against the user pool's keys), `$default` (each client message, answered in the
//! route response) and `$disconnect`. See `live::gateway`.

use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let ports = &live::config::gateway_from_env().await?;
    lambda
        .run(service_fn(
            |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
                let now = chrono::Utc::now();
                let response = live::gateway::handle(
                    &ports.subscriptions,
                    &ports.verifier,
                    &event.payload,
                    now,
                )
                .await;
                Ok::<_, lambda_runtime::Error>(response)
            },
        ))
        .await
}
