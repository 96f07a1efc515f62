//! What the binaries that run live updates read from the environment.

use std::sync::OnceLock;

use crate::broadcast::{DEFAULT_PUSH_CONCURRENCY, Fanout};

/// The broadcaster's fan-out: at most `LIVE_PUSH_CONCURRENCY` pushes in flight per message
/// (default [`DEFAULT_PUSH_CONCURRENCY`]; unset, blank, zero or not a number is the default),
/// the other settings at their defaults. Read once per process.
pub fn fanout() -> Fanout {
    static FANOUT: OnceLock<Fanout> = OnceLock::new();
    *FANOUT.get_or_init(|| fanout_from(std::env::var("LIVE_PUSH_CONCURRENCY").ok()))
}

/// [`fanout`] from the variable's value.
pub fn fanout_from(concurrency: Option<String>) -> Fanout {
    let concurrency = concurrency
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_PUSH_CONCURRENCY);
    Fanout {
        concurrency,
        ..Fanout::default()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_push_concurrency_defaults_unless_a_positive_number_is_set() {
        assert_eq!(fanout_from(None).concurrency, DEFAULT_PUSH_CONCURRENCY);
        assert_eq!(fanout_from(Some(" 4 ".to_owned())).concurrency, 4);
        for nonsense in ["", "0", "-3", "many"] {
            assert_eq!(
                fanout_from(Some(nonsense.to_owned())).concurrency,
                DEFAULT_PUSH_CONCURRENCY
            );
        }
    }
}
