//! Values that used to stop the server for everybody: a wait of 100,000,000
//! days (a panic in the shared committer), a display name with a line break
//! (a panic in the mail service), a year-10000 date (a timer lost on
//! SQLite), a per-second schedule, megabyte comments, NUL characters, a
//! workflow file of thousands of steps.

use std::time::Duration;

use serde_json::json;

use crate::support::{Server, databases};
use crate::{deploy, ready, start};

const WAIT_FOREVER: &str = r#"
workflow: wait-forever
name: Wait forever
roles: {writer: Writes}
steps:
  pause:
    type: wait
    duration: 100000000d
"#;

const WAIT_UNTIL: &str = r#"
workflow: wait-until
name: Wait until a date from a form
roles: {writer: Writes}
steps:
  plan:
    role: writer
    form:
      when: {type: datetime, required: true}
  pause:
    type: wait
    after: [plan]
    until: "{{ steps.plan.output.when }}"
  check:
    role: writer
    after: [pause]
"#;

const WAIT_TEXT: &str = r#"
workflow: wait-text
name: Wait until a date typed as text
roles: {writer: Writes}
inputs:
  when: {type: string, required: true}
steps:
  pause:
    type: wait
    until: "{{ inputs.when }}"
"#;

async fn complete(s: &Server, token: &str, task: &str, output: serde_json::Value) -> serde_json::Value {
    s.gql(
        token,
        "mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { task { status } userErrors { field message code } } }",
        json!({"t": task, "o": output}),
    )
    .await
}

#[tokio::test]
async fn time_values_beyond_the_range_are_refused_and_everyone_keeps_working() {
    for db in databases() {
        let s = Server::start(db);
        let t = s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
        s.team("beta", &[("bob", "lead"), ("bert", "writer")]).await;
        // The wait that overflowed chrono is refused where it is written.
        let r = deploy(&s, &s.admin, WAIT_FOREVER).await;
        let errors = &r["data"]["deployWorkflow"]["userErrors"];
        assert!(errors[0]["message"].as_str().unwrap().contains("too large"), "{db}: {r}");
        assert!(errors[0]["line"].as_i64().is_some(), "{db}: {r}");
        let wf = s.ok(&s.admin, r#"{ workflow(key: "wait-forever") { key } }"#, json!({})).await;
        assert!(wf["workflow"].is_null(), "{db}: nothing deployed");

        // A date beyond 9999 from an expression is an incident on its step, not a crash.
        deploy(&s, &s.admin, WAIT_TEXT).await;
        let r = start(&s, &t["lena"], "wait-text", "alpha", json!({"when": "9999-12-31T23:00:00-05:00"})).await;
        let id = r["instance"]["id"].as_str().unwrap_or_else(|| panic!("{db}: {r}")).to_string();
        let steps =
            s.ok(&t["lena"], "query($i: ID!) { instance(id: $i) { steps { id incident } } }", json!({"i": id})).await;
        let incident = steps["instance"]["steps"][0]["incident"].as_str().unwrap_or_else(|| panic!("{db}: {steps}"));
        assert!(incident.contains("9999"), "{db}: {incident}");

        // Another client's work goes on, and the server says it is ready.
        deploy(&s, &s.admin, WAIT_UNTIL).await;
        let r = start(&s, &s.admin, "wait-until", "beta", json!({})).await;
        assert!(r["userErrors"].as_array().unwrap().is_empty(), "{db}: {r}");
        assert!(ready(&s), "{db}");
    }
}

#[tokio::test]
async fn a_date_past_the_year_9999_in_a_form_is_refused_not_lost() {
    for db in databases() {
        let s = Server::start(db);
        let t = s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
        deploy(&s, &s.admin, WAIT_UNTIL).await;
        let r = start(&s, &t["lena"], "wait-until", "alpha", json!({})).await;
        let id = r["instance"]["id"].as_str().unwrap().to_string();
        let task = r["instance"]["tasks"][0]["id"].as_str().unwrap().to_string();
        // 9999-12-31 20:00 in New York is year 10000 in UTC.
        let r = complete(&s, &t["wanda"], &task, json!({"when": "9999-12-31T20:00:00-05:00"})).await;
        let e = &r["data"]["completeTask"]["userErrors"][0];
        assert_eq!(e["field"], json!(["output", "when"]), "{db}: {r}");
        assert!(e["message"].as_str().unwrap().contains("9999"), "{db}: {r}");
        // A date at the very end of the range is a wait that never comes, and says so.
        let r = complete(&s, &t["wanda"], &task, json!({"when": "9999-12-31T23:00:00Z"})).await;
        assert_eq!(r["data"]["completeTask"]["task"]["status"], "COMPLETED", "{db}: {r}");
        let i = s
            .ok(
                &t["lena"],
                "query($i: ID!) { instance(id: $i) { status steps { id status incident } } }",
                json!({"i": id}),
            )
            .await;
        let pause = &i["instance"]["steps"][1];
        assert_eq!(pause["status"], "READY", "{db}: {i}");
        assert!(pause["incident"].is_null(), "{db}: {i}");
        assert!(ready(&s), "{db}");
    }
}

#[tokio::test]
async fn schedules_fire_at_most_once_a_minute() {
    for db in databases() {
        let s = Server::start(db);
        s.team("alpha", &[("lena", "lead")]).await;
        let every_second = r#"
workflow: every-second
name: Every second
roles: {writer: Writes}
schedules:
  - cron: "* * * * * *"
    workspace: alpha
steps:
  pause: {type: wait, duration: 1h}
"#;
        let r = deploy(&s, &s.admin, every_second).await;
        let e = &r["data"]["deployWorkflow"]["userErrors"][0];
        assert_eq!(e["code"], "E025", "{db}: {r}");
        assert_eq!(e["line"], 6, "{db}: the cron's line: {r}");
        deploy(&s, &s.admin, &every_second.replace("* * * * * *", "*/5 * * * *")).await;
        let create = |cron: &str| json!({"cron": cron, "wf": "every-second"});
        let q = r#"mutation($cron: String!, $wf: String!) { createSchedule(input: {workflow: $wf, workspace: "alpha", cron: $cron}) { schedule { id } userErrors { message code } } }"#;
        let r = s.ok(&s.admin, q, create("*/10 * * * * *")).await;
        assert_eq!(r["createSchedule"]["userErrors"][0]["code"], "E025", "{db}: {r}");
        assert!(r["createSchedule"]["schedule"].is_null());
        let r = s.ok(&s.admin, q, create("* * * * *")).await;
        assert!(r["createSchedule"]["schedule"]["id"].is_string(), "{db}: once a minute is fine: {r}");
    }
}

#[tokio::test]
async fn comments_and_outputs_are_bounded() {
    for db in databases() {
        let s = Server::start(db);
        let t = s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
        deploy(&s, &s.admin, WAIT_UNTIL).await;
        let r = start(&s, &t["lena"], "wait-until", "alpha", json!({})).await;
        let task = r["instance"]["tasks"][0]["id"].as_str().unwrap().to_string();
        let comment = |body: String| {
            let s = &s;
            let token = t["wanda"].clone();
            let task = task.clone();
            async move {
                s.gql(
                    &token,
                    "mutation($t: ID!, $b: String!) { commentOnTask(input: {taskId: $t, body: $b}) { task { comments { body } } userErrors { field message } } }",
                    json!({"t": task, "b": body}),
                )
                .await
            }
        };
        let r = comment("x".repeat(10_001)).await;
        let e = &r["data"]["commentOnTask"]["userErrors"][0];
        assert_eq!(e["field"], json!(["body"]), "{db}: {r}");
        assert!(e["message"].as_str().unwrap().contains("10000"), "{db}: {r}");
        let r = comment("Line one\nline two".into()).await;
        assert_eq!(r["data"]["commentOnTask"]["task"]["comments"].as_array().unwrap().len(), 1, "{db}: {r}");
        // A 300 KB output is refused; the task can still be done.
        let r =
            complete(&s, &t["wanda"], &task, json!({"when": "2030-01-01T10:00:00Z", "x": "y".repeat(300_000)})).await;
        assert!(r["data"]["completeTask"]["task"].is_null(), "{db}: {r}");
        assert!(r["data"]["completeTask"]["userErrors"][0]["message"].as_str().unwrap().contains("bytes"), "{db}: {r}");
        let r = complete(&s, &t["wanda"], &task, json!({"when": "2030-01-01T10:00:00Z"})).await;
        assert_eq!(r["data"]["completeTask"]["task"]["status"], "COMPLETED", "{db}: {r}");
    }
}

#[tokio::test]
async fn nul_is_refused_the_same_way_on_both_databases() {
    for db in databases() {
        let s = Server::start(db);
        let t = s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
        deploy(&s, &s.admin, WAIT_UNTIL).await;
        let r = start(&s, &t["lena"], "wait-until", "alpha", json!({})).await;
        let task = r["instance"]["tasks"][0]["id"].as_str().unwrap().to_string();
        let tries = [
            (
                t["wanda"].as_str(),
                "mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { task { status } } }",
                json!({"t": task, "o": {"when": "2030-01-01T10:00:00Z", "note": "a\u{0}b"}}),
            ),
            (
                t["wanda"].as_str(),
                "mutation($t: ID!, $b: String!) { commentOnTask(input: {taskId: $t, body: $b}) { task { status } } }",
                json!({"t": task, "b": "nul\u{0}"}),
            ),
            (
                s.admin.as_str(),
                "mutation($n: String) { createUser(input: {login: \"nul\", email: \"nul@agency.example\", name: $n}) { user { login } } }",
                json!({"n": "N\u{0}L"}),
            ),
            (t["wanda"].as_str(), r#"{ tasks(filter: {role: "w\u0000"}) { totalCount } }"#, json!({})),
        ];
        for (token, q, vars) in tries {
            let r = s.gql(token, q, vars).await;
            assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{db}: {q}: {r}");
            assert!(r["errors"][0]["message"].as_str().unwrap().contains("NUL"), "{db}: {r}");
        }
        // Nothing was written: the task is open, without comments, and no user was made.
        let r =
            s.ok(&t["wanda"], "query($t: ID!) { task(id: $t) { status comments { body } } }", json!({"t": task})).await;
        assert_eq!(r["task"]["status"], "OPEN", "{db}: {r}");
        assert_eq!(r["task"]["comments"], json!([]), "{db}: {r}");
        let r = s
            .ok(
                &s.admin,
                r#"mutation { createApiToken(input: {user: "nul", name: "t"}) { userErrors { code } } }"#,
                json!({}),
            )
            .await;
        assert_eq!(r["createApiToken"]["userErrors"][0]["code"], "NOT_FOUND", "{db}: no user was made: {r}");
    }
}

#[tokio::test]
async fn a_workflow_of_thousands_of_steps_is_checked_at_once() {
    let chain = |n: usize| {
        let mut y = format!("workflow: chain-{n}\nname: Chain\nroles: {{writer: Writes}}\nsteps:\n");
        for i in 0..n {
            y.push_str(&format!("  s{i}:\n    role: writer\n"));
            if i > 0 {
                y.push_str(&format!("    title: \"After {{{{ steps.s0.output }}}}\"\n    after: [s{}]\n", i - 1));
            }
        }
        y
    };
    for db in databases() {
        let mut s = Server::start(db);
        // Before: a 4,000-step chain took 35 s (release) to check; a client gives up after 30.
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let body = json!({"query": "mutation($src: String!) { deployWorkflow(input: {source: $src}) { created userErrors { message } } }", "variables": {"src": chain(4000)}});
        let r: serde_json::Value = client
            .post(format!("{}/graphql", s.url))
            .bearer_auth(&s.admin)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{db}: the deploy did not answer: {e}"))
            .json()
            .await
            .unwrap();
        assert_eq!(r["data"]["deployWorkflow"]["created"], true, "{db}: {r}");
        // Beyond 10,000 steps: refused with the limit named.
        let r = deploy(&s, &s.admin, &chain(10_001)).await;
        let e = &r["data"]["deployWorkflow"]["userErrors"][0];
        assert_eq!(e["code"], "E025", "{db}: {r}");
        assert!(e["message"].as_str().unwrap().contains("10000"), "{db}: {r}");
        // After a restart the stored definition is read, not checked again.
        s.restart();
        let r = reqwest::Client::new()
            .post(format!("{}/graphql", s.url))
            .bearer_auth(&s.admin)
            .json(&json!({"query": "{ workflow(key: \"chain-4000\") { version } }"}))
            .send()
            .await
            .unwrap();
        let r: serde_json::Value = r.json().await.unwrap();
        assert_eq!(r["data"]["workflow"]["version"], 1, "{db}: {r}");
    }
}

const TO_WRITERS: &str = r#"
workflow: to-writers
name: A task for the writers
roles: {writer: Writes}
steps:
  draft:
    role: writer
    title: Write the post
"#;

/// The `.eml` files of the server's outbox (no SMTP server configured).
fn outbox(s: &Server) -> Vec<String> {
    let dir = s.data_dir().join("outbox");
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_name_with_a_line_break_is_refused_and_mail_keeps_flowing() {
    for db in databases() {
        let s = Server::start(db);
        s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
        let r = s
            .ok(
                &s.admin,
                "mutation($n: String) { createUser(input: {login: \"eve\", email: \"eve@agency.example\", name: $n}) { user { login } userErrors { field message code } } }",
                json!({"n": "Eve\r\nBcc: v@evil.test"}),
            )
            .await;
        assert_eq!(r["createUser"]["userErrors"][0]["field"], json!(["name"]), "{db}: {r}");
        assert!(r["createUser"]["user"].is_null(), "{db}: {r}");
        // A name stored before names were checked (written straight into the
        // database) cannot stop the mail service either.
        let url =
            s.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", s.data_dir().join("smmflow.db").display()));
        let store = smmflow_store::Store::connect(&url).await.unwrap();
        let eve = smmflow_store::User {
            login: "eve".into(),
            email: "eve@agency.example".into(),
            name: Some("Eve\r\nBcc: v@evil.test".into()),
            is_admin: false,
            notification_mode: "immediate".into(),
            can_deploy_workflows: false,
        };
        store.create_user(&eve, chrono::Utc::now()).await.unwrap();
        store.add_member("alpha", "eve", "writer", chrono::Utc::now()).await.unwrap();
        drop(store);
        deploy(&s, &s.admin, TO_WRITERS).await;
        for _ in 0..2 {
            let r = start(&s, &s.admin, "to-writers", "alpha", json!({})).await;
            assert!(r["instance"]["id"].is_string(), "{db}: {r}");
        }
        // Both writers get both messages, and none carries an injected header.
        let started = std::time::Instant::now();
        while outbox(&s).len() < 4 {
            assert!(started.elapsed() < Duration::from_secs(20), "{db}: mail stopped: {} messages", outbox(&s).len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for m in outbox(&s) {
            assert!(!m.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{db}: {m}");
        }
        assert!(ready(&s), "{db}");
    }
}
