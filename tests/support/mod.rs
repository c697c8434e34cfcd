//! End-to-end support: a real `smmflow serve` process on a free port, on a
//! SQLite file or a fresh PostgreSQL database, and a GraphQL client over
//! real HTTP and WebSocket.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod pgcluster;
pub mod smtp;

pub struct Server {
    pub url: String,
    pub admin: String,
    pub db: String,
    /// The PostgreSQL database it runs on (shared by replicas).
    pub database_url: Option<String>,
    child: Child,
    /// Kept for `restart`: the same data dir, port and flags.
    dir: tempfile::TempDir,
    port: u16,
    extra: Vec<String>,
    /// Its PostgreSQL database was made fresh for it (not a replica's):
    /// dropped with it.
    owns_database: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(url) = self.database_url.as_deref().filter(|_| self.owns_database) {
            drop_pg_database(url);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A test whose dependency is missing says so, and fails when `CI=true`
/// (set by `.ci/run`): CI must run every test, not pass by skipping.
pub fn skipped(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}, and CI=true: every test must run in CI");
    }
    eprintln!("{why}");
}

/// The databases to run a test on: SQLite always, PostgreSQL when configured.
pub fn databases() -> Vec<&'static str> {
    match std::env::var("SMMFLOW_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => vec!["sqlite", "postgres"],
        _ => {
            skipped("SKIPPED on PostgreSQL: SMMFLOW_TEST_POSTGRES_URL is not set (ran on SQLite only)");
            vec!["sqlite"]
        }
    }
}

/// Drops a database `create_pg_database` made (its replicas' connections
/// closed by force), so test runs do not pile databases up on the server.
fn drop_pg_database(url: &str) {
    let admin = std::env::var("SMMFLOW_TEST_POSTGRES_URL").unwrap_or_default();
    let path = url.split('?').next().unwrap_or(url);
    smmflow_store::drop_postgres_database_now(&admin, path.rsplit('/').next().unwrap_or_default());
}

/// A fresh database for this server (on its own thread: callers may be async).
fn create_pg_database() -> String {
    let admin = std::env::var("SMMFLOW_TEST_POSTGRES_URL").unwrap();
    let name = format!("smmflow_e2e_{}", uuid::Uuid::new_v4().simple());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(smmflow_store::create_postgres_database(&admin, &name)).unwrap()
    })
    .join()
    .unwrap()
}

impl Server {
    pub fn start(db: &str) -> Server {
        Server::start_with(db, &[])
    }

    pub fn start_with(db: &str, extra: &[&str]) -> Server {
        let url = (db == "postgres").then(create_pg_database);
        let mut server = Server::spawn(db, url, None, extra);
        server.owns_database = server.database_url.is_some();
        server
    }

    /// Another replica on the same PostgreSQL database.
    pub fn start_replica(of: &Server) -> Server {
        Server::spawn(&of.db, of.database_url.clone(), Some(of.admin.clone()), &[])
    }

    /// Another replica on the same database, with the given flags.
    pub fn start_replica_with(of: &Server, extra: &[&str]) -> Server {
        Server::spawn(&of.db, of.database_url.clone(), Some(of.admin.clone()), extra)
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let started = Instant::now();
        while started.elapsed() < within {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A server on the given PostgreSQL database (e.g. a throw-away cluster of the test's own).
    pub fn start_on(database_url: &str, extra: &[&str]) -> Server {
        Server::spawn("postgres", Some(database_url.to_string()), None, extra)
    }

    /// A server on a database that already has users (a copy, a restored
    /// backup): no admin token is printed there, so the caller names one.
    pub fn start_on_with_admin(database_url: &str, admin: &str, extra: &[&str]) -> Server {
        let db = if database_url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        Server::spawn(db, Some(database_url.to_string()), Some(admin.to_string()), extra)
    }

    /// This server's PostgreSQL database is dropped with it (a database
    /// `fresh_postgres` made for it).
    pub fn owning_database(mut self) -> Server {
        self.owns_database = self.database_url.as_deref().is_some_and(|u| u.starts_with("postgres"));
        self
    }

    /// A fresh PostgreSQL database's URL (SMMFLOW_TEST_POSTGRES_URL must be set).
    pub fn fresh_postgres() -> String {
        create_pg_database()
    }

    /// Starts the server again after `kill` (or a crash): the same data dir,
    /// port, database and flags, as an operator's restart would. Waits until
    /// it is ready.
    pub fn restart(&mut self) {
        self.kill();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        self.child = spawn_process(self.dir.path(), self.port, self.database_url.as_deref(), &extra);
        wait_ready(&self.url);
    }

    fn spawn(db: &str, database_url: Option<String>, admin: Option<String>, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = spawn_process(dir.path(), port, database_url.as_deref(), extra);
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(&url);
        let admin = admin
            .unwrap_or_else(|| std::fs::read_to_string(dir.path().join("admin-token")).unwrap().trim().to_string());
        let extra = extra.iter().map(|s| s.to_string()).collect();
        Server { url, admin, db: db.to_string(), database_url, child, dir, port, extra, owns_database: false }
    }

    /// Sends a GraphQL request; returns the whole response body.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        let client = reqwest::Client::new();
        let mut req =
            client.post(format!("{}/graphql", self.url)).json(&json!({"query": query, "variables": variables}));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        resp.json().await.unwrap()
    }

    /// `data`, panicking on errors.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let r = self.gql(token, query, variables).await;
        assert!(r.get("errors").is_none(), "{} on {}: {r}", query.lines().next().unwrap_or(""), self.db);
        r["data"].clone()
    }

    /// The first error's code.
    pub async fn error_code(&self, token: &str, query: &str, variables: Value) -> String {
        let r = self.gql(token, query, variables).await;
        r["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("expected an error: {r}")).to_string()
    }

    /// Deploys a workflow (or calendar) file as the admin; panics on userErrors.
    pub async fn deploy(&self, source: &str) {
        let r = self
            .ok(
                &self.admin,
                "mutation($s: String!) { deployWorkflow(input: {source: $s}) { userErrors { message } } }",
                json!({"s": source}),
            )
            .await;
        assert_eq!(r["deployWorkflow"]["userErrors"], json!([]), "deploying on {}: {r}", self.db);
    }

    /// Creates users with roles in a workspace and returns their tokens.
    pub async fn team(&self, workspace: &str, people: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        self.ok(
            &self.admin,
            "mutation($k: String!) { createWorkspace(input: {key: $k, name: $k}) { userErrors { message } } }",
            json!({"k": workspace}),
        )
        .await;
        let mut tokens = std::collections::HashMap::new();
        for (login, role) in people {
            if !tokens.contains_key(*login) {
                let r = self
                    .ok(&self.admin, "mutation($l: String!, $e: String!) { createUser(input: {login: $l, email: $e}) { userErrors { message } } }", json!({"l": login, "e": format!("{login}@agency.example")}))
                    .await;
                let _ = r;
                let t = self
                    .ok(
                        &self.admin,
                        "mutation($u: String!) { createApiToken(input: {user: $u, name: \"e2e\"}) { token } }",
                        json!({"u": login}),
                    )
                    .await;
                tokens.insert(login.to_string(), t["createApiToken"]["token"].as_str().unwrap().to_string());
            }
            self.ok(
                &self.admin,
                "mutation($w: String!, $u: String!, $r: String!) { addMember(input: {workspace: $w, user: $u, role: $r}) { userErrors { message } } }",
                json!({"w": workspace, "u": login, "r": role}),
            )
            .await;
        }
        tokens
    }
}

/// Spawns `smmflow serve` on a data dir and port. `extra` may hold the
/// test-only pseudo-flags `--real-clock` (else `--manual-clock`), `--lease=N`
/// (SMMFLOW_TIMER_LEASE_SECONDS) and `--outbox-lease=N` (SMMFLOW_OUTBOX_LEASE_SECONDS).
fn spawn_process(dir: &Path, port: u16, database_url: Option<&str>, extra: &[&str]) -> Child {
    let workflows = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smmflow"));
    let manual = !extra.contains(&"--real-clock");
    // `--lease=N` sets SMMFLOW_TIMER_LEASE_SECONDS for this server.
    let lease = extra.iter().find_map(|a| a.strip_prefix("--lease=")).map(str::to_string);
    // `--outbox-lease=N` sets SMMFLOW_OUTBOX_LEASE_SECONDS.
    let outbox_lease = extra.iter().find_map(|a| a.strip_prefix("--outbox-lease=")).map(str::to_string);
    let extra: Vec<&str> = extra
        .iter()
        .copied()
        .filter(|a| *a != "--real-clock" && !a.starts_with("--lease=") && !a.starts_with("--outbox-lease="))
        .collect();
    if let Some(l) = &lease {
        cmd.env("SMMFLOW_TIMER_LEASE_SECONDS", l);
    }
    if let Some(l) = &outbox_lease {
        cmd.env("SMMFLOW_OUTBOX_LEASE_SECONDS", l);
    }
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(manual.then_some("--manual-clock"))
        .arg("--data-dir")
        .arg(dir)
        .arg("--workflows")
        .arg(&workflows)
        .args(&extra)
        // SMMFLOW_TEST_SERVER_LOG (e.g. `warn`) shows more of the servers' logs when debugging a test.
        .env("RUST_LOG", std::env::var("SMMFLOW_TEST_SERVER_LOG").unwrap_or_else(|_| "error".into()))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(u) = database_url {
        cmd.arg("--database-url").arg(u);
    }
    cmd.spawn().expect("smmflow serve starts")
}

/// Waits (up to 60 s) until `/readyz` answers 200.
fn wait_ready(url: &str) {
    let started = Instant::now();
    loop {
        if let Ok(200) = http_status(&format!("{url}/readyz")) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the server did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The status of a GET, without an async runtime (readiness probes).
pub fn http_status(url: &str) -> Result<u16, String> {
    {
        let url = url.strip_prefix("http://").ok_or("not http")?;
        let (host, path) = url.split_once('/').ok_or("no path")?;
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
        s.write_all(format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).map_err(|e| e.to_string())?;
        buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| "no status".into())
    }
}

/// A form filled as a simulated person would (the demo's sampler).
pub fn form_sample(form: &Value) -> Value {
    smmflow_api::demo::form_sample(form)
}

/// A GraphQL WebSocket subscription client (`graphql-transport-ws`, or the
/// legacy `graphql-ws` protocol).
pub struct Subscription {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    legacy: bool,
}

impl Subscription {
    pub async fn open(
        server: &Server,
        token: &str,
        query: &str,
        variables: Value,
        legacy: bool,
    ) -> Result<Subscription, String> {
        Self::open_offering(server, token, query, variables, legacy, false).await
    }

    /// `offer_both`: the client lists both sub-protocols, preferring the chosen one.
    pub async fn open_offering(
        server: &Server,
        token: &str,
        query: &str,
        variables: Value,
        legacy: bool,
        offer_both: bool,
    ) -> Result<Subscription, String> {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = server.url.replace("http://", "ws://") + "/graphql/ws";
        let mut req = url.into_client_request().map_err(|e| e.to_string())?;
        let proto = match (legacy, offer_both) {
            (true, false) => "graphql-ws",
            (false, false) => "graphql-transport-ws",
            (true, true) => "graphql-ws, graphql-transport-ws",
            (false, true) => "graphql-transport-ws, graphql-ws",
        };
        req.headers_mut().insert("Sec-WebSocket-Protocol", proto.parse().map_err(|_| "bad header".to_string())?);
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.map_err(|e| e.to_string())?;
        let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
        ws.send(Message::Text(init.to_string().into())).await.map_err(|e| e.to_string())?;
        loop {
            let msg =
                tokio::time::timeout(Duration::from_secs(10), ws.next()).await.map_err(|_| "no ack".to_string())?;
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).map_err(|e| e.to_string())?;
                    match v["type"].as_str() {
                        Some("connection_ack") => break,
                        Some("ka") => continue,
                        _ => return Err(format!("refused: {v}")),
                    }
                }
                Some(Ok(Message::Close(f))) => return Err(format!("closed: {f:?}")),
                Some(Ok(_)) => continue,
                other => return Err(format!("{other:?}")),
            }
        }
        let start = if legacy { "start" } else { "subscribe" };
        let sub = json!({"id": "1", "type": start, "payload": {"query": query, "variables": variables}});
        ws.send(Message::Text(sub.to_string().into())).await.map_err(|e| e.to_string())?;
        // Give the server a moment to register the subscription before events happen.
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(Subscription { ws, legacy })
    }

    /// The next `data` payload, or None after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let data_type = if self.legacy { "data" } else { "next" };
        loop {
            let msg = tokio::time::timeout(timeout, self.ws.next()).await.ok()??;
            if let Ok(Message::Text(t)) = msg {
                let v: Value = serde_json::from_str(&t).ok()?;
                if v["type"] == data_type {
                    return Some(v["payload"]["data"].clone());
                }
                if v["type"] == "error" {
                    return Some(json!({"error": v["payload"]}));
                }
            }
        }
    }
}

/// Runs a check script of `tests/clients/` with `program` (the test venv's
/// Python, or `node`) and the given environment; panics with its output,
/// after `context`, unless it exits 0 and prints `expect`. Returns stdout.
pub async fn run_client(program: &str, script: &str, env: &[(&str, String)], expect: &str, context: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(script);
    let out = tokio::process::Command::new(program)
        .arg(&path)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .unwrap_or_else(|e| panic!("{context}: cannot run {program} {script}: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{context}: {script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(expect), "{context}: {script} did not print `{expect}`:\n{stdout}");
    stdout.into_owned()
}

/// POSTs headers announcing a body of `len` bytes, sends the first 64 KiB,
/// and reads the status the server answers with.
pub fn status_of_announced_body(url: &str, token: &str, len: usize) -> u16 {
    use std::io::{Read, Write};
    let host = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(&vec![b' '; 64 * 1024]);
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}
