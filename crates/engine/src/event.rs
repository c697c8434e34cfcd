//! Events: the append-only log of everything that happened to an instance.
//! Each carries its sequence number, time and actor; `kind` names are the
//! ones the API shows (`task.created`, `rework.started`, ...).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::model::{ParentRef, ScheduleRef, Task};

/// Who caused an event when no person did.
pub const SYSTEM: &str = "system";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// The kind's name, e.g. `task.created`.
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data")]
pub enum EventKind {
    #[serde(rename = "instance.started")]
    InstanceStarted {
        id: Uuid,
        workflow: String,
        version: i32,
        workspace: String,
        inputs: Value,
        steps: Vec<String>,
        parent: Option<ParentRef>,
        schedule: Option<ScheduleRef>,
        #[serde(default)]
        calendar: Option<String>,
        /// The workspace as the instance sees it (`key name timezone
        /// profile`), pinned when it starts.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        context: Value,
    },
    #[serde(rename = "step.ready")]
    StepReady { step: String },
    /// Not ready before `until` (`start`), or waiting until then (`wait`).
    #[serde(rename = "step.deferred")]
    StepDeferred { step: String, until: DateTime<Utc> },
    #[serde(rename = "step.items")]
    StepItems { step: String, items: Vec<Value> },
    #[serde(rename = "step.skipped")]
    StepSkipped { step: String, reason: String },
    #[serde(rename = "step.completed")]
    StepCompleted { step: String, output: Value, completed_by: Value },
    #[serde(rename = "step.failed")]
    StepFailed { step: String, reason: String },
    #[serde(rename = "step.incident")]
    IncidentRaised { step: String, message: String },
    #[serde(rename = "step.retried")]
    IncidentCleared { step: String },
    #[serde(rename = "repeat.fired")]
    RepeatFired { step: String, occurrence: u32 },
    #[serde(rename = "repeat.ended")]
    RepeatEnded { step: String },
    #[serde(rename = "task.created")]
    TaskCreated { task: Box<Task> },
    #[serde(rename = "task.claimed")]
    TaskClaimed { task: u32, user: String },
    #[serde(rename = "task.released")]
    TaskReleased { task: u32 },
    /// Handed to a user, or back to a role's pool (`user: null`).
    #[serde(rename = "task.reassigned")]
    TaskReassigned { task: u32, user: Option<String>, role: Option<String> },
    #[serde(rename = "task.completed")]
    TaskCompleted { task: u32, output: Value },
    #[serde(rename = "task.approved")]
    TaskApproved { task: u32, comment: Option<String> },
    #[serde(rename = "task.rejected")]
    TaskRejected {
        task: u32,
        comment: String,
        /// The approval's reasons the rejection named.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<String>,
    },
    #[serde(rename = "task.cancelled")]
    TaskCancelled { task: u32, reason: String },
    #[serde(rename = "task.skipped")]
    TaskSkipped { task: u32, reason: String },
    #[serde(rename = "task.commented")]
    CommentAdded { task: u32, body: String },
    #[serde(rename = "task.reminded")]
    TaskReminded { task: u32, reminder: usize },
    #[serde(rename = "task.overdue")]
    TaskOverdue { task: u32 },
    #[serde(rename = "task.escalated")]
    TaskEscalated { task: u32, stage: usize },
    /// The `follow_up`-th follow-up of an undecided approval level was sent.
    #[serde(rename = "task.followed_up")]
    TaskFollowedUp { task: u32, follow_up: usize },
    /// Nobody decided the approval before its `expires` time; `outcome` is
    /// what `on_expire` made of it (`approved`, `rejected`, `cancelled`, `goto`).
    #[serde(rename = "task.expired")]
    TaskExpired { task: u32, outcome: String },
    #[serde(rename = "rework.started")]
    ReworkStarted { approval: String, goto: String, round: u32, comment: String, reopened: Vec<String> },
    #[serde(rename = "child.started")]
    ChildStarted { step: String, item: Option<usize>, child: Uuid, workflow: String },
    #[serde(rename = "child.finished")]
    ChildFinished { step: String, item: Option<usize>, child: Uuid, status: String, outputs: Value },
    #[serde(rename = "timer.held")]
    TimerHeld { key: crate::TimerKey },
    #[serde(rename = "instance.suspended")]
    InstanceSuspended,
    #[serde(rename = "instance.resumed")]
    InstanceResumed,
    #[serde(rename = "instance.completed")]
    InstanceCompleted { outputs: Value },
    #[serde(rename = "instance.cancelled")]
    InstanceCancelled { reason: String },
    #[serde(rename = "instance.failed")]
    InstanceFailed { reason: String },
    #[serde(rename = "instance.rejected")]
    InstanceRejected { step: String, comment: String },
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        use EventKind::*;
        match self {
            InstanceStarted { .. } => "instance.started",
            StepReady { .. } => "step.ready",
            StepDeferred { .. } => "step.deferred",
            StepItems { .. } => "step.items",
            StepSkipped { .. } => "step.skipped",
            StepCompleted { .. } => "step.completed",
            StepFailed { .. } => "step.failed",
            IncidentRaised { .. } => "step.incident",
            IncidentCleared { .. } => "step.retried",
            RepeatFired { .. } => "repeat.fired",
            RepeatEnded { .. } => "repeat.ended",
            TaskCreated { .. } => "task.created",
            TaskClaimed { .. } => "task.claimed",
            TaskReleased { .. } => "task.released",
            TaskReassigned { .. } => "task.reassigned",
            TaskCompleted { .. } => "task.completed",
            TaskApproved { .. } => "task.approved",
            TaskRejected { .. } => "task.rejected",
            TaskCancelled { .. } => "task.cancelled",
            TaskSkipped { .. } => "task.skipped",
            CommentAdded { .. } => "task.commented",
            TaskReminded { .. } => "task.reminded",
            TaskOverdue { .. } => "task.overdue",
            TaskEscalated { .. } => "task.escalated",
            TaskFollowedUp { .. } => "task.followed_up",
            TaskExpired { .. } => "task.expired",
            ReworkStarted { .. } => "rework.started",
            ChildStarted { .. } => "child.started",
            ChildFinished { .. } => "child.finished",
            TimerHeld { .. } => "timer.held",
            InstanceSuspended => "instance.suspended",
            InstanceResumed => "instance.resumed",
            InstanceCompleted { .. } => "instance.completed",
            InstanceCancelled { .. } => "instance.cancelled",
            InstanceFailed { .. } => "instance.failed",
            InstanceRejected { .. } => "instance.rejected",
        }
    }

    /// The task an event is about, if any.
    pub fn task(&self) -> Option<u32> {
        use EventKind::*;
        match self {
            TaskCreated { task } => Some(task.no),
            TaskClaimed { task, .. }
            | TaskReleased { task }
            | TaskReassigned { task, .. }
            | TaskCompleted { task, .. }
            | TaskApproved { task, .. }
            | TaskRejected { task, .. }
            | TaskCancelled { task, .. }
            | TaskSkipped { task, .. }
            | CommentAdded { task, .. }
            | TaskReminded { task, .. }
            | TaskOverdue { task }
            | TaskEscalated { task, .. }
            | TaskFollowedUp { task, .. }
            | TaskExpired { task, .. } => Some(*task),
            _ => None,
        }
    }
}
