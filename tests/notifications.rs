//! E-mail end to end: a real `smmflow serve`, a real SMTP server (aiosmtpd),
//! the GraphQL API over HTTP. Who gets what in a content cycle, an SMTP
//! outage, a permanent refusal, and digests; on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Value, json};
use support::smtp::SmtpSink;
use support::{Server, databases};

const FROM: &str = "ACME SMM <smm@agency.example>";

fn mail_args(sink: &SmtpSink) -> Vec<String> {
    vec!["--smtp-url".into(), sink.url(), "--mail-from".into(), FROM.into()]
}

fn start(db: &str, sink: &SmtpSink) -> Server {
    let args = mail_args(sink);
    Server::start_with(db, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

async fn now(s: &Server) -> DateTime<Utc> {
    let r = s.ok(&s.admin, "{ serverTime }", json!({})).await;
    r["serverTime"].as_str().unwrap().parse().unwrap()
}

async fn advance_to(s: &Server, to: DateTime<Utc>) {
    s.ok(&s.admin, "mutation($to: DateTime!) { advanceClock(input: {to: $to}) { fired } }", json!({"to": to})).await;
}

/// Next Monday 07:00 UTC (10:00 in Moscow: the agency is open).
async fn monday_morning(s: &Server) -> DateTime<Utc> {
    let n = now(s).await;
    let mut d = n.date_naive().succ_opt().unwrap();
    while d.weekday() != chrono::Weekday::Mon {
        d = d.succ_opt().unwrap();
    }
    let t = d.and_hms_opt(7, 0, 0).unwrap().and_utc();
    advance_to(s, t).await;
    t
}

async fn backlog(s: &Server) -> u64 {
    let text = reqwest::get(format!("{}/metrics", s.url)).await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix("smmflow_outbox_backlog ")).and_then(|n| n.trim().parse().ok()).unwrap()
}

/// Pending digest and batch items (they wait for their hour or their
/// batch's window, not for the sender).
async fn waiting_for_digest(s: &Server) -> u64 {
    let r = s
        .ok(&s.admin, "{ notifications(filter: {status: [PENDING]}, first: 100) { nodes { delivery } } }", json!({}))
        .await;
    r["notifications"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["delivery"] == "DIGEST" || n["delivery"] == "BATCH")
        .count() as u64
}

/// Waits until the outbox holds nothing but digest items.
async fn settle(s: &Server) {
    let started = Instant::now();
    loop {
        if backlog(s).await == waiting_for_digest(s).await {
            // One more look: a commit may have just queued a notice.
            tokio::time::sleep(Duration::from_millis(300)).await;
            if backlog(s).await == waiting_for_digest(s).await {
                return;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the outbox did not drain on {}", s.db);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Messages received since `from` as (login part of the address, subject), sorted.
fn received(sink: &SmtpSink, from: usize) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = sink.messages()[from..]
        .iter()
        .map(|m| {
            let rcpt = m["rcpt"][0].as_str().unwrap();
            (rcpt.split('@').next().unwrap().to_string(), m["subject"].as_str().unwrap().to_string())
        })
        .collect();
    v.sort();
    v
}

fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    v.sort();
    v
}

/// Open tasks of an instance: step id -> (task id, title, assignee).
async fn open_tasks(s: &Server, id: &str) -> BTreeMap<String, (String, String, String)> {
    let r = s
        .ok(&s.admin, "query($i: ID!) { tasks(filter: {instance: $i, status: [OPEN, CLAIMED]}, first: 50) { nodes { id title step { id } assignee { login } } } }", json!({"i": id}))
        .await;
    r["tasks"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["step"]["id"].as_str().unwrap().to_string(),
                (
                    n["id"].as_str().unwrap().to_string(),
                    n["title"].as_str().unwrap().to_string(),
                    n["assignee"]["login"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

async fn complete(s: &Server, token: &str, task: &str, output: Value) {
    let r = s
        .ok(
            token,
            "mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { userErrors { message } } }",
            json!({"t": task, "o": output}),
        )
        .await;
    assert_eq!(r["completeTask"]["userErrors"], json!([]), "{}", s.db);
}

async fn approve(s: &Server, token: &str, task: &str) {
    let r = s
        .ok(
            token,
            "mutation($t: ID!) { approveTask(input: {taskId: $t}) { userErrors { message } } }",
            json!({"t": task}),
        )
        .await;
    assert_eq!(r["approveTask"]["userErrors"], json!([]), "{}", s.db);
}

/// The approval link in the newest message to `login`.
fn link_for(sink: &SmtpSink, login: &str) -> String {
    let m = sink
        .messages()
        .into_iter()
        .rev()
        .find(|m| m["rcpt"][0].as_str().unwrap().starts_with(&format!("{login}@")))
        .unwrap();
    let text = m["text"].as_str().unwrap();
    text.split_whitespace().find(|w| w.contains("/approve/")).unwrap_or_else(|| panic!("no link in {text}")).to_string()
}

/// Decides the one approval of a batch link (reasons: the library's post approvals ask for them).
async fn decide_batch(link: &str, decision: &str, comment: &str) -> (u16, String) {
    let form = [("decision_0", decision), ("comment_0", comment), ("reason_0_tone", "on")];
    let r = reqwest::Client::new().post(link).form(&form).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn decide_by_link(link: &str, decision: &str, comment: &str) -> (u16, String) {
    let r =
        reqwest::Client::new().post(link).form(&[("decision", decision), ("comment", comment)]).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_post_production_cycle_mails_exactly_the_expected_people() {
    let Some(sink) = SmtpSink::start() else { return };
    for db in databases() {
        let base = sink.messages().len();
        let s = start(db, &sink);
        let monday = monday_morning(&s).await;
        let t = s
            .team(
                "acme",
                &[
                    ("lena", "lead"),
                    ("carl", "content_manager"),
                    ("wanda", "copywriter"),
                    ("will", "copywriter"),
                    ("dina", "designer"),
                    ("sam", "smm_manager"),
                    ("olga", "client"),
                ],
            )
            .await;
        let publish_at = (monday + chrono::Duration::days(3)).to_rfc3339();
        let inputs = json!({"client_name": "ACME", "account_manager": "lena", "planner": "carl", "rubric": "Tips", "platform": "vk", "format": "photo", "publish_at": publish_at, "brief": "Five winter tips"});
        let r = s
            .ok(&t["lena"], "mutation($in: JSON) { startInstance(input: {workflow: \"post-production\", workspace: \"acme\", inputs: $in}) { instance { id } } }", json!({"in": inputs}))
            .await;
        let id = r["startInstance"]["instance"]["id"].as_str().unwrap().to_string();
        settle(&s).await;
        let tasks = open_tasks(&s, &id).await;
        let (copy, copy_title, writer) = tasks["copy"].clone();
        let (visuals, visuals_title, designer) = tasks["visuals"].clone();
        let new_copy = format!("New task: {copy_title}");
        let new_visuals = format!("New task: {visuals_title}");
        // Copy goes round robin and visuals to the least busy designer: each to one person.
        assert_eq!((writer.as_str(), designer.as_str()), ("wanda", "dina"), "{db}");
        assert_eq!(received(&sink, base), expect(&[("wanda", &new_copy), ("dina", &new_visuals)]), "{db}");
        let first = sink.messages()[base..].to_vec();
        assert!(first.iter().all(|m| m["from"] == FROM && m["auto_submitted"] == "auto-generated"), "{db}: {first:?}");
        assert!(
            first.iter().any(|m| m["text"].as_str().unwrap().contains("Five winter tips")),
            "{db}: the brief is in the task mail"
        );

        // Copy and visuals done: the SMM manager is asked to review.
        let mut seen = sink.messages().len();
        complete(&s, &t["wanda"], &copy, json!({"text": "Five winter tips for your balcony", "hashtags": ["winter"]}))
            .await;
        complete(&s, &t["dina"], &visuals, json!({"assets": ["https://cdn.acme.example/winter.png"]})).await;
        settle(&s).await;
        let (review, review_title, _) = open_tasks(&s, &id).await["internal_review"].clone();
        let ask = format!("Your decision is needed: {review_title}");
        assert_eq!(received(&sink, seen), expect(&[("sam", &ask)]), "{db}");

        // Approved inside: the client's posts are batched (4 h in the library);
        // when the window closes the client gets one mail with one link.
        seen = sink.messages().len();
        approve(&s, &t["sam"], &review).await;
        settle(&s).await;
        let (_, client_title, _) = open_tasks(&s, &id).await["client_approval"].clone();
        assert_eq!(received(&sink, seen), Vec::<(String, String)>::new(), "{db}: the batch waits for its window");
        advance_to(&s, monday + chrono::Duration::hours(4)).await;
        settle(&s).await;
        let ask_client = "1 post waiting for your approval (acme)".to_string();
        assert_eq!(received(&sink, seen), expect(&[("olga", &ask_client)]), "{db}");
        let link = link_for(&sink, "olga");
        assert!(link.starts_with(&format!("{}/approve/batch/", s.url)), "{db}: links use the public URL: {link}");

        // The client rejects from the link: the planner hears why, the copywriters rework.
        seen = sink.messages().len();
        let (status, page) = decide_batch(&link, "reject", "Make the headline warmer").await;
        assert_eq!(status, 200, "{db}: {page}");
        assert!(page.contains("Rejected"), "{db}");
        settle(&s).await;
        let (copy2, _, writer2) = open_tasks(&s, &id).await["copy"].clone();
        let rework = format!("Rework (round 2): {copy_title}");
        let back = format!("Sent back for rework: {client_title}");
        assert_eq!(received(&sink, seen), expect(&[("carl", &back), (writer2.as_str(), &rework)]), "{db}");
        let msgs = sink.messages();
        let rework_mail = msgs[seen..].iter().find(|m| m["subject"] == rework.as_str()).unwrap();
        assert!(
            rework_mail["text"].as_str().unwrap().contains("Make the headline warmer"),
            "{db}: the comment travels"
        );

        // Round 2: review again, the client approves from a new link.
        seen = sink.messages().len();
        complete(&s, &t[&writer2], &copy2, json!({"text": "Five cosy winter tips for your balcony"})).await;
        settle(&s).await;
        let (review2, _, _) = open_tasks(&s, &id).await["internal_review"].clone();
        assert_eq!(received(&sink, seen), expect(&[("sam", &ask)]), "{db}");
        seen = sink.messages().len();
        approve(&s, &t["sam"], &review2).await;
        settle(&s).await;
        advance_to(&s, monday + chrono::Duration::hours(8)).await;
        settle(&s).await;
        assert_eq!(received(&sink, seen), expect(&[("olga", &ask_client)]), "{db}");
        let link2 = link_for(&sink, "olga");
        assert_ne!(link, link2, "{db}: every request has its own link");
        seen = sink.messages().len();
        let (status, page) = decide_batch(&link2, "approve", "").await;
        assert_eq!(status, 200, "{db}: {page}");
        settle(&s).await;
        let (schedule, schedule_title, _) = open_tasks(&s, &id).await["schedule"].clone();
        assert_eq!(received(&sink, seen), expect(&[("sam", &format!("New task: {schedule_title}"))]), "{db}");

        // Scheduled, published, checked: the last task, then nothing more.
        seen = sink.messages().len();
        let at = monday + chrono::Duration::hours(8) + chrono::Duration::minutes(30);
        complete(&s, &t["sam"], &schedule, json!({"scheduled_for": at.to_rfc3339()})).await;
        advance_to(&s, at + chrono::Duration::minutes(16)).await;
        settle(&s).await;
        let (verify, verify_title, _) = open_tasks(&s, &id).await["verify_live"].clone();
        assert_eq!(received(&sink, seen), expect(&[("sam", &format!("New task: {verify_title}"))]), "{db}");
        seen = sink.messages().len();
        complete(&s, &t["sam"], &verify, json!({"post_url": "https://vk.com/wall-1_1", "as_planned": true})).await;
        settle(&s).await;
        assert_eq!(received(&sink, seen), Vec::<(String, String)>::new(), "{db}: completion tells nobody by default");
        let r = s.ok(&t["lena"], "query($i: ID!) { instance(id: $i) { status } }", json!({"i": id})).await;
        assert_eq!(r["instance"]["status"], "COMPLETED", "{db}");

        // Every message once; the admins see them all as sent.
        let mine = sink.messages()[base..].to_vec();
        let ids: std::collections::BTreeSet<String> =
            mine.iter().map(|m| m["message_id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids.len(), mine.len(), "{db}: no message twice");
        let r = s
            .ok(
                &s.admin,
                "query($i: ID!) { notifications(filter: {instance: $i, status: [SENT]}, first: 100) { totalCount } }",
                json!({"i": id}),
            )
            .await;
        assert_eq!(r["notifications"]["totalCount"], json!(mine.len()), "{db}");
    }
}

const SIMPLE: &str = "workflow: mail-flow\nname: Mail flow\nroles: {writer: Writes}\nsteps:\n  draft:\n    title: \"Draft {{ inputs.n }}\"\n    role: writer\n    form:\n      text: {type: text, required: true}\ninputs:\n  n: {type: integer, required: true}\n";

async fn setup_simple(s: &Server, people: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    s.ok(&s.admin, "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created } }", json!({"s": SIMPLE}))
        .await;
    let mut all = vec![("lena", "lead")];
    all.extend_from_slice(people);
    s.team("mail", &all).await
}

async fn start_simple(s: &Server, token: &str, n: i64) {
    s.ok(token, "mutation($in: JSON) { startInstance(input: {workflow: \"mail-flow\", workspace: \"mail\", inputs: $in}) { instance { id } } }", json!({"in": {"n": n}}))
        .await;
}

async fn statuses(s: &Server) -> Vec<(String, String, i64)> {
    let r = s.ok(&s.admin, "{ notifications(first: 100) { nodes { recipient status attempts } } }", json!({})).await;
    let mut v: Vec<(String, String, i64)> = r["notifications"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["recipient"].as_str().unwrap().to_string(),
                n["status"].as_str().unwrap().to_string(),
                n["attempts"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn an_smtp_outage_delays_mail_but_loses_and_doubles_none() {
    let Some(mut sink) = SmtpSink::start() else { return };
    for db in databases() {
        let base = sink.messages().len();
        let s = start(db, &sink);
        let t = setup_simple(&s, &[("wanda", "writer"), ("will", "writer"), ("wendy", "writer")]).await;
        sink.stop();
        for n in 1..=4 {
            start_simple(&s, &t["lena"], n).await;
        }
        // Every message is tried, fails, and waits for its retry.
        let started = Instant::now();
        loop {
            let st = statuses(&s).await;
            if st.len() == 12 && st.iter().all(|(_, status, attempts)| status == "FAILED" && *attempts == 1) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{db}: {st:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = s.ok(&s.admin, "{ notifications(first: 1) { nodes { lastError nextAttemptAt } } }", json!({})).await;
        assert!(r["notifications"]["nodes"][0]["lastError"].as_str().unwrap().contains("SMTP"), "{db}: {r}");
        assert_eq!(sink.messages().len(), base, "{db}: nothing arrived while the server was down");

        // The server is back; after the backoff every message arrives once.
        sink.resume();
        let later = now(&s).await + chrono::Duration::minutes(1);
        advance_to(&s, later).await;
        settle(&s).await;
        let got = &sink.messages()[base..];
        assert_eq!(got.len(), 12, "{db}");
        let ids: std::collections::BTreeSet<&str> = got.iter().map(|m| m["message_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 12, "{db}: twelve different messages");
        let mut pairs: Vec<(String, String)> = received(&sink, base);
        pairs.dedup();
        assert_eq!(pairs.len(), 12, "{db}: each person got each draft once: {pairs:?}");
        assert!(statuses(&s).await.iter().all(|(_, st, attempts)| st == "SENT" && *attempts == 2), "{db}");
    }
}

#[tokio::test]
async fn a_refused_address_is_dead_at_once_and_an_admin_can_retry_it() {
    let Some(sink) = SmtpSink::start() else { return };
    for db in databases() {
        let s = start(db, &sink);
        let t = setup_simple(&s, &[("wanda", "writer")]).await;
        s.ok(&s.admin, r#"mutation { createUser(input: {login: "ghost", email: "ghost-bounce@agency.example"}) { userErrors { message } } }"#, json!({})).await;
        s.ok(&s.admin, r#"mutation { addMember(input: {workspace: "mail", user: "ghost", role: "writer"}) { userErrors { message } } }"#, json!({})).await;
        start_simple(&s, &t["lena"], 1).await;
        settle(&s).await;
        let r = s
            .ok(&s.admin, r#"{ notifications(filter: {status: [DEAD]}, first: 10) { totalCount nodes { id recipient attempts lastError event subject } } }"#, json!({}))
            .await;
        let dead = &r["notifications"];
        assert_eq!(dead["totalCount"], 1, "{db}: {r}");
        let n = &dead["nodes"][0];
        assert_eq!(
            (n["recipient"].as_str(), n["attempts"].as_i64(), n["event"].as_str()),
            (Some("ghost-bounce@agency.example"), Some(1), Some("task.created")),
            "{db}"
        );
        assert!(n["lastError"].as_str().unwrap().contains("550"), "{db}: {n}");
        let r = s
            .ok(&s.admin, "mutation($id: ID!) { retryNotification(input: {notificationId: $id}) { notification { status attempts } userErrors { code } } }", json!({"id": n["id"]}))
            .await;
        assert_eq!(r["retryNotification"]["notification"]["attempts"], 0, "{db}: {r}");
        settle(&s).await;
        let r = s
            .ok(
                &s.admin,
                "query($id: ID!) { node(id: $id) { ... on Notification { status attempts } } }",
                json!({"id": n["id"]}),
            )
            .await;
        assert_eq!(r["node"], json!({"status": "DEAD", "attempts": 1}), "{db}: refused again");

        // A sent message cannot be retried; non-admins see nothing; unknown ids are not found.
        let sent =
            s.ok(&s.admin, "{ notifications(filter: {status: [SENT]}, first: 1) { nodes { id } } }", json!({})).await;
        let sent_id = sent["notifications"]["nodes"][0]["id"].clone();
        let r = s
            .ok(&s.admin, "mutation($id: ID!) { retryNotification(input: {notificationId: $id}) { notification { id } userErrors { code field } } }", json!({"id": sent_id}))
            .await;
        assert_eq!(
            r["retryNotification"]["userErrors"],
            json!([{"code": "CONFLICT", "field": ["notificationId"]}]),
            "{db}"
        );
        assert_eq!(
            s.error_code(&t["wanda"], "{ notifications(first: 5) { totalCount } }", json!({})).await,
            "FORBIDDEN"
        );
        assert_eq!(
            s.error_code(
                &s.admin,
                "mutation { retryNotification(input: {notificationId: \"bm9wZQ\"}) { notification { id } } }",
                json!({})
            )
            .await,
            "NOT_FOUND"
        );
    }
}

#[tokio::test]
async fn an_hourly_digest_gathers_a_users_notifications_into_one_message() {
    let Some(sink) = SmtpSink::start() else { return };
    for db in databases() {
        let base = sink.messages().len();
        let s = start(db, &sink);
        let t = setup_simple(&s, &[("wanda", "writer"), ("will", "writer")]).await;
        let r = s
            .ok(
                &t["wanda"],
                "mutation { updateNotificationPreferences(input: {mode: HOURLY}) { user { notificationMode } } }",
                json!({}),
            )
            .await;
        assert_eq!(r["updateNotificationPreferences"]["user"]["notificationMode"], "HOURLY");
        for n in 1..=3 {
            start_simple(&s, &t["lena"], n).await;
        }
        settle(&s).await;
        assert_eq!(
            received(&sink, base),
            expect(&[("will", "New task: Draft 1"), ("will", "New task: Draft 2"), ("will", "New task: Draft 3")]),
            "{db}: immediate for will, nothing yet for wanda"
        );
        assert_eq!(waiting_for_digest(&s).await, 3, "{db}");
        let seen = sink.messages().len();
        let next_hour = now(&s).await + chrono::Duration::hours(1);
        advance_to(&s, next_hour).await;
        settle(&s).await;
        assert_eq!(received(&sink, seen), expect(&[("wanda", "smmflow: 3 updates (hourly)")]), "{db}");
        let digest = sink.messages().pop().unwrap();
        let text = digest["text"].as_str().unwrap();
        for n in 1..=3 {
            assert!(text.contains(&format!("New task: Draft {n}")), "{db}: {text}");
        }
        assert_eq!(waiting_for_digest(&s).await, 0, "{db}");
    }
}

const CLIENT_FLOW: &str = r#"
workflow: client-ok
name: Client approval
roles: {copywriter: Writes, client: Approves}
steps:
  copy:
    title: "Post {{ inputs.n }}"
    role: copywriter
    form:
      text: {type: text, required: true, label: Post text}
      assets: {type: list, items: {type: url}}
  client_approval:
    type: approval
    title: "Please approve post {{ inputs.n }}"
    instructions: "Approve to publish as planned, or tell us what to change."
    role: client
    external: true
    after: [copy]
    on_reject: {goto: copy}
inputs:
  n: {type: integer, required: true}
"#;

/// Starts a client-approval instance, writes the post, and returns (instance id, the client's link).
async fn post_for_client(
    s: &Server,
    sink: &SmtpSink,
    t: &std::collections::HashMap<String, String>,
    n: i64,
) -> (String, String) {
    let r = s
        .ok(&t["lena"], "mutation($in: JSON) { startInstance(input: {workflow: \"client-ok\", workspace: \"shop\", inputs: $in}) { instance { id } } }", json!({"in": {"n": n}}))
        .await;
    let id = r["startInstance"]["instance"]["id"].as_str().unwrap().to_string();
    let (copy, _, _) = open_tasks(s, &id).await["copy"].clone();
    complete(
        s,
        &t["wanda"],
        &copy,
        json!({"text": "Five winter tips", "assets": ["https://cdn.acme.example/winter.png"]}),
    )
    .await;
    settle(s).await;
    (id, link_for(sink, "olga"))
}

async fn task_status(s: &Server, id: &str, step: &str) -> Vec<String> {
    let r =
        s.ok(&s.admin, "query($i: ID!) { instance(id: $i) { tasks { status step { id } } } }", json!({"i": id})).await;
    r["instance"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["step"]["id"] == step)
        .map(|t| t["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_external_client_decides_in_a_real_browser_and_bad_links_change_nothing() {
    let Some(sink) = SmtpSink::start() else { return };
    let python = std::env::var("SMMFLOW_TEST_PYTHON").unwrap();
    let s = start("sqlite", &sink);
    s.ok(
        &s.admin,
        "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created } }",
        json!({"s": CLIENT_FLOW}),
    )
    .await;
    let t = s.team("shop", &[("lena", "lead"), ("wanda", "copywriter"), ("olga", "client")]).await;
    let (approve_id, approve_link) = post_for_client(&s, &sink, &t, 1).await;
    // The second post was rejected once already: its page shows that round's comment.
    let (reject_id, first_link) = post_for_client(&s, &sink, &t, 2).await;
    let (status, _) = decide_by_link(&first_link, "reject", "Make the headline warmer").await;
    assert_eq!(status, 200);
    let (copy, _, _) = open_tasks(&s, &reject_id).await["copy"].clone();
    complete(&s, &t["wanda"], &copy, json!({"text": "Five winter tips, warmer"})).await;
    settle(&s).await;
    let reject_link = link_for(&sink, "olga");
    let (kept_id, kept_link) = post_for_client(&s, &sink, &t, 3).await;
    // Tampered: the same claims with another task number would need a new signature.
    let tampered = {
        let (head, sig) = kept_link.rsplit_once('.').unwrap();
        let flipped = match sig.strip_prefix('A') {
            Some(rest) => format!("B{rest}"),
            None => format!("A{}", sig.get(1..).unwrap()),
        };
        format!("{head}.{flipped}")
    };
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("approval-page");
    std::fs::create_dir_all(&shots).unwrap();
    let env = [
        ("APPROVE_URL", approve_link.clone()),
        ("REJECT_URL", reject_link.clone()),
        ("TAMPERED_URL", tampered.clone()),
        ("SMMFLOW_SHOTS", shots.display().to_string()),
    ];
    support::run_client(&python, "approval_browser.py", &env, "browser checks passed", "approval page").await;

    // What the browser did is what the API shows.
    assert_eq!(task_status(&s, &approve_id, "client_approval").await, ["APPROVED"]);
    let r = s
        .ok(
            &t["lena"],
            "query($i: ID!) { instance(id: $i) { status events { kind actor { login } } } }",
            json!({"i": approve_id}),
        )
        .await;
    assert_eq!(r["instance"]["status"], "COMPLETED");
    let approved = r["instance"]["events"].as_array().unwrap().iter().find(|e| e["kind"] == "task.approved").unwrap();
    assert_eq!(approved["actor"]["login"], "olga", "the decision is the client's");
    assert_eq!(task_status(&s, &reject_id, "client_approval").await, ["REJECTED", "REJECTED"]);
    let r = s
        .ok(
            &t["wanda"],
            "query($i: ID!) { tasks(filter: {instance: $i, status: [OPEN, CLAIMED]}) { nodes { comments { body } } } }",
            json!({"i": reject_id}),
        )
        .await;
    let comments = r["tasks"]["nodes"][0]["comments"].to_string();
    assert!(
        comments.contains("Too dark <b>picture</b>; use the blue one & shorter text"),
        "the comment reaches the rework: {comments}"
    );
    assert_eq!(task_status(&s, &kept_id, "client_approval").await, ["OPEN"], "the tampered link changed nothing");

    // Expired: a week later the untouched link no longer works, and changes nothing.
    let later = now(&s).await + chrono::Duration::days(8);
    advance_to(&s, later).await;
    let page = reqwest::get(&kept_link).await.unwrap();
    assert_eq!(page.status().as_u16(), 410);
    assert!(page.text().await.unwrap().contains("expired"));
    let (status, _) = decide_by_link(&kept_link, "approve", "").await;
    assert_eq!(status, 410);
    assert_eq!(task_status(&s, &kept_id, "client_approval").await, ["OPEN"]);
    // Junk in the path is a clear refusal too.
    let junk = reqwest::get(format!("{}/approve/not-a-token", s.url)).await.unwrap();
    assert_eq!(junk.status().as_u16(), 400);
}

const BROKEN_RULE: &str = "workflow: broken-rule\nname: Broken rule\nroles: {writer: Writes, lead: Leads}\ninputs:\n  n: {type: integer, required: true}\nsteps:\n  draft:\n    title: \"Draft {{ inputs.n }}\"\n    role: writer\nnotify:\n  - on: instance.started\n    to: [\"user:{{ inputs.n // 0 }}\"]\n    subject: never\n    body: never\n";

/// A notice whose recipients cannot be worked out (the rule's template
/// fails) is recorded as dead for the admins, with the reason; the other
/// notices of the instance are mailed as usual.
#[tokio::test]
async fn a_notice_that_cannot_be_expanded_is_recorded_as_dead() {
    for db in databases() {
        let s = Server::start(db);
        let r = s
            .ok(
                &s.admin,
                "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created userErrors { message } } }",
                json!({"s": BROKEN_RULE}),
            )
            .await;
        assert_eq!(r["deployWorkflow"]["userErrors"], json!([]), "{r}");
        let t = s.team("mail", &[("lena", "lead"), ("wanda", "writer")]).await;
        s.ok(&t["lena"], "mutation { startInstance(input: {workflow: \"broken-rule\", workspace: \"mail\", inputs: {n: 7}}) { instance { id } } }", json!({}))
            .await;
        let started = Instant::now();
        loop {
            let r = s
                .ok(
                    &s.admin,
                    "{ notifications(first: 10) { nodes { recipient subject status lastError } } }",
                    json!({}),
                )
                .await;
            let nodes = r["notifications"]["nodes"].as_array().unwrap().clone();
            let dead: Vec<&Value> = nodes.iter().filter(|n| n["status"] == "DEAD").collect();
            let sent = nodes.iter().any(|n| n["status"] == "SENT" && n["recipient"] == "wanda@agency.example");
            if dead.len() == 1 && sent {
                let why = dead[0]["lastError"].as_str().unwrap();
                assert!(why.contains("could not be expanded"), "{why}");
                assert_eq!(nodes.len(), 2, "on {db}: {nodes:?}");
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "on {db}: {nodes:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
