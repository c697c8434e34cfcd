//! The write side of a unit of work, in as few statements as the data
//! allows: every changed instance is one row write (an insert, or an update
//! with its version check), and then all their events, task rows, timers
//! go in one multi-row statement each (outbox rows: `insert_outbox`). With the group
//! commit a unit holds many commands, so this is what makes a group cheap:
//! each statement is a round trip to the database's thread.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, SqlErr, Value};
use smmflow_engine::{Event, Instance};
use uuid::Uuid;

use crate::entity::{instance, timer};
use crate::instances::{corrupt, instance_model, task_values};
use crate::rows::Insert;
use crate::{Error, Result, Tx, db_time};

/// Rows per multi-row insert: well under SQLite's limit of bound values.
pub(crate) const CHUNK: usize = 200;

const EVENTS: Insert = Insert {
    table: "events",
    columns: &["instance_id", "seq", "kind", "at", "actor", "data"],
    json: &["data"],
    tail: "",
};

/// Instance rows, new or changed: a stored row at or past the new version
/// is left alone (and then not counted).
const INSTANCES: Insert = Insert {
    table: "instances",
    columns: &[
        "id",
        "workflow",
        "version",
        "workspace",
        "status",
        "started_at",
        "started_by",
        "completed_at",
        "parent_id",
        "schedule_id",
        "scheduled_for",
        "seq",
        "state",
        "updated_at",
    ],
    json: &["state"],
    tail: "ON CONFLICT (id) DO UPDATE SET status = excluded.status, completed_at = excluded.completed_at, \
           seq = excluded.seq, state = excluded.state, updated_at = excluded.updated_at \
           WHERE instances.seq < excluded.seq",
};

/// Task rows (the read table of the inbox), new or changed. A stored row
/// takes only the columns a task's events change (status, people, times
/// of claim and completion, reasons); title, priority, round, due time,
/// kind and step are written once, as they never change after a task is
/// created. Task lists answer from these rows (`ROW_FIELDS` in the API's
/// `types/task.rs`): an event that changes another column must add it here.
pub(crate) const TASKS: Insert = Insert {
    table: "tasks",
    columns: &[
        "instance_id",
        "no",
        "workspace",
        "workflow",
        "step",
        "kind",
        "status",
        "role",
        "assignee",
        "candidates",
        "title",
        "priority",
        "round",
        "due_at",
        "created_at",
        "completed_at",
        "claimed_at",
        "party",
        "calendar",
        "reasons",
    ],
    json: &["candidates", "reasons"],
    tail: "ON CONFLICT (instance_id, no) DO UPDATE SET status = excluded.status, role = excluded.role, \
           assignee = excluded.assignee, candidates = excluded.candidates, completed_at = excluded.completed_at, \
           claimed_at = excluded.claimed_at, reasons = excluded.reasons",
};

/// An instance row's values in `INSTANCES`' column order (the same values,
/// of the same types, as `instance_model`'s; the snapshot as JSON text).
fn instance_values(state: &Instance, now: DateTime<Utc>) -> Result<[Value; 14]> {
    Ok([
        state.id.to_string().into(),
        state.workflow.clone().into(),
        state.version.into(),
        state.workspace.clone().into(),
        state.status.as_str().to_string().into(),
        db_time(state.started_at).into(),
        state.started_by.clone().into(),
        state.completed_at.map(db_time).into(),
        state.parent.as_ref().map(|p| p.instance.to_string()).into(),
        state.schedule.as_ref().map(|s| s.schedule.clone()).into(),
        state.schedule.as_ref().map(|s| db_time(s.scheduled_for)).into(),
        (state.seq as i64).into(),
        serde_json::to_string(state).map_err(corrupt)?.into(),
        db_time(now).into(),
    ])
}

/// An instance to write: new (`expected_seq` None) or changed since the
/// stored version `expected_seq`, with the events that changed it.
pub struct InstanceWrite<'a> {
    pub expected_seq: Option<u64>,
    pub state: &'a Instance,
    pub events: &'a [Event],
}

impl Tx {
    /// Writes instances, then all their events and touched task rows.
    /// Someone else's change to an instance in between is a conflict.
    pub async fn write_instances(&self, list: &[InstanceWrite<'_>], now: DateTime<Utc>) -> Result<()> {
        let list: Vec<&InstanceWrite<'_>> =
            list.iter().filter(|w| !w.events.is_empty() || w.expected_seq.is_none()).collect();
        if list.len() == 1 {
            for w in &list {
                match w.expected_seq {
                    None => self.insert_row(w.state, now).await?,
                    Some(seq) => self.update_row(seq, w.state, now).await?,
                }
            }
        } else {
            self.upsert_rows(&list, now).await?;
        }
        let mut events: Vec<Value> = Vec::new();
        let mut tasks: Vec<Value> = Vec::new();
        for w in list {
            let id = w.state.id.to_string();
            for e in w.events {
                events.extend([
                    id.clone().into(),
                    (e.seq as i64).into(),
                    e.kind_name().to_string().into(),
                    db_time(e.at).into(),
                    e.actor.clone().into(),
                    serde_json::to_string(e).map_err(corrupt)?.into(),
                ]);
            }
            let mut touched: Vec<u32> = w.events.iter().filter_map(|e| e.kind.task()).collect();
            touched.sort_unstable();
            touched.dedup();
            for t in touched.iter().filter_map(|no| w.state.task(*no)) {
                tasks.extend(task_values(w.state, t)?);
            }
        }
        for part in events.chunks(CHUNK * EVENTS.columns.len()) {
            EVENTS.run(self.conn(), part.to_vec()).await?;
        }
        for part in tasks.chunks(CHUNK * TASKS.columns.len()) {
            TASKS.run(self.conn(), part.to_vec()).await?;
        }
        Ok(())
    }

    /// Many instance rows in one statement. The rows loaded in this
    /// transaction are current (SQLite's transactions are serialized with
    /// `BEGIN IMMEDIATE`; PostgreSQL's group commit loaded them with row
    /// locks); the version check stays as a safety net, for all rows at
    /// once (a stored row at or past the new version is not overwritten,
    /// and the count then falls short: a conflict).
    async fn upsert_rows(&self, list: &[&InstanceWrite<'_>], now: DateTime<Utc>) -> Result<()> {
        for part in list.chunks(CHUNK) {
            let mut values = Vec::with_capacity(part.len() * INSTANCES.columns.len());
            for w in part {
                values.extend(instance_values(w.state, now)?);
            }
            let written = INSTANCES.run(self.conn(), values).await?;
            if written != part.len() as u64 {
                return Err(Error::Conflict("an instance was changed by someone else; try again".into()));
            }
        }
        Ok(())
    }

    async fn insert_row(&self, state: &Instance, now: DateTime<Utc>) -> Result<()> {
        let r = instance::Entity::insert(instance_model(state, now)?).exec_without_returning(self.conn()).await;
        match r {
            Ok(_) => Ok(()),
            Err(e) => Err(match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => Error::AlreadyExists(format!("instance {}", state.id)),
                _ => Error::Db(e),
            }),
        }
    }

    async fn update_row(&self, expected_seq: u64, state: &Instance, now: DateTime<Utc>) -> Result<()> {
        let snapshot = serde_json::to_value(state).map_err(corrupt)?;
        let r = instance::Entity::update_many()
            .col_expr(instance::Column::Status, Expr::value(state.status.as_str()))
            .col_expr(instance::Column::CompletedAt, Expr::value(state.completed_at.map(db_time)))
            .col_expr(instance::Column::Seq, Expr::value(state.seq as i64))
            .col_expr(instance::Column::State, Expr::value(snapshot))
            .col_expr(instance::Column::UpdatedAt, Expr::value(db_time(now)))
            .filter(instance::Column::Id.eq(state.id.to_string()))
            .filter(instance::Column::Seq.eq(expected_seq as i64))
            .exec(self.conn())
            .await?;
        if r.rows_affected != 1 {
            return Err(Error::Conflict(format!("instance {} was changed by someone else; try again", state.id)));
        }
        Ok(())
    }

    /// When a timer is due, if it is set.
    pub async fn timer_due(&self, instance: Uuid, key: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(timer::Entity::find_by_id((instance.to_string(), key.to_string())).one(self.conn()).await?.map(|t| t.due_at))
    }

    /// Drops the timers of each (instance, key prefix) (an empty prefix:
    /// all of the instance's) and each (instance, key) taken, then sets (or
    /// moves) the given ones.
    pub async fn write_timers(
        &self,
        clears: &[(Uuid, String)],
        takes: &[(Uuid, String)],
        sets: &[(Uuid, String, DateTime<Utc>)],
    ) -> Result<()> {
        for part in takes.chunks(CHUNK) {
            let mut any = Condition::any();
            for (instance, key) in part {
                any = any.add(
                    Condition::all()
                        .add(timer::Column::InstanceId.eq(instance.to_string()))
                        .add(timer::Column::Key.eq(key.as_str())),
                );
            }
            timer::Entity::delete_many().filter(any).exec(self.conn()).await?;
        }
        for part in clears.chunks(CHUNK) {
            let mut any = Condition::any();
            for (instance, prefix) in part {
                let mut one = Condition::all().add(timer::Column::InstanceId.eq(instance.to_string()));
                if !prefix.is_empty() {
                    // `substr(key, 1, n) = prefix`, not `LIKE 'prefix%'`:
                    // SQLite prepares a statement again whenever a value
                    // bound to a LIKE changes (its plan may depend on it),
                    // and the equality is exact on both databases.
                    let n = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
                    one = one.add(
                        Expr::expr(Func::cust("substr").arg(Expr::col(timer::Column::Key)).arg(1).arg(n))
                            .eq(prefix.as_str()),
                    );
                }
                any = any.add(one);
            }
            timer::Entity::delete_many().filter(any).exec(self.conn()).await?;
        }
        for part in sets.chunks(CHUNK) {
            let rows = part.iter().map(|(instance, key, at)| timer::ActiveModel {
                instance_id: Set(instance.to_string()),
                key: Set(key.clone()),
                due_at: Set(db_time(*at)),
                lease_owner: Set(None),
                lease_until: Set(None),
            });
            timer::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([timer::Column::InstanceId, timer::Column::Key])
                        .update_columns([timer::Column::DueAt, timer::Column::LeaseOwner, timer::Column::LeaseUntil])
                        .to_owned(),
                )
                .exec_without_returning(self.conn())
                .await?;
        }
        Ok(())
    }
}
