//! smmflow-store: the only crate that names sea-orm. Entities are private;
//! the API speaks engine types (instances, events, tasks) and plain data.
//!
//! The same code and migrations run on SQLite (a file in WAL mode, writes
//! in `BEGIN IMMEDIATE` transactions so writers queue instead of failing)
//! and PostgreSQL (row locks, `FOR UPDATE SKIP LOCKED` claims).

mod analytics;
mod batches;
mod bench;
mod bench_history;
mod copy;
mod directory;
mod documents;
mod entity;
mod export;
mod feeds;
mod inbox;
mod instances;
mod outbox;
mod publications;
mod rows;
mod schedules;
mod sessions;
mod timers;
mod workspaces;
mod writes;

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use smmflow_migrations::{Migrator, MigratorTrait};

pub use analytics::{FactFilter, TaskFact};
pub use batches::{Batch, BatchItem};
pub use bench_history::History;
pub use copy::{CopyReport, Progress as CopyProgress, UNFINISHED as UNFINISHED_COPY};
pub use directory::{Member, Token, User, UserChange};
pub use documents::{Document, DocumentKind};
pub use export::{EXPORT_FORMAT, ExportReport};
pub use feeds::Feed;
pub use instances::{InstanceFilter, StoredInstance, TaskFilter, TaskRow, Tx};
pub use outbox::{MESSAGE_KINDS, NewOutbox, NotificationFilter, OutboxKind, OutboxRow, OutboxStatus};
pub use publications::{NewPublication, PublicationFilter, PublicationRow, PublicationState};
pub use schedules::{FireRow, ScheduleRow};
pub use timers::DueTimer;
pub use workspaces::{ProfileVersion, WorkspaceRow};
pub use writes::InstanceWrite;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// Someone else changed it first; retry on fresh state.
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A setting of the store that cannot be used.
    #[error("{0}")]
    Setting(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection pool to the one database.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite has one writer: this process's writers queue here instead of
    /// colliding in `BEGIN IMMEDIATE` and sleeping in SQLite's busy handler.
    writer: Option<Lane>,
    /// Workspaces found to exist (`workspace_exists`; they are never deleted).
    known_workspaces: std::sync::Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
}

/// SQLite's writer lane: the queue, and the one connection its write
/// transactions run on. A connection drops its whole page cache when it
/// finds that another connection wrote since its last transaction; write
/// transactions spread over the pool's connections found their caches cold
/// every time (a page read per b-tree level, from the WAL). On a connection
/// of their own, the pages they wrote stay cached for the next group.
#[derive(Clone)]
struct Lane {
    queue: std::sync::Arc<tokio::sync::Mutex<()>>,
    db: DatabaseConnection,
    /// Write transactions committed through the lane: the group commit's
    /// pipeline checks that nobody else wrote between its read of a group
    /// and the group's write.
    commits: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A write transaction's turn in the lane: held until it ends; its commit
/// is counted.
pub(crate) struct Turn {
    _queue: tokio::sync::OwnedMutexGuard<()>,
    commits: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Turn {
    pub(crate) fn committed(&self) {
        self.commits.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// How SQLite makes a commit durable: `SMMFLOW_SQLITE_SYNC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteSync {
    /// `synchronous=FULL` (the default): an acknowledged command survives a
    /// power cut; the WAL is synced at every commit (group commit pays one
    /// sync per group).
    Full,
    /// `synchronous=NORMAL` (opt-in): faster; a power cut (not a crash of
    /// the process) may lose the last acknowledged commits.
    Normal,
}

impl SqliteSync {
    /// From `SMMFLOW_SQLITE_SYNC` (`full` when unset); another value is an error.
    pub fn from_env() -> Result<SqliteSync> {
        match std::env::var("SMMFLOW_SQLITE_SYNC").ok().as_deref().map(str::trim) {
            None | Some("") | Some("full") => Ok(SqliteSync::Full),
            Some("normal") => Ok(SqliteSync::Normal),
            Some(other) => Err(Error::Setting(format!(
                "SMMFLOW_SQLITE_SYNC must be `full` (the default) or `normal`, not `{other}`"
            ))),
        }
    }
}

impl Store {
    /// Connects to `sqlite://PATH` (created if missing) or `postgres://...`.
    /// SQLite syncs as `SMMFLOW_SQLITE_SYNC` says (`full` by default).
    pub async fn connect(url: &str) -> Result<Store> {
        let sqlite = url.starts_with("sqlite:");
        let sync = match SqliteSync::from_env()? {
            SqliteSync::Full => SqliteSynchronous::Full,
            SqliteSync::Normal => SqliteSynchronous::Normal,
        };
        // `temp_store`: where SQLite keeps temporary tables and journals.
        let options = |connections: u32, temp_store: &'static str| {
            let mut opt = ConnectOptions::new(url.to_string());
            opt.max_connections(connections)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(30))
                .sqlx_logging(false)
                .map_sqlx_sqlite_opts(move |o| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(sync)
                        .busy_timeout(Duration::from_secs(30))
                        .foreign_keys(true)
                        // Pages are read through a memory map instead of a read()
                        // per page, and each connection caches 16 MiB of them.
                        .pragma("mmap_size", "268435456")
                        .pragma("cache_size", "-16384")
                        .pragma("temp_store", temp_store)
                });
            if sqlite {
                // A SQLite connection is pinged before use only after 30 s
                // idle: by default every checkout pings it, one more round
                // trip to its thread per query outside a transaction and per
                // transaction, and a file cannot hang up. (PostgreSQL keeps
                // the ping: after a server restart it keeps requests off the
                // dead connections.)
                opt.test_before_acquire_if_idle_for(Duration::from_secs(30));
            }
            opt
        };
        let db = Database::connect(options(if sqlite { 4 } else { 16 }, "default")).await?;
        let writer = if sqlite {
            let queue = std::sync::Arc::new(tokio::sync::Mutex::new(()));
            // An in-memory database exists once per pool: its lane stays on it.
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let lane = if in_memory {
                db.clone()
            } else {
                // The statement journal SQLite keeps for a multi-row insert
                // into a table with foreign keys (a group's tasks and events)
                // stays in memory instead of spilling into a temporary file
                // (opened, written and unlinked per statement). Only on the
                // lane: readers' sorts may be large, the lane's writes are not.
                Database::connect(options(1, "memory")).await?
            };
            Some(Lane { queue, db: lane, commits: Default::default() })
        } else {
            None
        };
        Ok(Store { db, writer, known_workspaces: Default::default() })
    }

    /// How many write transactions this store has committed through its
    /// writer lane (SQLite; always 0 on PostgreSQL).
    pub fn lane_commits(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.commits.load(std::sync::atomic::Ordering::Acquire))
    }

    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// Applies every migration not yet applied (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// The database answers and every migration is applied.
    pub async fn ready(&self) -> bool {
        matches!(Migrator::get_pending_migrations_read_only(&self.db).await, Ok(p) if p.is_empty())
    }

    /// A write transaction (on SQLite `BEGIN IMMEDIATE`: writers queue, never deadlock).
    pub async fn begin(&self) -> Result<Tx> {
        let (turn, db) = match &self.writer {
            Some(w) => {
                let turn = Turn { _queue: w.queue.clone().lock_owned().await, commits: w.commits.clone() };
                (Some(turn), &w.db)
            }
            None => (None, &self.db),
        };
        let txn = db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(Tx::new(txn, self.is_postgres(), turn))
    }

    /// A read-only use of the transaction API (no writer lane, a deferred
    /// transaction): for reads that want one consistent snapshot.
    pub async fn begin_read(&self) -> Result<Tx> {
        let txn = self.db.begin().await?;
        Ok(Tx::new(txn, self.is_postgres(), None))
    }

    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// Timestamps at the database's precision (PostgreSQL keeps microseconds).
pub fn db_time(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

/// Creates a fresh PostgreSQL database next to `admin_url` (for test runs
/// and benchmarks) and returns its URL.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String> {
    safe_name(name)?;
    on_server(admin_url, &format!("CREATE DATABASE {name}")).await?;
    Ok(url_next_to(admin_url, name))
}

/// Drops a database `create_postgres_database` made (test runs and
/// benchmarks clean up after themselves), closing its connections.
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<()> {
    safe_name(name)?;
    on_server(admin_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await
}

/// `drop_postgres_database` from a destructor (a test's guard, a bench's
/// target): on a thread and runtime of its own, as the caller may be
/// inside a runtime already. A failure is printed, not raised.
pub fn drop_postgres_database_now(admin_url: &str, name: &str) {
    let (admin, name) = (admin_url.to_string(), name.to_string());
    let dropped = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(drop_postgres_database(&admin, &name)).map_err(|e| format!("{name}: {e}"))
    })
    .join();
    match dropped {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("a database was not dropped: {e}"),
        Err(_) => eprintln!("a database was not dropped: its thread panicked"),
    }
}

/// Runs one statement on a connection of its own to `admin_url`.
async fn on_server(admin_url: &str, sql: &str) -> Result<()> {
    use sea_orm::ConnectionTrait;
    let admin = Database::connect(ConnectOptions::new(admin_url.to_string()).sqlx_logging(false).to_owned()).await?;
    admin.execute_unprepared(sql).await?;
    admin.close().await?;
    Ok(())
}

/// A database name this process makes (spliced into `CREATE`/`DROP DATABASE`).
fn safe_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(Error::Conflict(format!("`{name}` is not a safe database name")));
    }
    Ok(())
}

/// The URL of database `name` on the server of `admin_url`, with the same
/// options after `?` (`sslmode`, say).
fn url_next_to(admin_url: &str, name: &str) -> String {
    let (path, query) = admin_url.split_once('?').map_or((admin_url, None), |(p, q)| (p, Some(q)));
    let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Store {
    /// The database's size in bytes (SQLite pages, or `pg_database_size`).
    pub async fn database_bytes(&self) -> Result<u64> {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => "SELECT pg_database_size(current_database())::bigint AS n",
            _ => {
                "SELECT (SELECT page_count FROM pragma_page_count()) * (SELECT page_size FROM pragma_page_size()) AS n"
            }
        };
        let row = self.db.query_one_raw(Statement::from_string(backend, sql)).await?;
        Ok(row.and_then(|r| r.try_get::<i64>("", "n").ok()).unwrap_or(0).max(0) as u64)
    }

    /// The ceiling for benchmarks: how many one-row insert-and-commit
    /// transactions per second this database does, with the same
    /// durability settings and transaction mode as commands.
    pub async fn commit_rate(&self, transactions: usize) -> Result<f64> {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db.get_database_backend();
        self.db
            .execute_unprepared("CREATE TABLE IF NOT EXISTS bench_ceiling (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
            .await?;
        let started = std::time::Instant::now();
        for i in 0..transactions {
            let tx = self.begin().await?;
            tx.conn()
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    "INSERT INTO bench_ceiling (id, body) VALUES ($1, $2)",
                    [uuid::Uuid::now_v7().to_string().into(), format!("row {i}").into()],
                ))
                .await?;
            tx.commit().await?;
        }
        let secs = started.elapsed().as_secs_f64();
        self.db.execute_unprepared("DROP TABLE bench_ceiling").await?;
        Ok(transactions as f64 / secs.max(1e-9))
    }
}

/// The channel committed events are announced on (PostgreSQL only).
pub const EVENTS_CHANNEL: &str = "smmflow_events";

/// Announcements of commits made by other replicas (PostgreSQL `LISTEN`).
pub struct Listener(sea_orm::sqlx::postgres::PgListener);

impl Listener {
    /// The next announcement's payload. On a lost connection the listener
    /// reconnects and listens again by itself; what was announced meanwhile
    /// is not replayed.
    pub async fn recv(&mut self) -> Result<String> {
        let n = self.0.recv().await.map_err(|e| Error::Db(DbErr::Custom(e.to_string())))?;
        Ok(n.payload().to_string())
    }
}

impl Store {
    /// Listens for other replicas' commits; `None` on SQLite (one process).
    pub async fn listen(&self) -> Result<Option<Listener>> {
        if !self.is_postgres() {
            return Ok(None);
        }
        let mut l = sea_orm::sqlx::postgres::PgListener::connect_with(self.db.get_postgres_connection_pool())
            .await
            .map_err(|e| Error::Db(DbErr::Custom(e.to_string())))?;
        l.listen(EVENTS_CHANNEL).await.map_err(|e| Error::Db(DbErr::Custom(e.to_string())))?;
        Ok(Some(Listener(l)))
    }
}

impl Tx {
    /// Announces to other replicas, in one statement however many;
    /// delivered only if this transaction commits (PostgreSQL `pg_notify`;
    /// nothing on SQLite).
    pub async fn announce_all(&self, payloads: &[String]) -> Result<()> {
        if !self.is_postgres() || payloads.is_empty() {
            return Ok(());
        }
        use sea_orm::{ConnectionTrait, Statement};
        self.conn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, p) FROM jsonb_array_elements_text($2) AS p",
                [EVENTS_CHANNEL.into(), serde_json::Value::from(payloads.to_vec()).into()],
            ))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod url_tests {
    #[test]
    fn a_new_database_keeps_the_server_and_its_options() {
        use super::url_next_to;
        assert_eq!(
            url_next_to("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            url_next_to("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1?sslmode=disable"
        );
    }
}
