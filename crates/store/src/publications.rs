//! The content calendar: one row per instance of a publication workflow
//! (when and where it goes out). Its status is its instance's, read with it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entity::{instance, publication};
use crate::{Result, Store, Tx, db_time};

/// A publication with its instance's status.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct PublicationRow {
    pub instance: String,
    pub workspace: String,
    pub channel: String,
    pub title: Option<String>,
    pub at: DateTime<Utc>,
    /// The instance's status (`running`, `completed`, ...).
    pub status: String,
}

/// Where a publication stands: its instance's status and its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicationState {
    /// Running (or suspended), before its time.
    InProduction,
    /// Running (or suspended), its time passed.
    Late,
    /// Its instance completed.
    Published,
    /// Its instance ended otherwise.
    Cancelled,
}

impl PublicationState {
    /// The state of a row at `now`.
    pub fn of(row: &PublicationRow, now: DateTime<Utc>) -> PublicationState {
        match row.status.as_str() {
            "running" | "suspended" if row.at <= now => PublicationState::Late,
            "running" | "suspended" => PublicationState::InProduction,
            "completed" => PublicationState::Published,
            _ => PublicationState::Cancelled,
        }
    }
}

/// Which publications to list (a page: `offset`, `limit`).
#[derive(Clone, Debug, Default)]
pub struct PublicationFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `None`: every workspace.
    pub workspaces: Option<Vec<String>>,
    pub channel: Option<String>,
    /// Only these states at `now`.
    pub states: Option<Vec<PublicationState>>,
    pub now: DateTime<Utc>,
    pub offset: u64,
    pub limit: u64,
}

/// A publication to record.
#[derive(Clone, Debug, PartialEq)]
pub struct NewPublication {
    pub instance: Uuid,
    pub workspace: String,
    pub channel: String,
    pub title: Option<String>,
    pub at: DateTime<Utc>,
}

fn select() -> sea_orm::Select<publication::Entity> {
    publication::Entity::find()
        .select_only()
        .columns([
            publication::Column::Instance,
            publication::Column::Workspace,
            publication::Column::Channel,
            publication::Column::Title,
            publication::Column::At,
        ])
        .column_as(instance::Column::Status, "status")
        .join(
            JoinType::InnerJoin,
            publication::Entity::belongs_to(instance::Entity)
                .from(publication::Column::Instance)
                .to(instance::Column::Id)
                .into(),
        )
}

fn filtered(f: &PublicationFilter) -> sea_orm::Select<publication::Entity> {
    let mut q = select();
    if let Some(t) = f.from {
        q = q.filter(publication::Column::At.gte(db_time(t)));
    }
    if let Some(t) = f.to {
        q = q.filter(publication::Column::At.lt(db_time(t)));
    }
    if let Some(ws) = &f.workspaces {
        q = q.filter(publication::Column::Workspace.is_in(ws.clone()));
    }
    if let Some(c) = &f.channel {
        q = q.filter(publication::Column::Channel.eq(c.clone()));
    }
    if let Some(states) = &f.states {
        let now = db_time(f.now);
        let open = || instance::Column::Status.is_in(["running", "suspended"]);
        let mut any = Condition::any();
        for s in states {
            any = any.add(match s {
                PublicationState::InProduction => Condition::all().add(open()).add(publication::Column::At.gt(now)),
                PublicationState::Late => Condition::all().add(open()).add(publication::Column::At.lte(now)),
                PublicationState::Published => Condition::all().add(instance::Column::Status.eq("completed")),
                PublicationState::Cancelled => {
                    Condition::all().add(instance::Column::Status.is_in(["cancelled", "failed", "rejected"]))
                }
            });
        }
        q = q.filter(any);
    }
    q
}

impl Store {
    /// Publications in time order (then by instance), one page.
    pub async fn publications(&self, f: &PublicationFilter) -> Result<Vec<PublicationRow>> {
        let q = filtered(f)
            .order_by_asc(publication::Column::At)
            .order_by_asc(publication::Column::Instance)
            .offset(f.offset)
            .limit(f.limit)
            .into_model::<PublicationRow>();
        Ok(q.all(self.conn()).await?)
    }

    /// How many publications match (on all pages).
    pub async fn count_publications(&self, f: &PublicationFilter) -> Result<u64> {
        let q = filtered(f).select_only().column_as(publication::Column::Instance.count(), "n");
        let n: Option<i64> = q.into_tuple().one(self.conn()).await?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    pub async fn publication(&self, instance: Uuid) -> Result<Option<PublicationRow>> {
        let q = select().filter(publication::Column::Instance.eq(instance.to_string())).into_model::<PublicationRow>();
        Ok(q.one(self.conn()).await?)
    }
}

impl Tx {
    /// Records publications (an instance's entry is written once).
    pub async fn insert_publications(&self, rows: &[NewPublication]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let models = rows.iter().map(|r| publication::ActiveModel {
            instance: Set(r.instance.to_string()),
            workspace: Set(r.workspace.clone()),
            channel: Set(r.channel.clone()),
            title: Set(r.title.clone()),
            at: Set(db_time(r.at)),
        });
        publication::Entity::insert_many(models)
            .on_conflict(OnConflict::column(publication::Column::Instance).do_nothing().to_owned())
            .exec_without_returning(self.conn())
            .await?;
        Ok(())
    }

    /// The live publications (not ended otherwise than published) of a
    /// workspace between two times, for checking posting limits.
    pub async fn publications_between(
        &self,
        workspace: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PublicationRow>> {
        let f = PublicationFilter {
            from: Some(from),
            to: Some(to),
            workspaces: Some(vec![workspace.to_string()]),
            ..Default::default()
        };
        let live = instance::Column::Status.is_in(["running", "suspended", "completed"]);
        let q = filtered(&f)
            .filter(live)
            .order_by_asc(publication::Column::At)
            .limit(10_000)
            .into_model::<PublicationRow>();
        Ok(q.all(self.conn()).await?)
    }
}
