//! The answers' pseudonyms turned back into user ids (docs/privacy.md): the log, the views and
//! the inbox hold the callers' pseudonyms, which the gate made from their `sub`
//! ([`crate::identity`]); a JSON answer shows the user ids they name, or `erased:<key id>` for a
//! forgotten subject. Proofs are not revealed: their events must be the bytes the chain hashed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use personal_data::Pseudonyms;

use crate::error::ApiError;

/// Middleware: reveals the pseudonyms of a JSON answer. A failure to read the key store fails
/// the answer (503) rather than show a subject as erased who is not.
pub async fn reveal(
    State(pseudonyms): State<Arc<dyn Pseudonyms>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The answer is ours and already in memory: the handlers build whole bodies.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => return ApiError::ReadFailed(error.to_string()).into_response(),
    };
    match personal_data::reveal_json(pseudonyms.as_ref(), &bytes).await {
        Ok(None) => Response::from_parts(parts, Body::from(bytes)),
        Ok(Some(revealed)) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(revealed))
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}
