//! Hostile input, as an attacker meets the product: a lead of one client, a
//! plain member, an outsider with a mail in hand, over the real HTTP and
//! WebSocket API of a real `smmflow serve`, on SQLite and PostgreSQL. One
//! test (or more) per defect of the hardening issue; each failed before its
//! fix.
//!
//! - `stability`: values that used to stop the server for everybody (time
//!   overflow, far dates, per-second schedules, huge comments, NUL);
//! - `isolation`: who may deploy, YAML schedules into another client's
//!   workspace, removed members' links and subscriptions, token revocation;
//! - `transport`: query cost and rate, GET and content types, error bodies,
//!   suggestions without introspection;
//! - `files`: the data directory's permissions;
//! - `websocket`: the graphql-transport-ws protocol's close codes and
//!   messages, from a raw socket and from the reference client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod files;
mod isolation;
mod stability;
mod transport;
mod websocket;

use serde_json::{Value, json};
use support::Server;

/// Deploys a workflow as `token`; returns the whole response.
pub async fn deploy(s: &Server, token: &str, source: &str) -> Value {
    s.gql(
        token,
        "mutation($src: String!) { deployWorkflow(input: {source: $src}) { created workflow { key version } userErrors { field message code line } } }",
        json!({"src": source}),
    )
    .await
}

/// Starts an instance as `token`; returns the payload.
pub async fn start(s: &Server, token: &str, workflow: &str, workspace: &str, inputs: Value) -> Value {
    let r = s
        .gql(
            token,
            "mutation($wf: String!, $ws: String!, $in: JSON) { startInstance(input: {workflow: $wf, workspace: $ws, inputs: $in}) { instance { id status tasks { id status step { id } } } userErrors { field message code } } }",
            json!({"wf": workflow, "ws": workspace, "in": inputs}),
        )
        .await;
    r.get("data").and_then(|d| d.get("startInstance")).cloned().unwrap_or(r)
}

/// `/readyz` answers 200.
pub fn ready(s: &Server) -> bool {
    support::http_status(&format!("{}/readyz", s.url)) == Ok(200)
}
