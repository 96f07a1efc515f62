//! Live auction updates over WebSockets, the same code in AWS and on one machine.
//!
//! - [`protocol`]: the JSON messages both ways, each update carrying the auction's version so a
//!   client can drop stale or duplicate pushes;
//! - [`update`]: the update an event makes, from the event and the state it produced (pure);
//! - [`session`]: what a connection's connect, messages and disconnect do to [`Subscriptions`];
//! - [`broadcast`]: the live queue's consumer (the publisher's messages of the events watchers
//!   see) that pushes each update to the auction's watchers through a [`Push`] port, dropping
//!   connections that answer 410 Gone;
//! - [`gateway`]: the API Gateway WebSocket API's integration (`$connect`, `$default`,
//!   `$disconnect`), and [`cognito`]: the `$connect` token verified against the user pool.
//!
//! In AWS an API Gateway WebSocket API calls `session` from a Lambda and the broadcaster pushes
//! through API Gateway's management API ([`ManagementApi`]); locally the API server speaks the
//! same protocol over axum's WebSocket and serves the same management endpoint, so the
//! broadcaster runs unchanged in the local trigger runner. See docs/live.md.
//!
//! Depends on the domain, the event store's ports and the AWS SDK clients it adapts; the library
//! must not use an HTTP server or the Lambda runtime (the binaries in `src/bin` and the API
//! server wrap it; only the JWKS fetch is an HTTPS client).

pub mod broadcast;
pub mod cognito;
pub mod config;
mod dynamodb;
mod error;
pub mod gateway;
mod memory;
pub mod protocol;
mod push;
pub mod session;
mod subscriptions;
pub mod update;

pub use broadcast::{handle, handle_with};
pub use config::{DEFAULT_PUSH_CONCURRENCY, Fanout};
pub use dynamodb::DynamoDbSubscriptions;
pub use error::LiveError;
pub use memory::{InMemoryPush, InMemorySubscriptions};
pub use protocol::{ClientMessage, ServerMessage};
pub use push::{ManagementApi, Push, PushError};
pub use subscriptions::{ConnectionId, MAX_SUBSCRIPTIONS, Subscriptions, Topic};
