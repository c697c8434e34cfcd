//! `smmflow demo`: a fresh database, a team, and one weekly content cycle
//! run through the public GraphQL API over HTTP by simulated people (one
//! client rejection included), on a manual clock, printed as a timeline.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde_json::{Value, json};

use crate::server::{ServerOptions, router};

const TEAM: &[(&str, &str, &str)] = &[
    ("lena", "lead", "Lena (team lead)"),
    ("carl", "content_manager", "Carl (content manager)"),
    ("wanda", "copywriter", "Wanda (copywriter)"),
    ("dina", "designer", "Dina (designer)"),
    ("sam", "smm_manager", "Sam (SMM manager)"),
    ("sara", "smm_manager", "Sara (SMM manager)"),
    ("olga", "client", "Olga (client, ACME)"),
    ("alex", "analyst", "Alex (analyst)"),
];

struct Api {
    url: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, token: &str, query: &str, variables: Value) -> Result<Value, String> {
        let r: Value = self
            .http
            .post(format!("{}/graphql", self.url))
            .bearer_auth(token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if let Some(e) = r.get("errors") {
            return Err(e.to_string());
        }
        Ok(r["data"].clone())
    }
}

/// A value fitting a form field as the API describes it (`Task.form`):
/// what a simulated person submits (the demo, the end-to-end tests).
pub fn sample(spec: &Value) -> Value {
    if let Some(d) = spec.get("default").filter(|d| !d.is_null()) {
        return d.clone();
    }
    match spec["type"].as_str().unwrap_or("string") {
        "integer" => json!(spec.get("min").and_then(Value::as_i64).unwrap_or(1)),
        "number" => json!(spec.get("min").and_then(Value::as_f64).unwrap_or(1.0)),
        "boolean" => json!(true),
        "date" => json!("2027-01-15"),
        "datetime" => json!("2027-01-15T10:00:00Z"),
        "url" => json!("https://vk.com/acme/post"),
        "email" => json!("olga@acme.example"),
        "user" => json!("lena"),
        "enum" => spec["values"][0].clone(),
        "list" => Value::Array(
            (0..spec.get("min_items").and_then(Value::as_u64).unwrap_or(1).max(1))
                .map(|_| sample(&spec["items"]))
                .collect(),
        ),
        "object" => Value::Object(
            spec["fields"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), sample(v))).collect())
                .unwrap_or_default(),
        ),
        _ => json!(spec.get("label").and_then(Value::as_str).unwrap_or("Done, see the attached draft")),
    }
}

/// Values for every field of a form (`Task.form`).
pub fn form_sample(form: &Value) -> Value {
    Value::Object(form.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), sample(v))).collect()).unwrap_or_default())
}

pub async fn run(workflows: std::path::PathBuf) -> Result<(), String> {
    let wall = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let clock = smmflow_runtime::ManualClock::new(chrono::Utc::now());
    let rt = crate::serve::open_runtime_with(dir.path(), None, Some(workflows), Arc::new(clock.clone())).await?;
    let admin = crate::serve::bootstrap(&rt, dir.path()).await?.ok_or("the demo database is not fresh")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = router(
        rt.clone(),
        ServerOptions {
            introspection: true,
            query_cost_per_minute: crate::limits::DEFAULT_COST_PER_MINUTE,
            body_limit: 1 << 20,
            deployed: Arc::new(AtomicBool::new(true)),
            manual_clock: Some(clock),
            public_url: format!("http://{addr}"),
        },
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let api = Api { url: format!("http://{addr}"), http: reqwest::Client::new() };
    println!("smmflow demo: a fresh database, a server at {} (GraphQL over HTTP), a manual clock\n", api.url);
    api.call(
        &admin,
        r#"mutation { createWorkspace(input: {key: "acme", name: "ACME Furniture"}) { userErrors { message } } }"#,
        json!({}),
    )
    .await?;
    let mut tokens = HashMap::new();
    let names: HashMap<&str, &str> = TEAM.iter().map(|(l, _, n)| (*l, *n)).collect();
    for (login, role, _) in TEAM {
        api.call(&admin, "mutation($l: String!, $e: String!) { createUser(input: {login: $l, email: $e}) { userErrors { message } } }", json!({"l": login, "e": format!("{login}@agency.example")})).await?;
        api.call(&admin, "mutation($u: String!, $r: String!) { addMember(input: {workspace: \"acme\", user: $u, role: $r}) { userErrors { message } } }", json!({"u": login, "r": role})).await?;
        let t = api
            .call(
                &admin,
                "mutation($u: String!) { createApiToken(input: {user: $u, name: \"demo\"}) { token } }",
                json!({"u": login}),
            )
            .await?;
        tokens.insert(*login, t["createApiToken"]["token"].as_str().unwrap_or_default().to_string());
    }
    println!("Team: {}\n", TEAM.iter().map(|(_, _, n)| *n).collect::<Vec<_>>().join(", "));
    let now = |v: &Value| v["serverTime"].as_str().unwrap_or_default().to_string();
    let t0 = now(&api.call(&admin, "{ serverTime }", json!({})).await?);
    let day = |days: i64| -> String {
        chrono::DateTime::parse_from_rfc3339(&t0)
            .map(|t| (t + chrono::Duration::days(days)).format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let posts: Vec<Value> = [("Tips", "vk", "photo"), ("Behind the scenes", "telegram", "text"), ("Customer story", "vk", "video")]
        .iter()
        .enumerate()
        .map(|(i, (rubric, platform, format))| json!({"rubric": rubric, "platform": platform, "format": format, "publish_at": format!("{}T07:00:00Z", day(4 + i as i64)), "brief": format!("{rubric} for the winter collection")}))
        .collect();
    let started = api
        .call(&tokens["lena"], r#"mutation($in: JSON) { startInstance(input: {workflow: "weekly-content", workspace: "acme", inputs: $in}) { instance { id } userErrors { message } } }"#, json!({"in": {"client_name": "ACME Furniture", "account_manager": "lena"}}))
        .await?;
    let id = started["startInstance"]["instance"]["id"].as_str().ok_or("the cycle did not start")?.to_string();
    println!("{}  Lena (team lead) started the weekly content cycle", stamp(&t0));
    let mut rejected = false;
    for _ in 0..200 {
        let mut acted = false;
        for (login, _, _) in TEAM {
            let mine = api.call(&tokens[*login], "{ serverTime tasks(filter: {mine: true, status: [OPEN, CLAIMED]}, first: 50) { nodes { id title isApproval step { id } form instance { inputs } } } }", json!({})).await?;
            let at = now(&mine);
            for t in mine["tasks"]["nodes"].as_array().cloned().unwrap_or_default() {
                let step = t["step"]["id"].as_str().unwrap_or_default();
                let title = t["title"].as_str().unwrap_or_default();
                let (q, vars, verb) = if t["isApproval"].as_bool().unwrap_or(false) {
                    if step == "client_approval" && !rejected {
                        rejected = true;
                        (
                            "mutation($t: ID!) { rejectTask(input: {taskId: $t, comment: \"Please make the headline warmer\"}) { userErrors { message } } }",
                            json!({"t": t["id"]}),
                            "REJECTED (\"Please make the headline warmer\")",
                        )
                    } else {
                        (
                            "mutation($t: ID!) { approveTask(input: {taskId: $t}) { userErrors { message } } }",
                            json!({"t": t["id"]}),
                            "approved",
                        )
                    }
                } else {
                    let output = match step {
                        "plan" => json!({"posts": posts}),
                        "schedule" => json!({"scheduled_for": t["instance"]["inputs"]["publish_at"]}),
                        _ => Value::Object(
                            t["form"]
                                .as_object()
                                .map(|m| m.iter().map(|(k, v)| (k.clone(), sample(v))).collect())
                                .unwrap_or_default(),
                        ),
                    };
                    (
                        "mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { userErrors { message } } }",
                        json!({"t": t["id"], "o": output}),
                        "completed",
                    )
                };
                if api.call(&tokens[*login], q, vars).await.is_ok() {
                    println!("{}  {} {verb}: {title}", stamp(&at), names[login]);
                    acted = true;
                }
            }
        }
        let inst = api.call(&admin, "query($id: ID!) { instance(id: $id) { status } }", json!({"id": id})).await?;
        if inst["instance"]["status"] == "COMPLETED" {
            break;
        }
        // People take an hour between rounds of work; when nobody has work, half a day passes.
        {
            let hours = if acted { 1 } else { 12 };
            let at = now(&api.call(&admin, "{ serverTime }", json!({})).await?);
            let to = chrono::DateTime::parse_from_rfc3339(&at)
                .map(|t| (t + chrono::Duration::hours(hours)).to_rfc3339())
                .map_err(|e| e.to_string())?;
            let r = api
                .call(
                    &admin,
                    "mutation($to: DateTime!) { advanceClock(input: {to: $to}) { now fired } }",
                    json!({"to": to}),
                )
                .await?;
            if r["advanceClock"]["fired"].as_i64().unwrap_or(0) > 0 {
                println!(
                    "{}  (time passes: waits, reminders and escalations fire)",
                    stamp(r["advanceClock"]["now"].as_str().unwrap_or_default())
                );
            }
        }
    }
    let inst = api
        .call(
            &admin,
            "query($id: ID!) { instance(id: $id) { status children { id } events { kind } outputs } }",
            json!({"id": id}),
        )
        .await?;
    let i = &inst["instance"];
    println!(
        "\nThe cycle is {}: {} posts produced, {} events in its audit log; wall time {:.1}s.",
        i["status"].as_str().unwrap_or("?").to_lowercase(),
        i["children"].as_array().map_or(0, Vec::len),
        i["events"].as_array().map_or(0, Vec::len),
        wall.elapsed().as_secs_f64()
    );
    Ok(())
}

fn stamp(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.format("%a %d %b %H:%M").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}
