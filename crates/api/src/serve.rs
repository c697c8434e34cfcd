//! `smmflow serve`: open the runtime, bootstrap an empty database (the
//! organization and an admin whose token is printed once and written to
//! `<data-dir>/admin-token`, mode 0600), bind, deploy the workflows folder,
//! fire timers, and shut down gracefully (in-flight requests finish).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use smmflow_runtime::{MailConfig, Options, Runtime, SystemClock};

use crate::server::{ServerOptions, router};

pub struct ServeConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub workflows: PathBuf,
    pub introspection: bool,
    pub body_limit: usize,
    /// GraphQL cost units a user may spend per minute (0: no limit).
    pub query_cost_per_minute: u32,
    /// Demos and tests: the clock starts at real time and moves only by the
    /// admin-only `advanceClock` mutation.
    pub manual_clock: bool,
    /// `SMMFLOW_SMTP_URL`; without it mail goes to `<data-dir>/outbox` as `.eml` files.
    pub smtp_url: Option<String>,
    /// `SMMFLOW_MAIL_FROM`.
    pub mail_from: Option<String>,
    /// `SMMFLOW_PUBLIC_URL` (default `http://<listen>`).
    pub public_url: Option<String>,
}

/// The SQLite URL of the default database in a data directory.
pub fn default_database_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("smmflow.db").display())
}

/// Opens the runtime for a data dir / URL (creating the data dir).
pub async fn open_runtime(
    data_dir: &Path,
    database_url: Option<&str>,
    workflows: Option<PathBuf>,
) -> Result<Arc<Runtime>, String> {
    open_runtime_with(data_dir, database_url, workflows, Arc::new(SystemClock)).await
}

pub async fn open_runtime_with(
    data_dir: &Path,
    database_url: Option<&str>,
    workflows: Option<PathBuf>,
    clock: Arc<dyn smmflow_runtime::Clock>,
) -> Result<Arc<Runtime>, String> {
    crate::datadir::secure(data_dir)?;
    let url = database_url.map(str::to_string).unwrap_or_else(|| default_database_url(data_dir));
    let node = format!("{}-{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "smmflow".into()), std::process::id());
    let (rt, report) = Runtime::open(Options { database_url: url, workflows, clock, node })
        .await
        .map_err(|e| format!("opening the database: {e}"))?;
    if let Some(r) = report {
        for d in r.deployed.iter().filter(|d| d.created) {
            tracing::info!(kind = d.kind, key = %d.key, version = d.version, "deployed");
        }
    }
    Ok(rt)
}

/// On an empty database: the organization and an admin with a token,
/// printed once and written to `<data-dir>/admin-token` (mode 0600).
pub async fn bootstrap(rt: &Runtime, data_dir: &Path) -> Result<Option<String>, String> {
    let Some(token) = rt.bootstrap_admin().await.map_err(|e| e.to_string())? else { return Ok(None) };
    let path = data_dir.join("admin-token");
    write_secret(&path, &token).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Some(token))
}

fn write_secret(path: &Path, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(format!("{token}\n").as_bytes())
}

pub async fn serve(cfg: ServeConfig) -> Result<(), String> {
    let manual = cfg.manual_clock.then(|| smmflow_runtime::ManualClock::new(chrono::Utc::now()));
    let clock: Arc<dyn smmflow_runtime::Clock> = match &manual {
        Some(m) => Arc::new(m.clone()),
        None => Arc::new(SystemClock),
    };
    if manual.is_some() {
        tracing::warn!("manual clock: time moves only by the advanceClock mutation (demos and tests only)");
    }
    let public_url = cfg.public_url.clone().unwrap_or_else(|| format!("http://{}", cfg.listen));
    let mail =
        MailConfig::new(cfg.smtp_url.as_deref(), cfg.mail_from.as_deref(), &public_url, cfg.data_dir.join("outbox"))?;
    match &mail.transport {
        smmflow_notify::Transport::Files(dir) => {
            tracing::info!("no SMTP server configured: mail is written to {}", dir.display())
        }
        smmflow_notify::Transport::Smtp(_) => tracing::info!("mail goes out by SMTP"),
    }
    let rt = open_runtime_with(&cfg.data_dir, cfg.database_url.as_deref(), None, clock).await?;
    rt.clone().relay_other_replicas().await.map_err(|e| format!("listening for other replicas: {e}"))?;
    if let Some(token) = bootstrap(&rt, &cfg.data_dir).await? {
        println!(
            "First start: created the admin user. Its API token (shown once, also in {}):",
            cfg.data_dir.join("admin-token").display()
        );
        println!("{token}");
    }
    let addr: SocketAddr =
        cfg.listen.parse().map_err(|_| format!("`{}` is not an address like 127.0.0.1:8080", cfg.listen))?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let deployed = Arc::new(AtomicBool::new(false));
    let app = router(
        rt.clone(),
        ServerOptions {
            introspection: cfg.introspection,
            query_cost_per_minute: cfg.query_cost_per_minute,
            body_limit: cfg.body_limit,
            deployed: deployed.clone(),
            manual_clock: manual,
            public_url: public_url.trim_end_matches('/').to_string(),
        },
    );
    println!("smmflow listening on http://{addr} (GraphiQL at /, API at /graphql)");
    let server =
        tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await });
    if cfg.workflows.is_dir() {
        match rt.deploy_folder(&cfg.workflows, "system").await {
            Ok(r) => {
                let created = r.deployed.iter().filter(|d| d.created).count();
                let refused = r.diagnostics.iter().filter(|d| d.is_error()).count();
                tracing::info!(
                    documents = r.deployed.len(),
                    new_versions = created,
                    refused_problems = refused,
                    "deployed {}",
                    cfg.workflows.display()
                );
            }
            Err(e) => tracing::error!("deploying {}: {e}", cfg.workflows.display()),
        }
    } else {
        tracing::warn!("no workflows folder at {}", cfg.workflows.display());
    }
    deployed.store(true, Ordering::SeqCst);
    let timers = rt.clone().spawn_timer_service(Duration::from_millis(500));
    let mailer = rt.clone().spawn_mail_service(mail, Duration::from_secs(1));
    let result = server.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string());
    timers.stop().await;
    mailer.stop().await;
    tracing::info!("stopped");
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Logs: human-readable, or JSON lines with `--log-format json`.
pub fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Colours only on a terminal: a log file or a collector gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    if json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
