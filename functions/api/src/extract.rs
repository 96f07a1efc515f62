//! Extractors that turn a request into typed input or a problem document, never axum's plain
//! text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use events::AuctionId;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;

/// Bodies above this are refused before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body of type `T`, with the raw bytes it came from (they fingerprint idempotent
/// requests).
#[derive(Debug)]
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Bytes,
}

/// Like [`JsonBody`], but an empty body stands for `T::default()` (`cancel` takes an optional
/// reason; `start` and `buy-now` need no body at all).
#[derive(Debug)]
pub struct OptionalJsonBody<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let raw = read_limited(request).await?;
        let value = parse(&raw)?;
        Ok(Self { value, raw })
    }
}

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let declared_json = is_json(request.headers());
        let raw = read_limited(request).await?;
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self {
                value: T::default(),
                raw,
            });
        }
        if !declared_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let value = parse(&raw)?;
        Ok(Self { value, raw })
    }
}

/// `application/json`, or any `+json` type, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn read_limited(request: Request) -> Result<Bytes, ApiError> {
    read_at_most(request, MAX_BODY_BYTES).await
}

/// The body as it came, refused (413 BODY_TOO_LARGE) beyond `limit` bytes without reading the
/// rest: for routes that read raw bytes, such as a webhook whose signature covers them.
pub async fn read_at_most(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = ApiError::BodyTooLarge { limit };
    // A declared length over the limit is refused without reading a byte.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large);
    }
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large),
        Err(error) => Err(ApiError::MalformedJson(format!(
            "the body could not be read: {error}"
        ))),
    }
}

fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    // serde fills a struct from a JSON array too, field by field in order, so `[5000, null,
    // "EUR"]` would be a bid: every body is an object, and anything else is refused first.
    if raw.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(raw) {
            Ok(_) => ApiError::InvalidBody("the body must be a JSON object".to_owned()),
            Err(error) => ApiError::MalformedJson(error.to_string()),
        });
    }
    serde_json::from_slice(raw).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => ApiError::InvalidBody(error.to_string()),
        _ => ApiError::MalformedJson(error.to_string()),
    })
}

/// The auction id in the path. A malformed id names no auction, so it is a 404 like an
/// unknown one.
#[derive(Debug, Clone, Copy)]
pub struct AuctionPath(pub AuctionId);

impl<S: Send + Sync> FromRequestParts<S> for AuctionPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::auction_not_found())?;
        Uuid::parse_str(&id)
            .map(|id| Self(AuctionId(id)))
            .map_err(|_| ApiError::auction_not_found())
    }
}

/// The `Idempotency-Key` header, if any: `Ok(None)` when absent, an error when malformed.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::InvalidIdempotencyKey)?;
    if is_visible_ascii(text) {
        Ok(Some(text.to_owned()))
    } else {
        Err(ApiError::InvalidIdempotencyKey)
    }
}

/// 1 to 128 printable ASCII characters, no spaces: what clients may choose as keys and
/// correlation ids.
pub fn is_visible_ascii(text: &str) -> bool {
    (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic())
}

/// The query string as `T`; anything it cannot read (an unknown value, a number out of range,
/// a repeated or unknown parameter where `T` denies them) is 400 INVALID_QUERY.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(Self)
            .map_err(|e| ApiError::InvalidQuery(e.to_string()))
    }
}
