//! The API Gateway WebSocket API's integration (`live-ws-lambda`): one function behind the
//! routes `$connect`, `$disconnect` and `$default`. The route selection expression is
//! `$request.body.action`, but no route is keyed by an action, so every client message (and
//! one that is not JSON at all) arrives on `$default`, where the protocol parses it.
//!
//! - `$connect`: the caller's Cognito token, from the query string `token` (browsers cannot set
//!   headers on a WebSocket), is verified ([`crate::cognito`]); the connection is recorded with
//!   its `sub`. Anything but 200 makes API Gateway refuse the connection: 401 without a valid
//!   token, 500 when the keys or the connections table could not be reached.
//! - `$default`: [`session::receive`]; the answer is the route response's body, which API
//!   Gateway sends back on the connection (the route has a `$default` route response), so
//!   answering costs no management API call.
//! - `$disconnect`: [`session::disconnect`]; API Gateway ignores the answer, and the items of a
//!   connection whose disconnect failed expire with the table's TTL.

use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cognito::{AuthError, Verify};
use crate::protocol::ServerMessage;
use crate::session;
use crate::subscriptions::{ConnectionId, Subscriptions};

/// The query string parameter carrying the token on `$connect`.
pub const TOKEN_PARAMETER: &str = "token";

/// What the integration returns: the status, and on `$default` the answer API Gateway sends to
/// the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteResponse {
    pub status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl RouteResponse {
    fn status(status_code: u16) -> Self {
        Self {
            status_code,
            body: None,
        }
    }

    fn answer(message: &ServerMessage) -> Self {
        Self {
            status_code: 200,
            body: Some(message.to_json()),
        }
    }
}

/// Serves one invocation of the WebSocket API's integration.
pub async fn handle<S: Subscriptions, V: Verify>(
    subscriptions: &S,
    verifier: &V,
    request: &ApiGatewayWebsocketProxyRequest,
    now: DateTime<Utc>,
) -> RouteResponse {
    let context = &request.request_context;
    let Some(connection) = context.connection_id.clone().map(ConnectionId) else {
        tracing::warn!(route = ?context.route_key, "a WebSocket event without a connection id");
        return RouteResponse::status(400);
    };
    match context.route_key.as_deref().unwrap_or("$default") {
        "$connect" => connect(subscriptions, verifier, request, &connection, now).await,
        "$disconnect" => match session::disconnect(subscriptions, &connection).await {
            Ok(()) => RouteResponse::status(200),
            Err(error) => {
                // Its items expire anyway (the table's TTL).
                tracing::warn!(%connection, %error, "could not forget a closed connection");
                RouteResponse::status(500)
            }
        },
        _ => {
            let message = match (&request.body, request.is_base64_encoded) {
                (Some(text), false) => {
                    session::receive(subscriptions, &connection, text, now).await
                }
                (Some(_), true) => ServerMessage::error(
                    "INVALID_MESSAGE",
                    "binary frames are not part of the protocol; send JSON text",
                ),
                (None, _) => ServerMessage::error("INVALID_MESSAGE", "an empty message"),
            };
            RouteResponse::answer(&message)
        }
    }
}

async fn connect<S: Subscriptions, V: Verify>(
    subscriptions: &S,
    verifier: &V,
    request: &ApiGatewayWebsocketProxyRequest,
    connection: &ConnectionId,
    now: DateTime<Utc>,
) -> RouteResponse {
    let Some(token) = request
        .query_string_parameters
        .first(TOKEN_PARAMETER)
        .filter(|token| !token.is_empty())
    else {
        tracing::info!(%connection, "refused a connection without a token");
        return RouteResponse::status(401);
    };
    let user = match verifier.verify(token).await {
        Ok(user) => user,
        Err(AuthError::Invalid(reason)) => {
            tracing::info!(%connection, %reason, "refused a connection with an invalid token");
            return RouteResponse::status(401);
        }
        Err(error @ AuthError::Unavailable(_)) => {
            tracing::error!(%connection, %error, "could not verify a token");
            return RouteResponse::status(500);
        }
    };
    match session::connect(subscriptions, connection, &user, now).await {
        Ok(()) => {
            tracing::info!(%connection, user = %user.as_str(), "connected");
            RouteResponse::status(200)
        }
        Err(error) => {
            tracing::error!(%connection, %error, "could not record a connection");
            RouteResponse::status(500)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use events::{AuctionId, UserId};
    use serde_json::{Value, json};

    use super::*;
    use crate::memory::InMemorySubscriptions;

    /// Accepts the token `good-<user>`, refuses everything else; `down` stands for Cognito
    /// being unreachable.
    struct FakeVerifier;

    impl Verify for FakeVerifier {
        async fn verify(&self, token: &str) -> Result<UserId, AuthError> {
            match token.strip_prefix("good-") {
                Some(user) => Ok(UserId::try_from(user).unwrap()),
                None if token == "down" => Err(AuthError::Unavailable("timeout".to_owned())),
                None => Err(AuthError::Invalid("bad signature".to_owned())),
            }
        }
    }

    const AUCTION: &str = "0194b7a0-0000-7000-8000-000000000001";

    /// A request as API Gateway sends it (only the fields the integration reads, and a few
    /// it ignores).
    fn request(route: &str, query: Value, body: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_value(json!({
            "requestContext": {
                "routeKey": route,
                "eventType": match route { "$connect" => "CONNECT", "$disconnect" => "DISCONNECT", _ => "MESSAGE" },
                "connectionId": "L0SM9cOFvHcCIhw=",
                "connectedAt": 1_767_225_600_000_i64,
                "requestTimeEpoch": 1_767_225_600_000_i64,
                "stage": "live",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "identity": { "sourceIp": "192.0.2.1" }
            },
            "queryStringParameters": query,
            "body": body,
            "isBase64Encoded": false
        }))
        .unwrap()
    }

    fn connection() -> ConnectionId {
        ConnectionId("L0SM9cOFvHcCIhw=".to_owned())
    }

    async fn call(
        subscriptions: &InMemorySubscriptions,
        request: &ApiGatewayWebsocketProxyRequest,
    ) -> RouteResponse {
        handle(subscriptions, &FakeVerifier, request, Utc::now()).await
    }

    #[tokio::test]
    async fn a_valid_token_connects_the_caller_as_its_user() {
        let subscriptions = InMemorySubscriptions::new();

        let response = call(
            &subscriptions,
            &request("$connect", json!({"token": "good-bidder-bob"}), None),
        )
        .await;

        assert_eq!(response, RouteResponse::status(200));
        assert_eq!(
            subscriptions.user_of(&connection()),
            Some(UserId::try_from("bidder-bob").unwrap())
        );
    }

    #[tokio::test]
    async fn no_token_or_an_invalid_one_is_refused_with_401_and_records_nothing() {
        let subscriptions = InMemorySubscriptions::new();
        for query in [
            json!(null),
            json!({}),
            json!({"token": ""}),
            json!({"token": "forged"}),
        ] {
            let response = call(&subscriptions, &request("$connect", query.clone(), None)).await;

            assert_eq!(response.status_code, 401, "{query}");
            assert!(!subscriptions.is_connected(&connection()), "{query}");
        }
    }

    #[tokio::test]
    async fn unreachable_keys_refuse_the_connection_with_500() {
        let subscriptions = InMemorySubscriptions::new();

        let response = call(
            &subscriptions,
            &request("$connect", json!({"token": "down"}), None),
        )
        .await;

        assert_eq!(response.status_code, 500);
        assert!(!subscriptions.is_connected(&connection()));
    }

    #[tokio::test]
    async fn a_message_is_answered_in_the_route_response_body() {
        let subscriptions = InMemorySubscriptions::new();
        call(
            &subscriptions,
            &request("$connect", json!({"token": "good-ann"}), None),
        )
        .await;
        let subscribe = format!(r#"{{"action":"subscribe","auctionId":"{AUCTION}"}}"#);

        let response = call(
            &subscriptions,
            &request("$default", json!(null), Some(&subscribe)),
        )
        .await;

        assert_eq!(response.status_code, 200);
        let body: Value = serde_json::from_str(response.body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"type": "subscribed", "auctionId": AUCTION}));
        let watchers =
            crate::Subscriptions::watchers(&subscriptions, AuctionId(AUCTION.parse().unwrap()))
                .await
                .unwrap();
        assert_eq!(watchers, [connection()]);
    }

    #[tokio::test]
    async fn a_bad_or_binary_message_gets_an_error_answer_and_keeps_the_connection() {
        let subscriptions = InMemorySubscriptions::new();
        let mut binary = request("$default", json!(null), Some("AAEC"));
        binary.is_base64_encoded = true;
        for request in [
            request("$default", json!(null), Some("not json")),
            request("$default", json!(null), None),
            binary,
        ] {
            let response = call(&subscriptions, &request).await;

            assert_eq!(response.status_code, 200);
            let body: Value = serde_json::from_str(response.body.as_deref().unwrap()).unwrap();
            assert_eq!(body["type"], "error");
            assert_eq!(body["code"], "INVALID_MESSAGE");
        }
    }

    #[tokio::test]
    async fn disconnect_forgets_the_connection_and_what_it_watched() {
        let subscriptions = InMemorySubscriptions::new();
        call(
            &subscriptions,
            &request("$connect", json!({"token": "good-ann"}), None),
        )
        .await;
        let subscribe = format!(r#"{{"action":"subscribe","auctionId":"{AUCTION}"}}"#);
        call(
            &subscriptions,
            &request("$default", json!(null), Some(&subscribe)),
        )
        .await;

        let response = call(&subscriptions, &request("$disconnect", json!(null), None)).await;

        assert_eq!(response, RouteResponse::status(200));
        assert!(!subscriptions.is_connected(&connection()));
        let watchers =
            crate::Subscriptions::watchers(&subscriptions, AuctionId(AUCTION.parse().unwrap()))
                .await
                .unwrap();
        assert!(watchers.is_empty());
    }

    #[test]
    fn the_response_serializes_as_api_gateway_expects() {
        let response = RouteResponse::answer(&ServerMessage::Pong);

        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"statusCode": 200, "body": "{\"type\":\"pong\"}"})
        );
        assert_eq!(
            serde_json::to_value(RouteResponse::status(401)).unwrap(),
            json!({"statusCode": 401})
        );
    }
}
