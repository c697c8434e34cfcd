//! The workflow library in `workflows/`: every file validates, and every
//! workflow's Mermaid diagram is snapshot-tested. The committed JSON Schema
//! is current.

#![allow(clippy::unwrap_used)] // test helpers may panic on broken fixtures

mod common;

use smmflow_spec::{Project, mermaid, schema};

fn library() -> Project {
    let root = common::repo_root();
    Project::from_sources(common::sources(&root.join("workflows"), &root))
}

#[test]
fn every_library_file_validates_without_errors_or_warnings() {
    let project = library();
    assert!(project.diagnostics.is_empty(), "{}", common::render(&project));
    assert!(project.workflows.len() >= 7, "the library has {} workflows", project.workflows.len());
    assert!(!project.calendars.is_empty());
}

#[test]
fn every_library_workflow_has_a_current_diagram() {
    let project = library();
    for wf in &project.workflows {
        insta::with_settings!({ snapshot_path => "snapshots/mermaid", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(wf.key.value.as_str(), mermaid::render(wf));
        });
    }
}

#[test]
fn committed_json_schema_is_current() {
    let path = common::repo_root().join("docs/workflow.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = schema::json_schema();
    if committed != current {
        if std::env::var_os("SMMFLOW_BLESS").is_some() {
            std::fs::write(&path, &current).unwrap();
        } else {
            panic!(
                "docs/workflow.schema.json is stale: run `cargo run -- schema > docs/workflow.schema.json` (or SMMFLOW_BLESS=1 cargo test)"
            );
        }
    }
}

#[test]
fn json_schema_accepts_the_library_and_names_every_step_key() {
    let schema: serde_json::Value = serde_json::from_str(&schema::json_schema()).unwrap();
    let step = &schema["definitions"]["Step"]["oneOf"];
    for (i, ty) in smmflow_spec::step::TYPES.iter().enumerate() {
        let props = step[i]["properties"].as_object().unwrap();
        let mut in_schema: Vec<&str> = props.keys().map(String::as_str).collect();
        let mut decoded = smmflow_spec::step::keys_of(ty);
        in_schema.sort_unstable();
        decoded.sort_unstable();
        assert_eq!(in_schema, decoded, "schema and decoder disagree on the keys of {ty} steps");
    }
}
