//! The consumers of the log whose give-ups are parked, by the names their mappings carry.

use std::fmt;
use std::str::FromStr;

use crate::error::ParkingError;

/// A consumer of the Events stream or of a queue fed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Consumer {
    /// The read models, on the Events stream.
    Projector,
    /// The fan-out to the queues, on the Events stream.
    Publisher,
    /// Live updates over WebSockets, on the live queue.
    Broadcaster,
    /// Notices, on the notifications queue.
    Notifier,
    /// The payment saga, on the payments queue.
    PaymentSaga,
}

impl Consumer {
    pub const ALL: [Consumer; 5] = [
        Self::Projector,
        Self::Publisher,
        Self::Broadcaster,
        Self::Notifier,
        Self::PaymentSaga,
    ];

    /// The mapping's name: the local runner's checkpoint key and the `consumer` of a parked
    /// item.
    pub fn name(self) -> &'static str {
        match self {
            Self::Projector => "projector",
            Self::Publisher => "publisher",
            Self::Broadcaster => "broadcaster",
            Self::Notifier => "notifier",
            Self::PaymentSaga => "payment-saga",
        }
    }
}

impl fmt::Display for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Consumer {
    type Err = ParkingError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|consumer| consumer.name() == name)
            .ok_or_else(|| ParkingError::UnknownConsumer(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_consumer_is_found_by_its_name_and_nothing_else_is() {
        for consumer in Consumer::ALL {
            assert_eq!(consumer.name().parse::<Consumer>().unwrap(), consumer);
        }
        assert!(matches!(
            "Projector".parse::<Consumer>(),
            Err(ParkingError::UnknownConsumer(_))
        ));
    }
}
