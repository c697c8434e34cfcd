//! Who may do what, in one place: every way in (the API, the CLI) starts
//! with a [`Session`], and every operation is a method of a permission
//! handle the session hands out only after its check. A handle cannot be
//! made any other way (private fields), so an operation whose check was
//! forgotten does not compile (the style of lldap's access-control crate).
//!
//! - Admin: everything.
//! - Lead (role `lead` in a workspace): start, cancel, suspend and resume
//!   instances, reassign tasks, retry steps, manage members and schedules
//!   there.
//! - Member: see the workspace's instances and tasks; claim, complete and
//!   decide tasks of their roles (the engine checks roles and four-eyes).
//! - Workflows belong to the organization: deploying needs the
//!   organization-level `can_deploy_workflows` (admins have it); a file's
//!   YAML schedules also need lead rights in their workspaces.
//! - Nobody sees another workspace's data without a membership there: an
//!   instance of another workspace is not found.
//!
//! Reads are in `reads.rs`, on the same handles.

use std::sync::Arc;

use serde_json::Value;
use smmflow_engine::{Command, Instance};
use smmflow_store::{Member, ScheduleRow, Token, User, UserChange};
use uuid::Uuid;

use crate::admin::{NewUser, hash_token};
use crate::{Error, Result, Runtime, StartRequest};

/// The signed-in user with their memberships.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: User,
    pub memberships: Vec<Member>,
    /// The hash of the token the viewer signed in with (to notice its
    /// revocation); None for the operator at the command line.
    pub token_hash: Option<String>,
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

    pub fn login(&self) -> &str {
        &self.user.login
    }
}

/// A way in: signed in (or not) as someone.
#[derive(Clone)]
pub struct Session {
    rt: Arc<Runtime>,
    viewer: Option<Viewer>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("viewer", &self.viewer.as_ref().map(|v| &v.user.login)).finish()
    }
}

impl Runtime {
    /// A session for `Authorization: Bearer <token>` (or the bare token);
    /// without a valid token, a session that can do nothing.
    pub async fn sign_in(self: &Arc<Self>, header: Option<&str>) -> Result<Session> {
        let token = header
            .map(str::trim)
            .map(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")).unwrap_or(h).trim().to_string());
        let viewer = match token.filter(|t| !t.is_empty()) {
            Some(t) => self.remembered_viewer_of(hash_token(&t)).await?,
            None => None,
        };
        Ok(Session { rt: self.clone(), viewer })
    }

    /// The workspace of an instance, remembered (it never changes).
    pub(crate) async fn instance_workspace(&self, id: Uuid) -> Result<Option<String>> {
        if let Some(ws) = self.homes.get(id) {
            return Ok(Some(ws));
        }
        let ws = self.store.instance_workspace(id).await?;
        if let Some(w) = &ws {
            self.homes.put(id, w);
        }
        Ok(ws)
    }

    /// `viewer_of`, remembered for a moment (`remembered.rs`): the directory
    /// version is taken before the read, so a change during it is not missed.
    async fn remembered_viewer_of(&self, token_hash: String) -> Result<Option<Viewer>> {
        let version = *self.directory.borrow();
        if let Some(v) = self.sign_ins.get(&token_hash, version) {
            return Ok(Some(v));
        }
        let viewer = self.viewer_of(token_hash.clone()).await?;
        if let Some(v) = &viewer {
            self.sign_ins.put(token_hash, version, v.clone());
        }
        Ok(viewer)
    }

    /// The session of whoever runs the binary on the server (the CLI): it
    /// holds the database, so it is an admin.
    pub fn operator(self: &Arc<Self>) -> Session {
        let user = User {
            login: "operator".into(),
            email: "operator@localhost".into(),
            name: Some("The operator (command line)".into()),
            is_admin: true,
            notification_mode: "immediate".into(),
            can_deploy_workflows: true,
        };
        Session { rt: self.clone(), viewer: Some(Viewer { user, memberships: Vec::new(), token_hash: None }) }
    }

    /// The user a token hash signs in, with their memberships as they are now.
    async fn viewer_of(&self, token_hash: String) -> Result<Option<Viewer>> {
        let Some(user) = self.store.user_by_token(&token_hash, self.now()).await? else { return Ok(None) };
        let memberships = self.store.memberships(&user.login).await?;
        Ok(Some(Viewer { user, memberships, token_hash: Some(token_hash) }))
    }
}

fn not_member(workspace: &str) -> Error {
    Error::Forbidden(format!("you are not a member of workspace `{workspace}`"))
}

impl Session {
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }

    pub fn viewer(&self) -> Result<&Viewer> {
        self.viewer.as_ref().ok_or(Error::Unauthenticated)
    }

    /// The same session as it is now: memberships read again, and
    /// `Unauthenticated` when its token was revoked (subscriptions, which
    /// outlive the request that made them).
    pub async fn refreshed(&self) -> Result<Session> {
        let viewer = self.viewer()?;
        let Some(hash) = &viewer.token_hash else { return Ok(self.clone()) };
        match self.rt.viewer_of(hash.clone()).await? {
            Some(v) => Ok(Session { rt: self.rt.clone(), viewer: Some(v) }),
            None => Err(Error::Unauthenticated),
        }
    }

    /// Any signed-in user.
    pub fn signed_in(&self) -> Result<Signed<'_>> {
        Ok(Signed { s: self, viewer: self.viewer()? })
    }

    pub fn member(&self, workspace: &str) -> Result<MemberOf<'_>> {
        let viewer = self.viewer()?;
        if !viewer.is_member(workspace) {
            return Err(not_member(workspace));
        }
        Ok(MemberOf { s: self, viewer, workspace: workspace.to_string() })
    }

    pub fn lead(&self, workspace: &str) -> Result<LeadOf<'_>> {
        let viewer = self.viewer()?;
        if !viewer.is_lead(workspace) {
            return Err(Error::Forbidden(format!("only a lead of workspace `{workspace}` (or an admin) may do this")));
        }
        Ok(LeadOf { s: self, viewer, workspace: workspace.to_string() })
    }

    pub fn admin(&self) -> Result<Admin<'_>> {
        let viewer = self.viewer()?;
        if !viewer.is_admin() {
            return Err(Error::Forbidden("only an admin may do this".into()));
        }
        Ok(Admin { s: self, viewer })
    }

    /// Admins and users granted `can_deploy_workflows`.
    pub fn deployer(&self) -> Result<CanDeploy<'_>> {
        let viewer = self.viewer()?;
        if !(viewer.is_admin() || viewer.user.can_deploy_workflows) {
            return Err(Error::Forbidden(
                "deploying workflows needs the organization's permission (canDeployWorkflows); an admin grants it"
                    .into(),
            ));
        }
        Ok(CanDeploy { s: self, viewer })
    }

    /// The workspace of an instance the viewer may see: another
    /// workspace's instance is `Forbidden`, a missing one `NotFound`.
    async fn workspace_of(&self, id: Uuid) -> Result<String> {
        let viewer = self.viewer()?;
        match self.rt.instance_workspace(id).await? {
            Some(ws) if viewer.is_member(&ws) => Ok(ws),
            Some(ws) => Err(not_member(&ws)),
            None => Err(Error::NotFound(format!("instance {id}"))),
        }
    }

    /// A member handle for the workspace of an instance.
    pub async fn member_of_instance(&self, id: Uuid) -> Result<MemberOf<'_>> {
        let ws = self.workspace_of(id).await?;
        self.member(&ws)
    }

    /// A lead handle for the workspace of an instance.
    pub async fn lead_of_instance(&self, id: Uuid) -> Result<LeadOf<'_>> {
        let ws = self.workspace_of(id).await?;
        self.lead(&ws)
    }

    /// A schedule and a lead handle for its workspace.
    pub async fn lead_of_schedule(&self, id: &str) -> Result<(LeadOf<'_>, ScheduleRow)> {
        let row = self.rt.store.schedule(id).await?.ok_or_else(|| Error::NotFound(format!("schedule {id}")))?;
        let lead = self.lead(&row.workspace)?;
        Ok((lead, row))
    }
}

pub struct Signed<'a> {
    pub(crate) s: &'a Session,
    pub viewer: &'a Viewer,
}

pub struct MemberOf<'a> {
    pub(crate) s: &'a Session,
    pub viewer: &'a Viewer,
    pub workspace: String,
}

pub struct LeadOf<'a> {
    pub(crate) s: &'a Session,
    pub viewer: &'a Viewer,
    pub workspace: String,
}

pub struct Admin<'a> {
    pub(crate) s: &'a Session,
    pub viewer: &'a Viewer,
}

pub struct CanDeploy<'a> {
    pub(crate) s: &'a Session,
    pub viewer: &'a Viewer,
}

impl MemberOf<'_> {
    /// A task command by the member; roles and four-eyes are the engine's to check.
    pub async fn task_command(&self, instance: Uuid, command: Command) -> Result<Instance> {
        self.s.rt.command(instance, self.viewer.login(), command).await
    }
}

impl LeadOf<'_> {
    pub async fn start(&self, workflow: String, inputs: Value, idempotency_key: Option<String>) -> Result<Instance> {
        let req = StartRequest {
            workflow,
            workspace: self.workspace.clone(),
            inputs,
            actor: self.viewer.login().to_string(),
            idempotency_key,
        };
        self.s.rt.start(req).await
    }

    /// A lead's command on an instance of the workspace.
    pub async fn command(&self, instance: Uuid, command: Command) -> Result<Instance> {
        self.s.rt.command(instance, self.viewer.login(), command).await
    }

    pub async fn add_member(&self, user: &str, role: &str) -> Result<Member> {
        self.s.rt.add_member(&self.workspace, user, role).await
    }

    pub async fn remove_member(&self, user: &str, role: &str) -> Result<bool> {
        self.s.rt.remove_member(&self.workspace, user, role).await
    }

    /// Creates or changes a schedule of this workspace (its settings as the YAML keys).
    pub async fn put_schedule(
        &self,
        id: Option<&str>,
        workflow: &str,
        spec: Value,
        paused: bool,
    ) -> Result<ScheduleRow> {
        if spec.get("workspace").and_then(Value::as_str).is_some_and(|w| w != self.workspace) {
            return Err(Error::Forbidden("a schedule stays in its workspace".into()));
        }
        self.s.rt.put_schedule(id, workflow, spec, paused).await
    }

    pub async fn set_schedule_paused(&self, id: &str, paused: bool) -> Result<ScheduleRow> {
        self.s.rt.set_schedule_paused(id, paused).await
    }

    pub async fn delete_schedule(&self, id: &str) -> Result<bool> {
        self.s.rt.delete_schedule(id).await
    }

    /// Changes the workspace's settings, profile or posting limits.
    pub async fn update_workspace(&self, change: crate::clients::WorkspaceChange) -> Result<crate::clients::Workspace> {
        self.s.rt.update_client(&self.workspace, change, self.viewer.login()).await
    }
}

impl Admin<'_> {
    pub async fn create_workspace(&self, key: &str, name: &str) -> Result<()> {
        self.s.rt.create_workspace(key, name).await
    }

    /// Creates a workspace with its settings and profile.
    pub async fn create_client(&self, new: crate::clients::NewWorkspace) -> Result<crate::clients::Workspace> {
        self.s.rt.create_client(new, self.viewer.login()).await
    }

    pub async fn create_user(&self, user: NewUser) -> Result<User> {
        self.s.rt.create_user(user).await
    }

    pub async fn update_user(&self, login: &str, change: UserChange) -> Result<User> {
        self.s.rt.update_user(login, change).await
    }

    /// Adds a membership in any workspace (the CLI's `member add`).
    pub async fn add_member(&self, workspace: &str, user: &str, role: &str) -> Result<Member> {
        self.s.rt.add_member(workspace, user, role).await
    }

    /// Moves a manual clock forward, firing what comes due on the way.
    pub async fn advance_clock(&self, clock: &crate::ManualClock, to: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        self.s.rt.advance_clock(clock, to).await
    }

    /// Queues a failed or dead notification again, now.
    pub async fn retry_notification(&self, id: &str) -> Result<smmflow_store::OutboxRow> {
        let row = self.s.rt.store.retry_notification(id, self.s.rt.now()).await?;
        self.s.rt.wake_mail();
        Ok(row)
    }
}

impl Signed<'_> {
    /// A token for `user`: admins for anyone, others for themselves. Returns the secret (shown once).
    pub async fn create_token(&self, user: &str, name: &str) -> Result<String> {
        if user != self.viewer.login() && !self.viewer.is_admin() {
            return Err(Error::Forbidden("you may create tokens only for yourself".into()));
        }
        Ok(self.s.rt.create_token(user, name).await?.0)
    }

    /// The viewer's own tokens.
    pub async fn tokens(&self) -> Result<Vec<Token>> {
        self.s.rt.tokens(self.viewer.login()).await
    }

    /// A user's tokens: the viewer's own, or anyone's for admins.
    pub async fn tokens_of(&self, login: &str) -> Result<Vec<Token>> {
        if login != self.viewer.login() && !self.viewer.is_admin() {
            return Err(Error::Forbidden("only your own tokens are listed".into()));
        }
        self.s.rt.tokens(login).await
    }

    /// Revokes a token of the viewer's (admins: anyone's). Someone else's
    /// token is not found, as if it did not exist.
    pub async fn revoke_token(&self, id: &str) -> Result<Token> {
        let not_found = || Error::NotFound(format!("token {id}"));
        let token = self.s.rt.token(id).await?.ok_or_else(not_found)?;
        if token.user != self.viewer.login() && !self.viewer.is_admin() {
            return Err(not_found());
        }
        if !self.s.rt.revoke_token(id).await? {
            return Err(not_found());
        }
        Ok(token)
    }

    /// How the viewer gets e-mail: each message at once, or hourly or daily digests.
    pub async fn set_notification_mode(&self, mode: smmflow_notify::Mode) -> Result<User> {
        let login = self.viewer.login();
        self.s.rt.store.set_notification_mode(login, mode.as_str()).await?;
        self.s.rt.wake_mail();
        self.s.rt.store.user(login).await?.ok_or_else(|| Error::NotFound(format!("user `{login}`")))
    }
}

impl CanDeploy<'_> {
    pub async fn deploy(&self, source: &str) -> Result<(crate::Deployed, Vec<smmflow_spec::Diagnostic>)> {
        let leads = self.viewer.leads();
        let by = crate::Deployer::Person { login: self.viewer.login(), admin: self.viewer.is_admin(), leads: &leads };
        self.s.rt.deploy(source, by).await
    }
}
