//! The analytics benchmark: `analytics(filter:)` through the GraphQL schema
//! (in-process, as the server runs it) with a year of an agency's work in
//! the database: `--events` events in the log and six task rows per post,
//! over `--workspaces` clients. Two questions: one workspace's month, and
//! everything (every workspace, the whole year), asked by an admin.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::{Target, open_bench, percentile};

const QUERY: &str = "query($f: AnalyticsFilter!) { analytics(filter: $f) { steps { step count cycleTime { p50 p90 mean } waitTime { p50 } onTimeRate reworkRate } parties { party share } load { role open overdue } people { open completed } rejections { reason count } sla { due met rate } } }";

/// Events per post (a post's log is about this long).
const EVENTS_PER_POST: usize = 40;

pub struct Sizes {
    pub events: usize,
    pub workspaces: usize,
    pub queries: usize,
}

pub async fn run(target: &Target, sizes: &Sizes) -> Result<serde_json::Value> {
    let (rt, store) = open_bench(target).await?;
    let keys: Vec<String> = (0..sizes.workspaces).map(|i| format!("client-{i:02}")).collect();
    let now = rt.now();
    for k in &keys {
        store.create_workspace(k, k, now).await?;
    }
    let admin = smmflow_runtime::User {
        login: "boss".into(),
        email: "boss@bench.example".into(),
        name: None,
        is_admin: true,
        notification_mode: "immediate".into(),
        can_deploy_workflows: true,
    };
    store.create_user(&admin, now).await?;
    let seeding = Instant::now();
    let from = now - chrono::Duration::days(365);
    let posts = sizes.events / EVENTS_PER_POST;
    let h = store.seed_history(&keys, posts, EVENTS_PER_POST, from, chrono::Duration::days(365)).await?;
    store.settle_after_bulk_load().await?;
    let seed_secs = seeding.elapsed().as_secs_f64();
    let schema =
        smmflow_api::schema(rt.clone(), smmflow_api::SchemaOptions { introspection: true, ..Default::default() });
    let token = smmflow_api::new_token();
    store.add_token(&smmflow_api::hash_token(&token), "boss", "bench", now).await?;
    let header = format!("Bearer {token}");
    let mut out = json!({
        "database": target.name,
        "events": h.events,
        "posts": h.instances,
        "tasks": h.tasks,
        "workspaces": sizes.workspaces,
        "queries": sizes.queries,
        "seed_seconds": seed_secs,
        "db_bytes": store.database_bytes().await?,
    });
    for (name, all) in [("workspace_month", false), ("everything", true)] {
        let mut latencies: Vec<Duration> = Vec::with_capacity(sizes.queries);
        let mut done = 0;
        for i in 0..sizes.queries + 5 {
            let f = if all {
                json!({"from": from.to_rfc3339(), "to": now.to_rfc3339()})
            } else {
                let start = from + chrono::Duration::days((i % 11) as i64 * 30);
                json!({"from": start.to_rfc3339(), "to": (start + chrono::Duration::days(30)).to_rfc3339(), "workspace": keys[i % keys.len()]})
            };
            let t = Instant::now();
            let access = rt.sign_in(Some(&header)).await?;
            let (users, workspaces) = smmflow_api::loaders::for_request(&access);
            let req = async_graphql::Request::new(QUERY)
                .variables(async_graphql::Variables::from_json(json!({"f": f})))
                .data(access)
                .data(users)
                .data(workspaces);
            let resp = schema.execute(req).await;
            let took = t.elapsed();
            anyhow::ensure!(resp.errors.is_empty(), "analytics failed: {:?}", resp.errors);
            let data = resp.data.into_json()?;
            done = data["analytics"]["steps"]
                .as_array()
                .map_or(0, |s| s.iter().map(|x| x["count"].as_u64().unwrap_or(0)).sum::<u64>());
            anyhow::ensure!(done > 0, "the figures count some work");
            if i >= 5 {
                latencies.push(took);
            }
        }
        latencies.sort_unstable();
        out[name] = json!({
            "tasks_counted": done,
            "p50_ms": percentile(&latencies, 0.50),
            "p99_ms": percentile(&latencies, 0.99),
            "max_ms": percentile(&latencies, 1.0),
        });
    }
    // Of "everything", how much is reading the rows (the rest is business time and aggregation).
    let mut reads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let f = smmflow_store::FactFilter { from, to: now, workspaces: None, workflow: None };
        let rows = store.task_facts(&f).await?.len();
        reads.push(t.elapsed());
        out["everything"]["rows_read"] = json!(rows);
    }
    reads.sort_unstable();
    out["everything"]["read_p50_ms"] = json!(percentile(&reads, 0.5));
    Ok(out)
}
