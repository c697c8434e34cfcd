//! `smmflow data copy --to URL`: SQLite to PostgreSQL and back, with work
//! in flight (open tasks, a pending timer, a schedule, sent and queued
//! mail, a used and an unused approval link); an interrupted copy run
//! again; a non-empty target refused.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Server;
use crate::support::smtp::SmtpSink;

pub const FLOW: &str = r#"workflow: moving-post
name: A post whose agency moves to another database
roles: {writer: Writes, client: Approves}
steps:
  draft:
    role: writer
    due: 3h
    form:
      text: {type: text, required: true}
  review:
    type: approval
    role: client
    external: true
    after: [draft]
    on_reject: {goto: draft}
"#;

const START: &str = "mutation($w: String!) { startInstance(input: {workflow: \"moving-post\", workspace: $w}) { instance { id tasks { id status step { id } } } } }";
const COMPLETE: &str = "mutation($t: ID!, $x: String!) { completeTask(input: {taskId: $t, output: {text: $x}}) { userErrors { message } } }";
const EVENTS: &str = "query($id: ID!) { instance(id: $id) { status events { seq kind at actor { login } data } tasks { id status step { id } } } }";
const ADVANCE: &str = "mutation($to: DateTime!) { advanceClock(input: {to: $to}) { fired } }";

/// `smmflow ARGS`: (success, stdout, stderr).
pub fn smmflow(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smmflow"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// The database URL a test server runs on.
pub fn url_of(s: &Server) -> String {
    s.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", s.data_dir().join("smmflow.db").display()))
}

fn open_task(i: &Value, step: &str) -> Value {
    i["tasks"].as_array().unwrap().iter().find(|t| t["step"]["id"] == step && t["status"] == "OPEN").unwrap()["id"]
        .clone()
}

/// Approval links (their `/approve/...` paths, whichever server's address
/// they carry) mailed to `login`, once at least `n` have come (up to 30 s).
async fn links(sink: &SmtpSink, login: &str, n: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let found: Vec<String> = sink
            .messages()
            .into_iter()
            .filter(|m| m["rcpt"][0].as_str().is_some_and(|r| r.starts_with(&format!("{login}@"))))
            .filter_map(|m| {
                let text = m["text"].as_str().unwrap_or_default().to_string();
                text.split_whitespace().find_map(|w| w.find("/approve/").map(|i| w[i..].to_string()))
            })
            .collect();
        if found.len() >= n {
            return found;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{n} approval mails for {login}: {found:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the source held when it stopped.
struct Before {
    tokens: HashMap<String, String>,
    /// Instances: a (draft open), b (draft open, its due timer pending),
    /// c (its link unused), d (its link used), e (its mail queued).
    ids: HashMap<&'static str, String>,
    events: HashMap<String, Value>,
    unused_link: String,
    used_link: String,
    first_fire: chrono::DateTime<chrono::FixedOffset>,
    due_b: chrono::DateTime<chrono::Utc>,
}

/// Work in flight on `s` (mail to `sink`); the sink is stopped at the end
/// with one approval mail still queued.
async fn populate(s: &Server, sink: &mut SmtpSink, ws: &str) -> Before {
    s.deploy(FLOW).await;
    let tokens = s.team(ws, &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
    let now = s.ok(&s.admin, "{ serverTime }", json!({})).await["serverTime"].as_str().unwrap().to_string();
    let now: chrono::DateTime<chrono::Utc> = now.parse().unwrap();
    let mut ids = HashMap::new();
    let mut drafts = HashMap::new();
    for k in ["a", "b", "c", "d"] {
        let i = s.ok(&tokens["lena"], START, json!({"w": ws})).await["startInstance"]["instance"].clone();
        ids.insert(k, i["id"].as_str().unwrap().to_string());
        drafts.insert(k, open_task(&i, "draft"));
    }
    for k in ["c", "d"] {
        s.ok(&tokens["wanda"], COMPLETE, json!({"t": drafts[k], "x": format!("Post {k}")})).await;
    }
    let mailed = links(sink, "olga", 2).await;
    let (unused_link, used_link) = (mailed[0].clone(), mailed[1].clone());
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}{used_link}", s.url))
        .form(&[("decision", "reject"), ("comment", "Shorter, please")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // An hourly schedule that has fired once.
    let made = s
        .ok(&tokens["lena"], "mutation($w: String!) { createSchedule(input: {workflow: \"moving-post\", workspace: $w, cron: \"0 * * * *\", timezone: \"UTC\"}) { schedule { id nextFireAt } userErrors { message } } }", json!({"w": ws}))
        .await;
    let first = made["createSchedule"]["schedule"]["nextFireAt"].as_str().unwrap().to_string();
    let first_fire = chrono::DateTime::parse_from_rfc3339(&first).unwrap();
    s.ok(&s.admin, ADVANCE, json!({"to": (first_fire + chrono::Duration::minutes(1)).to_rfc3339()})).await;
    let listed = s.ok(&tokens["lena"], "{ schedules { runs } }", json!({})).await;
    assert_eq!(listed["schedules"][0]["runs"], 1, "{listed}");
    // Mail that cannot leave: the SMTP server is away.
    sink.stop();
    let e = s.ok(&tokens["lena"], START, json!({"w": ws})).await["startInstance"]["instance"].clone();
    ids.insert("e", e["id"].as_str().unwrap().to_string());
    s.ok(&tokens["wanda"], COMPLETE, json!({"t": open_task(&e, "draft"), "x": "Post e"})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let all = s.ok(&tokens["lena"], "{ instances(first: 50) { nodes { id } } }", json!({})).await;
    let mut events = HashMap::new();
    for n in all["instances"]["nodes"].as_array().unwrap() {
        let id = n["id"].as_str().unwrap().to_string();
        let i = s.ok(&tokens["lena"], EVENTS, json!({"id": id})).await;
        events.insert(id, i["instance"]["events"].clone());
    }
    assert_eq!(events.len(), 6, "five started and one by the schedule");
    Before { tokens, ids, events, unused_link, used_link, first_fire, due_b: now + chrono::Duration::hours(3) }
}

/// The target goes on where the source stopped.
async fn check_target(t: &Server, sink: &mut SmtpSink, before: &Before, label: &str) {
    let tok = &before.tokens;
    // The SMTP server is back (the queued mail is retried when its time comes).
    sink.resume();
    // The same tokens work, and every event log is the same.
    for (id, events) in &before.events {
        let i = t.ok(&tok["lena"], EVENTS, json!({"id": id})).await;
        assert_eq!(&i["instance"]["events"], events, "{label}: the event log of {id}");
    }
    // The open task completes.
    let a = t.ok(&tok["lena"], EVENTS, json!({"id": before.ids["a"]})).await;
    let r = t.ok(&tok["wanda"], COMPLETE, json!({"t": open_task(&a["instance"], "draft"), "x": "Post a"})).await;
    assert_eq!(r["completeTask"]["userErrors"], json!([]), "{label}: {r}");
    // The unused link decides on the new server; the used one stays used.
    let http = reqwest::Client::new();
    let r =
        http.post(format!("{}{}", t.url, before.unused_link)).form(&[("decision", "approve")]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{label}: the unused link");
    let c = t.ok(&tok["lena"], EVENTS, json!({"id": before.ids["c"]})).await;
    assert_eq!(c["instance"]["status"], "COMPLETED", "{label}: {c}");
    let used = http.get(format!("{}{}", t.url, before.used_link)).send().await.unwrap();
    assert_eq!(used.status().as_u16(), 410, "{label}: the used link");
    // The schedule's next fire comes once; the one the source fired does not again.
    t.ok(&t.admin, ADVANCE, json!({"to": (before.first_fire + chrono::Duration::minutes(61)).to_rfc3339()})).await;
    let listed = t.ok(&tok["lena"], "{ schedules { runs lastFires { scheduledFor } } }", json!({})).await;
    assert_eq!(listed["schedules"][0]["runs"], 2, "{label}: {listed}");
    let fires: HashSet<String> = listed["schedules"][0]["lastFires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["scheduledFor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fires.len(), 2, "{label}: {listed}");
    // The pending due timer fires once.
    let overdue =
        |i: &Value| i["instance"]["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "task.overdue").count();
    t.ok(&t.admin, ADVANCE, json!({"to": (before.due_b + chrono::Duration::minutes(1)).to_rfc3339()})).await;
    t.ok(&t.admin, ADVANCE, json!({"to": (before.due_b + chrono::Duration::minutes(90)).to_rfc3339()})).await;
    let b = t.ok(&tok["lena"], EVENTS, json!({"id": before.ids["b"]})).await;
    assert_eq!(overdue(&b), 1, "{label}: {b}");
    // The queued approval mail leaves from the new server, once, and its
    // link decides there; nothing the source sent is sent again.
    // Olga's mails: c's and d's from the source, then a's (its draft done
    // on the new server) and e's (retried after the clock moved); both decide.
    let mailed = links(sink, "olga", 4).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mailed_now = links(sink, "olga", 4).await;
    assert_eq!(mailed_now.len(), 4, "{label}: {mailed_now:?}");
    assert_eq!(&mailed[..2], &[before.unused_link.clone(), before.used_link.clone()], "{label}");
    for link in &mailed[2..] {
        let r = http.post(format!("{}{link}", t.url)).form(&[("decision", "approve")]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{label}: {link}");
    }
    for k in ["a", "e"] {
        let i = t.ok(&tok["lena"], EVENTS, json!({"id": before.ids[k]})).await;
        assert_eq!(i["instance"]["status"], "COMPLETED", "{label}: {k}: {i}");
    }
    let ids: Vec<String> =
        sink.messages().iter().map(|m| m["message_id"].as_str().unwrap_or_default().to_string()).collect();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "{label}: a message sent twice");
}

async fn copy_across(from: &str, to: &str) {
    let Some(mut sink) = SmtpSink::start() else { return };
    let args = ["--smtp-url".to_string(), sink.url(), "--mail-from".into(), "SMM <smm@agency.example>".into()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut s = Server::start_with(from, &args);
    let before = populate(&s, &mut sink, "move").await;
    s.terminate(Duration::from_secs(20)).expect("the source stops");
    let dir = tempfile::tempdir().unwrap();
    let target = if to == "postgres" {
        Server::fresh_postgres()
    } else {
        format!("sqlite://{}", dir.path().join("copy.db").display())
    };
    let (ok, out, err) = smmflow(&["data", "copy", "--database-url", &url_of(&s), "--to", &target], &[]);
    assert!(ok, "{from} -> {to}: {out}\n{err}");
    assert!(out.contains("verified:") && out.contains("6 event logs"), "{out}");
    let t = Server::start_on_with_admin(&target, &s.admin, &args).owning_database();
    check_target(&t, &mut sink, &before, &format!("{from} -> {to}")).await;
}

fn postgres_configured() -> bool {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        crate::support::skipped("SKIPPED: copying to and from PostgreSQL needs SMMFLOW_TEST_POSTGRES_URL");
        return false;
    }
    true
}

#[tokio::test]
async fn a_sqlite_database_copied_to_postgres_goes_on_where_it_stopped() {
    if postgres_configured() {
        copy_across("sqlite", "postgres").await;
    }
}

#[tokio::test]
async fn a_postgres_database_copied_to_sqlite_goes_on_where_it_stopped() {
    if postgres_configured() {
        copy_across("postgres", "sqlite").await;
    }
}

/// Starts some instances over the API (to give a copy something to do).
pub async fn fill(s: &Server, ws: &str, n: usize) -> HashMap<String, String> {
    s.deploy(FLOW).await;
    let t = s.team(ws, &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
    for k in 0..n {
        let i = s.ok(&t["lena"], START, json!({"w": ws})).await["startInstance"]["instance"].clone();
        if k % 2 == 0 {
            s.ok(&t["wanda"], COMPLETE, json!({"t": open_task(&i, "draft"), "x": format!("Post {k}")})).await;
        }
    }
    t
}

#[tokio::test]
async fn an_interrupted_copy_is_refused_by_serve_and_finished_by_running_it_again() {
    let mut s = Server::start("sqlite");
    let tokens = fill(&s, "kill", 60).await;
    s.terminate(Duration::from_secs(20)).expect("the source stops");
    let dir = tempfile::tempdir().unwrap();
    let target = format!("sqlite://{}", dir.path().join("copy.db").display());
    // Slowed down (a pause after every 20 rows) and killed while copying events.
    let mut child = Command::new(env!("CARGO_BIN_EXE_smmflow"))
        .args(["data", "copy", "--database-url", &url_of(&s), "--to", &target, "--batch", "20"])
        .env("SMMFLOW_DATA_COPY_PAUSE_MS", "150")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("the copy reaches the events").unwrap();
        seen.push(line.clone());
        if line.starts_with("copying events:") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // A server does not start on the half copy.
    let (ok, _, err) =
        smmflow(&["migrate", "--database-url", &target, "--data-dir", dir.path().to_str().unwrap()], &[]);
    assert!(!ok && err.contains("did not finish"), "{err}");
    // Run again: it starts over and verifies.
    let (ok, out, err) = smmflow(&["data", "copy", "--database-url", &url_of(&s), "--to", &target], &[]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("unfinished copy") && out.contains("verified:") && out.contains("60 event logs"), "{out}");
    let t = Server::start_on_with_admin(&target, &s.admin, &[]);
    let r = t.ok(&tokens["lena"], "{ instances(first: 100) { totalCount } }", json!({})).await;
    assert_eq!(r["instances"]["totalCount"], 60, "{r}");
    let open = t.ok(&tokens["lena"], "{ tasks(filter: {status: [OPEN]}) { totalCount } }", json!({})).await;
    assert_eq!(open["tasks"]["totalCount"], 60, "30 drafts and 30 approvals: {open}");
}

#[tokio::test]
async fn a_copy_into_a_database_with_data_is_refused_and_changes_nothing() {
    let mut s = Server::start("sqlite");
    fill(&s, "full", 3).await;
    s.terminate(Duration::from_secs(20)).expect("the source stops");
    let mut other = Server::start("sqlite");
    other
        .ok(
            &other.admin,
            "mutation { createWorkspace(input: {key: \"theirs\", name: \"Theirs\"}) { userErrors { message } } }",
            json!({}),
        )
        .await;
    other.terminate(Duration::from_secs(20)).expect("the target stops");
    let (ok, out, err) = smmflow(&["data", "copy", "--database-url", &url_of(&s), "--to", &url_of(&other)], &[]);
    assert!(!ok, "{out}");
    assert!(err.contains("not empty") && err.contains("1 workspaces"), "{err}");
    other.restart();
    let r = other.ok(&other.admin, "{ workspaces { key } }", json!({})).await;
    assert_eq!(r["workspaces"], json!([{"key": "theirs"}]), "nothing of the source arrived: {r}");
    // And a copy onto itself is refused too.
    let (ok, _, err) = smmflow(&["data", "copy", "--database-url", &url_of(&s), "--to", &url_of(&s)], &[]);
    assert!(!ok && err.contains("the same database"), "{err}");
}

#[tokio::test]
async fn a_copy_of_a_source_a_server_is_still_writing_to_is_not_finished() {
    let s = Server::start("sqlite");
    let tokens = fill(&s, "live", 20).await;
    let dir = tempfile::tempdir().unwrap();
    let target = format!("sqlite://{}", dir.path().join("copy.db").display());
    // A slow copy while the server goes on starting instances.
    let child = Command::new(env!("CARGO_BIN_EXE_smmflow"))
        .args(["data", "copy", "--database-url", &url_of(&s), "--to", &target, "--batch", "10"])
        .env("SMMFLOW_DATA_COPY_PAUSE_MS", "100")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..5 {
        s.ok(&tokens["lena"], START, json!({"w": "live"})).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a copy of a moving source finished: {err}");
    assert!(err.contains("the source changed during the copy"), "{err}");
    // The half-made target is marked: no server starts on it.
    let (ok, _, err) =
        smmflow(&["migrate", "--database-url", &target, "--data-dir", dir.path().to_str().unwrap()], &[]);
    assert!(!ok && err.contains("did not finish"), "{err}");
}
