//! Clients as first-class, as an agency uses them: workspaces with settings
//! and typed profiles, schedules for every client, the content calendar with
//! posting limits, and the iCalendar feed; over the real HTTP API of a real
//! `smmflow serve` (which deploys the library, its `profile.yaml` included),
//! on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod calendar;
mod feeds;
mod profiles;
mod schedules;

use serde_json::{Value, json};
use support::Server;

/// Deploys a workflow as `token`; returns the payload.
pub async fn deploy(s: &Server, token: &str, source: &str) -> Value {
    let r = s
        .gql(
            token,
            "mutation($src: String!) { deployWorkflow(input: {source: $src}) { created workflow { key version } userErrors { field message code line } } }",
            json!({"src": source}),
        )
        .await;
    r.get("data").and_then(|d| d.get("deployWorkflow")).cloned().unwrap_or(r)
}

/// Creates a workspace with settings as the admin; returns the payload.
pub async fn create_client(s: &Server, key: &str, timezone: &str, profile: Value) -> Value {
    let r = s
        .gql(
            &s.admin,
            "mutation($k: String!, $tz: String, $p: JSON) { createWorkspace(input: {key: $k, name: $k, timezone: $tz, profile: $p}) { workspace { key timezone profile profileVersion postingLimits { channel maxPerDay minGap } } userErrors { field message code } } }",
            json!({"k": key, "tz": timezone, "p": profile}),
        )
        .await;
    r.get("data").and_then(|d| d.get("createWorkspace")).cloned().unwrap_or(r)
}

/// Adds people with roles to an existing workspace; returns their tokens.
pub async fn join(s: &Server, workspace: &str, people: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    let mut tokens = std::collections::HashMap::new();
    for (login, role) in people {
        if !tokens.contains_key(*login) {
            s.gql(
                &s.admin,
                "mutation($l: String!, $e: String!) { createUser(input: {login: $l, email: $e}) { userErrors { message } } }",
                json!({"l": login, "e": format!("{login}@agency.example")}),
            )
            .await;
            let t = s
                .ok(
                    &s.admin,
                    "mutation($u: String!) { createApiToken(input: {user: $u, name: \"e2e\"}) { token } }",
                    json!({"u": login}),
                )
                .await;
            tokens.insert(login.to_string(), t["createApiToken"]["token"].as_str().unwrap().to_string());
        }
        s.ok(
            &s.admin,
            "mutation($w: String!, $u: String!, $r: String!) { addMember(input: {workspace: $w, user: $u, role: $r}) { userErrors { message } } }",
            json!({"w": workspace, "u": login, "r": role}),
        )
        .await;
    }
    tokens
}

/// Moves the manual clock (admin).
pub async fn advance(s: &Server, to: &str) {
    s.ok(&s.admin, "mutation($t: DateTime!) { advanceClock(input: {to: $t}) { now } }", json!({"t": to})).await;
}

/// The server's current time.
pub async fn now(s: &Server) -> chrono::DateTime<chrono::Utc> {
    let r = s.ok(&s.admin, "{ serverTime }", json!({})).await;
    r["serverTime"].as_str().unwrap().parse().unwrap()
}
