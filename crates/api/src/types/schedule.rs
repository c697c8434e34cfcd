//! Schedules and their fires, as the API shows them.

use async_graphql::{Context, Enum, ID, Json, Object};

use crate::error::ApiResult as Result;
use chrono::{DateTime, Utc};
use serde_json::Value;
use smmflow_runtime::{FireRow, ScheduleRow};

use crate::access_of;
use crate::error::ApiError;
use crate::types::instance::{InstanceObj, WorkflowRef};
use crate::types::people::WorkspaceObj;

/// What a schedule does about fires missed while down or paused (within `catchUpWindow`).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum MissedPolicy {
    /// Drop the missed fires.
    None,
    /// Start one instance for the most recent missed fire (the default).
    Last,
    /// Start one instance for each missed fire.
    All,
}

/// What a schedule does when it fires while the instance it started before is still open.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum OverlapPolicy {
    /// Start the new instance anyway (the default).
    Allow,
    /// Start nothing for this fire (it is recorded as skipped).
    Skip,
    /// Cancel the open previous instance and start the new one.
    CancelPrevious,
}

impl MissedPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Last => "last",
            Self::All => "all",
        }
    }
}

impl OverlapPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Skip => "skip",
            Self::CancelPrevious => "cancel_previous",
        }
    }
}

#[derive(Clone)]
pub struct ScheduleObj(pub ScheduleRow);

pub struct ScheduleFire(pub FireRow);

/// One fire of a schedule: the instance it started, or why it was skipped.
#[Object]
impl ScheduleFire {
    /// The fire time the cron named.
    async fn scheduled_for(&self) -> DateTime<Utc> {
        self.0.scheduled_for
    }
    /// When the instance was started (none for a skipped fire).
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        (!self.0.skipped).then_some(self.0.fired_at)
    }
    /// The instance it started (null when skipped, or when it is no longer visible).
    async fn instance(&self, ctx: &Context<'_>) -> Result<Option<InstanceObj>> {
        let Some(id) = self.0.instance else { return Ok(None) };
        match access_of(ctx)?.instance(id).await {
            Ok(i) => Ok(Some(InstanceObj::new(i))),
            Err(_) => Ok(None),
        }
    }
    /// True when the fire started no instance (`reason` says why).
    async fn skipped(&self) -> bool {
        self.0.skipped
    }
    /// Why a fire was skipped: missed while down or paused, overlap, max_runs...
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}

impl ScheduleObj {
    /// `starts` and `ends` as instants (none when the stored settings do not decode).
    fn window(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        smmflow_runtime::schedules::decode_spec(&self.0.spec)
            .map(|s| smmflow_runtime::schedules::window(&s))
            .unwrap_or((None, None))
    }
}

fn text<'a>(spec: &'a Value, key: &str) -> Option<&'a str> {
    spec.get(key).and_then(Value::as_str)
}

/// A cron timetable that starts instances of a workflow in one workspace (client).
#[Object(name = "Schedule")]
impl ScheduleObj {
    /// The schedule's id (`yaml:<workflow>:<index>[:<workspace>]` or a UUID), for `node(id:)` and the schedule mutations.
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The workflow, at the latest version (the one new runs use).
    async fn workflow(&self, ctx: &Context<'_>) -> Result<WorkflowRef> {
        let def = access_of(ctx)?.definition(&self.0.workflow, None).await.map_err(ApiError::from)?;
        Ok(WorkflowRef { key: self.0.workflow.clone(), version: def.version })
    }
    /// The workspace (client) its instances run in.
    async fn workspace(&self, ctx: &Context<'_>) -> Result<WorkspaceObj> {
        let name = crate::workspace_name_of(ctx, &self.0.workspace).await?;
        Ok(WorkspaceObj::new(self.0.workspace.clone(), name))
    }
    /// `yaml` (from a workflow file: a deploy overwrites edits) or `api`.
    async fn source(&self) -> &str {
        &self.0.source
    }
    /// The cron expression: 5 crontab fields (or 6 with seconds first).
    async fn cron(&self) -> &str {
        text(&self.0.spec, "cron").unwrap_or_default()
    }
    /// The IANA timezone the cron runs in (default `UTC`).
    async fn timezone(&self) -> &str {
        text(&self.0.spec, "timezone").unwrap_or("UTC")
    }
    /// The inputs every instance it starts gets (JSON; null when none).
    async fn inputs(&self) -> Json<Value> {
        Json(self.0.spec.get("inputs").cloned().unwrap_or(Value::Null))
    }
    /// What it does about fires missed while down or paused (default `LAST`).
    async fn missed(&self) -> MissedPolicy {
        match text(&self.0.spec, "missed") {
            Some("none") => MissedPolicy::None,
            Some("all") => MissedPolicy::All,
            _ => MissedPolicy::Last,
        }
    }
    /// How far back missed fires are caught up: a duration such as `1d` (the default).
    async fn catch_up_window(&self) -> &str {
        text(&self.0.spec, "catch_up_window").unwrap_or("1d")
    }
    /// What it does when it fires while its previous instance is still open (default `ALLOW`).
    async fn overlap(&self) -> OverlapPolicy {
        match text(&self.0.spec, "overlap") {
            Some("skip") => OverlapPolicy::Skip,
            Some("cancel_previous") => OverlapPolicy::CancelPrevious,
            _ => OverlapPolicy::Allow,
        }
    }
    /// It fires from this instant on (null: no start limit); a date written in YAML is the start of that day in `timezone`.
    async fn starts(&self) -> Option<DateTime<Utc>> {
        self.window().0
    }
    /// It fires up to this instant (null: no end limit); a date written in YAML is that whole day, in `timezone`.
    async fn ends(&self) -> Option<DateTime<Utc>> {
        self.window().1
    }
    /// The most instances it starts (null: no limit).
    async fn max_runs(&self) -> Option<i64> {
        self.0.spec.get("max_runs").and_then(Value::as_i64)
    }
    /// How many instances it has started so far.
    async fn runs(&self) -> i32 {
        self.0.runs
    }
    /// Paused by a lead: it fires no more until `resumeSchedule`.
    async fn paused(&self) -> bool {
        self.0.paused
    }
    /// The next fire (none when the schedule is over).
    async fn next_fire_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_fire_at
    }
    /// The latest fires, newest first, started or skipped with the reason.
    #[graphql(
        complexity = "usize::try_from(limit.clamp(1, 100)).unwrap_or(100).saturating_mul(child_complexity).saturating_add(1)"
    )]
    async fn last_fires(&self, ctx: &Context<'_>, #[graphql(default = 10)] limit: i32) -> Result<Vec<ScheduleFire>> {
        let limit = u64::try_from(limit.clamp(1, 100)).unwrap_or(10);
        let fires = access_of(ctx)?.last_fires(&self.0, limit).await.map_err(ApiError::from)?;
        Ok(fires.into_iter().map(ScheduleFire).collect())
    }
}
