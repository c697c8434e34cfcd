//! Nothing crosses between clients without a membership: who may deploy the
//! organization's workflows, YAML schedules into another client's
//! workspace, a removed member's mailed link and open subscription, and
//! tokens their owner can list and revoke.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, Subscription, databases};
use crate::{deploy, start};

fn plain(key: &str) -> String {
    format!("workflow: {key}\nname: Plain\nroles: {{writer: Writes}}\nsteps:\n  draft: {{role: writer}}\n")
}

fn scheduled(key: &str, workspace: &str, cron: &str) -> String {
    format!(
        "workflow: {key}\nname: Scheduled\nroles: {{writer: Writes}}\nschedules:\n  - cron: \"{cron}\"\n    workspace: {workspace}\nsteps:\n  draft: {{role: writer}}\n"
    )
}

async fn grant_deploy(s: &Server, login: &str, on: bool) -> Value {
    s.ok(
        &s.admin,
        "mutation($u: String!, $on: Boolean) { updateUser(input: {user: $u, canDeployWorkflows: $on}) { user { login canDeployWorkflows } userErrors { message } } }",
        json!({"u": login, "on": on}),
    )
    .await
}

fn code(r: &Value) -> &str {
    r["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn deploying_needs_the_organizations_permission() {
    for db in databases() {
        let s = Server::start(db);
        let t = s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
        // A lead of one client may not change the processes every client runs on.
        assert_eq!(code(&deploy(&s, &t["lena"], &plain("lenas-flow")).await), "FORBIDDEN", "{db}");
        assert_eq!(code(&deploy(&s, &t["wanda"], &plain("lenas-flow")).await), "FORBIDDEN", "{db}");
        // Granted by an admin, and only by an admin.
        let r = s
            .gql(
                &t["lena"],
                r#"mutation { updateUser(input: {user: "lena", canDeployWorkflows: true}) { user { login } } }"#,
                json!({}),
            )
            .await;
        assert_eq!(code(&r), "FORBIDDEN", "{db}: {r}");
        let r = grant_deploy(&s, "lena", true).await;
        assert_eq!(r["updateUser"]["user"]["canDeployWorkflows"], true, "{db}: {r}");
        let r = deploy(&s, &t["lena"], &plain("lenas-flow")).await;
        assert_eq!(r["data"]["deployWorkflow"]["created"], true, "{db}: {r}");
        let v = s.ok(&t["lena"], "{ viewer { canDeployWorkflows } }", json!({})).await;
        assert_eq!(v["viewer"]["canDeployWorkflows"], true, "{db}");
        // Taken away again.
        grant_deploy(&s, "lena", false).await;
        assert_eq!(code(&deploy(&s, &t["lena"], &plain("lenas-flow-2")).await), "FORBIDDEN", "{db}");
    }
}

#[tokio::test]
async fn a_yaml_schedule_cannot_land_in_another_clients_workspace() {
    for db in databases() {
        let s = Server::start(db);
        let t = s.team("alpha", &[("lena", "lead")]).await;
        let b = s.team("beta", &[("bob", "lead")]).await;
        grant_deploy(&s, "lena", true).await;
        grant_deploy(&s, "bob", true).await;
        let schedules = |ws: &'static str| {
            let s = &s;
            async move {
                let r = s
                    .ok(
                        &s.admin,
                        "query($w: String) { schedules(workspace: $w) { id workflow { key } } }",
                        json!({"w": ws}),
                    )
                    .await;
                r["schedules"].as_array().unwrap().len()
            }
        };
        // Lena (alpha) aims a schedule at beta: refused, nothing deployed.
        let r = deploy(&s, &t["lena"], &scheduled("sneaky", "beta", "0 10 * * *")).await;
        assert_eq!(code(&r), "FORBIDDEN", "{db}: {r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains("beta"), "{db}: {r}");
        let wf = s.ok(&s.admin, r#"{ workflow(key: "sneaky") { key } }"#, json!({})).await;
        assert!(wf["workflow"].is_null(), "{db}");
        assert_eq!(schedules("beta").await, 0, "{db}");
        // Into her own workspace it is fine.
        let r = deploy(&s, &t["lena"], &scheduled("weekly", "alpha", "0 10 * * *")).await;
        assert_eq!(r["data"]["deployWorkflow"]["created"], true, "{db}: {r}");
        assert_eq!(schedules("alpha").await, 1, "{db}");
        // Bob (beta) may not move or remove alpha's schedule by redeploying.
        let r = deploy(&s, &b["bob"], &scheduled("weekly", "beta", "0 10 * * *")).await;
        assert_eq!(code(&r), "FORBIDDEN", "{db}: {r}");
        let r = deploy(&s, &b["bob"], &plain("weekly")).await;
        assert_eq!(code(&r), "FORBIDDEN", "{db}: {r}");
        assert_eq!(schedules("alpha").await, 1, "{db}: alpha's schedule stays");
        // A redeploy that leaves alpha's schedule as it was touches nothing of alpha's.
        let same = scheduled("weekly", "alpha", "0 10 * * *").replace("name: Scheduled", "name: Scheduled, renamed");
        let r = deploy(&s, &b["bob"], &same).await;
        assert_eq!(r["data"]["deployWorkflow"]["created"], true, "{db}: {r}");
    }
}

const CLIENT_OK: &str = r#"
workflow: client-ok
name: Client approval
roles: {writer: Writes, client: Approves}
steps:
  draft:
    role: writer
    form:
      text: {type: text, required: true}
  ok:
    type: approval
    after: [draft]
    levels:
      - role: client
        external: true
    on_reject: {goto: draft}
"#;

/// The approval link mailed to `login` (from the `.eml` outbox).
fn link_for(s: &Server, login: &str) -> Option<String> {
    let dir = s.data_dir().join("outbox");
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let text = std::fs::read_to_string(e.path()).ok()?;
        if !text.contains(&format!("{login}@agency.example")) {
            continue;
        }
        // Undo quoted-printable soft line breaks and `=3D`.
        let text = text.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
        if let Some(w) = text.split_whitespace().find(|w| w.contains("/approve/")) {
            let start = w.find("http").unwrap_or(0);
            return Some(w[start..].trim_end_matches(['>', '"', ')', '.']).to_string());
        }
    }
    None
}

#[tokio::test]
async fn a_removed_members_link_and_subscription_stop() {
    for db in databases() {
        let s = Server::start(db);
        let t = s.team("alpha", &[("lena", "lead"), ("wanda", "writer"), ("carl", "client")]).await;
        deploy(&s, &s.admin, CLIENT_OK).await;
        let r = start(&s, &t["lena"], "client-ok", "alpha", json!({})).await;
        let draft = r["instance"]["tasks"][0]["id"].as_str().unwrap().to_string();
        let mut carls = Subscription::open(
            &s,
            &t["carl"],
            r#"subscription { taskEvents(workspace: "alpha") { kind task { id } } }"#,
            json!({}),
            false,
        )
        .await
        .unwrap();
        s.ok(
            &t["wanda"],
            "mutation($t: ID!) { completeTask(input: {taskId: $t, output: {text: \"v1\"}}) { task { status } } }",
            json!({"t": draft}),
        )
        .await;
        // Carl sees the approval appear, and gets his link.
        let seen = carls.next(Duration::from_secs(5)).await;
        assert!(seen.is_some(), "{db}: carl's subscription works while he is a member");
        while carls.next(Duration::from_millis(300)).await.is_some() {}
        let started = std::time::Instant::now();
        let link = loop {
            if let Some(l) = link_for(&s, "carl") {
                break l;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{db}: no link mailed to carl");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        // The agency ends Carl's access.
        let r = s
            .ok(
                &t["lena"],
                r#"mutation { removeMember(input: {workspace: "alpha", user: "carl", role: "client"}) { membership { role } userErrors { message } } }"#,
                json!({}),
            )
            .await;
        assert_eq!(r["removeMember"]["membership"]["role"], "client", "{db}: {r}");
        let http = reqwest::Client::new();
        let page = http.get(&link).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 403, "{db}: the page no longer shows the work");
        let posted = http.post(&link).form(&[("decision", "approve"), ("comment", "")]).send().await.unwrap();
        assert_eq!(posted.status().as_u16(), 403, "{db}");
        let r = s
            .ok(
                &t["lena"],
                "query($i: ID!) { tasks(filter: {instance: $i, status: [OPEN]}, first: 5) { nodes { step { id } } } }",
                json!({"i": r["instance"]["id"]}),
            )
            .await;
        assert_eq!(r["tasks"]["nodes"][0]["step"]["id"], "ok", "{db}: the approval still waits: {r}");
        // His open subscription delivers nothing more (it ends).
        let r = start(&s, &t["lena"], "client-ok", "alpha", json!({})).await;
        assert!(r["instance"]["id"].is_string());
        let after = carls.next(Duration::from_secs(2)).await;
        assert!(after.is_none(), "{db}: a removed member still streams alpha's events: {after:?}");
    }
}

#[tokio::test]
async fn tokens_are_listed_and_revoked() {
    for db in databases() {
        let s = Server::start(db);
        let t = s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
        let r = s
            .ok(
                &t["wanda"],
                r#"mutation { createApiToken(input: {user: "wanda", name: "laptop"}) { token } }"#,
                json!({}),
            )
            .await;
        let laptop = r["createApiToken"]["token"].as_str().unwrap().to_string();
        let mine = s.ok(&laptop, "{ viewer { apiTokens { id name createdAt } } }", json!({})).await;
        let tokens = mine["viewer"]["apiTokens"].as_array().unwrap().clone();
        assert_eq!(tokens.len(), 2, "{db}: {mine}");
        assert!(!mine.to_string().contains(&laptop), "{db}: the secret is never shown again");
        let id = tokens.iter().find(|t| t["name"] == "laptop").unwrap()["id"].as_str().unwrap().to_string();
        let mut sub = Subscription::open(
            &s,
            &laptop,
            r#"subscription { taskEvents(workspace: "alpha") { kind } }"#,
            json!({}),
            false,
        )
        .await
        .unwrap();
        deploy(&s, &s.admin, &plain("around-revoke")).await;
        start(&s, &t["lena"], "around-revoke", "alpha", json!({})).await;
        assert!(sub.next(Duration::from_secs(5)).await.is_some(), "{db}: the subscription works before");
        while sub.next(Duration::from_millis(300)).await.is_some() {}
        // Someone else's token is not theirs to see or revoke.
        let r = s
            .ok(
                &t["lena"],
                "mutation($i: ID!) { revokeApiToken(input: {tokenId: $i}) { token { id } userErrors { code } } }",
                json!({"i": id}),
            )
            .await;
        assert_eq!(r["revokeApiToken"]["userErrors"][0]["code"], "NOT_FOUND", "{db}: {r}");
        let r = s
            .ok(
                &t["wanda"],
                "mutation($i: ID!) { revokeApiToken(input: {tokenId: $i}) { token { name } userErrors { code } } }",
                json!({"i": id}),
            )
            .await;
        assert_eq!(r["revokeApiToken"]["token"]["name"], "laptop", "{db}: {r}");
        assert_eq!(s.error_code(&laptop, "{ viewer { login } }", json!({})).await, "UNAUTHENTICATED", "{db}");
        assert_eq!(s.ok(&t["wanda"], "{ viewer { login } }", json!({})).await["viewer"]["login"], "wanda");
        // The subscription opened with it ends.
        start(&s, &t["lena"], "around-revoke", "alpha", json!({})).await;
        assert!(sub.next(Duration::from_secs(2)).await.is_none(), "{db}: a revoked token still streams");
    }
}
