//! What an approval page shows of one approval: the work under review (its
//! outputs as labelled rows, with a word-level diff of each text against
//! the previous round), the comments of earlier rounds, the reasons a
//! rejection may name, and, once decided, the recorded outcome. Shared by
//! the single-link page and the batch page; everything is rendered with
//! HTML auto-escaping, so what people wrote stays text.

use serde_json::{Value, json};
use similar::{ChangeTag, TextDiff};
use smmflow_engine::model::{Instance, Task, TaskStatus};
use smmflow_spec::Workflow;
use smmflow_spec::step::StepKind;

/// The longest texts compared word by word (longer ones are shown whole).
const MAX_DIFF_CHARS: usize = 20_000;

/// A time as the client reads it: in the workspace's timezone (as the
/// instance saw it when it started), `Tue 8 Dec 2026, 09:30 Moscow time`.
fn when(state: &Instance, t: chrono::DateTime<chrono::Utc>) -> String {
    let zone = state.workspace_scope.get("timezone").and_then(Value::as_str).and_then(|z| z.parse().ok());
    smmflow_spec::local_time::human(t.fixed_offset(), zone)
}

/// Everything the page shows of one approval task.
pub fn item(wf: &Workflow, state: &Instance, task: &Task) -> Value {
    json!({
        "title": task.title,
        "instructions": task.instructions,
        "workflow_name": wf.name,
        "round": task.round,
        "due_at": task.due_at.map(|d| when(state, d)),
        "expires_at": task.expires_at.map(|d| when(state, d)),
        "review": under_review(wf, state, task),
        "comments": earlier_comments(state, task),
        "reasons": offered_reasons(wf, state, task.no)
            .iter()
            .map(|w| json!({"word": w, "label": humanize(w), "checked": false}))
            .collect::<Vec<_>>(),
    })
}

/// The reasons an approval offers (`reasons:` on its step).
pub fn offered_reasons(wf: &Workflow, state: &Instance, task_no: u32) -> Vec<String> {
    let Some(task) = state.task(task_no) else { return Vec::new() };
    match wf.step(&task.step).map(|s| &s.kind) {
        Some(StepKind::Approval(a)) => a.reasons.iter().map(|r| r.value.clone()).collect(),
        _ => Vec::new(),
    }
}

/// What was recorded for a task that no longer waits: its status, by whom,
/// when, the comment and the reasons; a sentence for the page.
pub fn outcome(state: &Instance, task: &Task) -> Value {
    let out = task.output.as_ref();
    let comment = out.and_then(|o| o.get("comment")).and_then(Value::as_str);
    let reasons: Vec<String> = out
        .and_then(|o| o.get("reasons"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(humanize).collect())
        .unwrap_or_default();
    let by = task.completed_by.as_deref().filter(|b| *b != smmflow_engine::event::SYSTEM);
    let at = task.completed_at.map(|d| when(state, d));
    let what = match task.status {
        TaskStatus::Approved => "Approved",
        TaskStatus::Rejected => "Rejected",
        TaskStatus::Expired => "Expired: nobody decided in time",
        TaskStatus::Cancelled => "No longer needed",
        _ if state.status == smmflow_engine::InstanceStatus::Suspended => "Paused",
        _ if task.status.is_active() => "Waiting for a decision",
        _ => "Closed",
    };
    let mut sentence = what.to_string();
    if let Some(by) = by
        && matches!(task.status, TaskStatus::Approved | TaskStatus::Rejected)
    {
        sentence.push_str(&format!(" by {by}"));
    }
    if let Some(at) = &at
        && !task.status.is_active()
    {
        sentence.push_str(&format!(" on {at}"));
    }
    sentence.push('.');
    json!({
        "status": task.status.as_str(),
        "sentence": sentence,
        "comment": comment.filter(|c| !c.is_empty() && matches!(task.status, TaskStatus::Approved | TaskStatus::Rejected)),
        "reasons": reasons,
    })
}

/// A word-level diff of `old` against `new`: runs of `eq`, `del`, `ins`.
pub fn word_diff(old: &str, new: &str) -> Vec<Value> {
    let mut runs: Vec<(&'static str, String)> = Vec::new();
    let diff = TextDiff::from_words(old, new);
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            ChangeTag::Equal => "eq",
            ChangeTag::Delete => "del",
            ChangeTag::Insert => "ins",
        };
        match runs.last_mut() {
            Some((last, text)) if *last == op => text.push_str(change.value()),
            _ => runs.push((op, change.value().to_string())),
        }
    }
    runs.into_iter().map(|(op, text)| json!({"op": op, "text": text})).collect()
}

/// The output a step's work had in an earlier round (the same fan-out item).
fn output_in_round(state: &Instance, step: &str, round: u32, item: Option<usize>) -> Option<Value> {
    state
        .tasks
        .iter()
        .filter(|t| t.step == step && t.round == round && t.status == TaskStatus::Completed)
        .filter(|t| item.is_none() || t.item == item)
        .max_by_key(|t| t.completed_at)
        .and_then(|t| t.output.clone())
}

/// Adds `diff` to the rows whose text changed since the previous round.
fn with_diffs(rows: &mut [Value], previous: &[Value]) {
    for row in rows.iter_mut() {
        let (Some(label), Some(new)) = (row["label"].as_str(), row["value"].as_str()) else { continue };
        if !row["href"].is_null() {
            continue;
        }
        let Some(old) = previous.iter().find(|p| p["label"] == label).and_then(|p| p["value"].as_str()) else {
            continue;
        };
        if old == new || old.len() + new.len() > MAX_DIFF_CHARS {
            continue;
        }
        let diff = word_diff(old, new);
        row["diff"] = Value::Array(diff);
    }
}

/// What the approval is about: the outputs of the nearest work before it
/// (walking back through `after`, past other approvals).
pub fn under_review(wf: &Workflow, state: &Instance, task: &Task) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    let mut queue: Vec<String> = vec![task.step.clone()];
    let mut found: Vec<String> = Vec::new();
    while let Some(id) = queue.pop() {
        let Some(step) = wf.steps.iter().find(|s| s.id.value == id) else { continue };
        for before in &step.common.after {
            if !seen.insert(before.value.clone()) {
                continue;
            }
            let Some(b) = wf.steps.iter().find(|s| s.id.value == before.value) else { continue };
            let output = state.step(&b.id.value).and_then(|s| s.output.as_ref()).filter(|o| !o.is_null());
            match (&b.kind, output) {
                (StepKind::Approval(_), _) | (_, None) => queue.push(b.id.value.clone()),
                _ => found.push(b.id.value.clone()),
            }
        }
    }
    // In the definition's order.
    wf.steps
        .iter()
        .filter(|s| found.contains(&s.id.value))
        .filter_map(|s| {
            let output = state.step(&s.id.value)?.output.as_ref()?;
            let title = state
                .tasks
                .iter()
                .rev()
                .find(|t| t.step == s.id.value && t.status == TaskStatus::Completed)
                .map(|t| t.title.clone())
                .unwrap_or_else(|| humanize(&s.id.value));
            let labels: Vec<(String, String)> = match &s.kind {
                StepKind::Task(t) => t
                    .form
                    .iter()
                    .map(|(k, f)| (k.value.clone(), f.label.clone().unwrap_or_else(|| humanize(&k.value))))
                    .collect(),
                _ => Vec::new(),
            };
            let mut rows = Vec::new();
            flatten(output, None, 0, &labels, &mut rows);
            if task.round > 1
                && let Some(before) = output_in_round(state, &s.id.value, task.round - 1, task.item)
            {
                let mut previous = Vec::new();
                flatten(&before, None, 0, &labels, &mut previous);
                with_diffs(&mut rows, &previous);
            }
            Some(json!({"title": title, "rows": rows}))
        })
        .collect()
}

/// Rejection comments of earlier rounds of this approval, and comments on this task.
fn earlier_comments(state: &Instance, task: &Task) -> Vec<Value> {
    let mut out: Vec<Value> = state
        .tasks
        .iter()
        .filter(|t| t.step == task.step && t.no != task.no && t.status == TaskStatus::Rejected)
        .filter_map(|t| {
            let body = t.output.as_ref()?.get("comment")?.as_str()?.to_string();
            Some(json!({
                "body": body,
                "author": t.completed_by.clone().unwrap_or_default(),
                "at": t.completed_at.map(|d| when(state, d)),
            }))
        })
        .collect();
    // A rejection's comment is also carried into the next round's task:
    // shown once, from the round that made it.
    let shown: Vec<(String, String)> = out
        .iter()
        .map(|c| {
            (c["body"].as_str().unwrap_or_default().to_string(), c["author"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    out.extend(
        task.comments
            .iter()
            .filter(|c| !shown.iter().any(|(body, author)| *body == c.body && *author == c.author))
            .map(|c| json!({"body": c.body, "author": c.author, "at": when(state, c.at)})),
    );
    out
}

pub fn humanize(key: &str) -> String {
    let s = key.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// A JSON value as labelled rows; http(s) strings become links.
pub fn flatten(v: &Value, label: Option<String>, depth: usize, labels: &[(String, String)], out: &mut Vec<Value>) {
    let row = |label: &Option<String>, value: Option<String>, href: Option<String>| json!({"label": label.clone().unwrap_or_default(), "value": value, "href": href, "depth": depth});
    match v {
        Value::Null => {}
        Value::Object(map) => {
            let d = if label.is_some() {
                out.push(row(&label, None, None));
                depth + 1
            } else {
                depth
            };
            // The form's order first (with its labels), then anything else.
            let known = labels.iter().filter_map(|(k, l)| map.get(k).map(|v| (l.clone(), v)));
            let rest =
                map.iter().filter(|(k, _)| !labels.iter().any(|(key, _)| key == *k)).map(|(k, v)| (humanize(k), v));
            for (l, v) in known.chain(rest).collect::<Vec<_>>() {
                flatten(v, Some(l), d, &[], out);
            }
        }
        Value::Array(items) => {
            let base = label.clone().unwrap_or_else(|| "Item".into());
            if items.iter().all(|i| !i.is_object() && !i.is_array()) && items.iter().all(|i| !is_link(i)) {
                let text: Vec<String> = items.iter().map(scalar).collect();
                out.push(row(&label, Some(text.join(", ")), None));
            } else {
                for (i, item) in items.iter().enumerate() {
                    let l = if items.len() == 1 { base.clone() } else { format!("{base} {}", i + 1) };
                    flatten(item, Some(l), depth, labels, out);
                }
            }
        }
        other => {
            let text = scalar(other);
            let href = is_link(other).then(|| text.clone());
            out.push(row(&label, Some(text), href));
        }
    }
}

fn is_link(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| (s.starts_with("https://") || s.starts_with("http://")) && !s.contains(char::is_whitespace))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_flatten_into_labelled_rows_with_safe_links() {
        let v = json!({"text": "Five winter tips", "assets": ["https://cdn.example/a.png", "https://cdn.example/b.png"], "tags": ["winter", "sale"], "evil": "javascript:alert(1)"});
        let mut rows = Vec::new();
        flatten(&v, None, 0, &[("text".into(), "Post text".into())], &mut rows);
        let find = |l: &str| rows.iter().find(|r| r["label"] == l).cloned().unwrap();
        assert_eq!(find("Post text")["value"], "Five winter tips");
        assert_eq!(rows[0]["label"], "Post text", "the form's fields come first, in order");
        assert_eq!(find("Assets 1")["href"], "https://cdn.example/a.png");
        assert_eq!(find("Tags")["value"], "winter, sale");
        assert!(find("Evil")["href"].is_null(), "only http(s) becomes a link");
    }

    #[test]
    fn a_word_diff_marks_what_changed_and_keeps_the_rest() {
        let d = word_diff("Five winter tips for you", "Six winter tips for <b>you</b>");
        let ops: Vec<(&str, &str)> =
            d.iter().map(|r| (r["op"].as_str().unwrap(), r["text"].as_str().unwrap())).collect();
        assert!(ops.contains(&("del", "Five")), "{ops:?}");
        assert!(ops.contains(&("ins", "Six")), "{ops:?}");
        assert!(ops.iter().any(|(op, t)| *op == "eq" && t.contains("winter tips")), "{ops:?}");
        let text: String = d.iter().filter(|r| r["op"] != "del").map(|r| r["text"].as_str().unwrap()).collect();
        assert_eq!(text, "Six winter tips for <b>you</b>", "the new text is the kept and inserted runs");
    }
}
