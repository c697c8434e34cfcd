//! The command API's guarantees on SQLite and PostgreSQL: races resolve to
//! one winner, bad input changes nothing, idempotent starts, and deploys
//! that never break running instances.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Sim, databases};
use serde_json::json;
use smmflow_engine::Command;
use smmflow_runtime::StartRequest;

const FLOW: &str = r#"
workflow: race-flow
name: Race flow
roles: {writer: Writes, editor: Edits}
inputs:
  topic: {type: string, required: true}
steps:
  draft:
    role: writer
    for_each: "[1, 2, 3, 4]"
    form:
      text: {type: text, required: true}
      words: {type: integer, min: 1}
  review:
    type: approval
    role: editor
    after: [draft]
    on_reject: {goto: draft}
"#;

#[tokio::test]
async fn eight_concurrent_workers_leave_one_consistent_result() {
    for (db, url, _dir) in databases("race").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(FLOW).await;
        let inst = sim.start("race-flow", json!({"topic": "x"}), "lena").await;
        let tasks: Vec<u32> = inst.active_tasks().map(|t| t.no).collect();
        assert_eq!(tasks.len(), 4);
        let mut handles = Vec::new();
        for worker in 0..8 {
            let rt = sim.rt.clone();
            let id = inst.id;
            let tasks = tasks.clone();
            handles.push(tokio::spawn(async move {
                let user = if worker % 2 == 0 { "wanda" } else { "walt" };
                let mut results = Vec::new();
                for round in 0..tasks.len() {
                    let no = tasks[(worker + round) % tasks.len()];
                    let cmd = if (worker + round) % 3 == 0 {
                        Command::Claim { task: no }
                    } else {
                        Command::Complete { task: no, output: json!({"text": format!("by {user}")}) }
                    };
                    results.push(rt.system().command(id, user, cmd).await.map(|_| ()).map_err(|e| e.code().as_str()));
                }
                results
            }));
        }
        let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
        for h in handles {
            for r in h.await.unwrap() {
                *outcomes.entry(r.err().unwrap_or("OK")).or_default() += 1;
            }
        }
        let allowed = ["OK", "CONFLICT", "TASK_ALREADY_COMPLETED"];
        assert!(outcomes.keys().all(|k| allowed.contains(k)), "{db}: {outcomes:?}");
        let done = sim.inst(inst.id).await;
        // Each task completed exactly once, and the approval exists once.
        let completed: Vec<&smmflow_engine::Task> = done.tasks.iter().filter(|t| t.step == "draft").collect();
        assert_eq!(completed.len(), 4, "{db}");
        let events = sim.store.events(inst.id).await.unwrap();
        for no in &tasks {
            let n = events.iter().filter(|e| e.kind_name() == "task.completed" && e.kind.task() == Some(*no)).count();
            assert!(n <= 1, "{db}: task {no} completed {n} times");
        }
        let all_done = completed.iter().all(|t| t.status.as_str() == "completed");
        if all_done {
            assert_eq!(done.tasks.iter().filter(|t| t.step == "review").count(), 1, "{db}: one approval task");
        }
        sim.assert_replays().await;
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_its_code_and_changes_nothing() {
    for (db, url, _dir) in databases("badinput").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(FLOW).await;
        let inst = sim.start("race-flow", json!({"topic": "x"}), "lena").await;
        let no = inst.active_tasks().next().unwrap().no;
        let before = sim.inst(inst.id).await;
        let events_before = sim.store.events(inst.id).await.unwrap().len();
        let code = |r: Result<smmflow_engine::Instance, smmflow_runtime::Error>| r.unwrap_err().code();
        let unknown = uuid::Uuid::new_v4();
        assert_eq!(
            code(sim.rt.system().command(unknown, "wanda", Command::Claim { task: 1 }).await),
            "NOT_FOUND",
            "{db}"
        );
        assert_eq!(
            code(sim.rt.system().command(inst.id, "wanda", Command::Claim { task: 999 }).await),
            "NOT_FOUND",
            "{db}"
        );
        assert_eq!(
            code(sim.rt.system().command(inst.id, "eddie", Command::Claim { task: no }).await),
            "FORBIDDEN",
            "{db}"
        );
        assert_eq!(
            code(sim.rt.system().command(inst.id, "wanda", Command::Approve { task: no, comment: None }).await),
            "BAD_USER_INPUT",
            "{db}"
        );
        let err = sim
            .rt
            .system()
            .command(inst.id, "wanda", Command::Complete { task: no, output: json!({"words": "many", "txt": 1}) })
            .await
            .unwrap_err();
        let smmflow_runtime::Error::Engine(smmflow_engine::Error::BadUserInput { fields, .. }) = &err else {
            panic!("{err:?}")
        };
        let paths: Vec<String> = fields.iter().map(|f| f.path.join(".")).collect();
        assert_eq!(paths, ["txt", "text", "words"], "{db}");
        let start = |wf: &str, ws: &str, inputs| StartRequest {
            workflow: wf.into(),
            workspace: ws.into(),
            inputs,
            actor: "lena".into(),
            idempotency_key: None,
        };
        assert_eq!(
            sim.rt.system().start(start("no-such-flow", "acme", json!({}))).await.unwrap_err().code(),
            "NOT_FOUND",
            "{db}"
        );
        assert_eq!(
            sim.rt.system().start(start("race-flow", "nowhere", json!({"topic": "x"}))).await.unwrap_err().code(),
            "NOT_FOUND",
            "{db}"
        );
        assert_eq!(
            sim.rt.system().start(start("race-flow", "acme", json!({"topic": 5}))).await.unwrap_err().code(),
            "BAD_USER_INPUT",
            "{db}"
        );
        assert_eq!(sim.inst(inst.id).await, before, "{db}: nothing changed");
        assert_eq!(sim.store.events(inst.id).await.unwrap().len(), events_before, "{db}");
        assert_eq!(sim.store.instance_ids().await.unwrap().len(), 1, "{db}: no instance was created");
        // Wrong transitions after the fact.
        sim.rt.system().command(inst.id, "lena", Command::Cancel { reason: "client paused".into() }).await.unwrap();
        assert_eq!(
            code(
                sim.rt
                    .system()
                    .command(inst.id, "wanda", Command::Complete { task: no, output: json!({"text": "t"}) })
                    .await
            ),
            "CONFLICT",
            "{db}"
        );
        assert_eq!(code(sim.rt.system().command(inst.id, "lena", Command::Resume).await), "CONFLICT", "{db}");
        let (_, diags) = sim
            .rt
            .system()
            .deploy("workflow: broken\nname: x\n", smmflow_runtime::Deployer::System)
            .await
            .map(|(d, x)| (Some(d), x))
            .unwrap_or_else(|e| match e {
                smmflow_runtime::Error::Invalid(d) => (None, d),
                other => panic!("{other:?}"),
            });
        assert!(diags.iter().any(|d| d.code.as_str() == "E004"), "{db}: {diags:?}");
        sim.assert_replays().await;
    }
}

#[tokio::test]
async fn a_retried_start_with_an_idempotency_key_returns_the_first_instance() {
    for (db, url, _dir) in databases("idem").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(FLOW).await;
        let req = StartRequest {
            workflow: "race-flow".into(),
            workspace: "acme".into(),
            inputs: json!({"topic": "x"}),
            actor: "lena".into(),
            idempotency_key: Some("weekly-2026-49".into()),
        };
        let a = sim.rt.system().start(req.clone()).await.unwrap();
        let b = sim.rt.system().start(req.clone()).await.unwrap();
        assert_eq!(a.id, b.id, "{db}");
        let c = sim
            .rt
            .system()
            .start(StartRequest { idempotency_key: Some("weekly-2026-50".into()), ..req })
            .await
            .unwrap();
        assert_ne!(a.id, c.id, "{db}");
        assert_eq!(sim.store.instance_ids().await.unwrap().len(), 2, "{db}");
    }
}

#[tokio::test]
async fn deploying_versions_by_content_never_breaks_running_instances() {
    for (db, url, _dir) in databases("deploy").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        let (d1, _) = sim.rt.system().deploy(FLOW, smmflow_runtime::Deployer::System).await.unwrap();
        assert_eq!((d1.version, d1.created), (1, true), "{db}");
        let (again, _) = sim.rt.system().deploy(FLOW, smmflow_runtime::Deployer::System).await.unwrap();
        assert_eq!((again.version, again.created), (1, false), "{db}: same content, no new version");
        let old = sim.start("race-flow", json!({"topic": "x"}), "lena").await;
        let v2 = FLOW.replace("for_each: \"[1, 2, 3, 4]\"", "for_each: \"[1, 2]\"");
        let (d2, _) = sim.rt.system().deploy(&v2, smmflow_runtime::Deployer::System).await.unwrap();
        assert_eq!((d2.version, d2.created), (2, true), "{db}");
        let new = sim.start("race-flow", json!({"topic": "y"}), "lena").await;
        assert_eq!((old.version, new.version), (1, 2), "{db}");
        assert_eq!(new.active_tasks().count(), 2, "{db}");
        // The old instance runs to the end on version 1.
        sim.work_through(old.id, common::at("2027-01-01T00:00:00Z"), |_| Some(Ok(json!({"text": "t"})))).await;
        let old = sim.inst(old.id).await;
        assert_eq!(old.status.as_str(), "completed", "{db}");
        assert_eq!(old.tasks.iter().filter(|t| t.step == "draft").count(), 4, "{db}");
        // Redeploying the first content again does not revert to it.
        let (back, _) = sim.rt.system().deploy(FLOW, smmflow_runtime::Deployer::System).await.unwrap();
        assert_eq!((back.version, back.created), (1, false), "{db}");
        assert_eq!(sim.rt.definition("race-flow", None).await.unwrap().version, 2, "{db}: the latest stays latest");
    }
}

const PARENT: &str = r#"
workflow: parent-flow
name: Parent with a calendar
calendar: night-desk
roles: {writer: Writes}
steps:
  child:
    type: subflow
    workflow: child-flow
"#;

const CHILD: &str = r#"
workflow: child-flow
name: Child without a calendar
roles: {writer: Writes}
steps:
  work:
    role: writer
    due: 2 business hours
"#;

const NIGHT_DESK: &str = "calendar: night-desk\ntimezone: UTC\nhours: {mon-sun: \"20:00-23:00\"}\n";

#[tokio::test]
async fn a_subflow_without_a_calendar_counts_business_time_in_its_parents() {
    for (db, url, _dir) in databases("calendar").await {
        let sim = Sim::open(&db, &url, None, "2026-12-01T09:00:00Z").await;
        sim.deploy(NIGHT_DESK).await;
        sim.deploy(CHILD).await;
        sim.deploy(PARENT).await;
        let parent = sim.start("parent-flow", json!({}), "lena").await;
        let child = sim.inst(parent.children[0].id).await;
        assert_eq!(child.calendar.as_deref(), Some("night-desk"), "{db}");
        // 09:00 UTC is closed at the night desk: 2 business hours from the 20:00 opening.
        assert_eq!(child.tasks[0].due_at, Some(common::at("2026-12-01T22:00:00Z")), "{db}");
        // Alone, the child uses the default Mon-Fri 09:00-18:00 UTC calendar.
        let alone = sim.start("child-flow", json!({}), "lena").await;
        assert_eq!(alone.tasks[0].due_at, Some(common::at("2026-12-01T11:00:00Z")), "{db}");
    }
}
