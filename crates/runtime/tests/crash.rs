//! Crash safety: a child process running a command stream is killed with
//! SIGKILL at random points and restarted. No acknowledged event is lost or
//! duplicated, every instance replays to its stored state, and timers that
//! came due while it was down fire once after the restart.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smmflow_runtime::{Options, Runtime, SystemClock};
use uuid::Uuid;

fn run_until_killed(url: &str, for_how_long: Duration, acks: &Arc<Mutex<HashMap<Uuid, u64>>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smmflow-chaos"))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the chaos stream starts");
    let stdout = child.stdout.take().unwrap();
    let acks = acks.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut parts = line.split_whitespace();
            if let (Some("ACK"), Some(id), Some(seq)) = (parts.next(), parts.next(), parts.next()) {
                let (id, seq): (Uuid, u64) = (id.parse().unwrap(), seq.parse().unwrap());
                let mut a = acks.lock().unwrap();
                let e = a.entry(id).or_default();
                *e = (*e).max(seq);
            }
        }
    });
    let started = Instant::now();
    while started.elapsed() < for_how_long {
        std::thread::sleep(Duration::from_millis(10));
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the chaos stream exited by itself: {status}");
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix: no chance to clean up
    child.wait().unwrap();
    reader.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_command_streams_lose_and_duplicate_nothing() {
    for (db, url, _dir) in common::databases("crash").await {
        let acks = Arc::new(Mutex::new(HashMap::new()));
        // Kill after varying times; pause so that timers come due while down.
        let mut seed = 0x9e37_79b9_u64;
        for round in 0..6 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let run = Duration::from_millis(300 + (seed >> 33) % 900);
            let url = url.clone();
            let acks2 = acks.clone();
            tokio::task::spawn_blocking(move || run_until_killed(&url, run, &acks2)).await.unwrap();
            if round % 2 == 0 {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
        }
        let acks = acks.lock().unwrap().clone();
        assert!(acks.len() >= 3, "{db}: the stream made progress ({} instances acknowledged)", acks.len());
        // Restart once more, in-process: the due timers fire, once.
        let (rt, _) = Runtime::open(Options {
            database_url: url.clone(),
            workflows: None,
            clock: Arc::new(SystemClock),
            node: "verify".into(),
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        rt.fire_due_timers().await.unwrap();
        let store = smmflow_store::Store::connect(&url).await.unwrap();
        assert!(
            store.claim_due_timers(rt.now(), "check", chrono::Duration::seconds(1), 10).await.unwrap().is_empty(),
            "{db}: no due timer left"
        );
        for (id, seq) in &acks {
            let events = store.events(*id).await.unwrap();
            assert!(
                events.len() as u64 >= *seq,
                "{db}: instance {id} lost acknowledged events ({} < {seq})",
                events.len()
            );
        }
        let mut fired_waits = 0;
        for id in store.instance_ids().await.unwrap() {
            let events = store.events(id).await.unwrap();
            for (i, e) in events.iter().enumerate() {
                assert_eq!(e.seq, i as u64 + 1, "{db}: events of {id} are contiguous");
            }
            let state = store.instance(id).await.unwrap().unwrap();
            assert_eq!(smmflow_engine::apply::replay(events.iter()).unwrap(), state, "{db}: {id} replays");
            // Each wait (per rework round) completed at most once; tasks not duplicated.
            let mut seen = HashSet::new();
            let mut round = 1;
            for e in &events {
                match &e.kind {
                    smmflow_engine::EventKind::ReworkStarted { round: r, .. } => round = *r,
                    smmflow_engine::EventKind::StepCompleted { step, .. } => {
                        assert!(
                            seen.insert((step.clone(), round)),
                            "{db}: {step} completed twice in round {round} of {id}"
                        );
                        if step == "settle" {
                            fired_waits += 1;
                        }
                    }
                    _ => {}
                }
            }
            let mut per_round = HashSet::new();
            for t in &state.tasks {
                if t.status.as_str() != "cancelled" {
                    assert!(
                        per_round.insert((
                            t.step.clone(),
                            t.round,
                            t.item,
                            t.kind.clone() == smmflow_engine::TaskKind::Task
                        )),
                        "{db}: duplicate task {t:?}"
                    );
                }
            }
        }
        assert!(fired_waits > 0, "{db}: some waits fired");
        let total: usize = acks.values().map(|s| *s as usize).sum();
        eprintln!(
            "crash test on {db}: 6 SIGKILLs, {} instances, {total} acknowledged events kept, {fired_waits} waits fired once",
            acks.len()
        );
    }
}
