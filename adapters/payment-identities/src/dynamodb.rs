//! The PaymentIdentities table in DynamoDB: pk `userId`; attributes `customerId`,
//! `paymentMethodId`, `cardBrand`, `cardLast4` (written together, the card), `payoutAccountId`
//! and `updatedAt` (RFC 3339, milliseconds, UTC).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, SecondsFormat, Utc};
use events::UserId;

use crate::error::IdentityError;
use crate::ids::{AccountId, CustomerId, PaymentMethodId};
use crate::ports::{CardOnFile, PaymentIdentity, PaymentIdentityLookup, RecordPaymentIdentity};

/// The PaymentIdentities table (`PAYMENT_IDENTITIES_TABLE`, default `PaymentIdentities`).
#[derive(Debug, Clone)]
pub struct DynamoDbPaymentIdentities {
    client: Client,
    table: String,
}

impl DynamoDbPaymentIdentities {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table named by `PAYMENT_IDENTITIES_TABLE`, default `PaymentIdentities`.
    pub fn from_env(client: Client) -> Self {
        Self::new(
            client,
            conventions::names::PAYMENT_IDENTITIES_TABLE.from_env(),
        )
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Sets `values` on the user's item (creating it), and answers the item as it now is.
    async fn set(
        &self,
        user: &UserId,
        values: &[(&str, String)],
        at: DateTime<Utc>,
    ) -> Result<PaymentIdentity, IdentityError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("userId", AttributeValue::S(user.as_str().to_owned()))
            .return_values(ReturnValue::AllNew);
        let mut sets = Vec::with_capacity(values.len() + 1);
        let all = values
            .iter()
            .map(|(name, value)| (*name, value.clone()))
            .chain([("updatedAt", timestamp(at))]);
        for (i, (name, value)) in all.enumerate() {
            sets.push(format!("#a{i} = :v{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":v{i}"), AttributeValue::S(value));
        }
        let output = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
            .map_err(|e| IdentityError::from_dynamodb("UpdateItem", &self.table, &e))?;
        let item = output.attributes.unwrap_or_default();
        identity(&item)
    }
}

type Item = HashMap<String, AttributeValue>;

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn identity(item: &Item) -> Result<PaymentIdentity, IdentityError> {
    let unreadable =
        |field: &str| IdentityError::StoreFailed(format!("an item's {field} is unreadable"));
    let text = |field: &str| match item.get(field) {
        None => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.as_str())),
        Some(_) => Err(unreadable(field)),
    };
    let user_id = text("userId")?
        .and_then(|user| UserId::try_from(user).ok())
        .ok_or_else(|| unreadable("userId"))?;
    let card = match (
        text("customerId")?,
        text("paymentMethodId")?,
        text("cardBrand")?,
        text("cardLast4")?,
    ) {
        (Some(customer), Some(payment_method), Some(brand), Some(last4)) => Some(CardOnFile {
            customer_id: CustomerId::parse(customer).map_err(|_| unreadable("customerId"))?,
            payment_method_id: PaymentMethodId::parse(payment_method)
                .map_err(|_| unreadable("paymentMethodId"))?,
            brand: brand.to_owned(),
            last4: last4.to_owned(),
        }),
        (None, None, None, None) => None,
        _ => return Err(unreadable("card (some of its attributes are missing)")),
    };
    let payout_account_id = text("payoutAccountId")?
        .map(|account| AccountId::parse(account).map_err(|_| unreadable("payoutAccountId")))
        .transpose()?;
    let updated_at = text("updatedAt")?
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| unreadable("updatedAt"))?;
    Ok(PaymentIdentity {
        user_id,
        card,
        payout_account_id,
        updated_at,
    })
}

impl PaymentIdentityLookup for DynamoDbPaymentIdentities {
    async fn get(&self, user: &UserId) -> Result<Option<PaymentIdentity>, IdentityError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("userId", AttributeValue::S(user.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| IdentityError::from_dynamodb("GetItem", &self.table, &e))?;
        found.item.as_ref().map(identity).transpose()
    }
}

impl RecordPaymentIdentity for DynamoDbPaymentIdentities {
    async fn put_payment_method(
        &self,
        user: &UserId,
        card: &CardOnFile,
        at: DateTime<Utc>,
    ) -> Result<PaymentIdentity, IdentityError> {
        self.set(
            user,
            &[
                ("customerId", card.customer_id.to_string()),
                ("paymentMethodId", card.payment_method_id.to_string()),
                ("cardBrand", card.brand.clone()),
                ("cardLast4", card.last4.clone()),
            ],
            at,
        )
        .await
    }

    async fn put_payout_account(
        &self,
        user: &UserId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> Result<PaymentIdentity, IdentityError> {
        self.set(user, &[("payoutAccountId", account.to_string())], at)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.to_owned())
    }

    #[test]
    fn given_an_item_with_a_card_and_an_account_when_read_then_both_come_back() {
        let item = Item::from([
            ("userId".to_owned(), s("bidder-bob")),
            ("customerId".to_owned(), s("cus_1")),
            ("paymentMethodId".to_owned(), s("pm_1")),
            ("cardBrand".to_owned(), s("visa")),
            ("cardLast4".to_owned(), s("4242")),
            ("payoutAccountId".to_owned(), s("acct_1")),
            ("updatedAt".to_owned(), s("2026-06-01T12:00:00.000Z")),
        ]);

        let identity = identity(&item).unwrap();

        assert_eq!(identity.card.unwrap().last4, "4242");
        assert_eq!(identity.payout_account_id.unwrap().as_str(), "acct_1");
    }

    #[test]
    fn given_an_item_with_half_a_card_when_read_then_it_is_unreadable_not_a_card() {
        let item = Item::from([
            ("userId".to_owned(), s("bidder-bob")),
            ("customerId".to_owned(), s("cus_1")),
            ("updatedAt".to_owned(), s("2026-06-01T12:00:00.000Z")),
        ]);

        assert!(matches!(
            identity(&item),
            Err(IdentityError::StoreFailed(_))
        ));
    }
}
