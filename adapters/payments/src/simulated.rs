//! A payment provider and an ownership registry that live in memory: test doubles (cargo feature
//! `simulated`). The deployed saga records ownership in the Item's ledger ([`crate::ItemLedger`]).
//!
//! They behave as real ones do where the saga's correctness depends on it: every operation is
//! idempotent by key (the same key with the same request returns the first answer, refusals
//! included, and takes no second effect; the same key with a different request is refused), a
//! refund or reversal must name an existing charge or payout and may not exceed it, and calls
//! take time. Failures are injected deterministically per test with [`Fault`]s; nothing here is
//! random. The [`Entry`] ledgers say exactly which effects happened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{AuctionId, Money, UserId};

use crate::error::SagaError;
use crate::ports::{
    Charge, Clock, OwnershipRegistry, OwnershipReversal, OwnershipTransfer, PaymentProvider,
    Payout, PayoutReversal, Receipt, Refund, SystemClock,
};

/// Default latency of every simulated call.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Charge,
    Refund,
    Payout,
    ReversePayout,
    TransferOwnership,
    ReverseTransfer,
}

impl Operation {
    fn prefix(self) -> &'static str {
        match self {
            Operation::Charge => "ch",
            Operation::Refund => "re",
            Operation::Payout => "po",
            Operation::ReversePayout => "pr",
            Operation::TransferOwnership => "ot",
            Operation::ReverseTransfer => "rt",
        }
    }
}

/// What an injected fault does to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Refuse the operation; the refusal is remembered under the key, as a provider does.
    Decline(String),
    /// Fail before taking effect, as an unreachable provider does.
    Unavailable,
    /// Take effect, then fail as if the response had been lost on the way back.
    LoseResponse,
    /// Take effect, then panic: the consumer dies after the provider acted and before it wrote
    /// its state.
    Crash,
}

/// A failure to inject into matching calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub operation: Operation,
    /// Only calls for this party (payer, payee, refunded payer, reversed payee, new owner:
    /// the buyer of a transfer, the seller of its reversal).
    pub party: Option<UserId>,
    pub kind: FaultKind,
    /// How many calls it still affects; `None`: every one.
    pub remaining: Option<u32>,
    /// It affects calls only before this time of the simulation's clock; `None`: for ever.
    pub until: Option<DateTime<Utc>>,
}

impl Fault {
    fn new(operation: Operation, kind: FaultKind) -> Self {
        Self {
            operation,
            party: None,
            kind,
            remaining: None,
            until: None,
        }
    }

    pub fn decline(operation: Operation, reason: &str) -> Self {
        Self::new(operation, FaultKind::Decline(reason.to_owned()))
    }

    pub fn unavailable(operation: Operation) -> Self {
        Self::new(operation, FaultKind::Unavailable)
    }

    pub fn lose_response(operation: Operation) -> Self {
        Self::new(operation, FaultKind::LoseResponse)
    }

    pub fn crash_after(operation: Operation) -> Self {
        Self::new(operation, FaultKind::Crash)
    }

    pub fn for_party(mut self, party: &UserId) -> Self {
        self.party = Some(party.clone());
        self
    }

    pub fn times(mut self, times: u32) -> Self {
        self.remaining = Some(times);
        self
    }

    /// Only calls before `until` on the simulation's clock (see
    /// [`SimulatedProvider::with_clock`]): an outage that ends at a set time.
    pub fn until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }

    fn matches(&self, operation: Operation, party: Option<&UserId>, now: DateTime<Utc>) -> bool {
        self.operation == operation
            && self.party.as_ref().is_none_or(|p| Some(p) == party)
            && self.remaining != Some(0)
            && self.until.is_none_or(|until| now < until)
    }
}

/// One effect that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub operation: Operation,
    pub reference: String,
    pub idempotency_key: String,
    /// Payer, payee, or new owner.
    pub party: UserId,
    /// `None` for an ownership transfer.
    pub amount: Option<Money>,
    /// The charge a refund refunds, the payout a reversal reverses, the auction a charge,
    /// payout or transfer is for.
    pub refers_to: String,
}

/// A request as the simulation sees it: enough to fingerprint it, find its party and check it.
struct Request<'a> {
    operation: Operation,
    key: &'a str,
    /// `None` when a refund or reversal names an effect that does not exist.
    party: Option<UserId>,
    amount: Option<Money>,
    refers_to: String,
}

impl Request<'_> {
    fn fingerprint(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{}",
            self.operation, self.party, self.amount, self.refers_to
        )
    }
}

#[derive(Debug, Clone)]
struct Answer {
    fingerprint: String,
    result: Result<Receipt, String>,
}

#[derive(Debug, Default)]
struct Books {
    answers: HashMap<String, Answer>,
    entries: Vec<Entry>,
    faults: Vec<Fault>,
    calls: HashMap<Operation, u32>,
    issued: u64,
    owners: HashMap<AuctionId, UserId>,
}

impl Books {
    /// The first fault matching the call among `kinds`, used up by one.
    fn take_fault(
        &mut self,
        operation: Operation,
        party: Option<&UserId>,
        now: DateTime<Utc>,
        wanted: impl Fn(&FaultKind) -> bool,
    ) -> Option<FaultKind> {
        let fault = self
            .faults
            .iter_mut()
            .find(|fault| fault.matches(operation, party, now) && wanted(&fault.kind))?;
        if let Some(remaining) = fault.remaining.as_mut() {
            *remaining -= 1;
        }
        Some(fault.kind.clone())
    }

    fn entry(&self, reference: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.reference == reference)
    }

    /// How much of an earlier effect later effects referring to it have already undone.
    fn undone(&self, operation: Operation, reference: &str) -> i64 {
        self.entries
            .iter()
            .filter(|e| e.operation == operation && e.refers_to == reference)
            .filter_map(|e| e.amount.as_ref())
            .map(|amount| amount.amount_minor)
            .sum()
    }
}

/// What happens after the effect, outside the lock.
enum After {
    Answer(Result<Receipt, SagaError>),
    Crash(String),
}

struct Simulation {
    latency: Duration,
    /// What [`Fault::until`] is compared with.
    clock: Arc<dyn Clock>,
    books: Mutex<Books>,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("latency", &self.latency)
            .field("books", &self.books)
            .finish_non_exhaustive()
    }
}

impl Simulation {
    fn new(latency: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            latency,
            clock,
            books: Mutex::new(Books::default()),
        }
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        // A panic while holding the lock (none is raised there) would leave whole values.
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One call: the latency, then everything else atomically, so that two concurrent calls
    /// with one key take one effect between them.
    async fn call(
        &self,
        request: Request<'_>,
        check: impl FnOnce(&Books, &Request<'_>) -> Result<(), String>,
    ) -> Result<Receipt, SagaError> {
        tokio::time::sleep(self.latency).await;
        match self.decide(request, check) {
            After::Answer(answer) => answer,
            After::Crash(message) => panic!("{message}"),
        }
    }

    fn decide(
        &self,
        request: Request<'_>,
        check: impl FnOnce(&Books, &Request<'_>) -> Result<(), String>,
    ) -> After {
        let now = self.clock.now();
        let mut books = self.books();
        let operation = request.operation;
        *books.calls.entry(operation).or_default() += 1;
        if books
            .take_fault(operation, request.party.as_ref(), now, |k| {
                *k == FaultKind::Unavailable
            })
            .is_some()
        {
            return After::Answer(Err(SagaError::Unavailable {
                reason: format!("simulated outage on {operation:?}"),
            }));
        }
        let fingerprint = request.fingerprint();
        if let Some(answer) = books.answers.get(request.key) {
            return After::Answer(if answer.fingerprint == fingerprint {
                answer
                    .result
                    .clone()
                    .map_err(|reason| SagaError::Declined { reason })
            } else {
                Err(SagaError::Declined {
                    reason: format!(
                        "idempotency key {} was used for a different request",
                        request.key
                    ),
                })
            });
        }
        let declined = match books.take_fault(operation, request.party.as_ref(), now, |k| {
            matches!(k, FaultKind::Decline(_))
        }) {
            Some(FaultKind::Decline(reason)) => Err(reason),
            _ => check(&books, &request).and_then(|()| {
                request
                    .party
                    .clone()
                    .ok_or_else(|| format!("no such effect: {}", request.refers_to))
            }),
        };
        let party = match declined {
            Ok(party) => party,
            Err(reason) => {
                books.answers.insert(
                    request.key.to_owned(),
                    Answer {
                        fingerprint,
                        result: Err(reason.clone()),
                    },
                );
                return After::Answer(Err(SagaError::Declined { reason }));
            }
        };

        books.issued += 1;
        let reference = format!("{}_{:06}", operation.prefix(), books.issued);
        if matches!(
            operation,
            Operation::TransferOwnership | Operation::ReverseTransfer
        ) && let Ok(auction) = request.refers_to.parse()
        {
            books.owners.insert(AuctionId(auction), party.clone());
        }
        books.entries.push(Entry {
            operation,
            reference: reference.clone(),
            idempotency_key: request.key.to_owned(),
            party: party.clone(),
            amount: request.amount.clone(),
            refers_to: request.refers_to.clone(),
        });
        let receipt = Receipt { reference };
        books.answers.insert(
            request.key.to_owned(),
            Answer {
                fingerprint,
                result: Ok(receipt.clone()),
            },
        );
        match books.take_fault(operation, Some(&party), now, |k| {
            matches!(k, FaultKind::LoseResponse | FaultKind::Crash)
        }) {
            Some(FaultKind::Crash) => After::Crash(format!(
                "simulated crash after {operation:?} {} took effect",
                receipt.reference
            )),
            Some(_) => After::Answer(Err(SagaError::Unavailable {
                reason: format!("simulated lost response to {operation:?}"),
            })),
            None => After::Answer(Ok(receipt)),
        }
    }
}

/// The simulated payment provider. Clones share one set of books.
#[derive(Debug, Clone)]
pub struct SimulatedProvider {
    simulation: Arc<Simulation>,
}

impl Default for SimulatedProvider {
    fn default() -> Self {
        Self::new(DEFAULT_LATENCY)
    }
}

impl SimulatedProvider {
    pub fn new(latency: Duration) -> Self {
        Self::with_clock(latency, Arc::new(SystemClock))
    }

    /// A provider whose [`Fault::until`] outages end by `clock`: a test's clock, so that an
    /// outage of minutes passes without waiting.
    pub fn with_clock(latency: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            simulation: Arc::new(Simulation::new(latency, clock)),
        }
    }

    /// Every operation of the provider fails as unreachable, taking no effect, until `until` on
    /// its clock.
    pub fn outage_until(&self, until: DateTime<Utc>) -> &Self {
        for operation in [
            Operation::Charge,
            Operation::Refund,
            Operation::Payout,
            Operation::ReversePayout,
        ] {
            self.inject(Fault::unavailable(operation).until(until));
        }
        self
    }

    /// Adds a fault; faults are tried in the order they were added.
    pub fn inject(&self, fault: Fault) -> &Self {
        self.simulation.books().faults.push(fault);
        self
    }

    /// Every effect so far, in order.
    pub fn ledger(&self) -> Vec<Entry> {
        self.simulation.books().entries.clone()
    }

    /// The effects of one kind, in order.
    pub fn entries(&self, operation: Operation) -> Vec<Entry> {
        self.ledger()
            .into_iter()
            .filter(|entry| entry.operation == operation)
            .collect()
    }

    /// How many calls of this kind arrived, replays and refusals included.
    pub fn calls(&self, operation: Operation) -> u32 {
        self.simulation
            .books()
            .calls
            .get(&operation)
            .copied()
            .unwrap_or(0)
    }

    /// What a party has paid net: charges minus refunds.
    pub fn net_paid_by(&self, party: &UserId) -> i64 {
        self.net(party, Operation::Charge, Operation::Refund)
    }

    /// What a party has received net: payouts minus reversals.
    pub fn net_paid_to(&self, party: &UserId) -> i64 {
        self.net(party, Operation::Payout, Operation::ReversePayout)
    }

    fn net(&self, party: &UserId, plus: Operation, minus: Operation) -> i64 {
        self.ledger()
            .iter()
            .filter(|entry| entry.party == *party)
            .map(|entry| {
                let amount = entry.amount.as_ref().map_or(0, |a| a.amount_minor);
                match entry.operation {
                    op if op == plus => amount,
                    op if op == minus => -amount,
                    _ => 0,
                }
            })
            .sum()
    }
}

/// A refund or reversal must name an earlier effect of `original` kind, in its currency, and
/// may not take back more than is left of it.
fn undoes(original: Operation, books: &Books, request: &Request<'_>) -> Result<(), String> {
    let Some(entry) = books
        .entry(&request.refers_to)
        .filter(|e| e.operation == original)
    else {
        return Err(format!("no {original:?} {}", request.refers_to));
    };
    let (Some(original_amount), Some(amount)) = (&entry.amount, &request.amount) else {
        return Err("no amount".to_owned());
    };
    if original_amount.currency != amount.currency {
        return Err(format!(
            "{} is in {}",
            entry.reference, original_amount.currency
        ));
    }
    let left = original_amount.amount_minor - books.undone(request.operation, &entry.reference);
    if amount.amount_minor <= 0 || amount.amount_minor > left {
        return Err(format!(
            "only {left} of {} can be taken back",
            entry.reference
        ));
    }
    Ok(())
}

fn positive(_: &Books, request: &Request<'_>) -> Result<(), String> {
    if request.amount.as_ref().is_some_and(|a| a.amount_minor > 0) {
        Ok(())
    } else {
        Err("amount must be positive".to_owned())
    }
}

impl PaymentProvider for SimulatedProvider {
    async fn charge(&self, charge: &Charge) -> Result<Receipt, SagaError> {
        let request = Request {
            operation: Operation::Charge,
            key: &charge.idempotency_key,
            party: Some(charge.payer.clone()),
            amount: Some(charge.amount.clone()),
            refers_to: charge.auction_id.to_string(),
        };
        self.simulation.call(request, positive).await
    }

    /// The simulator answers every charge at once, so an awaited one is one it knows: paid.
    async fn charge_outcome(&self, reference: &str) -> Result<Receipt, SagaError> {
        match self.party_of(reference) {
            Some(_) => Ok(Receipt {
                reference: reference.to_owned(),
            }),
            None => Err(SagaError::Declined {
                reason: format!("no charge {reference}"),
            }),
        }
    }

    async fn cancel_charge(
        &self,
        _reference: &str,
        _idempotency_key: &str,
    ) -> Result<(), SagaError> {
        Ok(())
    }

    async fn refund(&self, refund: &Refund) -> Result<Receipt, SagaError> {
        let party = self.party_of(&refund.charge_reference);
        let request = Request {
            operation: Operation::Refund,
            key: &refund.idempotency_key,
            party,
            amount: Some(refund.amount.clone()),
            refers_to: refund.charge_reference.clone(),
        };
        self.simulation
            .call(request, |books, request| {
                undoes(Operation::Charge, books, request)
            })
            .await
    }

    async fn payout(&self, payout: &Payout) -> Result<Receipt, SagaError> {
        let request = Request {
            operation: Operation::Payout,
            key: &payout.idempotency_key,
            party: Some(payout.payee.clone()),
            amount: Some(payout.amount.clone()),
            refers_to: payout.auction_id.to_string(),
        };
        self.simulation.call(request, positive).await
    }

    async fn reverse_payout(&self, reversal: &PayoutReversal) -> Result<Receipt, SagaError> {
        let party = self.party_of(&reversal.payout_reference);
        let request = Request {
            operation: Operation::ReversePayout,
            key: &reversal.idempotency_key,
            party,
            amount: Some(reversal.amount.clone()),
            refers_to: reversal.payout_reference.clone(),
        };
        self.simulation
            .call(request, |books, request| {
                undoes(Operation::Payout, books, request)
            })
            .await
    }
}

impl SimulatedProvider {
    /// The party of the effect a refund or reversal refers to.
    fn party_of(&self, reference: &str) -> Option<UserId> {
        self.simulation
            .books()
            .entry(reference)
            .map(|entry| entry.party.clone())
    }
}

/// The simulated ownership registry: who owns each sold item. Clones share one registry.
#[derive(Debug, Clone)]
pub struct SimulatedRegistry {
    simulation: Arc<Simulation>,
}

impl Default for SimulatedRegistry {
    fn default() -> Self {
        Self::new(DEFAULT_LATENCY)
    }
}

impl SimulatedRegistry {
    pub fn new(latency: Duration) -> Self {
        Self::with_clock(latency, Arc::new(SystemClock))
    }

    /// A registry whose [`Fault::until`] outages end by `clock`.
    pub fn with_clock(latency: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            simulation: Arc::new(Simulation::new(latency, clock)),
        }
    }

    pub fn inject(&self, fault: Fault) -> &Self {
        self.simulation.books().faults.push(fault);
        self
    }

    pub fn owner(&self, auction_id: AuctionId) -> Option<UserId> {
        self.simulation.books().owners.get(&auction_id).cloned()
    }

    /// Every transfer that took effect, in order.
    pub fn transfers(&self) -> Vec<Entry> {
        self.entries(Operation::TransferOwnership)
    }

    /// Every reversal of a transfer that took effect, in order.
    pub fn reversals(&self) -> Vec<Entry> {
        self.entries(Operation::ReverseTransfer)
    }

    fn entries(&self, operation: Operation) -> Vec<Entry> {
        self.simulation
            .books()
            .entries
            .iter()
            .filter(|entry| entry.operation == operation)
            .cloned()
            .collect()
    }

    /// How many transfers were asked for, replays and refusals included.
    pub fn calls(&self) -> u32 {
        self.calls_of(Operation::TransferOwnership)
    }

    /// How many calls of this kind (a transfer or a reversal) arrived.
    pub fn calls_of(&self, operation: Operation) -> u32 {
        self.simulation
            .books()
            .calls
            .get(&operation)
            .copied()
            .unwrap_or(0)
    }
}

impl OwnershipRegistry for SimulatedRegistry {
    async fn transfer(&self, transfer: &OwnershipTransfer) -> Result<Receipt, SagaError> {
        let request = Request {
            operation: Operation::TransferOwnership,
            key: &transfer.idempotency_key,
            party: Some(transfer.to.clone()),
            amount: None,
            refers_to: transfer.auction_id.to_string(),
        };
        let from = transfer.from.clone();
        let auction_id = transfer.auction_id;
        self.simulation
            .call(request, move |books, _| {
                match books.owners.get(&auction_id) {
                    // The registry learns an item's first owner from its first sale.
                    Some(owner) if *owner != from => {
                        Err(format!("{auction_id} belongs to {owner}, not {from}"))
                    }
                    _ => Ok(()),
                }
            })
            .await
    }

    async fn reverse(&self, reversal: &OwnershipReversal) -> Result<Receipt, SagaError> {
        let request = Request {
            operation: Operation::ReverseTransfer,
            key: &reversal.idempotency_key,
            party: Some(reversal.to.clone()),
            amount: None,
            refers_to: reversal.auction_id.to_string(),
        };
        let from = reversal.from.clone();
        let auction_id = reversal.auction_id;
        self.simulation
            .call(request, move |books, _| {
                match books.owners.get(&auction_id) {
                    // Only the buyer holding the item by a transfer can give it back.
                    Some(owner) if *owner == from => Ok(()),
                    Some(owner) => Err(format!("{auction_id} belongs to {owner}, not {from}")),
                    None => Err(format!("no transfer of {auction_id} to reverse")),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use events::Currency;
    use uuid::Uuid;

    fn eur(amount: i64) -> Money {
        Money::new(amount, Currency::try_from("EUR").unwrap())
    }

    fn bob() -> UserId {
        UserId::try_from("bob").unwrap()
    }

    fn charge(key: &str, amount: i64) -> Charge {
        Charge {
            idempotency_key: key.to_owned(),
            payer: bob(),
            amount: eur(amount),
            auction_id: AuctionId(Uuid::from_u128(1)),
        }
    }

    fn refund(key: &str, reference: &str, amount: i64) -> Refund {
        Refund {
            idempotency_key: key.to_owned(),
            charge_reference: reference.to_owned(),
            amount: eur(amount),
        }
    }

    #[tokio::test]
    async fn given_a_key_already_used_then_the_first_answer_returns_and_nothing_happens_again() {
        let provider = SimulatedProvider::new(Duration::ZERO);

        let first = provider.charge(&charge("k1", 500)).await.unwrap();
        let again = provider.charge(&charge("k1", 500)).await.unwrap();

        assert_eq!(first, again);
        assert_eq!(provider.entries(Operation::Charge).len(), 1);
        assert_eq!(provider.calls(Operation::Charge), 2);
    }

    #[tokio::test]
    async fn given_a_key_used_for_another_request_then_the_call_is_refused() {
        let provider = SimulatedProvider::new(Duration::ZERO);
        provider.charge(&charge("k1", 500)).await.unwrap();

        let other = provider.charge(&charge("k1", 600)).await;

        assert!(
            matches!(other, Err(SagaError::Declined { .. })),
            "{other:?}"
        );
        assert_eq!(provider.net_paid_by(&bob()), 500);
    }

    #[tokio::test]
    async fn an_outage_until_a_time_fails_every_call_before_it_and_none_after() {
        // Given a provider on a test clock, out until a minute from now
        let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let clock = Arc::new(crate::ports::FixedClock::new(start));
        let provider = SimulatedProvider::with_clock(Duration::ZERO, clock.clone());
        provider.outage_until(start + chrono::TimeDelta::minutes(1));

        // When it is called before and at the end of the outage
        let during = provider.charge(&charge("k1", 500)).await;
        clock.advance(chrono::TimeDelta::seconds(59));
        let still = provider.charge(&charge("k1", 500)).await;
        clock.advance(chrono::TimeDelta::seconds(1));
        let after = provider.charge(&charge("k1", 500)).await;

        // Then it fails without effect until then, and the key works afterwards
        assert!(matches!(during, Err(SagaError::Unavailable { .. })));
        assert!(matches!(still, Err(SagaError::Unavailable { .. })));
        assert!(after.is_ok());
        assert_eq!(provider.entries(Operation::Charge).len(), 1);
    }

    #[tokio::test]
    async fn a_decline_is_remembered_under_its_key_but_an_outage_is_not() {
        let provider = SimulatedProvider::new(Duration::ZERO);
        provider
            .inject(Fault::unavailable(Operation::Charge).times(1))
            .inject(Fault::decline(Operation::Charge, "card declined").times(1));

        let outage = provider.charge(&charge("k1", 500)).await;
        let declined = provider.charge(&charge("k1", 500)).await;
        let still_declined = provider.charge(&charge("k1", 500)).await;
        let other_key = provider.charge(&charge("k2", 500)).await;

        assert!(matches!(outage, Err(SagaError::Unavailable { .. })));
        assert!(matches!(declined, Err(SagaError::Declined { .. })));
        assert!(matches!(still_declined, Err(SagaError::Declined { .. })));
        assert!(other_key.is_ok());
        assert_eq!(provider.entries(Operation::Charge).len(), 1);
    }

    #[tokio::test]
    async fn a_refund_must_name_a_charge_and_cannot_exceed_what_is_left_of_it() {
        let provider = SimulatedProvider::new(Duration::ZERO);
        let charged = provider.charge(&charge("k1", 500)).await.unwrap();

        let unknown = provider.refund(&refund("r0", "ch_999999", 100)).await;
        let too_much = provider
            .refund(&refund("r1", &charged.reference, 501))
            .await;
        let part = provider
            .refund(&refund("r2", &charged.reference, 300))
            .await;
        let rest_and_more = provider
            .refund(&refund("r3", &charged.reference, 201))
            .await;

        assert!(matches!(unknown, Err(SagaError::Declined { .. })));
        assert!(matches!(too_much, Err(SagaError::Declined { .. })));
        assert!(part.is_ok());
        assert!(matches!(rest_and_more, Err(SagaError::Declined { .. })));
        assert_eq!(provider.net_paid_by(&bob()), 200);
    }

    fn transfer(key: &str, from: &str, to: &str) -> OwnershipTransfer {
        OwnershipTransfer {
            idempotency_key: key.to_owned(),
            auction_id: AuctionId(Uuid::from_u128(1)),
            from: UserId::try_from(from).unwrap(),
            to: UserId::try_from(to).unwrap(),
            price: eur(500),
            sale: format!("{}#{to}", Uuid::from_u128(1)),
            correlation_id: "corr".to_owned(),
            causation_id: "event".to_owned(),
        }
    }

    fn reversal(key: &str, from: &str, to: &str) -> OwnershipReversal {
        OwnershipReversal {
            idempotency_key: key.to_owned(),
            auction_id: AuctionId(Uuid::from_u128(1)),
            from: UserId::try_from(from).unwrap(),
            to: UserId::try_from(to).unwrap(),
            sale: format!("{}#{from}", Uuid::from_u128(1)),
            reason: "payout refused".to_owned(),
            correlation_id: "corr".to_owned(),
            causation_id: "event".to_owned(),
        }
    }

    #[tokio::test]
    async fn the_registry_reverses_a_transfer_once_and_only_from_its_holder() {
        let registry = SimulatedRegistry::new(Duration::ZERO);
        let auction = AuctionId(Uuid::from_u128(1));

        let nothing_yet = registry.reverse(&reversal("r0", "bob", "sally")).await;
        registry
            .transfer(&transfer("t1", "sally", "bob"))
            .await
            .unwrap();
        let not_cats = registry.reverse(&reversal("r1", "cat", "sally")).await;
        let back = registry
            .reverse(&reversal("r2", "bob", "sally"))
            .await
            .unwrap();
        let again = registry
            .reverse(&reversal("r2", "bob", "sally"))
            .await
            .unwrap();

        assert!(matches!(nothing_yet, Err(SagaError::Declined { .. })));
        assert!(matches!(not_cats, Err(SagaError::Declined { .. })));
        assert_eq!(back, again);
        assert_eq!(
            registry.owner(auction),
            Some(UserId::try_from("sally").unwrap())
        );
        assert_eq!(registry.transfers().len(), 1);
        assert_eq!(registry.reversals().len(), 1);
        assert_eq!(registry.calls_of(Operation::ReverseTransfer), 4);
    }

    #[tokio::test]
    async fn concurrent_calls_with_one_key_take_one_effect() {
        let provider = SimulatedProvider::new(Duration::from_millis(5));

        let request = charge("k1", 500);
        let (a, b) = tokio::join!(provider.charge(&request), provider.charge(&request));

        assert_eq!(a.unwrap(), b.unwrap());
        assert_eq!(provider.entries(Operation::Charge).len(), 1);
    }
}
