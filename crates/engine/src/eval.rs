//! Evaluating expressions and templates against an instance's scope.
//! Sandboxed (minijinja has no IO), bounded by fuel and output size; an
//! error is returned as text for the caller to raise as an incident.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::model::Instance;

/// Rendered text longer than this is refused.
const MAX_OUTPUT: usize = 64 * 1024;

fn environment() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(smmflow_spec::expr::environment)
}

/// A source to evaluate: a bare expression or a template.
#[derive(Clone, Copy, Debug)]
pub enum Src<'a> {
    Expr(&'a str),
    Template(&'a str),
}

/// Which steps some sources read (`steps.X...`), so a scope copies only
/// those: building the whole scope for every title of a workflow with
/// thousands of steps made starting it quadratic. `all` when a source
/// reads `steps` as a whole (`steps[name]`, a loop over it) or does not
/// compile (its error comes from the evaluation itself).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    all: bool,
    workspace: bool,
    steps: BTreeSet<String>,
}

impl Reads {
    /// Every step (a deployed template's unknown needs, the notifier's scope).
    pub fn all() -> Reads {
        Reads { all: true, workspace: true, steps: BTreeSet::new() }
    }

    /// What these sources read together.
    pub fn of(sources: &[Src<'_>]) -> Reads {
        let mut r = Reads::default();
        for s in sources {
            let one = reads_of(*s);
            r.all |= one.all;
            r.workspace |= one.workspace;
            r.steps.extend(one.steps.iter().cloned());
        }
        r
    }

    fn wants(&self, step: &str) -> bool {
        self.all || self.steps.contains(step)
    }
}

/// The reads of one source, cached by its text (sources come from deployed
/// workflows: a small set, read over and over).
fn reads_of(src: Src<'_>) -> Arc<Reads> {
    type Cache = Mutex<HashMap<(bool, String), Arc<Reads>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let (is_expr, text) = match src {
        Src::Expr(t) => (true, t),
        Src::Template(t) => (false, t),
    };
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.lock().ok().and_then(|c| c.get(&(is_expr, text.to_string())).cloned()) {
        return r;
    }
    let env = environment();
    let vars = if is_expr {
        smmflow_spec::expr::expression_vars(env, text)
    } else {
        smmflow_spec::expr::template_vars(env, text)
    };
    let reads = Arc::new(match vars {
        Err(_) => Reads::all(),
        Ok(vars) => {
            let mut r = Reads::default();
            for v in vars {
                let mut parts = v.split('.');
                match (parts.next(), parts.next()) {
                    (Some("steps"), Some(id)) => {
                        r.steps.insert(id.to_string());
                    }
                    (Some("steps"), None) => r.all = true,
                    (Some("workspace"), _) => r.workspace = true,
                    _ => {}
                }
            }
            r
        }
    });
    if let Ok(mut c) = cache.lock() {
        if c.len() > 10_000 {
            c.clear();
        }
        c.insert((is_expr, text.to_string()), reads.clone());
    }
    reads
}

/// The sources among recipients (templates yielding `user:`, `role:`...).
pub fn recipient_sources(rs: &[smmflow_spec::recipient::Recipient]) -> Vec<Src<'_>> {
    rs.iter()
        .filter_map(|r| match r {
            smmflow_spec::recipient::Recipient::Template(t) => Some(Src::Template(&t.source)),
            _ => None,
        })
        .collect()
}

/// What expressions see: `inputs`, `steps`, `instance`, `now`, and `item`/`index` in fan-outs.
pub fn scope(state: &Instance, now: DateTime<Utc>, item: Option<(usize, &Value)>) -> Value {
    scope_reading(state, now, item, &Reads::all())
}

/// The scope with only the steps `reads` names under `steps`.
pub fn scope_reading(state: &Instance, now: DateTime<Utc>, item: Option<(usize, &Value)>, reads: &Reads) -> Value {
    let steps: Map<String, Value> = state
        .steps
        .iter()
        .filter(|(id, _)| reads.wants(id))
        .map(|(id, st)| {
            (
                id.clone(),
                json!({
                    "output": st.output.clone().unwrap_or(Value::Null),
                    "status": st.status.as_str(),
                    "completed_by": st.completed_by.clone().unwrap_or(Value::Null),
                    "round": st.round,
                }),
            )
        })
        .collect();
    let mut scope = json!({
        "inputs": state.inputs,
        "steps": steps,
        "instance": {
            "id": state.id.to_string(),
            "workspace": state.workspace,
            "started_at": state.started_at.to_rfc3339(),
            "started_by": state.started_by,
        },
        "now": now.to_rfc3339(),
    });
    if (reads.all || reads.workspace)
        && let Some(map) = scope.as_object_mut()
    {
        let ws = match &state.workspace_scope {
            Value::Null => json!({"key": state.workspace}),
            v => v.clone(),
        };
        map.insert("workspace".into(), ws);
    }
    if let (Some((index, item)), Some(map)) = (item, scope.as_object_mut()) {
        map.insert("item".into(), item.clone());
        map.insert("index".into(), json!(index));
    }
    scope
}

fn to_json(v: &minijinja::Value) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| format!("the result cannot be stored: {e}"))
}

fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

/// Evaluates a bare expression.
pub fn expr(source: &str, scope: &Value) -> Result<Value, String> {
    let env = environment();
    let compiled = env.compile_expression(source).map_err(|e| describe(&e))?;
    let value = compiled.eval(minijinja::Value::from(minijinja::value::Serde(scope))).map_err(|e| describe(&e))?;
    let out = to_json(&value)?;
    if out.to_string().len() > MAX_OUTPUT {
        return Err(format!("the result is larger than {MAX_OUTPUT} bytes"));
    }
    Ok(out)
}

/// Renders a template; exactly one `{{ expr }}` keeps the expression's type.
pub fn template(source: &str, scope: &Value) -> Result<Value, String> {
    if let Some(inner) = smmflow_spec::expr::Template::new(source, Default::default()).single_expression() {
        return expr(inner, scope);
    }
    let text = environment()
        .render_str(source, minijinja::Value::from(minijinja::value::Serde(scope)))
        .map_err(|e| describe(&e))?;
    if text.len() > MAX_OUTPUT {
        return Err(format!("the text is longer than {MAX_OUTPUT} bytes"));
    }
    Ok(Value::String(text))
}

/// Renders a template as text.
pub fn text(source: &str, scope: &Value) -> Result<String, String> {
    Ok(match template(source, scope)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Truthiness as Jinja sees it.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A value as a point in time: an RFC 3339 string, or a date (midnight UTC),
/// within the years 1-9999.
pub fn datetime(v: &Value) -> Result<DateTime<Utc>, String> {
    let Some(s) = v.as_str() else { return Err(format!("expected a date-time, found {v}")) };
    if let Ok(t) = smmflow_spec::time::datetime(s) {
        return Ok(t.with_timezone(&Utc));
    }
    smmflow_spec::time::date(s).ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc()).ok_or_else(|| {
        format!("`{s}` is not a date-time (RFC 3339) or a date (YYYY-MM-DD) between the years 1 and 9999")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_single_expressions_and_text() {
        let scope = json!({"inputs": {"posts": [1, 2], "name": "ACME"}});
        assert_eq!(template("{{ inputs.posts }}", &scope).unwrap(), json!([1, 2]));
        assert_eq!(template("Posts for {{ inputs.name }}", &scope).unwrap(), json!("Posts for ACME"));
        assert_eq!(expr("inputs.posts | length > 1", &scope).unwrap(), json!(true));
        assert!(expr("inputs.name +", &scope).is_err());
    }

    #[test]
    fn booleans_print_as_in_yaml() {
        let scope = json!({"inputs": {"boosted": true, "draft": false}});
        assert_eq!(
            text("Boosted: {{ inputs.boosted }}, draft: {{ inputs.draft }}", &scope).unwrap(),
            "Boosted: true, draft: false"
        );
        assert_eq!(
            template("{{ inputs.boosted }}", &scope).unwrap(),
            json!(true),
            "a single expression keeps its type"
        );
    }

    #[test]
    fn runaway_expressions_are_stopped() {
        let scope = json!({});
        let err = text("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", &scope)
            .unwrap_err();
        assert!(err.contains("fuel") || err.contains("longer"), "{err}");
    }

    #[test]
    fn datetimes_parse_from_strings() {
        assert_eq!(datetime(&json!("2027-01-31")).unwrap().to_rfc3339(), "2027-01-31T00:00:00+00:00");
        assert_eq!(datetime(&json!("2027-01-31T10:00:00+03:00")).unwrap().to_rfc3339(), "2027-01-31T07:00:00+00:00");
        assert!(datetime(&json!(5)).is_err());
        assert!(datetime(&json!("+10000-01-01T00:00:00Z")).is_err());
        assert!(datetime(&json!("9999-12-31T23:00:00-05:00")).is_err());
    }
}
