//! Deployed workflows, as clients see them.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, SimpleObject};

use crate::error::ApiResult as Result;
use serde_json::{Value, json};
use smmflow_runtime::Def;
use smmflow_spec::StepKind;
use smmflow_spec::field::{FieldSpec, Fields};

use crate::ids::NodeId;

#[derive(Clone)]
pub struct WorkflowObj(pub Arc<Def>);

/// A role a workflow declares: the members with that role in a workspace do its steps.
#[derive(SimpleObject)]
pub struct WorkflowRole {
    /// The role's name, such as `copywriter` (a membership role in the workspace).
    pub name: String,
    /// What the role does, from the YAML.
    pub description: String,
    /// Whose side the role is on: `agency` (default), `client` or `external` (for analytics).
    pub party: String,
}

/// A step of the definition (not of an instance).
#[derive(SimpleObject)]
pub struct WorkflowStep {
    /// The step's key from the YAML, such as `draft`.
    pub id: String,
    /// The step's type: `TASK`, `APPROVAL`, `NOTIFY`, `WAIT`, `SUBFLOW` or `UPDATE_PROFILE`.
    #[graphql(name = "type")]
    pub kind: crate::types::enums::StepType,
    /// The step's `title` as written (its key when it has none).
    pub title: String,
    /// The (first) role that does it; null for a step without people.
    pub role: Option<String>,
    /// The keys of the steps it comes after.
    pub after: Vec<String>,
}

/// A field spec as JSON: `{type, required, default, label, help, values, items, fields, ...}`.
pub fn field_json(spec: &FieldSpec) -> Value {
    let mut v = json!({"type": spec.ty.name(), "required": spec.required});
    let m = v.as_object_mut();
    if let Some(m) = m {
        for (k, val) in [("default", spec.default.clone()), ("min", spec.min.clone()), ("max", spec.max.clone())] {
            if let Some(val) = val {
                m.insert(k.into(), val);
            }
        }
        for (k, val) in [
            ("min_length", spec.min_length),
            ("max_length", spec.max_length),
            ("min_items", spec.min_items),
            ("max_items", spec.max_items),
        ] {
            if let Some(val) = val {
                m.insert(k.into(), json!(val));
            }
        }
        if let Some(l) = &spec.label {
            m.insert("label".into(), json!(l));
        }
        if let Some(h) = &spec.help {
            m.insert("help".into(), json!(h));
        }
        if !spec.values.is_empty() {
            m.insert("values".into(), json!(spec.values));
        }
        if let Some(i) = &spec.items {
            m.insert("items".into(), field_json(i));
        }
        if !spec.fields.is_empty() {
            m.insert("fields".into(), fields_json(&spec.fields));
        }
        if let Some(p) = &spec.publications {
            m.insert("publications".into(), json!({"at": p.at, "channel": p.channel}));
        }
    }
    v
}

/// Named fields as a JSON object; each spec also carries `order`, its place
/// in the file (0 first), since a JSON object's keys have no order.
pub fn fields_json(fields: &Fields) -> Value {
    Value::Object(
        fields
            .iter()
            .enumerate()
            .map(|(i, (n, s))| {
                let mut spec = field_json(s);
                if let Some(m) = spec.as_object_mut() {
                    m.insert("order".into(), json!(i));
                }
                (n.value.clone(), spec)
            })
            .collect(),
    )
}

/// A deployed workflow version: one of the agency's processes, shared by every workspace.
#[Object(name = "Workflow")]
impl WorkflowObj {
    /// The global id of this workflow version.
    pub async fn id(&self) -> ID {
        ID(NodeId::Workflow(self.0.workflow.key.value.clone(), self.0.version).encode())
    }
    /// The workflow's key from its YAML, such as `weekly-content`.
    async fn key(&self) -> &str {
        &self.0.workflow.key.value
    }
    /// The version number: 1 for the first deploy, one more for each deploy of changed content.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The workflow's display name.
    async fn name(&self) -> &str {
        &self.0.workflow.name
    }
    /// What the workflow is for, from its YAML (null when it has no description).
    async fn description(&self) -> Option<&str> {
        self.0.workflow.description.as_deref()
    }
    /// The YAML as deployed.
    async fn source(&self, ctx: &Context<'_>) -> Result<String> {
        let session = crate::access_of(ctx)?;
        session.workflow_source(&self.0.workflow.key.value, self.0.version).await.map_err(crate::error::ApiError::from)
    }
    /// A Mermaid flowchart: lanes per role, rework edges dashed.
    #[graphql(complexity = 10)]
    async fn mermaid(&self) -> String {
        smmflow_spec::mermaid::render(&self.0.workflow)
    }
    /// The roles it declares, in YAML order.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn roles(&self) -> Vec<WorkflowRole> {
        self.0
            .workflow
            .roles
            .iter()
            .map(|r| WorkflowRole {
                name: r.name.value.clone(),
                description: r.description.clone(),
                party: r.party.as_str().to_string(),
            })
            .collect()
    }
    /// Its steps, in definition order.
    #[graphql(complexity = "crate::limits::list_cost(child_complexity)")]
    async fn steps(&self) -> Vec<WorkflowStep> {
        self.0
            .workflow
            .steps
            .iter()
            .map(|s| WorkflowStep {
                id: s.id.value.clone(),
                kind: (&s.kind).into(),
                title: s.common.title.as_ref().map_or_else(|| s.id.value.clone(), |t| t.source.clone()),
                role: s.roles().first().map(|r| r.value.clone()),
                after: s.common.after.iter().map(|a| a.value.clone()).collect(),
            })
            .collect()
    }
    /// The inputs as field specs, by name (each with `order`, its place in the file).
    async fn inputs(&self) -> Json<Value> {
        Json(fields_json(&self.0.workflow.inputs))
    }
    /// Its instances are publications on the content calendar: the
    /// templates of their time, channel and title (null otherwise).
    async fn publication(&self) -> Option<PublicationSpec> {
        self.0.workflow.publication.as_ref().map(|p| PublicationSpec {
            at: p.at.source.clone(),
            channel: p.channel.source.clone(),
            title: p.title.as_ref().map(|t| t.source.clone()),
        })
    }
}

/// A workflow's `publication:` as written (templates rendered when an instance starts).
#[derive(async_graphql::SimpleObject)]
pub struct PublicationSpec {
    /// The template of the publication time, as written.
    pub at: String,
    /// The template of the channel (platform) key, as written.
    pub channel: String,
    /// The template of the title, as written (null when there is none).
    pub title: Option<String>,
}

/// The form of a task step, as field specs by name (empty for other steps).
pub fn form_of(def: &Def, step: &str) -> Value {
    match def.workflow.step(step).map(|s| &s.kind) {
        Some(StepKind::Task(t)) => fields_json(&t.form),
        _ => json!({}),
    }
}
