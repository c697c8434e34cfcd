//! Shared harness: every storage test runs on a SQLite file and, when
//! `SMMFLOW_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use smmflow_engine::{Command, Instance};
use smmflow_runtime::{Clock, ManualClock, Options, Runtime, StartRequest};
use smmflow_store::{TaskFilter, TaskRow, User};
use uuid::Uuid;

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn library_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

/// What a test's database leaves behind until the test ends: SQLite's
/// directory, or PostgreSQL's database (dropped then).
pub enum Leftover {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database { admin: String, name: String },
}

impl Drop for Leftover {
    fn drop(&mut self) {
        if let Leftover::Database { admin, name } = self {
            smmflow_store::drop_postgres_database_now(admin, name);
        }
    }
}

/// Database URLs to run a test on: SQLite always, PostgreSQL when configured.
pub async fn databases(test: &str) -> Vec<(String, String, Leftover)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/smmflow.db", dir.path().display());
    let mut out = vec![("sqlite".to_string(), sqlite, Leftover::Dir(dir))];
    match std::env::var("SMMFLOW_TEST_POSTGRES_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("smmflow_{}_{}", test, Uuid::new_v4().simple()).chars().take(60).collect::<String>();
            let url = smmflow_store::create_postgres_database(&admin, &name).await.unwrap();
            out.push(("postgres".to_string(), url, Leftover::Database { admin, name }));
        }
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "PostgreSQL is missing and CI=true: every test must run in CI"
            );
            eprintln!("SKIPPED on PostgreSQL: SMMFLOW_TEST_POSTGRES_URL is not set ({test} ran on SQLite only)")
        }
    }
    out
}

pub struct Sim {
    pub rt: Arc<Runtime>,
    /// The same database, for what the tests check (the runtime keeps its own to itself).
    pub store: smmflow_store::Store,
    pub clock: ManualClock,
    pub db: String,
}

pub const TEAM: &[(&str, &[&str])] = &[
    ("client", &["olga.client"]),
    ("analyst", &["alex", "ann"]),
    ("smm_manager", &["sam", "sara"]),
    ("lead", &["lena"]),
    ("designer", &["dina", "dan"]),
    ("content_manager", &["carl", "cora"]),
    ("copywriter", &["wanda", "walt"]),
    ("community_manager", &["kim"]),
    ("targetologist", &["tom"]),
    ("writer", &["wanda", "walt"]),
    ("editor", &["eddie", "erin"]),
];

impl Sim {
    pub async fn open(db: &str, url: &str, workflows: Option<PathBuf>, now: &str) -> Sim {
        let clock = ManualClock::new(at(now));
        let library = workflows.is_some();
        let (rt, report) = Runtime::open(Options {
            database_url: url.to_string(),
            workflows,
            clock: Arc::new(clock.clone()),
            node: "test".into(),
        })
        .await
        .unwrap();
        if let Some(r) = report {
            assert!(!r.diagnostics.iter().any(|d| d.is_error()), "{:?}", r.diagnostics);
        }
        let now = clock.now();
        let store = smmflow_store::Store::connect(url).await.unwrap();
        // A client of every recurring service, in Moscow: the library's
        // `workspaces:` schedules give it its weekly content, moderation
        // desk and monthly report.
        let client = smmflow_runtime::clients::NewWorkspace {
            key: "acme".into(),
            name: "ACME".into(),
            timezone: Some("Europe/Moscow".into()),
            calendar: None,
            profile: library.then(|| {
                serde_json::json!({
                    "services": ["weekly_content", "community_management", "monthly_report"],
                    "approvers": ["olga@acme.example"],
                    "account_manager": "lena",
                })
            }),
        };
        rt.system().create_client(client).await.unwrap();
        let mut users: Vec<&str> = TEAM.iter().flat_map(|(_, u)| u.iter().copied()).collect();
        users.sort_unstable();
        users.dedup();
        for u in users {
            let user = User {
                login: u.into(),
                email: format!("{u}@agency.example"),
                name: None,
                is_admin: false,
                notification_mode: "immediate".into(),
                can_deploy_workflows: false,
            };
            store.create_user(&user, now).await.unwrap();
        }
        for (role, members) in TEAM {
            for m in *members {
                store.add_member("acme", m, role, now).await.unwrap();
            }
        }
        Sim { rt, store, clock, db: db.to_string() }
    }

    /// Pauses every schedule: the library's own for `acme` too, and a
    /// test that walks one instance by hand does not want them firing as
    /// its clock moves.
    pub async fn pause_schedules(&self) {
        for row in self.store.schedules(None).await.unwrap() {
            self.rt.system().set_schedule_paused(&row.id, true).await.unwrap();
        }
    }

    pub async fn deploy(&self, source: &str) {
        let (_, diags) = self.rt.system().deploy(source, smmflow_runtime::Deployer::System).await.unwrap();
        assert!(!diags.iter().any(|d| d.is_error()), "{diags:?}");
    }

    pub async fn start(&self, workflow: &str, inputs: Value, actor: &str) -> Instance {
        self.rt
            .system()
            .start(StartRequest {
                workflow: workflow.into(),
                workspace: "acme".into(),
                inputs,
                actor: actor.into(),
                idempotency_key: None,
            })
            .await
            .unwrap()
    }

    pub async fn active(&self) -> Vec<TaskRow> {
        self.store
            .tasks(&TaskFilter { statuses: vec!["open".into(), "claimed".into()], ..Default::default() })
            .await
            .unwrap()
    }

    pub async fn inst(&self, id: Uuid) -> Instance {
        self.rt.system().instance(id).await.unwrap()
    }

    /// Sets the clock and fires what came due (the runtime's own `advance_clock`).
    pub async fn advance_to(&self, to: DateTime<Utc>) {
        let to = to.max(self.clock.now());
        self.rt.system().advance_clock(&self.clock, to).await.unwrap();
    }

    /// Who may act on a task row.
    pub fn eligible(row: &TaskRow) -> Vec<String> {
        if let Some(a) = &row.assignee {
            return vec![a.clone()];
        }
        let mut out = row.candidates.clone();
        if let Some(role) = &row.role {
            out.extend(TEAM.iter().filter(|(r, _)| r == role).flat_map(|(_, u)| u.iter().map(|s| s.to_string())));
        }
        out
    }

    /// The first allowed person completes (sample output) or approves.
    pub async fn answer(&self, row: &TaskRow, answer: Option<Result<Value, String>>) -> String {
        let inst = self.inst(row.instance_id).await;
        let task = inst.task(row.no).unwrap().clone();
        let def = self.rt.definition(&inst.workflow, Some(inst.version)).await.unwrap();
        let kind = def.workflow.step(&task.step).map(|s| &s.kind);
        let output = match (&answer, kind) {
            (Some(Ok(v)), _) => v.clone(),
            (_, Some(smmflow_spec::StepKind::Task(t))) => smmflow_spec::field::sample_fields(&t.form),
            _ => serde_json::json!({"text": "done"}),
        };
        // A rejection names the approval's first reason, when it asks for reasons.
        let reasons: Vec<String> = match kind {
            Some(smmflow_spec::StepKind::Approval(a)) => a.reasons.iter().take(1).map(|r| r.value.clone()).collect(),
            _ => Vec::new(),
        };
        for user in Self::eligible(row) {
            let cmd = match (&answer, task.is_approval()) {
                (Some(Err(c)), _) => Command::Reject { task: row.no, comment: c.clone(), reasons: reasons.clone() },
                (_, true) => Command::Approve { task: row.no, comment: Some("Looks good".into()) },
                (_, false) => Command::Complete { task: row.no, output: output.clone() },
            };
            match self.rt.system().command(row.instance_id, &user, cmd).await {
                Ok(_) => return user,
                Err(e) if e.code() == "FORBIDDEN" => continue,
                Err(e) => panic!("{user} on {}/{} ({}): {e}", row.workflow, row.step, self.db),
            }
        }
        panic!("nobody may act on {:?}", row);
    }

    /// Works every open task until none is left, moving the clock to the next
    /// timer when people are idle.
    pub async fn work_through(
        &self,
        root: Uuid,
        limit: DateTime<Utc>,
        mut how: impl FnMut(&TaskRow) -> Option<Result<Value, String>>,
    ) {
        loop {
            let open = self.active().await;
            if let Some(row) = open.first() {
                let answer = how(row);
                self.answer(row, answer).await;
                continue;
            }
            if self.inst(root).await.status.is_finished() {
                return;
            }
            match self.store.next_timer_due().await.unwrap() {
                Some(t) if t <= limit => self.advance_to(t).await,
                _ => return,
            }
        }
    }

    /// Every stored instance equals the replay of its event log.
    pub async fn assert_replays(&self) {
        for id in self.store.instance_ids().await.unwrap() {
            let events = self.store.events(id).await.unwrap();
            for (i, e) in events.iter().enumerate() {
                assert_eq!(e.seq, i as u64 + 1, "events of {id} are contiguous ({})", self.db);
            }
            let replayed = smmflow_engine::apply::replay(events.iter()).unwrap();
            let stored = self.inst(id).await;
            if replayed != stored {
                let (a, b) = (serde_json::to_value(&replayed).unwrap(), serde_json::to_value(&stored).unwrap());
                let mut diffs = Vec::new();
                json_diff("", &a, &b, &mut diffs);
                let (da, db) = (format!("{replayed:#?}"), format!("{stored:#?}"));
                for (x, y) in da.lines().zip(db.lines()) {
                    if x != y {
                        diffs.push(format!("debug: {x} != {y}"));
                        break;
                    }
                }
                panic!(
                    "replaying {id} does not rebuild its stored state ({}): {:?}",
                    self.db,
                    &diffs[..diffs.len().min(10)]
                );
            }
            let rows = self.store.tasks(&TaskFilter { instance: Some(id), ..Default::default() }).await.unwrap();
            assert_eq!(rows.len(), stored.tasks.len(), "task read table of {id}");
            for (row, t) in rows.iter().zip(&stored.tasks) {
                assert_eq!(
                    (row.no, row.status.as_str(), &row.assignee),
                    (t.no, t.status.as_str(), &t.assignee),
                    "({})",
                    self.db
                );
            }
        }
    }
}

/// Paths where two JSON values differ.
pub fn json_diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()).collect::<std::collections::BTreeSet<_>>() {
                json_diff(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_diff(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ if a != b => out.push(format!("{path}: replayed {a} != stored {b}")),
        _ => {}
    }
}
