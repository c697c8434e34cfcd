//! `smmflow data copy`'s rate: a database with `--events` events (real
//! instances started through the engine, each with a long history of
//! events repeating a real payload) copied SQLite -> PostgreSQL and back,
//! with the copy's own verification included in the time.

use std::time::Instant;

use anyhow::{Result, anyhow};
use serde_json::json;
use smmflow_runtime::StartRequest;
use smmflow_store::Store;

use crate::{Target, open_bench};

pub async fn run(events: usize, instances: usize, postgres_url: &str) -> Result<Vec<serde_json::Value>> {
    let dir = tempfile::tempdir()?;
    let sqlite = Target::sqlite(format!("sqlite://{}/source.db", dir.path().display()), None);
    let (rt, store) = open_bench(&sqlite).await?;
    crate::add_user(&store, "manager0", "manager").await?;
    let seeding = Instant::now();
    let reqs: Vec<StartRequest> = (0..instances)
        .map(|_| StartRequest {
            workflow: "approval-loop".into(),
            workspace: "bench".into(),
            inputs: json!({}),
            actor: "manager0".into(),
            idempotency_key: None,
        })
        .collect();
    let ids: Vec<uuid::Uuid> = rt.system().start_many(reqs).await?.into_iter().collect::<Result<_, _>>()?;
    drop(rt);
    let first = *ids.first().ok_or_else(|| anyhow!("no instance started"))?;
    let data = store.sample_event_data(first).await?.ok_or_else(|| anyhow!("no event to repeat"))?;
    // A start writes a few events of its own; the history makes up the rest
    // (the copy's report gives the exact count).
    let per = (events / ids.len().max(1)).saturating_sub(3) as u32;
    store.seed_events(&ids, per, &data, chrono::Utc::now()).await?;
    let seed_secs = seeding.elapsed().as_secs_f64();

    let mut out = Vec::new();
    let pg = Target::fresh_postgres(postgres_url).await?;
    let to_pg = Store::connect(&pg.url).await?;
    to_pg.migrate().await?;
    out.push(measure("sqlite -> postgres", &store, &to_pg, seed_secs).await?);
    let back = Store::connect(&format!("sqlite://{}/back.db", dir.path().display())).await?;
    back.migrate().await?;
    out.push(measure("postgres -> sqlite", &to_pg, &back, seed_secs).await?);
    Ok(out)
}

async fn measure(name: &str, from: &Store, to: &Store, seed_secs: f64) -> Result<serde_json::Value> {
    let started = Instant::now();
    let report = from.copy_into(to, 2000, &mut |_| {}).await?;
    let secs = started.elapsed().as_secs_f64();
    Ok(json!({
        "direction": name,
        "rows": report.rows,
        "events": report.events,
        "seconds": secs,
        "events_per_s": report.events as f64 / secs,
        "rows_per_s": report.rows as f64 / secs,
        "seed_seconds": seed_secs,
        "peak_rss_mib": crate::peak_rss_kib() as f64 / 1024.0,
        "anon_rss_mib": anon_rss_kib() as f64 / 1024.0,
    }))
}

/// The process's anonymous resident memory now (its own heap, without the
/// pages of the memory-mapped SQLite files, which the kernel can drop).
fn anon_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("RssAnon:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
