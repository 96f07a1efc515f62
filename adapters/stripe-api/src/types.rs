//! The objects the platform reads from Stripe, with only the fields it relies on, and the
//! requests it builds. Amounts are integer minor units (`i64`), currencies lower-case ISO 4217
//! codes, as Stripe writes them. A field Stripe may expand into an object (`customer`,
//! `latest_charge`, ...) is read as the id either way.
//!
//! `tests/openapi.rs` deserialises Stripe's published example of each object into these types
//! and checks each field against the vendored schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// An off-session charge of a saved card: `POST /v1/payment_intents` with `confirm=true` and
/// `off_session=true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffSessionCharge {
    /// `cus_...`
    pub customer: String,
    /// `pm_...`, attached to `customer`.
    pub payment_method: String,
    /// Minor units, positive.
    pub amount: i64,
    /// ISO 4217; sent lower-case.
    pub currency: String,
    pub metadata: BTreeMap<String, String>,
}

/// A Connect transfer from the platform's balance to a connected account: `POST /v1/transfers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransfer {
    /// Minor units, positive.
    pub amount: i64,
    /// ISO 4217; sent lower-case.
    pub currency: String,
    /// `acct_...`
    pub destination: String,
    /// Groups the transfers of one sale (Stripe's `transfer_group`).
    pub transfer_group: Option<String>,
    /// The charge (`ch_...`, a PaymentIntent's `latest_charge`) that funds it: the transfer may
    /// then be made before the charge's funds are available.
    pub source_transaction: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// `payment_intent`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: PaymentIntentStatus,
    pub amount: i64,
    pub currency: String,
    #[serde(default, deserialize_with = "expandable")]
    pub customer: Option<String>,
    #[serde(default, deserialize_with = "expandable")]
    pub payment_method: Option<String>,
    /// The charge that paid it (`ch_...`); what a transfer's `source_transaction` names.
    #[serde(default, deserialize_with = "expandable")]
    pub latest_charge: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub last_payment_error: Option<PaymentError>,
}

/// A PaymentIntent's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentIntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
    /// A status added after the pinned API version.
    #[serde(other)]
    Other,
}

/// A PaymentIntent's `last_payment_error` (Stripe's `api_errors`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentError {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `refund`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default, deserialize_with = "expandable")]
    pub payment_intent: Option<String>,
    /// `pending`, `succeeded`, `failed`, `canceled` or `requires_action`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: BTreeMap<String, String>,
}

/// `transfer`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Transfer {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default, deserialize_with = "expandable")]
    pub destination: Option<String>,
    /// Whether the whole amount has been reversed.
    pub reversed: bool,
    pub amount_reversed: i64,
    #[serde(default)]
    pub transfer_group: Option<String>,
    /// The charge the transfer is funded from, if any.
    #[serde(default, deserialize_with = "expandable")]
    pub source_transaction: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: BTreeMap<String, String>,
}

/// `transfer_reversal`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TransferReversal {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    /// The reversed transfer's id.
    #[serde(deserialize_with = "expandable_required")]
    pub transfer: String,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: BTreeMap<String, String>,
}

/// `customer`, or `deleted_customer` (then `deleted` is true and the rest empty).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: BTreeMap<String, String>,
}

/// `payment_method`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    /// The customer it is attached to; `None` until attached.
    #[serde(default, deserialize_with = "expandable")]
    pub customer: Option<String>,
    /// `card`, `sepa_debit`, ...
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub card: Option<Card>,
}

/// A card payment method's `card`: what a person recognises it by.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Card {
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

/// `account`: a connected (seller) account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub charges_enabled: bool,
    #[serde(default)]
    pub payouts_enabled: bool,
    #[serde(default)]
    pub capabilities: AccountCapabilities,
}

impl Account {
    /// Whether transfers to this account can succeed: its `transfers` capability is active.
    pub fn can_receive_transfers(&self) -> bool {
        self.capabilities.transfers == Some(CapabilityStatus::Active)
    }
}

/// An account's `capabilities`, the one the platform relies on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AccountCapabilities {
    #[serde(default)]
    pub transfers: Option<CapabilityStatus>,
}

/// A capability's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapabilityStatus {
    Active,
    Inactive,
    Pending,
    #[serde(other)]
    Other,
}

/// One page of a list (`{"object": "list", "data": [...], "has_more": ...}`).
#[derive(Debug, Deserialize)]
pub(crate) struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// What a paged list needs of its items.
pub(crate) trait HasId {
    fn id(&self) -> &str;
}

impl HasId for PaymentIntent {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Refund {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Transfer {
    fn id(&self) -> &str {
        &self.id
    }
}

/// An expandable field: an id, an expanded object with an `id`, or null.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

fn expandable<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(
        Option::<Expandable>::deserialize(deserializer)?.map(|field| match field {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }),
    )
}

fn expandable_required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Expandable::deserialize(deserializer)? {
        Expandable::Id(id) | Expandable::Object { id } => Ok(id),
    }
}

/// Metadata; null reads as empty.
fn metadata<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn given_an_expanded_latest_charge_then_its_id_is_read() {
        // localstripe always expands latest_charge; Stripe does when asked.
        let intent: PaymentIntent = serde_json::from_value(json!({
            "id": "pi_1", "status": "succeeded", "amount": 1500, "currency": "eur",
            "customer": "cus_1", "payment_method": {"id": "pm_1", "object": "payment_method"},
            "latest_charge": {"id": "ch_1", "object": "charge", "amount": 1500},
            "metadata": {"auction_id": "a-1"}, "last_payment_error": null
        }))
        .unwrap();

        assert_eq!(intent.latest_charge.as_deref(), Some("ch_1"));
        assert_eq!(intent.payment_method.as_deref(), Some("pm_1"));
        assert_eq!(intent.status, PaymentIntentStatus::Succeeded);
        assert_eq!(intent.metadata["auction_id"], "a-1");
    }

    #[test]
    fn given_a_status_newer_than_the_pinned_version_then_it_reads_as_other() {
        let intent: PaymentIntent = serde_json::from_value(json!({
            "id": "pi_1", "status": "requires_teleportation", "amount": 1, "currency": "eur"
        }))
        .unwrap();

        assert_eq!(intent.status, PaymentIntentStatus::Other);
    }
}
