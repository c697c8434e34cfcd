//! The write side of a unit of work, in as few statements as the data
//! allows: every changed instance is one row write (an insert, or an update
//! with its version check), and then all their events, task rows, timers
//! go in one multi-row statement each (outbox rows: `insert_outbox`). With the group
//! commit a unit holds many commands, so this is what makes a group cheap:
//! each statement is a round trip to the database's thread.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, SqlErr};
use smmflow_engine::{Event, Instance};
use uuid::Uuid;

use crate::entity::{event, instance, task, timer};
use crate::instances::{corrupt, instance_model, task_model};
use crate::{Error, Result, Tx, db_time};

/// Rows per multi-row insert: well under SQLite's limit of bound values.
pub(crate) const CHUNK: usize = 200;

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
        let mut events = Vec::new();
        let mut tasks = Vec::new();
        for w in list {
            let id = w.state.id.to_string();
            for e in w.events {
                events.push(event::ActiveModel {
                    instance_id: Set(id.clone()),
                    seq: Set(e.seq as i64),
                    kind: Set(e.kind_name().into()),
                    at: Set(db_time(e.at)),
                    actor: Set(e.actor.clone()),
                    data: Set(serde_json::to_value(e).map_err(corrupt)?),
                });
            }
            let mut touched: Vec<u32> = w.events.iter().filter_map(|e| e.kind.task()).collect();
            touched.sort_unstable();
            touched.dedup();
            tasks.extend(touched.iter().filter_map(|no| w.state.task(*no)).map(|t| task_model(w.state, t)));
        }
        while !events.is_empty() {
            let rest = events.split_off(events.len().min(CHUNK));
            event::Entity::insert_many(std::mem::replace(&mut events, rest))
                .exec_without_returning(self.conn())
                .await?;
        }
        while !tasks.is_empty() {
            let rest = tasks.split_off(tasks.len().min(CHUNK));
            task::Entity::insert_many(std::mem::replace(&mut tasks, rest))
                .on_conflict(
                    OnConflict::columns([task::Column::InstanceId, task::Column::No])
                        .update_columns([
                            task::Column::Status,
                            task::Column::Role,
                            task::Column::Assignee,
                            task::Column::Candidates,
                            task::Column::CompletedAt,
                            task::Column::ClaimedAt,
                            task::Column::Reasons,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(self.conn())
                .await?;
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
        use sea_orm::sea_query::Alias;
        for part in list.chunks(CHUNK) {
            let rows = part.iter().map(|w| instance_model(w.state, now)).collect::<Result<Vec<_>>>()?;
            let newer = Expr::col((instance::Entity, instance::Column::Seq))
                .lt(Expr::col((Alias::new("excluded"), instance::Column::Seq)));
            let written = instance::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(instance::Column::Id)
                        .update_columns([
                            instance::Column::Status,
                            instance::Column::CompletedAt,
                            instance::Column::Seq,
                            instance::Column::State,
                            instance::Column::UpdatedAt,
                        ])
                        .action_and_where(newer)
                        .to_owned(),
                )
                .exec_without_returning(self.conn())
                .await?;
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
                    one = one.add(timer::Column::Key.starts_with(prefix));
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
