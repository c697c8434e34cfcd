//! The library through the runtime's command API, on SQLite and PostgreSQL,
//! with a manual clock; afterwards every instance replays to its stored state.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Sim, at, databases, library_dir};
use serde_json::{Value, json};

fn seven_posts() -> Value {
    let formats = ["photo", "text", "video", "poll", "meme", "photo", "quote"];
    let posts: Vec<Value> = (0..7)
        .map(|i| {
            json!({
                "rubric": format!("Rubric {}", i % 3),
                "platform": if i % 2 == 0 { "vk" } else { "telegram" },
                "format": formats[i],
                "publish_at": format!("2026-12-{:02}T09:00:00+03:00", 7 + i),
                "brief": format!("Post {} of the week", i + 1),
            })
        })
        .collect();
    json!({ "posts": posts })
}

#[tokio::test]
async fn onboarding_with_a_client_rejection_and_a_rework_round() {
    for (db, url, _dir) in databases("onboarding").await {
        let sim = Sim::open(&db, &url, Some(library_dir()), "2026-11-30T07:00:00Z").await;
        sim.pause_schedules().await;
        let inst = sim
            .start(
                "client-onboarding",
                json!({"client_name": "ACME", "account_manager": "lena", "client_contact": "olga@acme.example"}),
                "lena",
            )
            .await;
        let mut rejected = false;
        sim.work_through(inst.id, at("2027-03-01T00:00:00Z"), |row| {
            if row.step == "client_signoff" && row.workflow == "client-onboarding" && !rejected {
                rejected = true;
                return Some(Err("Concept 2 is too playful".into()));
            }
            None
        })
        .await;
        let done = sim.inst(inst.id).await;
        assert_eq!(done.status.as_str(), "completed", "{db}");
        assert_eq!(done.step("client_signoff").unwrap().round, 2, "{db}");
        let kinds: Vec<String> =
            sim.store.events(inst.id).await.unwrap().iter().map(|e| e.kind_name().to_string()).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "rework.started").count(), 1, "{db}");
        sim.assert_replays().await;
    }
}

#[tokio::test]
async fn weekly_content_with_seven_posts_fanned_out_as_subflows() {
    for (db, url, _dir) in databases("weekly").await {
        let sim = Sim::open(&db, &url, Some(library_dir()), "2026-12-03T07:00:00Z").await;
        sim.pause_schedules().await;
        let inst = sim.start("weekly-content", json!({"client_name": "ACME", "account_manager": "lena"}), "lena").await;
        let mut rejected = false;
        let mut scheduled = Vec::new();
        loop {
            let open = sim.active().await;
            let Some(row) = open.first().cloned() else {
                match sim.store.next_timer_due().await.unwrap() {
                    Some(t) if t <= at("2027-01-31T00:00:00Z") => {
                        sim.advance_to(t).await;
                        continue;
                    }
                    _ => break,
                }
            };
            let answer = match row.step.as_str() {
                "plan" => Some(Ok(seven_posts())),
                "client_approval" if !rejected => {
                    rejected = true;
                    Some(Err("Change the headline".into()))
                }
                "schedule" => {
                    let child = sim.inst(row.instance_id).await;
                    scheduled.push(child.id);
                    Some(Ok(json!({"scheduled_for": child.inputs["publish_at"]})))
                }
                _ => None,
            };
            sim.answer(&row, answer).await;
        }
        let done = sim.inst(inst.id).await;
        assert_eq!(done.status.as_str(), "completed", "{db}: {:?}", sim.active().await);
        assert_eq!(done.children.len(), 7, "{db}");
        assert_eq!(done.outputs.as_ref().unwrap()["posts"].as_array().unwrap().len(), 7, "{db}");
        for c in &done.children {
            let child = sim.inst(c.id).await;
            assert_eq!(child.status.as_str(), "completed", "{db}");
            assert_eq!(child.parent.as_ref().unwrap().instance, inst.id);
        }
        assert_eq!(scheduled.len(), 7);
        assert_eq!(sim.store.timer_count().await.unwrap(), 0, "no timer outlives its work ({db})");
        sim.assert_replays().await;
    }
}

#[tokio::test]
async fn an_overdue_task_is_reminded_escalated_and_reassigned_across_a_weekend() {
    for (db, url, _dir) in databases("overdue").await {
        let sim = Sim::open(&db, &url, Some(library_dir()), "2026-12-04T12:00:00Z").await;
        let inputs = json!({
            "client_name": "ACME", "account_manager": "lena", "planner": "carl", "rubric": "Tips", "platform": "vk",
            "format": "text", "publish_at": "2026-12-10T09:00:00+03:00", "brief": "Winter tips",
        });
        let inst = sim.start("post-production", inputs, "carl").await;
        let copy = inst.tasks.iter().find(|t| t.step == "copy").unwrap().clone();
        assert_eq!(copy.due_at, Some(at("2026-12-07T12:00:00Z")), "{db}");
        let first = copy.assignee.clone().unwrap();
        sim.advance_to(at("2026-12-07T09:59:00Z")).await;
        assert!(sim.inst(inst.id).await.task(copy.no).unwrap().reminded.is_empty(), "{db}: nothing over the weekend");
        sim.advance_to(at("2026-12-07T10:00:00Z")).await;
        assert_eq!(sim.inst(inst.id).await.task(copy.no).unwrap().reminded, [0], "{db}");
        sim.advance_to(at("2026-12-07T12:00:00Z")).await;
        let t = sim.inst(inst.id).await.task(copy.no).unwrap().clone();
        assert!(t.overdue_noticed && t.escalated == [0], "{db}: {t:?}");
        sim.advance_to(at("2026-12-07T14:00:00Z")).await;
        let t = sim.inst(inst.id).await.task(copy.no).unwrap().clone();
        assert_eq!((t.status.as_str(), t.assignee.clone(), t.escalated.clone()), ("open", None, vec![0, 1]), "{db}");
        let notices: Vec<String> =
            sim.store.outbox_of(inst.id).await.unwrap().iter().map(|(_, _, p)| p.to_string()).collect();
        assert!(notices.iter().any(|n| n.contains("user:carl")), "{db}: the planner was told");
        let other = if first == "wanda" { "walt" } else { "wanda" };
        sim.rt
            .system()
            .command(
                inst.id,
                other,
                smmflow_engine::Command::Complete { task: copy.no, output: json!({"text": "Five winter tips"}) },
            )
            .await
            .unwrap();
        assert!(
            sim.store
                .timers_of(inst.id)
                .await
                .unwrap()
                .iter()
                .all(|(k, _)| !k.starts_with(&format!("task:{}:", copy.no))),
            "{db}"
        );
        sim.assert_replays().await;
    }
}

const BERLIN: &str = r#"
workflow: daily-check
name: Daily check in Berlin
roles: {analyst: Checks}
inputs:
  ends_on: {type: datetime, required: true}
steps:
  daily:
    role: analyst
    due: 2h
    repeat: {cron: "0 9 * * *", timezone: Europe/Berlin, until: "inputs.ends_on"}
  wrap_up:
    role: analyst
    after: [daily]
"#;

#[tokio::test]
async fn a_daily_repeat_until_its_end_date_across_the_berlin_dst_change() {
    for (db, url, _dir) in databases("repeat").await {
        let sim = Sim::open(&db, &url, None, "2027-03-25T06:00:00Z").await;
        sim.deploy(BERLIN).await;
        let inst = sim.start("daily-check", json!({"ends_on": "2027-03-31T12:00:00+02:00"}), "lena").await;
        sim.work_through(inst.id, at("2027-04-30T00:00:00Z"), |_| Some(Ok(json!({})))).await;
        let done = sim.inst(inst.id).await;
        assert_eq!(done.status.as_str(), "completed", "{db}");
        let created: Vec<String> =
            done.tasks.iter().filter(|t| t.step == "daily").map(|t| t.created_at.to_rfc3339()).collect();
        let mut expected: Vec<String> = (25..=27).map(|d| format!("2027-03-{d}T08:00:00+00:00")).collect();
        expected.extend((28..=31).map(|d| format!("2027-03-{d}T07:00:00+00:00")));
        assert_eq!(created, expected, "{db}");
        sim.assert_replays().await;
    }
}
