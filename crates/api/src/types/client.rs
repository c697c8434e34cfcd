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

/// How much may go out on a channel: days counted in the workspace's timezone.
#[Object(name = "PostingLimit")]
impl PostingLimitObj {
    /// The channel key, or `*` for every channel without a limit of its own.
    async fn channel(&self) -> &str {
        &self.0.channel
    }
    /// The most publications a day (null: no daily limit).
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

/// One version of a workspace's profile, kept when it was written.
#[Object(name = "ProfileVersion")]
impl ProfileVersionObj {
    /// The version number (1 for the first write).
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When it was written (RFC 3339, UTC).
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
    /// Who wrote it: the person who changed the settings, or whose command
    /// ran the `update_profile` step (null for the system and the operator).
    async fn changed_by(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        Ok(crate::user_of(ctx, &self.0.changed_by).await?.map(UserObj::new))
    }
    /// The whole profile at this version (JSON).
    async fn profile(&self) -> Json<Value> {
        Json(self.0.profile.clone())
    }
}

/// A posting limit to set on a workspace.
#[derive(InputObject)]
pub struct PostingLimitInput {
    /// A channel key, or `*` for every channel without its own limit.
    pub channel: String,
    /// The most publications a day (omit: no daily limit).
    pub max_per_day: Option<i32>,
    /// A duration such as `3h`.
    pub min_gap: Option<String>,
}

impl PostingLimitInput {
    fn to_json(&self) -> Value {
        json!({"channel": self.channel, "maxPerDay": self.max_per_day, "minGap": self.min_gap})
    }
}

/// A new workspace: a client of the agency.
#[derive(InputObject)]
pub struct CreateWorkspaceInput {
    /// Its key: short and stable, it names the workspace in filters and inputs.
    pub key: String,
    /// Its display name.
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

/// Changes to a workspace's settings; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateWorkspaceInput {
    /// The workspace's key.
    pub workspace: String,
    /// A new display name.
    pub name: Option<String>,
    /// A new IANA timezone.
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

/// The result of `createWorkspace` or `updateWorkspace`.
#[derive(SimpleObject)]
pub struct WorkspacePayload {
    /// The workspace as it is now (null when there are user errors).
    pub workspace: Option<WorkspaceObj>,
    /// Problems the user can fix, by input field; empty on success.
    pub user_errors: Vec<UserError>,
}
