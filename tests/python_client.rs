//! Interoperability: a GraphQL client we did not write (Python's `gql`,
//! installed by scripts/test) claims and completes a task over HTTP and
//! receives the events over WebSocket, against a real server process.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::{Server, databases};

const FLOW: &str = "workflow: py-flow\nname: Python flow\nroles: {writer: Writes}\nsteps:\n  draft:\n    role: writer\n    form:\n      text: {type: text, required: true}\n";

#[tokio::test]
async fn pythons_gql_client_claims_completes_and_subscribes() {
    let Ok(python) = std::env::var("SMMFLOW_TEST_PYTHON") else {
        support::skipped("SKIPPED: SMMFLOW_TEST_PYTHON is not set (scripts/test installs Python's gql and sets it)");
        return;
    };
    for db in databases() {
        let s = Server::start(db);
        s.ok(&s.admin, "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created } }", json!({"s": FLOW}))
            .await;
        let t = s.team("py", &[("lena", "lead"), ("wanda", "writer")]).await;
        let r = s.ok(&t["lena"], r#"mutation { startInstance(input: {workflow: "py-flow", workspace: "py"}) { instance { tasks { id } } } }"#, json!({})).await;
        let task = r["startInstance"]["instance"]["tasks"][0]["id"].as_str().unwrap().to_string();
        let env =
            [("SMMFLOW_URL", s.url.clone()), ("SMMFLOW_TOKEN", t["wanda"].clone()), ("SMMFLOW_TASK", task.clone())];
        support::run_client(&python, "gql_client.py", &env, "task.completed", db).await;
    }
}
