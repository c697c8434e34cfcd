//! Data-driven: each fixture under `fixtures/invalid/` (a file, or a folder
//! validated together) is named after the code it must produce; the full
//! diagnostics are snapshot-tested. Every code has at least one fixture.

#![allow(clippy::unwrap_used)] // test helpers may panic on broken fixtures

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use smmflow_spec::{Code, Project};

#[test]
fn every_fixture_reports_its_code_and_matches_its_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut covered = BTreeSet::new();
    for name in &names {
        let path = dir.join(name);
        let base = if path.is_dir() { path.clone() } else { dir.clone() };
        let project = Project::from_sources(common::sources(&path, &base));
        let expected = &name[..4];
        let codes: Vec<&str> = project.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert!(
            codes.contains(&expected),
            "{name} should report {expected}, got {codes:?}\n{}",
            common::render(&project)
        );
        if expected.starts_with('W') {
            assert!(!project.has_errors(), "{name} is a warning fixture but has errors:\n{}", common::render(&project));
        }
        covered.insert(expected.to_string());
        let snapshot = name.trim_end_matches(".yaml");
        insta::with_settings!({ snapshot_path => "snapshots/invalid", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(snapshot, common::render(&project));
        });
    }
    let missing: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).filter(|c| !covered.contains(*c)).collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}

#[test]
fn a_file_reports_all_its_problems_in_one_pass() {
    let text = "workflow: many-problems\nname: x\nroles: {writer: w}\nsteps:\n  a: {role: writr, afer: [b], due: 0h}\n  b: {type: aproval, role: writer}\n";
    let project = Project::from_sources(vec![smmflow_spec::Source { path: "m.yaml".into(), text: text.into() }]);
    let codes: BTreeSet<&str> = project.diagnostics.iter().map(|d| d.code.as_str()).collect();
    for c in ["E002", "E006", "E013", "E025"] {
        assert!(codes.contains(c), "{c} missing from {codes:?}");
    }
}

/// Forms the language accepts that a strict reader might refuse: each must
/// validate with no diagnostic at all.
#[test]
fn lenient_forms_validate_cleanly() {
    let text = r#"workflow: lenient-forms
name: Lenient forms
calendar: office
roles: {writer: Writes, lead: Leads}
inputs:
  posts: {type: list, items: {type: string}, default: []}
  ends_on: {type: datetime, required: true}
notify:
  - on: [task.assigned, task.due_soon]   # no message: the event's built-in one
    to: assignee                          # one recipient without a list
steps:
  plan:
    role: writer
    due: 1h30m
  write:
    after: plan                           # one step id without a list
    for_each: "{{ inputs.posts }}"        # a single {{ }} is accepted for expressions
    role: writer
    title: "Post {{ index + 1 }}: {{ item }}"
    due: 2 business days
    remind: 1 business hour
  check:
    type: approval
    after: [write]
    role: lead
    due: 1 day 4 hours
    on_reject: {goto: write, max_rounds: 2, then: {reassign: "user:{{ instance.started_by }}"}}
  watch:
    after: [check]
    role: writer
    due: 2h
    repeat: {cron: "0 9 * * 1-5", timezone: Europe/Berlin, until: "{{ inputs.ends_on }}"}
"#;
    let calendar = "calendar: office\ntimezone: Europe/Berlin\nhours: {mon-fri: \"09:00-13:00, 14:00-18:00\"}\n";
    let project = Project::from_sources(vec![
        smmflow_spec::Source { path: "lenient.yaml".into(), text: text.into() },
        smmflow_spec::Source { path: "office.yaml".into(), text: calendar.into() },
    ]);
    assert!(project.diagnostics.is_empty(), "{}", common::render(&project));
    let wf = &project.workflows[0];
    assert_eq!(wf.step("write").unwrap().common.for_each.as_ref().unwrap().source, "inputs.posts");
    assert!(wf.notify[0].message().is_none());
}

/// The review's misleading diagnostics (issue #19, item 13), each asserted
/// on what a team lead reads: where the caret is, and the hint.
#[test]
fn diagnostics_point_at_the_mistake_and_say_what_to_do() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let run = |name: &str| {
        let path = dir.join(name);
        let base = if path.is_dir() { path.clone() } else { dir.clone() };
        Project::from_sources(common::sources(&path, &base)).diagnostics
    };
    let find = |ds: &[smmflow_spec::Diagnostic], code: &str| {
        ds.iter().find(|d| d.code.as_str() == code).cloned().unwrap_or_else(|| panic!("no {code} in {ds:?}"))
    };
    // An unquoted `{{`: at the braces, with the quoted value to write.
    let d = find(&run("E001-unquoted-template.yaml"), "E001");
    assert_eq!((d.pos.line, d.pos.column), (9, 12));
    assert_eq!(d.hint.as_deref(), Some("a value that starts with `{{` must be quoted: \"{{ inputs.x }}\""));
    // A tab: on its own line and column.
    let d = find(&run("E001-tab-indent.yaml"), "E001");
    assert_eq!((d.pos.line, d.pos.column), (8, 1));
    // `after: a, b`: list syntax, not a guess at one of them.
    let d = find(&run("E010-comma-list.yaml"), "E010");
    assert_eq!(d.hint.as_deref(), Some("to name several steps, write a list: `[shortlist, report]`"));
    // A step without `role`: that error, the typo'd role, and nothing else
    // (no E010 at the step after it, no W106 for the roles involved).
    let ds = run("E004-step-without-role.yaml");
    let codes: Vec<&str> = ds.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&"E004") && codes.contains(&"E013"), "{codes:?}");
    assert!(!codes.contains(&"E010") && !codes.contains(&"W106"), "{codes:?}");
    // `task` in a step: said for a step, at `task`, with what to use instead.
    let d = find(&run("E033-task-in-a-step.yaml"), "E033");
    assert_eq!((d.pos.line, d.pos.column), (7, 22));
    assert!(d.message.contains("notification rules and e-mail templates"), "{}", d.message);
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("steps.<id>.output")), "{:?}", d.hint);
    // A template error inside a string: at the variable, and at the bad token.
    let d = find(&run("E033-task-in-a-step.yaml"), "E032");
    assert_eq!((d.pos.line, d.pos.column), (11, 20));
    let d = find(&run("E030-expression-syntax.yaml"), "E030");
    assert_eq!(d.pos.line, 10);
    // E014 also when the first file has errors of its own.
    find(&run("E014-duplicate-with-errors"), "E014");
    // No close match: say what exists.
    let d = find(&run("E040-unknown-workflow"), "E040");
    assert!(d.hint.is_some(), "{d:?}");
}
