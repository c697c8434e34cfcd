//! The content calendar benchmark: `publications(filter: {from, to}, first: 50)`
//! through the GraphQL schema (in-process, as the server runs it), with
//! `--publications` publications across `--workspaces` workspaces over a
//! year. Two callers: an admin (every workspace) and an account manager who
//! is a member of five workspaces; each asks for a week.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::{Target, open_bench, percentile};

const QUERY: &str = "query($f: PublicationFilter!) { publications(filter: $f, first: 50) { totalCount nodes { id at channel title status workspace { key } } } }";

pub struct Sizes {
    pub publications: usize,
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
    crate::add_user(&store, "manager", "editor").await?;
    for k in keys.iter().take(5) {
        store.add_member(k, "manager", "account_manager", now).await?;
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
    let from = now - chrono::Duration::days(182);
    let written = store.seed_publications(&keys, sizes.publications, from, chrono::Duration::days(365)).await?;
    store.settle_after_bulk_load().await?;
    let seed_secs = seeding.elapsed().as_secs_f64();

    let schema =
        smmflow_api::schema(rt.clone(), smmflow_api::SchemaOptions { introspection: true, ..Default::default() });
    let mut out = json!({
        "database": target.name,
        "publications": written,
        "workspaces": sizes.workspaces,
        "queries": sizes.queries,
        "seed_seconds": seed_secs,
        "db_bytes": store.database_bytes().await?,
    });
    for who in ["boss", "manager"] {
        let token = smmflow_api::new_token();
        store.add_token(&smmflow_api::hash_token(&token), who, "bench", now).await?;
        let header = format!("Bearer {token}");
        let mut latencies: Vec<Duration> = Vec::with_capacity(sizes.queries);
        let mut total = 0;
        for i in 0..sizes.queries + 20 {
            // A week, moving through the year.
            let start = from + chrono::Duration::days((i % 50) as i64 * 7);
            let f = json!({"from": start.to_rfc3339(), "to": (start + chrono::Duration::days(7)).to_rfc3339()});
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
            anyhow::ensure!(resp.errors.is_empty(), "calendar query failed: {:?}", resp.errors);
            let data = resp.data.into_json()?;
            let n = data["publications"]["nodes"].as_array().map_or(0, Vec::len);
            anyhow::ensure!(n == 50, "a full page of publications for {who}: {n}");
            total = data["publications"]["totalCount"].as_u64().unwrap_or(0);
            if i >= 20 {
                latencies.push(took);
            }
        }
        latencies.sort_unstable();
        out[who] = json!({
            "week_total": total,
            "p50_ms": percentile(&latencies, 0.50),
            "p99_ms": percentile(&latencies, 0.99),
            "max_ms": percentile(&latencies, 1.0),
        });
    }
    Ok(out)
}
