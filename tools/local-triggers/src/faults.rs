//! Faults a test can switch on in a running runner, as AWS Fault Injection Service does for a
//! Lambda function: each fault is a file in the directory `LOCAL_TRIGGERS_FAULTS_DIR` names,
//! active while the file exists. Only the local runner has this; no deployed function does.
//!
//! - `projector-writes`: every write of the projector to the views fails as unavailable, as
//!   when its table is throttled or unreachable, until the mapping gives up on the batch.
//! - `payment-provider`: every call of the payment saga to the payment provider fails as
//!   unavailable (a provider outage): charges, refunds, payouts and their reversals.

use std::path::PathBuf;
use std::sync::Arc;

use events::AuctionId;
use payments::ports::{Charge, Payout, PayoutReversal, Receipt, Refund};
use payments::{PaymentProvider, SagaError};
use read_models::{AuctionProjection, Projections, ProjectorError, UserBid, Written};

/// Where the fault files are; no directory means no faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    dir: Option<Arc<PathBuf>>,
}

impl Faults {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(Arc::new(dir.into())),
        }
    }

    /// From `LOCAL_TRIGGERS_FAULTS_DIR`; none when it is unset.
    pub fn from_env() -> Self {
        std::env::var_os("LOCAL_TRIGGERS_FAULTS_DIR")
            .filter(|dir| !dir.is_empty())
            .map_or_else(Self::default, Self::new)
    }

    pub fn active(&self, fault: &str) -> bool {
        self.dir
            .as_ref()
            .is_some_and(|dir| dir.join(fault).exists())
    }
}

/// The projector's views, with `projector-writes` injectable.
pub struct FaultyProjections<P> {
    pub inner: P,
    pub faults: Faults,
}

impl<P: Projections> FaultyProjections<P> {
    fn refuse_write(&self) -> Result<(), ProjectorError> {
        if self.faults.active("projector-writes") {
            Err(ProjectorError::Unavailable(
                "injected fault projector-writes".to_owned(),
            ))
        } else {
            Ok(())
        }
    }
}

impl<P: Projections> Projections for FaultyProjections<P> {
    async fn load(
        &self,
        auction_id: AuctionId,
    ) -> Result<Option<AuctionProjection>, ProjectorError> {
        self.inner.load(auction_id).await
    }

    async fn put_projection(
        &self,
        projection: &AuctionProjection,
    ) -> Result<Written, ProjectorError> {
        self.refuse_write()?;
        self.inner.put_projection(projection).await
    }

    async fn put_user_bid(&self, row: &UserBid) -> Result<Written, ProjectorError> {
        self.refuse_write()?;
        self.inner.put_user_bid(row).await
    }
}

/// The payment saga's provider, with `payment-provider` injectable.
pub struct FaultyProvider<P> {
    pub inner: P,
    pub faults: Faults,
}

impl<P: PaymentProvider> FaultyProvider<P> {
    fn refuse_call(&self) -> Result<(), SagaError> {
        if self.faults.active("payment-provider") {
            Err(SagaError::Unavailable {
                reason: "injected fault payment-provider".to_owned(),
            })
        } else {
            Ok(())
        }
    }
}

impl<P: PaymentProvider> PaymentProvider for FaultyProvider<P> {
    async fn charge(&self, charge: &Charge) -> Result<Receipt, SagaError> {
        self.refuse_call()?;
        self.inner.charge(charge).await
    }

    async fn charge_outcome(&self, reference: &str) -> Result<Receipt, SagaError> {
        self.refuse_call()?;
        self.inner.charge_outcome(reference).await
    }

    async fn cancel_charge(&self, reference: &str, idempotency_key: &str) -> Result<(), SagaError> {
        self.refuse_call()?;
        self.inner.cancel_charge(reference, idempotency_key).await
    }

    async fn refund(&self, refund: &Refund) -> Result<Receipt, SagaError> {
        self.refuse_call()?;
        self.inner.refund(refund).await
    }

    async fn payout(&self, payout: &Payout) -> Result<Receipt, SagaError> {
        self.refuse_call()?;
        self.inner.payout(payout).await
    }

    async fn reverse_payout(&self, reversal: &PayoutReversal) -> Result<Receipt, SagaError> {
        self.refuse_call()?;
        self.inner.reverse_payout(reversal).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_fault_is_active_while_its_file_exists_and_never_without_a_directory() {
        let dir = std::env::temp_dir().join(format!("faults-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let faults = Faults::new(&dir);

        assert!(!faults.active("projector-writes"));
        std::fs::write(dir.join("projector-writes"), "").unwrap();
        assert!(faults.active("projector-writes"));
        assert!(!Faults::default().active("projector-writes"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
