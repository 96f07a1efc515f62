//! What the binaries that run live updates read from the environment.

use std::sync::OnceLock;

use std::time::Duration;

use aws_config::BehaviorVersion;
use event_store::{DynamoDbStore, TableNames};
use personal_data::KmsSubjectKeys;

use crate::cognito::{CognitoPool, CognitoVerifier, HttpsJwks};
use crate::dynamodb::DynamoDbSubscriptions;
use crate::push::ManagementApi;

/// How the broadcaster fans one update out to an auction's watchers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fanout {
    /// Pushes (and forgets of gone connections) in flight at once for one message. Watchers of
    /// a popular auction can number thousands; the management API throttles per account.
    pub concurrency: usize,
    /// Rounds of pushes per message: the first to every watcher, each later one only to the
    /// connections whose push failed in the round before.
    pub rounds: u32,
    /// The pause before the second round; it doubles for every later one.
    pub backoff: Duration,
}

/// The bound when `LIVE_PUSH_CONCURRENCY` is unset.
pub const DEFAULT_PUSH_CONCURRENCY: usize = 16;

impl Default for Fanout {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_PUSH_CONCURRENCY,
            rounds: 3,
            backoff: Duration::from_millis(100),
        }
    }
}

/// What the broadcaster's Lambda builds once per execution environment.
pub struct Broadcaster {
    pub subscriptions: DynamoDbSubscriptions,
    pub push: ManagementApi,
    pub log: DynamoDbStore,
    /// Reveals the updates' pseudonyms (`SUBJECT_KEYS_TABLE`, `SUBJECT_KEY_ID`).
    pub pseudonyms: KmsSubjectKeys,
}

/// The broadcaster's ports: the connections table, the management API at `LIVE_ENDPOINT_URL`
/// (required: it cannot push without one), the event store's tables, the subjects' key store.
pub async fn broadcaster_from_env() -> Result<Broadcaster, String> {
    let endpoint = endpoint().ok_or(
        "LIVE_ENDPOINT_URL is not set: the broadcaster pushes through the WebSocket stage's \
         management endpoint, https://{api-id}.execute-api.{region}.amazonaws.com/{stage}",
    )?;
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    Ok(Broadcaster {
        subscriptions: DynamoDbSubscriptions::new(client.clone(), connections_table()),
        push: ManagementApi::new(&sdk, &endpoint),
        log: DynamoDbStore::new(client.clone(), TableNames::from_env()),
        pseudonyms: KmsSubjectKeys::from_env(client, aws_sdk_kms::Client::new(&sdk)),
    })
}

/// What the WebSocket integration's Lambda builds once per execution environment: the
/// connections table, and the verifier whose cache of the user pool's keys every invocation
/// shares.
pub struct Gateway {
    pub subscriptions: DynamoDbSubscriptions,
    pub verifier: CognitoVerifier<HttpsJwks>,
}

/// The WebSocket integration's ports; the user pool is required (see [`cognito_pool`]).
pub async fn gateway_from_env() -> Result<Gateway, String> {
    let verifier = CognitoVerifier::new(cognito_pool()?, HttpsJwks::new()?);
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    Ok(Gateway {
        subscriptions: DynamoDbSubscriptions::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            connections_table(),
        ),
        verifier,
    })
}

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
    conventions::names::LIVE_CONNECTIONS_TABLE.from_env()
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
pub fn cognito_pool() -> Result<CognitoPool, String> {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| format!("{name} is not set"))
    };
    let pool_id = env("COGNITO_USER_POOL_ID")?;
    let client_id = env("COGNITO_CLIENT_ID")?;
    CognitoPool::new(&pool_id, &client_id)
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
