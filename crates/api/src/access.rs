//! Who may do what, in one place. A resolver asks [`Access`] for a handle
//! scoped to a permission (a member of a workspace, its lead, an admin, a
//! deployer); the operations live on the handles, so an operation cannot be
//! reached without passing its check.
//!
//! - Admin: everything.
//! - Lead (role `lead` in a workspace): start, cancel, suspend and resume
//!   instances, reassign tasks, retry steps, manage members there.
//! - Member: see the workspace's instances and tasks; claim, complete and
//!   decide tasks of their roles (the engine checks roles and four-eyes).
//! - Workflows belong to the organization: deploying needs the
//!   organization-level `canDeployWorkflows` (admins have it); a file's
//!   YAML schedules also need lead rights in their workspaces (the runtime
//!   checks that against the lead set given here).
//! - Nobody sees another workspace's data without a membership there.

use serde_json::Value;
use smmflow_engine::{Command, Instance};
pub use smmflow_runtime::admin::{hash_token, new_token};
use smmflow_runtime::{Runtime, StartRequest};
use smmflow_store::{Member, Token, User, UserChange};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The signed-in user with their memberships.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: User,
    pub memberships: Vec<Member>,
    /// The hash of the token the viewer signed in with (to notice its revocation).
    pub token_hash: String,
}

impl Viewer {
    /// The user a token hash signs in, with their memberships as they are now
    /// (None: no such token, or it was revoked).
    pub async fn resolve(rt: &Runtime, token_hash: String) -> ApiResult<Option<Viewer>> {
        let Some(user) = rt.store().user_by_token(&token_hash).await? else { return Ok(None) };
        let memberships = rt.store().memberships(&user.login).await?;
        Ok(Some(Viewer { user, memberships, token_hash }))
    }

    pub fn is_admin(&self) -> bool {
        self.user.is_admin
    }

    pub fn roles_in(&self, workspace: &str) -> impl Iterator<Item = &str> {
        self.memberships.iter().filter(move |m| m.workspace == workspace).map(|m| m.role.as_str())
    }

    pub fn is_member(&self, workspace: &str) -> bool {
        self.is_admin() || self.roles_in(workspace).next().is_some()
    }

    pub fn is_lead(&self, workspace: &str) -> bool {
        self.is_admin() || self.roles_in(workspace).any(|r| r == "lead")
    }

    /// Workspaces where the viewer is a lead.
    pub fn leads(&self) -> Vec<String> {
        self.memberships.iter().filter(|m| m.role == "lead").map(|m| m.workspace.clone()).collect()
    }

    /// Workspaces whose data the viewer sees (`None`: all, for admins).
    pub fn visible(&self) -> Option<Vec<String>> {
        if self.is_admin() {
            return None;
        }
        let mut ws: Vec<String> = self.memberships.iter().map(|m| m.workspace.clone()).collect();
        ws.sort();
        ws.dedup();
        Some(ws)
    }
}

/// What the request may do: attached to every GraphQL request.
#[derive(Clone, Debug, Default)]
pub struct Access {
    viewer: Option<Viewer>,
}

impl Access {
    /// Resolves `Authorization: Bearer <token>` (or the bare token).
    pub async fn from_token(rt: &Runtime, header: Option<&str>) -> ApiResult<Access> {
        let Some(raw) = header else { return Ok(Access::default()) };
        let token = raw
            .trim()
            .strip_prefix("Bearer ")
            .or_else(|| raw.trim().strip_prefix("bearer "))
            .unwrap_or(raw.trim())
            .trim();
        if token.is_empty() {
            return Ok(Access::default());
        }
        Ok(Access { viewer: Viewer::resolve(rt, hash_token(token)).await? })
    }

    pub fn viewer(&self) -> ApiResult<&Viewer> {
        self.viewer.as_ref().ok_or(ApiError::Unauthenticated)
    }

    /// Any signed-in user.
    pub fn signed_in(&self) -> ApiResult<Signed<'_>> {
        Ok(Signed { viewer: self.viewer()? })
    }

    pub fn member(&self, workspace: &str) -> ApiResult<MemberOf<'_>> {
        let viewer = self.viewer()?;
        if !viewer.is_member(workspace) {
            return Err(ApiError::Forbidden(format!("you are not a member of workspace `{workspace}`")));
        }
        Ok(MemberOf { viewer, workspace: workspace.to_string() })
    }

    pub fn lead(&self, workspace: &str) -> ApiResult<LeadOf<'_>> {
        let viewer = self.viewer()?;
        if !viewer.is_lead(workspace) {
            return Err(ApiError::Forbidden(format!(
                "only a lead of workspace `{workspace}` (or an admin) may do this"
            )));
        }
        Ok(LeadOf { viewer, workspace: workspace.to_string() })
    }

    pub fn admin(&self) -> ApiResult<Admin<'_>> {
        let viewer = self.viewer()?;
        if !viewer.is_admin() {
            return Err(ApiError::Forbidden("only an admin may do this".into()));
        }
        Ok(Admin { viewer })
    }

    /// Admins and users granted `canDeployWorkflows` deploy workflows.
    pub fn deployer(&self) -> ApiResult<Deployer<'_>> {
        let viewer = self.viewer()?;
        if !(viewer.is_admin() || viewer.user.can_deploy_workflows) {
            return Err(ApiError::Forbidden(
                "deploying workflows needs the organization's permission (canDeployWorkflows); an admin grants it"
                    .into(),
            ));
        }
        Ok(Deployer { viewer })
    }

    /// Reads an instance the viewer may see; others' instances are not found.
    pub async fn readable_instance(&self, rt: &Runtime, id: Uuid) -> ApiResult<Instance> {
        let viewer = self.viewer()?;
        match rt.store().instance(id).await? {
            Some(i) if viewer.is_member(&i.workspace) => Ok(i),
            _ => Err(ApiError::NotFound(format!("instance {id} not found"))),
        }
    }

    /// The workspace of an instance, to scope a command on it.
    async fn workspace_of(&self, rt: &Runtime, id: Uuid) -> ApiResult<String> {
        let viewer = self.viewer()?;
        match rt.store().instance(id).await? {
            Some(i) if viewer.is_member(&i.workspace) => Ok(i.workspace),
            Some(i) => Err(ApiError::Forbidden(format!("you are not a member of workspace `{}`", i.workspace))),
            None => Err(ApiError::NotFound(format!("instance {id} not found"))),
        }
    }

    /// A member handle for the workspace of an instance.
    pub async fn member_of_instance(&self, rt: &Runtime, id: Uuid) -> ApiResult<MemberOf<'_>> {
        let ws = self.workspace_of(rt, id).await?;
        self.member(&ws)
    }

    /// A lead handle for the workspace of an instance.
    pub async fn lead_of_instance(&self, rt: &Runtime, id: Uuid) -> ApiResult<LeadOf<'_>> {
        let ws = self.workspace_of(rt, id).await?;
        self.lead(&ws)
    }
}

pub struct Signed<'a> {
    pub viewer: &'a Viewer,
}

pub struct MemberOf<'a> {
    pub viewer: &'a Viewer,
    pub workspace: String,
}

pub struct LeadOf<'a> {
    pub viewer: &'a Viewer,
    pub workspace: String,
}

pub struct Admin<'a> {
    pub viewer: &'a Viewer,
}

pub struct Deployer<'a> {
    pub viewer: &'a Viewer,
}

impl MemberOf<'_> {
    /// A task command by the member; roles and four-eyes are the engine's to check.
    pub async fn task_command(
        &self,
        rt: &Runtime,
        instance: Uuid,
        command: Command,
    ) -> Result<Instance, smmflow_runtime::Error> {
        rt.command(instance, &self.viewer.user.login, command).await
    }
}

impl LeadOf<'_> {
    pub async fn start(
        &self,
        rt: &Runtime,
        workflow: String,
        inputs: Value,
        idempotency_key: Option<String>,
    ) -> Result<Instance, smmflow_runtime::Error> {
        let req = StartRequest {
            workflow,
            workspace: self.workspace.clone(),
            inputs,
            actor: self.viewer.user.login.clone(),
            idempotency_key,
        };
        rt.start(req).await
    }

    pub async fn command(
        &self,
        rt: &Runtime,
        instance: Uuid,
        command: Command,
    ) -> Result<Instance, smmflow_runtime::Error> {
        rt.command(instance, &self.viewer.user.login, command).await
    }

    pub async fn add_member(&self, rt: &Runtime, user: &str, role: &str) -> Result<Member, smmflow_runtime::Error> {
        rt.add_member(&self.workspace, user, role).await
    }

    pub async fn remove_member(&self, rt: &Runtime, user: &str, role: &str) -> Result<bool, smmflow_runtime::Error> {
        rt.remove_member(&self.workspace, user, role).await
    }
}

impl Admin<'_> {
    pub async fn create_workspace(&self, rt: &Runtime, key: &str, name: &str) -> Result<(), smmflow_runtime::Error> {
        rt.create_workspace(key, name).await
    }

    pub async fn create_user(
        &self,
        rt: &Runtime,
        user: smmflow_runtime::admin::NewUser,
    ) -> Result<User, smmflow_runtime::Error> {
        rt.create_user(user).await
    }

    pub async fn update_user(
        &self,
        rt: &Runtime,
        login: &str,
        change: UserChange,
    ) -> Result<User, smmflow_runtime::Error> {
        rt.update_user(login, change).await
    }
}

impl Signed<'_> {
    /// A token for `user`: admins for anyone, others for themselves.
    pub async fn create_token(&self, rt: &Runtime, user: &str, name: &str) -> Result<String, smmflow_runtime::Error> {
        if user != self.viewer.user.login && !self.viewer.is_admin() {
            return Err(smmflow_runtime::Error::Forbidden("you may create tokens only for yourself".into()));
        }
        Ok(rt.create_token(user, name).await?.0)
    }

    /// The viewer's own tokens.
    pub async fn tokens(&self, rt: &Runtime) -> Result<Vec<Token>, smmflow_runtime::Error> {
        rt.tokens(&self.viewer.user.login).await
    }

    /// Revokes a token of the viewer's (admins: anyone's). Someone else's
    /// token is not found, as if it did not exist.
    pub async fn revoke_token(&self, rt: &Runtime, id: &str) -> Result<Token, smmflow_runtime::Error> {
        let not_found = || smmflow_runtime::Error::NotFound(format!("token {id}"));
        let token = rt.token(id).await?.ok_or_else(not_found)?;
        if token.user != self.viewer.user.login && !self.viewer.is_admin() {
            return Err(not_found());
        }
        if !rt.revoke_token(id).await? {
            return Err(not_found());
        }
        Ok(token)
    }
}

impl Deployer<'_> {
    pub async fn deploy(
        &self,
        rt: &Runtime,
        source: &str,
    ) -> Result<(smmflow_runtime::Deployed, Vec<smmflow_spec::Diagnostic>), smmflow_runtime::Error> {
        let leads = self.viewer.leads();
        let by = smmflow_runtime::Deployer::Person {
            login: &self.viewer.user.login,
            admin: self.viewer.is_admin(),
            leads: &leads,
        };
        rt.deploy(source, by).await
    }
}
