//! Workspaces as clients: posting limits, profile versions, and the inputs
//! that create and change them.

use async_graphql::{Context, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use smmflow_runtime::ProfileVersion;
use smmflow_runtime::clients::{NewWorkspace, WorkspaceChange};
use smmflow_spec::PostingLimit;

use crate::error::{ApiResult as Result, UserError};
use crate::types::people::{UserObj, WorkspaceObj};

/// At most `maxPerDay` publications a day (in the workspace's timezone) and
/// at least `minGap` between two, on a channel (`*`: each channel without
/// a limit of its own).
pub struct PostingLimitObj(pub PostingLimit);

#[Object(name = "PostingLimit")]
impl PostingLimitObj {
    async fn channel(&self) -> &str {
        &self.0.channel
    }
    async fn max_per_day(&self) -> Option<i32> {
        self.0.max_per_day.map(|n| n as i32)
    }
    /// A duration such as `3h`.
    async fn min_gap(&self) -> Option<String> {
        self.0.min_gap.map(|d| d.to_string())
    }
}

/// One version of a workspace's profile.
pub struct ProfileVersionObj(pub ProfileVersion);

#[Object(name = "ProfileVersion")]
impl ProfileVersionObj {
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
    /// Who wrote it: the person who changed the settings, or whose command
    /// ran the `update_profile` step (null for the system and the operator).
    async fn changed_by(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        Ok(crate::user_of(ctx, &self.0.changed_by).await?.map(UserObj))
    }
    async fn profile(&self) -> Json<Value> {
        Json(self.0.profile.clone())
    }
}

#[derive(InputObject)]
pub struct PostingLimitInput {
    /// A channel key, or `*` for every channel without its own limit.
    pub channel: String,
    pub max_per_day: Option<i32>,
    /// A duration such as `3h`.
    pub min_gap: Option<String>,
}

impl PostingLimitInput {
    fn to_json(&self) -> Value {
        json!({"channel": self.channel, "maxPerDay": self.max_per_day, "minGap": self.min_gap})
    }
}

#[derive(InputObject)]
pub struct CreateWorkspaceInput {
    pub key: String,
    pub name: String,
    /// An IANA timezone. Default: UTC.
    pub timezone: Option<String>,
    /// A deployed business calendar's key.
    pub calendar: Option<String>,
    /// The client's profile, checked against the `kind: profile` document.
    pub profile: Option<Json<Value>>,
}

impl CreateWorkspaceInput {
    pub fn into_new(self) -> NewWorkspace {
        NewWorkspace {
            key: self.key,
            name: self.name,
            timezone: self.timezone,
            calendar: self.calendar,
            profile: self.profile.map(|j| j.0),
        }
    }
}

#[derive(InputObject)]
pub struct UpdateWorkspaceInput {
    /// The workspace's key.
    pub workspace: String,
    pub name: Option<String>,
    pub timezone: Option<String>,
    /// A deployed calendar's key; an empty string removes it.
    pub calendar: Option<String>,
    /// Replaces the whole profile (a new version).
    pub profile: Option<Json<Value>>,
    /// Replaces every posting limit.
    pub posting_limits: Option<Vec<PostingLimitInput>>,
}

impl UpdateWorkspaceInput {
    pub fn change(self) -> (String, WorkspaceChange) {
        let change = WorkspaceChange {
            name: self.name,
            timezone: self.timezone,
            calendar: self.calendar,
            profile: self.profile.map(|j| j.0),
            posting_limits: self.posting_limits.map(|l| l.iter().map(PostingLimitInput::to_json).collect()),
        };
        (self.workspace, change)
    }
}

#[derive(SimpleObject)]
pub struct WorkspacePayload {
    pub workspace: Option<WorkspaceObj>,
    pub user_errors: Vec<UserError>,
}
