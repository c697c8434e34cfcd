//! GraphQL enums: upper case (`OPEN`, `COMPLETED`); YAML and expressions use lower case.

use async_graphql::Enum;

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum InstanceStatus {
    Running,
    Suspended,
    Completed,
    Cancelled,
    Failed,
    Rejected,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
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

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum StepStatus {
    Waiting,
    Ready,
    Done,
    Skipped,
    Failed,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum NotificationMode {
    Immediate,
    Hourly,
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
