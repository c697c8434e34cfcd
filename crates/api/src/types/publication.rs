//! The content calendar: publications (instances of workflows that declare
//! `publication:`) across the caller's workspaces, in time order.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use smmflow_runtime::{PublicationRow, PublicationState};

use crate::access_of;
use crate::error::{ApiError, ApiResult as Result};
use crate::ids::NodeId;
use crate::types::instance::InstanceObj;
use crate::types::people::WorkspaceObj;

/// Where a publication on the content calendar stands, as of now.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum PublicationStatus {
    /// Its instance is running, before its time.
    InProduction,
    /// Its instance is still running and its time has passed.
    Late,
    /// Its instance completed.
    Published,
    /// Its instance ended otherwise (cancelled, rejected, failed).
    Cancelled,
}

impl From<PublicationStatus> for PublicationState {
    fn from(s: PublicationStatus) -> Self {
        match s {
            PublicationStatus::InProduction => PublicationState::InProduction,
            PublicationStatus::Late => PublicationState::Late,
            PublicationStatus::Published => PublicationState::Published,
            PublicationStatus::Cancelled => PublicationState::Cancelled,
        }
    }
}

impl From<PublicationState> for PublicationStatus {
    fn from(s: PublicationState) -> Self {
        match s {
            PublicationState::InProduction => PublicationStatus::InProduction,
            PublicationState::Late => PublicationStatus::Late,
            PublicationState::Published => PublicationStatus::Published,
            PublicationState::Cancelled => PublicationStatus::Cancelled,
        }
    }
}

/// Which publications to list: a time range, and optionally a workspace, a channel and statuses.
#[derive(InputObject)]
pub struct PublicationFilter {
    /// From this time (inclusive).
    pub from: DateTime<Utc>,
    /// To this time (exclusive).
    pub to: DateTime<Utc>,
    /// One workspace's key (else all of the caller's).
    pub workspace: Option<String>,
    /// One channel (platform) key.
    pub channel: Option<String>,
    /// Only these statuses.
    pub status: Option<Vec<PublicationStatus>>,
}

/// One publication on the calendar.
#[derive(Clone)]
pub struct PublicationObj {
    pub row: PublicationRow,
    pub now: DateTime<Utc>,
}

/// A post on the content calendar: an instance of a workflow that declares `publication:`.
#[Object(name = "Publication")]
impl PublicationObj {
    /// The publication's global id.
    pub async fn id(&self) -> ID {
        ID(NodeId::Publication(self.row.instance.clone()).encode())
    }
    /// When it goes out.
    async fn at(&self) -> DateTime<Utc> {
        self.row.at
    }
    /// The channel (platform) key it goes out on.
    async fn channel(&self) -> &str {
        &self.row.channel
    }
    /// Its title, from the workflow's `publication.title` (null when there is none).
    async fn title(&self) -> Option<&str> {
        self.row.title.as_deref()
    }
    /// Its state now: `IN_PRODUCTION`, `LATE`, `PUBLISHED` or `CANCELLED`.
    async fn status(&self) -> PublicationStatus {
        PublicationState::of(&self.row, self.now).into()
    }
    /// The workspace (client) it is for.
    async fn workspace(&self, ctx: &Context<'_>) -> Result<WorkspaceObj> {
        let name = crate::workspace_name_of(ctx, &self.row.workspace).await?;
        Ok(WorkspaceObj::new(self.row.workspace.clone(), name))
    }
    /// When it is expected ready, and whether that is after its time
    /// (null when its instance is not visible any more).
    async fn forecast(&self, ctx: &Context<'_>) -> Result<Option<crate::types::forecast::PublicationForecast>> {
        let id = self.row.instance.parse().map_err(|_| ApiError::Internal("a stored instance id".into()))?;
        let Ok(f) = access_of(ctx)?.forecast(id).await else { return Ok(None) };
        let in_production = matches!(
            PublicationState::of(&self.row, self.now),
            PublicationState::InProduction | PublicationState::Late
        );
        Ok(Some(crate::types::forecast::PublicationForecast {
            expected_ready_at: f.expected_ready_at,
            at_risk: in_production && f.expected_ready_at > self.row.at,
        }))
    }
    /// The instance that produces it.
    async fn instance(&self, ctx: &Context<'_>) -> Result<Option<InstanceObj>> {
        let id = self.row.instance.parse().map_err(|_| ApiError::Internal("a stored instance id".into()))?;
        Ok(access_of(ctx)?.instance(id).await.ok().map(InstanceObj::new))
    }
}
