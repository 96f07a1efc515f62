//! The WebSocket API's integration: `$connect` (the Cognito token of the query string `token`
//! verified against the user pool's keys), `$default` (each client message, answered in the
//! route response) and `$disconnect`. See `live::gateway`.

use aws_config::BehaviorVersion;
use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use live::cognito::{CognitoVerifier, HttpsJwks};
use live::{DynamoDbSubscriptions, config, gateway};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    conventions::init_json_logging();
    // Built once per execution environment: the clients, and the verifier whose cache of the
    // user pool's keys every invocation shares.
    let pool = config::cognito_pool()?;
    let verifier = CognitoVerifier::new(pool, HttpsJwks::new()?);
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let subscriptions = DynamoDbSubscriptions::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config::connections_table(),
    );
    let (subscriptions, verifier) = (&subscriptions, &verifier);
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            let response =
                gateway::handle(subscriptions, verifier, &event.payload, chrono::Utc::now()).await;
            Ok::<_, lambda_runtime::Error>(response)
        },
    ))
    .await
}
