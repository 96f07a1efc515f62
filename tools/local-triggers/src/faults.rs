//! Faults a test can switch on in a running runner, as AWS Fault Injection Service does for a
//! Lambda function, from outside its code: each fault is a file in the directory
//! `LOCAL_TRIGGERS_FAULTS_DIR` names, active while the file exists, and is injected by a proxy
//! of the runner's between the binary and a service it calls (`crate::proxy`). The binaries are
//! the deployed ones; only their endpoints differ.
//!
//! - `projector-writes`: every item write of `projector-lambda` to the view tables is answered
//!   as a throttled write (DynamoDB's `ThrottlingException`), until the mapping gives up on the
//!   batch; its reads and the rest of its calls pass.
//! - `payment-provider`: every call of `payment-saga-lambda` to Stripe (localstripe) is answered
//!   503 (a provider outage): charges, refunds, payouts and their reversals.

use std::path::PathBuf;
use std::sync::Arc;

/// The fault that refuses the projector's view writes.
pub const PROJECTOR_WRITES: &str = "projector-writes";
/// The fault that makes the payment provider unavailable to the saga.
pub const PAYMENT_PROVIDER: &str = "payment-provider";

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

    /// Whether any fault can ever be active (a directory is set): the proxies are only started
    /// then, so that a run without faults talks to the services directly.
    pub fn enabled(&self) -> bool {
        self.dir.is_some()
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
