//! What the Lambda main builds once from the environment.
//!
//! - Event store tables: `EVENTS_TABLE`, `SNAPSHOTS_TABLE`, `IDEMPOTENCY_TABLE`.
//! - Saga state table: `PAYMENT_SAGAS_TABLE` (default `PaymentSagas`).
//! - `PAYMENT_COMMISSION_BPS`: the commission in basis points (default 500, i.e. 5 %).
//! - The retry budget ([`Retry`]): `PAYMENT_SAGA_TIMEOUT_MS`, the invocation's length when the
//!   caller names no deadline (default 10 000, the function's timeout; the Lambda uses its
//!   context's deadline instead), and `PAYMENT_SAGA_RETRY_MARGIN_MS`, kept free before the
//!   deadline for the last call and the state write (default 3 000).
//! - The provider and the registry are the simulated ones until a real provider is integrated:
//!   `SIMULATED_PROVIDER_LATENCY_MS` (default 5) and `SIMULATED_DECLINED_BUYERS` (comma-separated
//!   user ids whose charges are declined, for demos of the compensation path).

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use event_store::{DynamoDbStore, SnapshotPolicy, Store, TableNames};
use events::UserId;

use crate::commission::BasisPoints;
use crate::dynamodb::DynamoDbSagaStates;
use crate::error::SagaError;
use crate::handler::Ports;
use crate::ports::{SystemClock, TokioSleep};
use crate::retry::Retry;
use crate::simulated::{Fault, Operation, SimulatedProvider, SimulatedRegistry};

pub const DEFAULT_COMMISSION_BPS: u32 = 500;

/// The ports as the Lambda runs them.
pub type LambdaPorts =
    Ports<DynamoDbStore, SimulatedProvider, SimulatedRegistry, DynamoDbSagaStates>;

/// Builds every port from the standard AWS environment and the variables above.
pub async fn ports_from_env() -> Result<LambdaPorts, SagaError> {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let tables = TableNames::from_env();
    let commission = commission_from(std::env::var("PAYMENT_COMMISSION_BPS").ok())?;
    let retry = retry_from(
        std::env::var("PAYMENT_SAGA_TIMEOUT_MS").ok(),
        std::env::var("PAYMENT_SAGA_RETRY_MARGIN_MS").ok(),
    )?;
    let latency = std::env::var("SIMULATED_PROVIDER_LATENCY_MS")
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(crate::simulated::DEFAULT_LATENCY, Duration::from_millis);
    let payments = SimulatedProvider::new(latency);
    for buyer in std::env::var("SIMULATED_DECLINED_BUYERS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| UserId::try_from(id.trim()).ok())
    {
        payments.inject(Fault::decline(Operation::Charge, "card declined").for_party(&buyer));
    }
    Ok(Ports {
        store: Store::new(
            DynamoDbStore::new(dynamodb.clone(), tables),
            SnapshotPolicy::default(),
        ),
        payments,
        ownership: SimulatedRegistry::new(latency),
        sagas: DynamoDbSagaStates::from_env(dynamodb),
        clock: Arc::new(SystemClock),
        sleep: Arc::new(TokioSleep),
        retry,
        commission,
    })
}

/// The commission rate from its variable's value; unset or blank is the default.
pub fn commission_from(value: Option<String>) -> Result<BasisPoints, SagaError> {
    let value = value.filter(|v| !v.trim().is_empty());
    let Some(value) = value else {
        return BasisPoints::try_from(DEFAULT_COMMISSION_BPS)
            .map_err(|e| SagaError::StateRefused(e.to_string()));
    };
    value
        .trim()
        .parse::<u32>()
        .map_err(|e| e.to_string())
        .and_then(|bps| BasisPoints::try_from(bps).map_err(|e| e.to_string()))
        .map_err(|reason| {
            SagaError::StateRefused(format!("PAYMENT_COMMISSION_BPS={value:?}: {reason}"))
        })
}

/// The retry budget from its variables' values (milliseconds); unset or blank is the default.
/// A margin not below the timeout would leave no time to retry at all: refused.
pub fn retry_from(
    timeout_ms: Option<String>,
    margin_ms: Option<String>,
) -> Result<Retry, SagaError> {
    let millis = |name: &str, value: Option<String>, default: Duration| match value
        .filter(|v| !v.trim().is_empty())
    {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|e| SagaError::StateRefused(format!("{name}={value:?}: {e}"))),
    };
    let defaults = Retry::default();
    let retry = Retry {
        timeout: millis("PAYMENT_SAGA_TIMEOUT_MS", timeout_ms, defaults.timeout)?,
        margin: millis("PAYMENT_SAGA_RETRY_MARGIN_MS", margin_ms, defaults.margin)?,
        ..defaults
    };
    if retry.margin >= retry.timeout {
        return Err(SagaError::StateRefused(format!(
            "PAYMENT_SAGA_RETRY_MARGIN_MS ({:?}) leaves nothing of PAYMENT_SAGA_TIMEOUT_MS ({:?})",
            retry.margin, retry.timeout
        )));
    }
    Ok(retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commission_defaults_to_five_percent_and_rejects_nonsense() {
        assert_eq!(commission_from(None).map(BasisPoints::get).ok(), Some(500));
        assert_eq!(
            commission_from(Some(" ".to_owned()))
                .map(BasisPoints::get)
                .ok(),
            Some(500)
        );
        assert_eq!(
            commission_from(Some("1250".to_owned()))
                .map(BasisPoints::get)
                .ok(),
            Some(1250)
        );
        assert!(commission_from(Some("10001".to_owned())).is_err());
        assert!(commission_from(Some("5%".to_owned())).is_err());
    }

    #[test]
    fn the_retry_budget_defaults_to_ten_seconds_less_three_and_rejects_nonsense() {
        assert_eq!(retry_from(None, None).ok(), Some(Retry::default()));
        let set = retry_from(Some("60000".to_owned()), Some(" 5000 ".to_owned())).ok();
        assert_eq!(
            set.map(|r| (r.timeout, r.margin)),
            Some((Duration::from_secs(60), Duration::from_secs(5)))
        );
        assert!(retry_from(Some("ten".to_owned()), None).is_err());
        assert!(retry_from(Some("3000".to_owned()), Some("3000".to_owned())).is_err());
    }
}
