//! Expressions and templates in a workflow: every variable they read
//! exists where they are rendered (inputs, earlier steps, `task` only in
//! mail about a task...), with diagnostics that point at the variable or
//! the bad token inside the text, not at its start.

use std::collections::BTreeSet;

use super::{Checker, Scope};
use crate::diag::{Code, Pos, did_you_mean};
use crate::expr::{self, Expr, Template};

impl<'a> Checker<'a> {
    pub(super) fn expr(&mut self, e: &Expr, scope: Scope<'a>) {
        match expr::expression_vars(&self.env, &e.source) {
            Ok(vars) => {
                self.unknown_names(&e.source, false, e.pos);
                self.vars(vars, e.pos, None, scope)
            }
            Err(msg) => self.sink.push(
                Code::ExpressionSyntax,
                e.pos,
                format!("the expression `{}` does not compile: {msg}", e.source),
            ),
        }
    }

    pub(super) fn template(&mut self, t: &Template, scope: Scope<'a>) {
        if t.is_literal() {
            return;
        }
        match expr::template_vars(&self.env, &t.source) {
            Ok(vars) => {
                self.unknown_names(&t.source, true, t.pos);
                self.vars(vars, t.pos, Some(&t.source), scope)
            }
            Err(msg) => {
                let pos = expr::template_error_at(&self.env, &t.source).map_or(t.pos, |i| offset(t.pos, &t.source, i));
                self.sink.push(Code::ExpressionSyntax, pos, format!("the template does not compile: {msg}"))
            }
        }
    }

    /// Filters and tests the environment lacks (E030, as Jinja reports them
    /// at compile time), each at its name.
    fn unknown_names(&mut self, source: &str, template: bool, start: Pos) {
        for (name, kind, at) in expr::unknown_names(&self.env, source, template) {
            self.sink.push(Code::ExpressionSyntax, offset(start, source, at), format!("unknown {kind} `{name}`"));
        }
    }

    /// `source`: the template's text as written, to point at each variable
    /// in it (expressions are stored trimmed, so they keep their start).
    fn vars(&mut self, vars: BTreeSet<String>, start: Pos, source: Option<&str>, scope: Scope<'a>) {
        for path in vars {
            let pos = source.map_or(start, |s| {
                let root = path.split('.').next().unwrap_or(&path);
                s.find(path.as_str()).or_else(|| s.find(root)).map_or(start, |i| offset(start, s, i))
            });
            let parts: Vec<&str> = path.split('.').collect();
            let second = parts.get(1).copied();
            match parts[0] {
                "inputs" => {
                    if let Some(name) = second
                        && !self.wf.inputs.iter().any(|(n, _)| n.value == name)
                    {
                        let hint = did_you_mean(name, self.wf.inputs.iter().map(|(n, _)| n.value.as_str()))
                            .map(|s| format!("did you mean `inputs.{s}`?"));
                        self.sink.push_hint(
                            Code::ExpressionUnknownInput,
                            pos,
                            format!("`inputs.{name}` is not an input of this workflow"),
                            hint,
                        );
                    }
                }
                "steps" => {
                    let Some(id) = second else { continue };
                    if !self.known(id) {
                        let hint = self.step_hint(id).map(|s| format!("did you mean `steps.{s}`?"));
                        self.sink.push_hint(
                            Code::ExpressionUnknownStep,
                            pos,
                            format!("`steps.{id}` is not a step of this workflow"),
                            hint,
                        );
                        continue;
                    }
                    if let Some(field) = parts.get(2)
                        && !matches!(*field, "output" | "status" | "completed_by" | "round")
                    {
                        self.sink.push_hint(
                            Code::ExpressionOutOfScope,
                            pos,
                            format!("`steps.{id}.{field}` does not exist"),
                            Some("a step has `output`, `status`, `completed_by` and `round`"),
                        );
                    }
                    if let Some(step) = scope.step
                        && step.id.value != id
                        && !self.is_upstream(&step.id.value, id)
                    {
                        self.sink.push_hint(
                            Code::NotUpstream,
                            pos,
                            format!(
                                "step `{}` reads `steps.{id}`, which is not upstream of it and may not have run yet",
                                step.id.value
                            ),
                            Some(format!("add `{id}` to this step's `after` (directly or through another step)")),
                        );
                    }
                }
                "item" | "index" if !scope.item => {
                    let fans_out = scope.step.is_some_and(|s| s.common.for_each.is_some());
                    let (message, hint) = if fans_out {
                        (
                            format!(
                                "`{}` is not defined here: `if`, `for_each`, `start`, `until` and escalations are evaluated once for the whole step, before it fans out",
                                parts[0]
                            ),
                            "use `item` in the title, instructions, assignment, subflow inputs or messages",
                        )
                    } else {
                        (
                            format!("`{}` is only defined inside a `for_each` step", parts[0]),
                            "add `for_each` to the step, or read the value from `steps.<id>.output`",
                        )
                    };
                    self.sink.push_hint(Code::ExpressionOutOfScope, pos, message, Some(hint));
                }
                "instance" => {
                    if let Some(f) = second
                        && !matches!(f, "id" | "workspace" | "started_at" | "started_by")
                    {
                        self.sink.push_hint(
                            Code::ExpressionOutOfScope,
                            pos,
                            format!("`instance.{f}` does not exist"),
                            Some("an instance has id, workspace, started_at and started_by"),
                        );
                    }
                }
                "event" if !scope.event => {
                    self.sink.push_hint(
                        Code::ExpressionOutOfScope,
                        pos,
                        "`event` is only defined in notification rules",
                        None::<String>,
                    );
                }
                "task" if !scope.task && !scope.event => {
                    let hint = match scope.step {
                        Some(s) => format!(
                            "a step's own fields are rendered before its task exists; use `inputs`, the outputs of earlier steps (`steps.<id>.output`), or write the text itself (this is step `{}`)",
                            s.id.value
                        ),
                        None => "use `inputs`, `steps.<id>.output`, `instance` or `workspace` here".into(),
                    };
                    self.sink.push_hint(
                        Code::ExpressionOutOfScope,
                        pos,
                        "`task` is only defined in notification rules and e-mail templates about a task",
                        Some(hint),
                    );
                }
                "task" if !scope.task => {
                    self.sink.push_hint(
                        Code::ExpressionOutOfScope,
                        pos,
                        "`task` is only defined in rules whose events all concern a task",
                        Some("task.created, task.assigned, task.due_soon, task.overdue, task.rejected and approval.requested have a task"),
                    );
                }
                "workspace" => {
                    if let Some(f) = second
                        && !matches!(f, "key" | "name" | "timezone" | "profile")
                    {
                        self.sink.push_hint(
                            Code::ExpressionOutOfScope,
                            pos,
                            format!("`workspace.{f}` does not exist"),
                            Some("a workspace has key, name, timezone and profile"),
                        );
                    }
                }
                "item" | "index" | "now" | "task" | "event" => {}
                other => {
                    let hint =
                        did_you_mean(other, ["inputs", "steps", "item", "index", "instance", "now", "workspace"])
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| {
                                "expressions see inputs, steps, item, index, instance, workspace and now".into()
                            });
                    self.sink.push_hint(
                        Code::ExpressionOutOfScope,
                        pos,
                        format!("unknown variable `{other}`"),
                        Some(hint),
                    );
                }
            }
        }
    }
}

/// The position of byte `i` of a one-line text that starts at `start`
/// (multi-line text keeps `start`: its lines' indentation is not kept).
fn offset(start: Pos, text: &str, i: usize) -> Pos {
    match text.get(..i) {
        Some(before) if !text.contains('\n') => Pos::new(start.line, start.column + before.chars().count()),
        _ => start,
    }
}
