//! The event contract.
