//! The engine over GraphQL/HTTP as people's clients use it: the server's own
//! router on a loopback port, and K concurrent clients (each an editor and
//! a manager with API tokens). Each client starts an instance, then polls
//! the task list for its next open task, claims it and completes, approves
//! or rejects it (one instance in three rejected once), until nothing is
//! open. A human task's latency runs from sending its completion to reading
//! the poll that shows what comes next. The clients run on threads of
//! their own, so the server's CPU time is measured apart from theirs.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::{Target, add_user, open_bench, peak_rss_kib, percentile};

const POLL: &str =
    "query($i: ID!) { tasks(filter: {instance: $i, status: [OPEN]}, first: 5) { nodes { id isApproval } } }";
const CLAIM: &str =
    "mutation($t: ID!) { claimTask(input: {taskId: $t}) { task { id status } userErrors { message code } } }";
const COMPLETE: &str = "mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { task { id status } userErrors { message code } } }";
const APPROVE: &str =
    "mutation($t: ID!) { approveTask(input: {taskId: $t}) { task { id status } userErrors { message code } } }";
const REJECT: &str = "mutation($t: ID!) { rejectTask(input: {taskId: $t, comment: \"one more pass\"}) { task { id status } userErrors { message code } } }";
const START: &str = "mutation { startInstance(input: {workflow: \"approval-loop\", workspace: \"bench\"}) { instance { id } userErrors { message } } }";
const STATUS: &str = "query($i: ID!) { instance(id: $i) { status } }";

/// The name of the clients' threads (their CPU time is not the server's).
const CLIENT_THREAD: &str = "bench-client";

struct Client {
    http: reqwest::Client,
    url: String,
    editor: String,
    manager: String,
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    latencies: Vec<Duration>,
    requests: usize,
}

impl Client {
    async fn gql(&self, token: &str, query: &str, variables: Value) -> Result<Value> {
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.with_context(|| format!("HTTP {status}"))?;
        if let Some(errors) = body.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(body["data"].clone())
    }

    /// A mutation whose userErrors must be empty.
    async fn act(&self, token: &str, query: &str, field: &str, variables: Value) -> Result<Value> {
        let data = self.gql(token, query, variables).await?;
        let errors = &data[field]["userErrors"];
        if errors.as_array().is_some_and(|e| !e.is_empty()) {
            bail!("{field} refused: {errors}");
        }
        Ok(data)
    }

    /// One client's share of instances, each from start to finish.
    async fn run(self, instances: Vec<usize>) -> Result<Seen> {
        let mut seen = Seen::default();
        for n in instances {
            let data = self.act(&self.manager, START, "startInstance", json!({})).await?;
            seen.requests += 1;
            let id = data["startInstance"]["instance"]["id"]
                .as_str()
                .ok_or_else(|| anyhow!("no instance id: {data}"))?
                .to_string();
            let mut rejected = false;
            let mut sent: Option<Instant> = None;
            loop {
                let data = self.gql(&self.manager, POLL, json!({"i": id})).await?;
                seen.requests += 1;
                if let Some(t) = sent.take() {
                    seen.latencies.push(t.elapsed());
                }
                let Some(task) = data["tasks"]["nodes"].as_array().and_then(|ts| ts.first()).cloned() else { break };
                let t = task["id"].as_str().ok_or_else(|| anyhow!("a task without an id: {task}"))?;
                let approval = task["isApproval"] == json!(true);
                let token = if approval { &self.manager } else { &self.editor };
                self.act(token, CLAIM, "claimTask", json!({"t": t})).await?;
                let (query, field, vars) = if !approval {
                    (COMPLETE, "completeTask", json!({"t": t, "o": {"text": format!("post {n}")}}))
                } else if n % 3 == 0 && !rejected {
                    rejected = true;
                    (REJECT, "rejectTask", json!({"t": t}))
                } else {
                    (APPROVE, "approveTask", json!({"t": t}))
                };
                sent = Some(Instant::now());
                self.act(token, query, field, vars).await?;
                seen.requests += 2;
            }
            let data = self.gql(&self.manager, STATUS, json!({"i": id})).await?;
            if data["instance"]["status"] != json!("COMPLETED") {
                bail!("instance {n} did not finish: {data}");
            }
        }
        Ok(seen)
    }
}

/// CPU seconds (user + system) of this process's threads, split into the
/// clients' and everything else (the server, its database threads).
fn cpu_split() -> (f64, f64) {
    let tick = 100.0; // USER_HZ on Linux
    let (mut clients, mut server) = (0.0, 0.0);
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return (0.0, 0.0) };
    for entry in dir.flatten() {
        let path = entry.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else { continue };
        // Fields after the command name (which may hold spaces) and its ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = [11, 12].iter().filter_map(|&i| f.get(i)?.parse::<f64>().ok()).sum();
        if comm.trim().starts_with(CLIENT_THREAD) {
            clients += ticks / tick;
        } else {
            server += ticks / tick;
        }
    }
    (clients, server)
}

pub async fn run(target: &Target, instances: usize, clients: usize) -> Result<Value> {
    let (rt, store) = open_bench(target).await?;
    let mut tokens = Vec::new();
    for c in 0..clients {
        let mut pair = Vec::new();
        for (login, role) in [(format!("editor{c}"), "editor"), (format!("manager{c}"), "manager")] {
            add_user(&store, &login, role).await?;
            if role == "manager" {
                // Starting an instance over the API takes a lead of the workspace.
                store.add_member("bench", &login, "lead", rt.now()).await?;
            }
            let token = smmflow_api::new_token();
            store.add_token(&smmflow_api::hash_token(&token), &login, "bench", rt.now()).await?;
            pair.push(token);
        }
        tokens.push(pair);
    }
    let (base, server) = crate::serve_loopback(rt.clone()).await?;
    let url = format!("{base}/graphql");

    // The clients on a runtime (and threads) of their own.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()?;
    let (cpu_clients0, cpu_server0) = cpu_split();
    let started = Instant::now();
    let mut handles = Vec::new();
    for (c, pair) in tokens.into_iter().enumerate() {
        let [editor, manager]: [String; 2] = pair.try_into().map_err(|_| anyhow!("two tokens per client"))?;
        let client = Client { http: reqwest::Client::new(), url: url.clone(), editor, manager };
        let share: Vec<usize> = (0..instances).filter(|n| n % clients == c).collect();
        handles.push(client_rt.spawn(client.run(share)));
    }
    let mut latencies = Vec::new();
    let mut requests = 0;
    for h in handles {
        let seen = h.await??;
        latencies.extend(seen.latencies);
        requests += seen.requests;
    }
    let secs = started.elapsed().as_secs_f64();
    let (cpu_clients1, cpu_server1) = cpu_split();
    client_rt.shutdown_background();
    server.abort();
    latencies.sort_unstable();
    let (groups, grouped) = rt.metrics.groups();
    let tasks = latencies.len();
    let server_cpu = cpu_server1 - cpu_server0;
    Ok(json!({
        "database": target.name,
        "instances": instances,
        "clients": clients,
        "seconds": secs,
        "instances_per_s": instances as f64 / secs,
        "transitions": tasks,
        "transitions_per_s": tasks as f64 / secs,
        "requests_per_task": requests as f64 / tasks.max(1) as f64,
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "server_cpu_ms_per_task": server_cpu * 1000.0 / tasks.max(1) as f64,
        "server_cores": server_cpu / secs,
        "client_cores": (cpu_clients1 - cpu_clients0) / secs,
        "commits_per_group": if groups > 0 { grouped as f64 / groups as f64 } else { 1.0 },
        "peak_rss_mib": peak_rss_kib() as f64 / 1024.0,
    }))
}
