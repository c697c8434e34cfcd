//! Random command sequences keep the invariants: no open task in a finished
//! instance; no step done before its predecessors; consistent rounds; every
//! event applied once (contiguous sequence numbers; the driver also checks
//! that replaying the log rebuilds the state after every command).
#![allow(clippy::unwrap_used)]

mod driver;

use std::collections::HashMap;

use chrono::Duration;
use driver::{Driver, People, project};
use proptest::prelude::*;
use serde_json::json;
use smmflow_engine::{Command, EventKind};

const FLOW: &str = r#"
workflow: prop-flow
name: Property flow
roles: {writer: Writes, editor: Edits, lead: Leads}
inputs:
  posts: {type: list, items: {type: string}, default: [a, b]}
remind: [1h]
escalation:
  - {after: 1h, notify: [assignee]}
  - {after: 3h, reassign: "role:writer"}
steps:
  brief:
    role: lead
    due: 2h
  write:
    role: writer
    after: [brief]
    for_each: "inputs.posts"
    assign: round_robin
    due: 4h
    form:
      text: {type: text, required: true}
  side:
    role: writer
    after: [brief]
    assign: least_busy
  review:
    type: approval
    after: [write]
    levels:
      - {role: editor, quorum: all}
      - {role: lead}
    due: 3h
    escalation: [{after: 2h, auto: approve}]
    on_reject: {goto: write, max_rounds: 3, then: {reassign: "role:lead"}}
  pause:
    type: wait
    after: [review, side]
    duration: 1h
  publish:
    role: editor
    after: [pause]
    start: {after: 30m}
"#;

#[derive(Clone, Debug)]
enum Op {
    Act { task: usize, user: usize, what: u8 },
    Advance(i64),
    Lead(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..8, 0usize..6, 0u8..8).prop_map(|(task, user, what)| Op::Act { task, user, what }),
        2 => (1i64..300).prop_map(Op::Advance),
        1 => (0u8..4).prop_map(Op::Lead),
    ]
}

const USERS: [&str; 6] = ["wanda", "walt", "eddie", "erin", "lena", "mallory"];

fn check_invariants(d: &Driver) {
    let wf = d.project.workflow("prop-flow").unwrap();
    for (id, inst) in &d.instances {
        let log = &d.logs[id];
        for (i, e) in log.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1, "contiguous, each event once");
        }
        if inst.status.is_finished() {
            assert!(inst.active_tasks().next().is_none(), "open task in a finished instance");
        }
        // No step completes before its predecessors did.
        let mut settled: HashMap<&str, bool> = HashMap::new();
        for e in log {
            match &e.kind {
                EventKind::StepCompleted { step, .. } | EventKind::StepSkipped { step, .. } => {
                    for a in &wf.step(step).unwrap().common.after {
                        assert!(
                            settled.get(a.value.as_str()).copied().unwrap_or(false),
                            "{step} done before {}",
                            a.value
                        );
                    }
                    settled.insert(step.as_str(), true);
                }
                EventKind::ReworkStarted { reopened, .. } => {
                    for s in reopened {
                        settled.insert(s.as_str(), false);
                    }
                }
                _ => {}
            }
        }
        // Rounds: tasks carry their step's round; rounds never pass max_rounds and never go back.
        let mut last_round: HashMap<&str, u32> = HashMap::new();
        for t in &inst.tasks {
            assert!(t.round >= 1 && t.round <= 3, "round {} of {}", t.round, t.step);
            let prev = last_round.insert(t.step.as_str(), t.round).unwrap_or(1);
            assert!(t.round >= prev, "rounds of {} went back", t.step);
            assert!(t.round <= inst.step(&t.step).unwrap().round);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_the_invariants(ops in prop::collection::vec(op(), 1..60)) {
        let people = People::default().with("writer", &["wanda", "walt"]).with("editor", &["eddie", "erin"]).with("lead", &["lena"]);
        let mut d = Driver::new(project(&[("p.yaml", FLOW)]), people, "2026-12-01T09:00:00Z");
        let id = d.start("prop-flow", json!({}), "lena").unwrap();
        for op in ops {
            match op {
                Op::Act { task, user, what } => {
                    let n = d.inst(id).tasks.len();
                    if n == 0 { continue; }
                    let no = (task % n) as u32 + 1;
                    let user = USERS[user];
                    let cmd = match what {
                        0 | 1 => Command::Complete { task: no, output: json!({"text": "t"}) },
                        2 => Command::Approve { task: no, comment: None },
                        3 => Command::Reject { task: no, comment: "again".into(), reasons: vec![] },
                        4 => Command::Claim { task: no },
                        5 => Command::Release { task: no },
                        6 => Command::Reassign { task: no, user: "walt".into() },
                        _ => Command::Comment { task: no, body: "note".into() },
                    };
                    let _ = d.command(id, user, cmd);
                }
                Op::Advance(minutes) => d.advance(Duration::minutes(minutes)),
                Op::Lead(0) => { let _ = d.command(id, "lena", Command::Suspend); }
                Op::Lead(1) => { let _ = d.command(id, "lena", Command::Resume); }
                Op::Lead(2) => { let _ = d.command(id, "lena", Command::RetryStep { step: "write".into() }); }
                Op::Lead(_) => { let _ = d.command(id, "lena", Command::Cancel { reason: "stop".into() }); }
            }
            check_invariants(&d);
        }
    }
}

/// Walks where people mostly act on their own tasks reach every kind of
/// ending; the invariants hold all along. (Seeded, so a failure reproduces.)
#[test]
fn guided_random_walks_reach_every_ending_and_keep_the_invariants() {
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n.max(1)
    };
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    for _ in 0..300 {
        let people = People::default()
            .with("writer", &["wanda", "walt"])
            .with("editor", &["eddie", "erin"])
            .with("lead", &["lena"]);
        let mut d = Driver::new(project(&[("p.yaml", FLOW)]), people, "2026-12-01T09:00:00Z");
        let id = d.start("prop-flow", json!({}), "lena").unwrap();
        for _ in 0..80 {
            let open: Vec<u32> = d.inst(id).active_tasks().map(|t| t.no).collect();
            match next(10) {
                0 => d.advance(Duration::minutes(next(240) as i64 + 1)),
                1 if next(20) == 0 => {
                    let _ = d.command(id, "lena", Command::Cancel { reason: "stop".into() });
                }
                _ if !open.is_empty() => {
                    let no = open[next(open.len())];
                    let users = d.eligible(id, no);
                    let user = users[next(users.len())].clone();
                    let cmd = match (d.inst(id).task(no).unwrap().is_approval(), next(3)) {
                        (true, 0) => Command::Reject { task: no, comment: "redo".into(), reasons: vec![] },
                        (true, _) => Command::Approve { task: no, comment: None },
                        (false, _) => Command::Complete { task: no, output: json!({"text": "t"}) },
                    };
                    let _ = d.command(id, &user, cmd);
                }
                _ => d.advance(Duration::hours(1)),
            }
            check_invariants(&d);
            if d.inst(id).status.is_finished() {
                break;
            }
        }
        for e in &d.logs[&id] {
            *seen.entry(e.kind_name()).or_default() += 1;
        }
    }
    for kind in [
        "rework.started",
        "instance.completed",
        "instance.cancelled",
        "task.escalated",
        "task.reassigned",
        "task.reminded",
    ] {
        assert!(seen.get(kind).copied().unwrap_or(0) > 0, "no walk produced {kind}: {seen:?}");
    }
}
