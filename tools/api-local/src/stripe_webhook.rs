//! The local stack's Stripe (localstripe) told where to send its webhooks: this server's
//! `POST /webhooks/stripe`. In AWS, the endpoint is registered once in Stripe's dashboard (or
//! API) with the HTTP API's URL; locally, `api-local --dev` registers itself on localstripe at
//! start: `POST {STRIPE_API_BASE}/_config/webhooks/{id}` with the form `url=...&secret=...` and
//! an `events[]=...` per event type wanted (localstripe's own configuration route, no API key),
//! after which localstripe posts each such event it makes, signed with that secret
//! (`t=<the event's creation>`), about a second after it happened.

use anyhow::{Context, bail};
use axum::http::{Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The id api-local registers its webhook under: a later api-local replaces an earlier one's.
pub const WEBHOOK_ID: &str = "api-local";

/// The path of the webhook route on this server.
pub const WEBHOOK_PATH: &str = "/webhooks/stripe";

/// Whether `api_base` is a Stripe on this machine (the local stack's localstripe), which takes
/// webhook registrations on `/_config/webhooks/{id}`; Stripe itself is never asked.
pub fn is_local(api_base: &str) -> bool {
    api_base.parse::<Uri>().is_ok_and(|uri| {
        uri.scheme_str() == Some("http")
            && matches!(
                uri.host(),
                Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
            )
    })
}

/// The request that registers `url` on the localstripe at `api_base` under `id`, for the events
/// of these types (every event when `events` is empty), signed with `secret`.
pub fn registration(
    api_base: &str,
    id: &str,
    url: &str,
    secret: &str,
    events: &[&str],
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("url", url).append_pair("secret", secret);
    for event in events {
        form.append_pair("events[]", event);
    }
    let form = form.finish();
    let target = format!(
        "{}/_config/webhooks/{}",
        api_base.trim_end_matches('/'),
        form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    );
    Request::builder()
        .method(Method::POST)
        .uri(&target)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .with_context(|| format!("{target} is not a URL"))
}

/// Registers `url` (a webhook route) on the localstripe at `api_base` under `id`, for the events
/// of these types (every event when `events` is empty), to be signed with `secret`. Fails unless
/// localstripe answers 2xx.
pub async fn register(
    api_base: &str,
    id: &str,
    url: &str,
    secret: &str,
    events: &[&str],
) -> anyhow::Result<()> {
    let request = registration(api_base, id, url, secret, events)?;
    let target = request.uri().to_string();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response =
        tokio::time::timeout(std::time::Duration::from_secs(10), client.request(request))
            .await
            .with_context(|| format!("{target} did not answer within 10 s"))?
            .with_context(|| format!("cannot reach {target}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response
            .into_body()
            .collect()
            .await
            .map(|body| String::from_utf8_lossy(&body.to_bytes()).into_owned())
            .unwrap_or_default();
        bail!("{target} answered {status}: {body}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn given_api_bases_then_only_plain_http_on_this_machine_is_local() {
        assert!(is_local("http://127.0.0.1:41234"));
        assert!(is_local("http://localhost:8420/"));
        assert!(is_local("http://[::1]:8420"));
        assert!(!is_local("https://api.stripe.com"));
        assert!(!is_local("https://127.0.0.1:8420"));
        assert!(!is_local("http://stripe.internal:80"));
        assert!(!is_local("not a url"));
    }

    #[tokio::test]
    async fn given_a_url_and_secret_then_the_registration_posts_them_as_a_form_under_the_id() {
        let request = registration(
            "http://127.0.0.1:9/",
            WEBHOOK_ID,
            "http://127.0.0.1:8080/webhooks/stripe",
            "whsec_a+b&c",
            &["payment_intent.succeeded", "payment_intent.canceled"],
        )
        .unwrap();

        assert_eq!(request.method(), Method::POST);
        assert_eq!(
            request.uri().to_string(),
            "http://127.0.0.1:9/_config/webhooks/api-local"
        );
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        assert_eq!(
            form,
            [
                (
                    "url".to_owned(),
                    "http://127.0.0.1:8080/webhooks/stripe".to_owned()
                ),
                ("secret".to_owned(), "whsec_a+b&c".to_owned()),
                ("events[]".to_owned(), "payment_intent.succeeded".to_owned()),
                ("events[]".to_owned(), "payment_intent.canceled".to_owned()),
            ]
        );
    }
}
