//! Workspaces as clients: their settings (timezone, business calendar,
//! posting limits) and typed profile, with every version of the profile
//! kept. Checking a profile against its schema is the runtime's business;
//! the store keeps what it is given, in one transaction with its history.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::LockType;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

use crate::directory::unique;
use crate::entity::{workspace, workspace_profile};
use crate::{Result, Store, Tx, db_time};

/// A workspace with its settings and current profile.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkspaceRow {
    pub key: String,
    pub name: String,
    /// An IANA timezone name.
    pub timezone: String,
    /// The key of a deployed business calendar.
    pub calendar: Option<String>,
    /// The client's profile (a JSON object).
    pub profile: Value,
    /// 0 before the first profile was written.
    pub profile_version: i32,
    /// The posting limits as the API shows them (a JSON list).
    pub posting_limits: Value,
    pub created_at: DateTime<Utc>,
}

impl WorkspaceRow {
    /// A workspace with the default settings: UTC, no calendar, an empty profile, no limits.
    pub fn new(key: &str, name: &str, now: DateTime<Utc>) -> WorkspaceRow {
        WorkspaceRow {
            key: key.into(),
            name: name.into(),
            timezone: "UTC".into(),
            calendar: None,
            profile: json!({}),
            profile_version: 0,
            posting_limits: json!([]),
            created_at: now,
        }
    }
}

/// One version of a workspace's profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileVersion {
    pub version: i32,
    pub profile: Value,
    pub changed_at: DateTime<Utc>,
    pub changed_by: String,
}

impl From<workspace::Model> for WorkspaceRow {
    fn from(m: workspace::Model) -> Self {
        WorkspaceRow {
            key: m.key,
            name: m.name,
            timezone: m.timezone,
            calendar: m.calendar,
            profile: m.profile,
            profile_version: m.profile_version,
            posting_limits: m.posting_limits,
            created_at: m.created_at,
        }
    }
}

fn active(r: &WorkspaceRow) -> workspace::ActiveModel {
    workspace::ActiveModel {
        key: Set(r.key.clone()),
        name: Set(r.name.clone()),
        created_at: Set(db_time(r.created_at)),
        timezone: Set(r.timezone.clone()),
        calendar: Set(r.calendar.clone()),
        profile: Set(r.profile.clone()),
        profile_version: Set(r.profile_version),
        posting_limits: Set(r.posting_limits.clone()),
    }
}

impl Store {
    /// One workspace with its settings.
    pub async fn workspace(&self, key: &str) -> Result<Option<WorkspaceRow>> {
        Ok(workspace::Entity::find_by_id(key.to_string()).one(self.conn()).await?.map(WorkspaceRow::from))
    }

    /// Workspaces by key (`None`: all of them).
    pub async fn workspace_rows(&self, keys: Option<&[String]>) -> Result<Vec<WorkspaceRow>> {
        let mut q = workspace::Entity::find().order_by_asc(workspace::Column::Key);
        if let Some(keys) = keys {
            q = q.filter(workspace::Column::Key.is_in(keys.to_vec()));
        }
        Ok(q.all(self.conn()).await?.into_iter().map(WorkspaceRow::from).collect())
    }

    /// The versions of a workspace's profile, newest first.
    pub async fn profile_history(&self, key: &str, limit: u64) -> Result<Vec<ProfileVersion>> {
        let rows = workspace_profile::Entity::find()
            .filter(workspace_profile::Column::Workspace.eq(key))
            .order_by_desc(workspace_profile::Column::Version)
            .limit(limit)
            .all(self.conn())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ProfileVersion {
                version: r.version,
                profile: r.profile,
                changed_at: r.changed_at,
                changed_by: r.changed_by,
            })
            .collect())
    }
}

impl Tx {
    /// A workspace as this transaction sees it.
    pub async fn workspace(&self, key: &str) -> Result<Option<WorkspaceRow>> {
        Ok(workspace::Entity::find_by_id(key.to_string()).one(self.conn()).await?.map(WorkspaceRow::from))
    }

    /// A workspace, locked until commit on PostgreSQL (SQLite's writer
    /// lane serializes writers already).
    pub async fn workspace_for_update(&self, key: &str) -> Result<Option<WorkspaceRow>> {
        let mut q = workspace::Entity::find_by_id(key.to_string());
        if self.is_postgres() {
            q = q.lock(LockType::Update);
        }
        Ok(q.one(self.conn()).await?.map(WorkspaceRow::from))
    }

    /// Creates a workspace; a non-empty profile is its version 1.
    pub async fn insert_workspace(&self, row: &WorkspaceRow, by: &str) -> Result<()> {
        let mut row = row.clone();
        let has_profile = row.profile.as_object().is_some_and(|m| !m.is_empty());
        row.profile_version = i32::from(has_profile);
        active(&row).insert(self.conn()).await.map_err(|e| unique(e, format!("workspace `{}`", row.key)))?;
        if has_profile {
            self.add_profile_version(&row.key, 1, &row.profile, row.created_at, by).await?;
        }
        Ok(())
    }

    /// Writes a workspace's settings; when `profile_changed`, its profile
    /// becomes the next version, kept in the history.
    pub async fn update_workspace(
        &self,
        row: &WorkspaceRow,
        profile_changed: bool,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<WorkspaceRow> {
        let mut row = row.clone();
        if profile_changed {
            row.profile_version = row.profile_version.saturating_add(1);
            self.add_profile_version(&row.key, row.profile_version, &row.profile, at, by).await?;
        }
        let mut a = active(&row);
        a.created_at = sea_orm::ActiveValue::NotSet;
        a.update(self.conn()).await?;
        Ok(row)
    }

    async fn add_profile_version(
        &self,
        key: &str,
        version: i32,
        profile: &Value,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<()> {
        workspace_profile::ActiveModel {
            workspace: Set(key.into()),
            version: Set(version),
            profile: Set(profile.clone()),
            changed_at: Set(db_time(at)),
            changed_by: Set(by.into()),
        }
        .insert(self.conn())
        .await?;
        Ok(())
    }
}
