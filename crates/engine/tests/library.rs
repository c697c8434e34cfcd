//! The workflow library driven end to end through the engine, as the
//! runtime drives it, on a manual clock.
#![allow(clippy::unwrap_used)]

mod driver;

use chrono::Duration;
use driver::{Answer, Driver, People, at, library};
use serde_json::{Value, json};
use smmflow_engine::{Command, Notice};

fn agency() -> People {
    People::default()
        .with("client", &["olga.client"])
        .with("analyst", &["alex", "ann"])
        .with("smm_manager", &["sam", "sara"])
        .with("lead", &["lena"])
        .with("designer", &["dina", "dan"])
        .with("content_manager", &["carl", "cora"])
        .with("copywriter", &["wanda", "walt"])
        .with("community_manager", &["kim"])
        .with("targetologist", &["tom"])
}

#[test]
fn client_onboarding_with_one_client_rejection_and_a_rework_round() {
    // Monday 2026-11-30, 10:00 Moscow.
    let mut d = Driver::new(library(), agency(), "2026-11-30T07:00:00Z");
    let id = d
        .start(
            "client-onboarding",
            json!({"client_name": "ACME", "account_manager": "lena", "client_contact": "olga@acme.example"}),
            "lena",
        )
        .unwrap();
    let mut rejected = false;
    d.work_through(id, at("2027-03-01T00:00:00Z"), |d, inst, task| {
        if inst == id && task.step == "client_signoff" && !rejected {
            rejected = true;
            return Some(Answer::Reject("Concept 2 is too playful for our brand".into()));
        }
        if inst == id && task.step == "concepts" {
            let mut out = d.sample_output(inst, task.no);
            out["recommended"] = json!(1);
            return Some(Answer::Done(out));
        }
        None
    });
    let inst = d.inst(id);
    assert_eq!(inst.status.as_str(), "completed", "{:?}", d.open(id));
    let signoff = inst.step("client_signoff").unwrap();
    assert_eq!(signoff.round, 2);
    assert_eq!(signoff.output.as_ref().unwrap()["decision"], "approved");
    // The rework reopened concepts and both approvals, and nothing else.
    let rework = d.logs[&id].iter().find(|e| e.kind_name() == "rework.started").unwrap();
    let smmflow_engine::EventKind::ReworkStarted { reopened, round, .. } = &rework.kind else { panic!() };
    assert_eq!(reopened, &["concepts", "internal_review", "client_signoff"]);
    assert_eq!(*round, 2);
    let concepts: Vec<_> = inst.tasks.iter().filter(|t| t.step == "concepts").collect();
    assert_eq!(concepts.len(), 2);
    assert!(concepts[1].prefill.is_some());
    assert_eq!(concepts[1].comments[0].body, "Concept 2 is too playful for our brand");
    // What the client signed off became the profile; switching the services
    // on (not child instances) is what starts the recurring work.
    assert!(inst.children.is_empty());
    let chosen = &inst.step("platform_choice").unwrap().output.as_ref().unwrap()["platforms"];
    assert_eq!(&d.profile["platforms"], chosen);
    let saved = inst.step("save_strategy").unwrap().output.clone().unwrap();
    assert_eq!(saved["account_manager"], "lena");
    assert_eq!(d.profile["approvers"][0], "olga@acme.example");
    let services = &inst.step("start_services").unwrap().output.as_ref().unwrap()["services"];
    assert_eq!(&d.profile["services"], services);
}

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

#[test]
fn weekly_content_cycle_with_seven_posts_as_subflows() {
    // Thursday 2026-12-03, 10:00 Moscow.
    let mut d = Driver::new(library(), agency(), "2026-12-03T07:00:00Z");
    let id = d
        .start(
            "weekly-content",
            json!({"client_name": "ACME", "account_manager": "lena", "client_contact": "olga@acme.example"}),
            "lena",
        )
        .unwrap();
    let mut client_rejected = false;
    d.work_through(id, at("2027-01-31T00:00:00Z"), |d, inst, task| match task.step.as_str() {
        "plan" => Some(Answer::Done(seven_posts())),
        "client_approval" if !client_rejected => {
            client_rejected = true;
            Some(Answer::Reject("Change the headline".into()))
        }
        "schedule" => Some(Answer::Done(json!({"scheduled_for": d.inst(inst).inputs["publish_at"]}))),
        _ => None,
    });
    let inst = d.inst(id);
    assert_eq!(inst.status.as_str(), "completed", "open: {:?}", d.open(id));
    assert_eq!(inst.children.len(), 7);
    let posts = inst.outputs.as_ref().unwrap()["posts"].as_array().unwrap().clone();
    assert_eq!(posts.len(), 7);
    assert_eq!(posts[1]["assets"], json!([]), "a text post has no visuals step");
    for (i, c) in inst.children.iter().enumerate() {
        let child = d.inst(c.id);
        assert_eq!(child.status.as_str(), "completed");
        assert_eq!(child.inputs["brief"], format!("Post {} of the week", i + 1));
        assert_eq!(child.inputs["planner"], inst.step("plan").unwrap().completed_by.clone().unwrap());
        // Published no earlier than planned: the wait step held it.
        let live = child.step("verify_live").unwrap().ready_at.unwrap();
        assert!(live >= at(child.inputs["publish_at"].as_str().unwrap()) + Duration::minutes(15));
    }
    let reworked = inst.children.iter().filter(|c| d.inst(c.id).step("client_approval").unwrap().round == 2).count();
    assert_eq!(reworked, 1, "one client rejection, one rework round");
    let review = inst.step("engagement_review").unwrap();
    let posts_done = inst.step("posts").unwrap().completed_at.unwrap();
    assert!(review.ready_at.unwrap() >= posts_done + Duration::days(3));
    assert!(
        d.notices
            .iter()
            .any(|(i, n)| *i == id && matches!(n, Notice::Send { template: Some(t), .. } if t == "weekly-plan-ready"))
    );
}

#[test]
fn an_overdue_task_is_reminded_escalated_and_reassigned_in_business_hours_across_a_weekend() {
    // Friday 2026-12-04 15:00 Moscow: copy is due 1 business day later, Monday 15:00.
    let mut d = Driver::new(library(), agency(), "2026-12-04T12:00:00Z");
    let inputs = json!({
        "client_name": "ACME", "account_manager": "lena", "planner": "carl", "rubric": "Tips", "platform": "vk",
        "format": "text", "publish_at": "2026-12-10T09:00:00+03:00", "brief": "Winter tips",
    });
    let id = d.start("post-production", inputs, "carl").unwrap();
    let copy = d.task(id, "copy");
    let t = d.inst(id).task(copy).unwrap().clone();
    assert_eq!(t.due_at, Some(at("2026-12-07T12:00:00Z")), "Friday 15:00 + 1 business day = Monday 15:00 Moscow");
    let first = t.assignee.clone().unwrap();
    // The weekend passes without anything firing.
    d.advance_to(at("2026-12-07T09:59:00Z"));
    assert!(d.inst(id).task(copy).unwrap().reminded.is_empty());
    // 2h before the due time: the reminder.
    d.advance_to(at("2026-12-07T10:00:00Z"));
    assert_eq!(d.inst(id).task(copy).unwrap().reminded, [0]);
    // At the due time: overdue, and the planner is told (escalation stage 0).
    d.advance_to(at("2026-12-07T12:00:00Z"));
    let t = d.inst(id).task(copy).unwrap();
    assert!(t.overdue_noticed);
    assert_eq!(t.escalated, [0]);
    assert!(d.notices.iter().any(
        |(_, n)| matches!(n, Notice::Send { to, task: Some(no), .. } if *no == copy && to == &["user:carl".to_string()])
    ));
    // 2 business hours later (17:00), back to the copywriter pool.
    d.advance_to(at("2026-12-07T13:59:00Z"));
    assert_eq!(d.inst(id).task(copy).unwrap().assignee.as_deref(), Some(first.as_str()));
    d.advance_to(at("2026-12-07T14:00:00Z"));
    let t = d.inst(id).task(copy).unwrap();
    assert_eq!(t.status.as_str(), "open");
    assert_eq!(t.assignee, None);
    assert_eq!(t.escalated, [0, 1]);
    let other = if first == "wanda" { "walt" } else { "wanda" };
    d.command(id, other, Command::Complete { task: copy, output: json!({"text": "Five winter tips"}) }).unwrap();
    assert_eq!(d.step_status(id, "copy"), "done");
}

const BERLIN_REPEAT: &str = r#"
workflow: daily-check
name: Daily check in Berlin
roles: {analyst: Checks}
inputs:
  ends_on: {type: datetime, required: true}
steps:
  daily:
    role: analyst
    title: "Check {{ now[:10] }}"
    due: 2h
    repeat: {cron: "0 9 * * *", timezone: Europe/Berlin, until: "inputs.ends_on"}
  wrap_up:
    role: analyst
    after: [daily]
"#;

#[test]
fn a_daily_repeat_runs_until_its_end_date_across_the_berlin_dst_change() {
    let project = driver::project(&[("d.yaml", BERLIN_REPEAT)]);
    // 2027-03-25 .. 2027-03-31 crosses 2027-03-28, when Berlin moves from UTC+1 to UTC+2.
    let mut d = Driver::new(project, People::default().with("analyst", &["alex"]), "2027-03-25T06:00:00Z");
    let id = d.start("daily-check", json!({"ends_on": "2027-03-31T12:00:00+02:00"}), "alex").unwrap();
    let mut fired = Vec::new();
    d.work_through(id, at("2027-04-30T00:00:00Z"), |d, inst, task| {
        fired.push(d.inst(inst).task(task.no).unwrap().created_at.to_rfc3339());
        Some(Answer::Done(json!({"ok": true})))
    });
    let mut expected: Vec<String> = (25..=27).map(|day| format!("2027-03-{day}T08:00:00+00:00")).collect();
    expected.extend((28..=31).map(|day| format!("2027-03-{day}T07:00:00+00:00")));
    expected.push(fired.last().cloned().unwrap()); // wrap_up, after the series ended
    assert_eq!(fired, expected, "09:00 Berlin every day, once, through the change");
    let inst = d.inst(id);
    assert_eq!(inst.status.as_str(), "completed");
    assert_eq!(inst.step("daily").unwrap().output.as_ref().unwrap().as_array().unwrap().len(), 7);
}
