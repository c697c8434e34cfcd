//! `smmflow data ...` as an operator uses it: real servers populated over
//! the API, stopped, their database copied or backed up by the real
//! command, and a server started on the result.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod backup;
mod copy;
mod export;
