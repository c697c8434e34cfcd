//! The console in a real browser (tests/clients/console_browser.py): what a
//! specialist does in it, and what the API shows afterwards.

use serde_json::json;

use crate::support::smtp::SmtpSink;
use crate::{ask, server, wait_links};

const FLOW: &str = r#"workflow: console-post
name: Console post
roles: {writer: Writes, editor: Reviews, lead: Leads}
inputs:
  topic: {type: string, required: true}
steps:
  draft:
    role: writer
    title: "Draft: {{ inputs.topic }}"
    due: 2h
    instructions: |
      Write **one** short post about {{ inputs.topic }}.

      - friendly
      - no prices
    form:
      text: {type: text, required: true, max_length: 280}
      words: {type: integer, required: true, min: 1}
  review:
    type: approval
    role: editor
    after: draft
    title: "Review: {{ inputs.topic }}"
    on_reject: {goto: draft, max_rounds: 3}
"#;

const START: &str = "mutation($w: String!, $t: String!) { startInstance(input: {workflow: \"console-post\", workspace: $w, inputs: {topic: $t}}) { instance { id tasks { id } } userErrors { message } } }";

#[tokio::test]
async fn a_specialist_works_through_the_console() {
    let Ok(python) = std::env::var("SMMFLOW_TEST_PYTHON") else {
        crate::support::skipped(
            "SKIPPED: the console's browser check needs SMMFLOW_TEST_PYTHON (scripts/test sets it)",
        );
        return;
    };
    let Some(sink) = SmtpSink::start() else { return };
    let s = server(&sink);
    s.deploy(FLOW).await;
    let t = s.team("acme", &[("lena", "lead"), ("wanda", "writer"), ("eddie", "editor")]).await;
    let b = s.team("beta", &[("bob", "lead"), ("bert", "writer")]).await;
    for topic in ["spring menu", "opening hours"] {
        s.ok(&t["lena"], START, json!({"w": "acme", "t": topic})).await;
    }
    let other = s.ok(&b["bob"], START, json!({"w": "beta", "t": "beta secret"})).await;
    let other_task = other["startInstance"]["instance"]["tasks"][0]["id"].as_str().unwrap().to_string();
    ask(&s, "wanda@agency.example").await;
    ask(&s, "eddie@agency.example").await;
    let writer = wait_links(&sink, &s, "wanda", 1).await.remove(0);
    let reviewer = wait_links(&sink, &s, "eddie", 1).await.remove(0);

    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
    std::fs::create_dir_all(&shots).unwrap();
    let start = json!({"query": START, "variables": {"w": "acme", "t": "live news"}});
    let env = [
        ("BASE_URL", s.url.clone()),
        ("WRITER_LINK", writer),
        ("REVIEWER_LINK", reviewer),
        ("LEAD_TOKEN", t["lena"].clone()),
        ("START", start.to_string()),
        ("OTHER_TASK", other_task),
        ("SMMFLOW_SHOTS", shots.display().to_string()),
    ];
    crate::support::run_client(&python, "console_browser.py", &env, "console checks passed", "console").await;

    // What the browser did is what the API shows.
    let q = r#"{ instances(filter: {workspace: "acme"}, first: 10) { nodes { status inputs events { kind actor { login } } } } }"#;
    let r = s.ok(&t["lena"], q, json!({})).await;
    let spring =
        r["instances"]["nodes"].as_array().unwrap().iter().find(|i| i["inputs"]["topic"] == "spring menu").unwrap();
    assert_eq!(spring["status"], "COMPLETED", "{spring}");
    let kinds: Vec<(&str, &str)> = spring["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().is_some_and(|k| k == "task.rejected" || k == "task.approved"))
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"]["login"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(kinds, [("task.rejected", "eddie"), ("task.approved", "eddie")]);
    assert_eq!(r["instances"]["nodes"].as_array().unwrap().len(), 3, "the live one was started");
}
