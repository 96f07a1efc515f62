//! A test double of the payment provider (cargo feature `testing`): [`InMemoryProvider`] knows
//! the customers, payment methods and connected accounts a test created in it and checks ids
//! against them with Stripe's rules, so that the API's tests register identities through the
//! real routes. Nothing deployed wires it: a deployed API checks with Stripe
//! ([`crate::StripeChecker`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::IdentityError;
use crate::ids::{AccountId, CustomerId, MalformedId, PaymentMethodId};
use crate::ports::{CardOnFile, CheckWithProvider};

#[derive(Debug, Clone)]
struct KnownPaymentMethod {
    customer: Option<CustomerId>,
    /// `card`, `sepa_debit`, ...
    kind: String,
    brand: String,
    last4: String,
}

#[derive(Debug, Default)]
struct Known {
    next: u64,
    customers: BTreeSet<CustomerId>,
    payment_methods: BTreeMap<PaymentMethodId, KnownPaymentMethod>,
    /// Each account and whether it can receive transfers.
    accounts: BTreeMap<AccountId, bool>,
}

impl Known {
    fn next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

/// The provider's objects, in memory; ids are issued as Stripe issues them (`cus_`, `pm_`,
/// `acct_` and a counter).
#[derive(Debug, Default)]
pub struct InMemoryProvider {
    known: Mutex<Known>,
    unavailable: AtomicBool,
    checks: AtomicUsize,
}

fn issued<T>(parse: fn(&str) -> Result<T, MalformedId>, text: String) -> T {
    match parse(&text) {
        Ok(id) => id,
        Err(error) => panic!("the in-memory provider issued a malformed id {text}: {error}"),
    }
}

impl InMemoryProvider {
    pub fn new() -> Self {
        Self::default()
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new customer.
    pub fn create_customer(&self) -> CustomerId {
        let mut known = self.known();
        let id = issued(CustomerId::parse, format!("cus_test{}", known.next()));
        known.customers.insert(id.clone());
        id
    }

    /// A new payment method of `kind` (`card`, `sepa_debit`), attached to `customer` if given.
    pub fn create_payment_method(
        &self,
        kind: &str,
        customer: Option<&CustomerId>,
    ) -> PaymentMethodId {
        let mut known = self.known();
        let id = issued(PaymentMethodId::parse, format!("pm_test{}", known.next()));
        known.payment_methods.insert(
            id.clone(),
            KnownPaymentMethod {
                customer: customer.cloned(),
                kind: kind.to_owned(),
                brand: "visa".to_owned(),
                last4: "4242".to_owned(),
            },
        );
        id
    }

    /// A new customer with a Visa ending 4242 attached: ids that pass the check.
    pub fn create_card_on_file(&self) -> (CustomerId, PaymentMethodId) {
        let customer = self.create_customer();
        let card = self.create_payment_method("card", Some(&customer));
        (customer, card)
    }

    /// A new connected account, able to receive transfers or not.
    pub fn create_connected_account(&self, transfers: bool) -> AccountId {
        let mut known = self.known();
        let id = issued(AccountId::parse, format!("acct_test{}", known.next()));
        known.accounts.insert(id.clone(), transfers);
        id
    }

    /// From now on every check fails with [`IdentityError::ProviderUnavailable`] (or, with
    /// `false`, is answered again).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// How many checks reached the provider.
    pub fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }

    fn reached(&self) -> Result<(), IdentityError> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if self.unavailable.load(Ordering::SeqCst) {
            Err(IdentityError::ProviderUnavailable(
                "the in-memory provider is switched off".to_owned(),
            ))
        } else {
            Ok(())
        }
    }
}

impl CheckWithProvider for InMemoryProvider {
    async fn check_payment_method(
        &self,
        customer: &CustomerId,
        payment_method: &PaymentMethodId,
    ) -> Result<CardOnFile, IdentityError> {
        self.reached()?;
        let known = self.known();
        if !known.customers.contains(customer) {
            return Err(IdentityError::CustomerNotFound(customer.clone()));
        }
        let found = known
            .payment_methods
            .get(payment_method)
            .ok_or_else(|| IdentityError::PaymentMethodNotFound(payment_method.clone()))?;
        if found.kind != "card" {
            return Err(IdentityError::NotACard {
                payment_method: payment_method.clone(),
                kind: found.kind.clone(),
            });
        }
        if found.customer.as_ref() != Some(customer) {
            return Err(IdentityError::NotAttached {
                payment_method: payment_method.clone(),
                customer: customer.clone(),
            });
        }
        Ok(CardOnFile {
            customer_id: customer.clone(),
            payment_method_id: payment_method.clone(),
            brand: found.brand.clone(),
            last4: found.last4.clone(),
        })
    }

    async fn check_payout_account(&self, account: &AccountId) -> Result<(), IdentityError> {
        self.reached()?;
        match self.known().accounts.get(account) {
            None => Err(IdentityError::AccountNotFound(account.clone())),
            Some(false) => Err(IdentityError::AccountCannotReceiveTransfers {
                account: account.clone(),
                reason: "its transfers capability is not active".to_owned(),
            }),
            Some(true) => Ok(()),
        }
    }
}
