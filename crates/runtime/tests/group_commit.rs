//! The group commit (SQLite and PostgreSQL), under concurrent commands: jobs in one
//! transaction see each other's work, a refused job changes nothing and
//! does not spoil its group, round-robin assignment stays fair across a
//! group, and an idempotency key used twice in one group starts once.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{Sim, databases};
use serde_json::json;
use smmflow_engine::{Command, TaskStatus};
use smmflow_runtime::StartRequest;
use smmflow_store::InstanceWrite;

const POST: &str = r#"
workflow: post
name: Post
roles: {copywriter: Writes, editor: Edits}
inputs:
  n: {type: integer, required: true}
steps:
  draft:
    role: copywriter
    form:
      text: {type: text, required: true}
  review:
    type: approval
    role: editor
    after: [draft]
    due: 2h
    on_reject: {goto: draft, max_rounds: 3}
"#;

const ROTA: &str = r#"
workflow: rota
name: Rota
roles: {editor: Edits}
steps:
  check:
    role: editor
    assign: round_robin
"#;

/// The version check on save: a unit of work decided on an instance that
/// someone else has moved on since, to a version at or past the unit's, is
/// a conflict (the runtime then decides again on fresh state), and none of
/// its rows are written, the other instance's of the same unit included.
/// Both ways a unit is written: many instances (their rows in one upsert,
/// which overwrites only an older version) and one (an update from the
/// version it read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_decided_on_a_stale_instance_is_a_conflict_and_writes_nothing() {
    for (db, url, _dir) in databases("stale").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(POST).await;
        let a = sim.rt.system().start(post(1)).await.unwrap();
        let b = sim.rt.system().start(post(2)).await.unwrap();
        let (old_a, old_b) = (sim.inst(a.id).await, sim.inst(b.id).await);
        // Someone else moves `a` on.
        sim.rt.system().command(a.id, "wanda", Command::Claim { task: a.tasks[0].no }).await.unwrap();
        let moved = sim.inst(a.id).await;
        assert!(moved.seq > old_a.seq);
        // The next version of each, one event further, decided on the old states.
        let mut next = Vec::new();
        for old in [&old_a, &old_b] {
            let mut event = sim.store.events(old.id).await.unwrap().pop().unwrap();
            let mut state = old.clone();
            state.seq += 1;
            event.seq = state.seq;
            next.push((state, vec![event]));
        }
        let writes: Vec<InstanceWrite<'_>> = [&old_a, &old_b]
            .iter()
            .zip(&next)
            .map(|(old, (state, events))| InstanceWrite { expected_seq: Some(old.seq), state, events })
            .collect();
        for unit in [&writes[..], &writes[..1]] {
            let tx = sim.store.begin().await.unwrap();
            let r = tx.write_instances(unit, chrono::Utc::now()).await;
            assert!(matches!(r, Err(smmflow_store::Error::Conflict(_))), "{db}, {} instances: {r:?}", unit.len());
            tx.rollback().await.unwrap();
        }
        assert_eq!(sim.inst(a.id).await.seq, moved.seq, "{db}");
        assert_eq!(sim.inst(b.id).await.seq, old_b.seq, "{db}: nothing of the unit was written");
        assert_eq!(sim.store.events(b.id).await.unwrap().len() as u64, old_b.seq, "{db}");
    }
}

/// Lena starts post number `n` in acme.
fn post(n: usize) -> StartRequest {
    StartRequest {
        workflow: "post".into(),
        workspace: "acme".into(),
        inputs: json!({"n": n}),
        actor: "lena".into(),
        idempotency_key: None,
    }
}

/// Runs `f` for each n in 0..count as concurrent tasks; returns their results in order.
async fn concurrently<T, F, Fut>(count: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..count).map(|n| tokio::spawn(f(n))).collect();
    let mut out = Vec::with_capacity(count);
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_share_commits_and_a_refused_one_spoils_nothing() {
    for (db, url, _dir) in databases("group").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(POST).await;
        let posts = concurrently(40, |n| {
            let rt = sim.rt.clone();
            async move { rt.system().start(post(n)).await.unwrap() }
        })
        .await;
        // Each draft completed twice at once (one must be refused), plus a
        // command on an unknown instance, all in flight together.
        let results = concurrently(posts.len() * 2 + 1, |k| {
            let rt = sim.rt.clone();
            let target = posts.get(k / 2).map(|p| (p.id, p.tasks[0].no));
            async move {
                match target {
                    Some((id, no)) => {
                        let out = json!({"text": format!("take {k}")});
                        rt.system().command(id, "wanda", Command::Complete { task: no, output: out }).await.map(|_| k)
                    }
                    None => {
                        rt.system().command(uuid::Uuid::now_v7(), "wanda", Command::Claim { task: 1 }).await.map(|_| k)
                    }
                }
            }
        })
        .await;
        let mut codes = BTreeMap::<&str, usize>::new();
        for r in &results {
            *codes.entry(r.as_ref().err().map_or("OK", |e| e.code().as_str())).or_default() += 1;
        }
        assert_eq!(codes.get("OK"), Some(&posts.len()), "one completion per draft: {codes:?}");
        assert_eq!(codes.get("NOT_FOUND"), Some(&1), "{codes:?}");
        let (groups, grouped) = sim.rt.metrics.groups();
        assert!(grouped > groups, "commands shared commits ({grouped} commands in {groups} groups)");
        for p in &posts {
            let inst = sim.inst(p.id).await;
            let winner = results
                .iter()
                .filter_map(|r| r.as_ref().ok())
                .find(|k| posts.get(**k / 2).map(|q| q.id) == Some(p.id))
                .copied()
                .unwrap();
            let draft = inst.task(p.tasks[0].no).unwrap();
            assert_eq!(draft.status, TaskStatus::Completed);
            assert_eq!(draft.output, Some(json!({"text": format!("take {winner}")})), "the acknowledged one won");
            let reviews = inst.tasks.iter().filter(|t| t.step == "review").count();
            assert_eq!(reviews, 1, "one review per post");
        }
        // The review's due timer of every post is set, each once.
        assert_eq!(sim.store.timer_count().await.unwrap(), posts.len() as u64);
        sim.assert_replays().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_stays_fair_when_starts_share_a_commit() {
    for (db, url, _dir) in databases("rota").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(ROTA).await;
        let started = concurrently(30, |_| {
            let rt = sim.rt.clone();
            async move {
                let req = StartRequest {
                    workflow: "rota".into(),
                    workspace: "acme".into(),
                    inputs: json!({}),
                    actor: "lena".into(),
                    idempotency_key: None,
                };
                rt.system().start(req).await.unwrap()
            }
        })
        .await;
        let mut per_user = BTreeMap::<String, usize>::new();
        for s in &started {
            let who = s.tasks[0].assignee.clone().unwrap();
            *per_user.entry(who).or_default() += 1;
        }
        // The editors are eddie and erin: turns alternate, 15 each.
        assert_eq!(per_user.values().copied().collect::<Vec<_>>(), vec![15, 15], "{per_user:?}");
        sim.assert_replays().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_sent_many_times_at_once_starts_one_instance() {
    for (db, url, _dir) in databases("idemgroup").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(POST).await;
        let ids = concurrently(12, |_| {
            let rt = sim.rt.clone();
            async move {
                let req = StartRequest {
                    workflow: "post".into(),
                    workspace: "acme".into(),
                    inputs: json!({"n": 1}),
                    actor: "lena".into(),
                    idempotency_key: Some("post-2026-12-01".into()),
                };
                rt.system().start(req).await.map(|i| i.id).map_err(|e| e.code())
            }
        })
        .await;
        let ok: Vec<_> = ids.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert!(!ok.is_empty(), "{db}: {ids:?}");
        assert!(ok.iter().all(|id| *id == ok[0]), "{db}: every retry names the first instance: {ids:?}");
        assert_eq!(sim.store.instance_ids().await.unwrap().len(), 1, "{db}");
    }
}

const WAIT: &str = r#"
workflow: go-live
name: Go live
roles: {smm_manager: Schedules}
steps:
  hold:
    type: wait
    duration: 30m
  publish:
    role: smm_manager
    after: [hold]
    due: 1h
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_due_together_fire_once_each_and_share_commits() {
    for (db, url, _dir) in databases("waits").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(WAIT).await;
        let reqs: Vec<StartRequest> = (0..150)
            .map(|_| StartRequest {
                workflow: "go-live".into(),
                workspace: "acme".into(),
                inputs: json!({}),
                actor: "lena".into(),
                idempotency_key: None,
            })
            .collect();
        let started = sim.rt.system().start_many(reqs).await.unwrap();
        assert!(started.iter().all(Result::is_ok), "{db}");
        assert_eq!(sim.store.timer_count().await.unwrap(), 150, "{db}: one wait timer each");
        let (groups_before, _) = sim.rt.metrics.groups();
        sim.clock.set(common::at("2026-12-01T09:30:00Z"));
        let fired = sim.rt.fire_due_timers().await.unwrap();
        assert_eq!(fired, 150, "{db}");
        // A second pass finds nothing: each fired once.
        assert_eq!(sim.rt.fire_due_timers().await.unwrap(), 0, "{db}");
        for id in started.iter().flatten() {
            let inst = sim.inst(*id).await;
            let publish: Vec<_> = inst.tasks.iter().filter(|t| t.step == "publish").collect();
            assert_eq!(publish.len(), 1, "{db}: one publishing task after the wait");
            assert_eq!(publish[0].status, TaskStatus::Open);
        }
        // The waits' timers are gone; each publishing task's due timer is set.
        assert_eq!(sim.store.timer_count().await.unwrap(), 150, "{db}");
        let (groups, grouped) = sim.rt.metrics.groups();
        assert!(groups - groups_before < 150, "{db}: timers shared commits ({grouped} in {groups})");
        sim.assert_replays().await;
    }
}

/// One person's loop, as the benchmark's: start a post, write it, have it
/// reviewed (sent back once for every third), until it is published.
async fn walk(rt: std::sync::Arc<smmflow_runtime::Runtime>, n: usize) -> uuid::Uuid {
    let mut inst = rt.system().start(post(n)).await.unwrap();
    let mut rejected = false;
    while let Some(task) = inst.tasks.iter().find(|t| t.status == TaskStatus::Open).cloned() {
        let (who, cmd) = if task.step == "review" {
            if n.is_multiple_of(3) && !rejected {
                rejected = true;
                ("eddie", Command::Reject { task: task.no, comment: "again".into(), reasons: vec![] })
            } else {
                ("eddie", Command::Approve { task: task.no, comment: None })
            }
        } else {
            ("wanda", Command::Complete { task: task.no, output: json!({"text": format!("post {n} r{}", task.round)}) })
        };
        inst = rt.system().command(inst.id, who, cmd).await.unwrap();
    }
    inst.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_decided_while_the_one_before_commits_lose_nothing() {
    for (db, url, _dir) in databases("ahead").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(POST).await;
        // 16 people at once, each through 6 posts back to back: a command
        // arrives while the group before it commits, and (on SQLite) is
        // decided then, on top of what that group wrote.
        let ids: Vec<uuid::Uuid> = concurrently(16, |w| {
            let rt = sim.rt.clone();
            async move {
                let mut ids = Vec::new();
                for k in 0..6 {
                    ids.push(walk(rt.clone(), w * 6 + k).await);
                }
                ids
            }
        })
        .await
        .into_iter()
        .flatten()
        .collect();
        assert_eq!(ids.len(), 96);
        for id in &ids {
            let inst = sim.inst(*id).await;
            let n = inst.inputs["n"].as_u64().unwrap();
            assert!(inst.status.is_finished(), "{db}: post {n} finished");
            let reviews = inst.tasks.iter().filter(|t| t.step == "review").count();
            assert_eq!(reviews, if n.is_multiple_of(3) { 2 } else { 1 }, "{db}: post {n}'s rounds");
            let last = inst.tasks.iter().rfind(|t| t.step == "draft").unwrap();
            let round = last.round;
            assert_eq!(last.output, Some(json!({"text": format!("post {n} r{round}")})), "{db}");
        }
        // Every review's due timer was cleared by its decision.
        assert_eq!(sim.store.timer_count().await.unwrap(), 0, "{db}");
        let ahead = sim.rt.metrics.groups_ahead();
        if db == "sqlite" {
            assert!(ahead > 0, "sqlite: some groups were decided while the one before committed");
        } else {
            assert_eq!(ahead, 0, "{db}: PostgreSQL's groups lock their rows and are not decided ahead");
        }
        sim.assert_replays().await;
    }
}
