//! Checking and running large workflows: chains of N steps (each reading
//! the first step's output in a template, so every step asks the upstream
//! question), timed through the validator as a deploy runs it, the load of
//! a stored definition after a restart (decoded, not checked), and the
//! engine's start of a chain of `notify` steps that all complete in the
//! start's own cascade. Pure: no database.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde_json::json;
use smmflow_engine::{Directory, Env, Start, decide};
use smmflow_spec::{Calendar, Project, Source};

/// A chain of `n` steps of the given kind.
fn chain(n: usize, notify: bool) -> String {
    let mut y = format!("workflow: chain-{n}\nname: Chain\nroles: {{writer: Writes}}\nsteps:\n");
    for i in 0..n {
        y.push_str(&format!("  s{i}:\n"));
        if notify {
            y.push_str("    type: notify\n    to: [\"role:writer\"]\n    subject: \"Step {{ instance.id }}\"\n    body: Done\n");
        } else {
            y.push_str("    role: writer\n");
        }
        if i > 0 {
            y.push_str(&format!("    title: \"After {{{{ steps.s0.status }}}}\"\n    after: [s{}]\n", i - 1));
        }
    }
    y
}

struct Nobody;

impl Directory for Nobody {
    fn members(&self, _: &str) -> Vec<String> {
        vec!["wanda".into()]
    }
    fn open_tasks(&self, _: &str) -> usize {
        0
    }
    fn last_assigned(&self, _: &str) -> Option<String> {
        None
    }
}

/// The best of `runs` timings of `f`.
fn best<T>(runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed());
    }
    Ok(best)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(sizes: &[usize]) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    println!("{:>7} {:>9} {:>12} {:>12} {:>14}", "steps", "bytes", "check ms", "load ms", "start ms");
    for &n in sizes {
        let text = chain(n, false);
        let check = best(3, || {
            let p = Project::from_sources(vec![Source { path: "chain.yaml".into(), text: text.clone() }]);
            ensure!(!p.has_errors(), "the {n}-step chain does not validate: {:?}", p.diagnostics.first());
            Ok(p)
        })?;
        let load = best(3, || {
            let mut sink = smmflow_spec::diag::Sink::new("stored");
            smmflow_spec::project::load_document(&text, &mut sink).ok_or_else(|| anyhow::anyhow!("no document"))
        })?;
        let notify = chain(n, true);
        let p = Project::from_sources(vec![Source { path: "notify.yaml".into(), text: notify }]);
        ensure!(!p.has_errors(), "the notify chain does not validate: {:?}", p.diagnostics.first());
        let wf = p.workflow(&format!("chain-{n}")).ok_or_else(|| anyhow::anyhow!("no workflow"))?.clone();
        let cal = Calendar::default_business();
        let start = best(3, || {
            let env = Env {
                now: chrono::Utc::now(),
                workflow: &wf,
                version: 1,
                calendar: &cal,
                directory: &Nobody,
                profile: None,
            };
            let s = Start {
                id: uuid::Uuid::now_v7(),
                workspace: "bench".into(),
                inputs: json!({}),
                parent: None,
                schedule: None,
                calendar: None,
                context: serde_json::Value::Null,
            };
            let o = decide::start(&env, "lead", s)?;
            ensure!(o.state.status.is_finished(), "the notify chain did not run through");
            Ok(o)
        })?;
        println!("{n:>7} {:>9} {:>12.1} {:>12.1} {:>14.1}", text.len(), ms(check), ms(load), ms(start));
        out.push(json!({
            "steps": n,
            "bytes": text.len(),
            "check_ms": ms(check),
            "load_ms": ms(load),
            "start_notify_chain_ms": ms(start),
        }));
    }
    Ok(out)
}
