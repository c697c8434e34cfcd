//! `smmflow demo`: a fresh database, a team and three clients in two
//! timezones, created with their profiles and nothing else: the library's
//! `workspaces:` schedules start their weekly content (and moderation and
//! reports), simulated people do the work through the public GraphQL API
//! over HTTP (one client rejection included), on a manual clock, for two
//! weeks of posts; then the content calendar of what went out.

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

/// Three clients in two timezones, from their profiles alone.
const CLIENTS: &[(&str, &str, &str, &str)] = &[
    ("acme", "ACME Furniture", "Europe/Moscow", "olga"),
    ("bloom", "Bloom Flowers", "Europe/Moscow", "ivan"),
    ("sakura", "Sakura Sushi", "Asia/Vladivostok", "mei"),
];

fn profile(key: &str, contact: &str) -> Value {
    let (platforms, slots, services): (Value, Value, Value) = match key {
        "acme" => (
            json!(["vk", "telegram"]),
            json!([
                {"platform": "vk", "time": "10:00", "days": ["mon", "wed", "fri"]},
                {"platform": "telegram", "time": "18:30", "days": ["tue", "thu"]},
            ]),
            json!(["weekly_content", "monthly_report"]),
        ),
        "bloom" => (
            json!(["instagram", "telegram"]),
            json!([
                {"platform": "instagram", "time": "12:00", "days": ["mon", "thu"]},
                {"platform": "telegram", "time": "09:00", "days": ["wed", "sat"]},
            ]),
            json!(["weekly_content", "community_management"]),
        ),
        _ => (
            json!(["vk"]),
            json!([
                {"platform": "vk", "time": "11:00", "days": ["tue", "fri"]},
                {"platform": "vk", "time": "19:00", "days": ["fri"]},
            ]),
            json!(["weekly_content"]),
        ),
    };
    json!({
        "platforms": platforms,
        "slots": slots,
        "rubrics": ["useful tips", "behind the scenes", "product", "customer stories"],
        "kpis": [{"name": "reach", "target": 50000, "unit": "people", "by": "2027-06-30"}],
        "approvers": [format!("{contact}@{key}.example")],
        "account_manager": "lena",
        "services": services,
    })
}

/// The posts a content manager plans: one per slot of the client's
/// profile in the planned week (the week after next from `started`).
fn plan(profile: &Value, timezone: &str, started: &str) -> Vec<Value> {
    use chrono::{Datelike, NaiveDate, TimeZone};
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    let Ok(started) = chrono::DateTime::parse_from_rfc3339(started) else { return Vec::new() };
    let day = started.date_naive();
    let monday =
        day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday())) + chrono::Duration::days(14);
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let rubrics: Vec<String> = profile["rubrics"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let formats = ["photo", "text", "video", "poll", "quote"];
    let mut posts = Vec::new();
    for d in 0..7u32 {
        let date: NaiveDate = monday + chrono::Duration::days(i64::from(d));
        for slot in profile["slots"].as_array().cloned().unwrap_or_default() {
            let days = slot["days"].as_array().cloned().unwrap_or_default();
            if !days.iter().any(|x| x == names[d as usize]) {
                continue;
            }
            let (h, m) = slot["time"].as_str().and_then(|t| t.split_once(':')).unwrap_or(("10", "00"));
            let Some(local) = date.and_hms_opt(h.parse().unwrap_or(10), m.parse().unwrap_or(0), 0) else { continue };
            let Some(at) = tz.from_local_datetime(&local).earliest() else { continue };
            let n = posts.len();
            let rubric = rubrics.get(n % rubrics.len().max(1)).cloned().unwrap_or_else(|| "product".into());
            posts.push(json!({
                "rubric": rubric,
                "platform": slot["platform"],
                "format": formats[n % formats.len()],
                "publish_at": at.to_rfc3339(),
                "brief": format!("{rubric}: post {} of the week", n + 1),
                "promo": n % 5 == 2,
            }));
        }
    }
    posts
}

pub async fn run(workflows: std::path::PathBuf) -> Result<(), String> {
    let wall = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Wednesday at noon UTC: the first Thursday plan comes the next day.
    let today = chrono::Utc::now().date_naive();
    let wednesday =
        today + chrono::Duration::days((9 - i64::from(chrono::Datelike::weekday(&today).num_days_from_monday())) % 7);
    let t0 = wednesday.and_hms_opt(12, 0, 0).map(|t| t.and_utc()).unwrap_or_else(chrono::Utc::now);
    let clock = smmflow_runtime::ManualClock::new(t0);
    let rt = crate::serve::open_runtime_with(dir.path(), None, Some(workflows), Arc::new(clock.clone())).await?;
    let admin = crate::serve::bootstrap(&rt, dir.path()).await?.ok_or("the demo database is not fresh")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = router(
        rt.clone(),
        ServerOptions {
            introspection: true,
            query_cost_per_minute: 0,
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

    // The clients, from their profiles alone: no createSchedule, no startInstance.
    for (key, name, tz, contact) in CLIENTS {
        let r = api
            .call(
                &admin,
                "mutation($k: String!, $n: String!, $tz: String, $p: JSON) { createWorkspace(input: {key: $k, name: $n, timezone: $tz, profile: $p}) { workspace { profile } userErrors { field message } } }",
                json!({"k": key, "n": name, "tz": tz, "p": profile(key, contact)}),
            )
            .await?;
        let errors = &r["createWorkspace"]["userErrors"];
        if errors.as_array().is_some_and(|e| !e.is_empty()) {
            return Err(format!("client {key}: {errors}"));
        }
        let p = &r["createWorkspace"]["workspace"]["profile"];
        println!(
            "Client {name} ({tz}): {} on {}",
            p["services"]
                .as_array()
                .map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
            p["platforms"]
                .as_array()
                .map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        );
    }
    let mut tokens = HashMap::new();
    let mut people: Vec<(&str, &str, &str)> = TEAM.iter().filter(|(l, _, _)| *l != "olga").copied().collect();
    people.push(("kim", "community_manager", "Kim (community manager)"));
    for (login, role, _) in &people {
        api.call(&admin, "mutation($l: String!, $e: String!) { createUser(input: {login: $l, email: $e}) { userErrors { message } } }", json!({"l": login, "e": format!("{login}@agency.example")})).await?;
        for (key, _, _, _) in CLIENTS {
            api.call(&admin, "mutation($w: String!, $u: String!, $r: String!) { addMember(input: {workspace: $w, user: $u, role: $r}) { userErrors { message } } }", json!({"w": key, "u": login, "r": role})).await?;
        }
        let t = api
            .call(
                &admin,
                "mutation($u: String!) { createApiToken(input: {user: $u, name: \"demo\"}) { token } }",
                json!({"u": login}),
            )
            .await?;
        tokens.insert(login.to_string(), t["createApiToken"]["token"].as_str().unwrap_or_default().to_string());
    }
    for (key, _, _, contact) in CLIENTS {
        api.call(&admin, "mutation($l: String!, $e: String!) { createUser(input: {login: $l, email: $e}) { userErrors { message } } }", json!({"l": contact, "e": format!("{contact}@{key}.example")})).await?;
        api.call(&admin, "mutation($w: String!, $u: String!) { addMember(input: {workspace: $w, user: $u, role: \"client\"}) { userErrors { message } } }", json!({"w": key, "u": contact})).await?;
        let t = api
            .call(
                &admin,
                "mutation($u: String!) { createApiToken(input: {user: $u, name: \"demo\"}) { token } }",
                json!({"u": contact}),
            )
            .await?;
        tokens.insert(contact.to_string(), t["createApiToken"]["token"].as_str().unwrap_or_default().to_string());
    }
    let schedules =
        api.call(&admin, "{ schedules { workflow { key } workspace { key } timezone nextFireAt } }", json!({})).await?;
    let list = schedules["schedules"].as_array().cloned().unwrap_or_default();
    println!("\n{} schedules appeared from the profiles' services (none created by hand):", list.len());
    for s in &list {
        println!(
            "  {:<8} {:<26} next {} ({})",
            s["workspace"]["key"].as_str().unwrap_or(""),
            s["workflow"]["key"].as_str().unwrap_or(""),
            stamp(s["nextFireAt"].as_str().unwrap_or("")),
            s["timezone"].as_str().unwrap_or("")
        );
    }

    let logins: Vec<String> = tokens.keys().cloned().collect();
    let end = t0 + chrono::Duration::days(26);
    let mut rejected = false;
    let mut done_today = 0usize;
    let mut day = t0.date_naive();
    let mut total_done = 0usize;
    println!("\nFour weeks of agency work (two Thursday plans, two weeks of posts), a line a day:");
    loop {
        let mut acted = false;
        for login in &logins {
            let mine = api.call(&tokens[login], "{ serverTime tasks(filter: {mine: true, status: [OPEN, CLAIMED]}, first: 50) { nodes { id title isApproval step { id } form instance { id inputs startedAt workspace { key timezone profile } } } } }", json!({})).await?;
            for t in mine["tasks"]["nodes"].as_array().cloned().unwrap_or_default() {
                let step = t["step"]["id"].as_str().unwrap_or_default();
                let ws = &t["instance"]["workspace"];
                let (q, vars) = if t["isApproval"].as_bool().unwrap_or(false) {
                    if step == "client_approval" && !rejected {
                        rejected = true;
                        println!(
                            "  {} the client rejects a post: \"Please make the headline warmer\" (it goes back to the copywriter)",
                            stamp(mine["serverTime"].as_str().unwrap_or(""))
                        );
                        (
                            "mutation($t: ID!) { rejectTask(input: {taskId: $t, comment: \"Please make the headline warmer\", reasons: [\"tone\"]}) { userErrors { message } } }",
                            json!({"t": t["id"]}),
                        )
                    } else {
                        (
                            "mutation($t: ID!) { approveTask(input: {taskId: $t}) { userErrors { message } } }",
                            json!({"t": t["id"]}),
                        )
                    }
                } else {
                    let output = match step {
                        "plan" => {
                            json!({"posts": plan(&ws["profile"], ws["timezone"].as_str().unwrap_or("UTC"), t["instance"]["startedAt"].as_str().unwrap_or(""))})
                        }
                        "schedule" => json!({"scheduled_for": t["instance"]["inputs"]["publish_at"]}),
                        _ => form_sample(&t["form"]),
                    };
                    (
                        "mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { userErrors { field message } } }",
                        json!({"t": t["id"], "o": output}),
                    )
                };
                if let Ok(r) = api.call(&tokens[login], q, vars).await
                    && r.as_object()
                        .and_then(|m| m.values().next())
                        .is_some_and(|p| p["userErrors"].as_array().is_none_or(Vec::is_empty))
                {
                    acted = true;
                    done_today += 1;
                    total_done += 1;
                }
            }
        }
        let now = api.call(&admin, "{ serverTime }", json!({})).await?;
        let now: chrono::DateTime<chrono::Utc> = now["serverTime"].as_str().and_then(|t| t.parse().ok()).unwrap_or(end);
        if now >= end {
            break;
        }
        // People take an hour between rounds of work; when nobody has work, three hours pass.
        let next = (now + chrono::Duration::hours(if acted { 1 } else { 3 })).min(end);
        if next.date_naive() != day {
            let week = api
                .call(
                    &admin,
                    "query($f: PublicationFilter!) { publications(filter: $f) { totalCount } }",
                    json!({"f": {"from": t0.to_rfc3339(), "to": (t0 + chrono::Duration::days(40)).to_rfc3339()}}),
                )
                .await?;
            println!(
                "  {}  {done_today:>3} tasks done; {} posts on the calendar",
                day.format("%a %d %b"),
                week["publications"]["totalCount"]
            );
            done_today = 0;
            day = next.date_naive();
        }
        api.call(
            &admin,
            "mutation($to: DateTime!) { advanceClock(input: {to: $to}) { now fired } }",
            json!({"to": next.to_rfc3339()}),
        )
        .await?;
    }

    // The calendar of what went out, across clients, in time order.
    let cal = api
        .call(&admin, "query($f: PublicationFilter!) { publications(filter: $f, first: 100) { totalCount nodes { at channel title status workspace { key timezone } } } }", json!({"f": {"from": t0.to_rfc3339(), "to": end.to_rfc3339()}}))
        .await?;
    println!("\nThe content calendar, {} to {}:", stamp(&t0.to_rfc3339()), stamp(&end.to_rfc3339()));
    let mut by_status: HashMap<String, usize> = HashMap::new();
    for p in cal["publications"]["nodes"].as_array().cloned().unwrap_or_default() {
        let status = p["status"].as_str().unwrap_or("?").to_string();
        let tz: chrono_tz::Tz =
            p["workspace"]["timezone"].as_str().and_then(|t| t.parse().ok()).unwrap_or(chrono_tz::UTC);
        let local = p["at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&tz).format("%a %d %b %H:%M").to_string())
            .unwrap_or_default();
        println!(
            "  {}  {:<8} {:<10} {:<18} {}  (local time {})",
            stamp(p["at"].as_str().unwrap_or("")),
            p["workspace"]["key"].as_str().unwrap_or(""),
            p["channel"].as_str().unwrap_or(""),
            p["title"].as_str().unwrap_or(""),
            status,
            local
        );
        *by_status.entry(status).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = by_status.into_iter().collect();
    counts.sort();
    println!(
        "\n{} publications went through the calendar ({}); {total_done} tasks done by the team and the clients; wall time {:.1}s.",
        cal["publications"]["totalCount"],
        counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", "),
        wall.elapsed().as_secs_f64()
    );
    Ok(())
}

fn stamp(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.format("%a %d %b %H:%M").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}
