//! `workspaces:` schedules: one schedule per matching client, in its
//! timezone, following profile changes without a redeploy; only admins
//! deploy them.

use serde_json::{Value, json};

use crate::support::{Server, databases};
use crate::{advance, create_client, deploy, join, now};

const DAILY: &str = r#"workflow: daily-check
name: Daily check for every client with the service
roles: {smm_manager: Checks}
schedules:
  - cron: "0 9 * * *"
    workspaces: "'community_management' in workspace.profile.services"
steps:
  check:
    title: "Check {{ workspace.name }}"
    role: smm_manager
"#;

async fn schedules(s: &Server) -> Vec<(String, String)> {
    let r = s
        .ok(&s.admin, "{ schedules(filter: {workflow: \"daily-check\"}) { workspace { key } timezone } }", json!({}))
        .await;
    let mut out: Vec<(String, String)> = r["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["workspace"]["key"].as_str().unwrap().to_string(), x["timezone"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

fn svc(list: &[&str]) -> Value {
    json!({"services": list})
}

async fn runs(s: &Server, ws: &str) -> usize {
    let r = s
        .ok(
            &s.admin,
            "query($ws: String!) { instances(filter: {workflow: \"daily-check\", workspace: $ws}) { totalCount } }",
            json!({"ws": ws}),
        )
        .await;
    r["instances"]["totalCount"].as_u64().unwrap() as usize
}

#[tokio::test]
async fn every_matching_client_gets_its_own_schedule_without_create_schedule() {
    for db in databases() {
        let s = Server::start(db);
        create_client(&s, "alpha", "Europe/Moscow", svc(&["community_management", "weekly_content"])).await;
        create_client(&s, "beta", "Asia/Vladivostok", svc(&["community_management"])).await;
        create_client(&s, "gamma", "UTC", svc(&["monthly_report"])).await;
        let r = deploy(&s, &s.admin, DAILY).await;
        assert_eq!(r["userErrors"], json!([]), "{db}: {r}");
        let want = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        assert_eq!(schedules(&s).await, want(&[("alpha", "Europe/Moscow"), ("beta", "Asia/Vladivostok")]), "{db}");
        // A client added later gets its schedule, without a redeploy.
        create_client(&s, "delta", "America/New_York", svc(&["community_management"])).await;
        // One that stops buying the service loses it; one that starts gains it.
        let t = join(&s, "alpha", &[("lena", "lead")]).await;
        let r = s
            .ok(&t["lena"], "mutation { updateWorkspace(input: {workspace: \"alpha\", profile: {services: [\"weekly_content\"]}}) { userErrors { message } } }", json!({}))
            .await;
        assert_eq!(r["updateWorkspace"]["userErrors"], json!([]), "{db}");
        s.ok(&s.admin, "mutation { updateWorkspace(input: {workspace: \"gamma\", timezone: \"Asia/Tokyo\", profile: {services: [\"community_management\"]}}) { userErrors { message } } }", json!({})).await;
        assert_eq!(
            schedules(&s).await,
            want(&[("beta", "Asia/Vladivostok"), ("delta", "America/New_York"), ("gamma", "Asia/Tokyo")]),
            "{db}"
        );
        // Two days on: each client's schedule started one run a day, at 09:00 its time, never doubled.
        let start = now(&s).await;
        let to = start + chrono::Duration::hours(48);
        advance(&s, &to.to_rfc3339()).await;
        for ws in ["beta", "delta", "gamma"] {
            let n = runs(&s, ws).await;
            if !(2..=3).contains(&n) {
                let fires = s
                    .ok(&s.admin, "query($ws: String!) { schedules(filter: {workspace: $ws, workflow: \"daily-check\"}) { timezone nextFireAt lastFires { scheduledFor skipped reason } } }", json!({"ws": ws}))
                    .await;
                panic!("{db}: {ws} ran {n} times in two days from {start} to {to}: {fires}");
            }
        }
        assert_eq!(runs(&s, "alpha").await, 0, "{db}");
        // The instances read their own client (the library's moderation desk runs there too).
        let q = "{ tasks(filter: {workspace: \"beta\", role: \"smm_manager\"}, first: 100) { nodes { title } } }";
        let titles = s.ok(&s.admin, q, json!({})).await;
        let titles: Vec<&str> =
            titles["tasks"]["nodes"].as_array().unwrap().iter().filter_map(|t| t["title"].as_str()).collect();
        assert!(titles.contains(&"Check beta"), "{db}: {titles:?}");
        let started = s
            .ok(
                &s.admin,
                "{ instances(filter: {workflow: \"daily-check\", workspace: \"gamma\"}) { nodes { startedAt } } }",
                json!({}),
            )
            .await;
        for i in started["instances"]["nodes"].as_array().unwrap() {
            let at: chrono::DateTime<chrono::Utc> = i["startedAt"].as_str().unwrap().parse().unwrap();
            // 09:00 in Tokyo is 00:00 UTC.
            assert_eq!(at.format("%H:%M").to_string(), "00:00", "{db}: {started}");
        }
    }
}

#[tokio::test]
async fn only_admins_deploy_schedules_for_every_client() {
    for db in databases() {
        let s = Server::start(db);
        create_client(&s, "alpha", "UTC", svc(&["community_management"])).await;
        let t = join(&s, "alpha", &[("lena", "lead")]).await;
        s.ok(
            &s.admin,
            "mutation { updateUser(input: {user: \"lena\", canDeployWorkflows: true}) { userErrors { message } } }",
            json!({}),
        )
        .await;
        let r = deploy(&s, &t["lena"], DAILY).await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{db}: {r}");
        assert!(schedules(&s).await.is_empty(), "{db}");
        // A bad expression is the validator's to catch.
        let bad = DAILY.replace("'community_management' in workspace.profile.services", "inputs.x > 1");
        let r = deploy(&s, &s.admin, &bad).await;
        assert_eq!(r["userErrors"][0]["code"], "E033", "{db}: {r}");
    }
}
