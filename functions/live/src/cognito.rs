//! Verifying a Cognito user pool token on `$connect`: browsers cannot set headers on a
//! WebSocket, so the client sends its ID or access token as the query string `token`, and the
//! WebSocket Lambda checks it here instead of an API Gateway authorizer.
//!
//! A token is accepted when it is RS256-signed by a key of the pool's JWKS
//! (`https://cognito-idp.{region}.amazonaws.com/{poolId}/.well-known/jwks.json`), its `iss` is
//! the pool, it has not expired (`exp`, 60 s of leeway), and it was issued to the app client:
//! an ID token (`token_use` `id`) by its `aud`, an access token (`token_use` `access`) by its
//! `client_id` — what the HTTP API's JWT authorizer accepts. The user is its `sub`.
//!
//! The JWKS is fetched through the [`FetchJwks`] port (tests need no network) once per
//! execution environment, and again when a token names a key the cached set lacks (Cognito
//! rotated its keys), at most once per [`REFETCH_INTERVAL`] so that tokens with made-up `kid`s
//! cannot make every `$connect` call Cognito.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use events::UserId;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The least time between two fetches of the JWKS caused by unknown key ids.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// How long a JWKS fetch may take before `$connect` gives up.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// A JWKS is a few keys; anything larger is not one.
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Clock skew allowed on `exp`, in seconds.
const LEEWAY_SECS: u64 = 60;

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, badly signed, expired, or not for this pool and client: 401.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The JWKS could not be fetched: the connection is refused (500), the client retries.
    #[error("the user pool's keys could not be fetched: {0}")]
    Unavailable(String),
}

/// Turns a bearer token into the user it identifies.
pub trait Verify: Send + Sync {
    fn verify(&self, token: &str) -> impl Future<Output = Result<UserId, AuthError>> + Send;
}

/// Where a user pool's keys come from.
pub trait FetchJwks: Send + Sync {
    fn fetch(&self, url: &str) -> impl Future<Output = Result<JwkSet, String>> + Send;
}

/// The user pool and app client tokens must come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoPool {
    /// `https://cognito-idp.{region}.amazonaws.com/{poolId}`
    pub issuer: String,
    pub client_id: String,
}

impl CognitoPool {
    /// The pool `pool_id` (`{region}_{id}`, as Cognito names pools: the region is its prefix)
    /// and its app client `client_id`.
    pub fn new(pool_id: &str, client_id: &str) -> Result<Self, String> {
        let region = pool_id
            .split_once('_')
            .map(|(region, _)| region)
            .filter(|region| {
                !region.is_empty()
                    && region
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
            .ok_or_else(|| format!("{pool_id:?} is not a user pool id ({{region}}_{{id}})"))?;
        if client_id.trim().is_empty() {
            return Err("the app client id is empty".to_owned());
        }
        Ok(Self {
            issuer: format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}"),
            client_id: client_id.to_owned(),
        })
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer)
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    token_use: String,
    #[serde(default)]
    aud: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
}

struct Cached {
    keys: JwkSet,
    fetched_at: Instant,
}

/// [`Verify`] against a Cognito user pool's JWKS, cached per execution environment.
pub struct CognitoVerifier<F> {
    pool: CognitoPool,
    fetcher: F,
    refetch_interval: Duration,
    cache: tokio::sync::Mutex<Option<Cached>>,
    // Only for `fetches()` in tests and logs.
    fetches: Mutex<u32>,
}

impl<F: FetchJwks> CognitoVerifier<F> {
    pub fn new(pool: CognitoPool, fetcher: F) -> Self {
        Self {
            pool,
            fetcher,
            refetch_interval: REFETCH_INTERVAL,
            cache: tokio::sync::Mutex::new(None),
            fetches: Mutex::new(0),
        }
    }

    /// Another least time between refetches (tests use zero).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> u32 {
        self.fetches.lock().map(|n| *n).unwrap_or_default()
    }

    async fn fetch(&self) -> Result<Cached, AuthError> {
        if let Ok(mut n) = self.fetches.lock() {
            *n += 1;
        }
        let keys = self
            .fetcher
            .fetch(&self.pool.jwks_url())
            .await
            .map_err(AuthError::Unavailable)?;
        Ok(Cached {
            keys,
            fetched_at: Instant::now(),
        })
    }

    /// The decoding key named `kid`: from the cache, or from a fresh fetch when the cache is
    /// empty, or lacks it and is older than the refetch interval.
    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        let mut cache = self.cache.lock().await;
        let stale = match cache.as_ref() {
            None => true,
            Some(cached) if cached.keys.find(kid).is_some() => false,
            Some(cached) => cached.fetched_at.elapsed() >= self.refetch_interval,
        };
        if stale {
            *cache = Some(self.fetch().await?);
        }
        let jwk = cache
            .as_ref()
            .and_then(|cached| cached.keys.find(kid))
            .ok_or_else(|| AuthError::Invalid(format!("no key {kid:?} in the user pool's JWKS")))?;
        if !matches!(jwk.algorithm, AlgorithmParameters::RSA(_))
            || jwk
                .common
                .key_algorithm
                .is_some_and(|alg| alg != KeyAlgorithm::RS256)
            || jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|usage| *usage != PublicKeyUse::Signature)
        {
            return Err(AuthError::Invalid(format!(
                "key {kid:?} is not an RS256 signing key"
            )));
        }
        DecodingKey::from_jwk(jwk).map_err(|e| AuthError::Invalid(e.to_string()))
    }
}

impl<F: FetchJwks> Verify for CognitoVerifier<F> {
    async fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        let invalid = |e: jsonwebtoken::errors::Error| AuthError::Invalid(e.to_string());
        // Refuses `alg: none` (not an algorithm jsonwebtoken knows) before any key is looked up.
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid(format!(
                "{:?} tokens are not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("the token names no key (kid)".to_owned()))?;
        let key = self.key(&kid).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.pool.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = LEEWAY_SECS;
        // Checked below by token_use: an access token has client_id, not aud.
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(invalid)?
            .claims;
        let client = match claims.token_use.as_str() {
            "id" => claims.aud,
            "access" => claims.client_id,
            other => {
                return Err(AuthError::Invalid(format!(
                    "token_use {other:?} is not id or access"
                )));
            }
        };
        if client.as_deref() != Some(self.pool.client_id.as_str()) {
            return Err(AuthError::Invalid(
                "the token is for another app client".to_owned(),
            ));
        }
        UserId::try_from(claims.sub.as_str()).map_err(|e| AuthError::Invalid(e.to_string()))
    }
}

/// [`FetchJwks`] over HTTPS (rustls with the system's root certificates, HTTP/1.1).
#[derive(Clone)]
pub struct HttpsJwks {
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Empty<Bytes>,
    >,
}

impl HttpsJwks {
    /// Fails when the system has no usable root certificates.
    pub fn new() -> Result<Self, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            // rustls' aws-lc-rs provider, the only one built (as for the AWS SDK).
            .with_native_roots()
            .map_err(|e| format!("no root certificates: {e}"))?
            .https_only()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(Self { client })
    }
}

impl FetchJwks for HttpsJwks {
    async fn fetch(&self, url: &str) -> Result<JwkSet, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let request = async {
            let response = self.client.get(uri).await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("{url} answered {}", response.status()));
            }
            let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            serde_json::from_slice::<JwkSet>(&body).map_err(|e| format!("{url}: not a JWKS: {e}"))
        };
        tokio::time::timeout(FETCH_TIMEOUT, request)
            .await
            .map_err(|_| format!("{url} did not answer within {FETCH_TIMEOUT:?}"))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    use super::*;

    // Two throwaway RSA keys that sign nothing but these tests (`openssl genrsa -traditional
    // 2048`): k1 is in the pool's JWKS from the start, k2 only after a rotation.
    const KEY_1: &str = include_str!("../testdata/cognito-test-key-1.pem");
    const KEY_2: &str = include_str!("../testdata/cognito-test-key-2.pem");
    const POOL_ID: &str = "us-east-1_TestPool1";
    const CLIENT: &str = "test-app-client";
    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1";

    fn encoding_key(pem: &str) -> EncodingKey {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        EncodingKey::from_rsa_der(&STANDARD.decode(body).unwrap())
    }

    fn jwk(pem: &str, kid: &str) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&encoding_key(pem), Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk
    }

    fn set(keys: &[(&str, &str)]) -> JwkSet {
        JwkSet {
            keys: keys.iter().map(|(pem, kid)| jwk(pem, kid)).collect(),
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn id_claims() -> Value {
        json!({
            "sub": "5f2c1a9e-0000-4000-8000-000000000001",
            "iss": ISSUER,
            "aud": CLIENT,
            "token_use": "id",
            "email": "bob@example.com",
            "iat": now() - 10,
            "exp": now() + 3600,
        })
    }

    fn access_claims() -> Value {
        json!({
            "sub": "5f2c1a9e-0000-4000-8000-000000000001",
            "iss": ISSUER,
            "client_id": CLIENT,
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "iat": now() - 10,
            "exp": now() + 3600,
        })
    }

    fn sign(claims: &Value, pem: &str, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &encoding_key(pem)).unwrap()
    }

    fn with(mut claims: Value, field: &str, value: Value) -> Value {
        claims[field] = value;
        claims
    }

    /// Answers each fetch with the next response; the last one repeats.
    struct Responses(Mutex<Vec<Result<JwkSet, String>>>);

    impl Responses {
        fn new(responses: Vec<Result<JwkSet, String>>) -> Self {
            Self(Mutex::new(responses))
        }
    }

    impl FetchJwks for Responses {
        async fn fetch(&self, url: &str) -> Result<JwkSet, String> {
            assert_eq!(url, format!("{ISSUER}/.well-known/jwks.json"));
            let mut responses = self.0.lock().unwrap();
            if responses.len() > 1 {
                responses.remove(0)
            } else {
                responses[0].clone()
            }
        }
    }

    fn verifier(responses: Vec<Result<JwkSet, String>>) -> CognitoVerifier<Responses> {
        CognitoVerifier::new(
            CognitoPool::new(POOL_ID, CLIENT).unwrap(),
            Responses::new(responses),
        )
    }

    fn pool_keys() -> CognitoVerifier<Responses> {
        verifier(vec![Ok(set(&[(KEY_1, "k1")]))])
    }

    fn assert_invalid(result: Result<UserId, AuthError>, why: &str) {
        assert!(
            matches!(result, Err(AuthError::Invalid(_))),
            "{why}: {result:?}"
        );
    }

    #[tokio::test]
    async fn an_id_token_of_the_pool_and_client_is_its_sub() {
        let verifier = pool_keys();

        let user = verifier
            .verify(&sign(&id_claims(), KEY_1, "k1"))
            .await
            .unwrap();

        assert_eq!(user.as_str(), "5f2c1a9e-0000-4000-8000-000000000001");
    }

    #[tokio::test]
    async fn an_access_token_is_checked_by_its_client_id() {
        let verifier = pool_keys();

        assert!(
            verifier
                .verify(&sign(&access_claims(), KEY_1, "k1"))
                .await
                .is_ok()
        );
        let other = with(access_claims(), "client_id", json!("another-client"));
        assert_invalid(
            verifier.verify(&sign(&other, KEY_1, "k1")).await,
            "other client_id",
        );
    }

    #[tokio::test]
    async fn the_keys_are_fetched_once_and_cached() {
        let verifier = pool_keys();

        for _ in 0..3 {
            verifier
                .verify(&sign(&id_claims(), KEY_1, "k1"))
                .await
                .unwrap();
        }

        assert_eq!(verifier.fetches(), 1);
    }

    #[tokio::test]
    async fn expired_tokens_are_refused() {
        let verifier = pool_keys();
        let expired = with(id_claims(), "exp", json!(now() - 3600));

        assert_invalid(
            verifier.verify(&sign(&expired, KEY_1, "k1")).await,
            "expired",
        );
    }

    #[tokio::test]
    async fn another_issuer_audience_or_token_use_is_refused() {
        let verifier = pool_keys();
        let cases = [
            (
                with(
                    id_claims(),
                    "iss",
                    json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"),
                ),
                "another pool",
            ),
            (
                with(id_claims(), "aud", json!("another-client")),
                "another audience",
            ),
            (with(id_claims(), "aud", Value::Null), "no audience"),
            (
                with(id_claims(), "token_use", json!("refresh")),
                "token_use refresh",
            ),
            (
                with(access_claims(), "client_id", Value::Null),
                "access token without client_id",
            ),
        ];
        for (claims, why) in cases {
            assert_invalid(verifier.verify(&sign(&claims, KEY_1, "k1")).await, why);
        }
    }

    #[tokio::test]
    async fn a_token_signed_by_another_key_than_its_kid_names_is_refused() {
        let verifier = verifier(vec![Ok(set(&[(KEY_1, "k1"), (KEY_2, "k2")]))]);

        assert_invalid(
            verifier.verify(&sign(&id_claims(), KEY_2, "k1")).await,
            "wrong key",
        );
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_the_keys_once_after_a_rotation() {
        let verifier = verifier(vec![
            Ok(set(&[(KEY_1, "k1")])),
            Ok(set(&[(KEY_1, "k1"), (KEY_2, "k2")])),
        ])
        .with_refetch_interval(Duration::ZERO);
        verifier
            .verify(&sign(&id_claims(), KEY_1, "k1"))
            .await
            .unwrap();

        let rotated = verifier.verify(&sign(&id_claims(), KEY_2, "k2")).await;

        assert!(rotated.is_ok(), "{rotated:?}");
        assert_eq!(verifier.fetches(), 2);
        // A kid the pool never had: one more fetch, then refused.
        assert_invalid(
            verifier.verify(&sign(&id_claims(), KEY_2, "k9")).await,
            "unknown kid",
        );
        assert_eq!(verifier.fetches(), 3);
    }

    #[tokio::test]
    async fn unknown_kids_refetch_at_most_once_per_interval() {
        let verifier = verifier(vec![
            Ok(set(&[(KEY_1, "k1")])),
            Ok(set(&[(KEY_1, "k1"), (KEY_2, "k2")])),
        ]);
        verifier
            .verify(&sign(&id_claims(), KEY_1, "k1"))
            .await
            .unwrap();

        for kid in ["k2", "k3", "k4"] {
            assert_invalid(verifier.verify(&sign(&id_claims(), KEY_2, kid)).await, kid);
        }

        assert_eq!(verifier.fetches(), 1);
    }

    #[tokio::test]
    async fn alg_none_and_hs256_tokens_are_refused() {
        let verifier = pool_keys();
        let b64 = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT", "kid": "k1"})),
            b64(&id_claims())
        );
        // HS256 keyed with the public modulus: the classic key confusion.
        let AlgorithmParameters::RSA(rsa) = &jwk(KEY_1, "k1").algorithm else {
            panic!("not an RSA key");
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".to_owned());
        let hs256 = jsonwebtoken::encode(
            &header,
            &id_claims(),
            &EncodingKey::from_secret(rsa.n.as_bytes()),
        )
        .unwrap();

        assert_invalid(verifier.verify(&none).await, "alg none");
        assert_invalid(verifier.verify(&hs256).await, "HS256");
        assert_invalid(verifier.verify("not.a.token").await, "garbage");
        assert_invalid(verifier.verify("").await, "empty");
    }

    #[tokio::test]
    async fn unreachable_keys_are_unavailable_not_invalid() {
        let verifier = verifier(vec![Err("connection refused".to_owned())]);

        let result = verifier.verify(&sign(&id_claims(), KEY_1, "k1")).await;

        assert!(
            matches!(result, Err(AuthError::Unavailable(_))),
            "{result:?}"
        );
    }

    #[test]
    fn the_https_client_builds_with_the_systems_roots_and_one_crypto_provider() {
        // No request: only that rustls finds its (aws-lc-rs) provider and root certificates,
        // which would otherwise fail at the first $connect.
        assert!(HttpsJwks::new().is_ok());
    }

    #[test]
    fn the_issuer_and_jwks_url_come_from_the_pool_id() {
        let pool = CognitoPool::new("eu-west-2_AbC123", "client").unwrap();

        assert_eq!(
            pool.issuer,
            "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_AbC123"
        );
        assert_eq!(
            pool.jwks_url(),
            "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_AbC123/.well-known/jwks.json"
        );
        for bad in ["", "nounderscore", "_id", "EU_id", "eu-west-2/x_id"] {
            assert!(CognitoPool::new(bad, "client").is_err(), "{bad}");
        }
        assert!(CognitoPool::new("eu-west-2_AbC123", " ").is_err());
    }
}
