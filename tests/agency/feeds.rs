//! The iCalendar feed, read by an independent parser (Python's `icalendar`):
//! the owner's publications and due work, only the owner's workspaces, a
//! stable UID per entry, and a revoked feed answering 404.

use serde_json::{Value, json};

use crate::calendar::{POST, day_at, post};
use crate::support::{Server, databases, skipped};
use crate::{create_client, deploy, join, now};

async fn read(python: &str, url: &str) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/ical_read.py");
    let out = tokio::process::Command::new(python).arg(&script).arg(url).output().await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

async fn create_feed(s: &Server, token: &str, name: &str, ws: Option<&str>) -> Value {
    let r = s
        .ok(token, "mutation($n: String!, $w: String) { createCalendarFeed(input: {name: $n, workspace: $w}) { feed { id name url workspace } userErrors { field message } } }", json!({"n": name, "w": ws}))
        .await;
    r["createCalendarFeed"].clone()
}

fn summaries(feed: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        feed["events"].as_array().unwrap().iter().map(|e| e["summary"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_feed_shows_the_owners_calendar_to_a_calendar_application() {
    let Ok(python) = std::env::var("SMMFLOW_TEST_PYTHON") else {
        skipped("SKIPPED: SMMFLOW_TEST_PYTHON is not set (scripts/test installs Python's icalendar and sets it)");
        return;
    };
    for db in databases() {
        let s = Server::start(db);
        assert_eq!(deploy(&s, &s.admin, POST).await["userErrors"], json!([]), "{db}");
        create_client(&s, "alpha", "UTC", json!({})).await;
        create_client(&s, "beta", "UTC", json!({})).await;
        let a = join(&s, "alpha", &[("lena", "lead"), ("lena", "copywriter")]).await;
        let b = join(&s, "beta", &[("bob", "lead")]).await;
        let base = now(&s).await;
        let p1 = post(&s, &a["lena"], "alpha", day_at(base, 2, 9, 0), "vk", "tips").await;
        let p2 = post(&s, &a["lena"], "alpha", day_at(base, 3, 9, 0), "instagram", "reel").await;
        post(&s, &b["bob"], "beta", day_at(base, 2, 10, 0), "telegram", "secret launch").await;
        s.ok(&a["lena"], "mutation($id: ID!) { cancelInstance(input: {instanceId: $id, reason: \"dropped\"}) { userErrors { message } } }", json!({"id": p2["instance"]["id"]})).await;

        let feed = create_feed(&s, &a["lena"], "My work", None).await;
        assert_eq!(feed["userErrors"], json!([]), "{db}: {feed}");
        let url = feed["feed"]["url"].as_str().unwrap().to_string();
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with(".ics"), "{db}: {url}");
        let got = read(&python, &url).await;
        assert_eq!((got["status"].clone(), got["version"].clone()), (json!(200), json!("2.0")), "{db}: {got}");
        assert!(got["content_type"].as_str().unwrap().starts_with("text/calendar"), "{db}: {got}");
        // Two publications of alpha (one cancelled) and lena's one open task with a due time; nothing of beta.
        assert_eq!(
            summaries(&got),
            ["[alpha] Due: write", "[alpha] instagram: reel", "[alpha] vk: tips"],
            "{db}: {got}"
        );
        let events = got["events"].as_array().unwrap();
        let reel = events.iter().find(|e| e["summary"] == "[alpha] instagram: reel").unwrap();
        assert_eq!(reel["status"], "CANCELLED", "{db}: {reel}");
        let tips = events.iter().find(|e| e["summary"] == "[alpha] vk: tips").unwrap();
        let at: chrono::DateTime<chrono::Utc> = tips["start"].as_str().unwrap().parse().unwrap();
        assert_eq!(at, day_at(base, 2, 9, 0), "{db}: {tips}");
        assert!(events.iter().all(|e| e["stamp"] == true), "{db}: every VEVENT has a DTSTAMP");
        assert!(tips["uid"].as_str().unwrap().starts_with("publication-"), "{db}: {tips}");
        let _ = p1;
        // The same entries keep their UIDs.
        let again = read(&python, &url).await;
        let uids = |v: &Value| {
            let mut u: Vec<String> =
                v["events"].as_array().unwrap().iter().map(|e| e["uid"].as_str().unwrap().to_string()).collect();
            u.sort();
            u
        };
        assert_eq!(uids(&again), uids(&got), "{db}");

        // Only the owner manages it; the secret is never shown again.
        let listed = s.ok(&a["lena"], "{ viewer { calendarFeeds { id name url } } }", json!({})).await;
        assert_eq!(listed["viewer"]["calendarFeeds"][0]["url"], Value::Null, "{db}: {listed}");
        let id = feed["feed"]["id"].clone();
        let r = s
            .gql(
                &b["bob"],
                "mutation($id: ID!) { revokeCalendarFeed(input: {feedId: $id}) { feed { id } } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND", "{db}: {r}");
        // A feed of a workspace one is not a member of is refused.
        let r = create_feed(&s, &a["lena"], "Spy", Some("beta")).await;
        assert_eq!(r["userErrors"][0]["field"], json!(["workspace"]), "{db}: {r}");
        // A feed of one workspace shows that workspace only, even for an
        // owner who works in others too.
        s.ok(&s.admin, "mutation { addMember(input: {workspace: \"beta\", user: \"lena\", role: \"copywriter\"}) { userErrors { message } } }", json!({})).await;
        let only_alpha = create_feed(&s, &a["lena"], "ACME only", Some("alpha")).await;
        let got = read(&python, only_alpha["feed"]["url"].as_str().unwrap()).await;
        assert!(summaries(&got).iter().all(|x| x.starts_with("[alpha]")), "{db}: {got}");
        assert!(summaries(&read(&python, &url).await).iter().any(|x| x.starts_with("[beta]")), "{db}");
        // Losing the membership takes the workspace out of the feeds at once.
        s.ok(&s.admin, "mutation { removeMember(input: {workspace: \"alpha\", user: \"lena\", role: \"copywriter\"}) { userErrors { message } } }", json!({})).await;
        s.ok(&s.admin, "mutation { removeMember(input: {workspace: \"alpha\", user: \"lena\", role: \"lead\"}) { userErrors { message } } }", json!({})).await;
        assert!(summaries(&read(&python, &url).await).iter().all(|x| !x.starts_with("[alpha]")), "{db}");
        let got = read(&python, only_alpha["feed"]["url"].as_str().unwrap()).await;
        assert_eq!(got["events"], json!([]), "{db}: {got}");
        // Revoked: 404, like an unknown secret.
        s.ok(
            &a["lena"],
            "mutation($id: ID!) { revokeCalendarFeed(input: {feedId: $id}) { feed { id } } }",
            json!({"id": id}),
        )
        .await;
        assert_eq!(read(&python, &url).await["status"], 404, "{db}");
        let unknown = format!("{}/calendar/cal_{}.ics", s.url, "0".repeat(64));
        assert_eq!(read(&python, &unknown).await["status"], 404, "{db}");
    }
}
