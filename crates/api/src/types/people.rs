//! Users, workspaces and memberships.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object};
use serde_json::Value;

use crate::error::ApiResult as Result;
use crate::types::client::{PostingLimitObj, ProfileVersionObj};
use smmflow_runtime::clients::Workspace;
use smmflow_runtime::{Member, Token, User};

use crate::access_of;
use crate::error::ApiError;
use crate::ids::NodeId;
use crate::types::enums::NotificationMode;

#[derive(Clone)]
pub struct UserObj(pub User, Arc<tokio::sync::OnceCell<bool>>);

impl UserObj {
    pub fn new(user: User) -> UserObj {
        UserObj(user, Arc::default())
    }

    /// `contact_visible`, worked out once per user object (`email` and
    /// `notificationMode` both ask; a lead listing members paid twice).
    async fn contact_shown(&self, ctx: &Context<'_>) -> Result<bool> {
        self.1.get_or_try_init(|| self.contact_visible(ctx)).await.copied()
    }

    /// Whether the caller may see this user's contact details (e-mail,
    /// notification mode): the user themself, admins, and leads of a
    /// workspace the user is a member of. Other members (a client's people
    /// among them) see logins and names only.
    async fn contact_visible(&self, ctx: &Context<'_>) -> Result<bool> {
        let session = access_of(ctx)?;
        let viewer = session.viewer().map_err(ApiError::from)?;
        if viewer.is_admin() || viewer.login() == self.0.login {
            return Ok(true);
        }
        let leads = viewer.leads();
        if leads.is_empty() {
            return Ok(false);
        }
        let theirs = session.memberships_of(&self.0.login).await.map_err(ApiError::from)?;
        Ok(theirs.iter().any(|m| leads.contains(&m.workspace)))
    }
}

/// A person with a login: someone on the agency's team (or an admin).
#[Object(name = "User")]
impl UserObj {
    /// The user's global id.
    pub async fn id(&self) -> ID {
        ID(NodeId::User(self.0.login.clone()).encode())
    }
    /// The user's login, which names them in filters, inputs and `assignee`.
    async fn login(&self) -> &str {
        &self.0.login
    }
    /// The user's e-mail address, where notifications go; null unless you are the user, an admin, or a lead of one of their workspaces.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(self.contact_shown(ctx).await?.then_some(self.0.email.as_str()))
    }
    /// The user's display name (null when not set).
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// True for an admin, who may do everything in every workspace.
    async fn is_admin(&self) -> bool {
        self.0.is_admin
    }
    /// How they get e-mail: `IMMEDIATE`, or `HOURLY` or `DAILY` digests; null to whom the e-mail is hidden from.
    async fn notification_mode(&self, ctx: &Context<'_>) -> Result<Option<NotificationMode>> {
        Ok(self.contact_shown(ctx).await?.then(|| NotificationMode::parse(&self.0.notification_mode)))
    }
    /// May deploy workflows (granted by an admin with `updateUser`; admins always may).
    async fn can_deploy_workflows(&self) -> bool {
        self.0.is_admin || self.0.can_deploy_workflows
    }
    /// The user's API tokens (never the secrets): yours, or anyone's for admins.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn api_tokens(&self, ctx: &Context<'_>) -> Result<Vec<ApiTokenObj>> {
        let session = access_of(ctx)?;
        let signed = session.signed_in().map_err(ApiError::from)?;
        let tokens = signed.tokens_of(&self.0.login).await.map_err(ApiError::from)?;
        Ok(tokens.into_iter().map(ApiTokenObj).collect())
    }
    /// The user's iCalendar feeds (yours only; URLs are shown at creation).
    async fn calendar_feeds(&self, ctx: &Context<'_>) -> Result<Vec<crate::types::feed::CalendarFeedObj>> {
        let session = access_of(ctx)?;
        let signed = session.signed_in().map_err(ApiError::from)?;
        if signed.viewer.login() != self.0.login {
            return Ok(Vec::new());
        }
        let feeds = signed.feeds().await.map_err(ApiError::from)?;
        Ok(feeds.into_iter().map(|feed| crate::types::feed::CalendarFeedObj { feed, url: None }).collect())
    }
    /// Memberships in the workspaces the caller may see.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn memberships(&self, ctx: &Context<'_>) -> Result<Vec<MembershipObj>> {
        let all = access_of(ctx)?.memberships_of(&self.0.login).await.map_err(ApiError::from)?;
        Ok(all.into_iter().map(MembershipObj).collect())
    }
}

#[derive(Clone)]
pub struct WorkspaceObj {
    pub key: String,
    pub name: String,
    /// The settings, read once per object when a field asks for them.
    settings: std::sync::Arc<tokio::sync::OnceCell<Workspace>>,
}

impl WorkspaceObj {
    pub fn new(key: String, name: String) -> WorkspaceObj {
        WorkspaceObj { key, name, settings: Default::default() }
    }

    /// A workspace whose settings are known already (a mutation's result).
    pub fn with(w: Workspace) -> WorkspaceObj {
        WorkspaceObj { key: w.key.clone(), name: w.name.clone(), settings: std::sync::Arc::new(w.into()) }
    }

    async fn settings(&self, ctx: &Context<'_>) -> Result<&Workspace> {
        self.settings
            .get_or_try_init(|| async { access_of(ctx)?.workspace_settings(&self.key).await.map_err(ApiError::from) })
            .await
    }
}

/// A client of the agency (or an in-house team): its members, settings, profile and posting limits.
#[Object(name = "Workspace")]
impl WorkspaceObj {
    /// The workspace's global id.
    pub async fn id(&self) -> ID {
        ID(NodeId::Workspace(self.key.clone()).encode())
    }
    /// The workspace's key, which names it in filters and inputs.
    async fn key(&self) -> &str {
        &self.key
    }
    /// The client's display name.
    async fn name(&self) -> &str {
        &self.name
    }
    /// Who works here in which role (one entry per user and role).
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn memberships(&self, ctx: &Context<'_>) -> Result<Vec<MembershipObj>> {
        let session = access_of(ctx)?;
        let all = session.member(&self.key).map_err(ApiError::from)?.members().await.map_err(ApiError::from)?;
        Ok(all.into_iter().map(MembershipObj).collect())
    }
    /// The client's IANA timezone (default `UTC`): its days, slots and schedules.
    async fn timezone(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(self.settings(ctx).await?.timezone.clone())
    }
    /// The business calendar its instances count business time in when
    /// their workflow names none.
    async fn calendar(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.settings(ctx).await?.calendar.clone())
    }
    /// The client's profile (the `kind: profile` document's fields, defaults filled in).
    async fn profile(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        Ok(Json(self.settings(ctx).await?.profile.clone()))
    }
    /// The profile's fields as field specs by name (the deployed `kind:
    /// profile` document, in the shape of `Task.form`), for drawing a form
    /// that edits `profile`; `{}` when no profile document is deployed.
    async fn profile_form(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        let schema = access_of(ctx)?.profile_schema(&self.key).await.map_err(ApiError::from)?;
        Ok(Json(crate::types::workflow::fields_json(&schema.fields)))
    }
    /// The profile's version (0 before the first write).
    async fn profile_version(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(self.settings(ctx).await?.profile_version)
    }
    /// The versions of the profile, newest first (the latest 100).
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn profile_history(&self, ctx: &Context<'_>) -> Result<Vec<ProfileVersionObj>> {
        let rows = access_of(ctx)?.profile_history(&self.key, 100).await.map_err(ApiError::from)?;
        Ok(rows.into_iter().map(ProfileVersionObj).collect())
    }
    /// How much may go out per channel (`*`: each channel without its own limit).
    async fn posting_limits(&self, ctx: &Context<'_>) -> Result<Vec<PostingLimitObj>> {
        Ok(self.settings(ctx).await?.posting_limits.iter().cloned().map(PostingLimitObj).collect())
    }
}

/// An API token as its owner sees it: the secret was shown once, at creation.
#[derive(Clone)]
pub struct ApiTokenObj(pub Token);

/// An API token as its owner sees it: the secret was shown once, at creation.
#[Object(name = "ApiToken")]
impl ApiTokenObj {
    /// Names the token in `revokeApiToken`.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The name given at creation, to tell tokens apart.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// When it was created (RFC 3339, UTC).
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.created_at
    }
}

#[derive(Clone)]
pub struct MembershipObj(pub Member);

/// A user's role in a workspace (one user may hold several roles there).
#[Object(name = "Membership")]
impl MembershipObj {
    /// The role's name, such as `copywriter` or `lead`.
    async fn role(&self) -> &str {
        &self.0.role
    }
    /// The member (null when the user no longer exists).
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        Ok(crate::user_of(ctx, &self.0.user).await?.map(UserObj::new))
    }
    /// The workspace (client) the role is held in.
    async fn workspace(&self, ctx: &Context<'_>) -> Result<WorkspaceObj> {
        let name = crate::workspace_name_of(ctx, &self.0.workspace).await?;
        Ok(WorkspaceObj::new(self.0.workspace.clone(), name))
    }
}

/// Who caused an event: a user's login, `system`, or an external approver's address.
pub struct Actor(pub String);

/// Who caused an event or wrote a comment.
#[Object]
impl Actor {
    /// A user's login, `system` (timers, escalations, automatic decisions) or an external approver's address.
    async fn login(&self) -> &str {
        &self.0
    }
}
