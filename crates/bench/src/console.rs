//! The console's first paint: `open` open tasks for one editor (and
//! `finished` finished ones), the server's own router on a loopback port,
//! and Debian's Chromium loading `/app` with the editor's session cookie
//! (crates/bench/browser/console_paint.py). What counts is the time from
//! the navigation's start to the frame after the inbox is drawn
//! (`smmflow:inbox-painted`, a mark the console sets), as a person sees it.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{Target, open_bench};

pub struct Sizes {
    pub open: usize,
    pub finished: usize,
    pub loads: usize,
}

pub async fn run(target: &Target, sizes: &Sizes, python: &str) -> Result<Value> {
    let (rt, store) = open_bench(target).await?;
    let seeding = Instant::now();
    let finished = crate::inbox::seed(&rt, &store, sizes.open, sizes.finished).await?;
    let seed_secs = seeding.elapsed().as_secs_f64();

    // A console session for editor0, as a redeemed sign-in link leaves it.
    let session = smmflow_api::new_token();
    let now = rt.now();
    let nonce = uuid::Uuid::new_v4().to_string();
    let hash = smmflow_api::hash_token(&session);
    if !store.start_session(&nonce, &hash, "editor0", now, now + chrono::Duration::days(1)).await? {
        bail!("the session was not stored");
    }
    let (base, server) = crate::serve_loopback(rt.clone()).await?;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/console_paint.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .env("BASE_URL", &base)
        .env("SESSION", &session)
        .env("LOADS", sizes.loads.to_string())
        .output()
        .await
        .with_context(|| format!("cannot run {python} {script} (scripts/test installs selenium and Chromium)"))?;
    server.abort();
    if !out.status.success() {
        bail!("{script} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let loads: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    if loads.len() != sizes.loads {
        bail!("{} of {} loads measured:\n{}", loads.len(), sizes.loads, String::from_utf8_lossy(&out.stdout));
    }
    for l in &loads {
        let shown = l["items"].as_u64().unwrap_or(0);
        let total = l["total"].as_str().unwrap_or("");
        if shown != 100.min(sizes.open) as u64 || !total.starts_with(&format!("{} open task", sizes.open)) {
            bail!("the inbox shows {shown} tasks and {total:?}, not the first 100 of {}", sizes.open);
        }
    }
    let series = |key: &str, from: usize| {
        let mut v: Vec<f64> = loads.iter().skip(from).filter_map(|l| l[key].as_f64()).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let pick = |v: &[f64], p: f64| v.get(((v.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN);
    let (painted, fcp, rendered) = (series("painted", 1), series("fcp", 1), series("rendered", 1));
    Ok(json!({
        "database": target.name,
        "open_tasks": sizes.open,
        "finished_tasks": finished,
        "loads": sizes.loads,
        "seed_seconds": seed_secs,
        "cold_painted_ms": loads[0]["painted"],
        "fcp_p50_ms": pick(&fcp, 0.5),
        "rendered_p50_ms": pick(&rendered, 0.5),
        "painted_p50_ms": pick(&painted, 0.5),
        "painted_p90_ms": pick(&painted, 0.9),
        "painted_max_ms": pick(&painted, 1.0),
    }))
}
