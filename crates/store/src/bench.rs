//! Bulk history for benchmarks: what years of finished work leave in the
//! task read table. Not used by the product.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, EntityTrait};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::{event, instance, publication, task};
use crate::{Result, Store, db_time};

/// Rows per INSERT statement, and statements per transaction.
const ROWS: usize = 200;
const STATEMENTS: usize = 50;

impl Store {
    /// Adds `per_instance` completed tasks to each instance's read table
    /// (numbered from 10,000, so they never meet the instance's own tasks).
    /// Returns how many rows were written.
    pub async fn seed_finished_tasks(
        &self,
        instances: &[(Uuid, String, String)],
        per_instance: u32,
        role: &str,
        assignee: &str,
        at: DateTime<Utc>,
    ) -> Result<u64> {
        let rows = instances.iter().flat_map(|(id, workspace, workflow)| {
            (0..per_instance).map(move |k| task::ActiveModel {
                instance_id: Set(id.to_string()),
                no: Set(10_000 + k as i32),
                workspace: Set(workspace.clone()),
                workflow: Set(workflow.clone()),
                step: Set("draft".into()),
                kind: Set("task".into()),
                status: Set("completed".into()),
                role: Set(Some(role.to_string())),
                assignee: Set(Some(assignee.to_string())),
                candidates: Set(Value::Array(Vec::new())),
                title: Set(format!("Old post {k}")),
                priority: Set("normal".into()),
                round: Set(1),
                due_at: Set(None),
                created_at: Set(db_time(at)),
                completed_at: Set(Some(db_time(at))),
                claimed_at: Set(Some(db_time(at))),
                party: Set("agency".into()),
                calendar: Set(None),
                reasons: Set(None),
            })
        });
        self.insert_in_batches(rows).await
    }

    /// Adds `per_instance` events to each instance's log (numbered from
    /// 10,000, after its own), each with `data` as its payload: a long
    /// history for the copy benchmark. Returns how many were written.
    pub async fn seed_events(
        &self,
        instances: &[Uuid],
        per_instance: u32,
        data: &Value,
        at: DateTime<Utc>,
    ) -> Result<u64> {
        let rows = instances.iter().flat_map(|id| {
            (0..per_instance).map(move |k| event::ActiveModel {
                instance_id: Set(id.to_string()),
                seq: Set(10_000 + i64::from(k)),
                kind: Set("task.completed".into()),
                at: Set(db_time(at)),
                actor: Set("editor0".into()),
                data: Set(data.clone()),
            })
        });
        self.insert_in_batches(rows).await
    }

    /// Inserts rows `ROWS` to a statement, `STATEMENTS` statements to a
    /// transaction. Returns how many were written.
    async fn insert_in_batches<E, A>(&self, rows: impl IntoIterator<Item = A>) -> Result<u64>
    where
        E: EntityTrait,
        A: ActiveModelTrait<Entity = E> + Send,
    {
        let mut written = 0u64;
        let mut batch = Vec::with_capacity(ROWS);
        let mut statements = 0;
        let mut tx = self.begin().await?;
        for row in rows {
            batch.push(row);
            if batch.len() == ROWS {
                written += batch.len() as u64;
                E::insert_many(std::mem::take(&mut batch)).exec_without_returning(tx.conn()).await?;
                statements += 1;
                if statements == STATEMENTS {
                    tx.commit().await?;
                    tx = self.begin().await?;
                    statements = 0;
                }
            }
        }
        if !batch.is_empty() {
            written += batch.len() as u64;
            E::insert_many(batch).exec_without_returning(tx.conn()).await?;
        }
        tx.commit().await?;
        Ok(written)
    }

    /// The data of one stored event of `instance` (a real payload to repeat).
    pub async fn sample_event_data(&self, instance: Uuid) -> Result<Option<Value>> {
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
        Ok(event::Entity::find()
            .filter(event::Column::InstanceId.eq(instance.to_string()))
            .order_by_desc(event::Column::Seq)
            .one(self.conn())
            .await?
            .map(|e| e.data))
    }

    /// On PostgreSQL, `VACUUM ANALYZE tasks`: what autovacuum does soon after
    /// a bulk load (statistics, visibility map), so a benchmark measures the
    /// steady state. Nothing on SQLite.
    pub async fn settle_after_bulk_load(&self) -> Result<()> {
        use sea_orm::ConnectionTrait;
        if self.is_postgres() {
            self.conn().execute_unprepared("VACUUM ANALYZE tasks").await?;
            self.conn().execute_unprepared("VACUUM ANALYZE instances").await?;
            self.conn().execute_unprepared("VACUUM ANALYZE publications").await?;
        }
        Ok(())
    }

    /// Publications (with bare instance rows: no state anyone loads) spread
    /// evenly over `[from, from + span)`, round-robin over the workspaces;
    /// every 20th completed, every 20th (offset) cancelled, the rest running.
    pub async fn seed_publications(
        &self,
        workspaces: &[String],
        count: usize,
        from: DateTime<Utc>,
        span: chrono::Duration,
    ) -> Result<u64> {
        let step = span.num_seconds().max(1) / count.max(1) as i64;
        let mut written = 0u64;
        let mut tx = self.begin().await?;
        let mut statements = 0;
        for chunk in (0..count).collect::<Vec<_>>().chunks(ROWS) {
            let mut instances = Vec::with_capacity(chunk.len());
            let mut pubs = Vec::with_capacity(chunk.len());
            for &i in chunk {
                let id = Uuid::now_v7().to_string();
                let ws = workspaces[i % workspaces.len().max(1)].clone();
                let at = from + chrono::Duration::seconds(step * i as i64);
                let status = match i % 20 {
                    0 => "completed",
                    10 => "cancelled",
                    _ => "running",
                };
                instances.push(instance::ActiveModel {
                    id: Set(id.clone()),
                    workflow: Set("bench-post".into()),
                    version: Set(1),
                    workspace: Set(ws.clone()),
                    status: Set(status.into()),
                    started_at: Set(db_time(from)),
                    started_by: Set("bench".into()),
                    completed_at: Set(None),
                    parent_id: Set(None),
                    schedule_id: Set(None),
                    scheduled_for: Set(None),
                    seq: Set(1),
                    state: Set(Value::Object(Default::default())),
                    updated_at: Set(db_time(from)),
                });
                pubs.push(publication::ActiveModel {
                    instance: Set(id),
                    workspace: Set(ws),
                    channel: Set(["vk", "telegram", "instagram"][i % 3].into()),
                    title: Set(Some(format!("post {i}"))),
                    at: Set(db_time(at)),
                });
            }
            written += pubs.len() as u64;
            instance::Entity::insert_many(instances).exec_without_returning(tx.conn()).await?;
            publication::Entity::insert_many(pubs).exec_without_returning(tx.conn()).await?;
            statements += 1;
            if statements == STATEMENTS {
                tx.commit().await?;
                tx = self.begin().await?;
                statements = 0;
            }
        }
        tx.commit().await?;
        Ok(written)
    }
}
