//! One WebSocket connection's life, as both the API Gateway Lambda and the local server drive
//! it: connect (after the caller's token was verified), each text frame, disconnect.

use chrono::{DateTime, Utc};
use events::UserId;

use crate::error::LiveError;
use crate::protocol::{ClientMessage, ServerMessage};
use crate::subscriptions::{ConnectionId, Subscriptions};

/// Records the connection. An error refuses it (API Gateway closes it when `$connect` fails).
pub async fn connect<S: Subscriptions>(
    subscriptions: &S,
    connection: &ConnectionId,
    user: &UserId,
    now: DateTime<Utc>,
) -> Result<(), LiveError> {
    subscriptions.connected(connection, user, now).await
}

/// Serves one text frame and returns the answer to send back. Errors become `error` messages:
/// a client's mistake never closes its connection.
pub async fn receive<S: Subscriptions>(
    subscriptions: &S,
    connection: &ConnectionId,
    text: &str,
    now: DateTime<Utc>,
) -> ServerMessage {
    let result = match ClientMessage::parse(text) {
        Ok(ClientMessage::Subscribe { auction_id }) => subscriptions
            .subscribe(connection, auction_id, now)
            .await
            .map(|()| ServerMessage::Subscribed { auction_id }),
        Ok(ClientMessage::Unsubscribe { auction_id }) => subscriptions
            .unsubscribe(connection, auction_id)
            .await
            .map(|()| ServerMessage::Unsubscribed { auction_id }),
        Ok(ClientMessage::Ping {}) => Ok(ServerMessage::Pong),
        Err(error) => Err(error),
    };
    result.unwrap_or_else(|error| {
        if matches!(error, LiveError::Subscriptions(_)) {
            tracing::error!(%connection, %error, "a live request failed");
        }
        ServerMessage::from_error(&error)
    })
}

/// Forgets the connection. Also what the broadcaster does for a connection that answers
/// 410 Gone.
pub async fn disconnect<S: Subscriptions>(
    subscriptions: &S,
    connection: &ConnectionId,
) -> Result<(), LiveError> {
    subscriptions.disconnected(connection).await
}
