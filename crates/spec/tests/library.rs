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
    let step = &schema["definitions"]["Step"]["allOf"];
    for (i, ty) in smmflow_spec::step::TYPES.iter().enumerate() {
        assert_eq!(step[i]["if"]["properties"]["type"]["const"], *ty);
        let props = step[i]["then"]["properties"].as_object().unwrap();
        let mut in_schema: Vec<&str> = props.keys().map(String::as_str).collect();
        let mut decoded = smmflow_spec::step::keys_of(ty);
        in_schema.sort_unstable();
        decoded.sort_unstable();
        assert_eq!(in_schema, decoded, "schema and decoder disagree on the keys of {ty} steps");
    }
}

/// What an editor's YAML language server does with the schema: every library
/// file passes it, and a typo in a key fails it.
#[test]
fn json_schema_validates_the_library_and_rejects_typos() {
    let schema: serde_json::Value = serde_json::from_str(&schema::json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the generated schema is a valid JSON Schema");
    let root = common::repo_root();
    let mut checked = 0;
    for src in common::sources(&root.join("workflows"), &root) {
        if !src.path.ends_with(".yaml") {
            continue;
        }
        let mut sink = smmflow_spec::diag::Sink::new(src.path.clone());
        let tree = smmflow_spec::yaml::parse(&src.text, &mut sink).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&tree.to_json()).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{} fails the JSON Schema:\n{}", src.path, errors.join("\n"));
        checked += 1;
    }
    assert!(checked >= 9);
    let typo = serde_json::json!({"workflow": "x-y", "name": "n", "roles": {"a": "b"}, "steps": {"s": {"role": "a", "afer": ["t"]}}});
    assert!(!validator.is_valid(&typo), "the schema must refuse unknown step keys");
    let approval_with_form = serde_json::json!({"workflow": "x-y", "name": "n", "roles": {"a": "b"}, "steps": {"s": {"type": "approval", "role": "a", "form": {}}}});
    assert!(!validator.is_valid(&approval_with_form), "the schema must refuse task keys on approvals");
    // The errors are the approval's own, not why the step is none of the six types.
    let errors: Vec<String> = validator.iter_errors(&approval_with_form).map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("form"), "{errors:?}");
    assert!(
        !errors.iter().any(|e| e.contains("\"task\" was expected") || e.contains("'task' was expected")),
        "{errors:?}"
    );
    let unknown_type = serde_json::json!({"workflow": "x-y", "name": "n", "roles": {"a": "b"}, "steps": {"s": {"type": "aproval", "role": "a"}}});
    let errors: Vec<String> = validator.iter_errors(&unknown_type).map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 1, "one error, the type's: {errors:?}");
    // An escalation stage does one thing, as `validate` says.
    let stage = |s: serde_json::Value| serde_json::json!({"workflow": "x-y", "name": "n", "roles": {"a": "b"}, "steps": {"s": {"role": "a", "due": "1d", "escalation": [s]}}});
    assert!(validator.is_valid(&stage(serde_json::json!({"after": "1h", "notify": "role:a"}))));
    assert!(!validator.is_valid(&stage(serde_json::json!({"after": "1h", "notify": "role:a", "auto": "approve"}))));
    assert!(!validator.is_valid(&stage(serde_json::json!({"after": "1h"}))));
}

/// The reference's complete examples (YAML blocks that start with `workflow:`
/// or `calendar:`) stay valid; only references to other files may be missing.
#[test]
fn reference_examples_validate() {
    let doc = std::fs::read_to_string(common::repo_root().join("docs/workflow-language.md")).unwrap();
    let mut checked = 0;
    for (i, block) in doc.split("```yaml\n").skip(1).enumerate() {
        let text = block.split("```").next().unwrap();
        let first = text.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or_default();
        if !(first.starts_with("workflow:") || first.starts_with("calendar:")) {
            continue;
        }
        let project =
            Project::from_sources(vec![smmflow_spec::Source { path: format!("example-{i}.yaml"), text: text.into() }]);
        let cross_file = ["E040", "E041", "E042", "E044"];
        let errors: Vec<String> = project
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && !cross_file.contains(&d.code.as_str()))
            .map(|d| d.render(Some(text)))
            .collect();
        assert!(errors.is_empty(), "example {i} in docs/workflow-language.md:\n{}\n{}", text, errors.join("\n"));
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} complete examples found");
}
