//! The server's memory: the `smmflow serve` binary on a fresh SQLite data
//! directory (or PostgreSQL), its resident set idle after start, then with
//! `--instances` running instances started over the API (each waiting at
//! its first task) and their task list read, and its peak. Read from
//! `/proc/<pid>/status` of the server process, so nothing of the bench is
//! counted.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

/// A server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn rss_mib(pid: u32) -> Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

async fn gql(http: &reqwest::Client, url: &str, token: &str, query: &str, variables: Value) -> Result<Value> {
    let body: Value = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await?
        .json()
        .await?;
    if let Some(e) = body.get("errors") {
        bail!("GraphQL errors: {e}");
    }
    Ok(body["data"].clone())
}

pub async fn run(binary: &str, database_url: Option<&str>, instances: usize) -> Result<Value> {
    let dir = tempfile::tempdir()?;
    let workflows = dir.path().join("workflows");
    std::fs::create_dir_all(&workflows)?;
    std::fs::write(workflows.join("approval-loop.yaml"), crate::WORKLOAD)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut cmd = Command::new(binary);
    cmd.arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--workflows")
        .arg(&workflows)
        .arg("--query-cost-per-minute")
        .arg("0")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(u) = database_url {
        cmd.arg("--database-url").arg(u);
    }
    let server = Server(cmd.spawn().with_context(|| format!("starting {binary}"))?);
    let pid = server.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the server did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = std::fs::read_to_string(dir.path().join("data/admin-token"))?.trim().to_string();
    let url = format!("{base}/graphql");
    gql(&http, &url, &token, "{ viewer { login } }", json!({})).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (idle, _) = rss_mib(pid)?;

    gql(
        &http,
        &url,
        &token,
        "mutation { createWorkspace(input: {key: \"bench\", name: \"Bench\"}) { userErrors { message } } }",
        json!({}),
    )
    .await?;
    let start = "mutation { startInstance(input: {workflow: \"approval-loop\", workspace: \"bench\"}) { instance { id } userErrors { message } } }";
    let started = Instant::now();
    let clients = 16;
    let mut handles = Vec::new();
    for c in 0..clients {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        let n = instances / clients + usize::from(c < instances % clients);
        handles.push(tokio::spawn(async move {
            for _ in 0..n {
                let d = gql(&http, &url, &token, start, json!({})).await?;
                if d["startInstance"]["instance"]["id"].is_null() {
                    return Err(anyhow!("a start was refused: {d}"));
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    let start_secs = started.elapsed().as_secs_f64();
    // Read the open work as people would: the first pages of the task list.
    let page = "{ tasks(filter: {status: [OPEN]}, first: 100) { totalCount nodes { id title dueAt } } }";
    let d = gql(&http, &url, &token, page, json!({})).await?;
    let open = d["tasks"]["totalCount"].as_u64().unwrap_or(0);
    if open < instances as u64 {
        bail!("{open} open tasks, {instances} expected");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (loaded, peak) = rss_mib(pid)?;
    Ok(json!({
        "database": if database_url.is_some() { "postgres" } else { "sqlite" },
        "instances": instances,
        "idle_rss_mib": idle,
        "loaded_rss_mib": loaded,
        "peak_rss_mib": peak,
        "start_seconds": start_secs,
        "open_tasks": open,
    }))
}
