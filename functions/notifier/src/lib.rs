//! Notifications: the consumer of the notifications queue, and the per-user inbox it fills.
//!
//! - [`notifications`] is the pure part: an event plus what the auction looked like at that
//!   event ([`AuctionContext`]) gives every notification it causes, one per recipient.
//! - [`AuctionContexts`] is the port that rebuilds that context from the event store, folded only
//!   up to the event's own version so that a late redelivery names the same recipients;
//!   [`LogContexts`] implements it over any event log.
//! - [`StoreNotification`] and [`ListNotifications`] are the inbox's write and read ports;
//!   [`DynamoDbNotifications`] implements both on the Notifications table (pk `userId`, sk
//!   `notificationId`, every write conditional), [`InMemoryNotifications`] is the twin for
//!   handler tests.
//! - [`handle`] is the SQS handler the Lambda main and the local runner call: partial batch
//!   failures, FIFO groups kept in order, correlation and causation ids on every log line.
//!
//! Depends on the event contract, the domain's fold and the event store's ports. Must not depend
//! on HTTP or the API: the API depends on this crate's read port, not the other way round.

pub mod config;
mod context;
mod cursor;
mod dynamodb;
mod error;
mod handler;
mod inbox;
mod memory;
mod notification;

pub use context::{AuctionContext, AuctionContexts, LogContexts};
pub use dynamodb::DynamoDbNotifications;
pub use error::NotifierError;
pub use handler::{handle, handle_with};
pub use inbox::{ListNotifications, MAX_PAGE_SIZE, NotificationPage, StoreNotification, Stored};
pub use memory::InMemoryNotifications;
pub use notification::{Kind, Notification, needs_context, notification_id, notifications};
