//! Tasks, as specialists see them.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, SimpleObject};

use crate::error::ApiResult as Result;
use chrono::{DateTime, Utc};
use serde_json::Value;
use smmflow_engine::{Instance, TaskKind};
use smmflow_runtime::{Def, TaskRow};
use tokio::sync::OnceCell;

use crate::error::ApiError;
use crate::ids::NodeId;
use crate::types::enums::{StepType, TaskPriority, TaskStatus};
use crate::types::instance::InstanceObj;
use crate::types::people::{Actor, UserObj};
use crate::types::workflow::form_of;
use crate::{access_of, runtime_of};

/// A task: one of an instance's, read from its instance's snapshot, or
/// from its row in the task table when a page asks only what rows hold
/// ([`ROW_FIELDS`]; `Query.tasks`). The row and the snapshot are written
/// in the same transaction, so both answer the same.
#[derive(Clone)]
pub struct TaskObj {
    source: Source,
    no: u32,
}

#[derive(Clone)]
enum Source {
    Instance(Arc<Instance>),
    /// The row, and its instance once a field the row lacks is asked for.
    Row(Arc<TaskRow>, Arc<OnceCell<Arc<Instance>>>),
}

/// The fields a task's row answers without its instance.
pub const ROW_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "title",
    "status",
    "role",
    "assignee",
    "dueAt",
    "overdue",
    "priority",
    "round",
    "isApproval",
    "step",
    "createdAt",
    "completedAt",
];

/// Whether every task a page lists (its `nodes`, its `edges { node }`)
/// asks only for [`ROW_FIELDS`]. Fragments count; `@skip` and `@include`
/// are not looked at (a skipped field only costs the instance read).
pub fn rows_answer(ctx: &Context<'_>) -> bool {
    let page = ctx.look_ahead();
    let nodes = page.field("nodes").selection_fields();
    let edge_nodes = page.field("edges").field("node").selection_fields();
    nodes.iter().chain(&edge_nodes).all(|f| f.selection_set().all(|c| ROW_FIELDS.contains(&c.name())))
}

/// What both sources hold of a task.
struct Head<'a> {
    title: &'a str,
    status: Option<smmflow_engine::TaskStatus>,
    role: Option<&'a str>,
    assignee: Option<&'a str>,
    due_at: Option<DateTime<Utc>>,
    priority: &'a str,
    round: u32,
    approval: bool,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl TaskObj {
    /// Task `no` of `instance`.
    pub fn new(instance: Arc<Instance>, no: u32) -> TaskObj {
        TaskObj { source: Source::Instance(instance), no }
    }

    /// A task from its row alone.
    pub fn from_row(row: TaskRow) -> TaskObj {
        TaskObj { no: row.no, source: Source::Row(Arc::new(row), Arc::default()) }
    }

    fn instance_id(&self) -> uuid::Uuid {
        match &self.source {
            Source::Instance(i) => i.id,
            Source::Row(r, _) => r.instance_id,
        }
    }

    fn head(&self) -> Option<Head<'_>> {
        match &self.source {
            Source::Instance(i) => i.task(self.no).map(|t| Head {
                title: &t.title,
                status: Some(t.status),
                role: t.role.as_deref(),
                assignee: t.assignee.as_deref(),
                due_at: t.due_at,
                priority: &t.priority,
                round: t.round,
                approval: matches!(t.kind, TaskKind::Approval { .. }),
                created_at: t.created_at,
                completed_at: t.completed_at,
            }),
            Source::Row(r, _) => Some(Head {
                title: &r.title,
                status: smmflow_engine::TaskStatus::from_name(&r.status),
                role: r.role.as_deref(),
                assignee: r.assignee.as_deref(),
                due_at: r.due_at,
                priority: &r.priority,
                round: r.round,
                approval: r.is_approval(),
                created_at: r.created_at,
                completed_at: r.completed_at,
            }),
        }
    }

    /// Its instance (read, for a task from its row, when first needed).
    async fn full(&self, ctx: &Context<'_>) -> Result<Arc<Instance>> {
        match &self.source {
            Source::Instance(i) => Ok(i.clone()),
            Source::Row(r, cell) => {
                let read = async { Ok::<_, ApiError>(Arc::new(access_of(ctx)?.instance(r.instance_id).await?)) };
                cell.get_or_try_init(|| read).await.cloned()
            }
        }
    }

    /// The workflow version its instance runs.
    async fn definition(&self, ctx: &Context<'_>, instance: &Instance) -> Result<Arc<Def>> {
        let session = access_of(ctx)?;
        session.definition(&instance.workflow, Some(instance.version)).await.map_err(ApiError::from)
    }
}

/// The step a task belongs to: its key and type.
#[derive(SimpleObject)]
pub struct StepRef {
    /// The step's key from the YAML, such as `draft`.
    pub id: String,
    /// The step's type: `TASK` or `APPROVAL`.
    #[graphql(name = "type")]
    pub kind: StepType,
}

pub struct CommentObj(smmflow_engine::model::Comment);

/// A comment on a task (a rejection's comment is shown on every task its rework reopens).
#[Object(name = "Comment")]
impl CommentObj {
    /// The comment's text.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Who wrote it: a user's login, or an external approver's address.
    async fn author(&self) -> Actor {
        Actor(self.0.author.clone())
    }
    /// When it was written (RFC 3339, UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A human step: one piece of work, or one approval decision, for a role or a person in an instance.
#[Object(name = "Task")]
impl TaskObj {
    /// The task's global id, for `task(id:)`, `node(id:)` and the task mutations.
    pub async fn id(&self) -> ID {
        ID(NodeId::Task(self.instance_id(), self.no).encode())
    }
    /// The task's title, rendered from its step's `title`.
    async fn title(&self) -> &str {
        self.head().map_or("", |h| h.title)
    }
    /// Markdown.
    async fn instructions(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let i = self.full(ctx).await?;
        Ok(i.task(self.no).and_then(|t| t.instructions.clone()))
    }
    /// Its state: `OPEN`, `CLAIMED`, `COMPLETED`, `APPROVED`, `REJECTED`, `CANCELLED`, `SKIPPED` or `EXPIRED`.
    async fn status(&self) -> Result<TaskStatus> {
        let status = self.head().and_then(|h| h.status);
        status.map(Into::into).ok_or_else(|| ApiError::Internal(format!("task {} has no known status", self.no)))
    }
    /// The role whose members may take it.
    async fn role(&self) -> Option<&str> {
        self.head().and_then(|h| h.role)
    }
    /// Who holds it, or who did it; null while it is open to its role.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        let Some(login) = self.head().and_then(|h| h.assignee.map(str::to_string)) else { return Ok(None) };
        let u = crate::user_of(ctx, &login).await?;
        Ok(Some(u.map(UserObj::new).unwrap_or_else(|| {
            UserObj::new(smmflow_runtime::User {
                login: login.clone(),
                email: login,
                name: None,
                is_admin: false,
                notification_mode: "immediate".into(),
                can_deploy_workflows: false,
            })
        })))
    }
    /// When it is due (RFC 3339, UTC); null without a due time.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.head().and_then(|h| h.due_at)
    }
    /// Steps with `figures`: the workspace's figures (as the `analytics`
    /// query gives them) for the step's period, computed when asked, with
    /// `from` and `to`. Null for other tasks.
    async fn figures(&self, ctx: &Context<'_>) -> Result<Option<Json<Value>>> {
        let i = self.full(ctx).await?;
        let Some((from, to)) = i.task(self.no).and_then(|t| t.figures) else { return Ok(None) };
        let f = smmflow_runtime::analytics::AnalyticsFilter {
            from,
            to,
            workspace: Some(i.workspace.clone()),
            workflow: None,
        };
        let figures = access_of(ctx)?.analytics(f).await?;
        let mut v = serde_json::to_value(&figures).map_err(|e| ApiError::Internal(e.to_string()))?;
        v["from"] = serde_json::json!(from);
        v["to"] = serde_json::json!(to);
        Ok(Some(Json(v)))
    }
    /// When its people were last reminded: a reminder before the due time,
    /// or an approval's follow-up. Null when never.
    async fn last_reminded_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.full(ctx).await?.task(self.no).and_then(|t| t.last_reminded_at))
    }
    /// Approvals with `expires`: when it expires undecided (then `EXPIRED`).
    async fn expires_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self.full(ctx).await?.task(self.no).and_then(|t| t.expires_at))
    }
    /// Due and not done, now.
    async fn overdue(&self, ctx: &Context<'_>) -> Result<bool> {
        let now = runtime_of(ctx)?.now();
        Ok(self.head().is_some_and(|h| h.status.is_some_and(|s| s.is_overdue(h.due_at, now))))
    }
    /// Its priority from the step's `priority:`: `LOW`, `NORMAL` (default), `HIGH` or `URGENT`.
    async fn priority(&self) -> TaskPriority {
        self.head().map_or(TaskPriority::Normal, |h| TaskPriority::from_name(h.priority))
    }
    /// The fields to submit with `completeTask`, as field specs by name (each
    /// with `order`, its place in the form: 0 first).
    async fn form(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        let i = self.full(ctx).await?;
        let Some(t) = i.task(self.no) else { return Ok(Json(Value::Null)) };
        let def = self.definition(ctx, &i).await?;
        Ok(Json(form_of(&def, &t.step)))
    }
    /// What was submitted (JSON): the form output, or an approval's `decision` and `comment`.
    async fn output(&self, ctx: &Context<'_>) -> Result<Option<Json<Value>>> {
        Ok(self.full(ctx).await?.task(self.no).and_then(|t| t.output.clone()).map(Json))
    }
    /// The previous round's output, after a rejection.
    async fn prefill(&self, ctx: &Context<'_>) -> Result<Option<Json<Value>>> {
        Ok(self.full(ctx).await?.task(self.no).and_then(|t| t.prefill.clone()).map(Json))
    }
    /// Comments, including the rejection that reopened it.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<CommentObj>> {
        let i = self.full(ctx).await?;
        Ok(i.task(self.no).map(|t| t.comments.iter().cloned().map(CommentObj).collect()).unwrap_or_default())
    }
    /// The rework round: 1, then one more each time a rejection sends the work back.
    async fn round(&self) -> i32 {
        self.head().map_or(1, |h| h.round as i32)
    }
    /// On an approval: each round of its rework loop, oldest first, with
    /// the reviewed work's output and the decision made on it.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn rounds(&self, ctx: &Context<'_>) -> Result<Vec<crate::types::rounds::StepRoundObj>> {
        let i = self.full(ctx).await?;
        let Some(t) = i.task(self.no) else { return Ok(Vec::new()) };
        let def = self.definition(ctx, &i).await?;
        Ok(crate::types::rounds::rounds(&def.workflow, &i, t))
    }
    /// The words a rejection of this approval may name (its step's `reasons:`;
    /// `rejectTask` then needs one at least). Empty for other tasks and for
    /// approvals without reasons.
    async fn rejection_reasons(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let i = self.full(ctx).await?;
        let Some(t) = i.task(self.no) else { return Ok(Vec::new()) };
        let def = self.definition(ctx, &i).await?;
        Ok(crate::review::offered_reasons(&def.workflow, &i, t.no))
    }
    /// True for an approval (approve or reject it); false for work done with its form.
    async fn is_approval(&self) -> bool {
        self.head().is_some_and(|h| h.approval)
    }
    /// The step it belongs to (its key and type).
    async fn step(&self, ctx: &Context<'_>) -> Result<StepRef> {
        // Only task steps make tasks of kind `task`, and only approval
        // steps approvals (their final decisions included).
        if let Source::Row(r, _) = &self.source {
            let kind = if r.is_approval() { StepType::Approval } else { StepType::Task };
            return Ok(StepRef { id: r.step.clone(), kind });
        }
        let i = self.full(ctx).await?;
        let id = i.task(self.no).map(|t| t.step.clone()).unwrap_or_default();
        let def = self.definition(ctx, &i).await?;
        let kind = def.workflow.step(&id).map_or(StepType::Task, |s| StepType::from(&s.kind));
        Ok(StepRef { id, kind })
    }
    /// The instance it belongs to.
    async fn instance(&self, ctx: &Context<'_>) -> Result<InstanceObj> {
        Ok(InstanceObj(self.full(ctx).await?))
    }
    /// When it was created (RFC 3339, UTC).
    async fn created_at(&self) -> Result<DateTime<Utc>> {
        let head = self.head().ok_or_else(|| ApiError::Internal(format!("task {} is not in its instance", self.no)))?;
        Ok(head.created_at)
    }
    /// When it was completed or decided (RFC 3339, UTC); null until then.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.head().and_then(|h| h.completed_at)
    }
}
