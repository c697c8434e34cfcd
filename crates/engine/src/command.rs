//! What goes into the engine (commands, the environment) and what comes out
//! (outcomes: the new state, events and actions), and its errors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use smmflow_spec::field::FieldError;
use smmflow_spec::notify::Event as NotifyEvent;
use smmflow_spec::{Calendar, Workflow};
use uuid::Uuid;

use crate::event::Event;
use crate::model::{Instance, InstanceStatus, ParentRef, ScheduleRef};
use crate::timer_key::{TimerKey, TimerScope};

/// Who is in the instance's workspace: the engine's only view of people.
/// The runtime fills it from the store before a command.
pub trait Directory {
    /// Logins of the role's members in the instance's workspace, sorted.
    fn members(&self, role: &str) -> Vec<String>;
    fn has_role(&self, user: &str, role: &str) -> bool {
        self.members(role).iter().any(|m| m == user)
    }
    /// Open and claimed tasks of the user across the workspace (`least_busy`).
    fn open_tasks(&self, user: &str) -> usize;
    /// The member who last got a task of this role by `round_robin`.
    fn last_assigned(&self, role: &str) -> Option<String>;
}

/// What a command is decided with: the time, the definition, the calendar, the people.
pub struct Env<'a> {
    pub now: DateTime<Utc>,
    pub workflow: &'a Workflow,
    pub version: i32,
    /// The instance's calendar, or the default one.
    pub calendar: &'a Calendar,
    pub directory: &'a dyn Directory,
    /// The profile's schema and the workspace's current profile, for
    /// `update_profile` steps (None: the workflow has none).
    pub profile: Option<(&'a smmflow_spec::Profile, &'a Value)>,
}

/// Starting an instance.
#[derive(Clone, Debug)]
pub struct Start {
    pub id: Uuid,
    pub workspace: String,
    pub inputs: Value,
    pub parent: Option<ParentRef>,
    pub schedule: Option<ScheduleRef>,
    /// The calendar key to count business time in (the runtime picks the
    /// workflow's own, else the parent's, else the workspace's).
    pub calendar: Option<String>,
    /// `workspace` in expressions: `{key, name, timezone, profile}`.
    pub context: Value,
}

/// A command on a running instance, by `actor`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Claim {
        task: u32,
    },
    Release {
        task: u32,
    },
    Complete {
        task: u32,
        output: Value,
    },
    Approve {
        task: u32,
        comment: Option<String>,
    },
    Reject {
        task: u32,
        comment: String,
        /// Words from the approval's `reasons` (required when it has them).
        #[serde(default)]
        reasons: Vec<String>,
    },
    /// A decision on an external approval level from a signed link; the
    /// actor is the link's recipient (a login or an address), who need not
    /// hold the role. The API checked the signature.
    DecideByLink {
        task: u32,
        approve: bool,
        comment: Option<String>,
        #[serde(default)]
        reasons: Vec<String>,
    },
    Reassign {
        task: u32,
        user: String,
    },
    Comment {
        task: u32,
        body: String,
    },
    Cancel {
        reason: String,
    },
    Suspend,
    Resume,
    RetryStep {
        step: String,
    },
    /// A durable timer came due (at least once; applied once).
    TimerFired {
        key: TimerKey,
    },
    /// A child instance of a subflow step ended.
    ChildFinished {
        child: Uuid,
        status: InstanceStatus,
        outputs: Value,
    },
}

/// Side effects the runtime performs in the same transaction as the events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// A durable timer of this instance; setting an existing key moves it.
    SetTimer {
        key: TimerKey,
        at: DateTime<Utc>,
    },
    /// Drops this instance's timers in the scope.
    ClearTimers {
        scope: TimerScope,
    },
    StartChild {
        id: Uuid,
        workflow: String,
        inputs: Value,
        parent: ParentRef,
    },
    CancelChild {
        id: Uuid,
        reason: String,
    },
    /// Tell the parent instance that this child ended.
    NotifyParent {
        parent: ParentRef,
        child: Uuid,
        status: InstanceStatus,
        outputs: Value,
    },
    Notify(Notice),
    /// Replace these top-level fields of the workspace's profile (checked
    /// against its schema already).
    UpdateProfile {
        set: serde_json::Map<String, Value>,
    },
    /// The instance is a publication on the content calendar.
    Publication {
        at: DateTime<Utc>,
        channel: String,
        title: Option<String>,
    },
}

/// A notification to resolve against the workflow's rules and defaults, or
/// to send as written (notify steps, escalations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    Event {
        event: NotifyEvent,
        task: Option<u32>,
        step: Option<String>,
        comment: Option<String>,
        /// `approval.requested` again: the `n`-th follow-up (1-based) of an undecided level.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        follow_up: Option<u32>,
    },
    Send {
        step: Option<String>,
        task: Option<u32>,
        /// Recipients as written, templates rendered (`user:anna`, `role:client`, `email:x@y.z`).
        to: Vec<String>,
        template: Option<String>,
        subject: Option<String>,
        body: Option<String>,
        /// The scope the message is rendered with.
        context: Value,
    },
}

/// The result of a command: the new state, the events it appended, the actions to run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub state: Instance,
    pub events: Vec<Event>,
    pub actions: Vec<Action>,
}

/// The API's error codes (the contract's `extensions.code`), the one
/// vocabulary every layer reports errors in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    TaskAlreadyCompleted,
    RateLimited,
    PostingLimit,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Conflict => "CONFLICT",
            Code::TaskAlreadyCompleted => "TASK_ALREADY_COMPLETED",
            Code::RateLimited => "RATE_LIMITED",
            Code::PostingLimit => "POSTING_LIMIT",
            Code::Internal => "INTERNAL",
        }
    }
}

/// `code == "FORBIDDEN"`: tests and logs compare with the contract's text.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a command was refused; nothing changed. Codes are the API's.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the task is already {0}")]
    TaskAlreadyCompleted(String),
    #[error("{message}")]
    BadUserInput { message: String, fields: Vec<FieldError> },
}

impl Error {
    pub fn code(&self) -> Code {
        match self {
            Error::NotFound(_) => Code::NotFound,
            Error::Forbidden(_) => Code::Forbidden,
            Error::Conflict(_) => Code::Conflict,
            Error::TaskAlreadyCompleted(_) => Code::TaskAlreadyCompleted,
            Error::BadUserInput { .. } => Code::BadUserInput,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Error {
        Error::BadUserInput { message: message.into(), fields: Vec::new() }
    }
}
