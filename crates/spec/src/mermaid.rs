//! Mermaid flowcharts of workflows (checked to render with Mermaid 11): one lane per role, approvals drawn apart
//! from tasks, rework edges dashed and labelled, and `for_each`, `repeat`,
//! `wait` and subflows marked.

use std::fmt::Write;

use crate::step::approval::Then;
use crate::step::{Step, StepKind};
use crate::workflow::Workflow;

/// A step's node id: prefixed, so a step named like a Mermaid keyword
/// (`end`, `class`, `style`, `subgraph`, `click`, `graph`...) or like the
/// diagram's own start and end nodes stays a plain node.
pub fn node_id(step: &str) -> String {
    format!("s_{step}")
}

/// The diagram's own start and end nodes (step ids cannot start with `wf_`
/// once prefixed).
const START: &str = "wf_start";
const END: &str = "wf_end";

/// Text for a quoted Mermaid label: characters Mermaid reads as syntax or
/// markup become its entity codes (`#quot;`, `#123;`...), line breaks
/// spaces; template placeholders `{{ x }}` are shown as `‹x›` (filters left out).
fn label(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        escape_into(&rest[..start], &mut out);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push('‹');
                // What is shown, not how it is printed: `x | local_time` reads `x`.
                let inner = rest[start + 2..start + end].trim();
                let shown = inner.split(" | ").next().unwrap_or(inner).trim();
                let shown = shown.strip_prefix('(').and_then(|s| s.strip_suffix(')')).unwrap_or(shown);
                escape_into(shown, &mut out);
                out.push('›');
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    escape_into(rest, &mut out);
    out
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// An expression shown on the diagram, shortened.
fn short(source: &str) -> String {
    let one_line: String = source.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = one_line.chars().take(60).collect();
    if one_line.chars().count() > 60 {
        s.push('…');
    }
    label(&s)
}

fn title(step: &Step, wf: &Workflow) -> String {
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
        let stages = c.escalation.as_ref().map_or(wf.escalation.len(), Vec::len);
        if stages > 0 {
            let _ = write!(s, "<br/>escalates ({stages} stage{})", if stages == 1 { "" } else { "s" });
        }
    }
    if let Some(cond) = &c.if_ {
        let _ = write!(s, "<br/>if {}", short(&cond.source));
    }
    s
}

fn node(step: &Step, wf: &Workflow) -> String {
    let id = node_id(&step.id.value);
    let t = title(step, wf);
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
    let _ = writeln!(out, "  {START}((start))");
    for role in &wf.roles {
        let steps: Vec<&Step> = wf.steps.iter().filter(|s| lane(s) == Some(role.name.value.as_str())).collect();
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  subgraph lane_{0}[\"{0}\"]", role.name.value);
        for s in steps {
            let _ = writeln!(out, "    {}", node(s, wf));
        }
        let _ = writeln!(out, "  end");
    }
    for s in wf.steps.iter().filter(|s| lane(s).is_none_or(|r| !wf.has_role(r))) {
        let _ = writeln!(out, "  {}", node(s, wf));
    }
    let _ = writeln!(out, "  {END}((end))");
    for s in &wf.steps {
        let id = node_id(&s.id.value);
        if s.common.after.is_empty() {
            let _ = writeln!(out, "  {START} --> {id}");
        }
        for a in &s.common.after {
            if wf.step(&a.value).is_some() {
                let _ = writeln!(out, "  {} --> {id}", node_id(&a.value));
            }
        }
        let has_successor = wf.steps.iter().any(|o| o.common.after.iter().any(|a| a.value == s.id.value));
        if !has_successor {
            let _ = writeln!(out, "  {id} --> {END}");
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
            let _ =
                writeln!(out, "  {} -. \"rework{rounds}{then}\" .-> {}", node_id(&s.id.value), node_id(&r.goto.value));
        }
        if let StepKind::Approval(a) = &s.kind
            && let Some(crate::step::approval::OnExpire::Goto(g)) = a.on_expire.as_ref().map(|o| &o.value)
        {
            let _ = writeln!(out, "  {} -. \"expired\" .-> {}", node_id(&s.id.value), node_id(&g.value));
        }
    }
    let approvals: Vec<String> =
        wf.steps.iter().filter(|s| matches!(s.kind, StepKind::Approval(_))).map(|s| node_id(&s.id.value)).collect();
    if !approvals.is_empty() {
        let _ = writeln!(out, "  classDef approval fill:#fff4d6,stroke:#c98a00");
        let _ = writeln!(out, "  class {} approval", approvals.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Sink;
    use crate::project::{Document, parse_document};

    /// Shared with the rendering test in the root `tests/cli.rs`.
    const KEYWORDS: &str = include_str!("../tests/fixtures/mermaid-keywords.yaml");

    #[test]
    fn steps_named_like_keywords_or_the_diagrams_own_nodes_stay_plain_nodes() {
        let mut sink = Sink::new("keywords.yaml");
        let Some(Document::Workflow(wf)) = parse_document(KEYWORDS, &mut sink) else { panic!("{:?}", sink.items) };
        assert!(sink.items.iter().all(|d| !d.is_error()), "{:?}", sink.items);
        let out = render(&wf);
        // Every edge joins prefixed step nodes or the diagram's own ends.
        for line in out.lines().filter(|l| l.contains("-->") || l.contains(".->")) {
            let ends: Vec<&str> =
                line.split_whitespace().filter(|w| w.starts_with("s_") || w.starts_with("wf_")).collect();
            assert_eq!(ends.len(), 2, "{line}");
        }
        assert!(out.contains("  wf_start --> s_start\n"), "{out}");
        assert!(out.contains("  s_done --> wf_end\n"), "{out}");
        assert!(out.contains("  s_done -. \"rework\" .-> s_start\n"), "{out}");
        // No bare keyword stands as a node id at the start of a line.
        for kw in ["end", "class", "style", "subgraph", "click", "graph", "flowchart", "call", "href", "start", "done"]
        {
            assert!(!out.lines().any(|l| l.trim_start().starts_with(&format!("{kw}["))), "{kw}: {out}");
        }
        // Labels keep braces and quotes as entities, markup as text.
        assert!(out.contains("Brief #123;client#125; #quot;quoted#quot; #lt;b#gt;bold#lt;/b#gt; #35;1"), "{out}");
        // Conditions and escalations are shown.
        assert!(out.contains("<br/>if inputs.flag and steps.end.output"), "{out}");
        assert!(out.contains("<br/>due 2h<br/>escalates (1 stage)"), "{out}");
        assert!(out.contains("class s_done approval"), "{out}");
    }
}
