//! Approvals with clients, over the real HTTP API of a real `smmflow serve`
//! on SQLite and PostgreSQL: rejection reasons (more to come: follow-ups,
//! expiry, batches, rounds).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod batch;
mod client_mail;
mod expiry;
mod reasons;
