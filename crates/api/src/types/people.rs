//! Users, workspaces and memberships.

use async_graphql::{Context, ID, Object};

use crate::error::ApiResult as Result;
use smmflow_runtime::{Member, Token, User};

use crate::access_of;
use crate::error::ApiError;
use crate::ids::NodeId;
use crate::types::enums::NotificationMode;

#[derive(Clone)]
pub struct UserObj(pub User);

#[Object(name = "User")]
impl UserObj {
    pub async fn id(&self) -> ID {
        ID(NodeId::User(self.0.login.clone()).encode())
    }
    async fn login(&self) -> &str {
        &self.0.login
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn is_admin(&self) -> bool {
        self.0.is_admin
    }
    async fn notification_mode(&self) -> NotificationMode {
        NotificationMode::parse(&self.0.notification_mode)
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
}

#[Object(name = "Workspace")]
impl WorkspaceObj {
    pub async fn id(&self) -> ID {
        ID(NodeId::Workspace(self.key.clone()).encode())
    }
    async fn key(&self) -> &str {
        &self.key
    }
    async fn name(&self) -> &str {
        &self.name
    }
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn memberships(&self, ctx: &Context<'_>) -> Result<Vec<MembershipObj>> {
        let session = access_of(ctx)?;
        let all = session.member(&self.key).map_err(ApiError::from)?.members().await.map_err(ApiError::from)?;
        Ok(all.into_iter().map(MembershipObj).collect())
    }
}

/// An API token as its owner sees it: the secret was shown once, at creation.
#[derive(Clone)]
pub struct ApiTokenObj(pub Token);

#[Object(name = "ApiToken")]
impl ApiTokenObj {
    /// Names the token in `revokeApiToken`.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.created_at
    }
}

#[derive(Clone)]
pub struct MembershipObj(pub Member);

#[Object(name = "Membership")]
impl MembershipObj {
    async fn role(&self) -> &str {
        &self.0.role
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        Ok(crate::user_of(ctx, &self.0.user).await?.map(UserObj))
    }
    async fn workspace(&self, ctx: &Context<'_>) -> Result<WorkspaceObj> {
        let name = crate::workspace_name_of(ctx, &self.0.workspace).await?;
        Ok(WorkspaceObj { key: self.0.workspace.clone(), name })
    }
}

/// Who caused an event: a user's login, `system`, or an external approver's address.
pub struct Actor(pub String);

#[Object]
impl Actor {
    async fn login(&self) -> &str {
        &self.0
    }
}
