//! Expressions and templates (Jinja, via minijinja): one language for both.
//!
//! Conditions (`if`, `for_each`, `until`, `start.at`) are bare expressions;
//! text fields are templates. A template that is exactly one `{{ expr }}`
//! keeps the expression's own type when evaluated.

use std::borrow::Cow;
use std::collections::BTreeSet;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::diag::Pos;

/// A bare expression, e.g. `steps.review.output.decision == 'approved'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub source: String,
    pub pos: Pos,
}

/// A text template, e.g. `Posts for {{ inputs.client_name }}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub source: String,
    pub pos: Pos,
}

impl Expr {
    /// Accepts `x > 1` and also `{{ x > 1 }}` (a single-expression template).
    pub fn new(source: &str, pos: Pos) -> Expr {
        let source = single_expression(source).unwrap_or(source).trim().to_string();
        Expr { source, pos }
    }
}

impl Template {
    pub fn new(source: &str, pos: Pos) -> Template {
        Template { source: source.to_string(), pos }
    }

    /// The inner expression when the template is exactly one `{{ expr }}`.
    pub fn single_expression(&self) -> Option<&str> {
        single_expression(&self.source)
    }

    /// True when the template has no `{{ }}` or `{% %}` at all.
    pub fn is_literal(&self) -> bool {
        !self.source.contains("{{") && !self.source.contains("{%")
    }
}

fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner.trim())
}

/// The environment every expression and template is compiled and evaluated in.
/// Evaluation is bounded by fuel (instructions), so no expression can hang.
pub fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(100_000));
    env.set_recursion_limit(64);
    // The `debug` feature is on for the byte ranges of syntax errors
    // (validator diagnostics point at the bad token); the debug info of
    // rendering errors is not collected.
    env.set_debug(false);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    // Booleans print as the YAML and JSON they came from (`true`), not as
    // Python's `True`; everything else as minijinja prints it.
    env.set_formatter(|out, state, value| {
        if value.kind() == minijinja::value::ValueKind::Bool {
            return out.write_str(if value.is_true() { "true" } else { "false" }).map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.add_filter("local_time", crate::local_time::filter);
    env
}

/// The variables an expression reads, as dotted paths (`steps.plan.output`).
pub fn expression_vars(env: &minijinja::Environment<'_>, source: &str) -> Result<BTreeSet<String>, String> {
    let expr = env.compile_expression(source).map_err(describe)?;
    Ok(expr.undeclared_variables(true).into_iter().collect())
}

/// The variables a template reads, as dotted paths.
pub fn template_vars(env: &minijinja::Environment<'_>, source: &str) -> Result<BTreeSet<String>, String> {
    let tmpl = env.template_from_str(source).map_err(describe)?;
    Ok(tmpl.undeclared_variables(true).into_iter().collect())
}

/// Where a template that does not compile goes wrong: a byte offset in it.
pub fn template_error_at(env: &minijinja::Environment<'_>, source: &str) -> Option<usize> {
    env.template_from_str(source).err()?.range().map(|r| r.start)
}

fn describe(e: minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    }
}

impl JsonSchema for Expr {
    fn schema_name() -> Cow<'static, str> {
        "Expression".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A Jinja expression, e.g. `steps.report.output.kpis_met < 3` (a single `{{ ... }}` is accepted too)."
        })
    }
}

impl JsonSchema for Template {
    fn schema_name() -> Cow<'static, str> {
        "Template".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Text with Jinja `{{ ... }}` placeholders; exactly one `{{ expr }}` keeps the expression's type."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_expression_templates_are_recognised() {
        let t = |s: &str| Template::new(s, Pos::default());
        assert_eq!(t("{{ steps.plan.output.posts }}").single_expression(), Some("steps.plan.output.posts"));
        assert_eq!(t("Hi {{ x }}").single_expression(), None);
        assert_eq!(t("{{ a }} {{ b }}").single_expression(), None);
        assert!(t("plain").is_literal());
        assert_eq!(Expr::new("{{ x > 1 }}", Pos::default()).source, "x > 1");
    }

    #[test]
    fn variables_are_listed_as_paths() {
        let env = environment();
        let vars = expression_vars(&env, "steps.plan.output.posts | length > inputs.max").unwrap();
        assert!(vars.contains("steps.plan.output.posts"), "{vars:?}");
        assert!(vars.contains("inputs.max"), "{vars:?}");
        assert!(expression_vars(&env, "1 +").is_err());
        let vars = template_vars(&env, "{% for p in item.posts %}{{ p.title }}{% endfor %}").unwrap();
        assert!(vars.contains("item.posts"), "{vars:?}");
        assert!(!vars.iter().any(|v| v.starts_with('p')), "{vars:?}");
    }
}
