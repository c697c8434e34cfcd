//! The console checks a form in the page before sending it, with a port of
//! the server's rules (forms.js). Here the two are held against each other:
//! the same outputs sent to `completeTask` and run through the console's
//! code in Node must give the same problems at the same fields, word for
//! word. And the console's clock conversions on DST changes.

use serde_json::{Value, json};

use crate::server;
use crate::support::smtp::SmtpSink;

const FLOW: &str = r#"workflow: rich-form
name: Rich form
roles: {writer: Writes, lead: Leads}
steps:
  draft:
    role: writer
    form:
      text: {type: text, required: true, max_length: 20}
      words: {type: integer, required: true, min: 1, max: 500}
      ratio: {type: number, min: 0.5}
      link: {type: url}
      contact: {type: email}
      kind: {type: enum, values: [post, story, reel]}
      day: {type: date, min: "2027-01-01", max: "2027-12-31"}
      tags: {type: list, min_items: 2, max_items: 3, items: {type: string, min_length: 2}}
      kpis:
        type: list
        items:
          type: object
          fields:
            name: {type: string, required: true}
            target: {type: number, min: 0}
"#;

/// (field path without `output`, message), sorted.
fn problems(errors: &Value) -> Vec<(Vec<String>, String)> {
    let mut out: Vec<(Vec<String>, String)> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let path = e["field"].as_array().unwrap().iter().map(|p| p.as_str().map_or(p.to_string(), String::from));
            (path.filter(|p| p != "output").collect(), e["message"].as_str().unwrap().to_string())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_console_checks_a_form_as_the_server_does() {
    let Some(sink) = SmtpSink::start() else { return };
    let s = server(&sink);
    s.deploy(FLOW).await;
    let t = s.team("acme", &[("lena", "lead"), ("wanda", "writer")]).await;
    let start = "mutation { startInstance(input: {workflow: \"rich-form\", workspace: \"acme\"}) { instance { tasks { id form } } userErrors { message } } }";
    let r = s.ok(&t["lena"], start, json!({})).await;
    let task = &r["startInstance"]["instance"]["tasks"][0];
    let (id, form) = (task["id"].as_str().unwrap().to_string(), task["form"].clone());
    let long = "x".repeat(21);
    let cases = json!([
        {},
        {"text": long, "words": 0, "ratio": 0.1, "link": "ftp://example.com", "contact": "a@b", "kind": "blog",
         "day": "2026-05-01", "tags": ["a"], "kpis": [{"target": -1}]},
        {"text": "ok", "words": 501, "link": "https://example.com/a", "contact": "a@b.co", "kind": "post",
         "day": "2028-01-01", "tags": ["ab", "cd", "ef", "gh"], "kpis": [{"name": "reach", "target": 5}]},
        {"text": "   ", "words": 2.5, "link": "not a url", "tags": ["ab", "c"]},
        {"text": "fine", "words": 10, "tags": ["ab", "cd"]},
    ]);
    let walls = json!([
        ["2027-03-16T09:00", "Europe/Moscow"],
        ["2027-03-14T02:30", "America/New_York"],
        ["2027-11-07T01:30", "America/New_York"],
        ["2027-03-28T02:30", "Europe/Berlin"],
        ["2027-10-31T02:30", "Europe/Berlin"],
        ["2027-06-01T12:00", "Asia/Kolkata"]
    ]);
    let env = [
        ("CONSOLE_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/crates/api/assets/console").to_string()),
        ("FORM", form.to_string()),
        ("CASES", cases.to_string()),
        ("WALLS", walls.to_string()),
    ];
    let out = crate::support::run_client("node", "forms_check.cjs", &env, "forms checks passed", "forms").await;
    let lines: Vec<Value> = out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();

    let complete = "mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { task { status } userErrors { field message } } }";
    for (n, output) in cases.as_array().unwrap().iter().enumerate() {
        let r = s.ok(&t["wanda"], complete, json!({"t": id, "o": output})).await;
        let server = problems(&r["completeTask"]["userErrors"]);
        let console = problems(&lines[n]["errors"]);
        assert_eq!(console, server, "case {n}: {output}");
        if n == 1 {
            assert!(server.len() >= 9, "case 1 breaks every rule: {server:?}");
        }
    }

    // Wall times in a zone: ordinary, skipped (moved forward), repeated (the first).
    let at = |n: usize| lines[cases.as_array().unwrap().len() + n]["rfc3339"].as_str().unwrap().to_string();
    assert_eq!(at(0), "2027-03-16T09:00:00+03:00");
    assert_eq!(at(1), "2027-03-14T02:30:00-05:00", "a New York gap time moves forward (03:30 EDT)");
    assert_eq!(at(2), "2027-11-07T01:30:00-04:00", "a repeated New York time is its first occurrence");
    assert_eq!(at(3), "2027-03-28T02:30:00+01:00", "a Berlin gap time moves forward (03:30 CEST)");
    assert_eq!(at(4), "2027-10-31T02:30:00+02:00", "a repeated Berlin time is its first occurrence");
    assert_eq!(at(5), "2027-06-01T12:00:00+05:30");
    for n in [0, 2, 4, 5] {
        let line = &lines[cases.as_array().unwrap().len() + n];
        assert_eq!(line["back"], line["wall"], "{line}");
    }
}
