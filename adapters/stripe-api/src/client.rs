//! The HTTP client: one pooled hyper client, HTTPS through rustls with the system's roots
//! (plain HTTP for a local emulator), every call bounded by the configured timeout.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Datelike;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

use crate::form::{Params, segment};
use crate::types::{HasId, List};
use crate::{
    Account, Customer, NewTransfer, OffSessionCharge, PaymentIntent, PaymentIntentStatus,
    PaymentMethod, Refund, STRIPE_VERSION, StripeConfig, StripeError, Transfer, TransferReversal,
};

/// Stripe's largest page.
const PAGE_SIZE: u32 = 100;
/// A list longer than this many pages is refused rather than read forever.
const MAX_PAGES: usize = 100;
/// Bigger answers are refused: a page of 100 expanded objects is well under a megabyte.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Stripe's limit on an idempotency key's length.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// The expiry of the cards [`StripeClient::create_card_payment_method`] creates, in years from
/// now.
const TEST_CARD_YEARS_VALID: i32 = 3;

/// A client for Stripe's API (or localstripe). Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct StripeClient {
    inner: Arc<Inner>,
}

struct Inner {
    api_base: String,
    authorization: HeaderValue,
    timeout: Duration,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.inner.api_base)
            .field("secret_key", &"<redacted>")
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

impl StripeClient {
    /// Fails with [`StripeError::Config`] on an API base that is not an `http(s)://host[:port]`
    /// URL, a live key over plain HTTP, an empty key, a zero timeout, or no root certificates.
    pub fn new(config: StripeConfig) -> Result<Self, StripeError> {
        let config_error = |message: String| StripeError::Config { message };
        let api_base = config.api_base.trim().trim_end_matches('/').to_owned();
        let uri: Uri = api_base
            .parse()
            .map_err(|e| config_error(format!("API base {api_base:?}: {e}")))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        if !matches!(scheme, "https" | "http") || uri.host().is_none() {
            return Err(config_error(format!(
                "API base {api_base:?} is not an http(s)://host URL"
            )));
        }
        if uri.path() != "/" && !uri.path().is_empty() {
            return Err(config_error(format!(
                "API base {api_base:?} has a path; give the scheme, host and port only"
            )));
        }
        if scheme == "http" && config.secret_key.is_live() {
            return Err(config_error(format!(
                "a live key is never sent over plain HTTP ({api_base})"
            )));
        }
        if config.secret_key.expose().is_empty() {
            return Err(config_error("the secret key is empty".to_owned()));
        }
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", config.secret_key.expose())).map_err(
                |_| config_error("the secret key is not a valid header value".to_owned()),
            )?;
        authorization.set_sensitive(true);
        if config.timeout.is_zero() {
            return Err(config_error("the timeout is zero".to_owned()));
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| config_error(format!("no root certificates for HTTPS: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            inner: Arc::new(Inner {
                api_base,
                authorization,
                timeout: config.timeout,
                http,
            }),
        })
    }

    /// `STRIPE_API_BASE` (default `https://api.stripe.com`); the key from `STRIPE_SECRET_KEY`,
    /// or in AWS from the Secrets Manager secret named by `STRIPE_SECRET_KEY_ID` (read once, here).
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, StripeError> {
        Self::new(StripeConfig::from_env(sdk).await?)
    }

    /// The API base this client calls.
    pub fn api_base(&self) -> &str {
        &self.inner.api_base
    }

    // ---------------------------------------------------------------------------------------
    // Money

    /// Charges a saved card without the customer present: `POST /v1/payment_intents` with
    /// `confirm=true`, `off_session=true` and `payment_method_types[0]=card` (so that no
    /// redirect-based method, which would need a `return_url`, can be chosen).
    ///
    /// Returns the PaymentIntent when it `succeeded` (or is `processing`, for a method that
    /// settles later). A card that needs the customer (`requires_action`) or was refused
    /// (`requires_payment_method`) is [`StripeError::Declined`], as is Stripe's 402 answer.
    pub async fn charge_off_session(
        &self,
        charge: &OffSessionCharge,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let params = Params::new()
            .add("amount", charge.amount)
            .add("currency", charge.currency.to_ascii_lowercase())
            .add("customer", &charge.customer)
            .add("payment_method", &charge.payment_method)
            .add("payment_method_types[0]", "card")
            .add("confirm", true)
            .add("off_session", true)
            .metadata(
                charge
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
        let intent: PaymentIntent = self
            .post("/v1/payment_intents", &params, idempotency_key)
            .await?;
        declined_unless_paid(intent)
    }

    /// Refunds `amount` of a paid PaymentIntent: `POST /v1/refunds`.
    pub async fn refund_payment_intent(
        &self,
        payment_intent: &str,
        amount: i64,
        metadata: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<Refund, StripeError> {
        let params = Params::new()
            .add("payment_intent", payment_intent)
            .add("amount", amount)
            .metadata(metadata.iter().copied());
        self.post("/v1/refunds", &params, idempotency_key).await
    }

    /// Gives up on a PaymentIntent that is not paid (one left waiting for the customer to
    /// authenticate): `POST /v1/payment_intents/{id}/cancel`. Cancelling a paid one is refused.
    pub async fn cancel_payment_intent(
        &self,
        payment_intent: &str,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let path = format!("/v1/payment_intents/{}/cancel", segment(payment_intent));
        self.post(&path, &Params::new(), idempotency_key).await
    }

    /// Pays a connected account from the platform's balance: `POST /v1/transfers`.
    pub async fn transfer(
        &self,
        transfer: &NewTransfer,
        idempotency_key: &str,
    ) -> Result<Transfer, StripeError> {
        let params = Params::new()
            .add("amount", transfer.amount)
            .add("currency", transfer.currency.to_ascii_lowercase())
            .add("destination", &transfer.destination)
            .add_opt("transfer_group", transfer.transfer_group.as_deref())
            .add_opt("source_transaction", transfer.source_transaction.as_deref())
            .metadata(
                transfer
                    .metadata
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
        self.post("/v1/transfers", &params, idempotency_key).await
    }

    /// Takes `amount` of a transfer back from the connected account:
    /// `POST /v1/transfers/{id}/reversals`.
    pub async fn reverse_transfer(
        &self,
        transfer: &str,
        amount: i64,
        metadata: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<TransferReversal, StripeError> {
        let params = Params::new()
            .add("amount", amount)
            .metadata(metadata.iter().copied());
        let path = format!("/v1/transfers/{}/reversals", segment(transfer));
        self.post(&path, &params, idempotency_key).await
    }

    // ---------------------------------------------------------------------------------------
    // Reads

    /// `GET /v1/customers/{id}`; a deleted customer comes back with `deleted: true`.
    pub async fn customer(&self, id: &str) -> Result<Customer, StripeError> {
        self.get(&format!("/v1/customers/{}", segment(id)), &[])
            .await
    }

    /// `GET /v1/payment_methods/{id}`.
    pub async fn payment_method(&self, id: &str) -> Result<PaymentMethod, StripeError> {
        self.get(&format!("/v1/payment_methods/{}", segment(id)), &[])
            .await
    }

    /// `GET /v1/accounts/{id}`: a connected account.
    pub async fn account(&self, id: &str) -> Result<Account, StripeError> {
        self.get(&format!("/v1/accounts/{}", segment(id)), &[])
            .await
    }

    /// `GET /v1/payment_intents/{id}`.
    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        self.get(&format!("/v1/payment_intents/{}", segment(id)), &[])
            .await
    }

    /// Every PaymentIntent of a customer, all pages: `GET /v1/payment_intents?customer=`.
    pub async fn payment_intents_of_customer(
        &self,
        customer: &str,
    ) -> Result<Vec<PaymentIntent>, StripeError> {
        self.list_all("/v1/payment_intents", ("customer", customer))
            .await
    }

    /// Every refund of a PaymentIntent, all pages: `GET /v1/refunds?payment_intent=`.
    pub async fn refunds_of_payment_intent(
        &self,
        payment_intent: &str,
    ) -> Result<Vec<Refund>, StripeError> {
        self.list_all("/v1/refunds", ("payment_intent", payment_intent))
            .await
    }

    /// Every transfer to a connected account, all pages: `GET /v1/transfers?destination=`.
    pub async fn transfers_to(&self, destination: &str) -> Result<Vec<Transfer>, StripeError> {
        self.list_all("/v1/transfers", ("destination", destination))
            .await
    }

    // ---------------------------------------------------------------------------------------
    // Set-up (demo data and tests)

    /// `POST /v1/customers` with a name.
    pub async fn create_customer(
        &self,
        name: &str,
        idempotency_key: &str,
    ) -> Result<Customer, StripeError> {
        let params = Params::new().add("name", name);
        self.post("/v1/customers", &params, idempotency_key).await
    }

    /// `POST /v1/payment_methods` for one of Stripe's test card numbers (`4242424242424242`,
    /// `4000000000000341` which attaches and then declines, ...), expiring in three years, CVC
    /// 123. Stripe accepts raw card numbers only in test mode and only where the account allows
    /// raw card data; against Stripe proper, attach a test PaymentMethod such as `pm_card_visa`
    /// instead.
    pub async fn create_card_payment_method(
        &self,
        card_number: &str,
        idempotency_key: &str,
    ) -> Result<PaymentMethod, StripeError> {
        let exp_year = chrono::Utc::now().year() + TEST_CARD_YEARS_VALID;
        let params = Params::new()
            .add("type", "card")
            .add("card[number]", card_number)
            .add("card[exp_month]", 12)
            .add("card[exp_year]", exp_year)
            .add("card[cvc]", "123");
        self.post("/v1/payment_methods", &params, idempotency_key)
            .await
    }

    /// `POST /v1/payment_methods/{id}/attach`. A card that Stripe refuses to save (e.g.
    /// `4000000000000002`) is [`StripeError::Declined`].
    pub async fn attach_payment_method(
        &self,
        payment_method: &str,
        customer: &str,
        idempotency_key: &str,
    ) -> Result<PaymentMethod, StripeError> {
        let params = Params::new().add("customer", customer);
        let path = format!("/v1/payment_methods/{}/attach", segment(payment_method));
        self.post(&path, &params, idempotency_key).await
    }

    /// `POST /v1/accounts`: an Express connected account requesting the `card_payments` and
    /// `transfers` capabilities, with the email (when `name_or_email` has an `@`) or the
    /// business name. On Stripe the capabilities become active once the seller finishes
    /// onboarding; the local stack's emulation activates them at once.
    pub async fn create_connected_account(
        &self,
        name_or_email: &str,
        idempotency_key: &str,
    ) -> Result<Account, StripeError> {
        let params = Params::new()
            .add("type", "express")
            .add("capabilities[card_payments][requested]", true)
            .add("capabilities[transfers][requested]", true);
        let params = if name_or_email.contains('@') {
            params.add("email", name_or_email)
        } else {
            params.add("business_profile[name]", name_or_email)
        };
        self.post("/v1/accounts", &params, idempotency_key).await
    }

    // ---------------------------------------------------------------------------------------
    // Transport

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &Params,
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        check_idempotency_key(idempotency_key)?;
        self.call(Method::POST, path, Some(params), Some(idempotency_key))
            .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, StripeError> {
        let path = if query.is_empty() {
            path.to_owned()
        } else {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter())
                .finish();
            format!("{path}?{query}")
        };
        self.call(Method::GET, &path, None, None).await
    }

    /// Every item of a list, following `has_more` with `starting_after`.
    async fn list_all<T: DeserializeOwned + HasId>(
        &self,
        path: &str,
        filter: (&str, &str),
    ) -> Result<Vec<T>, StripeError> {
        let limit = PAGE_SIZE.to_string();
        let mut items: Vec<T> = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut query = vec![filter, ("limit", limit.as_str())];
            let last = items.last().map(|item| item.id().to_owned());
            if let Some(last) = &last {
                query.push(("starting_after", last.as_str()));
            }
            let page: List<T> = self.get(path, &query).await?;
            let empty = page.data.is_empty();
            items.extend(page.data);
            if !page.has_more || empty {
                return Ok(items);
            }
        }
        Err(StripeError::UnexpectedResponse {
            status: 200,
            detail: format!("{path} still has more after {MAX_PAGES} pages"),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        form: Option<&Params>,
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeError> {
        let url = format!("{}{path_and_query}", self.inner.api_base);
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(AUTHORIZATION, self.inner.authorization.clone())
            .header("Stripe-Version", STRIPE_VERSION)
            .header(ACCEPT, "application/json")
            .header(
                USER_AGENT,
                concat!("auction-platform-stripe-api/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let body = match form {
            Some(params) => {
                request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(params.encode()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|e| StripeError::refused(format!("{method} {url}: {e}")))?;
        let exchange =
            async {
                let response = self.inner.http.request(request).await.map_err(|e| {
                    StripeError::Unavailable {
                        reason: format!("{method} {url}: {}", error_chain(&e)),
                    }
                })?;
                let status = response.status().as_u16();
                let request_id = response
                    .headers()
                    .get("request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                    .collect()
                    .await
                    .map_err(|e| StripeError::Unavailable {
                        reason: format!("{method} {url}: reading the answer: {e}"),
                    })?
                    .to_bytes();
                Ok::<_, StripeError>((status, request_id, body))
            };
        let (status, request_id, body) = tokio::time::timeout(self.inner.timeout, exchange)
            .await
            .map_err(|_| StripeError::Unavailable {
                reason: format!("{method} {url}: no answer within {:?}", self.inner.timeout),
            })??;
        tracing::debug!(%method, path = path_and_query, status, request_id, "stripe call");
        if !(200..300).contains(&status) {
            let error = StripeError::from_response(status, &body);
            tracing::info!(%method, path = path_and_query, status, request_id, %error, "stripe refused");
            return Err(error);
        }
        serde_json::from_slice(&body).map_err(|e| StripeError::UnexpectedResponse {
            status,
            detail: format!("{method} {path_and_query}: {e}"),
        })
    }
}

/// A confirmed off-session PaymentIntent that is not paid is a decline.
fn declined_unless_paid(intent: PaymentIntent) -> Result<PaymentIntent, StripeError> {
    let error = intent.last_payment_error.clone();
    let field =
        |f: fn(&crate::PaymentError) -> Option<&String>| error.as_ref().and_then(f).cloned();
    match intent.status {
        PaymentIntentStatus::Succeeded
        | PaymentIntentStatus::Processing
        | PaymentIntentStatus::RequiresCapture => Ok(intent),
        PaymentIntentStatus::RequiresAction => Err(StripeError::Declined {
            code: "authentication_required".to_owned(),
            decline_code: field(|e| e.decline_code.as_ref()),
            message: format!(
                "{} needs the customer to authenticate, which an off-session charge cannot do",
                intent.id
            ),
            payment_intent: Some(intent.id.clone()),
        }),
        PaymentIntentStatus::RequiresPaymentMethod => Err(StripeError::Declined {
            code: field(|e| e.code.as_ref()).unwrap_or_else(|| "card_declined".to_owned()),
            decline_code: field(|e| e.decline_code.as_ref()),
            message: field(|e| e.message.as_ref())
                .unwrap_or_else(|| format!("{} was not paid", intent.id)),
            payment_intent: Some(intent.id.clone()),
        }),
        PaymentIntentStatus::RequiresConfirmation
        | PaymentIntentStatus::Canceled
        | PaymentIntentStatus::Other => Err(StripeError::UnexpectedResponse {
            status: 200,
            detail: format!("{} was confirmed but is {:?}", intent.id, intent.status),
        }),
    }
}

fn check_idempotency_key(key: &str) -> Result<(), StripeError> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(StripeError::refused(format!(
            "an idempotency key must have 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters, not {}",
            key.len()
        )));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StripeError::refused(
            "an idempotency key must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{PaymentError, SecretKey};

    fn config(api_base: &str, key: &str) -> StripeConfig {
        StripeConfig {
            api_base: api_base.to_owned(),
            secret_key: SecretKey::new(key),
            timeout: Duration::from_secs(5),
        }
    }

    fn intent(status: PaymentIntentStatus, error: Option<PaymentError>) -> PaymentIntent {
        PaymentIntent {
            id: "pi_1".to_owned(),
            status,
            amount: 1500,
            currency: "eur".to_owned(),
            customer: Some("cus_1".to_owned()),
            payment_method: Some("pm_1".to_owned()),
            latest_charge: None,
            metadata: Default::default(),
            last_payment_error: error,
        }
    }

    #[tokio::test]
    async fn given_bad_configurations_then_new_refuses_each_with_config() {
        for (base, key) in [
            ("api.stripe.com", "sk_test_1"),
            ("ftp://api.stripe.com", "sk_test_1"),
            ("https://api.stripe.com/v1", "sk_test_1"),
            ("http://127.0.0.1:8420", "sk_live_1"),
            ("https://api.stripe.com", ""),
            ("https://api.stripe.com", "sk_test_1\nX-Evil: 1"),
        ] {
            let error = StripeClient::new(config(base, key)).unwrap_err();

            assert!(
                matches!(error, StripeError::Config { .. }),
                "{base} {key:?}: {error:?}"
            );
            assert!(!error.to_string().contains("sk_live_1"), "{error}");
        }
    }

    #[tokio::test]
    async fn given_https_and_a_local_http_base_then_both_build_and_debug_hides_the_key() {
        let remote =
            StripeClient::new(config("https://api.stripe.com/", "sk_test_secret")).unwrap();
        let local = StripeClient::new(config("http://127.0.0.1:8420", "sk_test_secret")).unwrap();

        assert_eq!(remote.api_base(), "https://api.stripe.com");
        assert_eq!(local.api_base(), "http://127.0.0.1:8420");
        assert!(!format!("{remote:?}").contains("sk_test_secret"));
    }

    #[test]
    fn given_an_intent_left_requiring_action_then_it_is_an_authentication_decline() {
        let error =
            declined_unless_paid(intent(PaymentIntentStatus::RequiresAction, None)).unwrap_err();

        assert!(
            matches!(error, StripeError::Declined { ref code, .. } if code == "authentication_required")
        );
    }

    #[test]
    fn given_an_intent_back_to_requiring_a_payment_method_then_its_last_error_is_the_decline() {
        let error = declined_unless_paid(intent(
            PaymentIntentStatus::RequiresPaymentMethod,
            Some(PaymentError {
                kind: Some("card_error".to_owned()),
                code: Some("card_declined".to_owned()),
                decline_code: Some("insufficient_funds".to_owned()),
                message: Some("Your card has insufficient funds.".to_owned()),
            }),
        ))
        .unwrap_err();

        assert_eq!(
            error,
            StripeError::Declined {
                code: "card_declined".to_owned(),
                decline_code: Some("insufficient_funds".to_owned()),
                message: "Your card has insufficient funds.".to_owned(),
                payment_intent: Some("pi_1".to_owned()),
            }
        );
    }

    #[test]
    fn given_a_succeeded_or_processing_intent_then_it_is_returned() {
        for status in [
            PaymentIntentStatus::Succeeded,
            PaymentIntentStatus::Processing,
        ] {
            assert_eq!(
                declined_unless_paid(intent(status, None)).unwrap().status,
                status
            );
        }
    }

    #[test]
    fn given_bad_idempotency_keys_then_they_are_refused_before_sending() {
        for key in ["", "has space", &"k".repeat(256)] {
            let error = check_idempotency_key(key).unwrap_err();

            assert!(
                matches!(error, StripeError::Invalid { status: None, .. }),
                "{key:?}"
            );
        }
        check_idempotency_key("saga-charge-7f1c").unwrap();
    }
}
