//! Durable timers: claimed in batches with a lease, so several replicas
//! share the work and a dead replica's claims are taken over when its lease
//! runs out (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the
//! immediate transaction serializes claimers).

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Condition, Expr, LockBehavior, LockType};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entity::timer;
use crate::{Error, Result, Store, db_time};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueTimer {
    pub instance: Uuid,
    pub key: String,
    pub due_at: DateTime<Utc>,
}

impl Store {
    /// Claims up to `limit` timers due at `now`, leased to `owner` for `lease`.
    pub async fn claim_due_timers(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<DueTimer>> {
        let tx = self.begin().await?;
        let now = db_time(now);
        let free = Condition::any().add(timer::Column::LeaseUntil.is_null()).add(timer::Column::LeaseUntil.lt(now));
        let rows = timer::Entity::find()
            .filter(timer::Column::DueAt.lte(now))
            .filter(free)
            .order_by_asc(timer::Column::DueAt)
            .order_by_asc(timer::Column::InstanceId)
            .order_by_asc(timer::Column::Key)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(tx.conn())
            .await?;
        for r in &rows {
            timer::Entity::update_many()
                .col_expr(timer::Column::LeaseOwner, Expr::value(owner))
                .col_expr(timer::Column::LeaseUntil, Expr::value(db_time(now + lease)))
                .filter(timer::Column::InstanceId.eq(r.instance_id.clone()))
                .filter(timer::Column::Key.eq(r.key.clone()))
                .exec(tx.conn())
                .await?;
        }
        tx.commit().await?;
        rows.into_iter()
            .map(|r| {
                Ok(DueTimer {
                    instance: r.instance_id.parse().map_err(|e: uuid::Error| Error::Corrupt(e.to_string()))?,
                    key: r.key,
                    due_at: r.due_at,
                })
            })
            .collect()
    }

    /// When the earliest timer is due, if any.
    pub async fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>> {
        let row = timer::Entity::find().order_by_asc(timer::Column::DueAt).one(self.conn()).await?;
        Ok(row.map(|r| r.due_at))
    }

    /// Timers of an instance (key, due), for tests and audits.
    pub async fn timers_of(&self, instance: Uuid) -> Result<Vec<(String, DateTime<Utc>)>> {
        let rows = timer::Entity::find()
            .filter(timer::Column::InstanceId.eq(instance.to_string()))
            .order_by_asc(timer::Column::DueAt)
            .order_by_asc(timer::Column::Key)
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(|r| (r.key, r.due_at)).collect())
    }

    /// How many timers exist.
    pub async fn timer_count(&self) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(timer::Entity::find().count(self.conn()).await?)
    }
}
