//! Queries. Thin: parse arguments, ask the session (or one of its
//! handles) for the runtime's read, map the result.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use smmflow_runtime::reads::{InstanceQuery, NotificationQuery, TaskQuery};

use crate::error::{ApiError, ApiResult as Result};
use crate::ids::NodeId;
use crate::types::enums::{InstanceStatus, TaskStatus};
use crate::types::notification::NotificationFilter;
use crate::types::page::{Page, Window};
use crate::types::publication::{PublicationFilter, PublicationObj};
use crate::types::schedule::ScheduleObj;
use crate::types::{InstanceObj, Node, NotificationObj, TaskObj, UserObj, WorkflowObj, WorkspaceObj};
use crate::{access_of, runtime_of};

pub struct Query;

/// Which schedules to list.
#[derive(InputObject, Default)]
pub struct ScheduleFilter {
    /// A workspace key.
    pub workspace: Option<String>,
    /// A workflow key.
    pub workflow: Option<String>,
}

/// Which instances to list; fields left out do not filter.
#[derive(InputObject, Default)]
pub struct InstanceFilter {
    /// A workflow key.
    pub workflow: Option<String>,
    /// A workspace key.
    pub workspace: Option<String>,
    /// Only these states.
    pub status: Option<Vec<InstanceStatus>>,
    /// Only those started after this time (RFC 3339).
    pub started_after: Option<DateTime<Utc>>,
    /// Only those started before this time (RFC 3339).
    pub started_before: Option<DateTime<Utc>>,
}

/// Which tasks to list; fields left out, and `mine` or `overdue` set to `false`, do not filter.
#[derive(InputObject, Default)]
pub struct TaskFilter {
    /// Only these states.
    pub status: Option<Vec<TaskStatus>>,
    /// Only tasks for this role.
    pub role: Option<String>,
    /// A login.
    pub assignee: Option<String>,
    /// A workspace key.
    pub workspace: Option<String>,
    /// Only the tasks of this instance (its global id).
    pub instance: Option<ID>,
    /// Only tasks due before this time (RFC 3339).
    pub due_before: Option<DateTime<Utc>>,
    /// `true`: only open or claimed tasks past their due time now.
    pub overdue: Option<bool>,
    /// Claimed by me, or open for one of my roles.
    pub mine: Option<bool>,
}

async fn task_obj(ctx: &Context<'_>, instance: uuid::Uuid, no: u32) -> Result<TaskObj> {
    let i = access_of(ctx)?.instance(instance).await?;
    if i.task(no).is_none() {
        return Err(ApiError::NotFound(format!("task {no} of instance {instance} not found")));
    }
    Ok(TaskObj::new(Arc::new(i), no))
}

/// Not found is no error for a lookup by id: it is `null`.
fn found<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(x) => Ok(Some(x)),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads: the caller, workspaces, workflows, instances, tasks, schedules, the calendar and figures.
#[Object]
impl Query {
    /// The caller.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<UserObj> {
        Ok(UserObj::new(access_of(ctx)?.viewer()?.user.clone()))
    }

    /// The server's time (it differs from the wall clock under `--manual-clock`).
    async fn server_time(&self, ctx: &Context<'_>) -> Result<DateTime<Utc>> {
        access_of(ctx)?.viewer()?;
        Ok(runtime_of(ctx)?.now())
    }

    /// Workspaces the caller is a member of (all, for admins).
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn workspaces(&self, ctx: &Context<'_>) -> Result<Vec<WorkspaceObj>> {
        let all = access_of(ctx)?.workspaces().await?;
        Ok(all.into_iter().map(|(key, name)| WorkspaceObj::new(key, name)).collect())
    }

    /// A workspace (client) by key; null when there is none the caller may see.
    async fn workspace(&self, ctx: &Context<'_>, key: String) -> Result<Option<WorkspaceObj>> {
        Ok(access_of(ctx)?.workspace(&key).await?.map(|(key, name)| WorkspaceObj::new(key, name)))
    }

    /// The latest version of every deployed workflow.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn workflows(&self, ctx: &Context<'_>) -> Result<Vec<WorkflowObj>> {
        Ok(access_of(ctx)?.workflows().await?.into_iter().map(WorkflowObj).collect())
    }

    /// A workflow version (the latest when `version` is omitted).
    async fn workflow(&self, ctx: &Context<'_>, key: String, version: Option<i32>) -> Result<Option<WorkflowObj>> {
        Ok(access_of(ctx)?.workflow(&key, version).await?.map(WorkflowObj))
    }

    /// Instances of the caller's workspaces, newest first, one page at a time.
    #[graphql(complexity = "crate::limits::page_cost(first, last, child_complexity)")]
    async fn instances(
        &self,
        ctx: &Context<'_>,
        filter: Option<InstanceFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<InstanceObj>> {
        let session = access_of(ctx)?;
        let f = filter.unwrap_or_default();
        let q = InstanceQuery {
            workflow: f.workflow,
            workspace: f.workspace,
            statuses: f.status.unwrap_or_default().into_iter().map(Into::into).collect(),
            started_after: f.started_after,
            started_before: f.started_before,
        };
        let total = session.count_instances(&q).await?;
        let w = Window::new(after, before, first, last, total)?;
        let items = session.instances(&q, w.slice()).await?;
        Ok(w.page(items.into_iter().map(InstanceObj::new).collect(), total))
    }

    /// Figures for a period from the event log, in business time: steps'
    /// cycle and waiting times, who holds work up (parties), load per role
    /// and person, rejection reasons, due times kept. Only the workspaces
    /// the caller is a member of (all, for admins).
    async fn analytics(
        &self,
        ctx: &Context<'_>,
        filter: crate::types::analytics::AnalyticsFilter,
    ) -> Result<crate::types::analytics::AnalyticsObj> {
        let session = access_of(ctx)?;
        let f = smmflow_runtime::analytics::AnalyticsFilter {
            from: filter.from,
            to: filter.to,
            workspace: filter.workspace,
            workflow: filter.workflow,
        };
        Ok(crate::types::analytics::AnalyticsObj(session.analytics(f).await?))
    }

    /// When an instance's steps are expected done: each step takes its
    /// history's p50 (p90 for `p90Completion`) in business time, late work
    /// runs later, and steps not started wait for their role's queue.
    async fn forecast(&self, ctx: &Context<'_>, instance_id: ID) -> Result<crate::types::forecast::ForecastObj> {
        let id = NodeId::instance(&instance_id)?;
        Ok(crate::types::forecast::ForecastObj(access_of(ctx)?.forecast(id).await?))
    }

    /// The content calendar: publications of the caller's workspaces in
    /// `[from, to)`, ordered by time.
    #[graphql(complexity = "crate::limits::page_cost(first, last, child_complexity)")]
    async fn publications(
        &self,
        ctx: &Context<'_>,
        filter: PublicationFilter,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<PublicationObj>> {
        let session = access_of(ctx)?;
        if filter.to <= filter.from {
            return Err(ApiError::BadInput("`to` must be after `from`".into()));
        }
        let now = session.runtime().now();
        let mut f = smmflow_runtime::PublicationFilter {
            from: Some(filter.from),
            to: Some(filter.to),
            workspaces: filter.workspace.map(|w| vec![w]),
            channel: filter.channel,
            states: filter.status.map(|s| s.into_iter().map(Into::into).collect()),
            now,
            ..Default::default()
        };
        let total = session.count_publications(f.clone()).await?;
        let w = Window::new(after, before, first, last, total)?;
        (f.offset, f.limit) = (w.offset, w.limit);
        let rows = session.publications(f).await?;
        Ok(w.page(rows.into_iter().map(|row| PublicationObj { row, now }).collect(), total))
    }

    /// An instance by global id; null when there is none the caller may see.
    async fn instance(&self, ctx: &Context<'_>, id: ID) -> Result<Option<InstanceObj>> {
        let id = NodeId::instance(&id)?;
        Ok(found(access_of(ctx)?.instance(id).await.map_err(ApiError::from))?.map(InstanceObj::new))
    }

    /// Tasks of the caller's workspaces, one page at a time (`mine: true` for the caller's inbox).
    #[graphql(complexity = "crate::limits::page_cost(first, last, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        filter: Option<TaskFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<TaskObj>> {
        let session = access_of(ctx)?;
        let f = filter.unwrap_or_default();
        let q = TaskQuery {
            instance: f.instance.as_ref().map(|i| NodeId::instance(i)).transpose()?,
            workspace: f.workspace,
            statuses: f.status.unwrap_or_default().into_iter().map(Into::into).collect(),
            role: f.role,
            assignee: f.assignee,
            due_before: f.due_before,
            overdue: f.overdue.unwrap_or(false),
            mine: f.mine.unwrap_or(false),
        };
        // A page asking only what task rows hold (a poll for the next
        // task, an inbox) is one query; others read the page's instances too.
        let rows = crate::types::task::rows_answer(ctx);
        let read = async |slice| -> Result<Vec<TaskObj>> {
            Ok(if rows {
                session.task_rows(&q, slice).await?.into_iter().map(TaskObj::from_row).collect()
            } else {
                session.tasks(&q, slice).await?.into_iter().map(|(instance, no)| TaskObj::new(instance, no)).collect()
            })
        };
        if !crate::types::page::needs_total(ctx, before.as_ref(), last) {
            let w = Window::ahead(after, first)?;
            return Ok(w.page_ahead(read(w.slice_ahead()).await?));
        }
        let total = session.count_tasks(&q).await?;
        let w = Window::new(after, before, first, last, total)?;
        Ok(w.page(read(w.slice()).await?, total))
    }

    /// A task by global id; null when there is none the caller may see.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<TaskObj>> {
        let (instance, no) = NodeId::task(&id)?;
        found(task_obj(ctx, instance, no).await)
    }

    /// Schedules of the caller's workspaces (or of one workspace or
    /// workflow: `filter`; the bare `workspace` argument is the same as
    /// `filter: {workspace}`, kept for older clients).
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn schedules(
        &self,
        ctx: &Context<'_>,
        filter: Option<ScheduleFilter>,
        workspace: Option<String>,
    ) -> Result<Vec<crate::types::schedule::ScheduleObj>> {
        let f = filter.unwrap_or_default();
        let workspace = f.workspace.or(workspace);
        let rows = access_of(ctx)?.schedules(workspace.as_deref()).await?;
        Ok(rows
            .into_iter()
            .filter(|r| f.workflow.as_ref().is_none_or(|w| *w == r.workflow))
            .map(crate::types::schedule::ScheduleObj)
            .collect())
    }

    /// Messages to recipients, newest first (admins only).
    #[graphql(complexity = "crate::limits::page_cost(first, last, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        filter: Option<NotificationFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Page<NotificationObj>> {
        let session = access_of(ctx)?;
        let admin = session.admin()?;
        let f = filter.unwrap_or_default();
        let q = NotificationQuery {
            statuses: f.status.unwrap_or_default().into_iter().map(Into::into).collect(),
            recipient: f.recipient,
            instance: f.instance.as_ref().map(|i| NodeId::instance(i)).transpose()?,
        };
        let total = admin.count_notifications(&q).await?;
        let w = Window::new(after, before, first, last, total)?;
        let rows = admin.notifications(&q, w.slice()).await?;
        Ok(w.page(rows.into_iter().map(NotificationObj).collect(), total))
    }

    /// Any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let session = access_of(ctx)?;
        session.viewer()?;
        let decoded = match NodeId::decode(&id) {
            Ok(d) => d,
            // Schedules keep their documented ids (`yaml:<workflow>:<i>:<workspace>`, or a UUID).
            Err(e) => {
                return session.schedule(id.as_str()).await?.map(|r| Some(Node::Schedule(ScheduleObj(r)))).ok_or(e);
            }
        };
        Ok(match decoded {
            NodeId::Instance(i) => self.instance(ctx, ID(NodeId::Instance(i).encode())).await?.map(Node::Instance),
            NodeId::Task(..) => self.task(ctx, id).await?.map(Node::Task),
            NodeId::Workspace(k) => self.workspace(ctx, k).await?.map(Node::Workspace),
            NodeId::User(l) => session.user(&l).await?.map(|u| Node::User(UserObj::new(u))),
            NodeId::Workflow(k, v) => self.workflow(ctx, k, Some(v)).await?.map(Node::Workflow),
            NodeId::Notification(n) => match session.admin() {
                Ok(admin) => admin.notification(&n).await?.map(|r| Node::Notification(NotificationObj(r))),
                Err(_) => None,
            },
            NodeId::Publication(p) => match p.parse() {
                Ok(i) => session
                    .publication(i)
                    .await?
                    .map(|row| Node::Publication(PublicationObj { row, now: session.runtime().now() })),
                Err(_) => None,
            },
        })
    }
}
