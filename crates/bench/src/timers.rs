//! Timer lateness: N instances each wait until a time in the same minute;
//! the timer service (as `smmflow serve` runs it, on one replica or on
//! `--replicas` of them sharing a PostgreSQL database) fires them. Lateness is
//! how long after its due time each wait ended (the instance's completion,
//! which the firing commits).

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};
use smmflow_runtime::StartRequest;
use smmflow_store::InstanceFilter;

use crate::{Target, add_user, open_bench, peak_rss_kib, percentile};

const WAIT: &str = r#"
workflow: timer-wait
name: Wait until a time (benchmark)
roles: {manager: Starts it}
inputs:
  at: {type: string, required: true}
steps:
  hold:
    type: wait
    until: "{{ inputs.at }}"
"#;

/// Instances started per transaction while seeding.
const CHUNK: usize = 500;

pub async fn run(target: &Target, timers: usize, lead: Duration, replicas: usize) -> Result<Value> {
    ensure!(replicas == 1 || target.name == "postgres", "several replicas need PostgreSQL");
    let (rt, store) = open_bench(target).await?;
    rt.system().deploy(WAIT, smmflow_runtime::Deployer::System).await?;
    add_user(&store, "manager0", "manager").await?;

    // Due times: spread evenly over one minute that starts `lead` from now,
    // so that seeding is over before the first is due.
    let minute = (Utc::now() + chrono::Duration::from_std(lead)?).trunc_subsecs(0);
    let due = |i: usize| minute + chrono::Duration::microseconds((i as i64 * 60_000_000) / timers.max(1) as i64);
    let seeding = Instant::now();
    let mut seeded = 0;
    while seeded < timers {
        let n = CHUNK.min(timers - seeded);
        let reqs = (seeded..seeded + n)
            .map(|i| StartRequest {
                workflow: "timer-wait".into(),
                workspace: "bench".into(),
                inputs: json!({"at": due(i).to_rfc3339()}),
                actor: "manager0".into(),
                idempotency_key: None,
            })
            .collect();
        rt.system().start_many(reqs).await?;
        seeded += n;
    }
    let seed_secs = seeding.elapsed().as_secs_f64();
    ensure!(
        Utc::now() < minute,
        "seeding took {seed_secs:.0} s, past the first due time: run again with a longer --lead"
    );

    // Each replica as `smmflow serve` runs it: its own node name, the timer
    // service, and other replicas' commits relayed (they wake it).
    let mut runtimes = vec![rt.clone()];
    for r in 1..replicas {
        let (other, _) = smmflow_runtime::Runtime::open(smmflow_runtime::Options {
            database_url: target.url.clone(),
            workflows: None,
            clock: std::sync::Arc::new(smmflow_runtime::SystemClock),
            node: format!("bench-{r}"),
        })
        .await?;
        runtimes.push(other);
    }
    let mut services = Vec::new();
    for r in &runtimes {
        if replicas > 1 {
            r.clone().relay_other_replicas().await?;
        }
        services.push(r.clone().spawn_timer_service(Duration::from_millis(250)));
    }
    let last_due = due(timers.saturating_sub(1));
    let filter = |statuses: &[&str]| InstanceFilter {
        workflow: Some("timer-wait".into()),
        statuses: statuses.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let left = store.count_instances(&filter(&["running"])).await?;
        if left == 0 {
            break;
        }
        ensure!(
            Utc::now() < last_due + chrono::Duration::minutes(10),
            "{left} waits still running 10 min after the minute"
        );
    }
    for service in services {
        service.stop().await;
    }

    let done = store.instances(&filter(&["completed"])).await?;
    ensure!(done.len() == timers, "{} of {timers} waits completed", done.len());
    let mut lateness = Vec::with_capacity(done.len());
    for inst in &done {
        let at: DateTime<Utc> = inst.inputs["at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .ok_or_else(|| anyhow!("instance {} lost its due time", inst.id))?
            .into();
        let end = inst.completed_at.ok_or_else(|| anyhow!("instance {} has no completion time", inst.id))?;
        ensure!(end >= at, "instance {} fired early: due {at}, fired {end}", inst.id);
        lateness.push((end - at).to_std().unwrap_or_default());
    }
    lateness.sort_unstable();
    let fired_in = done.iter().filter_map(|i| i.completed_at).max().map(|last| (last - minute).num_milliseconds());
    Ok(json!({
        "database": target.name,
        "timers": timers,
        "replicas": replicas,
        "seed_seconds": seed_secs,
        "p50_ms": percentile(&lateness, 0.50),
        "p99_ms": percentile(&lateness, 0.99),
        "max_ms": percentile(&lateness, 1.0),
        "last_fired_after_minute_start_ms": fired_in,
        "peak_rss_mib": peak_rss_kib() as f64 / 1024.0,
    }))
}
