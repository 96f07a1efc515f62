//! Sending a message to one connection: the port, and its adapter over API Gateway's
//! management API (which the local server also serves, at the same paths).

use std::future::Future;

use aws_sdk_apigatewaymanagement::primitives::Blob;

use crate::subscriptions::ConnectionId;

/// Why a push did not arrive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The connection is closed (410 Gone): forget it; never retried.
    #[error("the connection is gone")]
    Gone,
    /// The management API failed or could not be reached: retry the push (the message, when
    /// nobody was reached).
    #[error("the push failed: {0}")]
    Unavailable(String),
}

pub trait Push: Send + Sync {
    fn push(
        &self,
        connection: &ConnectionId,
        message: &str,
    ) -> impl Future<Output = Result<(), PushError>> + Send;
}

/// [`Push`] through `POST @connections/{connectionId}` of API Gateway's management API.
#[derive(Debug, Clone)]
pub struct ManagementApi {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementApi {
    /// A client of the WebSocket stage at `endpoint`: in AWS
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`, locally the API server's
    /// base URL.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config),
        }
    }
}

impl Push for ManagementApi {
    async fn push(&self, connection: &ConnectionId, message: &str) -> Result<(), PushError> {
        let result = self
            .client
            .post_to_connection()
            .connection_id(&connection.0)
            .data(Blob::new(message.as_bytes()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_gone_exception()) =>
            {
                Err(PushError::Gone)
            }
            Err(error) => Err(PushError::Unavailable(
                conventions::Failure::of(&error).message().to_owned(),
            )),
        }
    }
}
