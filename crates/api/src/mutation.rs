//! Mutations: `xxx(input: XxxInput!): XxxPayload!`, returning after the
//! transaction committed. Thin: get a permission handle, call it, map.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use serde_json::Value;
use smmflow_engine::{Command, Instance};
use smmflow_runtime::admin::NewUser;
use smmflow_runtime::{Member, ScheduleRow, User, UserChange};

use crate::error::{ApiError, ApiResult as Result, UserError, user_errors};

type RtResult<T> = smmflow_runtime::Result<T>;
use crate::ids::NodeId;
use crate::types::client::{CreateWorkspaceInput, UpdateWorkspaceInput, WorkspacePayload};
use crate::types::enums::NotificationMode;
use crate::types::feed::{
    CalendarFeedObj, CalendarFeedPayload, CreateCalendarFeedInput, RevokeCalendarFeedInput, url_of,
};
use crate::types::people::{ApiTokenObj, MembershipObj};
use crate::types::schedule::{MissedPolicy, OverlapPolicy, ScheduleObj};
use crate::types::{InstanceObj, TaskObj, UserObj, WorkflowObj, WorkspaceObj};
use crate::{access_of, runtime_of};
use smmflow_runtime::Error as RuntimeError;

pub struct Mutation;

#[derive(InputObject)]
pub struct DeployWorkflowInput {
    /// The workflow (or calendar) YAML.
    pub source: String,
}

#[derive(SimpleObject)]
pub struct DeployWorkflowPayload {
    pub workflow: Option<WorkflowObj>,
    /// False when this exact content was deployed before (no new version).
    pub created: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct StartInstanceInput {
    pub workflow: String,
    pub workspace: String,
    pub inputs: Option<Json<Value>>,
    /// A retry with the same key returns the first instance.
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct InstancePayload {
    pub instance: Option<InstanceObj>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct TaskInput {
    pub task_id: ID,
}

#[derive(InputObject)]
pub struct CompleteTaskInput {
    pub task_id: ID,
    pub output: Option<Json<Value>>,
}

#[derive(InputObject)]
pub struct ApproveTaskInput {
    pub task_id: ID,
    pub comment: Option<String>,
}

#[derive(InputObject)]
pub struct RejectTaskInput {
    pub task_id: ID,
    pub comment: String,
    /// Words from the approval's `reasons` (at least one when it has them).
    pub reasons: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct ReassignTaskInput {
    pub task_id: ID,
    /// A login.
    pub user: String,
}

#[derive(InputObject)]
pub struct CommentOnTaskInput {
    pub task_id: ID,
    pub body: String,
}

#[derive(SimpleObject)]
pub struct TaskPayload {
    pub task: Option<TaskObj>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct CancelInstanceInput {
    pub instance_id: ID,
    pub reason: String,
}

#[derive(InputObject)]
pub struct InstanceInput {
    pub instance_id: ID,
}

#[derive(InputObject)]
pub struct RetryStepInput {
    pub instance_id: ID,
    /// The step's key from the YAML.
    pub step: String,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub login: String,
    pub email: String,
    pub name: Option<String>,
}

#[derive(SimpleObject)]
pub struct UserPayload {
    pub user: Option<UserObj>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    /// The user's login.
    pub user: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// May deploy workflows (the organization's processes).
    pub can_deploy_workflows: Option<bool>,
}

#[derive(InputObject)]
pub struct RevokeApiTokenInput {
    /// `ApiToken.id` (from `viewer { apiTokens { id name } }`).
    pub token_id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeApiTokenPayload {
    pub token: Option<ApiTokenObj>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct MemberInput {
    pub workspace: String,
    /// A login.
    pub user: String,
    pub role: String,
}

#[derive(SimpleObject)]
pub struct MembershipPayload {
    pub membership: Option<MembershipObj>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct CreateApiTokenInput {
    pub user: String,
    pub name: String,
}

#[derive(SimpleObject)]
pub struct CreateApiTokenPayload {
    /// Shown once; only its hash is stored.
    pub token: Option<String>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct RetryNotificationInput {
    pub notification_id: ID,
}

#[derive(SimpleObject)]
pub struct NotificationPayload {
    pub notification: Option<crate::types::NotificationObj>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct UpdateNotificationPreferencesInput {
    pub mode: NotificationMode,
}

#[derive(InputObject)]
pub struct CreateScheduleInput {
    pub workflow: String,
    pub workspace: String,
    /// 5 crontab fields (or 6 with seconds first).
    pub cron: String,
    /// IANA name; default UTC.
    pub timezone: Option<String>,
    pub inputs: Option<Json<Value>>,
    pub missed: Option<MissedPolicy>,
    /// A duration such as `1d`.
    pub catch_up_window: Option<String>,
    pub overlap: Option<OverlapPolicy>,
    pub starts: Option<chrono::DateTime<chrono::Utc>>,
    pub ends: Option<chrono::DateTime<chrono::Utc>>,
    pub max_runs: Option<i32>,
}

#[derive(InputObject)]
pub struct UpdateScheduleInput {
    pub schedule_id: ID,
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub inputs: Option<Json<Value>>,
    pub missed: Option<MissedPolicy>,
    pub catch_up_window: Option<String>,
    pub overlap: Option<OverlapPolicy>,
    pub starts: Option<chrono::DateTime<chrono::Utc>>,
    pub ends: Option<chrono::DateTime<chrono::Utc>>,
    pub max_runs: Option<i32>,
}

#[derive(InputObject)]
pub struct ScheduleInput {
    pub schedule_id: ID,
}

#[derive(SimpleObject)]
pub struct SchedulePayload {
    pub schedule: Option<ScheduleObj>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct AdvanceClockInput {
    /// The new time (later than now).
    pub to: chrono::DateTime<chrono::Utc>,
}

#[derive(SimpleObject)]
pub struct AdvanceClockPayload {
    pub now: chrono::DateTime<chrono::Utc>,
    /// Timers that fired on the way.
    pub fired: i32,
}

fn task_of(i: Instance, no: u32) -> TaskObj {
    TaskObj { instance: Arc::new(i), no }
}

/// A command's result as a task payload: form errors become `userErrors`.
fn task_payload(result: RtResult<Instance>, no: u32, field: &str) -> Result<TaskPayload> {
    match result {
        Ok(i) => Ok(TaskPayload { task: Some(task_of(i, no)), user_errors: Vec::new() }),
        Err(e) => Ok(TaskPayload { task: None, user_errors: user_errors(e, field)? }),
    }
}

fn instance_payload(result: RtResult<Instance>, field: &str) -> Result<InstancePayload> {
    match result {
        Ok(i) => Ok(InstancePayload { instance: Some(InstanceObj::new(i)), user_errors: Vec::new() }),
        Err(e) => Ok(InstancePayload { instance: None, user_errors: user_errors(e, field)? }),
    }
}

fn user_payload(r: RtResult<User>) -> Result<UserPayload> {
    match r {
        Ok(u) => Ok(UserPayload { user: Some(UserObj(u)), user_errors: Vec::new() }),
        Err(e) => Ok(UserPayload { user: None, user_errors: user_errors(e, "input")? }),
    }
}

/// A `NOT_FOUND` about one input field as a userError; other errors as they are.
fn not_found_at(e: smmflow_runtime::Error, field: &str) -> Result<Vec<UserError>> {
    match e {
        smmflow_runtime::Error::NotFound(m) => {
            Ok(vec![UserError::at(vec![field.into()], format!("{m} not found"), "NOT_FOUND")])
        }
        other => user_errors(other, "input"),
    }
}

/// Schedule settings to set, as given to create or update.
struct SpecPatch {
    cron: Option<String>,
    timezone: Option<String>,
    inputs: Option<Json<Value>>,
    missed: Option<MissedPolicy>,
    catch_up_window: Option<String>,
    overlap: Option<OverlapPolicy>,
    starts: Option<chrono::DateTime<chrono::Utc>>,
    ends: Option<chrono::DateTime<chrono::Utc>>,
    max_runs: Option<i32>,
}

impl SpecPatch {
    /// Sets the given settings on a schedule's spec (the YAML keys).
    fn apply(self, spec: &mut serde_json::Map<String, Value>) {
        let mut set = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                spec.insert(k.into(), v);
            }
        };
        set("cron", self.cron.map(Value::String));
        set("timezone", self.timezone.map(Value::String));
        set("inputs", self.inputs.map(|j| j.0));
        set("missed", self.missed.map(|m| Value::String(m.as_str().into())));
        set("catch_up_window", self.catch_up_window.map(Value::String));
        set("overlap", self.overlap.map(|o| Value::String(o.as_str().into())));
        set("starts", self.starts.map(|t| Value::String(t.to_rfc3339())));
        set("ends", self.ends.map(|t| Value::String(t.to_rfc3339())));
        set("max_runs", self.max_runs.map(Value::from));
    }
}

fn schedule_payload(r: RtResult<ScheduleRow>) -> Result<SchedulePayload> {
    match r {
        Ok(row) => Ok(SchedulePayload { schedule: Some(ScheduleObj(row)), user_errors: Vec::new() }),
        Err(smmflow_runtime::Error::Invalid(d)) => Ok(SchedulePayload {
            schedule: None,
            user_errors: d
                .iter()
                .map(|d| UserError::at(vec!["input".into()], d.message.clone(), d.code.as_str()))
                .collect(),
        }),
        Err(e @ smmflow_runtime::Error::Field { .. }) => {
            Ok(SchedulePayload { schedule: None, user_errors: user_errors(e, "input")? })
        }
        Err(e) => Err(e.into()),
    }
}

impl Mutation {
    async fn member_task(
        &self,
        ctx: &Context<'_>,
        task_id: &ID,
        command: impl FnOnce(u32) -> Command,
        field: &str,
    ) -> Result<TaskPayload> {
        let (instance, no) = NodeId::task(task_id)?;
        let session = access_of(ctx)?;
        let member = session.member_of_instance(instance).await?;
        task_payload(member.task_command(instance, command(no)).await, no, field)
    }

    /// A lead's command on an instance; `field` names the input a refusal is about.
    async fn lead_instance(
        &self,
        ctx: &Context<'_>,
        instance_id: &ID,
        command: Command,
        field: &str,
    ) -> Result<InstancePayload> {
        let id = NodeId::instance(instance_id)?;
        let session = access_of(ctx)?;
        let lead = session.lead_of_instance(id).await?;
        instance_payload(lead.command(id, command).await, field)
    }
}

#[Object]
impl Mutation {
    /// Deploys a workflow (or calendar): a new version only when the content is new.
    async fn deploy_workflow(&self, ctx: &Context<'_>, input: DeployWorkflowInput) -> Result<DeployWorkflowPayload> {
        let session = access_of(ctx)?;
        let deployer = session.deployer()?;
        match deployer.deploy(&input.source).await {
            Ok((d, _)) => {
                let workflow = if d.kind == "workflow" {
                    session.workflow(&d.key, Some(d.version)).await?.map(WorkflowObj)
                } else {
                    None
                };
                Ok(DeployWorkflowPayload { workflow, created: d.created, user_errors: Vec::new() })
            }
            Err(e) => {
                Ok(DeployWorkflowPayload { workflow: None, created: false, user_errors: user_errors(e, "source")? })
            }
        }
    }

    async fn start_instance(&self, ctx: &Context<'_>, input: StartInstanceInput) -> Result<InstancePayload> {
        let session = access_of(ctx)?;
        let lead = session.lead(&input.workspace)?;
        let inputs = input.inputs.map(|j| j.0).unwrap_or(Value::Null);
        instance_payload(lead.start(input.workflow, inputs, input.idempotency_key).await, "inputs")
    }

    async fn claim_task(&self, ctx: &Context<'_>, input: TaskInput) -> Result<TaskPayload> {
        self.member_task(ctx, &input.task_id, |task| Command::Claim { task }, "taskId").await
    }

    async fn release_task(&self, ctx: &Context<'_>, input: TaskInput) -> Result<TaskPayload> {
        self.member_task(ctx, &input.task_id, |task| Command::Release { task }, "taskId").await
    }

    /// Completes a task with its form output; field errors come back as `userErrors`.
    async fn complete_task(&self, ctx: &Context<'_>, input: CompleteTaskInput) -> Result<TaskPayload> {
        let output = input.output.map(|j| j.0).unwrap_or(Value::Null);
        self.member_task(ctx, &input.task_id, |task| Command::Complete { task, output }, "output").await
    }

    async fn approve_task(&self, ctx: &Context<'_>, input: ApproveTaskInput) -> Result<TaskPayload> {
        self.member_task(ctx, &input.task_id, |task| Command::Approve { task, comment: input.comment }, "comment").await
    }

    async fn reject_task(&self, ctx: &Context<'_>, input: RejectTaskInput) -> Result<TaskPayload> {
        self.member_task(
            ctx,
            &input.task_id,
            |task| Command::Reject { task, comment: input.comment, reasons: input.reasons.unwrap_or_default() },
            "comment",
        )
        .await
    }

    async fn comment_on_task(&self, ctx: &Context<'_>, input: CommentOnTaskInput) -> Result<TaskPayload> {
        self.member_task(ctx, &input.task_id, |task| Command::Comment { task, body: input.body }, "body").await
    }

    /// Leads hand a task to someone (who may act without the role).
    async fn reassign_task(&self, ctx: &Context<'_>, input: ReassignTaskInput) -> Result<TaskPayload> {
        let (instance, no) = NodeId::task(&input.task_id)?;
        let session = access_of(ctx)?;
        let lead = session.lead_of_instance(instance).await?;
        task_payload(lead.command(instance, Command::Reassign { task: no, user: input.user }).await, no, "user")
    }

    async fn cancel_instance(&self, ctx: &Context<'_>, input: CancelInstanceInput) -> Result<InstancePayload> {
        self.lead_instance(ctx, &input.instance_id, Command::Cancel { reason: input.reason }, "reason").await
    }

    async fn suspend_instance(&self, ctx: &Context<'_>, input: InstanceInput) -> Result<InstancePayload> {
        self.lead_instance(ctx, &input.instance_id, Command::Suspend, "instanceId").await
    }

    async fn resume_instance(&self, ctx: &Context<'_>, input: InstanceInput) -> Result<InstancePayload> {
        self.lead_instance(ctx, &input.instance_id, Command::Resume, "instanceId").await
    }

    /// Clears a step's incident and evaluates it again.
    async fn retry_step(&self, ctx: &Context<'_>, input: RetryStepInput) -> Result<InstancePayload> {
        self.lead_instance(ctx, &input.instance_id, Command::RetryStep { step: input.step }, "step").await
    }

    async fn create_workspace(&self, ctx: &Context<'_>, input: CreateWorkspaceInput) -> Result<WorkspacePayload> {
        let session = access_of(ctx)?;
        match session.admin()?.create_client(input.into_new()).await {
            Ok(w) => Ok(WorkspacePayload { workspace: Some(WorkspaceObj::with(w)), user_errors: Vec::new() }),
            Err(e) => Ok(WorkspacePayload { workspace: None, user_errors: user_errors(e, "input")? }),
        }
    }

    /// A secret iCalendar feed of your publications and due work (the URL is shown once).
    async fn create_calendar_feed(
        &self,
        ctx: &Context<'_>,
        input: CreateCalendarFeedInput,
    ) -> Result<CalendarFeedPayload> {
        let session = access_of(ctx)?;
        match session.signed_in()?.create_feed(&input.name, input.workspace.as_deref()).await {
            Ok((feed, secret)) => {
                let url = Some(url_of(ctx, &secret));
                Ok(CalendarFeedPayload { feed: Some(CalendarFeedObj { feed, url }), user_errors: Vec::new() })
            }
            Err(e) => Ok(CalendarFeedPayload { feed: None, user_errors: user_errors(e, "input")? }),
        }
    }

    /// Revokes one of your calendar feeds: its URL answers 404 from now on.
    async fn revoke_calendar_feed(
        &self,
        ctx: &Context<'_>,
        input: RevokeCalendarFeedInput,
    ) -> Result<CalendarFeedPayload> {
        let session = access_of(ctx)?;
        let feed = session.signed_in()?.revoke_feed(input.feed_id.as_str()).await?;
        Ok(CalendarFeedPayload { feed: Some(CalendarFeedObj { feed, url: None }), user_errors: Vec::new() })
    }

    /// Changes a workspace's settings, profile or posting limits (its leads and admins).
    async fn update_workspace(&self, ctx: &Context<'_>, input: UpdateWorkspaceInput) -> Result<WorkspacePayload> {
        let session = access_of(ctx)?;
        let (key, change) = input.change();
        let lead = session.lead(&key).map_err(|e| match e {
            // A workspace the caller is not even a member of is not found.
            RuntimeError::Forbidden(_) if !session.viewer().is_ok_and(|v| v.is_member(&key)) => {
                RuntimeError::NotFound(format!("workspace `{key}`"))
            }
            other => other,
        })?;
        match lead.update_workspace(change).await {
            Ok(w) => Ok(WorkspacePayload { workspace: Some(WorkspaceObj::with(w)), user_errors: Vec::new() }),
            Err(e) => Ok(WorkspacePayload { workspace: None, user_errors: user_errors(e, "input")? }),
        }
    }

    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<UserPayload> {
        let session = access_of(ctx)?;
        let new = NewUser { login: input.login, email: input.email, name: input.name, is_admin: false };
        user_payload(session.admin()?.create_user(new).await)
    }

    /// Changes a user's name, e-mail or organization-level permissions (admins only).
    async fn update_user(&self, ctx: &Context<'_>, input: UpdateUserInput) -> Result<UserPayload> {
        let session = access_of(ctx)?;
        let change =
            UserChange { name: input.name, email: input.email, can_deploy_workflows: input.can_deploy_workflows };
        match session.admin()?.update_user(&input.user, change).await {
            Ok(u) => Ok(UserPayload { user: Some(UserObj(u)), user_errors: Vec::new() }),
            Err(e) => Ok(UserPayload { user: None, user_errors: not_found_at(e, "user")? }),
        }
    }

    async fn add_member(&self, ctx: &Context<'_>, input: MemberInput) -> Result<MembershipPayload> {
        let session = access_of(ctx)?;
        match session.lead(&input.workspace)?.add_member(&input.user, &input.role).await {
            Ok(m) => Ok(MembershipPayload { membership: Some(MembershipObj(m)), user_errors: Vec::new() }),
            Err(e) => Ok(MembershipPayload { membership: None, user_errors: not_found_at(e, "user")? }),
        }
    }

    async fn remove_member(&self, ctx: &Context<'_>, input: MemberInput) -> Result<MembershipPayload> {
        let session = access_of(ctx)?;
        let removed = session.lead(&input.workspace)?.remove_member(&input.user, &input.role).await?;
        let m = Member { workspace: input.workspace, user: input.user, role: input.role };
        if !removed {
            return Ok(MembershipPayload {
                membership: None,
                user_errors: vec![UserError::at(vec!["user".into()], "no such membership", "NOT_FOUND")],
            });
        }
        Ok(MembershipPayload { membership: Some(MembershipObj(m)), user_errors: Vec::new() })
    }

    /// A new API token for a user (admins: anyone; others: themselves). Shown once.
    async fn create_api_token(&self, ctx: &Context<'_>, input: CreateApiTokenInput) -> Result<CreateApiTokenPayload> {
        let session = access_of(ctx)?;
        match session.signed_in()?.create_token(&input.user, &input.name).await {
            Ok(token) => Ok(CreateApiTokenPayload { token: Some(token), user_errors: Vec::new() }),
            Err(e @ smmflow_runtime::Error::Forbidden(_)) => Err(e.into()),
            Err(e) => Ok(CreateApiTokenPayload { token: None, user_errors: not_found_at(e, "user")? }),
        }
    }

    /// Revokes one of your API tokens (admins: anyone's): requests with it
    /// are no longer signed in, and subscriptions opened with it end.
    async fn revoke_api_token(&self, ctx: &Context<'_>, input: RevokeApiTokenInput) -> Result<RevokeApiTokenPayload> {
        let session = access_of(ctx)?;
        match session.signed_in()?.revoke_token(input.token_id.as_str()).await {
            Ok(t) => Ok(RevokeApiTokenPayload { token: Some(ApiTokenObj(t)), user_errors: Vec::new() }),
            Err(e @ smmflow_runtime::Error::NotFound(_)) => {
                Ok(RevokeApiTokenPayload { token: None, user_errors: not_found_at(e, "tokenId")? })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A schedule that starts instances of a workflow in a workspace (leads).
    async fn create_schedule(&self, ctx: &Context<'_>, input: CreateScheduleInput) -> Result<SchedulePayload> {
        let session = access_of(ctx)?;
        let lead = session.lead(&input.workspace)?;
        let mut spec = serde_json::Map::new();
        spec.insert("workspace".into(), Value::String(input.workspace.clone()));
        SpecPatch {
            cron: Some(input.cron),
            timezone: input.timezone,
            inputs: input.inputs,
            missed: input.missed,
            catch_up_window: input.catch_up_window,
            overlap: input.overlap,
            starts: input.starts,
            ends: input.ends,
            max_runs: input.max_runs,
        }
        .apply(&mut spec);
        schedule_payload(lead.put_schedule(None, &input.workflow, Value::Object(spec), false).await)
    }

    /// Changes a schedule; the fires since its last one follow `missed`.
    async fn update_schedule(&self, ctx: &Context<'_>, input: UpdateScheduleInput) -> Result<SchedulePayload> {
        let session = access_of(ctx)?;
        let (lead, row) = session.lead_of_schedule(input.schedule_id.as_str()).await?;
        let mut spec = row.spec.as_object().cloned().unwrap_or_default();
        SpecPatch {
            cron: input.cron,
            timezone: input.timezone,
            inputs: input.inputs,
            missed: input.missed,
            catch_up_window: input.catch_up_window,
            overlap: input.overlap,
            starts: input.starts,
            ends: input.ends,
            max_runs: input.max_runs,
        }
        .apply(&mut spec);
        schedule_payload(lead.put_schedule(Some(&row.id), &row.workflow, Value::Object(spec), row.paused).await)
    }

    async fn pause_schedule(&self, ctx: &Context<'_>, input: ScheduleInput) -> Result<SchedulePayload> {
        let session = access_of(ctx)?;
        let (lead, row) = session.lead_of_schedule(input.schedule_id.as_str()).await?;
        schedule_payload(lead.set_schedule_paused(&row.id, true).await)
    }

    /// Resumes a schedule; the fires missed while paused follow `missed`.
    async fn resume_schedule(&self, ctx: &Context<'_>, input: ScheduleInput) -> Result<SchedulePayload> {
        let session = access_of(ctx)?;
        let (lead, row) = session.lead_of_schedule(input.schedule_id.as_str()).await?;
        schedule_payload(lead.set_schedule_paused(&row.id, false).await)
    }

    async fn delete_schedule(&self, ctx: &Context<'_>, input: ScheduleInput) -> Result<SchedulePayload> {
        let session = access_of(ctx)?;
        let (lead, row) = session.lead_of_schedule(input.schedule_id.as_str()).await?;
        lead.delete_schedule(&row.id).await?;
        Ok(SchedulePayload { schedule: Some(ScheduleObj(row)), user_errors: Vec::new() })
    }

    /// Demos and tests only (`serve --manual-clock`): moves the clock forward,
    /// firing every timer that comes due on the way, in order. Admins only.
    async fn advance_clock(&self, ctx: &Context<'_>, input: AdvanceClockInput) -> Result<AdvanceClockPayload> {
        let session = access_of(ctx)?;
        let admin = session.admin()?;
        let Some(clock) = ctx.data::<crate::ManualClockHandle>().ok().and_then(|c| c.0.clone()) else {
            return Err(ApiError::Forbidden(
                "the server runs on the real clock; start it with --manual-clock to move time".into(),
            ));
        };
        let fired = admin.advance_clock(&clock, input.to).await?;
        Ok(AdvanceClockPayload { now: runtime_of(ctx)?.now(), fired: i32::try_from(fired).unwrap_or(i32::MAX) })
    }

    /// How the caller gets e-mail: each message at once, or hourly or daily digests.
    async fn update_notification_preferences(
        &self,
        ctx: &Context<'_>,
        input: UpdateNotificationPreferencesInput,
    ) -> Result<UserPayload> {
        let session = access_of(ctx)?;
        let user = session.signed_in()?.set_notification_mode(input.mode.into()).await?;
        Ok(UserPayload { user: Some(UserObj(user)), user_errors: Vec::new() })
    }

    /// Queues a failed or dead notification again, now (admins only).
    async fn retry_notification(
        &self,
        ctx: &Context<'_>,
        input: RetryNotificationInput,
    ) -> Result<NotificationPayload> {
        let session = access_of(ctx)?;
        let admin = session.admin()?;
        let id = NodeId::notification(&input.notification_id)?;
        match admin.retry_notification(&id).await {
            Ok(row) => Ok(NotificationPayload {
                notification: Some(crate::types::NotificationObj(row)),
                user_errors: Vec::new(),
            }),
            Err(e) if e.code() == smmflow_runtime::Code::Conflict => Ok(NotificationPayload {
                notification: None,
                user_errors: vec![UserError::at(vec!["notificationId".into()], e.public_message(), "CONFLICT")],
            }),
            Err(e) => Err(e.into()),
        }
    }
}
