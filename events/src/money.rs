use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An ISO 4217 currency code such as `EUR`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

/// The text is not an ISO 4217 currency code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0:?} is not an ISO 4217 currency code")]
pub struct InvalidCurrency(pub String);

impl Currency {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        // from_code is case-sensitive and knows only assigned codes, which is exactly the check.
        match iso_currency::Currency::from_code(&value) {
            Some(_) => Ok(Self(value)),
            None => Err(InvalidCurrency(value)),
        }
    }
}

impl TryFrom<&str> for Currency {
    type Error = InvalidCurrency;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::try_from(value.to_owned())
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of money: integer minor units (cents for EUR, yen for JPY) and a currency.
/// There is no floating point anywhere on the money path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    /// Integer minor units of `currency`.
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (minor units)", self.amount_minor, self.currency)
    }
}

// Written by hand because the derive would describe the unvalidated `String` that serde reads first.
impl JsonSchema for Currency {
    fn schema_name() -> Cow<'static, str> {
        "Currency".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An ISO 4217 currency code such as `EUR`.",
            "type": "string",
            "pattern": "^[A-Z]{3}$"
        })
    }
}
