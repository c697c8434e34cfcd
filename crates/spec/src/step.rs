//! Steps: the common keys every step takes, and the registry of step kinds
//! (one file per kind under `step/`).

pub mod approval;
pub mod notify;
pub mod subflow;
pub mod task;
pub mod update_profile;
pub mod wait;

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};

use crate::cron::Cron;
use crate::decode::{self, MapReader, Sp};
use crate::diag::{Code, Pos, Sink};
use crate::duration::Duration;
use crate::escalation::{self, Escalation, decode_positive_duration};
use crate::expr::{Expr, Template};
use crate::schedule::{decode_cron, decode_timezone};
use crate::yaml::Node;

pub use approval::Approval;
pub use notify::NotifyStep;
pub use subflow::Subflow;
pub use task::Task;
pub use update_profile::UpdateProfile;
pub use wait::Wait;

/// Task priority.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

/// When a step may become ready.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// No earlier than this long after its predecessors are done (may be 0).
    #[serde(default)]
    pub after: Option<Sp<Duration>>,
    /// No earlier than the date-time this expression yields.
    #[serde(default)]
    pub at: Option<Expr>,
}

/// A recurring step inside a running instance: a new occurrence at each fire.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// When occurrences start: 5 crontab fields (or 6 with seconds first).
    pub cron: Sp<Cron>,
    /// The IANA timezone the cron is read in. Default: UTC.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timezone: chrono_tz::Tz,
    /// The series ends at the date-time this expression yields.
    #[serde(default)]
    pub until: Option<Expr>,
    /// The series ends after this many occurrences.
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(skip)]
    pub pos: Pos,
}

/// The keys every step takes.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Common {
    /// Shown to whoever does the step (a template). Default: the step id.
    #[serde(default)]
    pub title: Option<Template>,
    /// What to do, in Markdown (a template).
    #[serde(default)]
    pub instructions: Option<Template>,
    /// Steps that must be done (or skipped) first. No `after` means "at start".
    #[serde(default)]
    #[schemars(with = "Option<crate::schema::OneOrMany<String>>")]
    pub after: Vec<Sp<String>>,
    /// Evaluated when the step becomes ready; false skips it (a skipped step counts as done).
    #[serde(default, rename = "if")]
    pub if_: Option<Expr>,
    /// An expression yielding a list: one task (or child) per item, with `item` and `index` in scope.
    #[serde(default)]
    pub for_each: Option<Expr>,
    /// The step becomes ready no earlier than this.
    #[serde(default)]
    pub start: Option<Start>,
    /// Due this long after the step becomes ready (`4h`, `2 business days`).
    #[serde(default)]
    pub due: Option<Sp<Duration>>,
    /// Recurring occurrences while the instance runs.
    #[serde(default)]
    pub repeat: Option<Repeat>,
    /// Default: normal.
    #[serde(default)]
    pub priority: Priority,
    /// Overrides the workflow's escalation chain for this step.
    #[serde(default)]
    pub escalation: Option<Vec<Escalation>>,
    /// Overrides the workflow's reminders (durations before the due time).
    #[serde(default)]
    pub remind: Option<Vec<Sp<Duration>>>,
}

const COMMON_KEYS: &[&str] = &[
    "type",
    "title",
    "instructions",
    "after",
    "if",
    "for_each",
    "start",
    "due",
    "repeat",
    "priority",
    "escalation",
    "remind",
];

/// What kind of step it is, with its own keys.
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    Task(Task),
    Approval(Box<Approval>),
    Notify(NotifyStep),
    Wait(Wait),
    Subflow(Subflow),
    UpdateProfile(UpdateProfile),
}

/// The registry: every step type, its keys, and its schema.
pub const TYPES: &[&str] = &["task", "approval", "notify", "wait", "subflow", "update_profile"];

fn kind_keys(ty: &str) -> &'static [&'static str] {
    match ty {
        "task" => task::KEYS,
        "approval" => approval::KEYS,
        "notify" => notify::KEYS,
        "wait" => wait::KEYS,
        "update_profile" => update_profile::KEYS,
        _ => subflow::KEYS,
    }
}

fn kind_schema(ty: &str, generator: &mut SchemaGenerator) -> Schema {
    match ty {
        "task" => Task::json_schema(generator),
        "approval" => Approval::json_schema(generator),
        "notify" => NotifyStep::json_schema(generator),
        "wait" => Wait::json_schema(generator),
        "update_profile" => UpdateProfile::json_schema(generator),
        _ => Subflow::json_schema(generator),
    }
}

impl StepKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::Task(_) => "task",
            StepKind::Approval(_) => "approval",
            StepKind::Notify(_) => "notify",
            StepKind::Wait(_) => "wait",
            StepKind::Subflow(_) => "subflow",
            StepKind::UpdateProfile(_) => "update_profile",
        }
    }

    /// Task and approval steps are done by people.
    pub fn is_human(&self) -> bool {
        matches!(self, StepKind::Task(_) | StepKind::Approval(_))
    }
}

/// One step of a workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The step's key in `steps:` (its position is the key's).
    pub id: Sp<String>,
    pub common: Common,
    pub kind: StepKind,
}

impl Step {
    /// Roles whose members act on this step.
    pub fn roles(&self) -> Vec<&Sp<String>> {
        match &self.kind {
            StepKind::Task(t) => vec![&t.role],
            StepKind::Approval(a) => a.levels.iter().map(|l| &l.role).collect(),
            _ => Vec::new(),
        }
    }

    pub fn decode(id: Sp<String>, node: &Node, sink: &mut Sink) -> Option<Step> {
        let mut r = MapReader::at(node, "a step", sink, id.pos)?;
        let ty = match r.get("type") {
            Some(n) => decode::one_of(n, TYPES, sink),
            None => Some("task"),
        };
        let common = decode_common(&mut r, sink);
        let Some(ty) = ty else {
            r.take_rest();
            return None;
        };
        let kind = match ty {
            "task" => Task::decode(&mut r, sink).map(StepKind::Task),
            "approval" => Approval::decode(&mut r, sink).map(|a| StepKind::Approval(Box::new(a))),
            "notify" => NotifyStep::decode(&mut r, sink).map(StepKind::Notify),
            "wait" => Wait::decode(&mut r, sink).map(StepKind::Wait),
            "update_profile" => UpdateProfile::decode(&mut r, sink).map(StepKind::UpdateProfile),
            _ => Subflow::decode(&mut r, sink).map(StepKind::Subflow),
        };
        for (key, pos) in r.unread() {
            if let Some(owner) = TYPES.iter().find(|t| kind_keys(t).contains(&key)) {
                sink.push(
                    Code::KeyNotForStepType,
                    pos,
                    format!("`{key}` is a key of `{owner}` steps, not of `{ty}` steps"),
                );
                r.mark(key);
            }
        }
        r.finish(sink);
        let kind = kind?;
        if common.for_each.is_some() && matches!(kind, StepKind::Wait(_)) {
            sink.push(Code::ConflictingKeys, id.pos, "`for_each` does not apply to wait steps");
        }
        if (common.for_each.is_some() || common.repeat.is_some()) && matches!(kind, StepKind::UpdateProfile(_)) {
            sink.push(Code::ConflictingKeys, id.pos, "`for_each` and `repeat` do not apply to update_profile steps");
        }
        if common.for_each.is_some() && common.repeat.is_some() {
            sink.push(Code::ConflictingKeys, id.pos, "a step takes `for_each` or `repeat`, not both");
        }
        Some(Step { id, common, kind })
    }
}

fn expr_at(r: &mut MapReader<'_>, key: &'static str, sink: &mut Sink) -> Option<Expr> {
    r.get(key).and_then(|n| decode::string(n, sink).map(|s| Expr::new(&s, n.pos)))
}

fn template_at(r: &mut MapReader<'_>, key: &'static str, sink: &mut Sink) -> Option<Template> {
    r.get(key).and_then(|n| decode::string(n, sink).map(|s| Template::new(&s, n.pos)))
}

fn decode_start(node: &Node, owner: Pos, sink: &mut Sink) -> Option<Start> {
    let mut r = MapReader::at(node, "`start`", sink, owner)?;
    let after = r.get("after").and_then(|n| escalation::decode_duration(n, sink));
    let at = expr_at(&mut r, "at", sink);
    match (r.has("after"), r.has("at")) {
        (true, true) => sink.push(Code::ConflictingKeys, owner, "`start` takes `after` or `at`, not both"),
        (false, false) => sink.push(Code::MissingKey, owner, "`start` needs `after` or `at`"),
        _ => {}
    }
    r.finish(sink);
    Some(Start { after, at })
}

fn decode_repeat(node: &Node, owner: Pos, sink: &mut Sink) -> Option<Repeat> {
    let mut r = MapReader::at(node, "`repeat`", sink, owner)?;
    let cron = r.required("cron", sink).and_then(|n| decode_cron(n, sink));
    let timezone = r.get("timezone").and_then(|n| decode_timezone(n, sink)).map_or(chrono_tz::UTC, |t| t.value);
    let until = expr_at(&mut r, "until", sink);
    let count =
        r.get("count").and_then(|n| decode::integer_at_least(n, 1, sink)).map(|n| n.min(u32::MAX as i64) as u32);
    if !r.has("until") && !r.has("count") {
        sink.push_hint(
            Code::EndlessRepeat,
            owner,
            "`repeat` has neither `until` nor `count`",
            Some("the series, and so the instance, then runs until someone cancels it"),
        );
    }
    r.finish(sink);
    Some(Repeat { cron: cron?, timezone, until, count, pos: owner })
}

fn decode_common(r: &mut MapReader<'_>, sink: &mut Sink) -> Common {
    let title = template_at(r, "title", sink);
    let instructions = template_at(r, "instructions", sink);
    let after = r
        .get("after")
        .map(|n| decode::list_or_one(n).iter().filter_map(|x| decode::sp_string(x, sink)).collect())
        .unwrap_or_default();
    let if_ = expr_at(r, "if", sink);
    let for_each = expr_at(r, "for_each", sink);
    let start = r.get_entry("start").and_then(|(pos, n)| decode_start(n, pos, sink));
    let due = r.get("due").and_then(|n| decode_positive_duration(n, sink));
    let repeat = r.get_entry("repeat").and_then(|(pos, n)| decode_repeat(n, pos, sink));
    let priority = r
        .get("priority")
        .and_then(|n| decode::one_of(n, &["low", "normal", "high", "urgent"], sink))
        .map(|p| match p {
            "low" => Priority::Low,
            "high" => Priority::High,
            "urgent" => Priority::Urgent,
            _ => Priority::Normal,
        })
        .unwrap_or_default();
    let escalation = r.get("escalation").map(|n| escalation::decode_chain(n, sink));
    let remind = r.get("remind").map(|n| escalation::decode_remind(n, sink));
    Common { title, instructions, after, if_, for_each, start, due, repeat, priority, escalation, remind }
}

impl JsonSchema for Step {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }

    /// One variant per step type: the common keys plus the type's own,
    /// nothing else. The variant is chosen by `type` (if/then), so an editor
    /// reports the mistakes of the step the author meant, not why the step
    /// fits none of the six.
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let common = Common::json_schema(generator);
        let variants: Vec<Value> = TYPES
            .iter()
            .map(|ty| {
                let kind = kind_schema(ty, generator);
                let mut props = common.get("properties").cloned().unwrap_or_else(|| json!({}));
                if let (Some(p), Some(k)) = (props.as_object_mut(), kind.get("properties").and_then(Value::as_object)) {
                    p.extend(k.clone());
                    p.insert("type".into(), json!({"const": ty, "description": "The step type. Default: task."}));
                }
                let mut required: Vec<Value> = kind.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
                if *ty != "task" {
                    required.push(json!("type"));
                }
                let mut v = json!({"type": "object", "title": format!("{ty} step"), "properties": props, "additionalProperties": false});
                if !required.is_empty() {
                    v["required"] = Value::Array(required);
                }
                // Without `type`, a step is a task: only the task's condition
                // holds when the key is absent (a `const` alone is vacuous then).
                let mut when = json!({"properties": {"type": {"const": ty}}});
                if *ty != "task" {
                    when["required"] = json!(["type"]);
                }
                json!({"if": when, "then": v})
            })
            .collect();
        let value = json!({
            "description": "A step: `task` (default), `approval`, `notify`, `wait`, `subflow` or `update_profile`.",
            "type": "object",
            "properties": {"type": {"enum": TYPES, "description": "The step type. Default: task."}},
            "allOf": variants,
        });
        Schema::try_from(value).unwrap_or_default()
    }
}

/// All keys a step of this type takes (for tests and tools).
pub fn keys_of(ty: &str) -> Vec<&'static str> {
    COMMON_KEYS.iter().chain(kind_keys(ty)).copied().collect()
}
