//! Who hears about what: the workflow's rules, and the defaults when no rule
//! matches, planned from real engine notices (the engine's test driver).
#![allow(clippy::unwrap_used)]

#[path = "../../engine/tests/driver/mod.rs"]
mod driver;

use driver::{Driver, People, project};
use serde_json::json;
use smmflow_engine::{Command, Notice};
use smmflow_notify::compose::{Ctx, Roster, Source, Target};
use smmflow_notify::render::{NoTemplates, render};

const FLOW: &str = r#"
workflow: post
name: Post
roles: {copywriter: Writes, smm_manager: Reviews, client: Approves, planner: Plans}
inputs:
  planner: {type: string, required: true}
steps:
  copy:
    title: "Copy for {{ inputs.planner }}"
    role: copywriter
    form:
      text: {type: text, required: true}
  review:
    type: approval
    role: smm_manager
    after: [copy]
  client_ok:
    type: approval
    levels: [{role: client, external: true}]
    after: [review]
    on_reject: {goto: copy}
notify:
  - on: task.rejected
    to: ["user:{{ inputs.planner }}", "email:boss@acme.example"]
    subject: "Back: {{ task.title }}"
    body: "Comment: {{ event.comment }}"
"#;

struct Members(People);

impl Roster for Members {
    fn members(&self, role: &str) -> Vec<String> {
        self.0.roles.get(role).cloned().unwrap_or_default()
    }
}

fn people() -> People {
    People::default()
        .with("copywriter", &["wanda", "will"])
        .with("smm_manager", &["sam"])
        .with("client", &["olga"])
        .with("planner", &["carl"])
}

/// Plans the notices gathered since the last call: (event, sorted targets, source, link?).
fn planned(d: &mut Driver) -> Vec<(String, Vec<String>, Source, bool)> {
    let wf = d.project.workflow("post").unwrap().clone();
    let notices: Vec<(uuid::Uuid, Notice)> = std::mem::take(&mut d.notices);
    let roster = Members(people());
    let mut out = Vec::new();
    for (id, n) in notices {
        let state = d.inst(id).clone();
        let ctx = Ctx { workflow: &wf, state: &state, at: d.now, roster: &roster, workflow_name: "Post" };
        for p in smmflow_notify::plan(&n, &ctx).unwrap() {
            let mut t: Vec<String> = p.targets.iter().map(Target::key).collect();
            t.sort();
            out.push((p.event, t, p.source, p.approval_link));
        }
    }
    out
}

fn tpl(name: &str) -> Source {
    Source::Template(name.into())
}

#[test]
fn defaults_tell_the_candidates_the_approvers_and_rules_replace_them() {
    let mut d = Driver::new(project(&[("post.yaml", FLOW)]), people(), "2026-12-07T10:00:00Z");
    let id = d.start("post", json!({"planner": "carl"}), "lena").unwrap();
    assert_eq!(
        planned(&mut d),
        vec![("task.created".into(), vec!["user:wanda".into(), "user:will".into()], tpl("task-created"), false)],
        "instance.started has no default; the copywriters hear of the new task"
    );
    let copy = d.task(id, "copy");
    d.command(id, "wanda", Command::Complete { task: copy, output: json!({"text": "v1"}) }).unwrap();
    let p = planned(&mut d);
    assert_eq!(p, vec![("approval.requested".into(), vec!["user:sam".into()], tpl("approval-requested"), false)]);
    let review = d.task(id, "review");
    d.command(id, "sam", Command::Approve { task: review, comment: None }).unwrap();
    let p = planned(&mut d);
    assert_eq!(
        p,
        vec![("approval.requested".into(), vec!["user:olga".into()], tpl("approval-requested"), true)],
        "an external level's approvers get a signed link"
    );
    let ok = d.task(id, "client_ok");
    d.command(
        id,
        "olga",
        Command::DecideByLink { task: ok, approve: false, comment: Some("Warmer".into()), reasons: vec![] },
    )
    .unwrap();
    let p = planned(&mut d);
    let rule = p.iter().find(|x| x.0 == "task.rejected").unwrap();
    assert_eq!(rule.1, vec!["email:boss@acme.example".to_string(), "user:carl".to_string()]);
    assert!(matches!(&rule.2, Source::Inline { subject, .. } if subject == "Back: {{ task.title }}"));
    let reopened = p.iter().find(|x| x.0 == "task.created").unwrap();
    assert_eq!(
        (reopened.1.clone(), reopened.2.clone()),
        (vec!["user:wanda".to_string(), "user:will".to_string()], tpl("task-reopened")),
        "the candidates of the reopened task hear of the rework"
    );
}

#[test]
fn rendered_defaults_carry_the_task_and_the_rejection_comment() {
    let mut d = Driver::new(project(&[("post.yaml", FLOW)]), people(), "2026-12-07T10:00:00Z");
    let id = d.start("post", json!({"planner": "carl"}), "lena").unwrap();
    let wf = d.project.workflow("post").unwrap().clone();
    let roster = Members(people());
    let render_all = |d: &mut Driver| -> Vec<(String, String)> {
        let notices = std::mem::take(&mut d.notices);
        let mut out = Vec::new();
        for (i, n) in notices {
            let state = d.inst(i).clone();
            let ctx = Ctx { workflow: &wf, state: &state, at: d.now, roster: &roster, workflow_name: "Post" };
            for p in smmflow_notify::plan(&n, &ctx).unwrap() {
                let r = render(&p.source, &p.scope, &NoTemplates).unwrap();
                out.push((r.subject, r.text));
            }
        }
        out
    };
    let first = render_all(&mut d);
    assert_eq!(first[0].0, "New task: Copy for carl");
    assert!(first[0].1.contains("Post (acme)"), "{}", first[0].1);
    for (who, step, cmd) in [
        ("wanda", "copy", Command::Complete { task: 0, output: json!({"text": "v1"}) }),
        ("sam", "review", Command::Approve { task: 0, comment: None }),
        (
            "olga",
            "client_ok",
            Command::DecideByLink {
                task: 0,
                approve: false,
                comment: Some("Make the headline warmer".into()),
                reasons: vec![],
            },
        ),
    ] {
        let no = d.task(id, step);
        let cmd = match cmd {
            Command::Complete { output, .. } => Command::Complete { task: no, output },
            Command::Approve { comment, .. } => Command::Approve { task: no, comment },
            Command::DecideByLink { approve, comment, .. } => {
                Command::DecideByLink { task: no, approve, comment, reasons: vec![] }
            }
            other => other,
        };
        d.command(id, who, cmd).unwrap();
    }
    let last = render_all(&mut d);
    let back = last.iter().find(|(s, _)| s.starts_with("Back:")).unwrap();
    assert_eq!(back.1, "Comment: Make the headline warmer");
    let rework = last.iter().find(|(s, _)| s.starts_with("Rework (round 2)")).unwrap();
    assert!(rework.1.contains("Make the headline warmer"), "{}", rework.1);
}

#[test]
fn a_link_decision_needs_an_external_level_and_respects_four_eyes() {
    let mut d = Driver::new(project(&[("post.yaml", FLOW)]), people(), "2026-12-07T10:00:00Z");
    let id = d.start("post", json!({"planner": "carl"}), "lena").unwrap();
    let copy = d.task(id, "copy");
    d.command(id, "wanda", Command::Complete { task: copy, output: json!({"text": "v1"}) }).unwrap();
    let review = d.task(id, "review");
    let e = d.command(
        id,
        "someone@else.example",
        Command::DecideByLink { task: review, approve: true, comment: None, reasons: vec![] },
    );
    assert_eq!(e.unwrap_err().code(), "FORBIDDEN", "an internal approval is not decided from a link");
    d.command(id, "sam", Command::Approve { task: review, comment: None }).unwrap();
    let ok = d.task(id, "client_ok");
    let e = d.command(id, "sam", Command::DecideByLink { task: ok, approve: true, comment: None, reasons: vec![] });
    assert_eq!(e.unwrap_err().code(), "FORBIDDEN", "the reviewer may not approve again as the client");
    let e = d.command(
        id,
        "olga",
        Command::DecideByLink { task: ok, approve: false, comment: Some(" ".into()), reasons: vec![] },
    );
    assert_eq!(e.unwrap_err().code(), "BAD_USER_INPUT", "a rejection needs a comment");
    d.command(id, "olga", Command::DecideByLink { task: ok, approve: true, comment: None, reasons: vec![] }).unwrap();
    assert_eq!(d.inst(id).task(ok).unwrap().status.as_str(), "approved");
}

const TIMED: &str = r#"
workflow: timed
name: Timed
roles: {copywriter: Writes, planner: Plans}
remind: [1h]
escalation:
  - after: 0h
    notify: ["role:planner"]
steps:
  copy:
    title: "Copy"
    role: copywriter
    due: 4h
    form:
      text: {type: text, required: true}
"#;

#[test]
fn reminders_overdue_notices_and_escalations_notify() {
    let mut d = Driver::new(project(&[("timed.yaml", TIMED)]), people(), "2026-12-07T10:00:00Z");
    let id = d.start("timed", json!({}), "lena").unwrap();
    let wf = d.project.workflow("timed").unwrap().clone();
    let roster = Members(people());
    let plan_now = |d: &mut Driver| -> Vec<(String, Vec<String>, Source)> {
        let notices = std::mem::take(&mut d.notices);
        let mut out = Vec::new();
        for (i, n) in notices {
            let state = d.inst(i).clone();
            let ctx = Ctx { workflow: &wf, state: &state, at: d.now, roster: &roster, workflow_name: "Timed" };
            for p in smmflow_notify::plan(&n, &ctx).unwrap() {
                out.push((p.event, p.targets.iter().map(Target::key).collect(), p.source));
            }
        }
        out
    };
    plan_now(&mut d);
    let copy = d.task(id, "copy");
    d.command(id, "will", Command::Claim { task: copy }).unwrap();
    plan_now(&mut d);
    d.advance(chrono::Duration::hours(3));
    assert_eq!(plan_now(&mut d), vec![("task.due_soon".into(), vec!["user:will".into()], tpl("task-due-soon"))]);
    d.advance(chrono::Duration::hours(1));
    let mut p = plan_now(&mut d);
    p.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        p,
        vec![
            ("escalation".into(), vec!["user:carl".into()], tpl("task-escalated")),
            ("task.overdue".into(), vec!["user:will".into()], tpl("task-overdue")),
        ],
        "the holder hears it is overdue; the escalation tells the planners"
    );
}

#[test]
fn only_notices_someone_can_hear_are_queued() {
    let p = project(&[("post.yaml", FLOW)]);
    let wf = p.workflow("post").unwrap();
    let event = |e| Notice::Event { event: e, task: None, step: None, comment: None, follow_up: None };
    use smmflow_notify::compose::may_notify;
    use smmflow_spec::notify::Event;
    assert!(may_notify(wf, &event(Event::TaskCreated)), "a default");
    assert!(may_notify(wf, &event(Event::TaskRejected)), "a rule watches it");
    assert!(!may_notify(wf, &event(Event::InstanceStarted)), "no rule, no default");
    assert!(!may_notify(wf, &event(Event::StepCompleted)));
}
