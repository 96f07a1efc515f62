//! What the binaries that run live updates read from the environment.

/// The connections table's name (`LIVE_CONNECTIONS_TABLE`, default `LiveConnections`).
pub fn connections_table() -> String {
    conventions::name_from_env("LIVE_CONNECTIONS_TABLE", "LiveConnections")
}

/// Where the WebSocket stage's management API is (`LIVE_ENDPOINT_URL`): in AWS
/// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`, locally the API server's base
/// URL. `None` when unset.
pub fn endpoint() -> Option<String> {
    std::env::var("LIVE_ENDPOINT_URL")
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The Cognito user pool (`COGNITO_USER_POOL_ID`, `{region}_{id}`) and app client
/// (`COGNITO_CLIENT_ID`) whose tokens `$connect` accepts. Both are required by live-ws-lambda.
pub fn cognito_pool() -> Result<crate::cognito::CognitoPool, String> {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| format!("{name} is not set"))
    };
    let pool_id = env("COGNITO_USER_POOL_ID")?;
    let client_id = env("COGNITO_CLIENT_ID")?;
    crate::cognito::CognitoPool::new(&pool_id, &client_id)
}
