//! The PaymentIdentities table's in-memory twin, for tests: the same records, and a switch that
//! makes it unavailable as a throttled or unreachable table would be.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use events::UserId;

use crate::error::IdentityError;
use crate::ids::AccountId;
use crate::ports::{CardOnFile, PaymentIdentity, PaymentIdentityLookup, RecordPaymentIdentity};

/// Payment identities in a map keyed by user, as the table is.
#[derive(Debug, Default)]
pub struct InMemoryPaymentIdentities {
    items: Mutex<BTreeMap<UserId, PaymentIdentity>>,
    unavailable: AtomicBool,
}

impl InMemoryPaymentIdentities {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on every call fails with [`IdentityError::StoreUnavailable`] (or, with
    /// `false`, succeeds again).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Every item, for tests that check nothing was written.
    pub fn all(&self) -> Vec<PaymentIdentity> {
        self.items().values().cloned().collect()
    }

    fn items(&self) -> MutexGuard<'_, BTreeMap<UserId, PaymentIdentity>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn available(&self) -> Result<(), IdentityError> {
        if self.unavailable.load(Ordering::SeqCst) {
            Err(IdentityError::StoreUnavailable(
                "the in-memory table is switched off".to_owned(),
            ))
        } else {
            Ok(())
        }
    }

    fn update(
        &self,
        user: &UserId,
        at: DateTime<Utc>,
        change: impl FnOnce(&mut PaymentIdentity),
    ) -> Result<PaymentIdentity, IdentityError> {
        self.available()?;
        let mut items = self.items();
        let item = items
            .entry(user.clone())
            .or_insert_with(|| PaymentIdentity {
                user_id: user.clone(),
                card: None,
                payout_account_id: None,
                updated_at: at,
            });
        change(item);
        item.updated_at = at;
        Ok(item.clone())
    }
}

impl PaymentIdentityLookup for InMemoryPaymentIdentities {
    async fn get(&self, user: &UserId) -> Result<Option<PaymentIdentity>, IdentityError> {
        self.available()?;
        Ok(self.items().get(user).cloned())
    }
}

impl RecordPaymentIdentity for InMemoryPaymentIdentities {
    async fn put_payment_method(
        &self,
        user: &UserId,
        card: &CardOnFile,
        at: DateTime<Utc>,
    ) -> Result<PaymentIdentity, IdentityError> {
        self.update(user, at, |item| item.card = Some(card.clone()))
    }

    async fn put_payout_account(
        &self,
        user: &UserId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> Result<PaymentIdentity, IdentityError> {
        self.update(user, at, |item| {
            item.payout_account_id = Some(account.clone());
        })
    }
}
