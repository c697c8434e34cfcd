//! Analytics over the real HTTP API of a real `smmflow serve` on SQLite and
//! PostgreSQL, on a manual clock: a scenario whose figures were worked out
//! by hand (business hours across a weekend and a holiday, waiting shares
//! by party, rework, rejection reasons, due times kept), asserted exactly;
//! and a member sees only their own workspaces' figures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod figures;
mod forecasts;
