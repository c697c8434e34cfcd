//! The system's door: the operations as the runtime itself runs them, with
//! no one's permission checked. The permission handles (`access.rs`) call
//! through it after their checks; in-process tools that act as the system
//! (the runtime's own tests, the bench, the chaos tool) open it directly.
//! The API and the CLI never do: they hold sessions (`tests/tidy.rs`
//! checks that `.system()` appears nowhere in them).

use serde_json::Value;
use smmflow_engine::{Command, Instance};
use smmflow_spec::Diagnostic;
use smmflow_store::{Member, ScheduleRow, Token, User, UserChange};
use uuid::Uuid;

use crate::admin::NewUser;
use crate::{Deployed, Deployer, ManualClock, Result, Runtime, StartRequest};

/// The runtime, acting as the system.
#[derive(Clone, Copy)]
pub struct System<'a>(&'a Runtime);

impl Runtime {
    pub fn system(&self) -> System<'_> {
        System(self)
    }
}

impl System<'_> {
    pub async fn deploy(&self, source: &str, by: Deployer<'_>) -> Result<(Deployed, Vec<Diagnostic>)> {
        self.0.deploy(source, by).await
    }

    pub async fn start(&self, req: StartRequest) -> Result<Instance> {
        self.0.start(req).await
    }

    pub async fn start_many(&self, reqs: Vec<StartRequest>) -> Result<Vec<Result<Uuid>>> {
        self.0.start_many(reqs).await
    }

    pub async fn command(&self, instance: Uuid, actor: &str, command: Command) -> Result<Instance> {
        self.0.command(instance, actor, command).await
    }

    pub async fn create_workspace(&self, key: &str, name: &str) -> Result<()> {
        self.0.create_workspace(key, name).await
    }

    /// Creates a workspace with its settings and profile (as the operator).
    pub async fn create_client(&self, new: crate::clients::NewWorkspace) -> Result<crate::clients::Workspace> {
        self.0.create_client(new, "system").await
    }

    pub async fn create_user(&self, u: NewUser) -> Result<User> {
        self.0.create_user(u).await
    }

    pub async fn update_user(&self, login: &str, change: UserChange) -> Result<User> {
        self.0.update_user(login, change).await
    }

    pub async fn add_member(&self, workspace: &str, user: &str, role: &str) -> Result<Member> {
        self.0.add_member(workspace, user, role).await
    }

    pub async fn remove_member(&self, workspace: &str, user: &str, role: &str) -> Result<bool> {
        self.0.remove_member(workspace, user, role).await
    }

    pub async fn create_token(&self, user: &str, name: &str) -> Result<(String, Token)> {
        self.0.create_token(user, name).await
    }

    pub async fn put_schedule(
        &self,
        id: Option<&str>,
        workflow: &str,
        spec: Value,
        paused: bool,
    ) -> Result<ScheduleRow> {
        self.0.put_schedule(id, workflow, spec, paused).await
    }

    pub async fn set_schedule_paused(&self, id: &str, paused: bool) -> Result<ScheduleRow> {
        self.0.set_schedule_paused(id, paused).await
    }

    pub async fn advance_clock(&self, clock: &ManualClock, to: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        self.0.advance_clock(clock, to).await
    }

    pub async fn instance(&self, id: Uuid) -> Result<Instance> {
        self.0.instance(id).await
    }

    pub async fn scheduled_instances(&self, schedule_id: &str) -> Result<Vec<Instance>> {
        self.0.scheduled_instances(schedule_id).await
    }
}
