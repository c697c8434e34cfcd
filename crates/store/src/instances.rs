//! Instances in one write transaction: load (locked), save with an
//! optimistic version check, append events, keep the task read table, set
//! and clear timers, queue outbox rows, remember idempotency keys.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use serde_json::Value;
use smmflow_engine::{Event, Instance, TaskKind};
use uuid::Uuid;

use crate::entity::{event, idempotency, instance, outbox, task, timer};
use crate::{Error, Result, Store, db_time};

/// An instance as stored: its state snapshot (the fold of its events).
pub type StoredInstance = Instance;

/// A row of the task read table, for inbox queries.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRow {
    pub instance_id: Uuid,
    pub no: u32,
    pub workspace: String,
    pub workflow: String,
    pub step: String,
    pub kind: String,
    pub status: String,
    pub role: Option<String>,
    pub assignee: Option<String>,
    pub candidates: Vec<String>,
    pub title: String,
    pub priority: String,
    pub round: u32,
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl TaskRow {
    /// An approval (`kind` as `task_values` writes it), not work done with a form.
    pub fn is_approval(&self) -> bool {
        self.kind == "approval"
    }
}

/// Which tasks to list.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub instance: Option<Uuid>,
    pub workspace: Option<String>,
    /// Only these workspaces (what the caller may see); `None`: all.
    pub visible: Option<Vec<String>>,
    pub statuses: Vec<String>,
    pub role: Option<String>,
    pub assignee: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    /// Open or claimed, due before this time.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Claimed by this user, or open for one of these (workspace, role) memberships.
    pub mine: Option<(String, Vec<(String, String)>)>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

/// Which instances to list.
#[derive(Clone, Debug, Default)]
pub struct InstanceFilter {
    pub workflow: Option<String>,
    pub workspace: Option<String>,
    pub visible: Option<Vec<String>>,
    pub statuses: Vec<String>,
    pub started_after: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
    pub parent: Option<Uuid>,
    /// Started by this schedule.
    pub schedule: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

pub struct Tx {
    txn: DatabaseTransaction,
    pg: bool,
    /// Held until the transaction ends (SQLite's in-process writer lane).
    lane: Option<crate::Turn>,
}

pub(crate) fn corrupt(e: serde_json::Error) -> Error {
    Error::Corrupt(e.to_string())
}

/// A task row's values in `writes::TASKS`' column order (JSON as text).
pub(crate) fn task_values(state: &Instance, t: &smmflow_engine::Task) -> Result<[sea_orm::Value; 20]> {
    let reasons = t
        .output
        .as_ref()
        .and_then(|o| o.get("reasons"))
        .filter(|r| r.as_array().is_some_and(|a| !a.is_empty()))
        .map(|r| r.to_string());
    Ok([
        state.id.to_string().into(),
        (t.no as i32).into(),
        state.workspace.clone().into(),
        state.workflow.clone().into(),
        t.step.clone().into(),
        match t.kind {
            TaskKind::Task => "task",
            TaskKind::Approval { .. } => "approval",
        }
        .to_string()
        .into(),
        t.status.as_str().to_string().into(),
        t.role.clone().into(),
        t.assignee.clone().into(),
        serde_json::to_string(&t.candidates).map_err(corrupt)?.into(),
        t.title.clone().into(),
        t.priority.clone().into(),
        (t.round as i32).into(),
        t.due_at.map(db_time).into(),
        db_time(t.created_at).into(),
        t.completed_at.map(db_time).into(),
        t.claimed_at.map(db_time).into(),
        t.party.clone().into(),
        state.calendar.clone().into(),
        reasons.into(),
    ])
}

pub(crate) fn instance_model(state: &Instance, now: DateTime<Utc>) -> Result<instance::ActiveModel> {
    Ok(instance::ActiveModel {
        id: Set(state.id.to_string()),
        workflow: Set(state.workflow.clone()),
        version: Set(state.version),
        workspace: Set(state.workspace.clone()),
        status: Set(state.status.as_str().into()),
        started_at: Set(db_time(state.started_at)),
        started_by: Set(state.started_by.clone()),
        completed_at: Set(state.completed_at.map(db_time)),
        parent_id: Set(state.parent.as_ref().map(|p| p.instance.to_string())),
        schedule_id: Set(state.schedule.as_ref().map(|s| s.schedule.clone())),
        scheduled_for: Set(state.schedule.as_ref().map(|s| db_time(s.scheduled_for))),
        seq: Set(state.seq as i64),
        state: Set(serde_json::to_value(state).map_err(corrupt)?),
        updated_at: Set(db_time(now)),
    })
}

impl Tx {
    pub(crate) fn new(txn: DatabaseTransaction, pg: bool, lane: Option<crate::Turn>) -> Self {
        Tx { txn, pg, lane }
    }

    pub(crate) fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Commits (a savepoint: releases it).
    pub async fn commit(self) -> Result<()> {
        self.txn.commit().await?;
        if let Some(turn) = &self.lane {
            turn.committed();
        }
        Ok(())
    }

    /// Undoes the transaction (a savepoint: rolls back to it).
    pub async fn rollback(self) -> Result<()> {
        self.txn.rollback().await?;
        Ok(())
    }

    /// Whether this is a PostgreSQL transaction.
    pub fn is_postgres(&self) -> bool {
        self.pg
    }

    /// A savepoint inside this transaction: `commit` keeps its work,
    /// `rollback` undoes only that.
    pub async fn savepoint(&self) -> Result<Tx> {
        use sea_orm::TransactionTrait;
        Ok(Tx::new(self.txn.begin().await?, self.pg, None))
    }

    /// Loads instances by id (the group commit reads a group's instances
    /// ahead in one query). On PostgreSQL their rows are locked until
    /// commit, in id order, so two replicas' groups that share instances
    /// wait for each other instead of deadlocking.
    pub async fn load_many(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Instance)>> {
        states(&self.txn, ids, self.pg).await
    }

    /// Loads an instance, locking its row until commit on PostgreSQL (SQLite
    /// transactions are already serialized).
    pub async fn load(&self, id: Uuid) -> Result<Option<Instance>> {
        let mut q = instance::Entity::find_by_id(id.to_string());
        if self.pg {
            q = q.lock(LockType::Update);
        }
        match q.one(&self.txn).await? {
            None => Ok(None),
            Some(m) => serde_json::from_value(m.state).map(Some).map_err(corrupt),
        }
    }

    /// Deletes a fired timer unless it was moved meanwhile; false when it is gone or moved.
    pub async fn take_timer(&self, instance: Uuid, key: &str, due_at: DateTime<Utc>) -> Result<bool> {
        let r = timer::Entity::delete_many()
            .filter(timer::Column::InstanceId.eq(instance.to_string()))
            .filter(timer::Column::Key.eq(key))
            .filter(timer::Column::DueAt.eq(db_time(due_at)))
            .exec(&self.txn)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// The remembered result of an idempotent command.
    pub async fn idempotent(&self, scope: &str, key: &str) -> Result<Option<String>> {
        Ok(idempotency::Entity::find_by_id((scope.to_string(), key.to_string()))
            .one(&self.txn)
            .await?
            .map(|r| r.result))
    }

    pub async fn remember(&self, scope: &str, key: &str, result: &str, now: DateTime<Utc>) -> Result<()> {
        idempotency::Entity::insert(idempotency::ActiveModel {
            scope: Set(scope.into()),
            key: Set(key.into()),
            result: Set(result.into()),
            created_at: Set(db_time(now)),
        })
        .exec_without_returning(&self.txn)
        .await?;
        Ok(())
    }
}

pub(crate) fn task_row(m: task::Model) -> Result<TaskRow> {
    Ok(TaskRow {
        instance_id: m.instance_id.parse().map_err(|e: uuid::Error| Error::Corrupt(e.to_string()))?,
        no: m.no as u32,
        workspace: m.workspace,
        workflow: m.workflow,
        step: m.step,
        kind: m.kind,
        status: m.status,
        role: m.role,
        assignee: m.assignee,
        candidates: serde_json::from_value(m.candidates).map_err(corrupt)?,
        title: m.title,
        priority: m.priority,
        round: m.round as u32,
        due_at: m.due_at,
        created_at: m.created_at,
        completed_at: m.completed_at,
    })
}

impl Store {
    pub async fn instance(&self, id: Uuid) -> Result<Option<Instance>> {
        Ok(states(self.conn(), &[id], false).await?.pop().map(|(_, state)| state))
    }

    /// The workspace of an instance (never changes), without reading its state.
    pub async fn instance_workspace(&self, id: Uuid) -> Result<Option<String>> {
        Ok(instance::Entity::find_by_id(id.to_string())
            .select_only()
            .column(instance::Column::Workspace)
            .into_tuple::<String>()
            .one(self.conn())
            .await?)
    }

    /// Several instances in one query (a page of tasks), by id.
    pub async fn instances_by_id(&self, ids: &[Uuid]) -> Result<std::collections::HashMap<Uuid, Instance>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        Ok(states(self.conn(), ids, false).await?.into_iter().collect())
    }

    /// An instance's event log, in order.
    pub async fn events(&self, id: Uuid) -> Result<Vec<Event>> {
        let rows = event::Entity::find()
            .filter(event::Column::InstanceId.eq(id.to_string()))
            .order_by_asc(event::Column::Seq)
            .all(self.conn())
            .await?;
        rows.into_iter().map(|r| serde_json::from_value(r.data).map_err(corrupt)).collect()
    }

    /// Events `from..=to` of an instance, in order.
    pub async fn events_between(&self, id: Uuid, from: u64, to: u64) -> Result<Vec<Event>> {
        let rows = event::Entity::find()
            .filter(event::Column::InstanceId.eq(id.to_string()))
            .filter(event::Column::Seq.gte(from as i64))
            .filter(event::Column::Seq.lte(to as i64))
            .order_by_asc(event::Column::Seq)
            .all(self.conn())
            .await?;
        rows.into_iter().map(|r| serde_json::from_value(r.data).map_err(corrupt)).collect()
    }

    /// Every instance id (oldest first), for audits and replay checks.
    pub async fn instance_ids(&self) -> Result<Vec<Uuid>> {
        let ids: Vec<String> = instance::Entity::find()
            .select_only()
            .column(instance::Column::Id)
            .order_by_asc(instance::Column::StartedAt)
            .order_by_asc(instance::Column::Id)
            .into_tuple()
            .all(self.conn())
            .await?;
        ids.iter().map(|s| s.parse().map_err(|e: uuid::Error| Error::Corrupt(e.to_string()))).collect()
    }

    fn task_query(f: &TaskFilter) -> sea_orm::Select<task::Entity> {
        let mine = f.mine.as_ref().map(|(me, memberships)| crate::inbox::mine(me, memberships, f.visible.as_deref()));
        Self::task_query_with(f, mine)
    }

    /// The filter's terms, with `mine` (if any) as the given condition.
    pub(crate) fn task_query_with(
        f: &TaskFilter,
        mine: Option<sea_orm::sea_query::Condition>,
    ) -> sea_orm::Select<task::Entity> {
        let mut q = task::Entity::find();
        if let Some(i) = f.instance {
            q = q.filter(task::Column::InstanceId.eq(i.to_string()));
        }
        if let Some(w) = &f.workspace {
            q = q.filter(task::Column::Workspace.eq(w.as_str()));
        }
        // With `mine`, visibility goes inside its condition, so that each of
        // its branches is answered by its own index (SQLite unions them);
        // a top-level workspace term would make it scan the whole workspace.
        if let (Some(v), None) = (&f.visible, &mine) {
            q = q.filter(task::Column::Workspace.is_in(v.clone()));
        }
        if !f.statuses.is_empty() {
            q = q.filter(task::Column::Status.is_in(f.statuses.clone()));
        }
        if let Some(r) = &f.role {
            q = q.filter(task::Column::Role.eq(r.as_str()));
        }
        if let Some(a) = &f.assignee {
            q = q.filter(task::Column::Assignee.eq(a.as_str()));
        }
        if let Some(d) = f.due_before {
            q = q.filter(task::Column::DueAt.lt(db_time(d)));
        }
        if let Some(now) = f.overdue_at {
            q = q.filter(task::Column::Status.is_in(["open", "claimed"])).filter(task::Column::DueAt.lt(db_time(now)));
        }
        if let Some(c) = mine {
            q = q.filter(c);
        }
        q
    }

    pub async fn tasks(&self, f: &TaskFilter) -> Result<Vec<TaskRow>> {
        if let Some(branches) = self.inbox_branches(f, true) {
            return self.tasks_by_branch(f, branches).await;
        }
        let mut q = Self::task_query(f);
        if let Some(o) = f.offset {
            q = q.offset(o);
        }
        if let Some(l) = f.limit {
            q = q.limit(l);
        }
        let rows = q
            .order_by_asc(task::Column::CreatedAt)
            .order_by_asc(task::Column::InstanceId)
            .order_by_asc(task::Column::No)
            .all(self.conn())
            .await?;
        rows.into_iter().map(task_row).collect()
    }

    pub async fn count_tasks(&self, f: &TaskFilter) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        if let Some(branches) = self.inbox_branches(f, false) {
            return self.count_by_branch(f, branches).await;
        }
        Ok(Self::task_query(f).count(self.conn()).await?)
    }

    fn instance_query(f: &InstanceFilter) -> sea_orm::Select<instance::Entity> {
        let mut q = instance::Entity::find();
        if let Some(w) = &f.workflow {
            q = q.filter(instance::Column::Workflow.eq(w.as_str()));
        }
        if let Some(w) = &f.workspace {
            q = q.filter(instance::Column::Workspace.eq(w.as_str()));
        }
        if let Some(v) = &f.visible {
            q = q.filter(instance::Column::Workspace.is_in(v.clone()));
        }
        if !f.statuses.is_empty() {
            q = q.filter(instance::Column::Status.is_in(f.statuses.clone()));
        }
        if let Some(t) = f.started_after {
            q = q.filter(instance::Column::StartedAt.gt(db_time(t)));
        }
        if let Some(t) = f.started_before {
            q = q.filter(instance::Column::StartedAt.lt(db_time(t)));
        }
        if let Some(p) = f.parent {
            q = q.filter(instance::Column::ParentId.eq(p.to_string()));
        }
        if let Some(s) = &f.schedule {
            q = q.filter(instance::Column::ScheduleId.eq(s.as_str()));
        }
        q
    }

    /// Instances, newest first.
    pub async fn instances(&self, f: &InstanceFilter) -> Result<Vec<Instance>> {
        let mut q = Self::instance_query(f);
        if let Some(o) = f.offset {
            q = q.offset(o);
        }
        if let Some(l) = f.limit {
            q = q.limit(l);
        }
        let rows =
            q.order_by_desc(instance::Column::StartedAt).order_by_desc(instance::Column::Id).all(self.conn()).await?;
        rows.into_iter().map(|m| serde_json::from_value(m.state).map_err(corrupt)).collect()
    }

    pub async fn count_instances(&self, f: &InstanceFilter) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(Self::instance_query(f).count(self.conn()).await?)
    }

    /// Outbox rows waiting to be sent.
    pub async fn outbox_backlog(&self) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(outbox::Entity::find()
            .filter(outbox::Column::Status.is_in(["pending", "failed"]))
            .count(self.conn())
            .await?)
    }

    /// Outbox rows of an instance (kind, idempotency key, payload), oldest first.
    pub async fn outbox_of(&self, instance: Uuid) -> Result<Vec<(String, String, Value)>> {
        let rows = outbox::Entity::find()
            .filter(outbox::Column::InstanceId.eq(instance.to_string()))
            .order_by_asc(outbox::Column::CreatedAt)
            .order_by_asc(outbox::Column::Id)
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(|r| (r.kind, r.idempotency_key, r.payload)).collect())
    }
}

impl Tx {
    /// Active tasks per assignee in a workspace (for `least_busy`).
    pub async fn open_task_counts(&self, workspace: &str) -> Result<Vec<(String, i64)>> {
        let rows: Vec<(Option<String>, i64)> = task::Entity::find()
            .select_only()
            .column(task::Column::Assignee)
            .column_as(task::Column::No.count(), "n")
            .filter(task::Column::Workspace.eq(workspace))
            .filter(task::Column::Status.is_in(["open", "claimed"]))
            .filter(task::Column::Assignee.is_not_null())
            .group_by(task::Column::Assignee)
            .into_tuple()
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().filter_map(|(a, n)| a.map(|a| (a, n))).collect())
    }

    /// Who last got a task of this role in the workspace (for `round_robin`).
    pub async fn last_assigned(&self, workspace: &str, role: &str) -> Result<Option<String>> {
        let row: Option<Option<String>> = task::Entity::find()
            .select_only()
            .column(task::Column::Assignee)
            .filter(task::Column::Workspace.eq(workspace))
            .filter(task::Column::Role.eq(role))
            .filter(task::Column::Assignee.is_not_null())
            .order_by_desc(task::Column::CreatedAt)
            // Tasks made in the same instant: the newer instance (ids are UUIDv7).
            .order_by_desc(task::Column::InstanceId)
            .order_by_desc(task::Column::No)
            .into_tuple()
            .one(self.conn())
            .await?;
        Ok(row.flatten())
    }
}

/// Instances by id, their snapshots read as text and parsed once into the
/// instance (not into a JSON tree first, as the entity's `Json` column
/// would be). With `lock` (PostgreSQL), their rows are locked until commit,
/// in id order.
async fn states<C: ConnectionTrait>(c: &C, ids: &[Uuid], lock: bool) -> Result<Vec<(Uuid, Instance)>> {
    let mut out = Vec::with_capacity(ids.len());
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let backend = c.get_database_backend();
    let pg = backend == sea_orm::DbBackend::Postgres;
    for part in ids.chunks(crate::writes::CHUNK) {
        let marks: Vec<String> = (1..=part.len()).map(|n| crate::rows::mark(n, pg)).collect();
        let lock = if lock { " ORDER BY id FOR UPDATE" } else { "" };
        let sql =
            format!("SELECT CAST(state AS TEXT) AS state FROM instances WHERE id IN ({}){lock}", marks.join(", "));
        let keys: Vec<sea_orm::Value> = part.iter().map(|id| id.to_string().into()).collect();
        for row in c.query_all_raw(Statement::from_sql_and_values(backend, sql, keys)).await? {
            let text: String = row.try_get("", "state")?;
            let state: Instance = serde_json::from_str(&text).map_err(corrupt)?;
            out.push((state.id, state));
        }
    }
    Ok(out)
}
