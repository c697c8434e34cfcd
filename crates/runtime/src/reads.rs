//! Reads, scoped by who asks: a session sees the workspaces it is a member
//! of (all, for admins); another workspace's instance is not found; lists
//! are filtered in the query, not after it. The API pages with `count_*`
//! and an offset and limit.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use smmflow_engine::{Event, Instance, InstanceStatus, TaskStatus};
use smmflow_store::{
    DocumentKind, FireRow, InstanceFilter, Member, NotificationFilter, OutboxRow, OutboxStatus, ScheduleRow,
    TaskFilter, User,
};
use uuid::Uuid;

use crate::access::{Admin, MemberOf, Session, Signed};
use crate::{Def, Error, Result};

/// Which instances to list.
#[derive(Clone, Debug, Default)]
pub struct InstanceQuery {
    pub workflow: Option<String>,
    pub workspace: Option<String>,
    pub statuses: Vec<InstanceStatus>,
    pub started_after: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
}

/// Which tasks to list.
#[derive(Clone, Debug, Default)]
pub struct TaskQuery {
    pub instance: Option<Uuid>,
    pub workspace: Option<String>,
    pub statuses: Vec<TaskStatus>,
    pub role: Option<String>,
    pub assignee: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    /// Open or claimed and past due now.
    pub overdue: bool,
    /// Claimed by the viewer, or open for one of their roles.
    pub mine: bool,
}

/// Which notifications to list.
#[derive(Clone, Debug, Default)]
pub struct NotificationQuery {
    pub statuses: Vec<OutboxStatus>,
    pub recipient: Option<String>,
    pub instance: Option<Uuid>,
}

/// A slice of a list: skip `offset`, take `limit`.
#[derive(Clone, Copy, Debug)]
pub struct Slice {
    pub offset: u64,
    pub limit: u64,
}

impl Session {
    fn instance_filter(&self, q: &InstanceQuery) -> Result<InstanceFilter> {
        Ok(InstanceFilter {
            workflow: q.workflow.clone(),
            workspace: q.workspace.clone(),
            visible: self.viewer()?.visible(),
            statuses: q.statuses.iter().map(|s| s.as_str().to_string()).collect(),
            started_after: q.started_after,
            started_before: q.started_before,
            ..Default::default()
        })
    }

    fn task_filter(&self, q: &TaskQuery) -> Result<TaskFilter> {
        let viewer = self.viewer()?;
        let mine = q.mine.then(|| {
            let roles = viewer.memberships.iter().map(|m| (m.workspace.clone(), m.role.clone())).collect();
            (viewer.login().to_string(), roles)
        });
        Ok(TaskFilter {
            instance: q.instance,
            workspace: q.workspace.clone(),
            visible: viewer.visible(),
            statuses: q.statuses.iter().map(|s| s.as_str().to_string()).collect(),
            role: q.role.clone(),
            assignee: q.assignee.clone(),
            due_before: q.due_before,
            overdue_at: q.overdue.then(|| self.runtime().now()),
            mine,
            ..Default::default()
        })
    }

    /// Workspaces the viewer is a member of (all, for admins), with names.
    pub async fn workspaces(&self) -> Result<Vec<(String, String)>> {
        let viewer = self.viewer()?;
        let all = self.runtime().store.workspaces().await?;
        Ok(all.into_iter().filter(|(k, _)| viewer.is_member(k)).collect())
    }

    /// One workspace the viewer may see (None otherwise).
    pub async fn workspace(&self, key: &str) -> Result<Option<(String, String)>> {
        if !self.viewer()?.is_member(key) {
            return Ok(None);
        }
        Ok(self.workspaces().await?.into_iter().find(|(k, _)| k == key))
    }

    /// A workspace's settings and profile (a workspace the viewer may see).
    pub async fn workspace_settings(&self, key: &str) -> Result<crate::clients::Workspace> {
        self.member(key)?;
        self.runtime().workspace_settings(key).await
    }

    /// The profile schema a workspace's profile is checked against.
    pub async fn profile_schema(&self, key: &str) -> Result<std::sync::Arc<smmflow_spec::profile::Profile>> {
        self.member(key)?;
        self.runtime().profile_schema().await
    }

    /// The versions of a workspace's profile, newest first.
    pub async fn profile_history(&self, key: &str, limit: u64) -> Result<Vec<smmflow_store::ProfileVersion>> {
        self.member(key)?;
        self.runtime().profile_history(key, limit).await
    }

    /// Publications of the viewer's workspaces, in time order.
    pub async fn publications(
        &self,
        mut f: smmflow_store::PublicationFilter,
    ) -> Result<Vec<smmflow_store::PublicationRow>> {
        f.workspaces = self.visible_among(f.workspaces.take())?;
        Ok(self.runtime().store.publications(&f).await?)
    }

    /// One publication (of a workspace the viewer sees).
    pub async fn publication(&self, instance: uuid::Uuid) -> Result<Option<smmflow_store::PublicationRow>> {
        let viewer = self.viewer()?;
        let row = self.runtime().store.publication(instance).await?;
        Ok(row.filter(|r| viewer.is_member(&r.workspace)))
    }

    /// How many publications match, among the viewer's workspaces.
    pub async fn count_publications(&self, mut f: smmflow_store::PublicationFilter) -> Result<u64> {
        f.workspaces = self.visible_among(f.workspaces.take())?;
        Ok(self.runtime().store.count_publications(&f).await?)
    }

    /// The workspaces to read: those asked for that the viewer sees (all
    /// of the viewer's when none are asked for; None means every one).
    fn visible_among(&self, asked: Option<Vec<String>>) -> Result<Option<Vec<String>>> {
        let viewer = self.viewer()?;
        Ok(match (asked, viewer.visible()) {
            (Some(asked), _) => Some(asked.into_iter().filter(|w| viewer.is_member(w)).collect()),
            (None, visible) => visible,
        })
    }

    /// The latest version of every deployed workflow (the organization's processes).
    pub async fn workflows(&self) -> Result<Vec<Arc<Def>>> {
        self.viewer()?;
        let rt = self.runtime();
        let mut out = Vec::new();
        for d in rt.store.latest_documents(DocumentKind::Workflow).await? {
            out.push(rt.definition(&d.key, Some(d.version)).await?);
        }
        Ok(out)
    }

    /// A workflow version (the latest when `version` is None); None when there is none.
    pub async fn workflow(&self, key: &str, version: Option<i32>) -> Result<Option<Arc<Def>>> {
        self.viewer()?;
        match self.runtime().definition(key, version).await {
            Ok(d) => Ok(Some(d)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A workflow version (the latest when `version` is None); `NotFound` when there is none.
    pub async fn definition(&self, key: &str, version: Option<i32>) -> Result<Arc<Def>> {
        self.viewer()?;
        self.runtime().definition(key, version).await
    }

    /// A workflow version's YAML as deployed.
    pub async fn workflow_source(&self, key: &str, version: i32) -> Result<String> {
        self.viewer()?;
        let tx = self.runtime().store.begin_read().await?;
        let doc = tx.document(DocumentKind::Workflow, key, Some(version)).await?;
        Ok(doc.map(|d| d.source).unwrap_or_default())
    }

    /// An instance the viewer may see; another workspace's is not found.
    pub async fn instance(&self, id: Uuid) -> Result<Instance> {
        let viewer = self.viewer()?;
        match self.runtime().store.instance(id).await? {
            Some(i) if viewer.is_member(&i.workspace) => Ok(i),
            _ => Err(Error::NotFound(format!("instance {id}"))),
        }
    }

    /// The instance's audit log, in order.
    pub async fn events(&self, id: Uuid) -> Result<Vec<Event>> {
        self.instance(id).await?;
        Ok(self.runtime().store.events(id).await?)
    }

    pub async fn count_instances(&self, q: &InstanceQuery) -> Result<u64> {
        Ok(self.runtime().store.count_instances(&self.instance_filter(q)?).await?)
    }

    pub async fn instances(&self, q: &InstanceQuery, slice: Slice) -> Result<Vec<Instance>> {
        let mut f = self.instance_filter(q)?;
        f.offset = Some(slice.offset);
        f.limit = Some(slice.limit);
        Ok(self.runtime().store.instances(&f).await?)
    }

    pub async fn count_tasks(&self, q: &TaskQuery) -> Result<u64> {
        Ok(self.runtime().store.count_tasks(&self.task_filter(q)?).await?)
    }

    /// A page of tasks as (instance, task number): the page's instances
    /// are read in one query, not one per task.
    pub async fn tasks(&self, q: &TaskQuery, slice: Slice) -> Result<Vec<(Arc<Instance>, u32)>> {
        let rows = self.task_rows(q, slice).await?;
        let store = &self.runtime().store;
        let mut ids: Vec<Uuid> = rows.iter().map(|r| r.instance_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let instances: HashMap<Uuid, Arc<Instance>> =
            store.instances_by_id(&ids).await?.into_iter().map(|(id, i)| (id, Arc::new(i))).collect();
        Ok(rows.into_iter().filter_map(|r| instances.get(&r.instance_id).map(|i| (i.clone(), r.no))).collect())
    }

    /// A page of tasks as their rows in the task table alone (written in
    /// the same transaction as their instance's snapshot): one query, for
    /// a page that asks nothing the rows do not hold.
    pub async fn task_rows(&self, q: &TaskQuery, slice: Slice) -> Result<Vec<smmflow_store::TaskRow>> {
        let mut f = self.task_filter(q)?;
        f.offset = Some(slice.offset);
        f.limit = Some(slice.limit);
        Ok(self.runtime().store.tasks(&f).await?)
    }

    /// Schedules of the viewer's workspaces (or one of them).
    pub async fn schedules(&self, workspace: Option<&str>) -> Result<Vec<ScheduleRow>> {
        let rows = self.runtime().store.schedules(self.viewer()?.visible().as_deref()).await?;
        Ok(rows.into_iter().filter(|r| workspace.is_none_or(|w| w == r.workspace)).collect())
    }

    /// One schedule by id, when the viewer is a member of its workspace.
    pub async fn schedule(&self, id: &str) -> Result<Option<ScheduleRow>> {
        let viewer = self.viewer()?;
        let row = self.runtime().store.schedule(id).await?;
        Ok(row.filter(|r| viewer.is_admin() || self.member(&r.workspace).is_ok()))
    }

    /// A schedule's latest fires, newest first (a schedule the viewer may see).
    pub async fn last_fires(&self, schedule: &ScheduleRow, limit: u64) -> Result<Vec<FireRow>> {
        self.member(&schedule.workspace)?;
        Ok(self.runtime().store.last_fires(&schedule.id, limit).await?)
    }

    /// A user: the viewer, or anyone for admins.
    pub async fn user(&self, login: &str) -> Result<Option<User>> {
        let viewer = self.viewer()?;
        if login != viewer.login() && !viewer.is_admin() {
            return Ok(None);
        }
        Ok(self.runtime().store.user(login).await?)
    }

    /// Users by login, as memberships and tasks name them (any signed-in user).
    pub async fn users(&self, logins: &[String]) -> Result<Vec<User>> {
        self.viewer()?;
        Ok(self.runtime().store.users(logins).await?)
    }

    /// Names of the workspaces among `keys` the viewer may see.
    pub async fn workspace_names(&self, keys: &[String]) -> Result<Vec<(String, String)>> {
        let viewer = self.viewer()?;
        let all = self.runtime().store.workspaces().await?;
        Ok(all.into_iter().filter(|(k, _)| keys.contains(k) && viewer.is_member(k)).collect())
    }

    /// A user's memberships in the workspaces the viewer may see.
    pub async fn memberships_of(&self, login: &str) -> Result<Vec<Member>> {
        let viewer = self.viewer()?;
        let all = self.runtime().store.memberships(login).await?;
        Ok(all.into_iter().filter(|m| viewer.is_member(&m.workspace)).collect())
    }
}

impl MemberOf<'_> {
    /// Every membership of the workspace, by user then role.
    pub async fn members(&self) -> Result<Vec<Member>> {
        Ok(self.s.runtime().store.members(&self.workspace).await?)
    }
}

impl Signed<'_> {
    /// The viewer as stored now.
    pub async fn me(&self) -> Result<User> {
        let login = self.viewer.login();
        self.s.runtime().store.user(login).await?.ok_or_else(|| Error::NotFound(format!("user `{login}`")))
    }
}

impl Admin<'_> {
    fn notification_filter(q: &NotificationQuery) -> NotificationFilter {
        NotificationFilter {
            statuses: q.statuses.clone(),
            recipient: q.recipient.clone(),
            instance: q.instance,
            ..Default::default()
        }
    }

    pub async fn count_notifications(&self, q: &NotificationQuery) -> Result<u64> {
        Ok(self.s.runtime().store.count_notifications(&Self::notification_filter(q)).await?)
    }

    /// Messages and digest items, newest first.
    pub async fn notifications(&self, q: &NotificationQuery, slice: Slice) -> Result<Vec<OutboxRow>> {
        let mut f = Self::notification_filter(q);
        f.offset = Some(slice.offset);
        f.limit = Some(slice.limit);
        Ok(self.s.runtime().store.notifications(&f).await?)
    }

    pub async fn notification(&self, id: &str) -> Result<Option<OutboxRow>> {
        Ok(self.s.runtime().store.notification(id).await?)
    }
}
