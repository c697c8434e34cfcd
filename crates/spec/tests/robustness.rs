//! Robustness: random bytes, random structured documents and mutated library
//! files never panic, and hostile YAML (alias bombs, deep nesting) is refused
//! with a diagnostic. (Hangs would show as this suite not finishing.)

#![allow(clippy::unwrap_used)] // test helpers may panic on broken fixtures

mod common;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use smmflow_spec::{Project, Source};

fn validate(text: &str) -> Project {
    Project::from_sources(vec![Source { path: "p.yaml".into(), text: text.into() }])
}

const KEYS: &[&str] = &[
    "workflow",
    "calendar",
    "name",
    "roles",
    "inputs",
    "schedules",
    "outputs",
    "steps",
    "notify",
    "escalation",
    "remind",
    "type",
    "title",
    "instructions",
    "after",
    "if",
    "for_each",
    "start",
    "due",
    "repeat",
    "priority",
    "role",
    "assign",
    "distinct_from",
    "form",
    "levels",
    "quorum",
    "external",
    "on_reject",
    "goto",
    "max_rounds",
    "then",
    "reassign",
    "to",
    "template",
    "subject",
    "body",
    "duration",
    "until",
    "wait",
    "cron",
    "timezone",
    "count",
    "workspace",
    "missed",
    "catch_up_window",
    "overlap",
    "starts",
    "ends",
    "max_runs",
    "values",
    "items",
    "fields",
    "default",
    "min",
    "max",
    "hours",
    "holidays",
    "on",
    "step",
    "auto",
    "notify",
    "draft",
    "review",
    "writer",
    "copywriter",
    "mon-fri",
];

const SCALARS: &[&str] = &[
    "task",
    "approval",
    "notify",
    "wait",
    "subflow",
    "2h",
    "0h",
    "3 business days",
    "1d 4h",
    "0 10 * * THU",
    "*/15 * * * *",
    "Europe/Berlin",
    "UTC",
    "Nowhere/City",
    "{{ inputs.x }}",
    "{{ steps.draft.output.posts }}",
    "steps.review.output.decision == 'approved'",
    "{% for x in item %}",
    "role:writer",
    "assignee",
    "email:a@b.co",
    "user:anna",
    "draft",
    "review",
    "writer",
    "any",
    "all",
    "cancel",
    "fail",
    "pool",
    "least_busy",
    "string",
    "list",
    "object",
    "enum",
    "integer",
    "09:30-18:30",
    "closed",
    "2026-12-01",
    "2026-12-01T10:00:00Z",
    "instance.completed",
    "step.completed",
    "true",
    "false",
    "",
    "~",
    "-1",
    "0",
    "7",
    "1e400",
];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop::sample::select(SCALARS).prop_map(|s| json!(s)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
        "[a-z_{}.: -]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..7)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    })
}

fn document() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["workflow", "calendar"][..]),
        prop::collection::vec((prop::sample::select(KEYS), value()), 0..10),
    )
        .prop_map(|(kind, rest)| {
            let mut m = Map::new();
            m.insert(kind.to_string(), json!("fuzz-doc"));
            for (k, v) in rest {
                m.insert(k.to_string(), v);
            }
            Value::Object(m)
        })
}

fn library_files() -> Vec<String> {
    let root = common::repo_root();
    common::sources(&root.join("workflows"), &root)
        .into_iter()
        .filter(|s| s.path.ends_with(".yaml"))
        .map(|s| s.text)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = validate(&text);
    }

    #[test]
    fn random_documents_never_panic(doc in document()) {
        // JSON is YAML: a structured document with real keys reaches deep into the decoders.
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let p = validate(&text);
        for d in &p.diagnostics {
            prop_assert!(d.pos.line >= 1, "{d:?}");
        }
    }

    #[test]
    fn mutated_library_files_never_panic(file in 0usize..64, cut in 0usize..4000, len in 0usize..64, insert in "[ :{}\\[\\]\\-#&*!|>'\"a-z0-9\n]{0,16}") {
        let files = library_files();
        let text = &files[file % files.len()];
        let mut chars: Vec<char> = text.chars().collect();
        let at = cut % (chars.len() + 1);
        let end = (at + len).min(chars.len());
        chars.splice(at..end, insert.chars());
        let mutated: String = chars.into_iter().collect();
        let _ = validate(&mutated);
    }
}

#[test]
fn alias_bombs_are_refused_not_expanded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    let p = validate(&text);
    assert!(
        p.diagnostics.iter().any(|d| d.code.as_str() == "E001" && d.message.contains("nodes")),
        "{:?}",
        p.diagnostics
    );
}

#[test]
fn deep_nesting_is_refused_not_recursed() {
    for (depth, refusal) in [(100, "nesting deeper than 64"), (100_000, "recursion limit")] {
        let text = format!("workflow: deep\nname: {}{}\n", "[".repeat(depth), "]".repeat(depth));
        let p = validate(&text);
        assert!(
            p.diagnostics.iter().any(|d| d.code.as_str() == "E001" && d.message.contains(refusal)),
            "{depth}: {:?}",
            p.diagnostics
        );
    }
}

#[test]
fn a_second_document_in_one_file_is_an_error() {
    let p = validate("calendar: a-b\ntimezone: UTC\nhours: {mon: closed}\n---\ncalendar: c-d\n");
    assert!(
        p.diagnostics.iter().any(|d| d.code.as_str() == "E001" && d.message.contains("one document")),
        "{:?}",
        p.diagnostics
    );
}
