//! Expiry on three PostgreSQL replicas with real clocks: every approval
//! expires exactly once, and `on_expire` (here the default, as a rejection)
//! applies once. Also: a used single link shows the decision recorded with
//! it, and a reworked text is shown as an escaped diff.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Server;

const FLOW: &str = r#"workflow: expiring
name: Expiring approval
roles: {writer: Writes, client: Approves}
inputs:
  publish_at: {type: datetime, required: true}
steps:
  draft: {role: writer}
  review:
    type: approval
    role: client
    after: [draft]
    expires: {at: "inputs.publish_at", before: 10s}
    on_reject: {goto: draft, max_rounds: 5}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_fires_exactly_once_across_three_postgres_replicas() {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        crate::support::skipped("SKIPPED: replicas need PostgreSQL (SMMFLOW_TEST_POSTGRES_URL is not set)");
        return;
    }
    let a = Server::start_with("postgres", &["--real-clock"]);
    let _b = Server::start_replica_with(&a, &["--real-clock"]);
    let _c = Server::start_replica_with(&a, &["--real-clock"]);
    let r = a
        .ok(
            &a.admin,
            "mutation($s: String!) { deployWorkflow(input: {source: $s}) { userErrors { message } } }",
            json!({"s": FLOW}),
        )
        .await;
    assert_eq!(r["deployWorkflow"]["userErrors"], json!([]), "{r}");
    let t = a.team("exp", &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
    let publish_at = chrono::Utc::now() + chrono::Duration::seconds(25);
    let mut ids = Vec::new();
    for _ in 0..30 {
        let start = "mutation($i: JSON!) { startInstance(input: {workflow: \"expiring\", workspace: \"exp\", inputs: $i}) { instance { id tasks { id } } } }";
        let r = a.ok(&t["lena"], start, json!({"i": {"publish_at": publish_at}})).await;
        let inst = &r["startInstance"]["instance"];
        ids.push(inst["id"].clone());
        a.ok(
            &t["wanda"],
            "mutation($t: ID!) { completeTask(input: {taskId: $t}) { userErrors { message } } }",
            json!({"t": inst["tasks"][0]["id"]}),
        )
        .await;
    }
    // The expiry is 15 s from now; give the replicas time past it.
    tokio::time::sleep(Duration::from_secs(25)).await;
    for id in &ids {
        let q = "query($id: ID!) { instance(id: $id) { tasks { step { id } status round } events { kind } } }";
        let i = a.ok(&t["lena"], q, json!({"id": id})).await;
        let kinds: Vec<&str> =
            i["instance"]["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "task.expired").count(), 1, "{id}: {kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k == "rework.started").count(), 1, "{id}: {kinds:?}");
        let tasks = i["instance"]["tasks"].as_array().unwrap();
        assert!(tasks.iter().any(|t| t["step"]["id"] == "review" && t["status"] == "EXPIRED"), "{id}");
        assert!(tasks.iter().any(|t| t["step"]["id"] == "draft" && t["round"] == 2 && t["status"] == "OPEN"), "{id}");
    }
    eprintln!("expiry: 30 approvals on three replicas, each expired once");
}

const CLIENT_FLOW: &str = r#"workflow: diffed
name: A post the client approves from a link
roles: {writer: Writes, client: Approves}
steps:
  draft:
    role: writer
    form:
      text: {type: text, required: true}
  review:
    type: approval
    role: client
    external: true
    after: [draft]
    on_reject: {goto: draft}
"#;

fn open_task(i: &Value, step: &str) -> Value {
    i["tasks"].as_array().unwrap().iter().find(|t| t["step"]["id"] == step && t["status"] == "OPEN").unwrap()["id"]
        .clone()
}

#[tokio::test]
async fn a_used_link_shows_the_decision_and_the_next_round_shows_an_escaped_diff() {
    let Some(sink) = crate::support::smtp::SmtpSink::start() else { return };
    for db in crate::support::databases() {
        let args = ["--smtp-url".to_string(), sink.url(), "--mail-from".into(), "SMM <smm@agency.example>".into()];
        let s = Server::start_with(db, &args.iter().map(String::as_str).collect::<Vec<_>>());
        s.ok(
            &s.admin,
            "mutation($s: String!) { deployWorkflow(input: {source: $s}) { userErrors { message } } }",
            json!({"s": CLIENT_FLOW}),
        )
        .await;
        let ws = format!("diff-{db}");
        let t = s.team(&ws, &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
        let started = s
            .ok(&t["lena"], "mutation($w: String!) { startInstance(input: {workflow: \"diffed\", workspace: $w}) { instance { id tasks { id status step { id } } } } }", json!({"w": ws}))
            .await;
        let id = started["startInstance"]["instance"]["id"].clone();
        let complete = "mutation($t: ID!, $x: String!) { completeTask(input: {taskId: $t, output: {text: $x}}) { userErrors { message } } }";
        let draft = open_task(&started["startInstance"]["instance"], "draft");
        s.ok(&t["wanda"], complete, json!({"t": draft, "x": "Five winter tips for you"})).await;
        let link = crate::reasons::link_for(&sink, &s.url, "olga", 1).await;
        let http = reqwest::Client::new();
        let r = http
            .post(&link)
            .form(&[("decision", "reject"), ("comment", "Say six, and <em>bold</em> the price")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{db}");
        // Opened again: the recorded decision, escaped.
        let page = http.get(&link).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 410, "{db}");
        let page = page.text().await.unwrap();
        assert!(page.contains("already used") && page.contains("Rejected by olga"), "{db}: {page}");
        assert!(page.contains("&lt;em&gt;bold") && !page.contains("<em>bold"), "{db}");
        // Round 2: the new text as a word diff against round 1, markup kept as text.
        let i = s
            .ok(
                &t["lena"],
                "query($id: ID!) { instance(id: $id) { tasks { id status step { id } } } }",
                json!({"id": id}),
            )
            .await;
        let redraft = open_task(&i["instance"], "draft");
        s.ok(&t["wanda"], complete, json!({"t": redraft, "x": "Six winter tips for <b>you</b>"})).await;
        let link2 = crate::reasons::link_for(&sink, &s.url, "olga", 2).await;
        let page = http.get(&link2).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("<del>Five</del>") && page.contains("<ins>Six</ins>"), "{db}: {page}");
        assert!(page.contains("&lt;b&gt;you") && !page.contains("<b>you"), "{db}: markup in a post stays text");
        // Round 1's rejection comment, once (it is also carried into round 2's task).
        assert_eq!(page.matches("Say six, and").count(), 1, "{db}: {page}");
    }
}
