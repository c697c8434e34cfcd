//! The load of the chaos suite: the workflow, the team, and K clients that
//! drive posts over real HTTP, failing over between servers and recording
//! what was acknowledged.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Server;

/// One post under chaos: a draft, the SMM manager's review and the client's
/// approval (each rejection reopens the draft), a scheduling wait (a durable
/// timer), then the publishing notice. Approval requests name their round,
/// so every message of an instance has its own subject.
pub(crate) const FLOW: &str = r#"
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

pub(crate) const WORKSPACE: &str = "chaos";
pub(crate) const PEOPLE: &[(&str, &str)] =
    &[("lena", "lead"), ("cora", "copywriter"), ("carl", "copywriter"), ("max", "smm_manager"), ("cleo", "client")];

pub(crate) const START: &str = "mutation($in: JSON, $key: String) { startInstance(input: {workflow: \"chaos-post\", workspace: \"chaos\", inputs: $in, idempotencyKey: $key}) { instance { id } userErrors { message } } }";
pub(crate) const READ: &str = "query($id: ID!) { instance(id: $id) { status tasks { id status round step { id } } } }";
pub(crate) const COMPLETE: &str = "mutation($t: ID!, $out: JSON) { completeTask(input: {taskId: $t, output: $out}) { task { status } userErrors { message } } }";
pub(crate) const APPROVE: &str = "mutation($t: ID!) { approveTask(input: {taskId: $t, comment: \"Good\"}) { task { status } userErrors { message } } }";
pub(crate) const REJECT: &str = "mutation($t: ID!) { rejectTask(input: {taskId: $t, comment: \"Make the headline warmer\"}) { task { status } userErrors { message } } }";
pub(crate) const AUDIT: &str = "query($id: ID!) { instance(id: $id) { status inputs tasks { id status round title step { id } } events { seq kind actor { login } data } } }";
pub(crate) const OUTBOX_PROBLEMS: &str = "{ notifications(filter: {status: [PENDING, FAILED, DEAD]}, first: 20) { totalCount nodes { recipient subject event status attempts lastError nextAttemptAt } } }";
pub(crate) const OUTBOX_OF: &str = "query($i: ID) { notifications(filter: {instance: $i}, first: 100) { totalCount nodes { recipient subject event status attempts lastError sentAt } } }";

/// How long a test may wait for anything (a restart, the last mail).
pub(crate) const PATIENCE: Duration = Duration::from_secs(150);

pub(crate) struct Settings {
    pub(crate) kills: usize,
    pub(crate) instances: usize,
    pub(crate) clients: usize,
    pub(crate) seed: u64,
}

pub(crate) fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

pub(crate) fn settings() -> Settings {
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
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(crate) fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

/// A command the server acknowledged (answered without error).
#[derive(Clone, Debug)]
pub(crate) enum Ack {
    Start { n: u64, instance: String },
    Task { n: u64, instance: String, step: String, round: i64, action: &'static str, actor: &'static str },
}

/// What a client got back.
pub(crate) enum Reply {
    Data(Value),
    /// A refusal with its code (an answer: the command was not applied now).
    Refused(String, Value),
    /// No answer (connection refused or cut, 5xx, `INTERNAL`): not acknowledged.
    Failed(String),
}

/// One simulated person's client over real HTTP, failing over to the next
/// server when its server does not answer.
pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) urls: Arc<Vec<String>>,
    pub(crate) at: usize,
    pub(crate) tokens: Arc<HashMap<String, String>>,
    pub(crate) acks: Vec<Ack>,
    pub(crate) commands: usize,
    pub(crate) unacked: usize,
    pub(crate) already: usize,
    pub(crate) failovers: usize,
    pub(crate) last_failure: Option<String>,
}

impl Client {
    pub(crate) fn new(urls: Arc<Vec<String>>, at: usize, tokens: Arc<HashMap<String, String>>) -> Client {
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

    pub(crate) fn failover(&mut self) {
        if self.urls.len() > 1 {
            self.at = (self.at + 1) % self.urls.len();
            self.failovers += 1;
        }
    }

    pub(crate) async fn call(&mut self, login: &str, query: &str, variables: Value) -> Reply {
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
    pub(crate) async fn read(&mut self, login: &str, query: &str, variables: Value) -> Value {
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

    pub(crate) fn not_acknowledged(&mut self, why: String, deadline: Instant) {
        self.unacked += 1;
        assert!(Instant::now() < deadline, "a command was not acknowledged for {PATIENCE:?}: {why}");
        self.last_failure = Some(why);
    }

    /// Starts post `n` (retried with its idempotency key until acknowledged)
    /// and does its human tasks until only the wait and the notice are left.
    pub(crate) async fn run_instance(&mut self, n: u64) {
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
pub(crate) fn decide(n: u64, step: &str, round: i64) -> (&'static str, &'static str) {
    match step {
        "draft" => (if n.is_multiple_of(2) { "cora" } else { "carl" }, "complete"),
        "manager_review" => ("max", if round == 1 && n % 4 == 1 { "reject" } else { "approve" }),
        "client_approval" => ("cleo", if round == 1 && n % 4 == 2 { "reject" } else { "approve" }),
        other => panic!("no person does step {other}"),
    }
}

/// The tasks post `n` must end with, in order.
pub(crate) fn expected_steps(n: u64) -> Vec<&'static str> {
    match n % 4 {
        1 => vec!["draft", "manager_review", "draft", "manager_review", "client_approval"],
        2 => vec!["draft", "manager_review", "client_approval", "draft", "manager_review", "client_approval"],
        _ => vec!["draft", "manager_review", "client_approval"],
    }
}

#[derive(Default)]
pub(crate) struct Load {
    pub(crate) acks: Vec<Ack>,
    pub(crate) commands: usize,
    pub(crate) unacked: usize,
    pub(crate) already: usize,
    pub(crate) failovers: usize,
    pub(crate) posts: usize,
}

/// K clients, each driving posts one after another until it has done its
/// share and `chaos_done` is set (so the chaos always happens under load).
pub(crate) fn spawn_load(
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

/// Deploys the workflow and makes the team; returns their tokens.
pub(crate) async fn prepare(server: &Server) -> HashMap<String, String> {
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
pub(crate) async fn kill_and_restart(mut server: Server, down: Duration) -> Server {
    tokio::task::spawn_blocking(move || {
        server.kill();
        std::thread::sleep(down);
        server.restart();
        server
    })
    .await
    .unwrap()
}

pub(crate) fn python_available() -> bool {
    if std::env::var("SMMFLOW_TEST_PYTHON").is_err() {
        crate::support::skipped("SKIPPED: SMMFLOW_TEST_PYTHON is not set (scripts/test installs aiosmtpd and sets it)");
        return false;
    }
    true
}

pub(crate) fn postgres_configured() -> bool {
    if std::env::var("SMMFLOW_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        crate::support::skipped("SKIPPED: this chaos test needs PostgreSQL (SMMFLOW_TEST_POSTGRES_URL is not set)");
        return false;
    }
    true
}

/// The flags every chaos server runs with: the real clock, and leases of
/// 5 s so a killed process's claimed timers and mail are taken over soon.
pub(crate) fn flags(smtp: &str) -> Vec<String> {
    ["--real-clock", "--lease=5", "--outbox-lease=5", "--smtp-url", smtp].iter().map(|s| s.to_string()).collect()
}
