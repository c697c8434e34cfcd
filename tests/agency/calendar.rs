//! The content calendar: publications across clients in time order with
//! their statuses, posting limits at `startInstance` and in plan forms,
//! times in the past refused, and no client seeing another's calendar.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::support::{Server, databases};
use crate::{advance, create_client, deploy, join, now};

pub const POST: &str = r#"workflow: one-post
name: One post
roles: {copywriter: Writes}
inputs:
  publish_at: {type: datetime, required: true}
  platform: {type: enum, values: [vk, telegram, instagram], required: true}
  rubric: {type: string}
publication:
  at: "{{ inputs.publish_at }}"
  channel: "{{ inputs.platform }}"
  title: "{{ inputs.rubric }}"
steps:
  write: {role: copywriter, due: 2d}
"#;

const PLAN: &str = r#"workflow: plan-week
name: Plan a week
roles: {content_manager: Plans}
steps:
  plan:
    role: content_manager
    form:
      posts:
        type: list
        publications: {at: publish_at, channel: platform}
        items:
          type: object
          fields:
            publish_at: {type: datetime, required: true}
            platform: {type: enum, values: [vk, telegram, instagram], required: true}
            topic: {type: string}
"#;

pub async fn post(s: &Server, token: &str, ws: &str, at: DateTime<Utc>, platform: &str, rubric: &str) -> Value {
    let r = s
        .gql(
            token,
            "mutation($ws: String!, $in: JSON) { startInstance(input: {workflow: \"one-post\", workspace: $ws, inputs: $in}) { instance { id } userErrors { field message code } } }",
            json!({"ws": ws, "in": {"publish_at": at.to_rfc3339(), "platform": platform, "rubric": rubric}}),
        )
        .await;
    r["data"]["startInstance"].clone()
}

/// Tomorrow (server time) at `h:m` UTC, plus `days`.
pub fn day_at(base: DateTime<Utc>, days: i64, h: u32, m: u32) -> DateTime<Utc> {
    let d = (base + Duration::days(days)).date_naive();
    d.and_hms_opt(h, m, 0).unwrap().and_utc()
}

/// A payload's userErrors as (field, code) pairs.
fn field_codes(payload: &Value) -> Vec<(Value, Value)> {
    let errors = payload["userErrors"].as_array().cloned().unwrap_or_default();
    errors.iter().map(|e| (e["field"].clone(), e["code"].clone())).collect()
}

async fn count_posts(s: &Server, ws: &str) -> u64 {
    let r = s
        .ok(
            &s.admin,
            "query($ws: String!) { instances(filter: {workflow: \"one-post\", workspace: $ws}) { totalCount } }",
            json!({"ws": ws}),
        )
        .await;
    r["instances"]["totalCount"].as_u64().unwrap()
}

#[tokio::test]
async fn posting_limits_and_the_past_are_refused_where_the_plan_is_made() {
    for db in databases() {
        let s = Server::start(db);
        for src in [POST, PLAN] {
            assert_eq!(deploy(&s, &s.admin, src).await["userErrors"], json!([]), "{db}");
        }
        create_client(&s, "alpha", "UTC", json!({})).await;
        let t = join(&s, "alpha", &[("lena", "lead"), ("cleo", "content_manager")]).await;
        // Clients see what is a publication: the workflow's templates, and a plan's list in the task form.
        let wf =
            s.ok(&t["lena"], "{ workflow(key: \"one-post\") { publication { at channel title } } }", json!({})).await;
        let want = json!({"at": "{{ inputs.publish_at }}", "channel": "{{ inputs.platform }}", "title": "{{ inputs.rubric }}"});
        assert_eq!(wf["workflow"]["publication"], want, "{db}");
        let base = now(&s).await;
        // Two a day, three hours apart (the library's default for a new client).
        for h in [9, 18] {
            let r = post(&s, &t["lena"], "alpha", day_at(base, 2, h, 0), "instagram", "tips").await;
            assert_eq!(r["userErrors"], json!([]), "{db}: {r}");
        }
        let third = post(&s, &t["lena"], "alpha", day_at(base, 2, 13, 30), "instagram", "extra").await;
        let e = &third["userErrors"][0];
        assert_eq!(
            (e["code"].clone(), e["field"].clone()),
            (json!("POSTING_LIMIT"), json!(["inputs", "publish_at"])),
            "{db}: {third}"
        );
        assert!(e["message"].as_str().unwrap().contains("at most 2 a day"), "{db}: {e}");
        assert!(third["instance"].is_null(), "{db}");
        let close = post(&s, &t["lena"], "alpha", day_at(base, 3, 10, 0), "vk", "a").await;
        assert_eq!(close["userErrors"], json!([]), "{db}: {close}");
        let close = post(&s, &t["lena"], "alpha", day_at(base, 3, 11, 0), "vk", "b").await;
        let e = &close["userErrors"][0];
        assert_eq!(e["code"], "POSTING_LIMIT", "{db}: {close}");
        assert!(e["message"].as_str().unwrap().contains("1h from the vk publication \"a\""), "{db}: {e}");
        // Another channel has its own count.
        assert_eq!(
            post(&s, &t["lena"], "alpha", day_at(base, 3, 11, 0), "telegram", "c").await["userErrors"],
            json!([]),
            "{db}"
        );
        let past = post(&s, &t["lena"], "alpha", base - Duration::hours(1), "telegram", "late").await;
        assert_eq!(
            (past["userErrors"][0]["code"].clone(), past["userErrors"][0]["field"].clone()),
            (json!("BAD_USER_INPUT"), json!(["inputs", "publish_at"])),
            "{db}: {past}"
        );
        assert_eq!(count_posts(&s, "alpha").await, 4, "{db}: refused starts created nothing");

        // A plan: a third post on one day, two posts an hour apart, a date in the past.
        let r = s
            .ok(&t["lena"], "mutation { startInstance(input: {workflow: \"plan-week\", workspace: \"alpha\"}) { instance { tasks { id } } } }", json!({}))
            .await;
        let task = r["startInstance"]["instance"]["tasks"][0]["id"].clone();
        let form = s.ok(&t["cleo"], "query($id: ID!) { task(id: $id) { form } }", json!({"id": task})).await;
        assert_eq!(
            form["task"]["form"]["posts"]["publications"],
            json!({"at": "publish_at", "channel": "platform"}),
            "{db}"
        );
        let item = |t: DateTime<Utc>, p: &str| json!({"publish_at": t.to_rfc3339(), "platform": p});
        let posts = json!([
            item(day_at(base, 5, 9, 0), "vk"),
            item(day_at(base, 5, 19, 0), "vk"),
            item(day_at(base, 5, 14, 0), "vk"),
            item(day_at(base, 6, 9, 0), "telegram"),
            item(day_at(base, 6, 10, 0), "telegram"),
            item(base - Duration::days(1), "instagram"),
            item(day_at(base, 2, 20, 0), "instagram"),
        ]);
        let complete = "mutation($id: ID!, $out: JSON) { completeTask(input: {taskId: $id, output: $out}) { task { status } userErrors { field message code } } }";
        let r = s.ok(&t["cleo"], complete, json!({"id": task, "out": {"posts": posts}})).await;
        let errors = field_codes(&r["completeTask"]);
        let at = |i: usize| json!(["output", "posts", i.to_string(), "publish_at"]);
        assert_eq!(
            errors,
            vec![
                (at(2), json!("POSTING_LIMIT")),
                (at(4), json!("POSTING_LIMIT")),
                (at(5), json!("BAD_USER_INPUT")),
                (at(6), json!("POSTING_LIMIT")),
            ],
            "{db}: {r}"
        );
        // Nothing changed: the task is still open; a fixed plan goes through.
        let open =
            s.ok(&t["cleo"], "query($id: ID!) { node(id: $id) { ... on Task { status } } }", json!({"id": task})).await;
        assert_eq!(open["node"]["status"], "OPEN", "{db}: {open}");
        let fixed = json!([
            item(day_at(base, 5, 9, 0), "vk"),
            item(day_at(base, 5, 19, 0), "vk"),
            item(day_at(base, 6, 9, 0), "telegram")
        ]);
        let r = s.ok(&t["cleo"], complete, json!({"id": task, "out": {"posts": fixed}})).await;
        assert_eq!(r["completeTask"]["userErrors"], json!([]), "{db}: {r}");
    }
}

const LIST: &str = "query($f: PublicationFilter!) { publications(filter: $f, first: 50) { totalCount nodes { id at channel title status workspace { key } instance { id } } } }";

#[tokio::test]
async fn the_calendar_lists_every_clients_publications_in_time_order() {
    for db in databases() {
        let s = Server::start(db);
        assert_eq!(deploy(&s, &s.admin, POST).await["userErrors"], json!([]), "{db}");
        let mut tokens = std::collections::HashMap::new();
        for ws in ["alpha", "beta", "gamma"] {
            create_client(&s, ws, "UTC", json!({})).await;
            tokens.extend(
                join(&s, ws, &[(&format!("{ws}-lead"), "lead"), (&format!("{ws}-writer"), "copywriter")]).await,
            );
        }
        let base = now(&s).await;
        let lead = |ws: &str| tokens[&format!("{ws}-lead")].clone();
        let a1 = post(&s, &lead("alpha"), "alpha", day_at(base, 1, 9, 0), "vk", "a1").await;
        let b1 = post(&s, &lead("beta"), "beta", day_at(base, 1, 8, 0), "instagram", "b1").await;
        let c1 = post(&s, &lead("gamma"), "gamma", day_at(base, 2, 7, 0), "telegram", "c1").await;
        let a2 = post(&s, &lead("alpha"), "alpha", day_at(base, 3, 12, 0), "vk", "a2").await;
        for p in [&a1, &b1, &c1, &a2] {
            assert_eq!(p["userErrors"], json!([]), "{db}: {p}");
        }
        // b1 is published (its work done), c1 cancelled; a1 will be late.
        let b1_task = s
            .ok(
                &lead("beta"),
                "query($id: ID!) { instance(id: $id) { tasks { id } } }",
                json!({"id": b1["instance"]["id"]}),
            )
            .await;
        s.ok(
            &tokens["beta-writer"],
            "mutation($id: ID!) { completeTask(input: {taskId: $id}) { userErrors { message } } }",
            json!({"id": b1_task["instance"]["tasks"][0]["id"]}),
        )
        .await;
        s.ok(&lead("gamma"), "mutation($id: ID!) { cancelInstance(input: {instanceId: $id, reason: \"client paused\"}) { userErrors { message } } }", json!({"id": c1["instance"]["id"]})).await;
        let late = day_at(base, 1, 10, 0);
        advance(&s, &late.to_rfc3339()).await;

        let window = json!({"from": day_at(base, 0, 0, 0).to_rfc3339(), "to": day_at(base, 7, 0, 0).to_rfc3339()});
        let r = s.ok(&s.admin, LIST, json!({"f": window})).await;
        let rows: Vec<(String, String)> = r["publications"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["title"].as_str().unwrap().to_string(), p["status"].as_str().unwrap().to_string()))
            .collect();
        let want: Vec<(String, String)> =
            [("b1", "PUBLISHED"), ("a1", "LATE"), ("c1", "CANCELLED"), ("a2", "IN_PRODUCTION")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        assert_eq!(rows, want, "{db}: {r}");
        assert_eq!(r["publications"]["totalCount"], 4, "{db}");
        // Filters: status, channel, workspace.
        let mut f = window.clone();
        f["status"] = json!(["LATE", "IN_PRODUCTION"]);
        f["channel"] = json!("vk");
        let r = s.ok(&s.admin, LIST, json!({"f": f})).await;
        assert_eq!(r["publications"]["totalCount"], 2, "{db}: {r}");
        // A member of one client sees that client's calendar only; another's id is not found.
        let r = s.ok(&lead("alpha"), LIST, json!({"f": window})).await;
        let keys: Vec<&str> = r["publications"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["workspace"]["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["alpha", "alpha"], "{db}: {r}");
        let mut f = window.clone();
        f["workspace"] = json!("beta");
        let r = s.ok(&lead("alpha"), LIST, json!({"f": f})).await;
        assert_eq!(r["publications"]["totalCount"], 0, "{db}: {r}");
        let all = s.ok(&s.admin, LIST, json!({"f": window})).await;
        let beta_id = all["publications"]["nodes"][0]["id"].clone();
        let r = s
            .ok(
                &lead("alpha"),
                "query($id: ID!) { node(id: $id) { ... on Publication { title } } }",
                json!({"id": beta_id}),
            )
            .await;
        assert_eq!(r["node"], Value::Null, "{db}: {r}");
        let r = s
            .ok(
                &lead("beta"),
                "query($id: ID!) { node(id: $id) { ... on Publication { title } } }",
                json!({"id": beta_id}),
            )
            .await;
        assert_eq!(r["node"]["title"], "b1", "{db}: {r}");
    }
}

#[tokio::test]
async fn the_librarys_weekly_plan_is_checked_against_the_limits_when_it_is_made() {
    for db in databases() {
        let s = Server::start(db);
        create_client(&s, "alpha", "Europe/Moscow", json!({"services": []})).await;
        let t = join(&s, "alpha", &[("lena", "lead"), ("cleo", "content_manager")]).await;
        let r = s
            .ok(&t["lena"], "mutation { startInstance(input: {workflow: \"weekly-content\", workspace: \"alpha\"}) { instance { tasks { id step { id } } } userErrors { message } } }", json!({}))
            .await;
        let task = r["startInstance"]["instance"]["tasks"][0]["id"].clone();
        assert_eq!(r["startInstance"]["instance"]["tasks"][0]["step"]["id"], "plan", "{db}: {r}");
        let base = now(&s).await;
        let post = |t: DateTime<Utc>, p: &str| json!({"rubric": "useful tips", "platform": p, "format": "photo", "publish_at": t.to_rfc3339(), "brief": "b"});
        let posts = json!([
            post(day_at(base, 15, 7, 0), "vk"),
            post(day_at(base, 15, 16, 0), "vk"),
            post(day_at(base, 15, 20, 0), "vk"),
            post(day_at(base, 16, 7, 0), "telegram"),
            post(day_at(base, 16, 8, 0), "telegram"),
            post(base - Duration::hours(2), "vk"),
        ]);
        let complete = "mutation($id: ID!, $out: JSON) { completeTask(input: {taskId: $id, output: $out}) { task { status } userErrors { field message code } } }";
        let r = s.ok(&t["cleo"], complete, json!({"id": task, "out": {"posts": posts}})).await;
        let errors = field_codes(&r["completeTask"]);
        let at = |i: usize| json!(["output", "posts", i.to_string(), "publish_at"]);
        assert_eq!(
            errors,
            vec![(at(2), json!("POSTING_LIMIT")), (at(4), json!("POSTING_LIMIT")), (at(5), json!("BAD_USER_INPUT")),],
            "{db}: {r}"
        );
        let open =
            s.ok(&t["cleo"], "query($id: ID!) { node(id: $id) { ... on Task { status } } }", json!({"id": task})).await;
        assert_eq!(
            open["node"]["status"], "CLAIMED",
            "{db}: still the content manager's (round robin), not done: {open}"
        );
        let pubs = s
            .ok(
                &s.admin,
                "query($f: PublicationFilter!) { publications(filter: $f) { totalCount } }",
                json!({"f": {"from": base.to_rfc3339(), "to": day_at(base, 30, 0, 0).to_rfc3339()}}),
            )
            .await;
        assert_eq!(pubs["publications"]["totalCount"], 0, "{db}: a refused plan put nothing on the calendar");
    }
}
