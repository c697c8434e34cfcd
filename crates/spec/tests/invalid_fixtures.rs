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
