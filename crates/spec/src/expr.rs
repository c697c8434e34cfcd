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

/// Filters and tests that `source` names and the environment lacks: Jinja
/// reports these when it compiles; minijinja only when it renders, so
/// `validate` asks here. Each with its kind (`filter` or `test`) and its
/// byte offset in `source`. `template`: `source` is a template (only its
/// `{{ }}` and `{% %}` parts are code), else an expression.
pub fn unknown_names(
    env: &minijinja::Environment<'_>,
    source: &str,
    template: bool,
) -> Vec<(String, &'static str, usize)> {
    // Each name probed once, however often it is used.
    let mut probed = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (name, kind, at) in named_filters_and_tests(source, template) {
        if probed.insert((name.clone(), kind)) && lacks(env, &name, kind) {
            out.push((name, kind, at));
        }
    }
    out
}

/// Whether the environment has no filter (or test) of this name: a probe
/// that uses it fails with "unknown filter" (or "unknown test").
fn lacks(env: &minijinja::Environment<'_>, name: &str, kind: &str) -> bool {
    use minijinja::ErrorKind;
    let (probe, missing) = if kind == "filter" {
        (format!("v | {name}"), ErrorKind::UnknownFilter)
    } else {
        (format!("v is {name}"), ErrorKind::UnknownTest)
    };
    let Ok(expr) = env.compile_expression(&probe) else { return false };
    matches!(expr.eval(minijinja::context! { v => "" }), Err(e) if e.kind() == missing)
}

/// Names after `|` (filters) and after `is` / `is not` (tests) in the code
/// parts of `source`, outside string literals, with their byte offsets.
fn named_filters_and_tests(source: &str, template: bool) -> Vec<(String, &'static str, usize)> {
    let bytes = source.as_bytes();
    let ident = |from: usize| {
        let end = bytes[from..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .map_or(bytes.len(), |n| from + n);
        (end > from && !bytes[from].is_ascii_digit()).then(|| (source[from..end].to_string(), end))
    };
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut out = Vec::new();
    let (mut i, mut code, mut quote) = (0, !template, None::<u8>);
    while i < bytes.len() {
        let b = bytes[i];
        if template && quote.is_none() {
            let pair = bytes.get(i..i + 2);
            if !code && matches!(pair, Some(b"{{") | Some(b"{%")) {
                (code, i) = (true, i + 2);
                continue;
            }
            if code && matches!(pair, Some(b"}}") | Some(b"%}")) {
                (code, i) = (false, i + 2);
                continue;
            }
        }
        if !code {
            i += 1;
            continue;
        }
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'|' => {
                let at = skip_space(i + 1);
                if let Some((name, _)) = ident(at) {
                    out.push((name, "filter", at));
                }
            }
            None if b == b'i'
                && bytes.get(i + 1) == Some(&b's')
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
                && bytes.get(i + 2).is_some_and(u8::is_ascii_whitespace) =>
            {
                let mut at = skip_space(i + 2);
                if let Some((word, end)) = ident(at)
                    && word == "not"
                    && bytes.get(end).is_some_and(u8::is_ascii_whitespace)
                {
                    at = skip_space(end);
                }
                if let Some((name, _)) = ident(at) {
                    out.push((name, "test", at));
                }
            }
            None => {}
        }
        i += 1;
    }
    out
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
    fn unknown_filters_and_tests_are_found_where_they_are_named() {
        let env = environment();
        let t = "Hi {{ name | upper }}, {{ when | nosuchfilter }} {# x | nope #} '|' {% if a is evn %}{{ '| fake' }}{% endif %}";
        let found = unknown_names(&env, t, true);
        assert_eq!(
            found,
            vec![
                ("nosuchfilter".to_string(), "filter", t.find("nosuchfilter").unwrap()),
                ("evn".to_string(), "test", t.find("evn").unwrap())
            ]
        );
        assert!(unknown_names(&env, "x | local_time | default('') is not defined", false).is_empty());
        assert_eq!(unknown_names(&env, "this | lenght", false), vec![("lenght".to_string(), "filter", 7)]);
        assert!(unknown_names(&env, "x | replace", false).is_empty(), "a known filter missing its arguments is known");
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
