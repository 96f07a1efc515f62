//! Email notices: the caller's preferences, and the unsubscribe link that works without
//! signing in. The preferences are the EmailNotices table's (`email`); the notifier reads them
//! when it emails a notification.

use axum::Json;
use axum::extract::State;
use email::{Preferences, Topic};

use crate::bodies::{
    NotificationPreferences, SetNotificationPreferences, UnsubscribeQuery, Unsubscribed,
};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::identity::Claims;
use crate::problems::Problems;
use crate::{App, Backend};

fn body(preferences: Option<&Preferences>, claims: &Claims) -> NotificationPreferences {
    let wants = |topic| preferences.is_some_and(|p| p.topics.contains(&topic));
    NotificationPreferences {
        email: match preferences {
            Some(saved) => saved.email.clone(),
            None => claims.email.clone(),
        },
        outbid: wants(Topic::Outbid),
        won: wants(Topic::Won),
        lost: wants(Topic::Lost),
        payment: wants(Topic::Payment),
        selling: wants(Topic::Selling),
        ending_soon: wants(Topic::EndingSoon),
        updated_at: preferences.map(|p| p.updated_at),
    }
}

/// What the caller gets by email, and where it goes. Before they save any, every topic is off
/// and the address shown is their account's verified one.
#[utoipa::path(get, path = "/me/notification-preferences", tag = "me",
    responses(
        (status = 200, body = NotificationPreferences),
        Problems<401, 503>,
    ),
    security(("bearer" = [])))]
pub async fn get_preferences<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
) -> Result<Json<NotificationPreferences>, ApiError> {
    let saved = app.email_notices.preferences(&claims.sub).await?;
    Ok(Json(body(saved.as_ref(), &claims)))
}

/// Sets which topics the caller gets emails about; their account's verified address becomes
/// where they go (so signing in with a new verified address and saving moves them there).
/// Turning any topic on needs a verified address (422 NO_VERIFIED_EMAIL); turning all off
/// does not.
#[utoipa::path(put, path = "/me/notification-preferences", tag = "me",
    request_body = SetNotificationPreferences,
    responses(
        (status = 200, description = "Saved", body = NotificationPreferences),
        Problems<400, 401, 413, 415, 422, 429, 503>,
    ),
    security(("bearer" = [])))]
pub async fn put_preferences<B: Backend>(
    State(app): State<App<B>>,
    claims: Claims,
    body: JsonBody<SetNotificationPreferences>,
) -> Result<Json<NotificationPreferences>, ApiError> {
    let wanted = body.value;
    let topics = [
        (Topic::Outbid, wanted.outbid),
        (Topic::Won, wanted.won),
        (Topic::Lost, wanted.lost),
        (Topic::Payment, wanted.payment),
        (Topic::Selling, wanted.selling),
        (Topic::EndingSoon, wanted.ending_soon),
    ]
    .into_iter()
    .filter_map(|(topic, on)| on.then_some(topic))
    .collect::<std::collections::BTreeSet<_>>();
    let email = claims
        .email
        .as_deref()
        .map(email::checked_address)
        .transpose()?;
    if email.is_none() && !topics.is_empty() {
        return Err(ApiError::NoVerifiedEmail);
    }
    let preferences = Preferences {
        email,
        topics,
        updated_at: app.clock.now(),
    };
    app.email_notices.save(&claims.sub, &preferences).await?;
    Ok(Json(self::body(Some(&preferences), &claims)))
}

/// Turns off the emails an unsubscribe link names, without signing in: the link's token is
/// signed and expires 30 days after its email was sent. Also the target of the emails'
/// one-click `List-Unsubscribe` header (RFC 8058), whose form body it ignores. Following a link
/// again changes nothing more.
#[utoipa::path(post, path = "/unsubscribe", tag = "me",
    params(UnsubscribeQuery),
    responses(
        (status = 200, description = "Those emails are off", body = Unsubscribed),
        (status = 400, description = "A problem document; see its `code` (UNSUBSCRIBE_LINK_INVALID: \
            the token is not one of ours, or was changed; INVALID_QUERY: no token). Nothing is \
            changed", body = crate::Problem, content_type = "application/problem+json"),
        (status = 410, description = "A problem document; see its `code` (UNSUBSCRIBE_LINK_EXPIRED: \
            sign in and change the preferences instead). Nothing is changed",
            body = crate::Problem, content_type = "application/problem+json"),
        Problems<503>,
    ))]
pub async fn unsubscribe<B: Backend>(
    State(app): State<App<B>>,
    QueryParams(query): QueryParams<UnsubscribeQuery>,
) -> Result<Json<Unsubscribed>, ApiError> {
    let link = email::links::verify(&*app.link_key, &query.token, app.clock.now()).await?;
    // A user forgotten since has no preferences left: nothing to turn off, and nothing to say.
    app.email_notices
        .unsubscribe(&link.user, link.topic, app.clock.now())
        .await?;
    Ok(Json(match link.topic {
        Some(topic) => Unsubscribed {
            topic: topic.as_str().to_owned(),
            message: format!("You will no longer get emails {}.", topic.describe()),
        },
        None => Unsubscribed {
            topic: "all".to_owned(),
            message: "You will no longer get any emails from us.".to_owned(),
        },
    }))
}
