//! smmflow-bench: measures the engine through the runtime's command API
//! with simulated workers, on SQLite (a file, WAL) and PostgreSQL, next to
//! the raw insert-and-commit ceiling of the same database. Prints a table
//! and writes JSON to `target/bench/`.
//!
//! `cargo run --release -p smmflow-bench -- engine --db sqlite --instances 600 --workers 4`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use smmflow_engine::{Command, TaskStatus};
use smmflow_runtime::{Options, Runtime, StartRequest, SystemClock};
use smmflow_store::{Store, User};

mod analytics;
mod calendar;
mod console;
mod copy;
mod forecast;
mod http;
mod inbox;
mod memory;
mod timers;
mod validate;

/// The same allocator as the `smmflow` binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub(crate) const WORKLOAD: &str = include_str!("../workloads/approval-loop.yaml");

#[derive(Parser)]
#[command(name = "smmflow-bench")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Sync {
    Full,
    Normal,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Db {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Subcommand)]
enum Mode {
    /// Engine throughput in-process: instances/s, transitions/s, latency, size, RSS, ratio to the ceiling.
    Engine {
        #[arg(long, value_enum, default_value = "both")]
        db: Db,
        #[arg(long, default_value_t = 600)]
        instances: usize,
        #[arg(long, default_value_t = 4)]
        workers: usize,
        /// SQLite durability: `full` (the product's default) or `normal` (opt-in).
        #[arg(long, value_enum, default_value = "full")]
        sync: Sync,
        /// Admin URL of PostgreSQL (a fresh database is created next to it).
        #[arg(long, env = "SMMFLOW_TEST_POSTGRES_URL")]
        postgres_url: Option<String>,
    },
    /// The engine over GraphQL/HTTP: the server's router on a loopback port and
    /// K concurrent clients that poll for their next task, claim it and complete it.
    Http {
        #[arg(long, value_enum, default_value = "both")]
        db: Db,
        #[arg(long, default_value_t = 600)]
        instances: usize,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, env = "SMMFLOW_TEST_POSTGRES_URL")]
        postgres_url: Option<String>,
    },
    /// Timer lateness: `--timers` waits due in the same minute, fired by the timer service.
    Timers {
        #[arg(long, value_enum, default_value = "both")]
        db: Db,
        #[arg(long, default_value_t = 100_000)]
        timers: usize,
        /// Seconds from now to the minute the timers are due in (seeding must end first).
        #[arg(long, default_value_t = 120)]
        lead: u64,
        /// Replicas firing the same timers (PostgreSQL only).
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        #[arg(long, env = "SMMFLOW_TEST_POSTGRES_URL")]
        postgres_url: Option<String>,
    },
    /// Checking and starting large workflows: chains of N steps through the
    /// validator, the stored-definition load, and the engine's start. Pure.
    Validate {
        #[arg(long, value_delimiter = ',', default_value = "1000,2000,4000,8000")]
        steps: Vec<usize>,
    },
    /// Content calendar latency: `publications(filter: {a week}, first: 50)` through
    /// the GraphQL schema with `--publications` across `--workspaces` workspaces.
    Calendar {
        #[arg(long, value_enum, default_value = "both")]
        db: Db,
        #[arg(long, default_value_t = 100_000)]
        publications: usize,
        #[arg(long, default_value_t = 50)]
        workspaces: usize,
        #[arg(long, default_value_t = 500)]
        queries: usize,
        #[arg(long, env = "SMMFLOW_TEST_POSTGRES_URL")]
        postgres_url: Option<String>,
    },
    /// Analytics latency: `analytics(filter:)` for one workspace's month and for
    /// everything, with `--events` events (a year of posts) in the database.
    Analytics {
        #[arg(long, value_enum, default_value = "both")]
        db: Db,
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        #[arg(long, default_value_t = 50)]
        workspaces: usize,
        #[arg(long, default_value_t = 30)]
        queries: usize,
        #[arg(long, env = "SMMFLOW_TEST_POSTGRES_URL")]
        postgres_url: Option<String>,
    },
    /// Forecast accuracy: a simulated team for `--weeks` weeks, forecasts at each
    /// week's start compared with what then happened.
    Forecast {
        #[arg(long, default_value_t = 12)]
        weeks: usize,
        #[arg(long, default_value_t = 20)]
        posts: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Inbox latency: `tasks(filter: {mine: true}, first: 50)` through the GraphQL
    /// schema, with `--finished` completed tasks in the database and `--open` open ones.
    Inbox {
        #[arg(long, value_enum, default_value = "both")]
        db: Db,
        #[arg(long, default_value_t = 10_000)]
        open: usize,
        #[arg(long, default_value_t = 1_000_000)]
        finished: usize,
        #[arg(long, default_value_t = 500)]
        queries: usize,
        #[arg(long, env = "SMMFLOW_TEST_POSTGRES_URL")]
        postgres_url: Option<String>,
    },
    /// The console's first paint in Chromium: `/app` with `--open` open
    /// tasks for the signed-in editor (SQLite only: the paint is the page's).
    Console {
        #[arg(long, default_value_t = 10_000)]
        open: usize,
        #[arg(long, default_value_t = 100_000)]
        finished: usize,
        #[arg(long, default_value_t = 30)]
        loads: usize,
        /// A Python with selenium (scripts/test makes target/test-python).
        #[arg(long, env = "SMMFLOW_TEST_PYTHON", default_value = "target/test-python/bin/python")]
        python: String,
    },
    /// `smmflow data copy`'s rate: `--events` events over `--instances`
    /// instances copied SQLite -> PostgreSQL -> SQLite, verification included.
    Copy {
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        #[arg(long, default_value_t = 20_000)]
        instances: usize,
        #[arg(long, env = "SMMFLOW_TEST_POSTGRES_URL")]
        postgres_url: Option<String>,
    },
    /// The server's memory: `smmflow serve` idle, then with `--instances` running
    /// instances started over the API (resident set of the server process).
    Memory {
        /// The server binary (build it with `cargo build --release -p smmflow`).
        #[arg(long, default_value = "target/release/smmflow")]
        binary: String,
        #[arg(long, default_value_t = 10_000)]
        instances: usize,
        /// Run on PostgreSQL (a fresh database next to this admin URL) instead of SQLite.
        #[arg(long)]
        postgres_url: Option<String>,
    },
}

pub(crate) struct Target {
    name: &'static str,
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the admin URL and the database made for this run,
    /// dropped with the target (a run of 3,000 instances leaves ~65 MB).
    fresh: Option<(String, String)>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.fresh.take() {
            smmflow_store::drop_postgres_database_now(&admin, &name);
        }
    }
}

async fn targets(db: Db, postgres_url: Option<&str>) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    if db != Db::Postgres {
        let dir = tempfile::tempdir()?;
        out.push(Target::sqlite(format!("sqlite://{}/bench.db", dir.path().display()), Some(dir)));
    }
    if db != Db::Sqlite {
        let admin =
            postgres_url.ok_or_else(|| anyhow!("PostgreSQL needs --postgres-url or SMMFLOW_TEST_POSTGRES_URL"))?;
        out.push(Target::fresh_postgres(admin).await?);
    }
    Ok(out)
}

impl Target {
    /// A new, empty PostgreSQL database next to `admin` (its URL), dropped
    /// with the target.
    pub(crate) async fn fresh_postgres(admin: &str) -> Result<Target> {
        let name = format!("smmflow_bench_{}", uuid::Uuid::new_v4().simple());
        let url = smmflow_store::create_postgres_database(admin, &name).await?;
        Ok(Target { name: "postgres", url, _dir: None, fresh: Some((admin.to_string(), name)) })
    }

    pub(crate) fn sqlite(url: String, dir: Option<tempfile::TempDir>) -> Target {
        Target { name: "sqlite", url, _dir: dir, fresh: None }
    }
}

/// The server's own router on a loopback port, as `smmflow serve` builds it
/// (introspection off, the default limits): its base URL, and its task.
pub(crate) async fn serve_loopback(rt: Arc<Runtime>) -> Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let opts = smmflow_api::server::ServerOptions {
        introspection: false,
        query_cost_per_minute: smmflow_api::limits::DEFAULT_COST_PER_MINUTE,
        body_limit: 1 << 20,
        deployed: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        manual_clock: None,
        public_url: base.clone(),
    };
    let app = smmflow_api::server::router(rt, opts);
    Ok((base, tokio::spawn(async move { axum::serve(listener, app).await })))
}

pub(crate) fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// One simulated worker runs its instances from start to finish.
async fn worker(rt: Arc<Runtime>, w: usize, instances: Vec<usize>) -> Result<Vec<Duration>> {
    let editor = format!("editor{w}");
    let manager = format!("manager{w}");
    let mut latencies = Vec::new();
    for n in instances {
        let req = StartRequest {
            workflow: "approval-loop".into(),
            workspace: "bench".into(),
            inputs: json!({}),
            actor: manager.clone(),
            idempotency_key: None,
        };
        let mut inst = rt.system().start(req).await?;
        let mut rejected = false;
        while let Some(task) =
            inst.tasks.iter().find(|t| t.status == TaskStatus::Open || t.status == TaskStatus::Claimed).cloned()
        {
            let (who, cmd) = if task.is_approval() {
                if n % 3 == 0 && !rejected {
                    rejected = true;
                    (&manager, Command::Reject { task: task.no, comment: "one more pass".into(), reasons: vec![] })
                } else {
                    (&manager, Command::Approve { task: task.no, comment: None })
                }
            } else {
                (&editor, Command::Complete { task: task.no, output: json!({"text": format!("post {n}")}) })
            };
            let t = Instant::now();
            inst = rt
                .system()
                .command(inst.id, who, cmd)
                .await
                .with_context(|| format!("instance {n}, task {}", task.no))?;
            latencies.push(t.elapsed());
        }
        anyhow::ensure!(inst.status.is_finished(), "instance {n} did not finish: {:?}", inst.status);
    }
    Ok(latencies)
}

/// The runtime on a target, with the workload deployed and the `bench`
/// workspace, and the bench's own handle on the same database (to seed
/// and to measure: the runtime keeps its store to itself).
pub(crate) async fn open_bench(target: &Target) -> Result<(Arc<Runtime>, Store)> {
    let (rt, _) = Runtime::open(Options {
        database_url: target.url.clone(),
        workflows: None,
        clock: Arc::new(SystemClock),
        node: "bench".into(),
    })
    .await?;
    rt.system().deploy(WORKLOAD, smmflow_runtime::Deployer::System).await?;
    let store = Store::connect(&target.url).await?;
    store.create_workspace("bench", "Bench", rt.now()).await?;
    Ok((rt, store))
}

/// A user with one role in the `bench` workspace.
pub(crate) async fn add_user(store: &Store, login: &str, role: &str) -> Result<()> {
    let now = chrono::Utc::now();
    let user = User {
        login: login.into(),
        email: format!("{login}@bench.example"),
        name: None,
        is_admin: false,
        notification_mode: "immediate".into(),
        can_deploy_workflows: false,
    };
    store.create_user(&user, now).await?;
    store.add_member("bench", login, role, now).await?;
    Ok(())
}

async fn engine(target: &Target, instances: usize, workers: usize) -> Result<serde_json::Value> {
    let (rt, store) = open_bench(target).await?;
    for w in 0..workers {
        add_user(&store, &format!("editor{w}"), "editor").await?;
        add_user(&store, &format!("manager{w}"), "manager").await?;
    }
    let ceiling = store.commit_rate(1000).await?;
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let share: Vec<usize> = (0..instances).filter(|n| n % workers == w).collect();
        handles.push(tokio::spawn(worker(rt.clone(), w, share)));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let transitions = latencies.len() as f64 / secs;
    let bytes = store.database_bytes().await?;
    let (groups, grouped) = rt.metrics.groups();
    Ok(json!({
        "commits_per_group": if groups > 0 { grouped as f64 / groups as f64 } else { 1.0 },
        // The share of groups decided while the one before committed.
        "groups_decided_ahead": if groups > 0 { rt.metrics.groups_ahead() as f64 / groups as f64 } else { 0.0 },
        "database": target.name,
        "instances": instances,
        "workers": workers,
        "seconds": secs,
        "instances_per_s": instances as f64 / secs,
        "transitions": latencies.len(),
        "transitions_per_s": transitions,
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "ceiling_commits_per_s": ceiling,
        "ratio_to_ceiling": transitions / ceiling,
        "db_bytes_per_instance": bytes / instances.max(1) as u64,
        "peak_rss_mib": peak_rss_kib() as f64 / 1024.0,
    }))
}

/// Writes `target/bench/MODE.json` with the date.
fn write_json(mode: &str, results: &[serde_json::Value]) -> Result<()> {
    std::fs::create_dir_all("target/bench")?;
    let path = format!("target/bench/{mode}.json");
    let doc = json!({"mode": mode, "date": chrono::Utc::now().to_rfc3339(), "results": results});
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    println!("\nwritten to {path}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().mode {
        Mode::Validate { steps } => {
            let results = validate::run(&steps)?;
            write_json("validate", &results)?;
        }
        Mode::Calendar { db, publications, workspaces, queries, postgres_url } => {
            println!(
                "calendar latency: publications(a week, first: 50), {publications} publications in {workspaces} workspaces, {queries} queries per caller\n"
            );
            println!(
                "{:<9} {:<8} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9}",
                "db", "caller", "week rows", "p50 ms", "p99 ms", "max ms", "seed s", "DB MiB"
            );
            let sizes = calendar::Sizes { publications, workspaces, queries };
            let mut results = Vec::new();
            for target in targets(db, postgres_url.as_deref()).await? {
                let r = calendar::run(&target, &sizes).await?;
                for who in ["boss", "manager"] {
                    println!(
                        "{:<9} {:<8} {:>10} {:>8.2} {:>8.2} {:>8.2} {:>8.0} {:>9.0}",
                        target.name,
                        who,
                        r[who]["week_total"],
                        r[who]["p50_ms"].as_f64().unwrap_or(0.0),
                        r[who]["p99_ms"].as_f64().unwrap_or(0.0),
                        r[who]["max_ms"].as_f64().unwrap_or(0.0),
                        r["seed_seconds"].as_f64().unwrap_or(0.0),
                        r["db_bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0,
                    );
                }
                results.push(r);
            }
            write_json("calendar", &results)?;
        }
        Mode::Analytics { db, events, workspaces, queries, postgres_url } => {
            println!("analytics latency: {events} events, {workspaces} workspaces, {queries} queries per question\n");
            println!(
                "{:<9} {:<16} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
                "db", "question", "tasks", "p50 ms", "p99 ms", "max ms", "seed s", "DB MiB"
            );
            let sizes = analytics::Sizes { events, workspaces, queries };
            let mut results = Vec::new();
            for target in targets(db, postgres_url.as_deref()).await? {
                let r = analytics::run(&target, &sizes).await?;
                for q in ["workspace_month", "everything"] {
                    println!(
                        "{:<9} {:<16} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.0} {:>9.0}",
                        target.name,
                        q,
                        r[q]["tasks_counted"],
                        r[q]["p50_ms"].as_f64().unwrap_or(0.0),
                        r[q]["p99_ms"].as_f64().unwrap_or(0.0),
                        r[q]["max_ms"].as_f64().unwrap_or(0.0),
                        r["seed_seconds"].as_f64().unwrap_or(0.0),
                        r["db_bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0,
                    );
                }
                results.push(r);
            }
            for r in &results {
                println!(
                    "{:<9} reading the rows of everything: {:.2} ms (p50 of 5)",
                    r["database"].as_str().unwrap_or(""),
                    r["everything"]["read_p50_ms"].as_f64().unwrap_or(0.0)
                );
            }
            write_json("analytics", &results)?;
        }
        Mode::Forecast { weeks, posts, seed } => {
            let r = forecast::run(&forecast::Sizes { weeks, posts, seed })?;
            println!("forecast accuracy: {weeks} weeks x {posts} posts (seed {seed})\n");
            println!(
                "median |predicted - actual| ready time: {:.2} h (after week 1: {:.2} h)",
                r["median_abs_error_hours"].as_f64().unwrap_or(0.0),
                r["median_abs_error_hours_after_week_1"].as_f64().unwrap_or(0.0)
            );
            println!(
                "at-risk flags: {} ({:.0}% right); late posts: {} ({:.0}% flagged)",
                r["at_risk_flags"],
                r["at_risk_precision"].as_f64().unwrap_or(0.0) * 100.0,
                r["late"],
                r["late_flagged_recall"].as_f64().unwrap_or(0.0) * 100.0
            );
            println!(
                "re-forecast each business morning: posts flagged {} ({:.0}% right); late posts flagged {:.0}%",
                r["daily_at_risk_flags"],
                r["daily_at_risk_precision"].as_f64().unwrap_or(0.0) * 100.0,
                r["daily_late_flagged_recall"].as_f64().unwrap_or(0.0) * 100.0
            );
            write_json("forecast", &[r])?;
        }
        Mode::Memory { binary, instances, postgres_url } => {
            let target = match &postgres_url {
                Some(admin) => Some(Target::fresh_postgres(admin).await?),
                None => None,
            };
            let r = memory::run(&binary, target.as_ref().map(|t| t.url.as_str()), instances).await?;
            println!("server memory ({}): {instances} running instances\n", r["database"].as_str().unwrap_or(""));
            println!("{:>12} {:>14} {:>12} {:>10}", "idle MiB", "running MiB", "peak MiB", "start s");
            println!(
                "{:>12.1} {:>14.1} {:>12.1} {:>10.1}",
                r["idle_rss_mib"].as_f64().unwrap_or(0.0),
                r["loaded_rss_mib"].as_f64().unwrap_or(0.0),
                r["peak_rss_mib"].as_f64().unwrap_or(0.0),
                r["start_seconds"].as_f64().unwrap_or(0.0),
            );
            write_json("memory", &[r])?;
        }
        Mode::Console { open, finished, loads, python } => {
            println!(
                "console first paint: /app in Chromium, {open} open and {finished} finished tasks, {loads} loads\n"
            );
            let sizes = console::Sizes { open, finished, loads };
            let target = targets(Db::Sqlite, None).await?.remove(0);
            let r = console::run(&target, &sizes, &python).await?;
            let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
            println!(
                "{:>10} {:>10} {:>12} {:>12} {:>12} {:>12}",
                "cold ms", "FCP p50", "drawn p50", "painted p50", "painted p90", "painted max"
            );
            println!(
                "{:>10.0} {:>10.0} {:>12.0} {:>12.0} {:>12.0} {:>12.0}",
                f("cold_painted_ms"),
                f("fcp_p50_ms"),
                f("rendered_p50_ms"),
                f("painted_p50_ms"),
                f("painted_p90_ms"),
                f("painted_max_ms")
            );
            write_json("console", &[r])?;
        }
        Mode::Inbox { db, open, finished, queries, postgres_url } => {
            println!(
                "inbox latency: tasks(mine, first: 50), {open} open and {finished} finished tasks, {queries} queries\n"
            );
            println!(
                "{:<9} {:>10} {:>8} {:>8} {:>8} {:>10} {:>9}",
                "db", "finished", "p50 ms", "p99 ms", "max ms", "seed s", "DB MiB"
            );
            let sizes = inbox::Sizes { open, finished, queries };
            let mut results = Vec::new();
            for target in targets(db, postgres_url.as_deref()).await? {
                let r = inbox::run(&target, &sizes).await?;
                println!(
                    "{:<9} {:>10} {:>8.2} {:>8.2} {:>8.2} {:>10.0} {:>9.0}",
                    target.name,
                    r["finished_tasks"],
                    r["p50_ms"].as_f64().unwrap_or(0.0),
                    r["p99_ms"].as_f64().unwrap_or(0.0),
                    r["max_ms"].as_f64().unwrap_or(0.0),
                    r["seed_seconds"].as_f64().unwrap_or(0.0),
                    r["db_bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0,
                );
                results.push(r);
            }
            write_json("inbox", &results)?;
        }
        Mode::Http { db, instances, clients, postgres_url } => {
            println!(
                "engine over GraphQL/HTTP: approval-loop, {instances} instances, {clients} clients (poll, claim, complete)\n"
            );
            println!(
                "{:<9} {:>8} {:>7} {:>8} {:>8} {:>10} {:>7} {:>7} {:>8} {:>6}",
                "db", "tasks/s", "req/task", "p50 ms", "p99 ms", "cpu ms/task", "server", "clients", "RSS MiB", "group"
            );
            let mut results = Vec::new();
            for target in targets(db, postgres_url.as_deref()).await? {
                let r = http::run(&target, instances, clients).await?;
                let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
                println!(
                    "{:<9} {:>8.0} {:>7.1} {:>8.2} {:>8.2} {:>10.2} {:>7.2} {:>7.2} {:>8.0} {:>6.1}",
                    target.name,
                    f("transitions_per_s"),
                    f("requests_per_task"),
                    f("p50_ms"),
                    f("p99_ms"),
                    f("server_cpu_ms_per_task"),
                    f("server_cores"),
                    f("client_cores"),
                    f("peak_rss_mib"),
                    f("commits_per_group"),
                );
                results.push(r);
            }
            write_json("http", &results)?;
        }
        Mode::Copy { events, instances, postgres_url } => {
            let admin = postgres_url.ok_or_else(|| anyhow!("the copy benchmark needs --postgres-url"))?;
            println!("data copy: {events} events over {instances} instances, verification included\n");
            println!(
                "{:<20} {:>10} {:>10} {:>9} {:>10} {:>10} {:>8} {:>9}",
                "direction", "rows", "events", "s", "events/s", "rows/s", "RSS MiB", "anon MiB"
            );
            let results = copy::run(events, instances, &admin).await?;
            for r in &results {
                println!(
                    "{:<20} {:>10} {:>10} {:>9.1} {:>10.0} {:>10.0} {:>8.0} {:>9.0}",
                    r["direction"].as_str().unwrap_or(""),
                    r["rows"].as_u64().unwrap_or(0),
                    r["events"].as_u64().unwrap_or(0),
                    r["seconds"].as_f64().unwrap_or(0.0),
                    r["events_per_s"].as_f64().unwrap_or(0.0),
                    r["rows_per_s"].as_f64().unwrap_or(0.0),
                    r["peak_rss_mib"].as_f64().unwrap_or(0.0),
                    r["anon_rss_mib"].as_f64().unwrap_or(0.0),
                );
            }
            write_json("copy", &results)?;
        }
        Mode::Timers { db, timers, lead, replicas, postgres_url } => {
            println!("timer lateness: {timers} timers due in one minute, {lead} s from now, {replicas} replica(s)\n");
            println!("{:<9} {:>8} {:>8} {:>8} {:>8} {:>10}", "db", "timers", "p50 ms", "p99 ms", "max ms", "seed s");
            let mut results = Vec::new();
            for target in targets(db, postgres_url.as_deref()).await? {
                let r = timers::run(&target, timers, Duration::from_secs(lead), replicas).await?;
                println!(
                    "{:<9} {:>8} {:>8.0} {:>8.0} {:>8.0} {:>10.1}",
                    target.name,
                    timers,
                    r["p50_ms"].as_f64().unwrap_or(0.0),
                    r["p99_ms"].as_f64().unwrap_or(0.0),
                    r["max_ms"].as_f64().unwrap_or(0.0),
                    r["seed_seconds"].as_f64().unwrap_or(0.0),
                );
                results.push(r);
            }
            write_json("timers", &results)?;
        }
        Mode::Engine { db, instances, workers, sync, postgres_url } => {
            let sync_name = if sync == Sync::Full { "full" } else { "normal" };
            // The store reads SMMFLOW_SQLITE_SYNC when it connects: run this
            // benchmark again in a process that has it set as asked.
            if std::env::var("SMMFLOW_SQLITE_SYNC").ok().as_deref() != Some(sync_name) {
                let status = std::process::Command::new(std::env::current_exe()?)
                    .args(std::env::args_os().skip(1))
                    .env("SMMFLOW_SQLITE_SYNC", sync_name)
                    .status()?;
                anyhow::ensure!(status.success(), "the benchmark failed: {status}");
                return Ok(());
            }
            println!(
                "engine throughput: approval-loop, {instances} instances, {workers} workers, in-process, SQLite synchronous={sync_name}\n"
            );
            println!(
                "{:<9} {:>10} {:>13} {:>8} {:>8} {:>12} {:>7} {:>11} {:>8} {:>6} {:>6}",
                "db",
                "inst/s",
                "transitions/s",
                "p50 ms",
                "p99 ms",
                "ceiling c/s",
                "ratio",
                "bytes/inst",
                "RSS MiB",
                "group",
                "ahead"
            );
            let mut results = Vec::new();
            for target in targets(db, postgres_url.as_deref()).await? {
                let r = engine(&target, instances, workers).await?;
                println!(
                    "{:<9} {:>10.0} {:>13.0} {:>8.2} {:>8.2} {:>12.0} {:>7.2} {:>11} {:>8.0} {:>6.1} {:>6.2}",
                    target.name,
                    r["instances_per_s"].as_f64().unwrap_or(0.0),
                    r["transitions_per_s"].as_f64().unwrap_or(0.0),
                    r["p50_ms"].as_f64().unwrap_or(0.0),
                    r["p99_ms"].as_f64().unwrap_or(0.0),
                    r["ceiling_commits_per_s"].as_f64().unwrap_or(0.0),
                    r["ratio_to_ceiling"].as_f64().unwrap_or(0.0),
                    r["db_bytes_per_instance"],
                    r["peak_rss_mib"].as_f64().unwrap_or(0.0),
                    r["commits_per_group"].as_f64().unwrap_or(1.0),
                    r["groups_decided_ahead"].as_f64().unwrap_or(0.0),
                );
                results.push(r);
            }
            write_json("engine", &results)?;
        }
    }
    Ok(())
}
