//! Schedules and their fires. A fire is keyed by (schedule, time): the
//! primary key makes a second start of one fire impossible, whatever the
//! number of replicas. Due schedules are claimed one at a time with
//! `FOR UPDATE SKIP LOCKED` (PostgreSQL) or the writer lane (SQLite).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::{instance, schedule, schedule_fire};
use crate::{Result, Store, Tx, db_time};

/// A schedule as stored; `spec` holds its YAML-shaped settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleRow {
    pub id: String,
    pub workflow: String,
    pub workspace: String,
    /// `yaml` (from a workflow file) or `api`.
    pub source: String,
    pub spec: Value,
    pub paused: bool,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub runs: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One fire: started an instance, or skipped with a reason.
#[derive(Clone, Debug, PartialEq)]
pub struct FireRow {
    pub scheduled_for: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    pub instance: Option<Uuid>,
    pub skipped: bool,
    pub reason: Option<String>,
}

impl From<schedule::Model> for ScheduleRow {
    fn from(m: schedule::Model) -> Self {
        ScheduleRow {
            id: m.id,
            workflow: m.workflow,
            workspace: m.workspace,
            source: m.source,
            spec: m.spec,
            paused: m.paused,
            next_fire_at: m.next_fire_at,
            runs: m.runs,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn model(r: &ScheduleRow) -> schedule::ActiveModel {
    schedule::ActiveModel {
        id: Set(r.id.clone()),
        workflow: Set(r.workflow.clone()),
        workspace: Set(r.workspace.clone()),
        source: Set(r.source.clone()),
        spec: Set(r.spec.clone()),
        paused: Set(r.paused),
        next_fire_at: Set(r.next_fire_at.map(db_time)),
        runs: Set(r.runs),
        created_at: Set(db_time(r.created_at)),
        updated_at: Set(db_time(r.updated_at)),
    }
}

impl Tx {
    /// Inserts or replaces a schedule.
    pub async fn put_schedule(&self, r: &ScheduleRow) -> Result<()> {
        schedule::Entity::insert(model(r))
            .on_conflict(
                OnConflict::column(schedule::Column::Id)
                    .update_columns([
                        schedule::Column::Workflow,
                        schedule::Column::Workspace,
                        schedule::Column::Spec,
                        schedule::Column::Paused,
                        schedule::Column::NextFireAt,
                        schedule::Column::Runs,
                        schedule::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.conn())
            .await?;
        Ok(())
    }

    pub async fn delete_schedule(&self, id: &str) -> Result<bool> {
        Ok(schedule::Entity::delete_by_id(id.to_string()).exec(self.conn()).await?.rows_affected > 0)
    }

    /// Locks one schedule that is due, if any.
    pub async fn due_schedule(&self, now: DateTime<Utc>) -> Result<Option<ScheduleRow>> {
        let row = schedule::Entity::find()
            .filter(schedule::Column::Paused.eq(false))
            .filter(schedule::Column::NextFireAt.lte(db_time(now)))
            .order_by_asc(schedule::Column::NextFireAt)
            .order_by_asc(schedule::Column::Id)
            .limit(1)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .one(self.conn())
            .await?;
        Ok(row.map(ScheduleRow::from))
    }

    /// Records a fire; false when this fire was recorded before (by anyone).
    pub async fn record_fire(&self, schedule_id: &str, f: &FireRow) -> Result<bool> {
        let n = schedule_fire::Entity::insert(schedule_fire::ActiveModel {
            schedule_id: Set(schedule_id.into()),
            scheduled_for: Set(db_time(f.scheduled_for)),
            fired_at: Set(db_time(f.fired_at)),
            instance_id: Set(f.instance.map(|i| i.to_string())),
            skipped: Set(f.skipped),
            reason: Set(f.reason.clone()),
        })
        .on_conflict(
            OnConflict::columns([schedule_fire::Column::ScheduleId, schedule_fire::Column::ScheduledFor])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(self.conn())
        .await?;
        Ok(n == 1)
    }

    pub async fn schedule_progress(
        &self,
        id: &str,
        next: Option<DateTime<Utc>>,
        runs: i32,
        now: DateTime<Utc>,
    ) -> Result<()> {
        schedule::Entity::update_many()
            .col_expr(schedule::Column::NextFireAt, Expr::value(next.map(db_time)))
            .col_expr(schedule::Column::Runs, Expr::value(runs))
            .col_expr(schedule::Column::UpdatedAt, Expr::value(db_time(now)))
            .filter(schedule::Column::Id.eq(id))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Instances a schedule started that are still running or suspended (overlap).
    pub async fn open_runs(&self, schedule_id: &str) -> Result<Vec<Uuid>> {
        let ids: Vec<String> = instance::Entity::find()
            .select_only()
            .column(instance::Column::Id)
            .filter(instance::Column::ScheduleId.eq(schedule_id))
            .filter(instance::Column::Status.is_in(["running", "suspended"]))
            .into_tuple()
            .all(self.conn())
            .await?;
        Ok(ids.iter().filter_map(|s| s.parse().ok()).collect())
    }

    pub async fn schedule(&self, id: &str) -> Result<Option<ScheduleRow>> {
        Ok(schedule::Entity::find_by_id(id.to_string()).one(self.conn()).await?.map(ScheduleRow::from))
    }

    /// The schedules that came from a workflow's YAML.
    pub async fn yaml_schedules(&self, workflow: &str) -> Result<Vec<ScheduleRow>> {
        let rows = schedule::Entity::find()
            .filter(schedule::Column::Workflow.eq(workflow))
            .filter(schedule::Column::Source.eq("yaml"))
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(ScheduleRow::from).collect())
    }
}

impl Store {
    pub async fn schedule(&self, id: &str) -> Result<Option<ScheduleRow>> {
        Ok(schedule::Entity::find_by_id(id.to_string()).one(self.conn()).await?.map(ScheduleRow::from))
    }

    /// Schedules, by workspace then id; only these workspaces when given.
    pub async fn schedules(&self, workspaces: Option<&[String]>) -> Result<Vec<ScheduleRow>> {
        let mut q = schedule::Entity::find();
        if let Some(ws) = workspaces {
            q = q.filter(schedule::Column::Workspace.is_in(ws.to_vec()));
        }
        let rows =
            q.order_by_asc(schedule::Column::Workspace).order_by_asc(schedule::Column::Id).all(self.conn()).await?;
        Ok(rows.into_iter().map(ScheduleRow::from).collect())
    }

    /// When the earliest unpaused schedule is due, if any.
    pub async fn next_schedule_due(&self) -> Result<Option<DateTime<Utc>>> {
        let row = schedule::Entity::find()
            .filter(schedule::Column::Paused.eq(false))
            .filter(schedule::Column::NextFireAt.is_not_null())
            .order_by_asc(schedule::Column::NextFireAt)
            .one(self.conn())
            .await?;
        Ok(row.and_then(|r| r.next_fire_at))
    }

    /// The latest fires of a schedule, newest first.
    pub async fn last_fires(&self, schedule_id: &str, limit: u64) -> Result<Vec<FireRow>> {
        let rows = schedule_fire::Entity::find()
            .filter(schedule_fire::Column::ScheduleId.eq(schedule_id))
            .order_by_desc(schedule_fire::Column::ScheduledFor)
            .limit(limit)
            .all(self.conn())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| FireRow {
                scheduled_for: r.scheduled_for,
                fired_at: r.fired_at,
                instance: r.instance_id.and_then(|i| i.parse().ok()),
                skipped: r.skipped,
                reason: r.reason,
            })
            .collect())
    }
}
