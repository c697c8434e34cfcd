//! The engine over GraphQL/HTTP: the server's own router on a loopback
//! port, and K concurrent clients (each a person with a token) that start
//! instances and work them through with the contract's mutations. A
//! transition's latency runs from sending the mutation to reading the
//! response that shows the successor task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::{Target, add_user, open_bench, peak_rss_kib, percentile};

const INSTANCE: &str = "id status tasks { id status isApproval }";

struct Client {
    http: reqwest::Client,
    url: String,
    editor: String,
    manager: String,
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

    /// One client's share of instances, each from start to finish.
    async fn run(self, instances: Vec<usize>) -> Result<Vec<Duration>> {
        let mut latencies = Vec::new();
        for n in instances {
            let q = format!(
                "mutation {{ startInstance(input: {{workflow: \"approval-loop\", workspace: \"bench\"}}) {{ instance {{ {INSTANCE} }} userErrors {{ message }} }} }}"
            );
            let data = self.gql(&self.manager, &q, json!({})).await?;
            let mut inst = data["startInstance"]["instance"].clone();
            let mut rejected = false;
            loop {
                let open = inst["tasks"].as_array().and_then(|ts| {
                    ts.iter().find(|t| t["status"] == json!("OPEN") || t["status"] == json!("CLAIMED")).cloned()
                });
                let Some(task) = open else { break };
                let id = task["id"].as_str().ok_or_else(|| anyhow!("a task without an id: {task}"))?;
                let (token, field, q) = if task["isApproval"] == json!(true) {
                    if n % 3 == 0 && !rejected {
                        rejected = true;
                        (&self.manager, "rejectTask", "rejectTask(input: {taskId: $t, comment: \"one more pass\"})")
                    } else {
                        (&self.manager, "approveTask", "approveTask(input: {taskId: $t})")
                    }
                } else {
                    (&self.editor, "completeTask", "completeTask(input: {taskId: $t, output: $o})")
                };
                let (params, vars) = if field == "completeTask" {
                    ("$t: ID!, $o: JSON", json!({"t": id, "o": {"text": format!("post {n}")}}))
                } else {
                    ("$t: ID!", json!({"t": id}))
                };
                let mutation = format!(
                    "mutation({params}) {{ {q} {{ task {{ instance {{ {INSTANCE} }} }} userErrors {{ message code }} }} }}"
                );
                let t = Instant::now();
                let data = self.gql(token, &mutation, vars).await?;
                latencies.push(t.elapsed());
                let errors = &data[field]["userErrors"];
                if errors.as_array().is_some_and(|e| !e.is_empty()) {
                    bail!("instance {n}: {field} refused: {errors}");
                }
                inst = data[field]["task"]["instance"].clone();
            }
            if inst["status"] != json!("COMPLETED") {
                bail!("instance {n} did not finish: {inst}");
            }
        }
        Ok(latencies)
    }
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
    let opts = smmflow_api::server::ServerOptions {
        introspection: false,
        query_cost_per_minute: smmflow_api::limits::DEFAULT_COST_PER_MINUTE,
        body_limit: 1 << 20,
        deployed: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        manual_clock: None,
        public_url: String::new(),
    };
    let app = smmflow_api::server::router(rt.clone(), opts);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/graphql", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let started = Instant::now();
    let mut handles = Vec::new();
    for (c, pair) in tokens.into_iter().enumerate() {
        let [editor, manager]: [String; 2] = pair.try_into().map_err(|_| anyhow!("two tokens per client"))?;
        let client = Client { http: reqwest::Client::new(), url: url.clone(), editor, manager };
        let share: Vec<usize> = (0..instances).filter(|n| n % clients == c).collect();
        handles.push(tokio::spawn(client.run(share)));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    server.abort();
    latencies.sort_unstable();
    let (groups, grouped) = rt.metrics.groups();
    Ok(json!({
        "database": target.name,
        "instances": instances,
        "clients": clients,
        "seconds": secs,
        "instances_per_s": instances as f64 / secs,
        "transitions": latencies.len(),
        "transitions_per_s": latencies.len() as f64 / secs,
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "commits_per_group": if groups > 0 { grouped as f64 / groups as f64 } else { 1.0 },
        "peak_rss_mib": peak_rss_kib() as f64 / 1024.0,
    }))
}
