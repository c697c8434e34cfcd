//! Approvals with clients, in the engine: follow-ups while a level is
//! undecided, and expiry before the slot with each `on_expire`.
#![allow(clippy::unwrap_used)]

mod driver;

use chrono::Duration;
use driver::{Driver, People, at, project};
use serde_json::json;
use smmflow_engine::{Command, Notice};
use smmflow_spec::notify::Event;

fn flow(on_expire: &str) -> String {
    format!(
        r#"
workflow: post
name: Post
roles: {{writer: Writes, client: The client}}
inputs:
  publish_at: {{type: datetime, required: true}}
steps:
  reschedule:
    role: writer
    if: "steps.reschedule.round > 1"
    form:
      publish_at: {{type: datetime, required: true}}
  copy:
    role: writer
    form:
      text: {{type: text, required: true}}
  client_ok:
    type: approval
    role: client
    external: true
    after: [copy, reschedule]
    follow_up: [1 business day, 2 business days]
    expires:
      at: "steps.reschedule.output.publish_at or inputs.publish_at"
      before: 2h
    {on_expire}
    on_reject: {{goto: copy, max_rounds: 3}}
"#
    )
}

fn people() -> People {
    People::default().with("writer", &["wanda"]).with("client", &["carla"])
}

/// Started on Monday 09:00 UTC, copy done at once: the approval is asked at 09:00.
fn started(on_expire: &str, publish_at: &str) -> (Driver, uuid::Uuid) {
    let mut d = Driver::new(project(&[("p.yaml", &flow(on_expire))]), people(), "2026-12-07T09:00:00Z");
    let id = d.start("post", json!({"publish_at": publish_at}), "wanda").unwrap();
    let copy = d.task(id, "copy");
    d.command(id, "wanda", Command::Complete { task: copy, output: json!({"text": "Hello"}) }).unwrap();
    (d, id)
}

fn follow_ups(d: &Driver) -> Vec<u32> {
    d.notices
        .iter()
        .filter_map(|(_, n)| match n {
            Notice::Event { event: Event::ApprovalRequested, follow_up: Some(k), .. } => Some(*k),
            _ => None,
        })
        .collect()
}

#[test]
fn follow_ups_come_one_and_two_business_days_after_the_request_and_stop_when_decided() {
    let (mut d, id) = started("", "2026-12-18T10:00:00Z");
    let ok = d.task(id, "client_ok");
    assert_eq!(d.inst(id).task(ok).unwrap().expires_at, Some(at("2026-12-18T08:00:00Z")));
    d.advance_to(at("2026-12-08T08:59:00Z"));
    assert!(follow_ups(&d).is_empty());
    d.advance_to(at("2026-12-08T09:00:00Z"));
    assert_eq!(follow_ups(&d), vec![1]);
    let t = d.inst(id).task(ok).unwrap();
    assert_eq!(t.last_reminded_at, Some(at("2026-12-08T09:00:00Z")));
    d.command(id, "carla", Command::Approve { task: ok, comment: None }).unwrap();
    d.advance(Duration::days(5));
    assert_eq!(follow_ups(&d), vec![1], "no follow-up after the decision");
    assert_eq!(d.inst(id).status.as_str(), "completed");
}

#[test]
fn an_approval_expires_once_and_by_default_counts_as_a_rejection() {
    let (mut d, id) = started("", "2026-12-07T15:00:00Z");
    let ok = d.task(id, "client_ok");
    d.advance_to(at("2026-12-07T12:59:00Z"));
    assert_eq!(d.inst(id).task(ok).unwrap().status.as_str(), "open");
    d.advance_to(at("2026-12-07T13:00:00Z"));
    let inst = d.inst(id);
    assert_eq!(inst.task(ok).unwrap().status.as_str(), "expired");
    assert_eq!(d.events(id).iter().filter(|e| **e == "task.expired").count(), 1);
    // on_reject applies: the copy is reworked.
    assert!(d.events(id).contains(&"rework.started"));
    assert_eq!(d.inst(id).task(d.task(id, "copy")).unwrap().round, 2);
    assert!(d.notices.iter().any(|(_, n)| matches!(n, Notice::Event { event: Event::TaskExpired, .. })));
    // A decision after expiry is refused.
    let err = d.command(id, "carla", Command::Approve { task: ok, comment: None }).unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
}

#[test]
fn on_expire_goto_routes_to_rescheduling_and_the_new_time_counts() {
    let (mut d, id) = started("on_expire: {goto: reschedule}", "2026-12-07T15:00:00Z");
    assert_eq!(d.step_status(id, "reschedule"), "skipped");
    d.advance_to(at("2026-12-07T13:00:00Z"));
    let re = d.task(id, "reschedule");
    assert_eq!(d.inst(id).task(re).unwrap().round, 2);
    assert_eq!(d.step_status(id, "copy"), "done", "the copy is not redone");
    d.command(id, "wanda", Command::Complete { task: re, output: json!({"publish_at": "2026-12-10T15:00:00Z"}) })
        .unwrap();
    let ok = d.task(id, "client_ok");
    let t = d.inst(id).task(ok).unwrap();
    assert_eq!((t.round, t.expires_at), (2, Some(at("2026-12-10T13:00:00Z"))));
}

#[test]
fn on_expire_approve_and_cancel() {
    let (mut d, id) = started("on_expire: approve", "2026-12-07T15:00:00Z");
    d.advance_to(at("2026-12-07T13:00:00Z"));
    let inst = d.inst(id);
    assert_eq!(inst.status.as_str(), "completed");
    assert_eq!(inst.step("client_ok").unwrap().output.as_ref().unwrap()["decision"], "approved");
    let (mut d, id) = started("on_expire: cancel", "2026-12-07T15:00:00Z");
    d.advance_to(at("2026-12-07T13:00:00Z"));
    assert_eq!(d.inst(id).status.as_str(), "cancelled");
}

#[test]
fn an_approval_asked_after_its_expiry_expires_at_once() {
    let (mut d, id) = started("", "2026-12-07T10:00:00Z");
    d.advance(Duration::seconds(1));
    let expired = d.inst(id).tasks.iter().filter(|t| t.status.as_str() == "expired").count();
    assert_eq!(expired, 1);
}
