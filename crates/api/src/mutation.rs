//! Mutations: `xxx(input: XxxInput!): XxxPayload!`, returning after the
//! transaction committed. Thin: get a permission handle, call it, map.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Json, MergedObject, Object, SimpleObject};
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

/// Changes: each takes one `input` object and returns a payload with `userErrors`.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(CoreMutation, crate::console::ConsoleMutation);

#[derive(Default)]
pub struct CoreMutation;

/// A YAML document to deploy: a workflow, a business calendar or the `kind: profile` document.
#[derive(InputObject)]
pub struct DeployWorkflowInput {
    /// The workflow (or calendar) YAML.
    pub source: String,
}

/// The result of `deployWorkflow`.
#[derive(SimpleObject)]
pub struct DeployWorkflowPayload {
    /// The deployed workflow version (null for a calendar or profile document, or on user errors).
    pub workflow: Option<WorkflowObj>,
    /// False when this exact content was deployed before (no new version).
    pub created: bool,
    /// Problems in the source (with `line` and `column` where known); empty on success.
    pub user_errors: Vec<UserError>,
}

/// A workflow to start in a workspace.
#[derive(InputObject)]
pub struct StartInstanceInput {
    /// The workflow's key (its latest version runs).
    pub workflow: String,
    /// The key of the workspace (client) to run it in.
    pub workspace: String,
    /// The workflow's inputs by name (JSON), checked against its `inputs`.
    pub inputs: Option<Json<Value>>,
    /// A retry with the same key returns the first instance.
    pub idempotency_key: Option<String>,
}

/// The result of a mutation on an instance.
#[derive(SimpleObject)]
pub struct InstancePayload {
    /// The instance after the change (null when there are user errors).
    pub instance: Option<InstanceObj>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Which task.
#[derive(InputObject)]
pub struct TaskInput {
    /// The task's global id.
    pub task_id: ID,
}

/// A task to complete, with its form output.
#[derive(InputObject)]
pub struct CompleteTaskInput {
    /// The task's global id.
    pub task_id: ID,
    /// The form's fields by name (JSON), as `Task.form` describes them.
    pub output: Option<Json<Value>>,
}

/// An approval task to approve.
#[derive(InputObject)]
pub struct ApproveTaskInput {
    /// The approval task's global id.
    pub task_id: ID,
    /// An optional comment, kept with the decision.
    pub comment: Option<String>,
}

/// An approval task to reject, with a comment.
#[derive(InputObject)]
pub struct RejectTaskInput {
    /// The approval task's global id.
    pub task_id: ID,
    /// Why (required): it is shown on the tasks the rework reopens.
    pub comment: String,
    /// Words from the approval's `reasons` (at least one when it has them).
    pub reasons: Option<Vec<String>>,
}

/// A task to hand to someone.
#[derive(InputObject)]
pub struct ReassignTaskInput {
    /// The task's global id.
    pub task_id: ID,
    /// A login.
    pub user: String,
}

/// A comment to add to a task.
#[derive(InputObject)]
pub struct CommentOnTaskInput {
    /// The task's global id.
    pub task_id: ID,
    /// The comment's text (not empty, up to 10,000 characters).
    pub body: String,
}

/// The result of a mutation on a task.
#[derive(SimpleObject)]
pub struct TaskPayload {
    /// The task after the change (null when there are user errors).
    pub task: Option<TaskObj>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}

/// An instance to cancel, and why.
#[derive(InputObject)]
pub struct CancelInstanceInput {
    /// The instance's global id.
    pub instance_id: ID,
    /// Why (required): it becomes the instance's `endReason`.
    pub reason: String,
}

/// Which instance.
#[derive(InputObject)]
pub struct InstanceInput {
    /// The instance's global id.
    pub instance_id: ID,
}

/// A step whose incident to clear, to evaluate it again.
#[derive(InputObject)]
pub struct RetryStepInput {
    /// The instance's global id.
    pub instance_id: ID,
    /// The step's key from the YAML.
    pub step: String,
}

/// A new user.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// The login: stable, it names the user in inputs and filters.
    pub login: String,
    /// The e-mail address notifications go to.
    pub email: String,
    /// A display name.
    pub name: Option<String>,
}

/// The result of a mutation on a user.
#[derive(SimpleObject)]
pub struct UserPayload {
    /// The user after the change (null when there are user errors).
    pub user: Option<UserObj>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Changes to a user; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// The user's login.
    pub user: String,
    /// A new display name.
    pub name: Option<String>,
    /// A new e-mail address.
    pub email: Option<String>,
    /// May deploy workflows (the organization's processes).
    pub can_deploy_workflows: Option<bool>,
}

/// Which API token to revoke.
#[derive(InputObject)]
pub struct RevokeApiTokenInput {
    /// `ApiToken.id` (from `viewer { apiTokens { id name } }`).
    pub token_id: ID,
}

/// The result of `revokeApiToken`.
#[derive(SimpleObject)]
pub struct RevokeApiTokenPayload {
    /// The revoked token (null when there are user errors).
    pub token: Option<ApiTokenObj>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}

/// A membership: a user's role in a workspace.
#[derive(InputObject)]
pub struct MemberInput {
    /// The workspace's key.
    pub workspace: String,
    /// A login.
    pub user: String,
    /// The role's name, such as `copywriter` or `lead`.
    pub role: String,
}

/// The result of `addMember` or `removeMember`.
#[derive(SimpleObject)]
pub struct MembershipPayload {
    /// The membership added or removed (null when there are user errors).
    pub membership: Option<MembershipObj>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}

/// A new API token.
#[derive(InputObject)]
pub struct CreateApiTokenInput {
    /// The login of the user it signs in as.
    pub user: String,
    /// A name to tell the user's tokens apart.
    pub name: String,
}

/// The result of `createApiToken`.
#[derive(SimpleObject)]
pub struct CreateApiTokenPayload {
    /// Shown once; only its hash is stored.
    pub token: Option<String>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}

/// Which notification to queue again.
#[derive(InputObject)]
pub struct RetryNotificationInput {
    /// The notification's global id.
    pub notification_id: ID,
}

/// The result of `retryNotification`.
#[derive(SimpleObject)]
pub struct NotificationPayload {
    /// The notification, queued again (null when there are user errors).
    pub notification: Option<crate::types::NotificationObj>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}

/// How the caller wants to get e-mail.
#[derive(InputObject)]
pub struct UpdateNotificationPreferencesInput {
    /// `IMMEDIATE`, or `HOURLY` or `DAILY` digests.
    pub mode: NotificationMode,
}

/// A new schedule: a cron timetable that starts a workflow in a workspace.
#[derive(InputObject)]
pub struct CreateScheduleInput {
    /// The workflow's key (each fire starts its latest version).
    pub workflow: String,
    /// The key of the workspace (client) its instances run in.
    pub workspace: String,
    /// 5 crontab fields (or 6 with seconds first).
    pub cron: String,
    /// IANA name; default UTC.
    pub timezone: Option<String>,
    /// The inputs each instance gets (JSON), checked like at start.
    pub inputs: Option<Json<Value>>,
    /// What to do about fires missed while down or paused (default `LAST`).
    pub missed: Option<MissedPolicy>,
    /// A duration such as `1d`.
    pub catch_up_window: Option<String>,
    /// What to do when the previous instance is still open (default `ALLOW`).
    pub overlap: Option<OverlapPolicy>,
    /// Fire only from this time on (RFC 3339).
    pub starts: Option<chrono::DateTime<chrono::Utc>>,
    /// Fire only until this time (RFC 3339).
    pub ends: Option<chrono::DateTime<chrono::Utc>>,
    /// The most instances it starts (at least 1).
    pub max_runs: Option<i32>,
}

/// Changes to a schedule; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateScheduleInput {
    /// The schedule's `id`.
    pub schedule_id: ID,
    /// 5 crontab fields (or 6 with seconds first).
    pub cron: Option<String>,
    /// An IANA timezone name.
    pub timezone: Option<String>,
    /// The inputs each instance gets (JSON), replacing the old ones.
    pub inputs: Option<Json<Value>>,
    /// What to do about fires missed while down or paused.
    pub missed: Option<MissedPolicy>,
    /// How far back missed fires are caught up: a duration such as `1d`.
    pub catch_up_window: Option<String>,
    /// What to do when the previous instance is still open.
    pub overlap: Option<OverlapPolicy>,
    /// Fire only from this time on (RFC 3339).
    pub starts: Option<chrono::DateTime<chrono::Utc>>,
    /// Fire only until this time (RFC 3339).
    pub ends: Option<chrono::DateTime<chrono::Utc>>,
    /// The most instances it starts (at least 1).
    pub max_runs: Option<i32>,
}

/// Which schedule.
#[derive(InputObject)]
pub struct ScheduleInput {
    /// The schedule's `id`.
    pub schedule_id: ID,
}

/// The result of a mutation on a schedule.
#[derive(SimpleObject)]
pub struct SchedulePayload {
    /// The schedule after the change (null when there are user errors).
    pub schedule: Option<ScheduleObj>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}

/// The time to move the manual clock to (`serve --manual-clock`).
#[derive(InputObject)]
pub struct AdvanceClockInput {
    /// The new time (later than now).
    pub to: chrono::DateTime<chrono::Utc>,
}

/// The result of `advanceClock`.
#[derive(SimpleObject)]
pub struct AdvanceClockPayload {
    /// The server's time after the move (RFC 3339, UTC).
    pub now: chrono::DateTime<chrono::Utc>,
    /// Timers that fired on the way.
    pub fired: i32,
}

fn task_of(i: Instance, no: u32) -> TaskObj {
    TaskObj::new(Arc::new(i), no)
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
        Ok(u) => Ok(UserPayload { user: Some(UserObj::new(u)), user_errors: Vec::new() }),
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

impl CoreMutation {
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
impl CoreMutation {
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

    /// Starts a workflow in a workspace (leads); input and posting-limit problems come back as `userErrors`.
    async fn start_instance(&self, ctx: &Context<'_>, input: StartInstanceInput) -> Result<InstancePayload> {
        let session = access_of(ctx)?;
        let lead = session.lead(&input.workspace)?;
        let inputs = input.inputs.map(|j| j.0).unwrap_or(Value::Null);
        instance_payload(lead.start(input.workflow, inputs, input.idempotency_key).await, "inputs")
    }

    /// Takes an open task of your role (claiming one you already hold succeeds).
    async fn claim_task(&self, ctx: &Context<'_>, input: TaskInput) -> Result<TaskPayload> {
        self.member_task(ctx, &input.task_id, |task| Command::Claim { task }, "taskId").await
    }

    /// Gives a task you hold back to its role: it is `OPEN` again.
    async fn release_task(&self, ctx: &Context<'_>, input: TaskInput) -> Result<TaskPayload> {
        self.member_task(ctx, &input.task_id, |task| Command::Release { task }, "taskId").await
    }

    /// Completes a task with its form output; field errors come back as `userErrors`.
    async fn complete_task(&self, ctx: &Context<'_>, input: CompleteTaskInput) -> Result<TaskPayload> {
        let output = input.output.map(|j| j.0).unwrap_or(Value::Null);
        self.member_task(ctx, &input.task_id, |task| Command::Complete { task, output }, "output").await
    }

    /// Approves an approval task, claiming it first if it is open.
    async fn approve_task(&self, ctx: &Context<'_>, input: ApproveTaskInput) -> Result<TaskPayload> {
        self.member_task(ctx, &input.task_id, |task| Command::Approve { task, comment: input.comment }, "comment").await
    }

    /// Rejects an approval task with a comment; the workflow decides what follows, usually rework.
    async fn reject_task(&self, ctx: &Context<'_>, input: RejectTaskInput) -> Result<TaskPayload> {
        self.member_task(
            ctx,
            &input.task_id,
            |task| Command::Reject { task, comment: input.comment, reasons: input.reasons.unwrap_or_default() },
            "comment",
        )
        .await
    }

    /// Adds a comment to a task (any member of its workspace).
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

    /// Cancels an instance with a reason, and its open tasks with it (leads).
    async fn cancel_instance(&self, ctx: &Context<'_>, input: CancelInstanceInput) -> Result<InstancePayload> {
        self.lead_instance(ctx, &input.instance_id, Command::Cancel { reason: input.reason }, "reason").await
    }

    /// Holds a running instance: its timers and tasks wait until `resumeInstance` (leads).
    async fn suspend_instance(&self, ctx: &Context<'_>, input: InstanceInput) -> Result<InstancePayload> {
        self.lead_instance(ctx, &input.instance_id, Command::Suspend, "instanceId").await
    }

    /// Resumes a suspended instance (leads).
    async fn resume_instance(&self, ctx: &Context<'_>, input: InstanceInput) -> Result<InstancePayload> {
        self.lead_instance(ctx, &input.instance_id, Command::Resume, "instanceId").await
    }

    /// Clears a step's incident and evaluates it again.
    async fn retry_step(&self, ctx: &Context<'_>, input: RetryStepInput) -> Result<InstancePayload> {
        self.lead_instance(ctx, &input.instance_id, Command::RetryStep { step: input.step }, "step").await
    }

    /// Creates a workspace, that is a client (admins only).
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

    /// Creates a user (admins only).
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
            Ok(u) => Ok(UserPayload { user: Some(UserObj::new(u)), user_errors: Vec::new() }),
            Err(e) => Ok(UserPayload { user: None, user_errors: not_found_at(e, "user")? }),
        }
    }

    /// Gives a user a role in a workspace (its leads and admins).
    async fn add_member(&self, ctx: &Context<'_>, input: MemberInput) -> Result<MembershipPayload> {
        let session = access_of(ctx)?;
        match session.lead(&input.workspace)?.add_member(&input.user, &input.role).await {
            Ok(m) => Ok(MembershipPayload { membership: Some(MembershipObj(m)), user_errors: Vec::new() }),
            Err(e) => Ok(MembershipPayload { membership: None, user_errors: not_found_at(e, "user")? }),
        }
    }

    /// Takes a role in a workspace away from a user (its leads and admins).
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

    /// Pauses a schedule: it fires no more until `resumeSchedule` (leads).
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

    /// Deletes a schedule (leads).
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
        Ok(UserPayload { user: Some(UserObj::new(user)), user_errors: Vec::new() })
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
