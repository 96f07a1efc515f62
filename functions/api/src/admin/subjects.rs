//! `POST /admin/subjects/forget`: a user forgotten (crypto-shredding, docs/privacy.md), as
//! `auction-admin forget` does: the tombstone appended to their Subject stream, then their key
//! deleted, so that every value the log, the views and the inbox hold for them reads as
//! `erased:<key id>` from now on. The user id travels in the body, not the path: paths are
//! logged (API Gateway's access logs), bodies are not.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use event_store::CommandContext;
use events::{Actor, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Admin;
use crate::correlation::CorrelationId;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::problems::{Problems, SubjectNotFound};
use crate::{App, Backend};

/// Whom to forget.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgetRequest {
    /// The user's id as the identity provider names them (the token's `sub`).
    #[schema(min_length = 1, max_length = 128, example = "bidder-bob")]
    pub user_id: String,
}

/// A user forgotten.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForgottenBody {
    /// Their key id: the Subject stream the tombstone is in.
    pub subject_id: Uuid,
    /// What every value of theirs reads as from now on, wherever it is shown.
    #[schema(example = "erased:5b1f6c0e-2a4d-4f7e-9c3b-7d8e9f0a1b2c")]
    pub erased_as: String,
    /// The tombstone's version in their stream.
    pub version: u64,
    /// When the tombstone was recorded.
    pub forgotten_at: DateTime<Utc>,
}

#[utoipa::path(post, path = "/admin/subjects/forget", tag = "admin",
    request_body = ForgetRequest,
    responses(
        (status = 200, description = "Forgotten: the tombstone is in the log and the key is deleted", body = ForgottenBody),
        SubjectNotFound,
        Problems<400, 401, 403, 415, 422, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn forget_subject<B: Backend>(
    State(app): State<App<B>>,
    Admin(admin): Admin,
    correlation: CorrelationId,
    body: JsonBody<ForgetRequest>,
) -> Result<Json<ForgottenBody>, ApiError> {
    let user = UserId::try_from(body.value.user_id)
        .map_err(|error| ApiError::InvalidBody(format!("userId: {error}")))?;
    let context = CommandContext {
        command_id: Uuid::new_v4().to_string(),
        correlation_id: correlation.0,
        actor: Actor::User { id: admin.sub },
        idempotency_key: None,
        now: app.clock.now(),
    };
    let forgotten = erasure::forget(
        &app.store,
        app.pseudonyms.as_ref(),
        app.email_notices.as_ref(),
        &user,
        &context,
    )
    .await
    .map_err(|error| match error {
        erasure::ErasureError::SubjectNotFound => ApiError::SubjectNotFound,
        erasure::ErasureError::Store(error) => ApiError::Store(error),
        error => ApiError::KeysUnavailable(error.to_string()),
    })?;
    Ok(Json(ForgottenBody {
        subject_id: forgotten.subject_id.0,
        erased_as: forgotten.erased_as,
        version: forgotten.version,
        forgotten_at: forgotten.forgotten_at,
    }))
}
