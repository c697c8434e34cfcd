//! Batch approvals and follow-ups over a real SMTP server and the real
//! server on SQLite and PostgreSQL, on a manual clock: a week of posts is
//! one mail with one link; follow-ups come one and two business days after
//! the request (as one batch again) and stop when decided; the batch page
//! shows every post, decides each in one POST, never decides on GET, shows
//! a post decided in the API meanwhile as decided, and a second submit
//! changes nothing; the diff of a reworked post is escaped.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Value, json};

use crate::support::smtp::SmtpSink;
use crate::support::{Server, databases};

const FLOW: &str = r#"workflow: batched-post
name: Batched post
roles: {writer: Writes, client: Approves}
inputs:
  n: {type: integer, required: true}
  publish_at: {type: datetime, required: true}
steps:
  draft:
    role: writer
    title: "Post {{ inputs.n }}"
    form:
      text: {type: text, required: true}
  review:
    type: approval
    title: "Post {{ inputs.n }} for {{ inputs.publish_at }}"
    role: client
    external: true
    after: [draft]
    batch: "{{ workspace.key }}"
    follow_up: [1 business day, 2 business days]
    reasons: [tone, facts, visuals, legal, timing, other]
    expires: {at: "inputs.publish_at", before: 2h}
    on_reject: {goto: draft, max_rounds: 3}
"#;

async fn now(s: &Server) -> DateTime<Utc> {
    let r = s.ok(&s.admin, "{ serverTime }", json!({})).await;
    r["serverTime"].as_str().unwrap().parse().unwrap()
}

async fn advance_to(s: &Server, to: DateTime<Utc>) {
    s.ok(&s.admin, "mutation($to: DateTime!) { advanceClock(input: {to: $to}) { fired } }", json!({"to": to})).await;
}

/// Waits until `n` approval requests wait in a batch.
async fn batched(s: &Server, n: usize) {
    let started = Instant::now();
    loop {
        let r = s
            .ok(
                &s.admin,
                "{ notifications(filter: {status: [PENDING]}, first: 100) { nodes { delivery } } }",
                json!({}),
            )
            .await;
        let got = r["notifications"]["nodes"].as_array().unwrap().iter().filter(|n| n["delivery"] == "BATCH").count();
        if got == n {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{} of {n} batch items on {}", got, s.db);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Mails to `login` so far: (subject, text).
fn mails_to(sink: &SmtpSink, login: &str) -> Vec<(String, String)> {
    sink.messages()
        .iter()
        .filter(|m| m["rcpt"][0].as_str().is_some_and(|r| r.starts_with(&format!("{login}@"))))
        .map(|m| {
            (m["subject"].as_str().unwrap_or_default().to_string(), m["text"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

async fn wait_mails(sink: &SmtpSink, login: &str, n: usize) -> Vec<(String, String)> {
    let started = Instant::now();
    loop {
        let got = mails_to(sink, login);
        if got.len() >= n {
            return got;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{} of {n} mails to {login}", got.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn batch_link(text: &str, server: &str) -> String {
    let prefix = format!("{server}/approve/batch/");
    text.split_whitespace().find(|w| w.starts_with(&prefix)).unwrap().to_string()
}

async fn reviews(s: &Server, token: &str, ids: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        let q = "query($id: ID!) { instance(id: $id) { tasks { id status step { id } output lastRemindedAt expiresAt } events { kind } } }";
        let i = s.ok(token, q, json!({"id": id})).await;
        out.push(i["instance"].clone());
    }
    out
}

fn review_task(i: &Value) -> Value {
    i["tasks"].as_array().unwrap().iter().rfind(|t| t["step"]["id"] == "review").unwrap().clone()
}

/// A server on `db` with five posts written on a Monday 09:00 UTC, each
/// waiting for the client's (olga's) approval, and their one batch mail
/// received: (server, tokens, instance ids, Monday, the Friday slot, the
/// batch link, olga's mail count before the batch).
struct Week {
    s: Server,
    t: std::collections::HashMap<String, String>,
    ids: Vec<Value>,
    monday: DateTime<Utc>,
    friday: DateTime<Utc>,
    link: String,
    before: usize,
}

async fn five_posts_in_one_mail(db: &str, sink: &SmtpSink) -> Week {
    let args = ["--smtp-url".to_string(), sink.url(), "--mail-from".into(), "SMM <smm@agency.example>".into()];
    let s = Server::start_with(db, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let r = s
        .ok(
            &s.admin,
            "mutation($s: String!) { deployWorkflow(input: {source: $s}) { userErrors { message } } }",
            json!({"s": FLOW}),
        )
        .await;
    assert_eq!(r["deployWorkflow"]["userErrors"], json!([]), "{db}: {r}");
    let ws = format!("bakery-{db}");
    let t = s.team(&ws, &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
    // Monday 09:00 UTC: the default calendar opens.
    let mut day = now(&s).await.date_naive().succ_opt().unwrap();
    while day.weekday() != chrono::Weekday::Mon {
        day = day.succ_opt().unwrap();
    }
    let monday = day.and_hms_opt(9, 0, 0).unwrap().and_utc();
    advance_to(&s, monday).await;
    let friday = monday + chrono::Duration::days(4) + chrono::Duration::hours(6);
    let before = mails_to(sink, "olga").len();
    let mut ids = Vec::new();
    for n in 1..=5 {
        let start = "mutation($w: String!, $i: JSON!) { startInstance(input: {workflow: \"batched-post\", workspace: $w, inputs: $i}) { instance { id tasks { id step { id } } } userErrors { message } } }";
        let r = s.ok(&t["lena"], start, json!({"w": ws, "i": {"n": n, "publish_at": friday}})).await;
        let inst = &r["startInstance"]["instance"];
        ids.push(inst["id"].clone());
        let draft = inst["tasks"][0]["id"].clone();
        let text = if n == 5 { "Five <b>winter</b> tips".to_string() } else { format!("Post {n} text") };
        let done = s
            .ok(&t["wanda"], "mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { userErrors { message } } }", json!({"t": draft, "o": {"text": text}}))
            .await;
        assert_eq!(done["completeTask"]["userErrors"], json!([]), "{db}: {done}");
    }
    batched(&s, 5).await;
    assert_eq!(mails_to(sink, "olga").len(), before, "{db}: nothing is sent while the window is open");
    advance_to(&s, monday + chrono::Duration::minutes(15)).await;
    let got = wait_mails(sink, "olga", before + 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_now = mails_to(sink, "olga");
    assert_eq!(got_now.len(), before + 1, "{db}: one mail for five posts: {got_now:?}");
    let (subject, text) = got[before].clone();
    assert!(subject.contains("5 posts waiting for your approval"), "{db}: {subject}");
    for n in 1..=5 {
        assert!(text.contains(&format!("Post {n} for")), "{db}: {text}");
    }
    let link = batch_link(&text, &s.url);
    Week { s, t, ids, monday, friday, link, before }
}

#[tokio::test]
async fn a_week_of_posts_is_one_mail_with_one_link_and_follow_ups_stop_when_decided() {
    let Some(sink) = SmtpSink::start() else { return };
    for db in databases() {
        let Week { s, t, ids, monday, friday, link, before } = five_posts_in_one_mail(db, &sink).await;
        // A mail scanner opens the link twice: nothing is decided.
        let http = reqwest::Client::new();
        for _ in 0..2 {
            let page = http.get(&link).send().await.unwrap();
            assert_eq!(page.status().as_u16(), 200, "{db}");
            let page = page.text().await.unwrap();
            assert!(page.contains("Post 3 text") && page.contains("name=\"reason_4_tone\""), "{db}");
            assert!(
                page.contains("Five &lt;b&gt;winter&lt;") && !page.contains("<b>winter"),
                "{db}: markup stays text"
            );
        }
        assert!(reviews(&s, &t["lena"], &ids).await.iter().all(|i| review_task(i)["status"] == "OPEN"), "{db}");

        // Tuesday 09:00, one business day on: one reminder batch for the five.
        advance_to(&s, monday + chrono::Duration::days(1)).await;
        batched(&s, 5).await;
        advance_to(&s, monday + chrono::Duration::days(1) + chrono::Duration::minutes(15)).await;
        let got = wait_mails(&sink, "olga", before + 2).await;
        assert!(got[before + 1].0.starts_with("Reminder: 5 posts"), "{db}: {:?}", got[before + 1].0);
        let state = reviews(&s, &t["lena"], &ids).await;
        let reminded = review_task(&state[0])["lastRemindedAt"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
        assert_eq!(reminded, monday + chrono::Duration::days(1), "{db}");
        assert_eq!(
            review_task(&state[0])["expiresAt"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(),
            friday - chrono::Duration::hours(2),
            "{db}"
        );

        // Meanwhile post 4 is approved in the API.
        let approve = "mutation($t: ID!) { approveTask(input: {taskId: $t, comment: \"ok from the app\"}) { userErrors { message } } }";
        let r = s.ok(&t["olga"], approve, json!({"t": review_task(&state[3])["id"]})).await;
        assert_eq!(r["approveTask"]["userErrors"], json!([]), "{db}: {r}");

        // One POST (from the first mail's link): approve 1-4, reject 5 with reasons.
        let mut form: Vec<(String, String)> =
            (0..4).map(|i| (format!("decision_{i}"), "approve".to_string())).collect();
        form.push(("comment_1".into(), "Lovely".into()));
        form.push(("decision_4".into(), "reject".into()));
        form.push(("comment_4".into(), "Too pushy, and the price is wrong".into()));
        form.push(("reason_4_tone".into(), "on".into()));
        form.push(("reason_4_facts".into(), "on".into()));
        let page = http.post(&link).form(&form).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200, "{db}");
        let page = page.text().await.unwrap();
        assert!(page.contains("Decided elsewhere meanwhile"), "{db}: post 4 shows as decided elsewhere");
        let state = reviews(&s, &t["lena"], &ids).await;
        let statuses: Vec<Value> = state.iter().map(|i| review_task(i)["status"].clone()).collect();
        assert_eq!(statuses[..3], [json!("APPROVED"), json!("APPROVED"), json!("APPROVED")], "{db}: {statuses:?}");
        let fourth =
            state[3]["tasks"].as_array().unwrap().iter().find(|t| t["step"]["id"] == "review").unwrap().clone();
        assert_eq!(fourth["output"]["comment"], "ok from the app", "{db}: decided once, in the API");
        assert_eq!(review_task(&state[1])["output"]["comment"], "Lovely", "{db}");
        let rejected =
            state[4]["tasks"].as_array().unwrap().iter().find(|t| t["status"] == "REJECTED").unwrap().clone();
        assert_eq!(rejected["output"]["reasons"], json!(["tone", "facts"]), "{db}: {rejected}");
        let events: usize = state.iter().map(|i| i["events"].as_array().unwrap().len()).sum();

        // The same submit again changes nothing.
        let again = http.post(&link).form(&form).send().await.unwrap();
        assert_eq!(again.status().as_u16(), 200, "{db}");
        assert!(again.text().await.unwrap().contains("Nothing here waits for your decision"), "{db}");
        let after: usize =
            reviews(&s, &t["lena"], &ids).await.iter().map(|i| i["events"].as_array().unwrap().len()).sum();
        assert_eq!(after, events, "{db}: a second submit decides nothing");

        // Wednesday: the second follow-up does not come for decided posts.
        let mails = mails_to(&sink, "olga").len();
        advance_to(&s, monday + chrono::Duration::days(2) + chrono::Duration::hours(1)).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(mails_to(&sink, "olga").len(), mails, "{db}: no follow-up after the decisions");
    }
}

#[tokio::test]
async fn the_batch_page_in_a_real_browser_decides_each_post_once() {
    let Some(sink) = SmtpSink::start() else { return };
    let python = std::env::var("SMMFLOW_TEST_PYTHON").unwrap();
    for db in databases() {
        let Week { s, t, ids, link, .. } = five_posts_in_one_mail(db, &sink).await;
        let state = reviews(&s, &t["lena"], &ids).await;
        let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("batch-page-{db}"));
        std::fs::create_dir_all(&shots).unwrap();
        let env = [
            ("BATCH_URL", link.clone()),
            ("API_URL", format!("{}/graphql", s.url)),
            ("API_TOKEN", t["olga"].clone()),
            ("MEANWHILE_TASK", review_task(&state[3])["id"].as_str().unwrap().to_string()),
            ("SMMFLOW_SHOTS", shots.display().to_string()),
        ];
        crate::support::run_client(&python, "batch_browser.py", &env, "browser checks passed", db).await;
        // What the browser did is what the API shows, each post decided once.
        let state = reviews(&s, &t["lena"], &ids).await;
        for (n, i) in state.iter().enumerate().take(3) {
            assert_eq!(review_task(i)["status"], "APPROVED", "{db}: post {}", n + 1);
        }
        assert_eq!(review_task(&state[1])["output"]["comment"], "Lovely", "{db}");
        assert_eq!(review_task(&state[3])["output"]["comment"], "ok from the app", "{db}: post 4 decided in the API");
        let rejected =
            state[4]["tasks"].as_array().unwrap().iter().find(|t| t["status"] == "REJECTED").unwrap().clone();
        assert_eq!(rejected["output"]["reasons"], json!(["tone", "facts"]), "{db}: {rejected}");
        assert_eq!(rejected["output"]["comment"], "Too pushy, and the price is wrong", "{db}");
        for i in &state {
            let decided = i["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "task.approved" || e["kind"] == "task.rejected")
                .count();
            assert_eq!(decided, 1, "{db}: each post decided once");
        }
    }
}
