//! Rendering messages: deployed templates (`workflows/templates/NAME.*.j2`)
//! first, then the built-in ones of the same name. HTML parts are
//! auto-escaped; rendering is bounded like every expression.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

use crate::compose::Source;

/// Rendered text longer than this is refused.
const MAX_OUTPUT: usize = 256 * 1024;
/// Subjects are cut to this many characters.
const MAX_SUBJECT: usize = 200;

/// A template's parts, as deployed (the JSON of a template document).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Parts {
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
}

/// The deployed templates, by name.
pub trait Templates {
    fn get(&self, name: &str) -> Option<Parts>;
}

/// No deployed templates (tests, built-ins only).
pub struct NoTemplates;

impl Templates for NoTemplates {
    fn get(&self, _: &str) -> Option<Parts> {
        None
    }
}

/// A message ready to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
}

macro_rules! builtins {
    ($($name:literal),* $(,)?) => {
        /// The built-in templates: (name, subject, text).
        const BUILTIN: &[(&str, &str, &str)] = &[$(
            ($name,
             include_str!(concat!("../templates/", $name, ".subject.j2")),
             include_str!(concat!("../templates/", $name, ".txt.j2"))),
        )*];
    };
}

builtins!(
    "task-created",
    "task-reopened",
    "task-assigned",
    "task-due-soon",
    "task-overdue",
    "task-escalated",
    "task-rejected",
    "approval-requested",
    "approval-follow-up",
    "task-expired",
    "approval-batch",
    "step-completed",
    "instance-started",
    "instance-completed",
    "instance-cancelled",
    "instance-failed",
    "digest",
);

/// A built-in template by name.
pub fn builtin(name: &str) -> Option<Parts> {
    BUILTIN.iter().find(|(n, _, _)| *n == name).map(|(_, s, t)| Parts {
        subject: s.to_string(),
        text: t.to_string(),
        html: None,
    })
}

/// The names of the built-in templates.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _, _)| *n)
}

fn environment() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = smmflow_spec::expr::environment();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
        });
        env
    })
}

fn render_str(name: &str, source: &str, scope: &Value) -> Result<String> {
    let ctx = minijinja::Value::from(minijinja::value::Serde(scope));
    let out = environment().render_named_str(name, source, ctx).map_err(|e| {
        Error::Template(match e.detail() {
            Some(d) => format!("template `{name}`: {}: {d}", e.kind()),
            None => format!("template `{name}`: {}", e.kind()),
        })
    })?;
    if out.len() > MAX_OUTPUT {
        return Err(Error::Template(format!("template `{name}` rendered more than {MAX_OUTPUT} bytes")));
    }
    Ok(out)
}

/// One line, trimmed and cut.
fn subject_line(s: &str) -> String {
    let line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_SUBJECT) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

/// Renders a message's source with its scope.
pub fn render(source: &Source, scope: &Value, deployed: &dyn Templates) -> Result<Rendered> {
    match source {
        Source::Template(name) => {
            let parts = deployed
                .get(name)
                .or_else(|| builtin(name))
                .ok_or_else(|| Error::Template(format!("no template `{name}`")))?;
            render_parts(name, &parts, scope)
        }
        Source::Inline { subject, body } => Ok(Rendered {
            subject: subject_line(&render_str("subject", subject, scope)?),
            text: render_str("body", body, scope)?,
            html: None,
        }),
        Source::Text { subject, body } => {
            Ok(Rendered { subject: subject_line(subject), text: body.clone(), html: None })
        }
    }
}

/// Renders a template's parts.
pub fn render_parts(name: &str, parts: &Parts, scope: &Value) -> Result<Rendered> {
    Ok(Rendered {
        subject: subject_line(&render_str(&format!("{name}.subject"), &parts.subject, scope)?),
        text: render_str(&format!("{name}.txt"), &parts.text, scope)?,
        html: parts.html.as_ref().map(|h| render_str(&format!("{name}.html"), h, scope)).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn html_parts_are_escaped_and_text_parts_are_not() {
        let parts = Parts {
            subject: "Post: {{ inputs.title }}\n".into(),
            text: "Text: {{ inputs.title }}".into(),
            html: Some("<p>{{ inputs.title }}</p>".into()),
        };
        let scope = json!({"inputs": {"title": "<b>Sale</b> & more"}});
        let r = render_parts("t", &parts, &scope).unwrap();
        assert_eq!(r.subject, "Post: <b>Sale</b> & more");
        assert_eq!(r.text, "Text: <b>Sale</b> & more");
        assert_eq!(r.html.as_deref(), Some("<p>&lt;b&gt;Sale&lt;&#x2f;b&gt; &amp; more</p>"));
    }

    #[test]
    fn every_builtin_renders_with_an_empty_scope_and_subjects_are_one_line() {
        for name in builtin_names() {
            let r = render(&Source::Template(name.into()), &json!({"items": [], "period": "daily"}), &NoTemplates);
            let r = r.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!r.subject.contains('\n'), "{name}");
            assert!(!r.text.trim().is_empty(), "{name}");
        }
    }

    #[test]
    fn a_deployed_template_overrides_the_builtin_and_a_missing_one_is_an_error() {
        struct One;
        impl Templates for One {
            fn get(&self, name: &str) -> Option<Parts> {
                (name == "task-created").then(|| Parts { subject: "Ours".into(), text: "x".into(), html: None })
            }
        }
        assert_eq!(render(&Source::Template("task-created".into()), &json!({}), &One).unwrap().subject, "Ours");
        assert!(render(&Source::Template("nope".into()), &json!({}), &One).unwrap_err().to_string().contains("nope"));
    }

    #[test]
    fn runaway_templates_fail_instead_of_hanging() {
        let src = Source::Inline { subject: "s".into(), body: "{% for i in range(100000000) %}x{% endfor %}".into() };
        assert!(render(&src, &json!({}), &NoTemplates).is_err());
    }
}
