//! Queries. Thin: parse arguments, ask a handle or the store, map the result.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use smmflow_store::{InstanceFilter as StoreInstanceFilter, TaskFilter as StoreTaskFilter};

use crate::error::ApiError;
use crate::ids::NodeId;
use crate::types::enums::{InstanceStatus, TaskStatus};
use crate::types::notification::NotificationFilter;
use crate::types::page::{Page, Window};
use crate::types::{InstanceObj, Node, NotificationObj, TaskObj, UserObj, WorkflowObj, WorkspaceObj};
use crate::{access_of, runtime_of};

pub struct Query;

#[derive(InputObject, Default)]
pub struct InstanceFilter {
    /// A workflow key.
    pub workflow: Option<String>,
    /// A workspace key.
    pub workspace: Option<String>,
    pub status: Option<Vec<InstanceStatus>>,
    pub started_after: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
}

#[derive(InputObject, Default)]
pub struct TaskFilter {
    pub status: Option<Vec<TaskStatus>>,
    pub role: Option<String>,
    /// A login.
    pub assignee: Option<String>,
    pub workspace: Option<String>,
    pub instance: Option<ID>,
    pub due_before: Option<DateTime<Utc>>,
    pub overdue: Option<bool>,
    /// Claimed by me, or open for one of my roles.
    pub mine: Option<bool>,
}

async fn task_obj(ctx: &Context<'_>, instance: uuid::Uuid, no: u32) -> Result<TaskObj> {
    let i = access_of(ctx)?.readable_instance(runtime_of(ctx)?, instance).await?;
    if i.task(no).is_none() {
        return Err(ApiError::NotFound(format!("task {no} of instance {instance} not found")).into());
    }
    Ok(TaskObj { instance: Arc::new(i), no })
}

#[Object]
impl Query {
    /// The caller.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<UserObj> {
        Ok(UserObj(access_of(ctx)?.viewer()?.user.clone()))
    }

    /// The server's time (it differs from the wall clock under `--manual-clock`).
    async fn server_time(&self, ctx: &Context<'_>) -> Result<DateTime<Utc>> {
        Ok(runtime_of(ctx)?.now())
    }

    /// Workspaces the caller is a member of (all, for admins).
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn workspaces(&self, ctx: &Context<'_>) -> Result<Vec<WorkspaceObj>> {
        let viewer = access_of(ctx)?.viewer()?;
        let all = runtime_of(ctx)?.store().workspaces().await.map_err(ApiError::from)?;
        Ok(all.into_iter().filter(|(k, _)| viewer.is_member(k)).map(|(key, name)| WorkspaceObj { key, name }).collect())
    }

    async fn workspace(&self, ctx: &Context<'_>, key: String) -> Result<Option<WorkspaceObj>> {
        let viewer = access_of(ctx)?.viewer()?;
        if !viewer.is_member(&key) {
            return Ok(None);
        }
        let all = runtime_of(ctx)?.store().workspaces().await.map_err(ApiError::from)?;
        Ok(all.into_iter().find(|(k, _)| *k == key).map(|(key, name)| WorkspaceObj { key, name }))
    }

    /// The latest version of every deployed workflow.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn workflows(&self, ctx: &Context<'_>) -> Result<Vec<WorkflowObj>> {
        access_of(ctx)?.viewer()?;
        let rt = runtime_of(ctx)?;
        let mut out = Vec::new();
        for d in rt.store().latest_documents(smmflow_store::DocumentKind::Workflow).await.map_err(ApiError::from)? {
            out.push(WorkflowObj(rt.definition(&d.key, Some(d.version)).await.map_err(ApiError::from)?));
        }
        Ok(out)
    }

    /// A workflow version (the latest when `version` is omitted).
    async fn workflow(&self, ctx: &Context<'_>, key: String, version: Option<i32>) -> Result<Option<WorkflowObj>> {
        access_of(ctx)?.viewer()?;
        match runtime_of(ctx)?.definition(&key, version).await {
            Ok(d) => Ok(Some(WorkflowObj(d))),
            Err(smmflow_runtime::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(ApiError::from(e).into()),
        }
    }

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
        let viewer = access_of(ctx)?.viewer()?;
        let f = filter.unwrap_or_default();
        let mut sf = StoreInstanceFilter {
            workflow: f.workflow,
            workspace: f.workspace,
            visible: viewer.visible(),
            statuses: f.status.unwrap_or_default().into_iter().map(|s| s.as_str().to_string()).collect(),
            started_after: f.started_after,
            started_before: f.started_before,
            ..Default::default()
        };
        let store = runtime_of(ctx)?.store();
        let total = store.count_instances(&sf).await.map_err(ApiError::from)?;
        let w = Window::new(after, before, first, last, total)?;
        sf.offset = Some(w.offset);
        sf.limit = Some(w.limit);
        let items = store.instances(&sf).await.map_err(ApiError::from)?;
        Ok(w.page(items.into_iter().map(InstanceObj::new).collect(), total))
    }

    async fn instance(&self, ctx: &Context<'_>, id: ID) -> Result<Option<InstanceObj>> {
        let id = NodeId::instance(&id)?;
        match access_of(ctx)?.readable_instance(runtime_of(ctx)?, id).await {
            Ok(i) => Ok(Some(InstanceObj::new(i))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

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
        let viewer = access_of(ctx)?.viewer()?;
        let rt = runtime_of(ctx)?;
        let f = filter.unwrap_or_default();
        let mine = f.mine.unwrap_or(false).then(|| {
            let roles = viewer.memberships.iter().map(|m| (m.workspace.clone(), m.role.clone())).collect();
            (viewer.user.login.clone(), roles)
        });
        let mut sf = StoreTaskFilter {
            instance: f.instance.as_ref().map(|i| NodeId::instance(i)).transpose()?,
            workspace: f.workspace,
            visible: viewer.visible(),
            statuses: f.status.unwrap_or_default().into_iter().map(|s| s.as_str().to_string()).collect(),
            role: f.role,
            assignee: f.assignee,
            due_before: f.due_before,
            overdue_at: f.overdue.unwrap_or(false).then(|| rt.now()),
            mine,
            ..Default::default()
        };
        let total = rt.store().count_tasks(&sf).await.map_err(ApiError::from)?;
        let w = Window::new(after, before, first, last, total)?;
        sf.offset = Some(w.offset);
        sf.limit = Some(w.limit);
        let rows = rt.store().tasks(&sf).await.map_err(ApiError::from)?;
        // One query for the page's instances, not one per task.
        let mut ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.instance_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let instances: std::collections::HashMap<uuid::Uuid, Arc<smmflow_engine::Instance>> = rt
            .store()
            .instances_by_id(&ids)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|(id, i)| (id, Arc::new(i)))
            .collect();
        let items = rows
            .into_iter()
            .filter_map(|r| instances.get(&r.instance_id).map(|i| TaskObj { instance: i.clone(), no: r.no }))
            .collect();
        Ok(w.page(items, total))
    }

    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<TaskObj>> {
        let (instance, no) = NodeId::task(&id)?;
        match task_obj(ctx, instance, no).await {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.message.contains("not found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Schedules of the caller's workspaces (or one of them).
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn schedules(
        &self,
        ctx: &Context<'_>,
        workspace: Option<String>,
    ) -> Result<Vec<crate::types::schedule::ScheduleObj>> {
        let viewer = access_of(ctx)?.viewer()?;
        let rows = runtime_of(ctx)?.store().schedules(viewer.visible().as_deref()).await.map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .filter(|r| workspace.as_ref().is_none_or(|w| *w == r.workspace))
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
        access_of(ctx)?.admin()?;
        let rt = runtime_of(ctx)?;
        let f = filter.unwrap_or_default();
        let mut sf = smmflow_store::NotificationFilter {
            statuses: f.status.unwrap_or_default().into_iter().map(Into::into).collect(),
            recipient: f.recipient,
            instance: f.instance.as_ref().map(|i| NodeId::instance(i)).transpose()?,
            ..Default::default()
        };
        let total = rt.store().count_notifications(&sf).await.map_err(ApiError::from)?;
        let w = Window::new(after, before, first, last, total)?;
        sf.offset = Some(w.offset);
        sf.limit = Some(w.limit);
        let rows = rt.store().notifications(&sf).await.map_err(ApiError::from)?;
        Ok(w.page(rows.into_iter().map(NotificationObj).collect(), total))
    }

    /// Any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let viewer = access_of(ctx)?.viewer()?;
        let rt = runtime_of(ctx)?;
        Ok(match NodeId::decode(&id)? {
            NodeId::Instance(i) => self.instance(ctx, ID(NodeId::Instance(i).encode())).await?.map(Node::Instance),
            NodeId::Task(..) => self.task(ctx, id).await?.map(Node::Task),
            NodeId::Workspace(k) => self.workspace(ctx, k).await?.map(Node::Workspace),
            NodeId::User(l) if l == viewer.user.login || viewer.is_admin() => {
                rt.store().user(&l).await.map_err(ApiError::from)?.map(|u| Node::User(UserObj(u)))
            }
            NodeId::User(_) => None,
            NodeId::Workflow(k, v) => self.workflow(ctx, k, Some(v)).await?.map(Node::Workflow),
            NodeId::Notification(n) if viewer.is_admin() => rt
                .store()
                .notification(&n)
                .await
                .map_err(ApiError::from)?
                .map(|r| Node::Notification(NotificationObj(r))),
            NodeId::Notification(_) => None,
        })
    }
}
