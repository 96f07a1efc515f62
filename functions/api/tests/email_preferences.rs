//! Email preferences and unsubscribe links over the router: who gets which emails where, and
//! the signed, expiring link that turns them off without signing in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::testing::{LINK_KEY, TestApp, TestResponse as Reply, start_of_test};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use email::{LocalLinkKey, PreferenceStore, Topic, Unsubscribe};
use serde_json::{Value, json};

const BOB_EMAIL: &str = "bob@example.com";

fn all_off() -> Value {
    json!({"outbid": false, "won": false, "lost": false, "payment": false, "selling": false})
}

fn outbid_and_won() -> Value {
    json!({"outbid": true, "won": true, "lost": false, "payment": false, "selling": false})
}

/// Sends `method path` as `token`'s bearer (or as nobody), with a JSON body if given.
async fn call(
    h: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map_or_else(Body::empty, |body| Body::from(body.to_string()));
    h.send(request.body(body).unwrap()).await
}

/// bob, signed in with a verified address, saves `topics`.
async fn given_bob_saved(h: &TestApp, topics: &Value) -> Reply {
    let token = h.token_with_email("bidder-bob", BOB_EMAIL);
    let reply = call(
        h,
        Method::PUT,
        "/me/notification-preferences",
        Some(&token),
        Some(topics),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply
}

/// An unsubscribe token for bob (his pseudonym, as the notifier signs it) from `topic`.
async fn link_for_bob(h: &TestApp, topic: Option<Topic>, expires_at: DateTime<Utc>) -> String {
    let link = Unsubscribe {
        user: h.pseudonym("bidder-bob").await,
        topic,
        expires_at,
    };
    email::links::sign(&LocalLinkKey::new(LINK_KEY.to_vec()), &link)
        .await
        .unwrap()
}

async fn bobs_preferences(h: &TestApp) -> Value {
    let token = h.token_with_email("bidder-bob", BOB_EMAIL);
    let reply = call(
        h,
        Method::GET,
        "/me/notification-preferences",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.body
}

async fn unsubscribe(h: &TestApp, token: &str) -> Reply {
    call(
        h,
        Method::POST,
        &format!("/unsubscribe?token={token}"),
        None,
        None,
    )
    .await
}

#[tokio::test]
async fn given_a_verified_address_when_a_bidder_saves_topics_then_they_read_back_with_that_address()
{
    // Given bob signed in with a verified address, who never saved preferences
    let h = TestApp::new();
    let before = bobs_preferences(&h).await;
    assert_eq!(before["email"], BOB_EMAIL);
    assert_eq!(before["outbid"], false);
    assert_eq!(before["updatedAt"], Value::Null);

    // When he turns on outbid and won emails
    let saved = given_bob_saved(&h, &outbid_and_won()).await;

    // Then they read back, stamped with the API's time, and the store holds his address
    assert_eq!(saved.body, bobs_preferences(&h).await);
    assert_eq!(
        saved.body,
        json!({"email": BOB_EMAIL, "outbid": true, "won": true, "lost": false,
               "payment": false, "selling": false, "endingSoon": false,
               "updatedAt": "2026-06-01T12:00:00Z"})
    );
    let stored = h
        .email_notices
        .preferences(&h.pseudonym("bidder-bob").await)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.wants(Topic::Outbid) && stored.wants(Topic::Won) && !stored.wants(Topic::Lost));
}

#[tokio::test]
async fn given_no_verified_address_when_a_bidder_turns_emails_on_then_it_is_refused_and_nothing_is_stored()
 {
    // Given cat signed in without a verified address
    let h = TestApp::new();
    let token = h.token("bidder-cat");

    // When she turns on outbid emails
    let reply = call(
        &h,
        Method::PUT,
        "/me/notification-preferences",
        Some(&token),
        Some(&outbid_and_won()),
    )
    .await;

    // Then it is refused, saying why, and nothing is stored
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["code"], "NO_VERIFIED_EMAIL");
    let cat = h.pseudonym("bidder-cat").await;
    assert_eq!(h.email_notices.preferences(&cat).await.unwrap(), None);

    // but turning everything off needs no address
    let reply = call(
        &h,
        Method::PUT,
        "/me/notification-preferences",
        Some(&token),
        Some(&all_off()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.body["email"], Value::Null);
}

#[tokio::test]
async fn a_preferences_body_of_the_wrong_shape_or_without_a_token_is_refused_and_changes_nothing() {
    let h = TestApp::new();
    given_bob_saved(&h, &outbid_and_won()).await;
    let token = h.token_with_email("bidder-bob", BOB_EMAIL);
    for (body, code) in [
        (json!({"outbid": true}), "INVALID_REQUEST"),
        (
            json!({"outbid": "yes", "won": true, "lost": false, "payment": false, "selling": false}),
            "INVALID_REQUEST",
        ),
        (
            json!({"outbid": false, "won": false, "lost": false, "payment": false, "selling": false, "email": "eve@example.com"}),
            "INVALID_REQUEST",
        ),
    ] {
        let reply = call(
            &h,
            Method::PUT,
            "/me/notification-preferences",
            Some(&token),
            Some(&body),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body["code"], code, "{body}");
    }
    let anonymous = call(&h, Method::GET, "/me/notification-preferences", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bobs_preferences(&h).await["outbid"], true);
}

#[tokio::test]
async fn given_an_outbid_link_when_it_is_followed_without_signing_in_then_outbid_emails_stop_and_others_stay()
 {
    // Given bob gets outbid and won emails, and an outbid email's link
    let h = TestApp::new();
    given_bob_saved(&h, &outbid_and_won()).await;
    let token = link_for_bob(
        &h,
        Some(Topic::Outbid),
        start_of_test() + TimeDelta::days(30),
    )
    .await;

    // When the link is followed, by nobody signed in, twice
    let first = unsubscribe(&h, &token).await;
    let again = unsubscribe(&h, &token).await;

    // Then outbid emails are off, won emails stay on, and the second time changed nothing
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.body["topic"], "outbid");
    assert_eq!(
        first.body["message"],
        "You will no longer get emails when you are outbid."
    );
    assert_eq!(again.status, StatusCode::OK);
    let now = bobs_preferences(&h).await;
    assert_eq!(
        (now["outbid"].clone(), now["won"].clone()),
        (json!(false), json!(true))
    );
}

#[tokio::test]
async fn a_one_click_unsubscribe_from_a_mail_client_turns_every_email_off() {
    // Given bob's preferences and a link for every topic
    let h = TestApp::new();
    given_bob_saved(&h, &outbid_and_won()).await;
    let token = link_for_bob(&h, None, start_of_test() + TimeDelta::days(1)).await;

    // When a mail client posts RFC 8058's one-click form to the link
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/unsubscribe?token={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    let reply = h.send(request).await;

    // Then every topic is off
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.body["topic"], "all");
    let now = bobs_preferences(&h).await;
    assert_eq!(
        (now["outbid"].clone(), now["won"].clone()),
        (json!(false), json!(false))
    );
}

#[tokio::test]
async fn a_tampered_link_is_refused_as_invalid_and_changes_nothing() {
    // Given bob's preferences and a genuine link for his outbid emails
    let h = TestApp::new();
    given_bob_saved(&h, &outbid_and_won()).await;
    let genuine = link_for_bob(
        &h,
        Some(Topic::Outbid),
        start_of_test() + TimeDelta::days(30),
    )
    .await;

    // When its claims are swapped for a link to every topic (MAC kept), or its MAC is changed,
    // or it is made under another key, or garbled
    let (_, mac) = genuine.rsplit_once('.').unwrap();
    let every_topic = link_for_bob(&h, None, start_of_test() + TimeDelta::days(30)).await;
    let (signed, _) = every_topic.rsplit_once('.').unwrap();
    let swapped = format!("{signed}.{mac}");
    let flipped = format!(
        "{}{}",
        &genuine[..genuine.len() - 1],
        if genuine.ends_with('A') { 'B' } else { 'A' }
    );
    let elsewhere = email::links::sign(
        &LocalLinkKey::new(b"someone else's key".to_vec()),
        &Unsubscribe {
            user: h.pseudonym("bidder-bob").await,
            topic: None,
            expires_at: start_of_test() + TimeDelta::days(30),
        },
    )
    .await
    .unwrap();

    // Then each is refused as invalid, and bob still gets every email he asked for
    for token in [
        swapped.as_str(),
        flipped.as_str(),
        elsewhere.as_str(),
        "v1.garbage",
        "nonsense",
    ] {
        let reply = unsubscribe(&h, token).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{token}: {}",
            reply.text()
        );
        assert_eq!(reply.body["code"], "UNSUBSCRIBE_LINK_INVALID", "{token}");
    }
    let missing = call(&h, Method::POST, "/unsubscribe", None, None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let now = bobs_preferences(&h).await;
    assert_eq!(
        (now["outbid"].clone(), now["won"].clone()),
        (json!(true), json!(true))
    );
}

#[tokio::test]
async fn an_expired_link_is_refused_as_gone_and_changes_nothing() {
    // Given bob's preferences and a link that expired a second before now
    let h = TestApp::new();
    given_bob_saved(&h, &outbid_and_won()).await;
    let token = link_for_bob(
        &h,
        Some(Topic::Outbid),
        start_of_test() - TimeDelta::seconds(1),
    )
    .await;

    // When it is followed
    let reply = unsubscribe(&h, &token).await;

    // Then it is refused as expired, saying what to do instead, and nothing changed
    assert_eq!(reply.status, StatusCode::GONE, "{}", reply.text());
    assert_eq!(reply.body["code"], "UNSUBSCRIBE_LINK_EXPIRED");
    assert!(reply.body["detail"].as_str().unwrap().contains("sign in"));
    assert_eq!(bobs_preferences(&h).await["outbid"], true);

    // and the same link a moment before it expired would have worked
    h.clock.set(start_of_test() - TimeDelta::seconds(2));
    assert_eq!(unsubscribe(&h, &token).await.status, StatusCode::OK);
}
