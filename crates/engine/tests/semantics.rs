//! Engine semantics on small workflows, driven like the runtime would, on a
//! manual clock. Each outcome is also checked against a replay of its log
//! (in the driver).
#![allow(clippy::unwrap_used)]

mod driver;

use driver::{Driver, People, at, project};
use serde_json::json;
use smmflow_engine::{Command, Error, Notice};

const REVIEW: &str = r#"
workflow: review-loop
name: Review loop
roles: {writer: Writes, editor: Edits, lead: Leads}
inputs:
  topic: {type: string, required: true}
steps:
  draft:
    role: writer
    title: "Draft: {{ inputs.topic }}"
    due: 4h
    form:
      text: {type: text, required: true}
      words: {type: integer, min: 1}
  review:
    type: approval
    role: editor
    after: [draft]
    due: 2h
    on_reject: {goto: draft, max_rounds: 2}
  announce:
    type: notify
    after: [review]
    to: [starter]
    subject: "Approved: {{ inputs.topic }}"
    body: "{{ steps.draft.output.text }}"
outputs:
  text: "{{ steps.draft.output.text }}"
"#;

fn people() -> People {
    People::default().with("writer", &["wanda", "walt"]).with("editor", &["eddie", "erin"]).with("lead", &["lena"])
}

fn review_driver() -> (Driver, uuid::Uuid) {
    let mut d = Driver::new(project(&[("r.yaml", REVIEW)]), people(), "2026-12-01T09:00:00Z");
    let id = d.start("review-loop", json!({"topic": "Winter sale"}), "lena").unwrap();
    (d, id)
}

#[test]
fn a_rejection_reopens_the_work_with_the_comment_and_the_previous_output() {
    let (mut d, id) = review_driver();
    let draft = d.task(id, "draft");
    assert_eq!(d.inst(id).task(draft).unwrap().title, "Draft: Winter sale");
    d.command(id, "wanda", Command::Complete { task: draft, output: json!({"text": "v1", "words": 2}) }).unwrap();
    let review = d.task(id, "review");
    d.command(id, "eddie", Command::Reject { task: review, comment: "Too long".into(), reasons: vec![] }).unwrap();
    assert!(d.events(id).contains(&"rework.started"));
    let redraft = d.task(id, "draft");
    let t = d.inst(id).task(redraft).unwrap();
    assert_eq!(t.round, 2);
    assert_eq!(t.prefill, Some(json!({"text": "v1", "words": 2})));
    assert_eq!(t.comments[0].body, "Too long");
    assert_eq!(t.comments[0].author, "eddie");
    d.command(id, "wanda", Command::Complete { task: redraft, output: json!({"text": "v2"}) }).unwrap();
    let review2 = d.task(id, "review");
    d.command(id, "erin", Command::Approve { task: review2, comment: Some("Good".into()) }).unwrap();
    let inst = d.inst(id);
    assert_eq!(inst.status.as_str(), "completed");
    assert_eq!(inst.outputs, Some(json!({"text": "v2"})));
    let out = inst.step("review").unwrap().output.clone().unwrap();
    assert_eq!(out["decision"], "approved");
    assert_eq!(out["round"], 2);
    assert_eq!(out["decided_by"], "erin");
    assert!(d.notices.iter().any(|(_, n)| matches!(n, Notice::Send { subject: Some(s), body: Some(b), .. } if s == "Approved: Winter sale" && b == "v2")));
}

#[test]
fn a_rejection_in_the_last_round_ends_the_instance_rejected() {
    let (mut d, id) = review_driver();
    for round in 1..=2 {
        let draft = d.task(id, "draft");
        d.command(id, "wanda", Command::Complete { task: draft, output: json!({"text": format!("v{round}")}) })
            .unwrap();
        let review = d.task(id, "review");
        d.command(id, "eddie", Command::Reject { task: review, comment: "No".into(), reasons: vec![] }).unwrap();
    }
    assert_eq!(d.inst(id).status.as_str(), "rejected");
    assert!(d.inst(id).active_tasks().next().is_none());
    assert!(d.timers.iter().all(|(_, i, _)| *i != id), "no timer outlives the instance");
}

#[test]
fn bad_commands_are_refused_with_their_codes_and_change_nothing() {
    let (mut d, id) = review_driver();
    let draft = d.task(id, "draft");
    let code = |r: Result<(), Error>| r.unwrap_err().code();
    assert_eq!(code(d.command(id, "wanda", Command::Complete { task: 99, output: json!({}) })), "NOT_FOUND");
    assert_eq!(code(d.command(id, "eddie", Command::Claim { task: draft })), "FORBIDDEN");
    assert_eq!(code(d.command(id, "wanda", Command::Approve { task: draft, comment: None })), "BAD_USER_INPUT");
    let err = d
        .command(id, "wanda", Command::Complete { task: draft, output: json!({"text": "", "words": 0, "wrds": 1}) })
        .unwrap_err();
    let Error::BadUserInput { fields, .. } = &err else { panic!("{err:?}") };
    let paths: Vec<String> = fields.iter().map(|f| f.path.join(".")).collect();
    assert_eq!(paths, ["wrds", "text", "words"], "{fields:?}");
    d.command(id, "wanda", Command::Claim { task: draft }).unwrap();
    d.command(id, "wanda", Command::Claim { task: draft }).unwrap();
    assert_eq!(code(d.command(id, "walt", Command::Claim { task: draft })), "CONFLICT");
    d.command(id, "wanda", Command::Complete { task: draft, output: json!({"text": "v1"}) }).unwrap();
    assert_eq!(
        code(d.command(id, "wanda", Command::Complete { task: draft, output: json!({"text": "v1"}) })),
        "TASK_ALREADY_COMPLETED"
    );
    let review = d.task(id, "review");
    assert_eq!(code(d.command(id, "eddie", Command::Complete { task: review, output: json!({}) })), "BAD_USER_INPUT");
    assert_eq!(
        code(d.command(id, "eddie", Command::Reject { task: review, comment: " ".into(), reasons: vec![] })),
        "BAD_USER_INPUT"
    );
    assert_eq!(code(d.command(id, "wanda", Command::Approve { task: review, comment: None })), "FORBIDDEN");
    d.command(id, "lena", Command::Cancel { reason: "client left".into() }).unwrap();
    assert_eq!(code(d.command(id, "eddie", Command::Approve { task: review, comment: None })), "CONFLICT");
    assert_eq!(code(d.command(id, "lena", Command::Cancel { reason: "again".into() })), "CONFLICT");
    assert_eq!(d.inst(id).task(review).unwrap().status.as_str(), "cancelled");
}

#[test]
fn the_author_cannot_approve_their_own_work() {
    let mut d = Driver::new(
        project(&[("r.yaml", REVIEW)]),
        people().with("editor", &["eddie", "wanda"]),
        "2026-12-01T09:00:00Z",
    );
    let id = d.start("review-loop", json!({"topic": "x"}), "lena").unwrap();
    let draft = d.task(id, "draft");
    d.command(id, "wanda", Command::Complete { task: draft, output: json!({"text": "v1"}) }).unwrap();
    let review = d.task(id, "review");
    let err = d.command(id, "wanda", Command::Approve { task: review, comment: None }).unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    assert!(err.to_string().contains("four-eyes"), "{err}");
    d.command(id, "eddie", Command::Approve { task: review, comment: None }).unwrap();
}

#[test]
fn inputs_are_checked_and_defaulted_at_start() {
    let mut d = Driver::new(project(&[("r.yaml", REVIEW)]), people(), "2026-12-01T09:00:00Z");
    let err = d.start("review-loop", json!({"topik": "x"}), "lena").unwrap_err();
    let Error::BadUserInput { fields, .. } = err else { panic!() };
    let paths: Vec<String> = fields.iter().map(|f| f.path.join(".")).collect();
    assert_eq!(paths, ["inputs.topik", "inputs.topic"]);
    assert!(d.instances.is_empty());
}

const FANOUT: &str = r#"
workflow: fan-out
name: Fan out
roles: {writer: Writes, editor: Edits}
inputs:
  posts: {type: list, items: {type: string}, default: []}
  note: {type: string}
steps:
  write:
    role: writer
    for_each: "inputs.posts"
    title: "{{ index + 1 }}. {{ item }}"
    due: 1d
  board:
    type: approval
    after: [write]
    levels:
      - {role: editor, quorum: all}
      - {role: writer, quorum: 1}
    distinct_from: []
    on_reject: {goto: write}
  extra:
    if: "inputs.note"
    role: writer
  pause:
    type: wait
    after: [board, extra]
    duration: 2h
  check:
    role: editor
    after: [pause]
    start: {after: 1h}
"#;

#[test]
fn fan_out_levels_quorum_skips_waits_and_starts() {
    let mut d = Driver::new(project(&[("f.yaml", FANOUT)]), people(), "2026-12-01T09:00:00Z");
    let id = d.start("fan-out", json!({"posts": ["a", "b", "c"]}), "lena").unwrap();
    assert_eq!(d.step_status(id, "extra"), "skipped");
    let titles: Vec<String> = d.inst(id).active_tasks().map(|t| t.title.clone()).collect();
    assert_eq!(titles, ["1. a", "2. b", "3. c"]);
    let nos: Vec<u32> = d.inst(id).active_tasks().map(|t| t.no).collect();
    for (no, who) in nos.iter().rev().zip(["wanda", "walt", "wanda"]) {
        d.command(id, who, Command::Complete { task: *no, output: json!({"n": no}) }).unwrap();
    }
    let st = d.inst(id).step("write").unwrap();
    assert_eq!(st.output, Some(json!([{"n": 1}, {"n": 2}, {"n": 3}])), "outputs in item order");
    assert_eq!(st.completed_by, Some(json!(["wanda", "walt", "wanda"])));
    // Level 1: every editor, each with their own task.
    let level1: Vec<(u32, Option<String>)> = d.inst(id).active_tasks().map(|t| (t.no, t.assignee.clone())).collect();
    assert_eq!(level1.iter().map(|(_, a)| a.clone().unwrap()).collect::<Vec<_>>(), ["eddie", "erin"]);
    d.command(id, "eddie", Command::Approve { task: level1[0].0, comment: None }).unwrap();
    assert_eq!(d.step_status(id, "board"), "ready", "all editors must approve");
    d.command(id, "erin", Command::Approve { task: level1[1].0, comment: None }).unwrap();
    let level2 = d.inst(id).active_tasks().map(|t| t.no).collect::<Vec<_>>();
    assert_eq!(level2.len(), 2, "quorum 1 of 2 writers: both asked");
    d.command(id, "walt", Command::Approve { task: level2[0], comment: Some("ok".into()) }).unwrap();
    assert_eq!(d.step_status(id, "board"), "done");
    assert_eq!(d.inst(id).task(level2[1]).unwrap().status.as_str(), "cancelled");
    assert_eq!(d.step_status(id, "pause"), "ready");
    d.advance(chrono::Duration::minutes(119));
    assert_eq!(d.step_status(id, "pause"), "ready");
    d.advance(chrono::Duration::minutes(1));
    assert_eq!(d.step_status(id, "pause"), "done");
    assert_eq!(d.step_status(id, "check"), "waiting", "starts 1h after its predecessors");
    d.advance(chrono::Duration::hours(1));
    assert_eq!(d.step_status(id, "check"), "ready");
    assert_eq!(d.inst(id).step("check").unwrap().ready_at, Some(at("2026-12-01T12:00:00Z")));
}

#[test]
fn an_empty_fan_out_is_done_at_once() {
    let mut d = Driver::new(project(&[("f.yaml", FANOUT)]), people(), "2026-12-01T09:00:00Z");
    let id = d.start("fan-out", json!({}), "lena").unwrap();
    assert_eq!(d.inst(id).step("write").unwrap().output, Some(json!([])));
    assert_eq!(d.step_status(id, "board"), "ready");
}

const INCIDENT: &str = r#"
workflow: incident
name: Incident
roles: {writer: Writes}
inputs:
  items: {type: string}
steps:
  first:
    role: writer
  each:
    role: writer
    after: [first]
    for_each: "inputs.items"
"#;

#[test]
fn an_expression_error_is_an_incident_that_can_be_retried() {
    let mut d = Driver::new(project(&[("i.yaml", INCIDENT)]), people(), "2026-12-01T09:00:00Z");
    let id = d.start("incident", json!({"items": "not a list"}), "lena").unwrap();
    let first = d.task(id, "first");
    d.command(id, "wanda", Command::Complete { task: first, output: json!({}) }).unwrap();
    let st = d.inst(id).step("each").unwrap();
    assert_eq!(st.status.as_str(), "ready");
    assert!(st.incident.as_ref().unwrap().message.contains("must yield a list"), "{st:?}");
    assert_eq!(d.inst(id).status.as_str(), "running", "the instance is not lost");
    d.command(id, "lena", Command::RetryStep { step: "each".into() }).unwrap();
    assert!(d.inst(id).step("each").unwrap().incident.is_some(), "still failing after retry");
    assert_eq!(d.command(id, "lena", Command::RetryStep { step: "first".into() }).unwrap_err().code(), "CONFLICT");
    assert_eq!(d.command(id, "lena", Command::RetryStep { step: "nope".into() }).unwrap_err().code(), "NOT_FOUND");
}

#[test]
fn suspended_instances_hold_their_timers_and_refuse_work() {
    let (mut d, id) = review_driver();
    let draft = d.task(id, "draft");
    d.command(id, "lena", Command::Suspend).unwrap();
    assert_eq!(
        d.command(id, "wanda", Command::Complete { task: draft, output: json!({"text": "x"}) }).unwrap_err().code(),
        "CONFLICT"
    );
    d.advance(chrono::Duration::hours(5));
    assert!(!d.inst(id).task(draft).unwrap().overdue_noticed, "no overdue notice while suspended");
    assert!(d.inst(id).held_timers.iter().any(|k| matches!(k, smmflow_engine::TimerKey::Overdue { .. })));
    d.command(id, "lena", Command::Resume).unwrap();
    d.advance(chrono::Duration::seconds(1));
    assert!(d.inst(id).task(draft).unwrap().overdue_noticed, "the held overdue timer fired after resume");
    d.command(id, "wanda", Command::Complete { task: draft, output: json!({"text": "x"}) }).unwrap();
}

const AUTO: &str = r#"
workflow: auto-flow
name: Auto decisions
roles: {writer: Writes, editor: Edits, lead: Leads}
inputs:
  owner: {type: user, required: true}
steps:
  optional_extra:
    role: writer
    due: 1h
    escalation: [{after: 30m, auto: skip}]
  personal:
    role: writer
    assign: "{{ inputs.owner }}"
  signoff:
    type: approval
    role: editor
    after: [optional_extra, personal]
    due: 2h
    escalation:
      - {after: 0h, notify: ["role:lead"]}
      - {after: 1h, auto: approve}
"#;

#[test]
fn escalations_decide_automatically_and_expressions_assign() {
    let mut d = Driver::new(project(&[("a.yaml", AUTO)]), people(), "2026-12-01T09:00:00Z");
    let id = d.start("auto-flow", json!({"owner": "lena"}), "lena").unwrap();
    let personal = d.task(id, "personal");
    let t = d.inst(id).task(personal).unwrap().clone();
    assert_eq!(t.assignee.as_deref(), Some("lena"), "assigned by the expression, without the role");
    assert_eq!(
        d.command(id, "wanda", Command::Complete { task: personal, output: json!({}) }).unwrap_err().code(),
        "CONFLICT"
    );
    d.command(id, "lena", Command::Complete { task: personal, output: json!({}) }).unwrap();
    // Nobody does the optional task: 1h due + 30m, then it is skipped.
    d.advance(chrono::Duration::minutes(89));
    assert_eq!(d.step_status(id, "optional_extra"), "ready");
    d.advance(chrono::Duration::minutes(1));
    assert_eq!(d.step_status(id, "optional_extra"), "done");
    assert!(d.events(id).contains(&"task.skipped"));
    // The approval: the lead is told at the due time, and it approves itself an hour later.
    d.advance(chrono::Duration::hours(2));
    assert!(d.notices.iter().any(|(_, n)| matches!(n, Notice::Send { to, .. } if to == &["role:lead".to_string()])));
    assert_eq!(d.step_status(id, "signoff"), "ready");
    d.advance(chrono::Duration::hours(1));
    let inst = d.inst(id);
    assert_eq!(inst.status.as_str(), "completed");
    let out = inst.step("signoff").unwrap().output.clone().unwrap();
    assert_eq!(out["decided_by"], "system");
    assert!(out["comment"].as_str().unwrap().contains("automatically"));
}
