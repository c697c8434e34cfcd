//! The reliability (chaos) suite: real `smmflow serve` processes under load
//! from concurrent GraphQL clients, while the server (SQLite) or one of three
//! replicas (PostgreSQL) is SIGKILLed and restarted, the PostgreSQL server is
//! restarted, or the SMTP server goes away. Afterwards the event log, the
//! tasks and the mail that arrived must show: no acknowledged command lost,
//! no task, event or e-mail duplicated (a message sent twice carries the same
//! Message-ID: delivery is at least once, see docs/operations.md "Mail"), and
//! every instance finished.
//!
//! Short by default (CI); longer with `SMMFLOW_CHAOS_KILLS` (kills or
//! restarts per test, default 3), `SMMFLOW_CHAOS_INSTANCES` (the least number
//! of instances per test, default 40), `SMMFLOW_CHAOS_CLIENTS` (concurrent
//! clients, default 6) and `SMMFLOW_CHAOS_SEED` (the random moments). See
//! docs/benchmarks.md, "Reliability (chaos suite)".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;
use support::pgcluster::PgCluster;
use support::smtp::SmtpSink;

/// One post under chaos: a draft, the SMM manager's review and the client's
/// approval (each rejection reopens the draft), a scheduling wait (a durable
/// timer), then the publishing notice. Approval requests name their round,
/// so every message of an instance has its own subject.
const FLOW: &str = r#"
workflow: chaos-post
name: Chaos post
description: Draft, manager review and client approval with rework, a short wait, a publishing notice.
roles:
  lead: Plans the posts
  copywriter: Writes the post
  smm_manager: Reviews the post
  client: Approves the post
inputs:
  n: {type: integer, required: true}
steps:
  draft:
    title: "Draft post {{ inputs.n }}"
    role: copywriter
    due: 1d
    form:
      text: {type: text, required: true, min_length: 1}
  manager_review:
    type: approval
    title: "Review post {{ inputs.n }}"
    role: smm_manager
    after: [draft]
    due: 4h
    on_reject: {goto: draft, max_rounds: 3}
  client_approval:
    type: approval
    title: "Approve post {{ inputs.n }}"
    role: client
    after: [manager_review]
    due: 2d
    on_reject: {goto: draft, max_rounds: 3}
  go_live:
    type: wait
    after: [client_approval]
    duration: 1s
  publish:
    type: notify
    after: [go_live]
    to: ["role:lead", "role:client"]
    subject: "Published: post {{ inputs.n }}"
    body: "Post {{ inputs.n }} is live."
notify:
  - on: approval.requested
    to: [candidates]
    subject: "Decide (round {{ task.round }}): {{ task.title }}"
    body: "{{ task.title }} waits for your decision."
"#;

const WORKSPACE: &str = "chaos";
const PEOPLE: &[(&str, &str)] =
    &[("lena", "lead"), ("cora", "copywriter"), ("carl", "copywriter"), ("max", "smm_manager"), ("cleo", "client")];

const START: &str = "mutation($in: JSON, $key: String) { startInstance(input: {workflow: \"chaos-post\", workspace: \"chaos\", inputs: $in, idempotencyKey: $key}) { instance { id } userErrors { message } } }";
const READ: &str = "query($id: ID!) { instance(id: $id) { status tasks { id status round step { id } } } }";
const COMPLETE: &str = "mutation($t: ID!, $out: JSON) { completeTask(input: {taskId: $t, output: $out}) { task { status } userErrors { message } } }";
const APPROVE: &str = "mutation($t: ID!) { approveTask(input: {taskId: $t, comment: \"Good\"}) { task { status } userErrors { message } } }";
const REJECT: &str = "mutation($t: ID!) { rejectTask(input: {taskId: $t, comment: \"Make the headline warmer\"}) { task { status } userErrors { message } } }";
const AUDIT: &str = "query($id: ID!) { instance(id: $id) { status inputs tasks { id status round title step { id } } events { seq kind actor { login } data } } }";
const OUTBOX_PROBLEMS: &str = "{ notifications(filter: {status: [PENDING, FAILED, DEAD]}, first: 20) { totalCount nodes { recipient subject event status attempts lastError nextAttemptAt } } }";
const OUTBOX_OF: &str = "query($i: ID) { notifications(filter: {instance: $i}, first: 100) { totalCount nodes { recipient subject event status attempts lastError sentAt } } }";

/// How long a test may wait for anything (a restart, the last mail).
const PATIENCE: Duration = Duration::from_secs(150);

struct Settings {
    kills: usize,
    instances: usize,
    clients: usize,
    seed: u64,
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn settings() -> Settings {
    let seed = env_number(
        "SMMFLOW_CHAOS_SEED",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
    );
    Settings {
        kills: env_number("SMMFLOW_CHAOS_KILLS", 3) as usize,
        instances: env_number("SMMFLOW_CHAOS_INSTANCES", 40).max(1) as usize,
        clients: env_number("SMMFLOW_CHAOS_CLIENTS", 6).max(1) as usize,
        seed,
    }
}

/// xorshift64*: random moments, reproducible with `SMMFLOW_CHAOS_SEED`.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

/// A command the server acknowledged (answered without error).
#[derive(Clone, Debug)]
enum Ack {
    Start { n: u64, instance: String },
    Task { n: u64, instance: String, step: String, round: i64, action: &'static str, actor: &'static str },
}

/// What a client got back.
enum Reply {
    Data(Value),
    /// A refusal with its code (an answer: the command was not applied now).
    Refused(String, Value),
    /// No answer (connection refused or cut, 5xx, `INTERNAL`): not acknowledged.
    Failed(String),
}

/// One simulated person's client over real HTTP, failing over to the next
/// server when its server does not answer.
struct Client {
    http: reqwest::Client,
    urls: Arc<Vec<String>>,
    at: usize,
    tokens: Arc<HashMap<String, String>>,
    acks: Vec<Ack>,
    commands: usize,
    unacked: usize,
    already: usize,
    failovers: usize,
    last_failure: Option<String>,
}

impl Client {
    fn new(urls: Arc<Vec<String>>, at: usize, tokens: Arc<HashMap<String, String>>) -> Client {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(45)).build().unwrap();
        Client {
            http,
            at: at % urls.len(),
            urls,
            tokens,
            acks: Vec::new(),
            commands: 0,
            unacked: 0,
            already: 0,
            failovers: 0,
            last_failure: None,
        }
    }

    fn failover(&mut self) {
        if self.urls.len() > 1 {
            self.at = (self.at + 1) % self.urls.len();
            self.failovers += 1;
        }
    }

    async fn call(&mut self, login: &str, query: &str, variables: Value) -> Reply {
        let url = format!("{}/graphql", self.urls[self.at]);
        let sent = self
            .http
            .post(url)
            .bearer_auth(&self.tokens[login])
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                self.failover();
                return Reply::Failed(format!("no answer: {e}"));
            }
        };
        let status = resp.status();
        if status.is_server_error() {
            return Reply::Failed(format!("HTTP {status}"));
        }
        let body: Value = match resp.json().await {
            Ok(v) => v,
            Err(e) => {
                self.failover();
                return Reply::Failed(format!("the answer was cut: {e}"));
            }
        };
        if let Some(errors) = body.get("errors") {
            let code = errors[0]["extensions"]["code"].as_str().unwrap_or("").to_string();
            if code == "INTERNAL" {
                return Reply::Failed(format!("INTERNAL: {errors}"));
            }
            return Reply::Refused(code, body);
        }
        Reply::Data(body["data"].clone())
    }

    /// A query, retried until some server answers it.
    async fn read(&mut self, login: &str, query: &str, variables: Value) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.call(login, query, variables.clone()).await {
                Reply::Data(d) => return d,
                Reply::Refused(code, body) => panic!("a read was refused ({code}): {body}"),
                Reply::Failed(why) => {
                    assert!(Instant::now() < deadline, "no server answered for {PATIENCE:?}: {why}");
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
            }
        }
    }

    fn not_acknowledged(&mut self, why: String, deadline: Instant) {
        self.unacked += 1;
        assert!(Instant::now() < deadline, "a command was not acknowledged for {PATIENCE:?}: {why}");
        self.last_failure = Some(why);
    }

    /// Starts post `n` (retried with its idempotency key until acknowledged)
    /// and does its human tasks until only the wait and the notice are left.
    async fn run_instance(&mut self, n: u64) {
        let deadline = Instant::now() + PATIENCE;
        let key = format!("chaos-post-{n}");
        let id = loop {
            self.commands += 1;
            match self.call("lena", START, json!({"in": {"n": n}, "key": key})).await {
                Reply::Data(d) => {
                    let p = &d["startInstance"];
                    assert_eq!(p["userErrors"], json!([]), "{p}");
                    let id = p["instance"]["id"].as_str().unwrap().to_string();
                    self.acks.push(Ack::Start { n, instance: id.clone() });
                    break id;
                }
                Reply::Refused(code, body) => panic!("starting post {n} was refused ({code}): {body}"),
                Reply::Failed(why) => {
                    self.not_acknowledged(why, deadline);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        loop {
            let d = self.read("lena", READ, json!({"id": id})).await;
            let inst = &d["instance"];
            let tasks = inst["tasks"].as_array().unwrap();
            let open: Vec<&Value> =
                tasks.iter().filter(|t| t["status"] == "OPEN" || t["status"] == "CLAIMED").collect();
            assert!(open.len() <= 1, "post {n}: more than one open task: {inst}");
            let Some(task) = open.first() else {
                let approved = tasks.iter().any(|t| t["step"]["id"] == "client_approval" && t["status"] == "APPROVED");
                if inst["status"] != "RUNNING" || approved {
                    return;
                }
                assert!(Instant::now() < deadline, "post {n} has no open task and is not done: {inst}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let step = task["step"]["id"].as_str().unwrap().to_string();
            let round = task["round"].as_i64().unwrap();
            let (actor, action) = decide(n, &step, round);
            let t = task["id"].clone();
            let (query, vars) = match action {
                "complete" => (COMPLETE, json!({"t": t, "out": {"text": format!("Post {n}, round {round}")}})),
                "approve" => (APPROVE, json!({"t": t})),
                _ => (REJECT, json!({"t": t})),
            };
            self.commands += 1;
            match self.call(actor, query, vars).await {
                Reply::Data(d) => {
                    let payload = d.as_object().unwrap().values().next().unwrap();
                    assert_eq!(payload["userErrors"], json!([]), "post {n}, {step}: {payload}");
                    self.acks.push(Ack::Task { n, instance: id.clone(), step, round, action, actor });
                }
                // Applied before an answer was lost (a kill, a restart): read again.
                Reply::Refused(code, _) if code == "TASK_ALREADY_COMPLETED" => self.already += 1,
                Reply::Refused(code, body) => {
                    panic!("post {n}, {step} round {round}: {action} refused ({code}): {body}")
                }
                Reply::Failed(why) => {
                    self.not_acknowledged(why, deadline);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Who does a task and how: one rejection by the manager for one post in
/// four, one by the client for another one in four.
fn decide(n: u64, step: &str, round: i64) -> (&'static str, &'static str) {
    match step {
        "draft" => (if n.is_multiple_of(2) { "cora" } else { "carl" }, "complete"),
        "manager_review" => ("max", if round == 1 && n % 4 == 1 { "reject" } else { "approve" }),
        "client_approval" => ("cleo", if round == 1 && n % 4 == 2 { "reject" } else { "approve" }),
        other => panic!("no person does step {other}"),
    }
}

/// The tasks post `n` must end with, in order.
fn expected_steps(n: u64) -> Vec<&'static str> {
    match n % 4 {
        1 => vec!["draft", "manager_review", "draft", "manager_review", "client_approval"],
        2 => vec!["draft", "manager_review", "client_approval", "draft", "manager_review", "client_approval"],
        _ => vec!["draft", "manager_review", "client_approval"],
    }
}

#[derive(Default)]
struct Load {
    acks: Vec<Ack>,
    commands: usize,
    unacked: usize,
    already: usize,
    failovers: usize,
    posts: usize,
}

/// K clients, each driving posts one after another until it has done its
/// share and `chaos_done` is set (so the chaos always happens under load).
fn spawn_load(
    urls: Vec<String>,
    tokens: HashMap<String, String>,
    s: &Settings,
    chaos_done: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Load> {
    let urls = Arc::new(urls);
    let tokens = Arc::new(tokens);
    let share = s.instances.div_ceil(s.clients);
    let next = Arc::new(AtomicU64::new(1));
    let clients: Vec<_> = (0..s.clients)
        .map(|k| {
            let (urls, tokens, next, chaos_done) = (urls.clone(), tokens.clone(), next.clone(), chaos_done.clone());
            tokio::spawn(async move {
                let mut c = Client::new(urls, k, tokens);
                let mut done = 0;
                while done < share || !chaos_done.load(Ordering::SeqCst) {
                    c.run_instance(next.fetch_add(1, Ordering::SeqCst)).await;
                    done += 1;
                }
                (c, done)
            })
        })
        .collect();
    tokio::spawn(async move {
        let mut load = Load::default();
        for h in clients {
            let (c, done) = h.await.unwrap();
            load.acks.extend(c.acks);
            load.commands += c.commands;
            load.unacked += c.unacked;
            load.already += c.already;
            load.failovers += c.failovers;
            load.posts += done;
        }
        load
    })
}

/// What verification found.
struct Verified {
    instances: usize,
    acks: usize,
    events: usize,
    tasks: usize,
    mails: usize,
    resent: usize,
}

/// Checks, after the load: every instance finished; its events numbered
/// 1..=N without gaps; its tasks exactly the expected ones (one per step
/// and round); every acknowledged command in the event log; every expected
/// message arrived, no other, and a message that arrived twice is the same
/// message (same Message-ID, recipient and subject).
async fn verify(server: &Server, load: &Load, sink: &SmtpSink) -> Verified {
    let admin = &server.admin;
    // Timers left by killed processes fire once their lease (5 s) runs out.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = server
            .ok(
                admin,
                "{ instances(filter: {workspace: \"chaos\", status: [RUNNING, SUSPENDED]}, first: 1) { totalCount } }",
                json!({}),
            )
            .await;
        if r["instances"]["totalCount"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "instances still running after {PATIENCE:?}: {r}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // One instance per post, whatever the retries of its start.
    let mut posts: BTreeMap<u64, String> = BTreeMap::new();
    for a in &load.acks {
        if let Ack::Start { n, instance } = a {
            let known = posts.entry(*n).or_insert_with(|| instance.clone());
            assert_eq!(known, instance, "post {n} was started twice under one idempotency key");
        }
    }
    assert_eq!(posts.len(), load.posts, "every post the clients drove was started and acknowledged");
    let total = server
        .ok(admin, "{ instances(filter: {workspace: \"chaos\"}, first: 1) { totalCount } }", json!({}))
        .await["instances"]["totalCount"]
        .as_u64()
        .unwrap();
    assert_eq!(total as usize, posts.len(), "no instance without its post, none twice");

    let email = |login: &str| format!("{login}@agency.example");
    let mut expected_mail: BTreeSet<(String, String)> = BTreeSet::new();
    let mut audits: HashMap<String, Value> = HashMap::new();
    let (mut events_seen, mut tasks_seen) = (0, 0);
    for (n, id) in &posts {
        let d = server.ok(admin, AUDIT, json!({"id": id})).await;
        let inst = d["instance"].clone();
        assert_eq!(inst["status"], "COMPLETED", "post {n}: {inst}");
        assert_eq!(inst["inputs"]["n"], json!(n));
        let events = inst["events"].as_array().unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>(), "post {n}: seq 1..N without gaps or repeats");
        let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count();
        assert_eq!(count("instance.started"), 1, "post {n}");
        assert_eq!(count("instance.completed"), 1, "post {n}");
        assert_eq!(events.last().unwrap()["kind"], "instance.completed", "post {n}");
        // Tasks: exactly the expected ones, one per step and round.
        let tasks = inst["tasks"].as_array().unwrap();
        let steps: Vec<&str> = tasks.iter().map(|t| t["step"]["id"].as_str().unwrap()).collect();
        assert_eq!(steps, expected_steps(*n), "post {n}: {tasks:?}");
        let rounds: BTreeSet<(String, i64)> = tasks
            .iter()
            .map(|t| (t["step"]["id"].as_str().unwrap().to_string(), t["round"].as_i64().unwrap()))
            .collect();
        assert_eq!(rounds.len(), tasks.len(), "post {n}: one task per step and round: {tasks:?}");
        // Each task created once and decided once in the log.
        let mut created: BTreeMap<u64, usize> = BTreeMap::new();
        let mut ended: BTreeMap<u64, usize> = BTreeMap::new();
        for e in events {
            match e["kind"].as_str().unwrap() {
                "task.created" => *created.entry(e["data"]["task"]["no"].as_u64().unwrap()).or_default() += 1,
                "task.completed" | "task.approved" | "task.rejected" => {
                    *ended.entry(e["data"]["task"].as_u64().unwrap()).or_default() += 1
                }
                _ => {}
            }
        }
        assert_eq!(created.len(), tasks.len(), "post {n}: task.created per task");
        assert!(created.values().chain(ended.values()).all(|c| *c == 1), "post {n}: {created:?} {ended:?}");
        assert_eq!(ended.len(), tasks.len(), "post {n}: every task decided once");
        // The mail this post must cause (defaults, and the workflow's rule for approvals).
        for t in tasks {
            let (step, round, title) =
                (t["step"]["id"].as_str().unwrap(), t["round"].as_i64().unwrap(), t["title"].as_str().unwrap());
            let (people, subject): (&[&str], String) = match step {
                "draft" if round == 1 => (&["cora", "carl"], format!("New task: {title}")),
                "draft" => (&["cora", "carl"], format!("Rework (round {round}): {title}")),
                "manager_review" => (&["max"], format!("Decide (round {round}): {title}")),
                _ => (&["cleo"], format!("Decide (round {round}): {title}")),
            };
            for p in people {
                expected_mail.insert((email(p), subject.clone()));
            }
        }
        for p in ["lena", "cleo"] {
            expected_mail.insert((email(p), format!("Published: post {n}")));
        }
        events_seen += events.len();
        tasks_seen += tasks.len();
        audits.insert(id.clone(), inst);
    }

    // Every acknowledged command is in the log, done by whom it says.
    for a in &load.acks {
        let Ack::Task { n, instance, step, round, action, actor } = a else { continue };
        let events = audits[instance]["events"].as_array().unwrap();
        let no = events
            .iter()
            .find(|e| {
                e["kind"] == "task.created"
                    && e["data"]["task"]["step"] == step.as_str()
                    && e["data"]["task"]["round"].as_i64() == Some(*round)
            })
            .unwrap_or_else(|| panic!("post {n}: no task.created for {step} round {round}"))["data"]["task"]["no"]
            .clone();
        let kind = match *action {
            "complete" => "task.completed",
            "approve" => "task.approved",
            _ => "task.rejected",
        };
        assert!(
            events.iter().any(|e| e["kind"] == kind && e["data"]["task"] == no && e["actor"]["login"] == *actor),
            "post {n}: the acknowledged {action} of {step} round {round} by {actor} is not in the log"
        );
    }

    // Mail: at least once, with a stable Message-ID.
    let deadline = Instant::now() + PATIENCE;
    let (ids, pairs) = loop {
        let mut ids: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for m in sink.messages() {
            let rcpt = m["rcpt"].as_array().unwrap();
            assert_eq!(rcpt.len(), 1, "one recipient per message: {m}");
            let pair = (rcpt[0].as_str().unwrap().to_string(), m["subject"].as_str().unwrap().to_string());
            ids.entry(m["message_id"].as_str().unwrap().to_string()).or_default().push(pair);
        }
        let pairs: BTreeSet<(String, String)> = ids.values().flatten().cloned().collect();
        if pairs.is_superset(&expected_mail) {
            break (ids, pairs);
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = expected_mail.difference(&pairs).take(10).collect();
            let outbox = server.ok(admin, OUTBOX_PROBLEMS, json!({})).await;
            let unexpected: Vec<_> = pairs.difference(&expected_mail).take(10).collect();
            let (rcpt, subject) = missing[0];
            let n: u64 = subject.rsplit(' ').next().unwrap().parse().unwrap();
            let listed = server.ok(admin, OUTBOX_OF, json!({"i": posts[&n]})).await;
            let same: Vec<&Value> = listed["notifications"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["recipient"].as_str() == Some(rcpt.as_str()))
                .collect();
            panic!(
                "{} of {} messages arrived; missing e.g. {missing:?}; unexpected: {unexpected:?}; the outbox's problems: {outbox}; the outbox has for {rcpt} about post {n}: {same:?}",
                pairs.len(),
                expected_mail.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let unexpected: Vec<_> = pairs.difference(&expected_mail).take(10).collect();
    assert!(unexpected.is_empty(), "messages nobody should have got: {unexpected:?}");
    for (id, copies) in &ids {
        assert!(copies.iter().all(|c| c == &copies[0]), "{id}: a message sent again is the same message: {copies:?}");
    }
    assert_eq!(ids.len(), expected_mail.len(), "each message has one Message-ID: no message sent twice as two");
    let resent = ids.values().map(|c| c.len() - 1).sum();
    Verified {
        instances: posts.len(),
        acks: load.acks.len(),
        events: events_seen,
        tasks: tasks_seen,
        mails: ids.len(),
        resent,
    }
}

/// Deploys the workflow and makes the team; returns their tokens.
async fn prepare(server: &Server) -> HashMap<String, String> {
    let r = server
        .ok(
            &server.admin,
            "mutation($s: String!) { deployWorkflow(input: {source: $s}) { created userErrors { message } } }",
            json!({"s": FLOW}),
        )
        .await;
    assert_eq!(r["deployWorkflow"]["userErrors"], json!([]), "{r}");
    server.team(WORKSPACE, PEOPLE).await
}

/// Kills and restarts a server off the async threads (a restart waits for readiness).
async fn kill_and_restart(mut server: Server, down: Duration) -> Server {
    tokio::task::spawn_blocking(move || {
        server.kill();
        std::thread::sleep(down);
        server.restart();
        server
    })
    .await
    .unwrap()
}

fn python_available() -> bool {
    if std::env::var("SMMFLOW_TEST_PYTHON").is_err() {
        eprintln!("SKIPPED: SMMFLOW_TEST_PYTHON is not set (scripts/test installs aiosmtpd and sets it)");
        return false;
    }
    true
}

fn postgres_configured() -> bool {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        eprintln!("SKIPPED: this chaos test needs PostgreSQL (SMMFLOW_TEST_POSTGRES_URL is not set)");
        return false;
    }
    true
}

/// The flags every chaos server runs with: the real clock, and leases of
/// 5 s so a killed process's claimed timers and mail are taken over soon.
fn flags(smtp: &str) -> Vec<String> {
    ["--real-clock", "--lease=5", "--outbox-lease=5", "--smtp-url", smtp].iter().map(|s| s.to_string()).collect()
}

/// SQLite: the one server SIGKILLed at random moments under load and
/// restarted on the same data dir and port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_server_sigkilled_under_load_loses_and_doubles_nothing() {
    if !python_available() {
        return;
    }
    let s = settings();
    let started = Instant::now();
    let sink = SmtpSink::start().unwrap();
    let args = flags(&sink.url());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start_with("sqlite", &args);
    let tokens = prepare(&server).await;
    let chaos_done = Arc::new(AtomicBool::new(false));
    let load = spawn_load(vec![server.url.clone()], tokens, &s, chaos_done.clone());
    let mut rng = Rng::new(s.seed);
    for _ in 0..s.kills {
        tokio::time::sleep(rng.millis(800, 3000)).await;
        assert!(!load.is_finished(), "the load ended early (a client failed)");
        server = kill_and_restart(server, rng.millis(0, 500)).await;
    }
    chaos_done.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    assert!(load.unacked > 0, "the kills interrupted no command: they did not happen under load");
    let v = verify(&server, &load, &sink).await;
    eprintln!(
        "chaos sqlite: {} SIGKILLs + restarts (seed {}), {} clients, {} instances, {} commands sent, {} acknowledged, {} not acknowledged and retried, {} found already applied, {} events, {} tasks, {} e-mails ({} arrived twice with the same Message-ID), no loss, no duplicate, {:.1} s",
        s.kills,
        s.seed,
        s.clients,
        v.instances,
        load.commands,
        v.acks,
        load.unacked,
        load.already,
        v.events,
        v.tasks,
        v.mails,
        v.resent,
        started.elapsed().as_secs_f64()
    );
}

/// PostgreSQL: three replicas with the clients spread over them; one of
/// them SIGKILLed and restarted several times (its clients move to another).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replica_sigkilled_under_load_loses_and_doubles_nothing() {
    if !postgres_configured() || !python_available() {
        return;
    }
    let s = settings();
    let started = Instant::now();
    let sink = SmtpSink::start().unwrap();
    let args = flags(&sink.url());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Server::start_with("postgres", &args);
    let b = Server::start_replica_with(&a, &args);
    let c = Server::start_replica_with(&a, &args);
    let tokens = prepare(&a).await;
    let urls = vec![a.url.clone(), b.url.clone(), c.url.clone()];
    let mut replicas = [Some(a), Some(b), Some(c)];
    let chaos_done = Arc::new(AtomicBool::new(false));
    let load = spawn_load(urls, tokens, &s, chaos_done.clone());
    let mut rng = Rng::new(s.seed);
    let mut killed = Vec::new();
    for _ in 0..s.kills {
        tokio::time::sleep(rng.millis(800, 3000)).await;
        assert!(!load.is_finished(), "the load ended early (a client failed)");
        let i = rng.below(3) as usize;
        killed.push(["a", "b", "c"][i]);
        let r = replicas[i].take().unwrap();
        replicas[i] = Some(kill_and_restart(r, rng.millis(200, 1500)).await);
    }
    chaos_done.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    assert!(load.unacked > 0, "the kills interrupted no command: they did not happen under load");
    let v = verify(replicas[0].as_ref().unwrap(), &load, &sink).await;
    eprintln!(
        "chaos postgres replicas: {} SIGKILLs + restarts of one of 3 replicas ({}; seed {}), {} clients ({} fail-overs), {} instances, {} commands sent, {} acknowledged, {} not acknowledged and retried, {} found already applied, {} events, {} tasks, {} e-mails ({} arrived twice with the same Message-ID), no loss, no duplicate, {:.1} s",
        s.kills,
        killed.join(","),
        s.seed,
        s.clients,
        load.failovers,
        v.instances,
        load.commands,
        v.acks,
        load.unacked,
        load.already,
        v.events,
        v.tasks,
        v.mails,
        v.resent,
        started.elapsed().as_secs_f64()
    );
}

/// The server keeps going when its PostgreSQL restarts under load (a fast
/// restart, and an immediate stop then a start: crash recovery): commands
/// fail while it is away, the pool reconnects, the background services
/// (timers, mail, the listener) carry on, and nothing is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_is_survived_by_reconnecting() {
    if !postgres_configured() || !python_available() {
        return;
    }
    let cluster = match PgCluster::start() {
        Ok(c) => c,
        Err(why) => {
            eprintln!("SKIPPED: cannot run a PostgreSQL cluster of the test's own: {why}");
            return;
        }
    };
    let s = settings();
    let started = Instant::now();
    let sink = SmtpSink::start().unwrap();
    let args = flags(&sink.url());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start_on(&cluster.url(), &args);
    let mut replica = Server::start_replica_with(&server, &args);
    let tokens = prepare(&server).await;
    let chaos_done = Arc::new(AtomicBool::new(false));
    let load = spawn_load(vec![server.url.clone(), replica.url.clone()], tokens, &s, chaos_done.clone());
    let mut rng = Rng::new(s.seed);
    let mut restarts = Vec::new();
    for i in 0..s.kills {
        tokio::time::sleep(rng.millis(1000, 3000)).await;
        assert!(!load.is_finished(), "the load ended early (a client failed)");
        let down = rng.millis(300, 2000);
        let outage = Instant::now();
        let done = if i % 2 == 0 {
            restarts.push("restart -m fast");
            cluster.restart_fast()
        } else {
            restarts.push("stop -m immediate + start");
            cluster.stop_immediate().and_then(|()| {
                std::thread::sleep(down);
                cluster.start_server()
            })
        };
        done.unwrap_or_else(|e| panic!("{e}\n{}", cluster.log_text()));
        eprintln!("chaos postgres: {} took {:.1} s", restarts.last().unwrap(), outage.elapsed().as_secs_f64());
    }
    chaos_done.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    assert!(load.unacked > 0, "the restarts interrupted no command: they did not happen under load");
    // Both servers are still the same processes, and ready.
    assert!(server.is_running() && replica.is_running(), "a server exited when PostgreSQL restarted");
    let deadline = Instant::now() + Duration::from_secs(30);
    while support::http_status(&format!("{}/readyz", replica.url)) != Ok(200) {
        assert!(Instant::now() < deadline, "the replica is not ready again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let v = verify(&server, &load, &sink).await;
    eprintln!(
        "chaos postgres restart: {} restarts of PostgreSQL ({}; seed {}) under 2 servers, {} clients, {} instances, {} commands sent, {} acknowledged, {} not acknowledged and retried, {} found already applied, {} events, {} tasks, {} e-mails ({} arrived twice with the same Message-ID), no loss, no duplicate, {:.1} s",
        s.kills,
        restarts.join(", "),
        s.seed,
        s.clients,
        v.instances,
        load.commands,
        v.acks,
        load.unacked,
        load.already,
        v.events,
        v.tasks,
        v.mails,
        v.resent,
        started.elapsed().as_secs_f64()
    );
}

/// The SMTP server goes away under load and comes back on the same port:
/// commands go on, deliveries fail and are retried with backoff (30 s), and
/// every message arrives, none twice as two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_under_load_is_survived() {
    if !python_available() {
        return;
    }
    let s = settings();
    let started = Instant::now();
    let mut sink = SmtpSink::start().unwrap();
    let args = flags(&sink.url());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with("sqlite", &args);
    let tokens = prepare(&server).await;
    let chaos_done = Arc::new(AtomicBool::new(false));
    let load = spawn_load(vec![server.url.clone()], tokens, &s, chaos_done.clone());
    let mut rng = Rng::new(s.seed);
    // Wait for mail to flow, then take the SMTP server away for a while.
    let deadline = Instant::now() + PATIENCE;
    while sink.messages().len() < 10 {
        assert!(Instant::now() < deadline, "no mail is flowing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = sink.messages().len();
    sink.stop();
    let outage = rng.millis(5000, 10000);
    tokio::time::sleep(outage).await;
    let failed = mail_deliveries(&server, "failed").await;
    assert!(failed > 0, "no delivery failed while the SMTP server was away");
    sink.resume();
    chaos_done.store(true, Ordering::SeqCst);
    let load = load.await.unwrap();
    let v = verify(&server, &load, &sink).await;
    eprintln!(
        "chaos smtp outage: SMTP server away for {:.1} s under load ({} messages before; {failed} failed deliveries, retried), {} clients, {} instances, {} commands acknowledged, {} e-mails ({} arrived twice with the same Message-ID), none lost, {:.1} s",
        outage.as_secs_f64(),
        before,
        s.clients,
        v.instances,
        v.acks,
        v.mails,
        v.resent,
        started.elapsed().as_secs_f64()
    );
}

/// `smmflow_mail_deliveries_total{result=...}` from `/metrics`.
async fn mail_deliveries(server: &Server, result: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", server.url)).await.unwrap().text().await.unwrap();
    let prefix = format!("smmflow_mail_deliveries_total{{result=\"{result}\"}}");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |v| v.trim().parse::<f64>().unwrap_or(0.0) as u64)
}
