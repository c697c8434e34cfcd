//! smmflow-runtime: runs the engine's decisions durably.
//!
//! A command is one database transaction: load the instance (locked), let
//! the engine decide, run its actions in the same transaction (timers,
//! outbox rows, children and parents, which are decided in turn), save the
//! instances with a version check, append the events, commit. Only then are
//! the events published to subscribers.
//!
//! `Options -> Runtime::open -> Runtime`: the runtime owns the store, the
//! definition cache, the clock and the event channel.

pub mod access;
pub mod admin;
pub mod analytics;
mod announce;
mod batches;
pub mod calendar;
pub mod clients;
mod clock;
pub mod data;
mod defs;
mod directory;
mod exec;
pub mod feeds;
pub mod forecast;
pub mod health;
pub mod links;
mod mailer;
pub mod metrics;
pub mod reads;
mod remembered;
pub mod schedules;
mod service;
pub mod sessions;
pub mod system;
mod timers;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
pub use smmflow_engine::Code;
use smmflow_engine::{Command, Instance};
use smmflow_spec::Diagnostic;
use smmflow_store::Store;
use tokio::sync::broadcast;
use uuid::Uuid;

pub use clock::{Clock, ManualClock, SystemClock};
pub use defs::{Def, DeployReport, Deployed, content_hash, read_folder};
pub use exec::Committed;
pub use mailer::{MAX_ATTEMPTS, MailConfig, backoff};
pub use service::Service;
pub use smmflow_store::{
    Feed, FireRow, Member, OutboxKind, OutboxRow, OutboxStatus, ProfileVersion, PublicationFilter, PublicationRow,
    PublicationState, ScheduleRow, TaskRow, Token, User, UserChange,
};

/// Why a request was refused or failed. `code()` is the API's error code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Engine(#[from] smmflow_engine::Error),
    /// No valid token: sign in.
    #[error("sign in: send `Authorization: Bearer <token>`")]
    Unauthenticated,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the definition has errors")]
    Invalid(Vec<Diagnostic>),
    #[error("{0}")]
    BadInput(String),
    /// A value of one input field is refused (`field` is its GraphQL name).
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    /// A value of one input field names something that exists already.
    #[error("{field}: {message}")]
    FieldConflict { field: String, message: String },
    /// Problems with parts of the input, each at its path with its own code
    /// (a profile's fields, a plan's items against the posting limits).
    #[error("{}", .0.first().map_or("invalid input", |i| i.message.as_str()))]
    Items(Vec<Issue>),
    #[error("storage: {0}")]
    Store(#[from] smmflow_store::Error),
    #[error("{0}")]
    Internal(String),
    /// Control flow inside a group commit, never returned to a caller: the
    /// job must see the group's writes first (see `work.rs`, `people`).
    #[error("the group must be written first")]
    FlushFirst,
}

impl Error {
    /// The API's code for this error: the one mapping every front end uses.
    pub fn code(&self) -> Code {
        match self {
            Error::Engine(e) => e.code(),
            Error::Unauthenticated => Code::Unauthenticated,
            Error::NotFound(_) | Error::Store(smmflow_store::Error::NotFound(_)) => Code::NotFound,
            Error::Forbidden(_) => Code::Forbidden,
            Error::Conflict(_)
            | Error::FieldConflict { .. }
            | Error::Store(smmflow_store::Error::Conflict(_) | smmflow_store::Error::AlreadyExists(_)) => {
                Code::Conflict
            }
            Error::Invalid(_) | Error::BadInput(_) | Error::Field { .. } => Code::BadUserInput,
            Error::Items(items) => items.first().map_or(Code::BadUserInput, |i| i.code),
            Error::Store(_) | Error::Internal(_) | Error::FlushFirst => Code::Internal,
        }
    }

    /// What a person may be told: the message, except for internal errors
    /// (whose details are logged, not shown).
    pub fn public_message(&self) -> String {
        match self {
            e if e.code() == Code::Internal => "internal error".into(),
            Error::Store(smmflow_store::Error::AlreadyExists(m)) => format!("{m} exists already"),
            Error::Store(smmflow_store::Error::NotFound(m)) => format!("{m} not found"),
            Error::Store(smmflow_store::Error::Conflict(m)) => m.clone(),
            Error::Invalid(d) => format!("the definition has {} problem(s)", d.len()),
            other => other.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem with a part of the input: its path from the input object
/// (e.g. `["profile", "kpis", "0", "target"]`), what is wrong, and its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub path: Vec<String>,
    pub message: String,
    pub code: Code,
}

impl Issue {
    pub fn new(path: Vec<String>, message: impl Into<String>, code: Code) -> Issue {
        Issue { path, message: message.into(), code }
    }

    /// Field errors under a prefix (`profile`), as bad input.
    pub fn fields(prefix: &str, errors: Vec<smmflow_spec::field::FieldError>) -> Vec<Issue> {
        errors
            .into_iter()
            .map(|e| {
                let mut path = vec![prefix.to_string()];
                path.extend(e.path);
                Issue::new(path, e.message, Code::BadUserInput)
            })
            .collect()
    }
}

/// `SMMFLOW_MIN_SCHEDULE_INTERVAL` (a duration such as `1m`, `30s`) in
/// seconds; one minute when unset or unreadable. At most one day: a cron
/// that fires on some days only is never refused for its gaps between days.
fn min_schedule_interval() -> u32 {
    let set = std::env::var("SMMFLOW_MIN_SCHEDULE_INTERVAL").ok();
    match set.as_deref().map(smmflow_spec::Duration::parse) {
        Some(Ok(smmflow_spec::Duration::Wall(s))) => u32::try_from(s.min(86_400)).unwrap_or(86_400),
        Some(_) => {
            tracing::warn!("SMMFLOW_MIN_SCHEDULE_INTERVAL is not a wall-clock duration such as `1m`: using 1m");
            60
        }
        None => 60,
    }
}

/// How to run.
pub struct Options {
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// Deployed at open (a new version only for changed files).
    pub workflows: Option<PathBuf>,
    pub clock: Arc<dyn Clock>,
    /// Names this process in timer and outbox leases.
    pub node: String,
}

/// Who deploys a workflow file.
#[derive(Clone, Copy, Debug)]
pub enum Deployer<'a> {
    /// The start-up deploy of the workflows folder (the operator's files).
    System,
    /// A person allowed to deploy, with the workspaces they lead.
    Person { login: &'a str, admin: bool, leads: &'a [String] },
}

impl Deployer<'_> {
    pub fn login(&self) -> &str {
        match self {
            Deployer::System => "system",
            Deployer::Person { login, .. } => login,
        }
    }
}

/// What starting an instance needs.
#[derive(Clone, Debug)]
pub struct StartRequest {
    pub workflow: String,
    pub workspace: String,
    pub inputs: Value,
    pub actor: String,
    pub idempotency_key: Option<String>,
}

pub struct Runtime {
    pub(crate) store: Store,
    pub(crate) defs: defs::Cache,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) node: String,
    pub(crate) events: broadcast::Sender<Committed>,
    pub metrics: metrics::Metrics,
    /// Which background parts are failing (`/readyz`).
    pub health: health::Health,
    /// Wakes the timer service early (another replica committed work).
    pub(crate) wake: tokio::sync::Notify,
    /// Wakes the mail service (a commit queued notices).
    pub(crate) mail_wake: tokio::sync::Notify,
    /// Bumped when access narrows (a membership removed, a token revoked),
    /// here or on another replica: subscriptions re-check their viewer.
    pub(crate) directory: tokio::sync::watch::Sender<u64>,
    /// The key approval links are signed with, read once.
    pub(crate) link_key: tokio::sync::OnceCell<Arc<Vec<u8>>>,
    /// The shortest time between two fires of a schedule or `repeat`, in
    /// seconds (`SMMFLOW_MIN_SCHEDULE_INTERVAL`, a duration; default `1m`).
    pub(crate) min_schedule_interval: u32,
    /// The group commit's queue (`exec::Mode::Grouped`, the default on
    /// both databases); None runs each request alone
    /// (`SMMFLOW_GROUP_COMMIT=off`).
    pub(crate) committer: Option<exec::Committer>,
    /// Viewers of recently presented tokens (`remembered.rs`).
    pub(crate) sign_ins: remembered::SignIns,
    /// Instances' workspaces (`remembered.rs`).
    pub(crate) homes: remembered::Homes,
}

impl Runtime {
    /// Connects, migrates, and deploys the workflows folder.
    pub async fn open(opts: Options) -> Result<(Arc<Runtime>, Option<DeployReport>)> {
        let store = Store::connect(&opts.database_url).await?;
        store.migrate().await?;
        if store.unfinished_copy().await? {
            return Err(smmflow_store::Error::Setting(
                "this database is the target of a `smmflow data copy` that did not finish: run the copy again".into(),
            )
            .into());
        }
        let (events, _) = broadcast::channel(4096);
        // `SMMFLOW_GROUP_COMMIT=off` runs each command in its own transaction (for comparison).
        let grouped = std::env::var("SMMFLOW_GROUP_COMMIT").map_or(true, |v| v != "off");
        let rt = Arc::new_cyclic(|me| Runtime {
            committer: grouped.then(|| exec::Committer::start(me.clone())),
            store,
            defs: defs::Cache::default(),
            clock: opts.clock,
            node: opts.node,
            events,
            metrics: Default::default(),
            health: Default::default(),
            wake: tokio::sync::Notify::new(),
            mail_wake: tokio::sync::Notify::new(),
            directory: tokio::sync::watch::Sender::new(0),
            link_key: tokio::sync::OnceCell::new(),
            min_schedule_interval: min_schedule_interval(),
            sign_ins: Default::default(),
            homes: Default::default(),
        });
        let report = match &opts.workflows {
            Some(dir) => Some(rt.deploy_folder(dir, "system").await?),
            None => None,
        };
        Ok((rt, report))
    }

    /// Changes of access, as a version number that moves (see `admin.rs`).
    pub fn directory_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.directory.subscribe()
    }

    /// Access narrowed: tells this process's subscriptions, and the other
    /// replicas' (PostgreSQL `NOTIFY`).
    pub(crate) async fn directory_changed(&self) {
        self.directory.send_modify(|v| *v = v.wrapping_add(1));
        if !self.store.is_postgres() {
            return;
        }
        let a = announce::Announcement::Directory { node: self.node.clone() };
        let sent = async {
            let tx = self.store.begin().await?;
            self.announce_in(&tx, &a).await?;
            Ok::<_, Error>(tx.commit().await?)
        };
        if let Err(e) = sent.await {
            tracing::warn!("announcing a directory change to other replicas: {e}");
        }
    }

    /// Looks at the outbox now (a message was queued or retried).
    pub fn wake_mail(&self) {
        self.mail_wake.notify_one();
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Committed events, as they are committed (for subscriptions).
    pub fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.events.subscribe()
    }

    /// Deploys a folder of workflow files; invalid files are refused and reported.
    pub async fn deploy_folder(&self, dir: &std::path::Path, by: &str) -> Result<DeployReport> {
        let sources = read_folder(dir).map_err(|e| Error::BadInput(format!("cannot read {}: {e}", dir.display())))?;
        let report = defs::deploy_sources(&self.store, sources, by, self.now(), self.min_schedule_interval).await?;
        if report.deployed.iter().any(|d| d.kind == "profile" && d.created) {
            // New defaults may change which clients `workspaces:` reaches.
            for key in self.store.latest_documents(smmflow_store::DocumentKind::Workflow).await? {
                self.sync_yaml_schedules(&key.key).await?;
            }
        } else {
            for d in report.deployed.iter().filter(|d| d.kind == "workflow") {
                self.sync_yaml_schedules(&d.key).await?;
            }
        }
        for d in report.diagnostics.iter().filter(|d| d.is_error()) {
            tracing::warn!(file = %d.file, line = d.pos.line, code = %d.code, "{}", d.message);
        }
        Ok(report)
    }

    /// Deploys one workflow or calendar file, checked against what is
    /// deployed. A person needs lead rights in every workspace whose YAML
    /// schedules the file adds, changes or removes (admins in all);
    /// otherwise nothing is deployed.
    pub(crate) async fn deploy(&self, source: &str, by: Deployer<'_>) -> Result<(Deployed, Vec<Diagnostic>)> {
        let prepared = defs::prepare_one(&self.store, source, self.min_schedule_interval).await?;
        // The profile's defaults decide which clients `workspaces:` schedules
        // reach, like those entries themselves: admins only.
        if let (Deployer::Person { admin: false, .. }, "profile") = (&by, prepared.kind) {
            return Err(Error::Forbidden(
                "the profile document (`kind: profile`) shapes every client: only admins deploy it; nothing was deployed"
                    .into(),
            ));
        }
        if let (Some(wf), Deployer::Person { admin: false, leads, .. }) = (&prepared.workflow, &by) {
            let (touched, many) = self.schedule_workspaces_touched(wf).await?;
            if many {
                return Err(Error::Forbidden(
                    "the file's `schedules:` use `workspaces:` (every matching client): only admins deploy those; nothing was deployed"
                        .into(),
                ));
            }
            for ws in touched {
                if !leads.contains(&ws) {
                    return Err(Error::Forbidden(format!(
                        "the file's `schedules:` change workspace `{ws}`, where you are not a lead; nothing was deployed"
                    )));
                }
            }
        }
        let d = defs::save_one(&self.store, &prepared, source, by.login(), self.now()).await?;
        match d.kind {
            "workflow" => self.sync_yaml_schedules(&d.key).await?,
            // Defaults may change which workspaces `workspaces:` matches.
            "profile" if d.created => {
                for key in self.store.latest_documents(smmflow_store::DocumentKind::Workflow).await? {
                    self.sync_yaml_schedules(&key.key).await?;
                }
            }
            _ => {}
        }
        Ok((d, prepared.diagnostics))
    }

    /// Starts an instance; with an idempotency key a retry returns the first instance.
    pub(crate) async fn start(&self, req: StartRequest) -> Result<Instance> {
        let started = std::time::Instant::now();
        let r = self.run_start(req).await;
        self.observe(&r, started);
        match r? {
            exec::StartedOrKnown::Started(state) => Ok(*state),
            exec::StartedOrKnown::Known(id) => self.instance(id).await,
        }
    }

    /// Runs one command on an instance, by `actor`.
    pub(crate) async fn command(&self, instance: Uuid, actor: &str, command: Command) -> Result<Instance> {
        let started = std::time::Instant::now();
        let work = exec::Work::Command { id: instance, actor: actor.to_string(), command };
        let r = self.run(exec::Request::new(work)).await.map(Option::unwrap_or_default);
        self.observe(&r, started);
        match r?.remove(&instance) {
            Some(state) => Ok(state),
            None => self.instance(instance).await,
        }
    }

    pub(crate) fn observe<T>(&self, r: &Result<T>, started: std::time::Instant) {
        let outcome = match r {
            Ok(_) => metrics::Outcome::Ok,
            Err(e) if e.code() == Code::Internal => metrics::Outcome::Failed,
            Err(_) => metrics::Outcome::Refused,
        };
        self.metrics.command(outcome, started.elapsed());
    }

    /// `/metrics`: counters plus gauges read from the database now.
    pub async fn metrics_text(&self) -> Result<String> {
        let now = self.now();
        let open = self
            .store
            .count_tasks(&smmflow_store::TaskFilter {
                statuses: vec!["open".into(), "claimed".into()],
                ..Default::default()
            })
            .await?;
        let overdue =
            self.store.count_tasks(&smmflow_store::TaskFilter { overdue_at: Some(now), ..Default::default() }).await?;
        let backlog = self.store.outbox_backlog().await?;
        Ok(self.metrics.render(open, overdue, backlog, self.health.panics()))
    }

    /// A deployed workflow version (the latest when `version` is None).
    pub async fn definition(&self, key: &str, version: Option<i32>) -> Result<Arc<Def>> {
        let tx = self.store.begin_read().await?;
        let def = self.defs.get(&tx, key, version).await;
        drop(tx);
        def
    }

    pub(crate) async fn instance(&self, id: Uuid) -> Result<Instance> {
        self.store.instance(id).await?.ok_or_else(|| Error::NotFound(format!("instance {id}")))
    }
}
