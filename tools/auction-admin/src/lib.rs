//! The `auction-admin` CLI as a library, so that the end-to-end tests drive the same commands
//! in-process: audits (history, state, verify, export, import), rebuilds of the read models,
//! parked items and redrives.
//!
//! A tool: nothing deployed depends on it; it depends on the adapters (audit, parking, fan-out,
//! read models), never on a function.

pub mod cli;
mod sources;

pub use sources::Sources;
