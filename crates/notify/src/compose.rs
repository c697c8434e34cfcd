//! From a notice (what happened) to the messages to write: which rule or
//! default applies, who gets it, and what it says. Pure: the caller passes
//! the instance as it was when the notice was made, and the workspace's
//! roster.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use smmflow_engine::model::{Instance, Task, TaskKind};
use smmflow_engine::{Notice, eval};
use smmflow_spec::Workflow;
use smmflow_spec::notify::{Event, Message, NotifyRule};
use smmflow_spec::recipient::Recipient;

/// Who is in the instance's workspace, by role.
pub trait Roster {
    /// Logins of the role's members, sorted.
    fn members(&self, role: &str) -> Vec<String>;
}

/// A recipient once named: a user by login, or a bare address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Target {
    User(String),
    Email(String),
}

impl Target {
    /// `user:anna`, `email:x@y.z`, or a bare login or address.
    pub fn parse(text: &str) -> Option<Target> {
        let t = text.trim();
        let t = match t.split_once(':') {
            Some(("user", u)) => return non_empty(u).map(Target::User),
            Some(("email", e)) => return non_empty(e).map(Target::Email),
            _ => t,
        };
        if t.is_empty() || t.contains(char::is_whitespace) {
            None
        } else if t.contains('@') {
            Some(Target::Email(t.to_string()))
        } else {
            Some(Target::User(t.to_string()))
        }
    }

    /// The stable name used in outbox keys.
    pub fn key(&self) -> String {
        match self {
            Target::User(u) => format!("user:{u}"),
            Target::Email(e) => format!("email:{}", e.to_lowercase()),
        }
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// What a message says, before rendering.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A template by name: a deployed `templates/NAME.*.j2`, else the built-in of that name.
    Template(String),
    /// Subject and body templates written in the workflow.
    Inline { subject: String, body: String },
    /// Subject and body already rendered (`notify` steps render their inline text).
    Text { subject: String, body: String },
}

/// One message to write for a notice, to each of its targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Planned {
    /// The event name (`task.created`), `notify` for a notify step, `escalation`.
    pub event: String,
    pub targets: Vec<Target>,
    pub source: Source,
    /// The render scope (expressions' scope plus `task` and `event`).
    pub scope: Value,
    /// The task the message is about.
    pub task: Option<u32>,
    /// Each recipient gets a signed approval link (`task.approval_link`).
    pub approval_link: bool,
}

/// What a notice is planned with.
pub struct Ctx<'a> {
    pub workflow: &'a Workflow,
    /// The instance as it was right after the notice was made.
    pub state: &'a Instance,
    /// When the notice was made (the command's time).
    pub at: DateTime<Utc>,
    pub roster: &'a dyn Roster,
    /// The workflow's readable name, for built-in messages.
    pub workflow_name: &'a str,
}

/// The built-in template of an event (used by defaults and by rules without a message).
pub fn builtin_name(event: Event, reopened: bool) -> &'static str {
    match event {
        Event::TaskCreated if reopened => "task-reopened",
        Event::TaskCreated => "task-created",
        Event::TaskAssigned => "task-assigned",
        Event::TaskDueSoon => "task-due-soon",
        Event::TaskOverdue => "task-overdue",
        Event::TaskRejected => "task-rejected",
        Event::TaskExpired => "task-expired",
        Event::ApprovalRequested => "approval-requested",
        Event::StepCompleted => "step-completed",
        Event::InstanceStarted => "instance-started",
        Event::InstanceCompleted => "instance-completed",
        Event::InstanceCancelled => "instance-cancelled",
        Event::InstanceFailed => "instance-failed",
    }
}

/// Whether a notice can lead to any message: a `notify` step or escalation
/// always; an event only when a rule watches it or it has a default. The
/// runtime queues only these, so events nobody hears of cost nothing.
pub fn may_notify(workflow: &Workflow, notice: &Notice) -> bool {
    match notice {
        Notice::Send { .. } => true,
        Notice::Event { event, .. } => {
            matches!(
                event,
                Event::TaskCreated
                    | Event::ApprovalRequested
                    | Event::TaskAssigned
                    | Event::TaskDueSoon
                    | Event::TaskOverdue
            ) || workflow.notify.iter().any(|r| r.on.iter().any(|e| e.value == *event))
        }
    }
}

/// Plans the messages of one notice. An error (a recipient template that
/// fails) is the caller's to record; it never stops other notices.
pub fn plan(notice: &Notice, ctx: &Ctx<'_>) -> crate::Result<Vec<Planned>> {
    match notice {
        Notice::Event { event, task, step, comment, follow_up } => {
            plan_event(*event, *task, step.as_deref(), comment, *follow_up, ctx)
        }
        Notice::Send { task, to, template, subject, body, context, .. } => {
            let task_ref = task.and_then(|no| ctx.state.task(no));
            let scope = with_task(context.clone(), ctx, task_ref);
            let mut targets = Vec::new();
            for r in to {
                targets.extend(expand(r, task_ref, ctx));
            }
            let (event, source) = match (template, subject, body) {
                (Some(t), _, _) => ("notify", Source::Template(t.clone())),
                (None, Some(s), Some(b)) => ("notify", Source::Text { subject: s.clone(), body: b.clone() }),
                // An escalation's notify stage: the built-in "needs attention" message.
                _ => ("escalation", Source::Template("task-escalated".into())),
            };
            Ok(vec![Planned {
                event: event.into(),
                targets: dedup(targets),
                source,
                scope,
                task: *task,
                approval_link: false,
            }])
        }
    }
}

fn plan_event(
    event: Event,
    task: Option<u32>,
    step: Option<&str>,
    comment: &Option<String>,
    follow_up: Option<u32>,
    ctx: &Ctx<'_>,
) -> crate::Result<Vec<Planned>> {
    let task_ref = task.and_then(|no| ctx.state.task(no));
    let scope = with_task(base_scope(ctx, task_ref), ctx, task_ref);
    let mut scope = with_event(scope, event.name(), step, comment.as_deref(), ctx.at);
    scope["event"]["follow_up"] = json!(follow_up);
    let external = task_ref.is_some_and(is_external);
    let rules: Vec<&NotifyRule> = ctx
        .workflow
        .notify
        .iter()
        .filter(|r| r.on.iter().any(|e| e.value == event))
        .filter(|r| r.step.as_ref().is_none_or(|s| Some(s.value.as_str()) == step))
        .collect();
    let reopened = comment.is_some() && event == Event::TaskCreated;
    let builtin = || match follow_up {
        Some(_) if event == Event::ApprovalRequested => Source::Template("approval-follow-up".into()),
        _ => Source::Template(builtin_name(event, reopened).to_string()),
    };
    if rules.is_empty() {
        let Some(targets) = default_targets(event, task_ref, ctx) else { return Ok(Vec::new()) };
        return Ok(vec![Planned {
            event: event.name().into(),
            targets,
            source: builtin(),
            scope,
            task,
            approval_link: external && carries_link(event),
        }]);
    }
    let mut out = Vec::new();
    for rule in rules {
        let mut targets = Vec::new();
        for r in &rule.to {
            targets.extend(resolve(&r.value, task_ref, &scope, ctx)?);
        }
        let source = match rule.message() {
            Some(Message::Template(t)) => Source::Template(t.value),
            Some(Message::Inline { subject, body }) => Source::Inline { subject: subject.source, body: body.source },
            None => builtin(),
        };
        out.push(Planned {
            event: event.name().into(),
            targets: dedup(targets),
            source,
            scope: scope.clone(),
            task,
            approval_link: external && carries_link(event),
        });
    }
    Ok(out)
}

/// The defaults that apply when no rule of the workflow matches the notice.
fn default_targets(event: Event, task: Option<&Task>, ctx: &Ctx<'_>) -> Option<Vec<Target>> {
    let task = task?;
    let approval = task.is_approval();
    let targets = match event {
        // The candidates of a new (or reopened) task: its assignee when it was
        // created for one person. Approvals are announced by `approval.requested`.
        Event::TaskCreated if !approval => candidates(task, ctx),
        Event::ApprovalRequested => candidates(task, ctx),
        // Assigned after it was created (reassignment, escalation).
        Event::TaskAssigned if task.created_at != ctx.at => {
            task.assignee.iter().filter_map(|a| Target::parse(a)).collect()
        }
        Event::TaskDueSoon | Event::TaskOverdue => assignee_or_candidates(task, ctx),
        _ => return None,
    };
    (!targets.is_empty()).then(|| dedup(targets))
}

/// The events whose mail to an external approver carries a fresh approval
/// link: the request, its follow-ups, and the due-time reminders (a client
/// cannot act on a task id).
fn carries_link(event: Event) -> bool {
    matches!(event, Event::ApprovalRequested | Event::TaskDueSoon | Event::TaskOverdue)
}

fn is_external(t: &Task) -> bool {
    matches!(t.kind, TaskKind::Approval { external: true, .. })
}

/// Everyone who may take the task: its assignee if it has one, else the
/// role's members and the named candidates.
fn candidates(task: &Task, ctx: &Ctx<'_>) -> Vec<Target> {
    if let Some(a) = &task.assignee {
        return Target::parse(a).into_iter().collect();
    }
    let mut out: Vec<Target> = task.role.iter().flat_map(|r| ctx.roster.members(r)).map(Target::User).collect();
    out.extend(task.candidates.iter().filter_map(|c| Target::parse(c)));
    out
}

fn assignee_or_candidates(task: &Task, ctx: &Ctx<'_>) -> Vec<Target> {
    match &task.assignee {
        Some(a) => Target::parse(a).into_iter().collect(),
        None => candidates(task, ctx),
    }
}

/// A recipient of a rule, resolved.
fn resolve(r: &Recipient, task: Option<&Task>, scope: &Value, ctx: &Ctx<'_>) -> crate::Result<Vec<Target>> {
    Ok(match r {
        Recipient::Assignee => task.map(|t| assignee_or_candidates(t, ctx)).unwrap_or_default(),
        Recipient::Candidates => task.map(|t| candidates(t, ctx)).unwrap_or_default(),
        Recipient::Starter => starter(ctx),
        Recipient::Role(role) => ctx.roster.members(role).into_iter().map(Target::User).collect(),
        Recipient::User(u) => vec![Target::User(u.clone())],
        Recipient::Email(e) => vec![Target::Email(e.clone())],
        Recipient::Template(t) => {
            let text = eval::text(&t.source, scope)
                .map_err(|e| crate::Error::Recipient(format!("recipient `{}` failed: {e}", t.source)))?;
            expand(&text, task, ctx)
        }
    })
}

/// A recipient written as text (`role:client`, `user:anna`, `assignee`).
fn expand(text: &str, task: Option<&Task>, ctx: &Ctx<'_>) -> Vec<Target> {
    match text.trim() {
        "assignee" => task.map(|t| assignee_or_candidates(t, ctx)).unwrap_or_default(),
        "candidates" => task.map(|t| candidates(t, ctx)).unwrap_or_default(),
        "starter" => starter(ctx),
        t => match t.split_once(':') {
            Some(("role", role)) => ctx.roster.members(role.trim()).into_iter().map(Target::User).collect(),
            _ => Target::parse(t).into_iter().collect(),
        },
    }
}

/// Whoever started the instance (nobody when the system did: a schedule).
fn starter(ctx: &Ctx<'_>) -> Vec<Target> {
    let s = ctx.state.started_by.as_str();
    if s == smmflow_engine::event::SYSTEM {
        return Vec::new();
    }
    Target::parse(s).into_iter().collect()
}

fn dedup(targets: Vec<Target>) -> Vec<Target> {
    let mut seen = BTreeSet::new();
    targets.into_iter().filter(|t| seen.insert(t.key())).collect()
}

/// The expressions' scope, with `item`/`index` when the task belongs to a fan-out item.
fn base_scope(ctx: &Ctx<'_>, task: Option<&Task>) -> Value {
    let item = task.and_then(|t| {
        let i = t.item?;
        let items = ctx.state.step(&t.step)?.items.as_ref()?;
        Some((i, items.get(i)?))
    });
    eval::scope(ctx.state, ctx.at, item)
}

/// Adds `task` (and the workflow's name under `instance`) to a scope.
fn with_task(mut scope: Value, ctx: &Ctx<'_>, task: Option<&Task>) -> Value {
    if let Some(map) = scope.as_object_mut() {
        if let Some(inst) = map.get_mut("instance").and_then(Value::as_object_mut) {
            inst.insert("workflow".into(), json!(ctx.state.workflow));
            inst.insert("workflow_name".into(), json!(ctx.workflow_name));
        }
        if let Some(t) = task {
            map.insert("task".into(), task_value(ctx.state, t));
        }
    }
    scope
}

fn with_event(mut scope: Value, name: &str, step: Option<&str>, comment: Option<&str>, at: DateTime<Utc>) -> Value {
    if let Some(map) = scope.as_object_mut() {
        map.insert("event".into(), json!({"name": name, "step": step, "comment": comment, "at": at.to_rfc3339()}));
    }
    scope
}

/// What templates see as `task`.
pub fn task_value(state: &Instance, t: &Task) -> Value {
    let comments: Vec<Value> =
        t.comments.iter().map(|c| json!({"body": c.body, "author": c.author, "at": c.at.to_rfc3339()})).collect();
    json!({
        "id": task_global_id(state.id, t.no),
        "no": t.no,
        "step": t.step,
        "title": t.title,
        "instructions": t.instructions,
        "role": t.role,
        "assignee": t.assignee,
        "status": t.status.as_str(),
        "round": t.round,
        "priority": t.priority,
        "due_at": t.due_at.map(|d| d.to_rfc3339()),
        "approval": t.is_approval(),
        "external": is_external(t),
        "comments": comments,
        "output": t.output,
        "expires_at": t.expires_at.map(|d| d.to_rfc3339()),
        "last_reminded_at": t.last_reminded_at.map(|d| d.to_rfc3339()),
        "approval_link": Value::Null,
    })
}

/// The task's id in the GraphQL API (`base64url("Task:{instance}:{no}")`).
pub fn task_global_id(instance: uuid::Uuid, no: u32) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("Task:{instance}:{no}"))
}
