//! The GraphQL transport under abuse: queries that multiply by page size
//! and aliases, a user who spends more than their budget, mutations over
//! GET, non-JSON posts, unreadable bodies, and field suggestions when
//! introspection is off.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, databases};

async fn raw(s: &Server, token: &str, body: &Value) -> (u16, Value) {
    let r =
        reqwest::Client::new().post(format!("{}/graphql", s.url)).bearer_auth(token).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn queries_that_multiply_are_refused_before_they_run() {
    let s = Server::start("sqlite");
    let t = s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
    let one = "instances(first: 100) { nodes { events { data } tasks { instance { events { data } } } } }";
    let many: Vec<String> = (0..150).map(|i| format!("a{i}: {one}")).collect();
    for query in [format!("{{ {one} }}"), format!("{{ {} }}", many.join(" "))] {
        let started = Instant::now();
        let (status, r) = raw(&s, &t["wanda"], &json!({"query": query})).await;
        assert_eq!(status, 200);
        assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains("too complex"), "{r}");
        assert!(r["data"].is_null());
        assert!(started.elapsed() < Duration::from_secs(10), "refused before running");
    }
    // A reasonable inbox still runs.
    let r = s
        .ok(
            &t["wanda"],
            "{ tasks(filter: {mine: true}, first: 50) { totalCount nodes { id title instance { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r["tasks"]["totalCount"], 0);
}

#[tokio::test]
async fn each_user_spends_their_own_budget() {
    let s = Server::start_with("sqlite", &["--query-cost-per-minute", "3000"]);
    let t = s.team("alpha", &[("lena", "lead"), ("wanda", "writer")]).await;
    // About 900 per request: 100 tasks with 8 fields each.
    let q = json!({"query": "{ tasks(first: 100) { nodes { id title status dueAt instance { id } step { id } } } }"});
    let mut limited = None;
    for i in 0..6 {
        let (_, r) = raw(&s, &t["wanda"], &q).await;
        if r["errors"][0]["extensions"]["code"] == "RATE_LIMITED" {
            limited = Some((i, r));
            break;
        }
        assert!(r.get("errors").is_none(), "{r}");
    }
    let (i, r) = limited.expect("wanda's budget of 3,000 a minute ran out");
    assert!(i >= 1, "the first requests fit the budget");
    assert!(r["errors"][0]["extensions"]["retryAfterSeconds"].as_u64().unwrap() >= 1, "{r}");
    // Lena's budget is her own.
    let (_, r) = raw(&s, &t["lena"], &q).await;
    assert!(r.get("errors").is_none(), "{r}");
}

#[tokio::test]
async fn mutations_go_by_post_as_json_and_bad_bodies_get_clear_errors() {
    for db in databases() {
        let s = Server::start(db);
        let http = reqwest::Client::new();
        let create = r#"mutation { createWorkspace(input: {key: "by-get", name: "x"}) { workspace { key } } }"#;
        let r = http
            .get(format!("{}/graphql", s.url))
            .query(&[("query", create)])
            .bearer_auth(&s.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{db}");
        assert_eq!(r.headers()["allow"], "POST");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{db}: {body}");
        // Queries by GET still work.
        let r = http
            .get(format!("{}/graphql", s.url))
            .query(&[("query", "{ viewer { login } }")])
            .bearer_auth(&s.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<Value>().await.unwrap()["data"]["viewer"]["login"], "admin", "{db}");
        // A form post or text/plain (what a foreign page can send) is refused.
        let body = json!({"query": create.replace("by-get", "by-text")}).to_string();
        for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            let r = http
                .post(format!("{}/graphql", s.url))
                .bearer_auth(&s.admin)
                .header("content-type", ct)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 415, "{db}: {ct}");
        }
        let ws = s.ok(&s.admin, "{ workspaces { key } }", json!({})).await;
        assert_eq!(ws["workspaces"], json!([]), "{db}: nothing was created");
        // An unreadable body: 400 with a JSON error, no Rust debug text.
        let r = http
            .post(format!("{}/graphql", s.url))
            .bearer_auth(&s.admin)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{db}");
        let text = r.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{db}: not JSON: {text}"));
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{db}: {text}");
        for debug in ["InvalidRequest(", "Error(", "ParseRequestError"] {
            assert!(!text.contains(debug), "{db}: {text}");
        }
    }
}

#[tokio::test]
async fn without_introspection_errors_suggest_no_field_names() {
    let open = Server::start("sqlite");
    let closed = Server::start_with("sqlite", &["--no-introspection"]);
    let typo = json!({"query": "{ viewr { login } }"});
    let (_, r) = raw(&open, "", &typo).await;
    assert!(r.to_string().contains("Did you mean"), "with introspection, suggestions help: {r}");
    for token in ["", closed.admin.as_str()] {
        let (_, r) = raw(&closed, token, &typo).await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{r}");
        assert!(!r.to_string().contains("Did you mean"), "{r}");
        assert!(!r.to_string().contains("viewer"), "{r}");
    }
}
