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
//! - Workflows belong to the organization: an admin or any lead deploys.
//! - Nobody sees another workspace's data without a membership there.

use serde_json::Value;
use sha2::{Digest, Sha256};
use smmflow_engine::{Command, Instance};
use smmflow_runtime::{Runtime, StartRequest};
use smmflow_store::{Member, User};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The signed-in user with their memberships.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: User,
    pub memberships: Vec<Member>,
}

impl Viewer {
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

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new secret API token (shown once, stored as a hash).
pub fn new_token() -> String {
    format!("smf_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
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
        let Some(user) = rt.store().user_by_token(&hash_token(token)).await? else { return Ok(Access::default()) };
        let memberships = rt.store().memberships(&user.login).await?;
        Ok(Access { viewer: Some(Viewer { user, memberships }) })
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

    /// Admins and the lead of any workspace deploy workflows.
    pub fn deployer(&self) -> ApiResult<Deployer<'_>> {
        let viewer = self.viewer()?;
        if !(viewer.is_admin() || viewer.memberships.iter().any(|m| m.role == "lead")) {
            return Err(ApiError::Forbidden("only an admin or a lead may deploy workflows".into()));
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

    pub async fn add_member(&self, rt: &Runtime, user: &str, role: &str) -> ApiResult<()> {
        rt.store().add_member(&self.workspace, user, role, rt.now()).await?;
        Ok(())
    }

    pub async fn remove_member(&self, rt: &Runtime, user: &str, role: &str) -> ApiResult<bool> {
        Ok(rt.store().remove_member(&self.workspace, user, role).await?)
    }
}

impl Admin<'_> {
    pub async fn create_workspace(&self, rt: &Runtime, key: &str, name: &str) -> ApiResult<()> {
        rt.store().create_workspace(key, name, rt.now()).await?;
        Ok(())
    }

    pub async fn create_user(&self, rt: &Runtime, user: &User) -> ApiResult<()> {
        rt.store().create_user(user, rt.now()).await?;
        Ok(())
    }
}

impl Signed<'_> {
    /// A token for `user`: admins for anyone, others for themselves.
    pub async fn create_token(&self, rt: &Runtime, user: &str, name: &str) -> ApiResult<String> {
        if user != self.viewer.user.login && !self.viewer.is_admin() {
            return Err(ApiError::Forbidden("you may create tokens only for yourself".into()));
        }
        if rt.store().user(user).await?.is_none() {
            return Err(ApiError::NotFound(format!("user `{user}` not found")));
        }
        let token = new_token();
        rt.store().add_token(&hash_token(&token), user, name, rt.now()).await?;
        Ok(token)
    }
}

impl Deployer<'_> {
    pub async fn deploy(
        &self,
        rt: &Runtime,
        source: &str,
    ) -> Result<(smmflow_runtime::Deployed, Vec<smmflow_spec::Diagnostic>), smmflow_runtime::Error> {
        rt.deploy(source, &self.viewer.user.login).await
    }
}
