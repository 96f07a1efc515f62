//! The API served on one machine: `api-local`, the bidder API as a plain HTTP server on
//! 127.0.0.1 with a local JWT verifier in place of API Gateway's authorizer, live updates over a
//! WebSocket in place of API Gateway's WebSocket API ([`local`]), and the demo data it can seed
//! ([`demo`]), and its registration as the webhook endpoint of the local stack's Stripe
//! ([`stripe_webhook`]).
//!
//! Local tooling only: nothing deployed depends on this crate. Depends on the API's router and
//! the live functions' session logic; must not be depended on by a function or an adapter.

pub mod demo;
pub mod local;
pub mod media;
pub mod stripe_webhook;
