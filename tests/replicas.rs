//! Several `smmflow serve` replicas on one PostgreSQL database.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Server, Subscription};

const FLOW: &str = "workflow: relay-flow\nname: Relay\nroles: {writer: Writes, lead: Leads}\nsteps:\n  draft:\n    role: writer\n  polish:\n    role: writer\n    after: [draft]\n";

#[tokio::test]
async fn a_subscription_on_one_replica_receives_events_made_on_another() {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        eprintln!("SKIPPED: replicas need PostgreSQL (SMMFLOW_TEST_POSTGRES_URL is not set)");
        return;
    }
    let a = Server::start("postgres");
    let b = Server::start_replica(&a);
    a.ok(&a.admin, "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created } }", json!({"s": FLOW}))
        .await;
    let t = a.team("relay", &[("lena", "lead"), ("wanda", "writer")]).await;
    let mut on_b = Subscription::open(
        &b,
        &t["wanda"],
        "subscription { taskEvents(workspace: \"relay\") { kind task { step { id } } } }",
        json!({}),
        false,
    )
    .await
    .unwrap();
    let started = a.ok(&t["lena"], r#"mutation { startInstance(input: {workflow: "relay-flow", workspace: "relay"}) { instance { id tasks { id } } } }"#, json!({})).await;
    let inst = started["startInstance"]["instance"].clone();
    let mut on_b_instance = Subscription::open(
        &b,
        &t["lena"],
        "subscription($id: ID!) { instanceEvents(instanceId: $id) { seq kind } }",
        json!({"id": inst["id"]}),
        false,
    )
    .await
    .unwrap();
    a.ok(
        &t["wanda"],
        "mutation($t: ID!) { completeTask(input: {taskId: $t}) { userErrors { message } } }",
        json!({"t": inst["tasks"][0]["id"]}),
    )
    .await;
    let mut kinds = Vec::new();
    while let Some(e) = on_b.next(Duration::from_secs(5)).await {
        kinds.push(format!(
            "{}:{}",
            e["taskEvents"]["kind"].as_str().unwrap(),
            e["taskEvents"]["task"]["step"]["id"].as_str().unwrap()
        ));
        if kinds.len() == 4 {
            break;
        }
    }
    assert_eq!(kinds, ["task.created:draft", "task.claimed:draft", "task.completed:draft", "task.created:polish"]);
    let mut seqs = Vec::new();
    while let Some(e) = on_b_instance.next(Duration::from_secs(2)).await {
        seqs.push(e["instanceEvents"]["seq"].as_i64().unwrap());
    }
    assert!(seqs.len() >= 3 && seqs.windows(2).all(|w| w[1] == w[0] + 1), "in order, none missing: {seqs:?}");
    // The work done on A is visible on B at once (one database).
    let seen =
        b.ok(&t["wanda"], "{ tasks(filter: {mine: true, status: [OPEN]}) { nodes { step { id } } } }", json!({})).await;
    assert_eq!(seen["tasks"]["nodes"][0]["step"]["id"], "polish");
}
