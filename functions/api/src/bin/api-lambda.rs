//! The API behind API Gateway (HTTP API, payload v2): the JWT authorizer has verified the
//! caller, and the router reads its claims from the request context.

use std::sync::Arc;

use api::{App, Authenticator, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let lambda = conventions::lambda::init(env!("CARGO_BIN_NAME"))?;
    // Built once per execution environment, shared by every invocation.
    let adapters = api::config::dynamodb().await?;
    let rate = api::throttle::WriteRate::from_env()?;
    let app =
        App::new(adapters, Arc::new(SystemClock), Authenticator::ApiGateway).with_write_rate(rate);
    lambda
        .run(lambda_http::Adapter::from(api::router(app)))
        .await
}
