//! The inbox benchmark: `tasks(filter: {mine: true}, first: 50)` through
//! the GraphQL schema (in-process, as the server runs it: token lookup,
//! resolvers, loaders), with a long history of finished tasks in the
//! database and thousands of open ones.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;
use smmflow_runtime::StartRequest;

use crate::{Target, add_user, open_bench, percentile};

const QUERY: &str =
    "{ tasks(filter: {mine: true}, first: 50) { totalCount nodes { id title dueAt overdue status step { id } } } }";

pub struct Sizes {
    pub open: usize,
    pub finished: usize,
    pub queries: usize,
}

pub async fn run(target: &Target, sizes: &Sizes) -> Result<serde_json::Value> {
    let (rt, store) = open_bench(target).await?;
    let seeding = Instant::now();

    let finished = seed(&rt, &store, sizes.open, sizes.finished).await?;
    let seed_secs = seeding.elapsed().as_secs_f64();

    let token = smmflow_api::new_token();
    store.add_token(&smmflow_api::hash_token(&token), "editor0", "bench", rt.now()).await?;
    let schema =
        smmflow_api::schema(rt.clone(), smmflow_api::SchemaOptions { introspection: true, ..Default::default() });
    let header = format!("Bearer {token}");
    let mut latencies: Vec<Duration> = Vec::with_capacity(sizes.queries);
    for i in 0..sizes.queries + 20 {
        let t = Instant::now();
        let access = rt.sign_in(Some(&header)).await?;
        let (users, workspaces) = smmflow_api::loaders::for_request(&access);
        let resp = schema.execute(async_graphql::Request::new(QUERY).data(access).data(users).data(workspaces)).await;
        let took = t.elapsed();
        anyhow::ensure!(resp.errors.is_empty(), "inbox query failed: {:?}", resp.errors);
        let data = resp.data.into_json()?;
        anyhow::ensure!(
            data["tasks"]["nodes"].as_array().map(Vec::len) == Some(50.min(sizes.open)),
            "a full page of open tasks: {data}"
        );
        anyhow::ensure!(
            data["tasks"]["totalCount"] == json!(sizes.open),
            "only open tasks are mine: {}",
            data["tasks"]["totalCount"]
        );
        // The first 20 warm the caches.
        if i >= 20 {
            latencies.push(took);
        }
    }
    latencies.sort_unstable();
    Ok(json!({
        "database": target.name,
        "open_tasks": sizes.open,
        "finished_tasks": finished,
        "queries": sizes.queries,
        "seed_seconds": seed_secs,
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "max_ms": percentile(&latencies, 1.0),
        "db_bytes": store.database_bytes().await?,
    }))
}

/// Four editors (`editor0`...) and `manager0`; `open` drafts open for every
/// editor (one per instance) and `finished` finished tasks of a year ago
/// spread over the same instances; returns the number of finished tasks
/// written.
pub async fn seed(
    rt: &std::sync::Arc<smmflow_runtime::Runtime>,
    store: &smmflow_store::Store,
    open: usize,
    finished: usize,
) -> Result<u64> {
    for i in 0..4 {
        add_user(store, &format!("editor{i}"), "editor").await?;
    }
    add_user(store, "manager0", "manager").await?;
    let mut handles = Vec::new();
    for w in 0..4 {
        let rt = rt.clone();
        let n = open / 4 + usize::from(w < open % 4);
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                let req = StartRequest {
                    workflow: "approval-loop".into(),
                    workspace: "bench".into(),
                    inputs: json!({}),
                    actor: "manager0".into(),
                    idempotency_key: None,
                };
                ids.push(rt.system().start(req).await?.id);
            }
            Ok::<_, anyhow::Error>(ids)
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.extend(h.await??);
    }
    let per = finished.div_ceil(ids.len().max(1)) as u32;
    let owners: Vec<_> = ids.iter().map(|id| (*id, "bench".to_string(), "approval-loop".to_string())).collect();
    let history_at = rt.now() - chrono::Duration::days(365);
    let written =
        if finished > 0 { store.seed_finished_tasks(&owners, per, "editor", "editor0", history_at).await? } else { 0 };
    store.settle_after_bulk_load().await?;
    Ok(written as u64)
}
