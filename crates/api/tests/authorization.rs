//! The authorization matrix, as a table: every query, mutation and
//! subscription of the schema, run in-process (`schema.execute`) by five
//! people, and what each may do. A test fails when the schema gains an
//! operation the table does not list.
//!
//! The people: nobody (no token), an outsider (the lead of another client's
//! workspace), a member (a writer in `alpha`), the lead of `alpha`, and an
//! admin. Each cell is what happened:
//! - `U`: UNAUTHENTICATED;
//! - `F`: FORBIDDEN (the API's check, or the engine's role rules);
//! - `H`: hidden: NOT_FOUND, or a null or empty answer where the others see data;
//! - `C`: allowed, but the state says no (CONFLICT, TASK_ALREADY_COMPLETED:
//!   someone before in the row did it already);
//! - `A`: allowed (done, or refused for bad input).
//!
//! The five run each row in that order, on one shared state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use smmflow_api::{AppSchema, SchemaOptions, Session};
use smmflow_runtime::admin::NewUser;
use smmflow_runtime::{ManualClock, Options, Runtime, StartRequest};

const FLOW: &str = r#"
workflow: matrix-flow
name: Matrix flow
roles: {writer: Writes, editor: Edits, lead: Leads}
steps:
  draft:
    role: writer
    form:
      text: {type: text, required: true}
  review:
    type: approval
    role: editor
    after: [draft]
    on_reject: {goto: draft}
"#;

const POST: &str = r#"
workflow: matrix-post
name: Matrix post
roles: {writer: Writes}
inputs:
  at: {type: datetime, required: true}
publication: {at: "{{ inputs.at }}", channel: vk, title: matrix}
steps:
  write: {role: writer}
"#;

const PEOPLE: [&str; 5] = ["nobody", "outsider", "member", "lead", "admin"];

struct World {
    rt: Arc<Runtime>,
    schema: AppSchema,
    sessions: Vec<Session>,
    instance: String,
    draft: String,
    schedule: String,
    token_of_member: String,
    feed_of_member: String,
    notification: String,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    let (rt, _) = Runtime::open(Options {
        database_url: format!("sqlite://{}/m.db", dir.path().display()),
        workflows: None,
        clock: Arc::new(clock.clone()),
        node: "matrix".into(),
    })
    .await
    .unwrap();
    let op = rt.operator();
    let admin = op.admin().unwrap();
    admin.create_workspace("alpha", "Alpha").await.unwrap();
    admin.create_workspace("beta", "Beta").await.unwrap();
    for (login, ws, role) in
        [("bob", "beta", "lead"), ("wanda", "alpha", "writer"), ("lena", "alpha", "lead"), ("eddie", "alpha", "editor")]
    {
        let user =
            NewUser { login: login.into(), email: format!("{login}@agency.example"), name: None, is_admin: false };
        admin.create_user(user).await.unwrap();
        admin.add_member(ws, login, role).await.unwrap();
    }
    let boss = NewUser { login: "boss".into(), email: "boss@agency.example".into(), name: None, is_admin: true };
    admin.create_user(boss).await.unwrap();
    let signed = op.signed_in().unwrap();
    let mut tokens = Vec::new();
    for login in ["bob", "wanda", "lena", "boss"] {
        tokens.push(signed.create_token(login, "matrix").await.unwrap());
    }
    rt.system().deploy(FLOW, smmflow_runtime::Deployer::System).await.unwrap();
    rt.system().deploy(POST, smmflow_runtime::Deployer::System).await.unwrap();
    let at = (rt.now() + chrono::Duration::days(3)).to_rfc3339();
    rt.system()
        .start(StartRequest {
            workflow: "matrix-post".into(),
            workspace: "alpha".into(),
            inputs: json!({"at": at}),
            actor: "lena".into(),
            idempotency_key: None,
        })
        .await
        .unwrap();
    let inst = rt
        .system()
        .start(StartRequest {
            workflow: "matrix-flow".into(),
            workspace: "alpha".into(),
            inputs: json!({}),
            actor: "lena".into(),
            idempotency_key: None,
        })
        .await
        .unwrap();
    let mut sessions = vec![rt.sign_in(None).await.unwrap()];
    for t in &tokens {
        sessions.push(rt.sign_in(Some(&format!("Bearer {t}"))).await.unwrap());
    }
    let schema = smmflow_api::schema(
        rt.clone(),
        SchemaOptions {
            introspection: true,
            budgets: None,
            manual_clock: Some(clock.clone()),
            public_url: "http://smmflow.test".into(),
        },
    );
    let instance = smmflow_api::ids::NodeId::Instance(inst.id).encode();
    let draft = smmflow_api::ids::NodeId::Task(inst.id, inst.tasks[0].no).encode();
    let mut w = World {
        rt,
        schema,
        sessions,
        instance,
        draft,
        schedule: String::new(),
        token_of_member: String::new(),
        feed_of_member: String::new(),
        notification: String::new(),
        _dir: dir,
    };
    let r = w
        .run(4, r#"mutation { createSchedule(input: {workflow: "matrix-flow", workspace: "alpha", cron: "0 9 * * 1"}) { schedule { id } } }"#, json!({}))
        .await;
    w.schedule = r["data"]["createSchedule"]["schedule"]["id"].as_str().unwrap().to_string();
    // A second token of the member's, for the revocation row.
    w.run(2, r#"mutation { createApiToken(input: {user: "wanda", name: "spare"}) { token } }"#, json!({})).await;
    let r = w.run(2, "{ viewer { apiTokens { id name } } }", json!({})).await;
    let spare = r["data"]["viewer"]["apiTokens"].as_array().unwrap().iter().find(|t| t["name"] == "spare").cloned();
    w.token_of_member = spare.unwrap()["id"].as_str().unwrap().to_string();
    let r = w.run(2, r#"mutation { createCalendarFeed(input: {name: "spare"}) { feed { id } } }"#, json!({})).await;
    w.feed_of_member = r["data"]["createCalendarFeed"]["feed"]["id"].as_str().unwrap().to_string();
    w.notification = "Tm90aWZpY2F0aW9uOm5vbmU".into();
    w
}

impl World {
    async fn run(&self, who: usize, query: &str, vars: Value) -> Value {
        let req = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(vars))
            .data(self.sessions[who].clone());
        let (users, workspaces) = smmflow_api::loaders::for_request(&self.sessions[who]);
        let resp = self.schema.execute(req.data(users).data(workspaces)).await;
        serde_json::to_value(&resp).unwrap()
    }

    /// The first item of a subscription, or None when it waits quietly.
    async fn subscribe(&self, who: usize, query: &str, vars: Value) -> Option<Value> {
        let req = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(vars))
            .data(self.sessions[who].clone());
        let (users, workspaces) = smmflow_api::loaders::for_request(&self.sessions[who]);
        let mut stream = self.schema.execute_stream(req.data(users).data(workspaces));
        let first = tokio::time::timeout(Duration::from_millis(300), stream.next()).await.ok()??;
        Some(serde_json::to_value(&first).unwrap())
    }
}

/// What happened, as one letter (see the module's header).
fn classify(r: &Value, saw: Option<&str>) -> char {
    if let Some(code) = r["errors"][0]["extensions"]["code"].as_str() {
        return match code {
            "UNAUTHENTICATED" => 'U',
            "FORBIDDEN" => 'F',
            "NOT_FOUND" => 'H',
            "CONFLICT" | "TASK_ALREADY_COMPLETED" => 'C',
            _ => 'A',
        };
    }
    match saw.map(|p| r["data"].pointer(p).cloned().unwrap_or(Value::Null)) {
        Some(Value::Null) => 'H',
        Some(Value::Array(a)) if a.is_empty() => 'H',
        Some(Value::Number(n)) if n.as_u64() == Some(0) => 'H',
        _ => 'A',
    }
}

struct Row {
    /// The schema field it exercises.
    field: &'static str,
    query: &'static str,
    /// Where the data shows whether the person saw it (JSON pointer into `data`).
    saw: Option<&'static str>,
    /// For nobody, outsider, member, lead, admin.
    expect: &'static str,
}

const fn row(field: &'static str, query: &'static str, saw: Option<&'static str>, expect: &'static str) -> Row {
    Row { field, query, saw, expect }
}

/// `$i` is the alpha instance, `$t` its draft task, `$r` its review (only
/// editors decide it: none of the five is one), `$s` alpha's schedule,
/// `$k` a token of the member's (not the one they use), `$f` a calendar feed
/// of the member's, `$n` a notification
/// id that does not exist (so the admin's retry is `H`), `$to` two days on.
/// A release of an open task is no change, so allowed to anyone who sees it.
const ROWS: &[Row] = &[
    row("viewer", "{ viewer { login } }", None, "UAAAA"),
    row("serverTime", "{ serverTime }", None, "UAAAA"),
    row("workspaces", "{ workspaces { key } }", None, "UAAAA"),
    row("workspace", r#"{ workspace(key: "alpha") { key } }"#, Some("/workspace"), "UHAAA"),
    row("workflows", "{ workflows { key } }", None, "UAAAA"),
    row("workflow", r#"{ workflow(key: "matrix-flow") { key } }"#, None, "UAAAA"),
    row(
        "instances",
        r#"{ instances(filter: {workspace: "alpha"}) { totalCount } }"#,
        Some("/instances/totalCount"),
        "UHAAA",
    ),
    row("instance", "query($i: ID!) { instance(id: $i) { id } }", Some("/instance"), "UHAAA"),
    row("tasks", "query($i: ID!) { tasks(filter: {instance: $i}) { totalCount } }", Some("/tasks/totalCount"), "UHAAA"),
    row("task", "query($t: ID!) { task(id: $t) { id } }", Some("/task"), "UHAAA"),
    row("schedules", r#"{ schedules(workspace: "alpha") { id } }"#, Some("/schedules"), "UHAAA"),
    row("notifications", "{ notifications { totalCount } }", None, "UFFFA"),
    row(
        "publications",
        r#"{ publications(filter: {from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z", workspace: "alpha"}) { totalCount } }"#,
        Some("/publications/totalCount"),
        "UHAAA",
    ),
    row(
        "analytics",
        r#"{ analytics(filter: {from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z", workspace: "alpha"}) { load { open } } }"#,
        Some("/analytics/load"),
        "UHAAA",
    ),
    row("forecast", "query($i: ID!) { forecast(instanceId: $i) { expectedCompletion } }", Some("/forecast"), "UHAAA"),
    row("node", "query($i: ID!) { node(id: $i) { id } }", Some("/node"), "UHAAA"),
    row(
        "deployWorkflow",
        r#"mutation { deployWorkflow(input: {source: "workflow: x-y\nname: X\nroles: {a: A}\nsteps:\n  s: {role: a}\n"}) { created } }"#,
        None,
        "UFFFA",
    ),
    row(
        "startInstance",
        r#"mutation { startInstance(input: {workflow: "matrix-flow", workspace: "alpha"}) { instance { id } } }"#,
        None,
        "UFFAA",
    ),
    row("claimTask", "mutation($t: ID!) { claimTask(input: {taskId: $t}) { task { id } } }", None, "UFACC"),
    row("releaseTask", "mutation($t: ID!) { releaseTask(input: {taskId: $t}) { task { id } } }", None, "UFAAA"),
    row(
        "commentOnTask",
        r#"mutation($t: ID!) { commentOnTask(input: {taskId: $t, body: "hi"}) { task { id } } }"#,
        None,
        "UFAAA",
    ),
    row(
        "reassignTask",
        r#"mutation($t: ID!) { reassignTask(input: {taskId: $t, user: "wanda"}) { task { id } } }"#,
        None,
        "UFFAA",
    ),
    row(
        "completeTask",
        r#"mutation($t: ID!) { completeTask(input: {taskId: $t, output: {text: "v1"}}) { task { id } } }"#,
        None,
        "UFACC",
    ),
    row("approveTask", "mutation($r: ID!) { approveTask(input: {taskId: $r}) { task { id } } }", None, "UFFFF"),
    row(
        "rejectTask",
        r#"mutation($r: ID!) { rejectTask(input: {taskId: $r, comment: "no"}) { task { id } } }"#,
        None,
        "UFFFF",
    ),
    row(
        "retryStep",
        r#"mutation($i: ID!) { retryStep(input: {instanceId: $i, step: "draft"}) { instance { id } } }"#,
        None,
        "UFFCC",
    ),
    row(
        "suspendInstance",
        "mutation($i: ID!) { suspendInstance(input: {instanceId: $i}) { instance { id } } }",
        None,
        "UFFAC",
    ),
    row(
        "resumeInstance",
        "mutation($i: ID!) { resumeInstance(input: {instanceId: $i}) { instance { id } } }",
        None,
        "UFFAC",
    ),
    row(
        "cancelInstance",
        r#"mutation($i: ID!) { cancelInstance(input: {instanceId: $i, reason: "r"}) { instance { id } } }"#,
        None,
        "UFFAC",
    ),
    row(
        "createWorkspace",
        r#"mutation { createWorkspace(input: {key: "gamma", name: "G"}) { workspace { key } } }"#,
        None,
        "UFFFA",
    ),
    row(
        "updateWorkspace",
        r#"mutation { updateWorkspace(input: {workspace: "alpha", name: "Alpha"}) { workspace { key } } }"#,
        None,
        "UHFAA",
    ),
    row(
        "createCalendarFeed",
        r#"mutation { createCalendarFeed(input: {name: "mine", workspace: "alpha"}) { feed { id } } }"#,
        Some("/createCalendarFeed/feed"),
        "UHAAA",
    ),
    row(
        "revokeCalendarFeed",
        "mutation($f: ID!) { revokeCalendarFeed(input: {feedId: $f}) { feed { id } } }",
        Some("/revokeCalendarFeed/feed"),
        "UHAHH",
    ),
    row(
        "createUser",
        r#"mutation { createUser(input: {login: "newbie", email: "n@agency.example"}) { user { login } } }"#,
        None,
        "UFFFA",
    ),
    row(
        "updateUser",
        r#"mutation { updateUser(input: {user: "wanda", canDeployWorkflows: false}) { user { login } } }"#,
        None,
        "UFFFA",
    ),
    row(
        "addMember",
        r#"mutation { addMember(input: {workspace: "alpha", user: "eddie", role: "writer"}) { membership { role } } }"#,
        None,
        "UFFAA",
    ),
    row(
        "removeMember",
        r#"mutation { removeMember(input: {workspace: "alpha", user: "eddie", role: "writer"}) { membership { role } } }"#,
        None,
        "UFFAA",
    ),
    row("createApiToken", r#"mutation { createApiToken(input: {user: "wanda", name: "x"}) { token } }"#, None, "UFAFA"),
    row(
        "revokeApiToken",
        "mutation($k: ID!) { revokeApiToken(input: {tokenId: $k}) { token { id } } }",
        Some("/revokeApiToken/token"),
        "UHAHH",
    ),
    row(
        "createSchedule",
        r#"mutation { createSchedule(input: {workflow: "matrix-flow", workspace: "alpha", cron: "0 9 * * 2"}) { schedule { id } } }"#,
        None,
        "UFFAA",
    ),
    row(
        "updateSchedule",
        r#"mutation($s: ID!) { updateSchedule(input: {scheduleId: $s, cron: "0 10 * * 1"}) { schedule { id } } }"#,
        None,
        "UFFAA",
    ),
    row(
        "pauseSchedule",
        "mutation($s: ID!) { pauseSchedule(input: {scheduleId: $s}) { schedule { id } } }",
        None,
        "UFFAA",
    ),
    row(
        "resumeSchedule",
        "mutation($s: ID!) { resumeSchedule(input: {scheduleId: $s}) { schedule { id } } }",
        None,
        "UFFAA",
    ),
    row(
        "deleteSchedule",
        "mutation($s: ID!) { deleteSchedule(input: {scheduleId: $s}) { schedule { id } } }",
        None,
        "UFFAH",
    ),
    row("advanceClock", r#"mutation($to: DateTime!) { advanceClock(input: {to: $to}) { fired } }"#, None, "UFFFA"),
    // Anyone may ask: the answer is the same for every address.
    row(
        "requestSignInLink",
        r#"mutation { requestSignInLink(input: {email: "someone@agency.example"}) { sent } }"#,
        None,
        "AAAAA",
    ),
    row(
        "updateNotificationPreferences",
        "mutation { updateNotificationPreferences(input: {mode: DAILY}) { user { login } } }",
        None,
        "UAAAA",
    ),
    row(
        "retryNotification",
        "mutation($n: ID!) { retryNotification(input: {notificationId: $n}) { notification { id } } }",
        None,
        "UFFFH",
    ),
    row("taskEvents", r#"subscription { taskEvents(workspace: "alpha") { kind } }"#, None, "UFAAA"),
    row("instanceEvents", "subscription($i: ID!) { instanceEvents(instanceId: $i) { seq } }", None, "UHAAA"),
];

/// The review's task (number 2: made when the draft is completed).
fn review_task(w: &World) -> String {
    let (instance, _) = smmflow_api::ids::NodeId::task(&async_graphql::ID(w.draft.clone())).unwrap();
    smmflow_api::ids::NodeId::Task(instance, 2).encode()
}

#[tokio::test]
async fn every_operation_for_every_kind_of_person() {
    let w = world().await;
    let to = (w.rt.now() + chrono::Duration::days(2)).to_rfc3339();
    let vars = json!({"i": w.instance, "t": w.draft, "r": review_task(&w), "s": w.schedule, "k": w.token_of_member, "f": w.feed_of_member, "n": w.notification, "to": to});
    let mut wrong = Vec::new();
    for r in ROWS {
        let mut got = String::new();
        for who in 0..PEOPLE.len() {
            let c = if r.query.starts_with("subscription") {
                match w.subscribe(who, r.query, vars.clone()).await {
                    Some(v) => classify(&v, r.saw),
                    None => 'A',
                }
            } else {
                classify(&w.run(who, r.query, vars.clone()).await, r.saw)
            };
            got.push(c);
        }
        if got != r.expect {
            wrong.push(format!("{:<30} expected {} got {}", r.field, r.expect, got));
        }
    }
    assert!(wrong.is_empty(), "columns: {PEOPLE:?}\n{}", wrong.join("\n"));
}

#[test]
fn the_table_lists_every_operation_of_the_schema() {
    let sdl = smmflow_api::sdl();
    let mut missing = Vec::new();
    for root in ["type Query {", "type Mutation {", "type Subscription {"] {
        let body = sdl.split(root).nth(1).and_then(|b| b.split("\n}").next()).unwrap_or_default();
        let mut in_doc = false;
        for line in body.lines() {
            let line = line.trim();
            if line.starts_with("\"\"\"") {
                // A description: one line (`"""text"""`) or a block.
                if line == "\"\"\"" || !line.ends_with("\"\"\"") || line.len() < 6 {
                    in_doc = !in_doc;
                }
                continue;
            }
            if in_doc || line.is_empty() || line.starts_with('"') {
                continue;
            }
            let name = line.split(['(', ':']).next().unwrap_or_default().trim();
            if !name.is_empty() && !ROWS.iter().any(|r| r.field == name) {
                missing.push(format!("{root} {name}"));
            }
        }
    }
    assert!(missing.is_empty(), "operations without a row in the authorization table: {missing:?}");
}
