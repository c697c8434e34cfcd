//! Mermaid flowcharts of workflows (checked to render with Mermaid 11): one lane per role, approvals drawn apart
//! from tasks, rework edges dashed and labelled, and `for_each`, `repeat`,
//! `wait` and subflows marked.

use std::fmt::Write;

use crate::step::approval::Then;
use crate::step::{Step, StepKind};
use crate::workflow::Workflow;

/// Mermaid escapes quotes as entities inside quoted labels; template
/// placeholders `{{ x }}` are shown as `‹x›`.
fn label(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push('‹');
                out.push_str(rest[start + 2..start + end].trim());
                out.push('›');
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out.replace('"', "#quot;").replace(['{', '}'], "").replace('\n', " ")
}

fn title(step: &Step) -> String {
    let t = step.common.title.as_ref().map_or(step.id.value.as_str(), |t| t.source.as_str());
    let mut s = label(t);
    let c = &step.common;
    if c.for_each.is_some() {
        s.push_str("<br/>× for each item");
    }
    if let Some(r) = &c.repeat {
        let _ = write!(s, "<br/>repeats {}", label(r.cron.source()));
    }
    if let Some(d) = &c.due {
        let _ = write!(s, "<br/>due {}", d.value);
    }
    if c.if_.is_some() {
        s.push_str("<br/>if …");
    }
    s
}

fn node(step: &Step) -> String {
    let id = &step.id.value;
    let t = title(step);
    match &step.kind {
        StepKind::Task(_) => format!("{id}[\"{t}\"]"),
        StepKind::Approval(a) => {
            let ext = if a.levels.iter().any(|l| l.external) { "<br/>(external link)" } else { "" };
            format!("{id}{{{{\"✔ {t}{ext}\"}}}}")
        }
        StepKind::Notify(_) => format!("{id}[/\"✉ {t}\"/]"),
        StepKind::Wait(w) => {
            let how = w.duration.as_ref().map(|d| d.value.to_string()).unwrap_or_else(|| "until …".into());
            format!("{id}([\"wait: {t}<br/>{how}\"])")
        }
        StepKind::UpdateProfile(u) => {
            let fields: Vec<&str> = u.set.iter().map(|(k, _)| k.value.as_str()).collect();
            format!("{id}[(\"profile: {t}<br/>sets {}\")]", label(&fields.join(", ")))
        }
        StepKind::Subflow(f) => {
            let wait = if f.wait { "" } else { " (no wait)" };
            format!("{id}[[\"subflow: {t}<br/>runs {}{wait}\"]]", label(&f.workflow.value))
        }
    }
}

/// The lane a step is drawn in: its role (an approval's first level), else none.
fn lane(step: &Step) -> Option<&str> {
    step.roles().first().map(|r| r.value.as_str())
}

/// Renders the workflow as a Mermaid `flowchart`.
pub fn render(wf: &Workflow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "flowchart TB");
    let _ = writeln!(out, "  %% {}: {}", wf.key.value, label(&wf.name));
    let _ = writeln!(out, "  start((start))");
    for role in &wf.roles {
        let steps: Vec<&Step> = wf.steps.iter().filter(|s| lane(s) == Some(role.name.value.as_str())).collect();
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  subgraph lane_{0}[\"{0}\"]", role.name.value);
        for s in steps {
            let _ = writeln!(out, "    {}", node(s));
        }
        let _ = writeln!(out, "  end");
    }
    for s in wf.steps.iter().filter(|s| lane(s).is_none_or(|r| !wf.has_role(r))) {
        let _ = writeln!(out, "  {}", node(s));
    }
    let _ = writeln!(out, "  done((end))");
    for s in &wf.steps {
        if s.common.after.is_empty() {
            let _ = writeln!(out, "  start --> {}", s.id.value);
        }
        for a in &s.common.after {
            if wf.step(&a.value).is_some() {
                let _ = writeln!(out, "  {} --> {}", a.value, s.id.value);
            }
        }
        let has_successor = wf.steps.iter().any(|o| o.common.after.iter().any(|a| a.value == s.id.value));
        if !has_successor {
            let _ = writeln!(out, "  {} --> done", s.id.value);
        }
    }
    for s in &wf.steps {
        if let StepKind::Approval(a) = &s.kind
            && let Some(r) = &a.on_reject
        {
            let rounds = r.max_rounds.map(|n| format!(", max {n} rounds")).unwrap_or_default();
            let then = match &r.then {
                Some(Then::Cancel) => " then cancel",
                Some(Then::Fail) => " then fail",
                Some(Then::Reassign(_)) => " then reassign",
                None => "",
            };
            let _ = writeln!(out, "  {} -. \"rework{rounds}{then}\" .-> {}", s.id.value, r.goto.value);
        }
        if let StepKind::Approval(a) = &s.kind
            && let Some(crate::step::approval::OnExpire::Goto(g)) = a.on_expire.as_ref().map(|o| &o.value)
        {
            let _ = writeln!(out, "  {} -. \"expired\" .-> {}", s.id.value, g.value);
        }
    }
    let approvals: Vec<&str> =
        wf.steps.iter().filter(|s| matches!(s.kind, StepKind::Approval(_))).map(|s| s.id.value.as_str()).collect();
    if !approvals.is_empty() {
        let _ = writeln!(out, "  classDef approval fill:#fff4d6,stroke:#c98a00");
        let _ = writeln!(out, "  class {} approval", approvals.join(","));
    }
    out
}
