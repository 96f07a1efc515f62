//! Who is calling. Identity comes only from the authorizer: API Gateway's JWT authorizer claims
//! in Lambda, or a locally verified HS256 token on the local server. Never from a body or a
//! plain header. The authorizer's `sub` never goes further than the gate: it becomes the
//! caller's pseudonym there (docs/privacy.md), so that commands, the log and the views hold
//! pseudonyms only, and [`crate::reveal`] turns pseudonyms back into user ids in the answers.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use events::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::request::RequestContext;
use personal_data::Pseudonyms;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The caller as the authorizer vouches for them, once through the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The caller's pseudonym (the authorizer's `sub` before the gate).
    pub sub: UserId,
    pub groups: Vec<String>,
    /// The account's email address, when the identity provider verified it (`email` with
    /// `email_verified`): where email notices go. Never logged.
    pub email: Option<String>,
}

/// How the router learns who is calling.
#[derive(Clone)]
pub enum Authenticator {
    /// Behind API Gateway: its JWT authorizer verified the token, and lambda_http put the
    /// request context (with the claims) into the request's extensions.
    ApiGateway,
    /// The local server: verify `Authorization: Bearer <JWT>` ourselves.
    LocalJwt(Arc<LocalJwt>),
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ApiGateway => f.write_str("ApiGateway"),
            // The key stays out of logs.
            Self::LocalJwt(_) => f.write_str("LocalJwt(..)"),
        }
    }
}

/// The local stand-in for the JWT authorizer: HS256 tokens under one shared secret.
pub struct LocalJwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The claims a local token carries: the same names as a Cognito ID token's.
#[derive(Debug, Serialize, Deserialize)]
struct TokenClaims {
    sub: String,
    exp: i64,
    iat: i64,
    #[serde(
        default,
        rename = "cognito:groups",
        skip_serializing_if = "Vec::is_empty"
    )]
    groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}

impl LocalJwt {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A token for `sub`, valid for `ttl` from `now`.
    pub fn mint(
        &self,
        sub: &UserId,
        groups: &[String],
        now: DateTime<Utc>,
        ttl: TimeDelta,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.mint_with_email(sub, None, groups, now, ttl)
    }

    /// As [`LocalJwt::mint`], for an account whose `email` the provider verified.
    pub fn mint_with_email(
        &self,
        sub: &UserId,
        email: Option<&str>,
        groups: &[String],
        now: DateTime<Utc>,
        ttl: TimeDelta,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = TokenClaims {
            sub: sub.as_str().to_owned(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            groups: groups.to_vec(),
            email: email.map(str::to_owned),
            email_verified: email.map(|_| true),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Verifies the signature (HS256 only, so a token cannot pick a weaker algorithm) and the
    /// expiry, and yields the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // Expired is expired: the local server and its tokens share one machine clock.
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<TokenClaims>(token, &self.decoding, &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::Unauthenticated("the token has expired")
                }
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    ApiError::Unauthenticated("the token's signature is invalid")
                }
                _ => ApiError::Unauthenticated("the token is not valid"),
            })?;
        let sub = UserId::try_from(data.claims.sub)
            .map_err(|_| ApiError::Unauthenticated("the token's subject is not a user id"))?;
        let email = data
            .claims
            .email
            .filter(|_| data.claims.email_verified == Some(true));
        Ok(Claims {
            sub,
            groups: data.claims.groups,
            email,
        })
    }
}

/// The claims of an HTTP API (payload v2) request that API Gateway's JWT authorizer let
/// through. API Gateway flattens every claim to a string, so `cognito:groups` arrives as
/// `"[admin seller]"` (or as JSON text when the issuer sent an array).
pub fn claims_from_request_context(context: &RequestContext) -> Option<Claims> {
    // REST API (v1), ALB and other contexts carry no JWT authorizer claims in this shape.
    let RequestContext::ApiGatewayV2(context) = context else {
        return None;
    };
    let claims = &context.authorizer.as_ref()?.jwt.as_ref()?.claims;
    let sub = UserId::try_from(claims.get("sub")?.as_str()).ok()?;
    let groups = claims
        .get("cognito:groups")
        .or_else(|| claims.get("groups"))
        .map(|groups| parse_groups(groups))
        .unwrap_or_default();
    // Cognito's ID token carries both; API Gateway flattens the boolean to "true".
    let email = claims
        .get("email")
        .filter(|_| {
            claims
                .get("email_verified")
                .is_some_and(|verified| verified == "true")
        })
        .cloned();
    Some(Claims { sub, groups, email })
}

/// `["a","b"]` (JSON), `[a b]` (API Gateway's rendering of a list) or `a,b`.
fn parse_groups(text: &str) -> Vec<String> {
    if let Ok(groups) = serde_json::from_str::<Vec<String>>(text) {
        return groups;
    }
    text.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|group| !group.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a request passes on its way in: who is calling, and their pseudonym.
#[derive(Clone)]
pub struct Gate {
    pub authenticator: Authenticator,
    pub pseudonyms: Arc<dyn Pseudonyms>,
}

/// Middleware: establishes the caller's [`Claims`], their `sub` turned into their pseudonym,
/// or answers 401 (503 when the key store cannot be reached).
pub async fn authenticate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    let claims = match &gate.authenticator {
        Authenticator::ApiGateway => request
            .extensions()
            .get::<RequestContext>()
            .and_then(claims_from_request_context)
            .ok_or(ApiError::Unauthenticated("no authorizer claims")),
        Authenticator::LocalJwt(jwt) => bearer_token(&request)
            .ok_or(ApiError::Unauthenticated("a Bearer token is required"))
            .and_then(|token| jwt.verify(token)),
    };
    let claims = match claims {
        // A `sub` shaped like a pseudonym would be taken as that subject's own: refused, so
        // that no identity provider (nor the local demo's free choice of name) can pose as one.
        Ok(claims) if is_reserved(claims.sub.as_str()) => Err(ApiError::Unauthenticated(
            "the token's subject has the shape of a pseudonym, which no user id may have",
        )),
        Ok(mut claims) => match gate.pseudonyms.pseudonym_of(&claims.sub).await {
            Ok(pseudonym) => {
                claims.sub = pseudonym;
                Ok(claims)
            }
            Err(error) => Err(ApiError::from(error)),
        },
        Err(error) => Err(error),
    };
    match claims {
        Ok(claims) => {
            // The pseudonym, not the user id: logs are kept, and must not hold a user id.
            tracing::Span::current().record("sub", claims.sub.as_str());
            request.extensions_mut().insert(claims);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// Whether a `sub` is a pseudonym or an erased marker.
fn is_reserved(sub: &str) -> bool {
    personal_data::token::pseudonym_key(sub).is_some() || personal_data::token::is_erased(sub)
}

fn bearer_token(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Only the authenticate middleware puts claims here; a route without it has no caller.
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .ok_or(ApiError::Unauthenticated("no identity"))
    }
}
