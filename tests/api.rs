//! The API's contract over real HTTP and WebSocket: subscriptions, the
//! authorization matrix, and bad input.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, Subscription, databases};

const START: &str = r#"mutation($wf: String!, $ws: String!, $in: JSON) { startInstance(input: {workflow: $wf, workspace: $ws, inputs: $in}) { instance { id tasks { id status step { id } } } userErrors { message } } }"#;

const REVIEW_FLOW: &str = r#"
workflow: api-review
name: API review
roles: {writer: Writes, editor: Edits, lead: Leads}
steps:
  draft:
    role: writer
    form:
      text: {type: text, required: true}
      words: {type: integer, min: 1}
  review:
    type: approval
    role: editor
    after: [draft]
    on_reject: {goto: draft}
"#;

async fn setup(s: &Server) -> std::collections::HashMap<String, String> {
    let deployed = s
        .ok(&s.admin, "mutation($src: String!) { deployWorkflow(input: {source: $src}) { created workflow { key version } userErrors { message } } }", json!({"src": REVIEW_FLOW}))
        .await;
    assert_eq!(deployed["deployWorkflow"]["created"], true);
    let mut tokens =
        s.team("alpha", &[("lena", "lead"), ("wanda", "writer"), ("eddie", "editor"), ("mixed", "writer")]).await;
    tokens.extend(s.team("beta", &[("bob", "lead"), ("bert", "writer")]).await);
    // `mixed` writes and edits in alpha.
    s.ok(&s.admin, r#"mutation { addMember(input: {workspace: "alpha", user: "mixed", role: "editor"}) { userErrors { message } } }"#, json!({})).await;
    tokens
}

async fn start(s: &Server, token: &str, ws: &str) -> (String, String) {
    let r = s.ok(token, START, json!({"wf": "api-review", "ws": ws, "in": {}})).await;
    let inst = &r["startInstance"]["instance"];
    (inst["id"].as_str().unwrap().to_string(), inst["tasks"][0]["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn task_events_and_instance_events_arrive_in_order_over_both_protocols() {
    for db in databases() {
        let s = Server::start(db);
        let t = setup(&s).await;
        for legacy in [false, true] {
            let mut tasks = Subscription::open(
                &s,
                &t["wanda"],
                "subscription { taskEvents(workspace: \"alpha\") { kind task { id step { id } status } } }",
                json!({}),
                legacy,
            )
            .await
            .unwrap();
            let (id, draft) = start(&s, &t["lena"], "alpha").await;
            let mut events = Subscription::open(
                &s,
                &t["eddie"],
                "subscription($id: ID!) { instanceEvents(instanceId: $id) { seq kind actor { login } } }",
                json!({"id": id}),
                legacy,
            )
            .await
            .unwrap();
            s.ok(&t["wanda"], "mutation($t: ID!) { completeTask(input: {taskId: $t, output: {text: \"v1\"}}) { userErrors { message } } }", json!({"t": draft})).await;
            let mut kinds = Vec::new();
            while let Some(e) = tasks.next(Duration::from_secs(3)).await {
                let e = &e["taskEvents"];
                kinds.push(format!("{}:{}", e["kind"].as_str().unwrap(), e["task"]["step"]["id"].as_str().unwrap()));
                if kinds.len() == 4 {
                    break;
                }
            }
            assert_eq!(
                kinds,
                ["task.created:draft", "task.claimed:draft", "task.completed:draft", "task.created:review"],
                "{db} legacy={legacy}"
            );
            let mut seqs = Vec::new();
            while let Some(e) = events.next(Duration::from_secs(2)).await {
                seqs.push((
                    e["instanceEvents"]["seq"].as_i64().unwrap(),
                    e["instanceEvents"]["kind"].as_str().unwrap().to_string(),
                ));
            }
            assert!(!seqs.is_empty(), "{db}: instance events arrived");
            assert!(seqs.windows(2).all(|w| w[1].0 == w[0].0 + 1), "{db}: in order, none missing: {seqs:?}");
            assert!(seqs.iter().any(|(_, k)| k == "task.completed"), "{db}: {seqs:?}");
        }
        // Fields that need the request's loaders work over WebSocket too, and a
        // client offering both protocols gets the one it prefers.
        for legacy in [false, true] {
            let mut sub = Subscription::open_offering(&s, &t["wanda"], "subscription { taskEvents { kind task { assignee { login } instance { startedBy { login } workspace { name } } } } }", json!({}), legacy, true)
                .await
                .unwrap();
            start(&s, &t["lena"], "alpha").await;
            let e = sub.next(Duration::from_secs(3)).await.unwrap();
            assert_eq!(e["taskEvents"]["task"]["instance"]["startedBy"]["login"], "lena", "{db} legacy={legacy}: {e}");
        }
        // Without a valid token the socket is refused.
        assert!(
            Subscription::open(&s, "bad-token", "subscription { taskEvents { kind } }", json!({}), false)
                .await
                .is_err(),
            "{db}"
        );
        // Another workspace's events are not delivered.
        let mut foreign =
            Subscription::open(&s, &t["bert"], "subscription { taskEvents { kind } }", json!({}), false).await.unwrap();
        start(&s, &t["lena"], "alpha").await;
        assert_eq!(foreign.next(Duration::from_millis(800)).await, None, "{db}: beta sees nothing of alpha");
    }
}

#[tokio::test]
async fn the_authorization_matrix() {
    for db in databases() {
        let s = Server::start(db);
        let t = setup(&s).await;
        let (a_id, a_draft) = start(&s, &t["lena"], "alpha").await;
        let (b_id, _) = start(&s, &t["bob"], "beta").await;
        // No token, a bad token.
        assert_eq!(s.error_code("", "{ viewer { login } }", json!({})).await, "UNAUTHENTICATED", "{db}");
        assert_eq!(
            s.error_code("smf_not_a_token", "{ tasks { totalCount } }", json!({})).await,
            "UNAUTHENTICATED",
            "{db}"
        );
        // A member of alpha cannot see or touch beta.
        let seen = s.ok(&t["wanda"], "query($id: ID!) { instance(id: $id) { id } }", json!({"id": b_id})).await;
        assert_eq!(seen["instance"], Value::Null, "{db}");
        let listed = s
            .ok(&t["bert"], "{ instances { totalCount nodes { workspace { key } } } tasks { totalCount } }", json!({}))
            .await;
        assert_eq!(listed["instances"]["totalCount"], 1, "{db}: bert sees only beta");
        assert_eq!(
            s.error_code(
                &t["bert"],
                "mutation($t: ID!) { claimTask(input: {taskId: $t}) { task { id } } }",
                json!({"t": a_draft})
            )
            .await,
            "FORBIDDEN",
            "{db}"
        );
        assert_eq!(
            s.error_code(
                &t["bob"],
                "mutation($i: ID!) { cancelInstance(input: {instanceId: $i, reason: \"x\"}) { instance { id } } }",
                json!({"i": a_id})
            )
            .await,
            "FORBIDDEN",
            "{db}"
        );
        // Members cannot start, cancel or manage; only leads and admins.
        assert_eq!(
            s.error_code(&t["wanda"], START, json!({"wf": "api-review", "ws": "alpha", "in": {}})).await,
            "FORBIDDEN",
            "{db}"
        );
        assert_eq!(s.error_code(&t["wanda"], r#"mutation { addMember(input: {workspace: "alpha", user: "bert", role: "writer"}) { userErrors { message } } }"#, json!({})).await, "FORBIDDEN", "{db}");
        assert_eq!(
            s.error_code(
                &t["wanda"],
                r#"mutation { createUser(input: {login: "eve", email: "eve@x.io"}) { userErrors { message } } }"#,
                json!({})
            )
            .await,
            "FORBIDDEN",
            "{db}"
        );
        assert_eq!(
            s.error_code(
                &t["wanda"],
                "mutation($src: String!) { deployWorkflow(input: {source: $src}) { created } }",
                json!({"src": REVIEW_FLOW})
            )
            .await,
            "FORBIDDEN",
            "{db}"
        );
        assert_eq!(
            s.error_code(
                &t["wanda"],
                r#"mutation { createApiToken(input: {user: "eddie", name: "steal"}) { token } }"#,
                json!({})
            )
            .await,
            "FORBIDDEN",
            "{db}"
        );
        // A copywriter cannot approve; the author cannot approve their own work.
        s.ok(&t["mixed"], "mutation($t: ID!) { completeTask(input: {taskId: $t, output: {text: \"mine\"}}) { userErrors { message } } }", json!({"t": a_draft})).await;
        let review = s
            .ok(
                &t["eddie"],
                "query($id: ID!) { instance(id: $id) { tasks { id status step { id } } } }",
                json!({"id": a_id}),
            )
            .await;
        let review_id = review["instance"]["tasks"][1]["id"].as_str().unwrap().to_string();
        assert_eq!(
            s.error_code(
                &t["wanda"],
                "mutation($t: ID!) { approveTask(input: {taskId: $t}) { task { id } } }",
                json!({"t": review_id})
            )
            .await,
            "FORBIDDEN",
            "{db}: a writer cannot approve"
        );
        let selfie = s
            .gql(
                &t["mixed"],
                "mutation($t: ID!) { approveTask(input: {taskId: $t}) { task { id } } }",
                json!({"t": review_id}),
            )
            .await;
        assert_eq!(selfie["errors"][0]["extensions"]["code"], "FORBIDDEN", "{db}");
        assert!(selfie["errors"][0]["message"].as_str().unwrap().contains("four-eyes"), "{db}: {selfie}");
        let ok = s
            .ok(
                &t["eddie"],
                "mutation($t: ID!) { approveTask(input: {taskId: $t}) { task { status } } }",
                json!({"t": review_id}),
            )
            .await;
        assert_eq!(ok["approveTask"]["task"]["status"], "APPROVED", "{db}");
        // A second decision on the same task.
        assert_eq!(
            s.error_code(
                &t["eddie"],
                "mutation($t: ID!) { approveTask(input: {taskId: $t}) { task { id } } }",
                json!({"t": review_id})
            )
            .await,
            "TASK_ALREADY_COMPLETED",
            "{db}"
        );
    }
}

#[tokio::test]
async fn bad_input_gets_the_documented_error_and_changes_nothing() {
    for db in databases() {
        let s = Server::start(db);
        let t = setup(&s).await;
        let (id, draft) = start(&s, &t["lena"], "alpha").await;
        let client = reqwest::Client::new();
        let post = |body: Vec<u8>| {
            client
                .post(format!("{}/graphql", s.url))
                .bearer_auth(&t["wanda"])
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        // The metrics count what happened, in the Prometheus text format.
        let metrics = client.get(format!("{}/metrics", s.url)).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("smmflow_commands_total{outcome=\"ok\"}"), "{db}: {metrics}");
        assert!(metrics.contains("smmflow_open_tasks 1"), "{db}: {metrics}");
        assert!(metrics.contains("smmflow_command_duration_seconds_count"), "{db}");
        // Malformed JSON: 400.
        assert_eq!(post(b"{\"query\": \"{ viewer { login } \"".to_vec()).await.unwrap().status(), 400, "{db}");
        // A 10 MB body: 413, answered from the headers without reading it.
        assert_eq!(support::status_of_announced_body(&s.url, &t["wanda"], 10 * 1024 * 1024), 413, "{db}");
        // Unknown fields and arguments are validation errors.
        let r = s.gql(&t["wanda"], "{ viewer { login shoeSize } }", json!({})).await;
        assert!(r["errors"][0]["message"].as_str().unwrap().contains("shoeSize"), "{db}: {r}");
        let r = s.gql(&t["wanda"], "{ tasks(filter: {colour: RED}) { totalCount } }", json!({})).await;
        assert!(r["errors"].is_array() && r["data"].is_null(), "{db}: {r}");
        // A query 50 levels deep is refused before it runs.
        let deep = format!("{{ viewer {}login{} }}", "{ memberships { user ".repeat(25), " } }".repeat(25));
        let r = s.gql(&t["wanda"], &deep, json!({})).await;
        assert!(r["errors"][0]["message"].as_str().unwrap().to_lowercase().contains("depth"), "{db}: {r}");
        // Page sizes outside 1..100.
        assert_eq!(
            s.error_code(&t["wanda"], "{ tasks(first: 1000) { totalCount } }", json!({})).await,
            "BAD_USER_INPUT",
            "{db}"
        );
        // Unknown ids.
        assert_eq!(
            s.error_code(
                &t["wanda"],
                "mutation { claimTask(input: {taskId: \"nonsense\"}) { task { id } } }",
                json!({})
            )
            .await,
            "NOT_FOUND",
            "{db}"
        );
        // Invalid form output: userErrors naming the fields, nothing changed.
        let before =
            s.ok(&t["lena"], "query($id: ID!) { instance(id: $id) { events { seq } } }", json!({"id": id})).await;
        let r = s
            .ok(&t["wanda"], "mutation($t: ID!) { completeTask(input: {taskId: $t, output: {words: 0, txt: \"typo\"}}) { task { id } userErrors { field message code } } }", json!({"t": draft}))
            .await;
        let fields: Vec<Value> =
            r["completeTask"]["userErrors"].as_array().unwrap().iter().map(|e| e["field"].clone()).collect();
        assert_eq!(
            fields,
            [json!(["output", "txt"]), json!(["output", "text"]), json!(["output", "words"])],
            "{db}: {r}"
        );
        assert_eq!(r["completeTask"]["task"], Value::Null);
        let after =
            s.ok(&t["lena"], "query($id: ID!) { instance(id: $id) { events { seq } } }", json!({"id": id})).await;
        assert_eq!(before, after, "{db}: nothing changed");
        // Broken YAML in a deploy: userErrors with line and column.
        let r = s.ok(&s.admin, "mutation($src: String!) { deployWorkflow(input: {source: $src}) { created userErrors { code line column message } } }", json!({"src": "workflow: x-y\nname: n\nroles: {a: b}\nsteps:\n  s: {role: a, afer: [q]}\n"})).await;
        let e = &r["deployWorkflow"]["userErrors"][0];
        assert_eq!((e["code"].as_str(), e["line"].as_i64()), (Some("E002"), Some(5)), "{db}: {r}");
    }
}

#[tokio::test]
async fn schedules_over_the_api() {
    for db in databases() {
        let s = Server::start(db);
        let t = setup(&s).await;
        let now = s.ok(&s.admin, "{ serverTime }", json!({})).await["serverTime"].as_str().unwrap().to_string();
        let create = r#"mutation($cron: String!) { createSchedule(input: {workflow: "api-review", workspace: "alpha", cron: $cron, timezone: "Europe/Berlin", missed: ALL, overlap: ALLOW}) {
            schedule { id cron timezone paused nextFireAt missed overlap workflow { key version } workspace { key } } userErrors { code message } } }"#;
        // Members may not; a bad cron is a userError.
        assert_eq!(s.error_code(&t["wanda"], create, json!({"cron": "0 * * * *"})).await, "FORBIDDEN", "{db}");
        let bad = s.ok(&t["lena"], create, json!({"cron": "0 25 * * *"})).await;
        assert_eq!(bad["createSchedule"]["userErrors"][0]["code"], "E020", "{db}: {bad}");
        // Hourly: the next fire is within the hour.
        let made = s.ok(&t["lena"], create, json!({"cron": "0 * * * *"})).await["createSchedule"]["schedule"].clone();
        let id = made["id"].as_str().unwrap().to_string();
        assert_eq!(
            (made["missed"].as_str(), made["overlap"].as_str(), made["workflow"]["version"].as_i64()),
            (Some("ALL"), Some("ALLOW"), Some(1)),
            "{db}"
        );
        let next = made["nextFireAt"].as_str().unwrap().to_string();
        assert!(next > now, "{db}: {next} after {now}");
        // Up to two hours after the first fire: three runs, listed with their
        // fire times (counted from the first fire, not from now: started in
        // the first minute of an hour, now + 179 min ends before the third).
        let later =
            (chrono::DateTime::parse_from_rfc3339(&next).unwrap() + chrono::Duration::minutes(120)).to_rfc3339();
        s.ok(&s.admin, "mutation($to: DateTime!) { advanceClock(input: {to: $to}) { fired } }", json!({"to": later}))
            .await;
        let listed = s
            .ok(&t["wanda"], r#"{ schedules(workspace: "alpha") { id runs lastFires { scheduledFor startedAt skipped instance { status } } } }"#, json!({}))
            .await;
        let fires = listed["schedules"][0]["lastFires"].as_array().unwrap().clone();
        assert_eq!(fires.len(), 3, "{db}: {listed}");
        assert!(fires.iter().all(|f| f["skipped"] == false && f["instance"]["status"] == "RUNNING"), "{db}: {fires:?}");
        assert_eq!(listed["schedules"][0]["runs"], 3, "{db}");
        // Beta's members see none of alpha's schedules.
        let theirs = s.ok(&t["bert"], "{ schedules { id } }", json!({})).await;
        assert_eq!(theirs["schedules"], json!([]), "{db}");
        // Pause, resume, update, delete.
        let paused = s
            .ok(
                &t["lena"],
                "mutation($id: ID!) { pauseSchedule(input: {scheduleId: $id}) { schedule { paused } } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(paused["pauseSchedule"]["schedule"]["paused"], true, "{db}");
        let updated = s
            .ok(&t["lena"], "mutation($id: ID!) { updateSchedule(input: {scheduleId: $id, cron: \"30 9 * * 1-5\", missed: NONE}) { schedule { cron missed paused } userErrors { message } } }", json!({"id": id}))
            .await;
        assert_eq!(
            updated["updateSchedule"]["schedule"],
            json!({"cron": "30 9 * * 1-5", "missed": "NONE", "paused": true}),
            "{db}"
        );
        s.ok(
            &t["lena"],
            "mutation($id: ID!) { resumeSchedule(input: {scheduleId: $id}) { schedule { paused } } }",
            json!({"id": id}),
        )
        .await;
        s.ok(
            &t["lena"],
            "mutation($id: ID!) { deleteSchedule(input: {scheduleId: $id}) { schedule { id } } }",
            json!({"id": id}),
        )
        .await;
        assert_eq!(s.ok(&t["lena"], "{ schedules { id } }", json!({})).await["schedules"], json!([]), "{db}");
        assert_eq!(
            s.error_code(
                &t["lena"],
                "mutation($id: ID!) { pauseSchedule(input: {scheduleId: $id}) { schedule { id } } }",
                json!({"id": id})
            )
            .await,
            "NOT_FOUND",
            "{db}"
        );
    }
}

/// The `mine` inbox: tasks claimed by me or open for one of my roles, in
/// the task list's one order across pages, counted on every page; nothing
/// claimed by someone else, open for a role I lack, or in a workspace I am
/// not in. (On PostgreSQL each of these branches is its own query, merged.)
#[tokio::test]
async fn the_mine_inbox_pages_claimed_and_open_work_in_one_order() {
    const CLAIM: &str = "mutation($t: ID!) { claimTask(input: {taskId: $t}) { userErrors { message } } }";
    const COMPLETE: &str =
        "mutation($t: ID!) { completeTask(input: {taskId: $t, output: {text: \"done\"}}) { userErrors { message } } }";
    const PAGE: &str = "query($after: String) { tasks(filter: {mine: true}, first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id } } }";
    for db in databases() {
        let s = Server::start(db);
        let t = setup(&s).await;
        let mut drafts = Vec::new();
        for _ in 0..6 {
            drafts.push(start(&s, &t["lena"], "alpha").await.1);
        }
        start(&s, &t["bob"], "beta").await;
        for d in &drafts[..2] {
            s.ok(&t["wanda"], CLAIM, json!({"t": d})).await;
            s.ok(&t["wanda"], COMPLETE, json!({"t": d})).await;
        }
        s.ok(&t["wanda"], CLAIM, json!({"t": drafts[2]})).await;
        s.ok(&t["mixed"], CLAIM, json!({"t": drafts[3]})).await;

        // What `mixed` (writer and editor in alpha) should see, in the task
        // list's order: everything of alpha open, or claimed by them.
        let all = s
            .ok(
                &t["lena"],
                r#"{ tasks(filter: {workspace: "alpha", status: [OPEN, CLAIMED]}, first: 50) { nodes { id status assignee { login } } } }"#,
                json!({}),
            )
            .await;
        let expected: Vec<String> = all["tasks"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["status"] == "OPEN" || n["assignee"]["login"] == "mixed")
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(expected.len(), 5, "{db}: 2 open drafts, 1 claimed by mixed, 2 open reviews: {all}");

        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let p = s.ok(&t["mixed"], PAGE, json!({"after": after})).await;
            assert_eq!(p["tasks"]["totalCount"], 5, "{db}: {p}");
            seen.extend(p["tasks"]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()));
            if p["tasks"]["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = p["tasks"]["pageInfo"]["endCursor"].clone();
            assert!(seen.len() < 10, "{db}: the pages do not end");
        }
        assert_eq!(seen, expected, "{db}: the same tasks in the same order, page by page");

        // An editor alone sees the two reviews; a member of beta alone, beta's draft.
        let eddie = s.ok(&t["eddie"], "{ tasks(filter: {mine: true}, first: 50) { totalCount } }", json!({})).await;
        assert_eq!(eddie["tasks"]["totalCount"], 2, "{db}: {eddie}");
        let bert = s.ok(&t["bert"], "{ tasks(filter: {mine: true}, first: 50) { totalCount } }", json!({})).await;
        assert_eq!(bert["tasks"]["totalCount"], 1, "{db}: {bert}");
    }
}

/// Defaults inside list items are filled (a blogger left unmarked is
/// recommended by default), so a `for_each` over them sees every item.
#[tokio::test]
async fn defaults_inside_list_items_drive_a_for_each() {
    const FLOW: &str = r#"workflow: blogger-shortlist
name: Influencer shortlist
roles: {manager: Shortlists bloggers, writer: Writes briefs}
steps:
  shortlist:
    role: manager
    form:
      bloggers:
        type: list
        min_items: 1
        items:
          type: object
          fields:
            name: {type: string, required: true}
            recommended: {type: boolean, default: true}
  brief:
    role: writer
    after: [shortlist]
    title: "Brief for {{ item.name }}"
    for_each: "steps.shortlist.output.bloggers | selectattr('recommended') | list"
"#;
    for db in databases() {
        let s = Server::start(db);
        s.deploy(FLOW).await;
        let t = s.team("infl", &[("mia", "lead"), ("mia", "manager"), ("wanda", "writer")]).await;
        let started = s
            .ok(&t["mia"], "mutation { startInstance(input: {workflow: \"blogger-shortlist\", workspace: \"infl\"}) { instance { id tasks { id } } } }", json!({}))
            .await;
        let inst = &started["startInstance"]["instance"];
        let bloggers = json!([{"name": "anna"}, {"name": "boris", "recommended": false}, {"name": "vera"}]);
        let done = s
            .ok(&t["mia"], "mutation($t: ID!, $o: JSON!) { completeTask(input: {taskId: $t, output: $o}) { task { output } userErrors { message } } }", json!({"t": inst["tasks"][0]["id"], "o": {"bloggers": bloggers}}))
            .await;
        assert_eq!(done["completeTask"]["userErrors"], json!([]), "{db}: {done}");
        assert_eq!(
            done["completeTask"]["task"]["output"]["bloggers"],
            json!([{"name": "anna", "recommended": true}, {"name": "boris", "recommended": false}, {"name": "vera", "recommended": true}]),
            "{db}"
        );
        let i = s
            .ok(
                &t["mia"],
                "query($id: ID!) { instance(id: $id) { tasks { title status step { id } } } }",
                json!({"id": inst["id"]}),
            )
            .await;
        let mut briefs: Vec<String> = i["instance"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["step"]["id"] == "brief")
            .map(|t| t["title"].as_str().unwrap().to_string())
            .collect();
        briefs.sort();
        assert_eq!(briefs, ["Brief for anna", "Brief for vera"], "{db}: {i}");
    }
}

/// The root types, as client generators name them from introspection.
#[tokio::test]
async fn the_root_types_are_query_mutation_and_subscription() {
    let s = Server::start("sqlite");
    let r = s
        .ok(&s.admin, "{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }", json!({}))
        .await;
    assert_eq!(
        r["__schema"],
        json!({"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}, "subscriptionType": {"name": "Subscription"}})
    );
}

/// Booleans in titles read as in the YAML they came from.
#[tokio::test]
async fn booleans_in_titles_read_true_and_false() {
    const FLOW: &str = r#"workflow: boosted-post
name: A boosted post
roles: {writer: Writes}
inputs:
  boosted: {type: boolean, default: true}
steps:
  draft:
    role: writer
    title: "Post (boosted: {{ inputs.boosted }}, paused: {{ not inputs.boosted }})"
"#;
    let s = Server::start("sqlite");
    s.deploy(FLOW).await;
    let t = s.team("bool", &[("lena", "lead"), ("wanda", "writer")]).await;
    let r = s
        .ok(&t["lena"], "mutation { startInstance(input: {workflow: \"boosted-post\", workspace: \"bool\"}) { instance { tasks { title } } } }", json!({}))
        .await;
    assert_eq!(r["startInstance"]["instance"]["tasks"][0]["title"], "Post (boosted: true, paused: false)", "{r}");
}

/// An instance's diagram marks its steps by status on the diagram's own
/// node ids, and renders (a step named `end` included).
#[tokio::test]
async fn an_instance_diagram_marks_its_steps_on_their_nodes() {
    const FLOW: &str = r#"workflow: two-steps
name: Two steps
roles: {writer: Writes}
steps:
  end: {role: writer}
  style: {role: writer, after: [end]}
"#;
    let s = Server::start("sqlite");
    s.deploy(FLOW).await;
    let t = s.team("dia", &[("lena", "lead"), ("wanda", "writer")]).await;
    let r = s
        .ok(
            &t["lena"],
            "mutation { startInstance(input: {workflow: \"two-steps\", workspace: \"dia\"}) { instance { id } } }",
            json!({}),
        )
        .await;
    let id = r["startInstance"]["instance"]["id"].clone();
    let m = s.ok(&t["lena"], "query($id: ID!) { instance(id: $id) { mermaid } }", json!({"id": id})).await;
    let text = m["instance"]["mermaid"].as_str().unwrap();
    assert!(text.contains("  class s_end ready\n"), "{text}");
    assert!(text.contains("  s_end --> s_style\n") && text.contains("  s_style --> wf_end\n"), "{text}");
}

/// Client authors read the schema by introspection: every type, field,
/// input field and enum value says what it is.
#[tokio::test]
async fn introspection_describes_every_type_and_field() {
    let s = Server::start("sqlite");
    let q = "{ __schema { types { name description fields { name description } inputFields { name description } enumValues { name description } } } }";
    let r = s.ok(&s.admin, q, json!({})).await;
    let builtin = ["String", "Int", "Float", "Boolean", "ID"];
    let mut missing = Vec::new();
    let mut counted = 0;
    for t in r["__schema"]["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        if name.starts_with("__") || builtin.contains(&name) {
            continue;
        }
        counted += 1;
        if t["description"].as_str().is_none_or(|d| d.trim().is_empty() || d.starts_with("Implement")) {
            missing.push(name.to_string());
        }
        for list in ["fields", "inputFields", "enumValues"] {
            for f in t[list].as_array().into_iter().flatten() {
                if f["description"].as_str().is_none_or(|d| d.trim().is_empty()) {
                    missing.push(format!("{name}.{}", f["name"].as_str().unwrap()));
                }
            }
        }
    }
    assert!(counted > 80, "{counted} types");
    assert!(missing.is_empty(), "without a description: {missing:?}");
}

/// Item 11 of the review: values the schema types instead of strings; a
/// schedule's window as instants in its timezone; a schedule is a `Node`.
#[tokio::test]
async fn typed_values_and_schedules_as_nodes() {
    let s = Server::start("sqlite");
    let t = s.team("acme", &[("lena", "lead"), ("wanda", "writer")]).await;
    let outsider = s.team("other", &[("oscar", "lead")]).await;
    s.deploy(
        r#"workflow: typed
name: Typed
roles: {writer: Writes, lead: Leads}
steps:
  draft: {role: writer, priority: high}
  check: {type: approval, role: lead, after: draft}
schedules:
  - cron: "0 10 * * 1"
    timezone: Europe/Moscow
    workspace: acme
    starts: 2027-01-04
    ends: 2027-06-30
"#,
    )
    .await;
    let r = s.ok(&t["lena"], START, json!({"wf": "typed", "ws": "acme", "in": {}})).await;
    let id = r["startInstance"]["instance"]["id"].as_str().unwrap().to_string();
    let q = "query($i: ID!) { instance(id: $i) { steps { id type } tasks { priority status createdAt step { type } } } workflow(key: \"typed\") { steps { id type } } }";
    let r = s.ok(&t["wanda"], q, json!({"i": id})).await;
    assert_eq!(r["instance"]["steps"], json!([{"id": "draft", "type": "TASK"}, {"id": "check", "type": "APPROVAL"}]));
    assert_eq!(r["workflow"]["steps"], r["instance"]["steps"]);
    let task = &r["instance"]["tasks"][0];
    assert_eq!(
        (&task["priority"], &task["status"], &task["step"]["type"]),
        (&json!("HIGH"), &json!("OPEN"), &json!("TASK"))
    );
    assert!(chrono::DateTime::parse_from_rfc3339(task["createdAt"].as_str().unwrap()).is_ok(), "{task}");

    let r = s.ok(&t["lena"], "{ schedules { id starts ends } }", json!({})).await;
    let sched = &r["schedules"][0];
    // Whole days in Moscow (UTC+3): from Monday's midnight to the last second of 30 June.
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().to_utc().to_rfc3339();
    assert_eq!(
        (at(&sched["starts"]), at(&sched["ends"])),
        ("2027-01-03T21:00:00+00:00".into(), "2027-06-30T20:59:59+00:00".into())
    );
    let sid = sched["id"].as_str().unwrap();
    let node = "query($id: ID!) { node(id: $id) { id __typename ... on Schedule { cron workspace { key } } } }";
    let r = s.ok(&t["wanda"], node, json!({"id": sid})).await;
    assert_eq!(r["node"]["__typename"], "Schedule");
    assert_eq!((&r["node"]["id"], &r["node"]["cron"]), (&json!(sid), &json!("0 10 * * 1")));
    // Another client's lead finds nothing under that id.
    assert_eq!(s.error_code(&outsider["oscar"], node, json!({"id": sid})).await, "NOT_FOUND");
}

/// Item 12: e-mail addresses and notification modes are seen by the user,
/// admins, and leads of a workspace the user is in; not by other members.
#[tokio::test]
async fn only_leads_see_the_team_s_addresses() {
    let s = Server::start("sqlite");
    let t = s.team("acme", &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
    s.team("other", &[("oscar", "lead"), ("wanda", "writer")]).await;
    let q = r#"{ workspace(key: "acme") { memberships { user { login email notificationMode } } } }"#;
    let contacts = |r: &Value| -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = r["workspace"]["memberships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let u = &m["user"];
                assert_eq!(u["email"].is_null(), u["notificationMode"].is_null(), "{u}");
                (u["login"].as_str().unwrap().to_string(), u["email"].is_string())
            })
            .collect();
        v.sort();
        v
    };
    let all = vec![("lena".to_string(), true), ("olga".to_string(), true), ("wanda".to_string(), true)];
    assert_eq!(contacts(&s.ok(&s.admin, q, json!({})).await), all);
    assert_eq!(contacts(&s.ok(&t["lena"], q, json!({})).await), all);
    // The client's person sees who works on the account, and only their own address.
    let olga = contacts(&s.ok(&t["olga"], q, json!({})).await);
    assert_eq!(olga, [("lena".to_string(), false), ("olga".to_string(), true), ("wanda".to_string(), false)]);
    let wanda = contacts(&s.ok(&t["wanda"], q, json!({})).await);
    assert_eq!(wanda, [("lena".to_string(), false), ("olga".to_string(), false), ("wanda".to_string(), true)]);
    // The lead of another workspace that shares wanda sees wanda's address there, not acme's people.
    let other = r#"{ workspace(key: "other") { memberships { user { login email } } } }"#;
    let r =
        s.ok(&s.admin, "mutation { createApiToken(input: {user: \"oscar\", name: \"x\"}) { token } }", json!({})).await;
    let oscar = r["createApiToken"]["token"].as_str().unwrap();
    let r = s.ok(oscar, other, json!({})).await;
    let w = r["workspace"]["memberships"].as_array().unwrap().iter().find(|m| m["user"]["login"] == "wanda").unwrap();
    assert_eq!(w["user"]["email"], "wanda@agency.example");
    assert_eq!(s.ok(oscar, q, json!({})).await["workspace"], Value::Null, "not a member of acme");
}
