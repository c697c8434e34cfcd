//! How resolvers map runtime results to GraphQL, in-process
//! (`schema.execute`): form errors become `userErrors` at the field's path,
//! field errors of directory operations name their input, refusals become
//! top-level errors with the contract's code, and internal details never
//! leak. The cheap checks of the API, without a server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::{Value, json};
use smmflow_api::{AppSchema, SchemaOptions, Session};
use smmflow_runtime::admin::NewUser;
use smmflow_runtime::{ManualClock, Options, Runtime};

const FLOW: &str = r#"
workflow: mapped
name: Mapped
roles: {writer: Writes, lead: Leads}
steps:
  draft:
    role: writer
    form:
      posts:
        type: list
        items:
          type: object
          fields:
            platform: {type: enum, values: [vk, telegram], required: true}
"#;

struct World {
    schema: AppSchema,
    rt: Arc<Runtime>,
    lead: Session,
    writer: Session,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = Runtime::open(Options {
        database_url: format!("sqlite://{}/m.db", dir.path().display()),
        workflows: None,
        clock: Arc::new(ManualClock::new(chrono::Utc::now())),
        node: "mapping".into(),
    })
    .await
    .unwrap();
    let op = rt.operator();
    let admin = op.admin().unwrap();
    admin.create_workspace("alpha", "Alpha").await.unwrap();
    let mut sessions = Vec::new();
    for (login, role) in [("lena", "lead"), ("wanda", "writer")] {
        let u = NewUser { login: login.into(), email: format!("{login}@agency.example"), name: None, is_admin: false };
        admin.create_user(u).await.unwrap();
        admin.add_member("alpha", login, role).await.unwrap();
        let token = op.signed_in().unwrap().create_token(login, "t").await.unwrap();
        sessions.push(rt.sign_in(Some(&token)).await.unwrap());
    }
    rt.system().deploy(FLOW, smmflow_runtime::Deployer::System).await.unwrap();
    let schema = smmflow_api::schema(rt.clone(), SchemaOptions::default());
    let writer = sessions.pop().unwrap();
    let lead = sessions.pop().unwrap();
    World { schema, rt, lead, writer, _dir: dir }
}

impl World {
    async fn run(&self, who: &Session, query: &str, vars: Value) -> Value {
        let (users, workspaces) = smmflow_api::loaders::for_request(who);
        let req = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(vars))
            .data(who.clone())
            .data(users)
            .data(workspaces);
        serde_json::to_value(self.schema.execute(req).await).unwrap()
    }
}

#[tokio::test]
async fn form_errors_are_user_errors_at_the_fields_path() {
    let w = world().await;
    let r = w
        .run(&w.lead, r#"mutation { startInstance(input: {workflow: "mapped", workspace: "alpha"}) { instance { tasks { id } } } }"#, json!({}))
        .await;
    let task = r["data"]["startInstance"]["instance"]["tasks"][0]["id"].as_str().unwrap().to_string();
    let q = "mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { task { status } userErrors { field message code } } }";
    let r =
        w.run(&w.writer, q, json!({"t": task, "o": {"posts": [{"platform": "vk"}, {"platform": "myspace"}]}})).await;
    let e = &r["data"]["completeTask"]["userErrors"][0];
    assert_eq!(e["field"], json!(["output", "posts", "1", "platform"]), "{r}");
    assert_eq!(e["code"], "BAD_USER_INPUT");
    assert!(r["data"]["completeTask"]["task"].is_null());
}

#[tokio::test]
async fn directory_field_errors_name_their_input() {
    let w = world().await;
    let admin = w.rt.operator();
    let q = r#"mutation { createUser(input: {login: "Bad Login", email: "x@agency.example"}) { user { login } userErrors { field code } } }"#;
    let r = w.run(&admin, q, json!({})).await;
    assert_eq!(r["data"]["createUser"]["userErrors"][0]["field"], json!(["login"]), "{r}");
    let q = r#"mutation { createUser(input: {login: "lena", email: "other@agency.example"}) { userErrors { field code } } }"#;
    let r = w.run(&admin, q, json!({})).await;
    assert_eq!(r["data"]["createUser"]["userErrors"][0]["code"], "CONFLICT", "{r}");
    let q = r#"mutation { addMember(input: {workspace: "alpha", user: "nobody", role: "writer"}) { userErrors { field code } } }"#;
    let r = w.run(&w.lead, q, json!({})).await;
    assert_eq!(r["data"]["addMember"]["userErrors"][0], json!({"field": ["user"], "code": "NOT_FOUND"}), "{r}");
}

#[tokio::test]
async fn refusals_carry_the_contracts_codes_and_no_internals() {
    let w = world().await;
    let missing = smmflow_api::ids::NodeId::Instance(uuid::Uuid::nil()).encode();
    let cases = [
        (
            &w.writer,
            r#"mutation { startInstance(input: {workflow: "mapped", workspace: "alpha"}) { instance { id } } }"#,
            "FORBIDDEN",
        ),
        (
            &w.lead,
            r#"mutation($i: ID!) { cancelInstance(input: {instanceId: $i, reason: "x"}) { instance { id } } }"#,
            "NOT_FOUND",
        ),
        (&w.lead, r#"mutation { claimTask(input: {taskId: "junk"}) { task { id } } }"#, "NOT_FOUND"),
    ];
    for (who, q, code) in cases {
        let r = w.run(who, q, json!({"i": missing})).await;
        assert_eq!(r["errors"][0]["extensions"]["code"], code, "{q}: {r}");
        let text = r.to_string();
        assert!(!text.contains("storage") && !text.contains("sqlx") && !text.contains("Error("), "{text}");
    }
    let nobody = w.rt.sign_in(None).await.unwrap();
    let r = w.run(&nobody, "{ viewer { login } }", json!({})).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{r}");
}
