//! The client's configuration and where it comes from: the environment, or in AWS a Secrets
//! Manager secret read once at start-up.

use std::fmt;
use std::time::Duration;

use crate::StripeError;

/// Where the API is (default [`DEFAULT_API_BASE`]); the local stack sets it to localstripe.
pub const API_BASE_VAR: &str = "STRIPE_API_BASE";
/// The secret key itself (`sk_test_...`): local runs and tests.
pub const SECRET_KEY_VAR: &str = "STRIPE_SECRET_KEY";
/// In AWS: the name or ARN of the Secrets Manager secret whose string is the secret key.
pub const SECRET_KEY_ID_VAR: &str = "STRIPE_SECRET_KEY_ID";
/// Stripe's API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// How long one call may take, connection and response body included. Stripe answers in well
/// under a second; a call that takes this long is reported [`StripeError::Unavailable`] and
/// retried by the caller with the same idempotency key.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A Stripe secret (or restricted) key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// A live-mode key (`sk_live_...`, `rk_live_...`): never sent over plain HTTP.
    pub(crate) fn is_live(&self) -> bool {
        self.0.starts_with("sk_live_") || self.0.starts_with("rk_live_")
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What [`crate::StripeClient::new`] needs.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com`, or `http://127.0.0.1:<port>` for localstripe. No trailing path.
    pub api_base: String,
    pub secret_key: SecretKey,
    /// Bounds each call as a whole (connect, send, the whole response).
    pub timeout: Duration,
}

impl StripeConfig {
    /// From the environment: [`API_BASE_VAR`], and the key from [`SECRET_KEY_VAR`] or, when that
    /// is unset, from the Secrets Manager secret named by [`SECRET_KEY_ID_VAR`].
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, StripeError> {
        Self::from_lookup(sdk, |name| std::env::var(name).ok()).await
    }

    /// As [`StripeConfig::from_env`], reading the variables through `lookup` (tests and tools
    /// that hold their environment in a map).
    pub async fn from_lookup(
        sdk: &aws_config::SdkConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StripeError> {
        let api_base =
            non_blank(lookup(API_BASE_VAR)).unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
        let secret_key = secret_from(sdk, &lookup, SECRET_KEY_VAR, SECRET_KEY_ID_VAR).await?;
        Ok(Self {
            api_base,
            secret_key: SecretKey::new(secret_key),
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

/// A variable's value, `None` when unset or blank.
fn non_blank(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// A secret from the variable `value_var` itself, else from the Secrets Manager secret that the
/// variable `id_var` names.
pub(crate) async fn secret_from(
    sdk: &aws_config::SdkConfig,
    lookup: &dyn Fn(&str) -> Option<String>,
    value_var: &str,
    id_var: &str,
) -> Result<String, StripeError> {
    if let Some(value) = non_blank(lookup(value_var)) {
        return Ok(value);
    }
    let Some(secret_id) = non_blank(lookup(id_var)) else {
        return Err(StripeError::Config {
            message: format!("neither {value_var} nor {id_var} is set"),
        });
    };
    read_secret(sdk, &secret_id)
        .await
        .map_err(|message| StripeError::Config {
            message: format!("reading the secret {secret_id} ({id_var}): {message}"),
        })
}

async fn read_secret(sdk: &aws_config::SdkConfig, secret_id: &str) -> Result<String, String> {
    let output = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())?;
    output
        .secret_string()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "the secret has no SecretString".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_secret_key_when_formatted_then_neither_debug_nor_display_shows_it() {
        let key = SecretKey::new("sk_test_4eC39HqLyjWDarjtT1zdp7dc");
        let config = StripeConfig {
            api_base: DEFAULT_API_BASE.to_owned(),
            secret_key: key.clone(),
            timeout: DEFAULT_TIMEOUT,
        };

        for shown in [
            format!("{key:?}"),
            format!("{key}"),
            format!("{key:#?}"),
            format!("{config:?}"),
        ] {
            assert!(!shown.contains("4eC39"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }

    #[test]
    fn given_live_and_test_keys_then_only_live_ones_count_as_live() {
        assert!(SecretKey::new("sk_live_x").is_live());
        assert!(SecretKey::new("rk_live_x").is_live());
        assert!(!SecretKey::new("sk_test_x").is_live());
    }
}
