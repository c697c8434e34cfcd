//! `reasons` on an approval: a rejection names at least one of them, they
//! are kept in the task's output and the event log, and nothing else passes.

use serde_json::{Value, json};

use crate::support::{Server, databases};

const FLOW: &str = r#"workflow: reasoned
name: A post the client approves, with reasons for a rejection
roles: {writer: Writes, client: Approves}
steps:
  draft: {role: writer}
  review:
    type: approval
    role: client
    after: [draft]
    reasons: [tone, facts, visuals, legal, timing, other]
    on_reject: {goto: draft, max_rounds: 3}
"#;

const REJECT: &str = "mutation($t: ID!, $c: String!, $r: [String!]) { rejectTask(input: {taskId: $t, comment: $c, reasons: $r}) { task { status output } userErrors { field message code } } }";

fn open_task(i: &Value, step: &str) -> Value {
    i["tasks"].as_array().unwrap().iter().find(|t| t["step"]["id"] == step && t["status"] == "OPEN").unwrap()["id"]
        .clone()
}

/// Deploys FLOW, starts it, completes the draft: (tokens, instance id, the review task).
async fn at_review(s: &Server) -> (std::collections::HashMap<String, String>, Value, Value) {
    let r = s
        .ok(
            &s.admin,
            "mutation($s: String!) { deployWorkflow(input: {source: $s}) { userErrors { message } } }",
            json!({"s": FLOW}),
        )
        .await;
    assert_eq!(r["deployWorkflow"]["userErrors"], json!([]), "{}", s.db);
    let t = s.team("acme", &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
    let started = s.ok(&t["lena"], "mutation { startInstance(input: {workflow: \"reasoned\", workspace: \"acme\"}) { instance { id tasks { id status step { id } } } } }", json!({})).await;
    let id = started["startInstance"]["instance"]["id"].clone();
    let draft = open_task(&started["startInstance"]["instance"], "draft");
    s.ok(
        &t["wanda"],
        "mutation($t: ID!) { completeTask(input: {taskId: $t}) { userErrors { message } } }",
        json!({"t": draft}),
    )
    .await;
    let i = s
        .ok(&t["lena"], "query($id: ID!) { instance(id: $id) { tasks { id status step { id } } } }", json!({"id": id}))
        .await;
    let review = open_task(&i["instance"], "review");
    (t, id, review)
}

#[tokio::test]
async fn a_rejection_names_its_reasons_and_they_are_kept() {
    for db in databases() {
        let s = Server::start(db);
        let (t, id, review) = at_review(&s).await;
        let q = "query($id: ID!) { instance(id: $id) { tasks { id status step { id } output } events { kind data } } }";

        // Without a reason, or with one the approval does not offer: a userError naming `reasons`, nothing changes.
        let r = s.ok(&t["olga"], REJECT, json!({"t": review, "c": "Too pushy"})).await;
        let e = &r["rejectTask"]["userErrors"][0];
        assert_eq!((e["field"].clone(), e["code"].clone()), (json!(["reasons"]), json!("BAD_USER_INPUT")), "{db}: {r}");
        assert!(e["message"].as_str().unwrap().contains("tone, facts"), "{db}: {e}");
        let r = s.ok(&t["olga"], REJECT, json!({"t": review, "c": "Too pushy", "r": ["tone", "vibes"]})).await;
        assert_eq!(r["rejectTask"]["userErrors"][0]["field"], json!(["reasons", "1"]), "{db}: {r}");
        let i = s.ok(&t["lena"], q, json!({"id": id})).await;
        assert!(i["instance"]["events"].as_array().unwrap().iter().all(|e| e["kind"] != "task.rejected"), "{db}");
        assert_eq!(open_task(&i["instance"], "review"), review, "{db}: the approval still waits");
    }
}

#[tokio::test]
async fn the_reasons_are_in_the_output_and_the_log() {
    for db in databases() {
        let s = Server::start(db);
        let (t, id, review) = at_review(&s).await;
        let q = "query($id: ID!) { instance(id: $id) { tasks { id status step { id } output comments { body } } events { kind data } } }";
        let r = s
            .ok(&t["olga"], REJECT, json!({"t": review, "c": "Wrong price and too pushy", "r": ["facts", "tone"]}))
            .await;
        assert_eq!(r["rejectTask"]["userErrors"], json!([]), "{db}: {r}");
        assert_eq!(r["rejectTask"]["task"]["output"]["reasons"], json!(["facts", "tone"]), "{db}: {r}");
        let i = s.ok(&t["lena"], q, json!({"id": id})).await;
        let ev =
            i["instance"]["events"].as_array().unwrap().iter().find(|e| e["kind"] == "task.rejected").unwrap().clone();
        assert_eq!(ev["data"]["reasons"], json!(["facts", "tone"]), "{db}: {ev}");
        // The next round is approved as usual (no reasons with an approval).
        let reopened = open_task(&i["instance"], "draft");
        s.ok(
            &t["wanda"],
            "mutation($t: ID!) { completeTask(input: {taskId: $t, output: {text: \"v2, cheaper\"}}) { userErrors { message } } }",
            json!({"t": reopened}),
        )
        .await;
        let i = s.ok(&t["lena"], q, json!({"id": id})).await;
        let review = open_task(&i["instance"], "review");
        // The approval's rounds: what was reviewed each time, and what was decided.
        let rounds = "query($t: ID!) { task(id: $t) { rounds { round output completedBy { login } decision comment reasons decidedBy { login } } } }";
        let r = s.ok(&t["olga"], rounds, json!({"t": review})).await;
        let rs = r["task"]["rounds"].as_array().unwrap();
        assert_eq!(rs.len(), 2, "{db}: {r}");
        assert_eq!(
            (rs[0]["decision"].clone(), rs[0]["reasons"].clone(), rs[0]["decidedBy"]["login"].clone()),
            (json!("rejected"), json!(["facts", "tone"]), json!("olga")),
            "{db}: {r}"
        );
        assert_eq!(rs[0]["comment"], "Wrong price and too pushy", "{db}");
        assert_eq!(
            (rs[1]["output"]["text"].clone(), rs[1]["decision"].clone()),
            (json!("v2, cheaper"), Value::Null),
            "{db}: {r}"
        );
        assert_eq!(rs[1]["completedBy"]["login"], "wanda", "{db}");
        let r = s
            .gql(
                &t["olga"],
                "mutation($t: ID!) { approveTask(input: {taskId: $t}) { task { status } userErrors { field } } }",
                json!({"t": review}),
            )
            .await;
        assert_eq!(r["data"]["approveTask"]["task"]["status"], "APPROVED", "{db}: {r}");
    }
}

const CLIENT_FLOW: &str = r#"workflow: client-reasons
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
    reasons: [tone, facts, visuals, legal, timing, other]
    on_reject: {goto: draft}
"#;

/// The newest approval link to `server` mailed to `login`, once at least
/// `n` have come, waiting up to 20 s.
pub async fn link_for(sink: &crate::support::smtp::SmtpSink, server: &str, login: &str, n: usize) -> String {
    let started = std::time::Instant::now();
    let prefix = format!("{server}/approve/");
    loop {
        let links: Vec<String> = sink
            .messages()
            .into_iter()
            .filter(|m| m["rcpt"][0].as_str().is_some_and(|r| r.starts_with(&format!("{login}@"))))
            .filter_map(|m| {
                let text = m["text"].as_str().unwrap_or_default().to_string();
                text.split_whitespace().find(|w| w.starts_with(&prefix)).map(str::to_string)
            })
            .collect();
        if links.len() >= n {
            return links.last().cloned().unwrap_or_default();
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "no approval mail for {login}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_approval_page_asks_for_reasons_before_a_rejection() {
    let Some(sink) = crate::support::smtp::SmtpSink::start() else { return };
    for db in databases() {
        let args = ["--smtp-url".to_string(), sink.url(), "--mail-from".into(), "SMM <smm@agency.example>".into()];
        let s = Server::start_with(db, &args.iter().map(String::as_str).collect::<Vec<_>>());
        s.ok(
            &s.admin,
            "mutation($s: String!) { deployWorkflow(input: {source: $s}) { userErrors { message } } }",
            json!({"s": CLIENT_FLOW}),
        )
        .await;
        let ws = format!("shop-{db}");
        let t = s.team(&ws, &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
        let started = s
            .ok(&t["lena"], "mutation($w: String!) { startInstance(input: {workflow: \"client-reasons\", workspace: $w}) { instance { id tasks { id status step { id } } } } }", json!({"w": ws}))
            .await;
        let id = started["startInstance"]["instance"]["id"].clone();
        let draft = open_task(&started["startInstance"]["instance"], "draft");
        s.ok(&t["wanda"], "mutation($t: ID!) { completeTask(input: {taskId: $t, output: {text: \"Five winter tips\"}}) { userErrors { message } } }", json!({"t": draft})).await;
        let link = link_for(&sink, &s.url, "olga", 1).await;
        let http = reqwest::Client::new();
        let page = http.get(&link).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("name=\"reason_tone\"") && page.contains("name=\"reason_legal\""), "{db}: {page}");
        // A rejection without a reason is sent back with the question; nothing is decided.
        let r = http.post(&link).form(&[("decision", "reject"), ("comment", "Too pushy")]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 422, "{db}");
        assert!(r.text().await.unwrap().contains("tick at least one reason"), "{db}");
        let r = http
            .post(&link)
            .form(&[("decision", "reject"), ("comment", "Too pushy"), ("reason_tone", "on"), ("reason_bogus", "on")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{db}");
        let q = "query($id: ID!) { instance(id: $id) { tasks { step { id } status output } } }";
        let i = s.ok(&t["lena"], q, json!({"id": id})).await;
        let rejected =
            i["instance"]["tasks"].as_array().unwrap().iter().find(|t| t["status"] == "REJECTED").unwrap().clone();
        assert_eq!(rejected["output"]["reasons"], json!(["tone"]), "{db}: {rejected}");
    }
}
