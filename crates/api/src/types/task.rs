//! Tasks, as specialists see them.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, SimpleObject};

use crate::error::ApiResult as Result;
use chrono::{DateTime, Utc};
use serde_json::Value;
use smmflow_engine::{Instance, Task, TaskKind};
use smmflow_runtime::Def;

use crate::error::ApiError;
use crate::ids::NodeId;
use crate::types::enums::{StepType, TaskPriority, TaskStatus};
use crate::types::instance::InstanceObj;
use crate::types::people::{Actor, UserObj};
use crate::types::workflow::form_of;
use crate::{access_of, runtime_of};

/// A task: one of an instance's (which it reads from).
#[derive(Clone)]
pub struct TaskObj {
    pub instance: Arc<Instance>,
    pub no: u32,
}

impl TaskObj {
    fn t(&self) -> Option<&Task> {
        self.instance.task(self.no)
    }

    /// The workflow version its instance runs.
    async fn definition(&self, ctx: &Context<'_>) -> Result<Arc<Def>> {
        let session = access_of(ctx)?;
        session.definition(&self.instance.workflow, Some(self.instance.version)).await.map_err(ApiError::from)
    }

    /// The task itself: a `TaskObj` is only made for a task of its instance.
    fn task(&self) -> Result<&Task> {
        self.t().ok_or_else(|| ApiError::Internal(format!("task {} is not in its instance", self.no)))
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
        ID(NodeId::Task(self.instance.id, self.no).encode())
    }
    /// The task's title, rendered from its step's `title`.
    async fn title(&self) -> &str {
        self.t().map_or("", |t| t.title.as_str())
    }
    /// Markdown.
    async fn instructions(&self) -> Option<&str> {
        self.t().and_then(|t| t.instructions.as_deref())
    }
    /// Its state: `OPEN`, `CLAIMED`, `COMPLETED`, `APPROVED`, `REJECTED`, `CANCELLED`, `SKIPPED` or `EXPIRED`.
    async fn status(&self) -> Result<TaskStatus> {
        Ok(self.task()?.status.into())
    }
    /// The role whose members may take it.
    async fn role(&self) -> Option<&str> {
        self.t().and_then(|t| t.role.as_deref())
    }
    /// Who holds it, or who did it; null while it is open to its role.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        let Some(login) = self.t().and_then(|t| t.assignee.clone()) else { return Ok(None) };
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
        self.t().and_then(|t| t.due_at)
    }
    /// Steps with `figures`: the workspace's figures (as the `analytics`
    /// query gives them) for the step's period, computed when asked, with
    /// `from` and `to`. Null for other tasks.
    async fn figures(&self, ctx: &Context<'_>) -> Result<Option<Json<Value>>> {
        let Some((from, to)) = self.t().and_then(|t| t.figures) else { return Ok(None) };
        let f = smmflow_runtime::analytics::AnalyticsFilter {
            from,
            to,
            workspace: Some(self.instance.workspace.clone()),
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
    async fn last_reminded_at(&self) -> Option<DateTime<Utc>> {
        self.t().and_then(|t| t.last_reminded_at)
    }
    /// Approvals with `expires`: when it expires undecided (then `EXPIRED`).
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.t().and_then(|t| t.expires_at)
    }
    /// Due and not done, now.
    async fn overdue(&self, ctx: &Context<'_>) -> Result<bool> {
        let now = runtime_of(ctx)?.now();
        Ok(self.t().is_some_and(|t| t.is_overdue(now)))
    }
    /// Its priority from the step's `priority:`: `LOW`, `NORMAL` (default), `HIGH` or `URGENT`.
    async fn priority(&self) -> TaskPriority {
        self.t().map_or(TaskPriority::Normal, |t| TaskPriority::from_name(&t.priority))
    }
    /// The fields to submit with `completeTask`, as field specs by name (each
    /// with `order`, its place in the form: 0 first).
    async fn form(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        let Some(t) = self.t() else { return Ok(Json(Value::Null)) };
        let def = self.definition(ctx).await?;
        Ok(Json(form_of(&def, &t.step)))
    }
    /// What was submitted (JSON): the form output, or an approval's `decision` and `comment`.
    async fn output(&self) -> Option<Json<Value>> {
        self.t().and_then(|t| t.output.clone()).map(Json)
    }
    /// The previous round's output, after a rejection.
    async fn prefill(&self) -> Option<Json<Value>> {
        self.t().and_then(|t| t.prefill.clone()).map(Json)
    }
    /// Comments, including the rejection that reopened it.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn comments(&self) -> Vec<CommentObj> {
        self.t().map(|t| t.comments.iter().cloned().map(CommentObj).collect()).unwrap_or_default()
    }
    /// The rework round: 1, then one more each time a rejection sends the work back.
    async fn round(&self) -> i32 {
        self.t().map_or(1, |t| t.round as i32)
    }
    /// On an approval: each round of its rework loop, oldest first, with
    /// the reviewed work's output and the decision made on it.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn rounds(&self, ctx: &Context<'_>) -> Result<Vec<crate::types::rounds::StepRoundObj>> {
        let Some(t) = self.t() else { return Ok(Vec::new()) };
        let def = self.definition(ctx).await?;
        Ok(crate::types::rounds::rounds(&def.workflow, &self.instance, t))
    }
    /// The words a rejection of this approval may name (its step's `reasons:`;
    /// `rejectTask` then needs one at least). Empty for other tasks and for
    /// approvals without reasons.
    async fn rejection_reasons(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let Some(t) = self.t() else { return Ok(Vec::new()) };
        let def = self.definition(ctx).await?;
        Ok(crate::review::offered_reasons(&def.workflow, &self.instance, t.no))
    }
    /// True for an approval (approve or reject it); false for work done with its form.
    async fn is_approval(&self) -> bool {
        self.t().is_some_and(|t| matches!(t.kind, TaskKind::Approval { .. }))
    }
    /// The step it belongs to (its key and type).
    async fn step(&self, ctx: &Context<'_>) -> Result<StepRef> {
        let id = self.t().map(|t| t.step.clone()).unwrap_or_default();
        let def = self.definition(ctx).await?;
        let kind = def.workflow.step(&id).map_or(StepType::Task, |s| StepType::from(&s.kind));
        Ok(StepRef { id, kind })
    }
    /// The instance it belongs to.
    async fn instance(&self) -> InstanceObj {
        InstanceObj(self.instance.clone())
    }
    /// When it was created (RFC 3339, UTC).
    async fn created_at(&self) -> Result<DateTime<Utc>> {
        Ok(self.task()?.created_at)
    }
    /// When it was completed or decided (RFC 3339, UTC); null until then.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.t().and_then(|t| t.completed_at)
    }
}
