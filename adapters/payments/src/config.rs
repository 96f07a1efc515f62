//! What the Lambda main (and the local trigger runner) builds once from the environment.
//!
//! - Event store tables: `EVENTS_TABLE`, `SNAPSHOTS_TABLE`, `IDEMPOTENCY_TABLE`; the Items'
//!   ownership ledger is kept in the same store.
//! - Saga state table: `PAYMENT_SAGAS_TABLE` (default `PaymentSagas`).
//! - Who pays and who is paid: `PAYMENT_IDENTITIES_TABLE` (default `PaymentIdentities`).
//! - Stripe: `STRIPE_API_BASE` (default `https://api.stripe.com`; the local stack points it at
//!   localstripe) and the secret key, from the Secrets Manager secret `STRIPE_SECRET_KEY_ID`
//!   names (in AWS, set by the CDK app) or from `STRIPE_SECRET_KEY` (locally). Never logged.
//! - `PAYMENT_COMMISSION_BPS`: the commission in basis points (default 500, i.e. 5 %).
//! - The retry budget ([`Retry`]): `PAYMENT_SAGA_TIMEOUT_MS`, the invocation's length when the
//!   caller names no deadline (default 10 000, the function's timeout; the Lambda uses its
//!   context's deadline instead), and `PAYMENT_SAGA_RETRY_MARGIN_MS`, kept free before the
//!   deadline for the last call and the state write (default 3 000).
//!
//! The simulated provider and registry are test doubles and appear nowhere here
//! (`tests/tests/layers.rs` fails if a deployed crate turns their feature on).

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use event_store::{DynamoDbStore, SnapshotPolicy, Store, TableNames};
use payment_identities::DynamoDbPaymentIdentities;
use stripe_api::StripeClient;

use crate::commission::BasisPoints;
use crate::dynamodb::DynamoDbSagaStates;
use crate::error::SagaError;
use crate::handler::Ports;
use crate::ledger::ItemLedger;
use crate::ports::{Clock, SystemClock, TokioSleep};
use crate::retry::Retry;
use crate::stripe::StripePayments;

pub const DEFAULT_COMMISSION_BPS: u32 = 500;

/// The ports as the Lambda runs them: Stripe for money, the Items' ledger on the event store for
/// ownership, DynamoDB for the saga's state.
pub type LambdaPorts = Ports<
    DynamoDbStore,
    StripePayments<DynamoDbPaymentIdentities>,
    ItemLedger<DynamoDbStore>,
    DynamoDbSagaStates,
>;

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
    let stripe = StripeClient::from_env(&sdk)
        .await
        .map_err(|e| SagaError::StateRefused(format!("configuring Stripe: {e}")))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = || {
        Store::new(
            DynamoDbStore::new(dynamodb.clone(), tables.clone()),
            SnapshotPolicy::default(),
        )
    };
    Ok(Ports {
        store: store(),
        payments: StripePayments::new(
            stripe,
            DynamoDbPaymentIdentities::from_env(dynamodb.clone()),
        ),
        ownership: ItemLedger::new(store(), Arc::clone(&clock)),
        sagas: DynamoDbSagaStates::from_env(dynamodb),
        clock,
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
