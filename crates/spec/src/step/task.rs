//! `type: task`: a unit of human work for a role, optionally with a form.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::decode::{self, MapReader, Sp};
use crate::diag::{Code, Sink, did_you_mean};
use crate::expr::Template;
use crate::field::{self, FieldSpec, Fields};

/// How a task finds its person.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Assign {
    /// Every member of the role sees the task; one claims it.
    #[default]
    Pool,
    /// Members of the role in turn.
    RoundRobin,
    /// The member with the fewest open tasks.
    LeastBusy,
    /// A template yielding a login or e-mail, e.g. `{{ inputs.account_manager }}`.
    Expression(Template),
}

impl JsonSchema for Assign {
    fn schema_name() -> Cow<'static, str> {
        "Assign".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "`pool` (default: every member of the role sees it, one claims it), `round_robin`, `least_busy`, or a template yielding a login or e-mail."
        })
    }
}

/// A human task.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Who may take it: a role declared under `roles`.
    pub role: Sp<String>,
    /// How the task is assigned. Default: pool.
    #[serde(default)]
    pub assign: Assign,
    /// The person may not be anyone who completed these steps (four-eyes).
    #[serde(default)]
    pub distinct_from: Option<Vec<Sp<String>>>,
    /// The fields the completer submits; the output is validated against them.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, FieldSpec>")]
    pub form: Fields,
    /// Attach the workspace's figures (the `analytics` query) for this period
    /// to the task: the analyst starts from them (`Task.figures`).
    #[serde(default)]
    pub figures: Option<Period>,
}

/// A period: two date-time expressions, evaluated when the task is created.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// The start (inclusive), e.g. `inputs.period_start`.
    #[schemars(with = "String")]
    pub from: crate::expr::Expr,
    /// The end (exclusive).
    #[schemars(with = "String")]
    pub to: crate::expr::Expr,
}

pub const KEYS: &[&str] = &["role", "assign", "distinct_from", "form", "figures"];

fn decode_period(node: &crate::yaml::Node, owner: crate::diag::Pos, sink: &mut Sink) -> Option<Period> {
    let mut r = MapReader::at(node, "`figures`", sink, owner)?;
    let expr = |r: &mut MapReader<'_>, key: &'static str, sink: &mut Sink| {
        r.required(key, sink).and_then(|n| decode::string(n, sink).map(|s| crate::expr::Expr::new(&s, n.pos)))
    };
    let from = expr(&mut r, "from", sink);
    let to = expr(&mut r, "to", sink);
    r.finish(sink);
    Some(Period { from: from?, to: to? })
}

pub fn decode_role(r: &mut MapReader<'_>, sink: &mut Sink) -> Option<Sp<String>> {
    r.required("role", sink).and_then(|n| decode::sp_string(n, sink))
}

pub fn decode_step_ids(r: &mut MapReader<'_>, key: &'static str, sink: &mut Sink) -> Option<Vec<Sp<String>>> {
    r.get(key).map(|n| decode::list_or_one(n).iter().filter_map(|x| decode::sp_string(x, sink)).collect())
}

impl Task {
    pub fn decode(r: &mut MapReader<'_>, sink: &mut Sink) -> Option<Task> {
        let role = decode_role(r, sink);
        let assign = r.get("assign").and_then(|n| {
            let text = decode::string(n, sink)?;
            Some(match text.trim() {
                "pool" => Assign::Pool,
                "round_robin" => Assign::RoundRobin,
                "least_busy" => Assign::LeastBusy,
                t if t.contains("{{") => Assign::Expression(Template::new(t, n.pos)),
                t => {
                    let hint = did_you_mean(t, ["pool", "round_robin", "least_busy"])
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            "use pool, round_robin, least_busy, or a template such as \"{{ inputs.account_manager }}\""
                                .into()
                        });
                    sink.push_hint(
                        Code::InvalidValue,
                        n.pos,
                        format!("`{t}` is not an assignment strategy"),
                        Some(hint),
                    );
                    return None;
                }
            })
        });
        let distinct_from = decode_step_ids(r, "distinct_from", sink);
        let form = r.get("form").map(|n| field::decode_fields(n, "form fields", sink)).unwrap_or_default();
        let figures = r.get_entry("figures").and_then(|(pos, n)| decode_period(n, pos, sink));
        Some(Task { role: role?, assign: assign.unwrap_or_default(), distinct_from, form, figures })
    }
}
