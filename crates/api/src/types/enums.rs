//! GraphQL enums: upper case (`OPEN`, `COMPLETED`); YAML and expressions use lower case.

use async_graphql::Enum;

/// Where an instance (a running workflow) stands; YAML and expressions use the lower-case names.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum InstanceStatus {
    /// Under way: its steps and tasks progress.
    Running,
    /// Held by a lead (`suspendInstance`): its timers and tasks wait until `resumeInstance`.
    Suspended,
    /// Finished: every step done or skipped and no task open; `outputs` is set.
    Completed,
    /// Stopped by a lead or by the workflow; `endReason` says why.
    Cancelled,
    /// Ended in failure, e.g. a last rejected round with `then: fail`; `endReason` says why.
    Failed,
    /// Ended by a rejection that sends nothing back for rework; `endReason` holds its comment.
    Rejected,
}

/// Where a task (a human step) stands; YAML and expressions use the lower-case names.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum TaskStatus {
    /// Not taken yet: anyone with its role may claim it, or do or decide it at once.
    Open,
    /// Held by one assignee, who is working on it.
    Claimed,
    /// A task done: its form output was submitted.
    Completed,
    /// An approval decided: approved.
    Approved,
    /// An approval decided: rejected (the workflow usually sends the work back).
    Rejected,
    /// Withdrawn: its instance was cancelled, or rework superseded it.
    Cancelled,
    /// Passed over by an automatic escalation.
    Skipped,
    /// An approval nobody decided before its `expires` time.
    Expired,
}

/// Where a step of an instance stands; rework makes earlier steps ready again.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum StepStatus {
    /// Not started: its `after` steps are not all done or skipped, or its `start` time is ahead.
    Waiting,
    /// Under way: its tasks are open, or its timer or subflow is running.
    Ready,
    /// Finished; its `output` is set.
    Done,
    /// Not run: its `if` was false when it became ready.
    Skipped,
    /// Failed, e.g. a last rejected round with `then: fail`; the instance fails with it.
    Failed,
}

/// How a user gets e-mail about their work.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum NotificationMode {
    /// Each message on its own, as soon as possible.
    Immediate,
    /// Gathered into one digest an hour.
    Hourly,
    /// Gathered into one digest a day.
    Daily,
}

impl From<smmflow_engine::InstanceStatus> for InstanceStatus {
    fn from(s: smmflow_engine::InstanceStatus) -> Self {
        use smmflow_engine::InstanceStatus as S;
        match s {
            S::Running => Self::Running,
            S::Suspended => Self::Suspended,
            S::Completed => Self::Completed,
            S::Cancelled => Self::Cancelled,
            S::Failed => Self::Failed,
            S::Rejected => Self::Rejected,
        }
    }
}

impl From<smmflow_engine::TaskStatus> for TaskStatus {
    fn from(s: smmflow_engine::TaskStatus) -> Self {
        use smmflow_engine::TaskStatus as S;
        match s {
            S::Open => Self::Open,
            S::Claimed => Self::Claimed,
            S::Completed => Self::Completed,
            S::Approved => Self::Approved,
            S::Rejected => Self::Rejected,
            S::Cancelled => Self::Cancelled,
            S::Skipped => Self::Skipped,
            S::Expired => Self::Expired,
        }
    }
}

impl From<smmflow_engine::StepStatus> for StepStatus {
    fn from(s: smmflow_engine::StepStatus) -> Self {
        use smmflow_engine::StepStatus as S;
        match s {
            S::Waiting => Self::Waiting,
            S::Ready => Self::Ready,
            S::Done => Self::Done,
            S::Skipped => Self::Skipped,
            S::Failed => Self::Failed,
        }
    }
}

impl InstanceStatus {
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

impl TaskStatus {
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
}

impl NotificationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Immediate => "immediate",
            Self::Hourly => "hourly",
            Self::Daily => "daily",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "hourly" => Self::Hourly,
            "daily" => Self::Daily,
            _ => Self::Immediate,
        }
    }
}

impl From<InstanceStatus> for smmflow_engine::InstanceStatus {
    fn from(s: InstanceStatus) -> Self {
        use smmflow_engine::InstanceStatus as S;
        match s {
            InstanceStatus::Running => S::Running,
            InstanceStatus::Suspended => S::Suspended,
            InstanceStatus::Completed => S::Completed,
            InstanceStatus::Cancelled => S::Cancelled,
            InstanceStatus::Failed => S::Failed,
            InstanceStatus::Rejected => S::Rejected,
        }
    }
}

impl From<TaskStatus> for smmflow_engine::TaskStatus {
    fn from(s: TaskStatus) -> Self {
        use smmflow_engine::TaskStatus as S;
        match s {
            TaskStatus::Open => S::Open,
            TaskStatus::Claimed => S::Claimed,
            TaskStatus::Completed => S::Completed,
            TaskStatus::Approved => S::Approved,
            TaskStatus::Rejected => S::Rejected,
            TaskStatus::Cancelled => S::Cancelled,
            TaskStatus::Skipped => S::Skipped,
            TaskStatus::Expired => S::Expired,
        }
    }
}

impl From<NotificationMode> for smmflow_notify::Mode {
    fn from(m: NotificationMode) -> Self {
        match m {
            NotificationMode::Immediate => smmflow_notify::Mode::Immediate,
            NotificationMode::Hourly => smmflow_notify::Mode::Hourly,
            NotificationMode::Daily => smmflow_notify::Mode::Daily,
        }
    }
}

/// What kind of step a step is; the YAML's `type:` in upper case.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum StepType {
    /// Work a person does and submits through a form (`completeTask`).
    Task,
    /// A decision a person takes: approve, or reject with a comment (`approveTask`, `rejectTask`).
    Approval,
    /// Mail sent to people, then the step is done.
    Notify,
    /// A pause until a time or for a duration.
    Wait,
    /// Another workflow started as a child instance; done when the child completes.
    Subflow,
    /// A change written to the workspace's client profile.
    UpdateProfile,
}

impl From<&smmflow_spec::StepKind> for StepType {
    fn from(k: &smmflow_spec::StepKind) -> StepType {
        use smmflow_spec::StepKind as K;
        match k {
            K::Task(_) => StepType::Task,
            K::Approval(_) => StepType::Approval,
            K::Notify(_) => StepType::Notify,
            K::Wait(_) => StepType::Wait,
            K::Subflow(_) => StepType::Subflow,
            K::UpdateProfile(_) => StepType::UpdateProfile,
        }
    }
}

/// How urgent a task is, from its step's `priority:` (default `NORMAL`).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum TaskPriority {
    /// Can wait behind other work.
    Low,
    /// The default.
    Normal,
    /// Before normal work.
    High,
    /// Before anything else.
    Urgent,
}

impl TaskPriority {
    /// From the stored lower-case name (unknown names read as `NORMAL`).
    pub fn from_name(name: &str) -> TaskPriority {
        match name {
            "low" => TaskPriority::Low,
            "high" => TaskPriority::High,
            "urgent" => TaskPriority::Urgent,
            _ => TaskPriority::Normal,
        }
    }
}
