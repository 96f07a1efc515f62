//! The notifications inbox: what each event tells whom, and where it is kept for the user.
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

mod context;
mod cursor;
mod dynamodb;
mod error;
mod inbox;
mod memory;
mod notification;

pub use context::{AuctionContext, AuctionContexts, LogContexts};
pub use dynamodb::DynamoDbNotifications;
pub use error::NotifierError;
pub use inbox::{ListNotifications, MAX_PAGE_SIZE, NotificationPage, StoreNotification, Stored};
pub use memory::InMemoryNotifications;
pub use notification::{
    ENDING_SOON, Kind, Notification, ending_soon, needs_context, notification_id, notifications,
};
