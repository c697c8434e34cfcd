//! Instances, their steps and their event log.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, SimpleObject};

use crate::error::ApiResult as Result;
use chrono::{DateTime, Utc};
use serde_json::Value;
use smmflow_engine::{Event, Instance};

use crate::access_of;
use crate::error::ApiError;
use crate::ids::NodeId;
use crate::types::enums::{InstanceStatus, StepStatus, StepType};
use crate::types::people::{Actor, UserObj, WorkspaceObj};
use crate::types::task::TaskObj;

#[derive(Clone)]
pub struct InstanceObj(pub Arc<Instance>);

impl InstanceObj {
    pub fn new(i: Instance) -> Self {
        InstanceObj(Arc::new(i))
    }
}

/// A workflow version: the one an instance runs, or the latest one a schedule starts.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct WorkflowRef {
    /// The workflow's key, as in its YAML.
    pub key: String,
    /// The deployed version number (1 for the first deploy).
    pub version: i32,
}

#[async_graphql::ComplexObject]
impl WorkflowRef {
    /// The workflow's readable `name` at this version.
    async fn name(&self, ctx: &Context<'_>) -> Result<String> {
        let def = access_of(ctx)?.definition(&self.key, Some(self.version)).await.map_err(ApiError::from)?;
        Ok(def.workflow.name.clone())
    }
}

/// A step of an instance. `id` is the step's key from the YAML (`"draft"`).
pub struct StepObj {
    id: String,
    kind: StepType,
    state: smmflow_engine::model::StepState,
}

/// A step of an instance in this run: its state, output and rework round.
#[Object(name = "Step")]
impl StepObj {
    /// The step's key from the YAML, such as `draft` (not a global id).
    async fn id(&self) -> &str {
        &self.id
    }
    /// The step's type: `TASK`, `APPROVAL`, `NOTIFY`, `WAIT`, `SUBFLOW` or `UPDATE_PROFILE`.
    #[graphql(name = "type")]
    async fn kind(&self) -> StepType {
        self.kind
    }
    /// Its state: `WAITING`, `READY`, `DONE`, `SKIPPED` or `FAILED`.
    async fn status(&self) -> StepStatus {
        self.state.status.into()
    }
    /// What it produced: a task's form output, an approval's decision, a subflow's outputs (JSON).
    async fn output(&self) -> Option<Json<Value>> {
        self.state.output.clone().map(Json)
    }
    /// Who completed it: a login, `system` or an address (a list for a `for_each` step).
    async fn completed_by(&self) -> Option<Json<Value>> {
        self.state.completed_by.clone().map(Json)
    }
    /// The rework round (1 until a rejection reopens the step).
    async fn round(&self) -> i32 {
        self.state.round as i32
    }
    /// When it last became ready (RFC 3339, UTC); null if it never did.
    async fn ready_at(&self) -> Option<DateTime<Utc>> {
        self.state.ready_at
    }
    /// When it was done (RFC 3339, UTC); null until then.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.state.completed_at
    }
    /// An evaluation problem a lead can fix and retry (`retryStep`).
    async fn incident(&self) -> Option<&str> {
        self.state.incident.as_ref().map(|i| i.message.as_str())
    }
}

/// One entry of an instance's audit log (the same type `instanceEvents` yields).
pub struct InstanceEvent {
    pub instance: uuid::Uuid,
    pub event: Event,
}

/// One entry of an instance's audit log, as `Instance.events` lists and `instanceEvents` yields.
#[Object]
impl InstanceEvent {
    /// Its position in the instance's log: 1, 2, 3, ... with no gaps.
    async fn seq(&self) -> i64 {
        self.event.seq as i64
    }
    /// The dotted event name, such as `instance.started`, `step.ready`, `task.completed` or `rework.started`.
    async fn kind(&self) -> &str {
        self.event.kind_name()
    }
    /// When it happened (RFC 3339, UTC).
    async fn at(&self) -> DateTime<Utc> {
        self.event.at
    }
    /// Who caused it: a user, `system` (timers, escalations) or an external approver's address.
    async fn actor(&self) -> Actor {
        Actor(self.event.actor.clone())
    }
    /// The event's details (JSON); their shape depends on `kind`.
    async fn data(&self) -> Json<Value> {
        let v = serde_json::to_value(&self.event.kind).unwrap_or(Value::Null);
        Json(v.get("data").cloned().unwrap_or(Value::Null))
    }
    /// The global id of the instance it belongs to.
    async fn instance_id(&self) -> ID {
        ID(NodeId::Instance(self.instance).encode())
    }
}

/// A running workflow: one run of a workflow version in one workspace, with its inputs.
#[Object(name = "Instance")]
impl InstanceObj {
    /// The instance's global id, for `instance(id:)`, `node(id:)` and the instance mutations.
    pub async fn id(&self) -> ID {
        ID(NodeId::Instance(self.0.id).encode())
    }
    /// Its state: `RUNNING`, `SUSPENDED`, `COMPLETED`, `CANCELLED`, `FAILED` or `REJECTED`.
    async fn status(&self) -> InstanceStatus {
        self.0.status.into()
    }
    /// The workflow key and version it runs (pinned when it started).
    async fn workflow(&self) -> WorkflowRef {
        WorkflowRef { key: self.0.workflow.clone(), version: self.0.version }
    }
    /// The workspace (client) it runs in.
    async fn workspace(&self, ctx: &Context<'_>) -> Result<WorkspaceObj> {
        let name = crate::workspace_name_of(ctx, &self.0.workspace).await?;
        Ok(WorkspaceObj::new(self.0.workspace.clone(), name))
    }
    /// The inputs it was started with (JSON).
    async fn inputs(&self) -> Json<Value> {
        Json(self.0.inputs.clone())
    }
    /// The workflow's `outputs` (JSON), set when it completes; null before.
    async fn outputs(&self) -> Option<Json<Value>> {
        self.0.outputs.clone().map(Json)
    }
    /// When it started (RFC 3339, UTC).
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// When it ended, however it ended (RFC 3339, UTC); null while it runs.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// The user who started it (null when the system did, e.g. a schedule).
    async fn started_by(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        Ok(crate::user_of(ctx, &self.0.started_by).await?.map(UserObj::new))
    }
    /// Why it ended, when cancelled, failed or rejected.
    async fn end_reason(&self) -> Option<&str> {
        self.0.end_reason.as_deref()
    }
    /// The schedule that started it, if one did.
    async fn schedule(&self) -> Option<&str> {
        self.0.schedule.as_ref().map(|s| s.schedule.as_str())
    }
    /// The schedule fire time that started it.
    async fn scheduled_for(&self) -> Option<DateTime<Utc>> {
        self.0.schedule.as_ref().map(|s| s.scheduled_for)
    }
    /// The instance that started this one as a subflow.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<InstanceObj>> {
        let Some(p) = &self.0.parent else { return Ok(None) };
        let i = access_of(ctx)?.instance(p.instance).await.map_err(ApiError::from)?;
        Ok(Some(InstanceObj::new(i)))
    }
    /// The instances it started as subflows (those the caller may see).
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<InstanceObj>> {
        let session = access_of(ctx)?;
        let mut out = Vec::new();
        for c in &self.0.children {
            match session.instance(c.id).await {
                Ok(i) => out.push(InstanceObj::new(i)),
                Err(smmflow_runtime::Error::NotFound(_)) => {}
                Err(e) => return Err(ApiError::from(e)),
            }
        }
        Ok(out)
    }
    /// Every step of the definition, in definition order.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn steps(&self, ctx: &Context<'_>) -> Result<Vec<StepObj>> {
        let def = access_of(ctx)?.definition(&self.0.workflow, Some(self.0.version)).await.map_err(ApiError::from)?;
        Ok(def
            .workflow
            .steps
            .iter()
            .filter_map(|s| {
                self.0.step(&s.id.value).map(|st| StepObj {
                    id: s.id.value.clone(),
                    kind: StepType::from(&s.kind),
                    state: st.clone(),
                })
            })
            .collect())
    }
    /// Every task of the instance, cancelled ones and those of earlier rounds included.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn tasks(&self) -> Vec<TaskObj> {
        self.0.tasks.iter().map(|t| TaskObj::new(self.0.clone(), t.no)).collect()
    }
    /// The audit log, in order.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<InstanceEvent>> {
        let events = access_of(ctx)?.events(self.0.id).await.map_err(ApiError::from)?;
        Ok(events.into_iter().map(|event| InstanceEvent { instance: self.0.id, event }).collect())
    }
    /// The workflow's flowchart with this instance's step statuses as classes.
    #[graphql(complexity = 10)]
    async fn mermaid(&self, ctx: &Context<'_>) -> Result<String> {
        let def = access_of(ctx)?.definition(&self.0.workflow, Some(self.0.version)).await.map_err(ApiError::from)?;
        let mut out = smmflow_spec::mermaid::render(&def.workflow);
        out.push_str("  classDef done fill:#d9f2d9,stroke:#2e7d32\n  classDef ready fill:#dbe9ff,stroke:#1565c0\n  classDef skipped fill:#eeeeee,stroke:#9e9e9e\n  classDef failed fill:#fde0dc,stroke:#b3261e\n");
        for status in ["done", "ready", "skipped", "failed"] {
            let ids: Vec<String> = self
                .0
                .steps
                .iter()
                .filter(|(_, s)| s.status.as_str() == status)
                .map(|(id, _)| smmflow_spec::mermaid::node_id(id))
                .collect();
            if !ids.is_empty() {
                out.push_str(&format!("  class {} {status}\n", ids.join(",")));
            }
        }
        Ok(out)
    }
}
