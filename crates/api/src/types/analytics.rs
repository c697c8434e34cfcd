//! `analytics`: who holds work up, cycle times, load, rejection reasons and
//! due-time keeping for a period (durations in seconds of business time).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use smmflow_runtime::analytics::{Analytics, PersonLoad, RoleLoad, Spread, StepStats};

use crate::error::ApiResult as Result;
use crate::types::people::{UserObj, WorkspaceObj};

/// The period and scope of `analytics`.
#[derive(InputObject)]
pub struct AnalyticsFilter {
    /// The period's start (inclusive).
    pub from: DateTime<Utc>,
    /// The period's end (exclusive).
    pub to: DateTime<Utc>,
    /// One workspace (else every workspace the caller is a member of).
    pub workspace: Option<String>,
    /// One workflow (its key).
    pub workflow: Option<String>,
}

/// A spread of durations, in seconds of business time; null without data.
#[derive(SimpleObject)]
#[graphql(name = "DurationStats")]
pub struct DurationStats {
    /// The median, in seconds.
    pub p50: Option<f64>,
    /// The 90th percentile, in seconds.
    pub p90: Option<f64>,
    /// The mean, in seconds.
    pub mean: Option<f64>,
}

impl From<Spread> for DurationStats {
    fn from(s: Spread) -> Self {
        DurationStats { p50: s.p50, p90: s.p90, mean: s.mean }
    }
}

pub struct AnalyticsObj(pub Analytics);

/// Figures for a period from the event log, in business time.
#[Object(name = "Analytics")]
impl AnalyticsObj {
    /// Per workflow step and role: the tasks done in the period.
    async fn steps(&self) -> Vec<StepStatsObj> {
        self.0.steps.iter().cloned().map(StepStatsObj).collect()
    }
    /// How much of the business time the period's done tasks waited on each party.
    async fn parties(&self) -> Vec<PartyStats> {
        self.0
            .parties
            .iter()
            .map(|p| PartyStats { party: p.party.clone(), waiting_seconds: p.waiting_seconds, share: p.share })
            .collect()
    }
    /// Open work now per workspace and role (and what was done in the period).
    async fn load(&self) -> Vec<RoleLoadObj> {
        self.0.load.iter().cloned().map(RoleLoadObj).collect()
    }
    /// Open work now per person (and what they did in the period).
    async fn people(&self) -> Vec<PersonLoadObj> {
        self.0.people.iter().cloned().map(PersonLoadObj).collect()
    }
    /// Rejections of the period by reason (`unstated` when none was named), most first.
    async fn rejections(&self) -> Vec<ReasonCount> {
        self.0.rejections.iter().map(|r| ReasonCount { reason: r.reason.clone(), count: clamp(r.count) }).collect()
    }
    /// Due times that fell in the period and passed: how many were kept.
    async fn sla(&self) -> SlaStats {
        let s = &self.0.sla;
        SlaStats { due: clamp(s.due), met: clamp(s.met), rate: s.rate }
    }
}

fn clamp(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub struct StepStatsObj(StepStats);

/// Figures for one step (and role) of one workflow: the tasks done in the period.
#[Object(name = "StepStats")]
impl StepStatsObj {
    /// The workflow's key.
    async fn workflow(&self) -> &str {
        &self.0.workflow
    }
    /// The step's id.
    async fn step(&self) -> &str {
        &self.0.step
    }
    /// The role that does it (null for a step without one).
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
    }
    /// Tasks done in the period (completed, approved, rejected or expired).
    async fn count(&self) -> i32 {
        clamp(self.0.count)
    }
    /// From ready (the task's creation) to done.
    async fn cycle_time(&self) -> DurationStats {
        self.0.cycle.into()
    }
    /// From ready to first taken (claimed or decided).
    async fn wait_time(&self) -> DurationStats {
        self.0.wait.into()
    }
    /// Of the done tasks with a due time, the share done by it.
    async fn on_time_rate(&self) -> Option<f64> {
        self.0.on_time_rate
    }
    /// The share of the done tasks that were rework (round 2 or later).
    async fn rework_rate(&self) -> f64 {
        self.0.rework_rate
    }
}

/// How long work waited on one party: who holds work up.
#[derive(SimpleObject)]
pub struct PartyStats {
    /// `agency`, `client` or `external`.
    pub party: String,
    /// Seconds of business time the period's done tasks waited on this party.
    pub waiting_seconds: f64,
    /// Of all parties' waiting time, 0 to 1.
    pub share: f64,
}

pub struct RoleLoadObj(RoleLoad);

/// The work of one role in one workspace: open now, and done in the period.
#[Object(name = "RoleLoad")]
impl RoleLoadObj {
    /// The workspace (client).
    async fn workspace(&self, ctx: &Context<'_>) -> Result<WorkspaceObj> {
        let name = crate::workspace_name_of(ctx, &self.0.workspace).await?;
        Ok(WorkspaceObj::new(self.0.workspace.clone(), name))
    }
    /// The role's name.
    async fn role(&self) -> &str {
        &self.0.role
    }
    /// Open or claimed now.
    async fn open(&self) -> i32 {
        clamp(self.0.open)
    }
    /// Open and past its due time now.
    async fn overdue(&self) -> i32 {
        clamp(self.0.overdue)
    }
    /// Open and due before next Monday 00:00 UTC.
    async fn due_this_week(&self) -> i32 {
        clamp(self.0.due_this_week)
    }
    /// Done in the period.
    async fn completed(&self) -> i32 {
        clamp(self.0.completed)
    }
}

pub struct PersonLoadObj(PersonLoad);

/// The work of one person: held now, and done in the period.
#[Object(name = "PersonLoad")]
impl PersonLoadObj {
    /// The person (null when the user no longer exists).
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        Ok(crate::user_of(ctx, &self.0.user).await?.map(UserObj::new))
    }
    /// Tasks assigned to or claimed by them, open now.
    async fn open(&self) -> i32 {
        clamp(self.0.open)
    }
    /// Of those, past their due time now.
    async fn overdue(&self) -> i32 {
        clamp(self.0.overdue)
    }
    /// Tasks they did in the period.
    async fn completed(&self) -> i32 {
        clamp(self.0.completed)
    }
}

/// How many rejections of the period named one reason.
#[derive(SimpleObject)]
pub struct ReasonCount {
    /// A word from the approval's `reasons` (`unstated` when a rejection named none).
    pub reason: String,
    /// Rejections that named it.
    pub count: i32,
}

/// Due-time keeping: how many due times that fell in the period were kept.
#[derive(SimpleObject)]
pub struct SlaStats {
    /// Tasks whose due time fell in the period and has passed.
    pub due: i32,
    /// Of those, done by their due time.
    pub met: i32,
    /// `met / due`; null when nothing was due.
    pub rate: Option<f64>,
}
