//! The state of one instance: what the event log folds into.
//!
//! Everything here is rebuilt exactly by replaying the instance's events
//! ([`crate::apply`]); the store keeps it as a snapshot for fast loading.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    Running,
    Suspended,
    Completed,
    Cancelled,
    Failed,
    Rejected,
}

impl InstanceStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Failed | Self::Rejected)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Suspended => "suspended",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Waiting,
    Ready,
    Done,
    Skipped,
    Failed,
}

impl StepStatus {
    /// Done or skipped: successors may go on.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Done | Self::Skipped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Ready => "ready",
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Claimed,
    Completed,
    Approved,
    Rejected,
    Cancelled,
    Skipped,
    /// An approval nobody decided before its `expires` time.
    Expired,
}

impl TaskStatus {
    /// Open or claimed: someone still has to act.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Open | Self::Claimed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Claimed => "claimed",
            Self::Completed => "completed",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::Expired => "expired",
        }
    }

    /// A task in this status with this due time is overdue at `now`: due
    /// and not done.
    pub fn is_overdue(self, due_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        self.is_active() && due_at.is_some_and(|d| d < now)
    }

    /// The status `as_str` names (None for anything else).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Open,
            Self::Claimed,
            Self::Completed,
            Self::Approved,
            Self::Rejected,
            Self::Cancelled,
            Self::Skipped,
            Self::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A task's kind: a piece of work, or a decision at one approval level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskKind {
    Task,
    Approval {
        level: usize,
        external: bool,
        /// The last word after `then: {reassign: ...}`: approve continues, reject ends the instance.
        #[serde(default)]
        final_decision: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub body: String,
    pub author: String,
    pub at: DateTime<Utc>,
}

/// A unit of human work, numbered within its instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub no: u32,
    pub step: String,
    pub kind: TaskKind,
    /// The `for_each` item index, when the step fans out.
    pub item: Option<usize>,
    /// The `repeat` occurrence (1-based), when the step recurs.
    pub occurrence: Option<u32>,
    pub round: u32,
    pub status: TaskStatus,
    /// The role whose members may take it (none when only `candidates` may).
    pub role: Option<String>,
    /// Users who may take it besides the role's members (assignment by expression or reassignment).
    pub candidates: Vec<String>,
    pub assignee: Option<String>,
    pub title: String,
    pub instructions: Option<String>,
    pub priority: String,
    pub created_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    pub output: Option<Value>,
    /// The previous round's output, shown pre-filled after a rejection.
    pub prefill: Option<Value>,
    pub comments: Vec<Comment>,
    /// Reminders sent so far (by index into the step's `remind` list).
    pub reminded: Vec<usize>,
    pub overdue_noticed: bool,
    /// Escalation stages applied so far (by index).
    pub escalated: Vec<usize>,
    /// Approvals: follow-ups sent so far (by index into the level's `follow_up`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followed_up: Vec<usize>,
    /// When its people were last reminded (a reminder before the due time or a follow-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reminded_at: Option<DateTime<Utc>>,
    /// Approvals with `expires`: the moment it expires undecided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When someone first took it (claimed, or decided/completed while open);
    /// a task created for one person counts as taken at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<DateTime<Utc>>,
    /// Tasks with `figures`: the period whose figures are attached (from, to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Whose side its people are on (`agency`, `client`, `external`), for analytics.
    #[serde(default = "agency", skip_serializing_if = "is_agency")]
    pub party: String,
}

fn agency() -> String {
    "agency".into()
}

fn is_agency(p: &str) -> bool {
    p == "agency"
}

impl Task {
    pub fn is_approval(&self) -> bool {
        matches!(self.kind, TaskKind::Approval { .. })
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status.is_overdue(self.due_at, now)
    }
}

/// A problem evaluating a step (an expression that failed): visible, retryable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub message: String,
    pub at: DateTime<Utc>,
}

/// The result of one fan-out item, occurrence, or child.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    pub output: Value,
    pub by: Option<String>,
}

/// A child instance started by a subflow step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Child {
    pub id: Uuid,
    pub step: String,
    pub item: Option<usize>,
    pub workflow: String,
    pub finished: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub status: StepStatus,
    pub round: u32,
    pub ready_at: Option<DateTime<Utc>>,
    /// Not ready before this time (`start`, `wait`).
    pub not_before: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub output: Option<Value>,
    pub completed_by: Option<Value>,
    pub incident: Option<Incident>,
    /// Fan-out items (`for_each`), once evaluated.
    pub items: Option<Vec<Value>>,
    /// Results by item (or by occurrence for `repeat`).
    pub results: BTreeMap<usize, ItemResult>,
    /// `repeat`: occurrences started so far, and whether the series ended.
    pub occurrences: u32,
    pub series_ended: bool,
    /// The output of the previous round, for pre-filling reworked tasks.
    pub previous_output: Option<Value>,
    /// The rejection comment that reopened this step.
    pub rework_comment: Option<Comment>,
}

impl StepState {
    pub fn new() -> Self {
        StepState {
            status: StepStatus::Waiting,
            round: 1,
            ready_at: None,
            not_before: None,
            completed_at: None,
            output: None,
            completed_by: None,
            incident: None,
            items: None,
            results: BTreeMap::new(),
            occurrences: 0,
            series_ended: false,
            previous_output: None,
            rework_comment: None,
        }
    }
}

impl Default for StepState {
    fn default() -> Self {
        Self::new()
    }
}

/// The instance that started this one as a subflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    pub instance: Uuid,
    pub step: String,
    pub item: Option<usize>,
}

/// The schedule fire that started an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRef {
    pub schedule: String,
    pub scheduled_for: DateTime<Utc>,
}

/// One run of a workflow version in one workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: Uuid,
    pub workflow: String,
    pub version: i32,
    pub workspace: String,
    pub status: InstanceStatus,
    pub inputs: Value,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    pub completed_at: Option<DateTime<Utc>>,
    pub parent: Option<ParentRef>,
    pub schedule: Option<ScheduleRef>,
    /// The calendar business time is counted in: the workflow's own, else
    /// the parent's (subflows), else none (the default calendar).
    #[serde(default)]
    pub calendar: Option<String>,
    /// `workspace` in expressions: the workspace's key, name, timezone and
    /// profile as they were when the instance started.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub workspace_scope: Value,
    /// Every step of the definition, by id.
    pub steps: BTreeMap<String, StepState>,
    /// Tasks by number (1-based, in creation order).
    pub tasks: Vec<Task>,
    pub children: Vec<Child>,
    /// Timers that came due while suspended; re-armed on resume.
    pub held_timers: Vec<crate::TimerKey>,
    /// Outputs for a parent (evaluated at completion).
    pub outputs: Option<Value>,
    /// Why it ended, when not completed.
    pub end_reason: Option<String>,
    /// How many events have been applied: the optimistic-concurrency version.
    pub seq: u64,
}

impl Instance {
    pub fn task(&self, no: u32) -> Option<&Task> {
        no.checked_sub(1).and_then(|i| self.tasks.get(i as usize))
    }

    pub fn task_mut(&mut self, no: u32) -> Option<&mut Task> {
        no.checked_sub(1).and_then(|i| self.tasks.get_mut(i as usize))
    }

    pub fn step(&self, id: &str) -> Option<&StepState> {
        self.steps.get(id)
    }

    pub fn active_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| t.status.is_active())
    }
}
